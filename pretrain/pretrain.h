// duo-pretrain's two jobs: train a small Llama-architecture model from scratch on the
// pretraining mix (mix.h) and write it as a Hugging Face checkpoint, and measure a checkpoint's
// passkey accuracy with full attention (passkey_eval.h).
#pragma once
#include <filesystem>

#include "pretrain_config.h"

namespace duo {

// Trains per `config`, writing into `out`: the checkpoint (config.json, model.safetensors,
// tokenizer.json, tokenizer_config.json) every train.save_every steps and at the end,
// pretrain.yaml (the configuration used, with train.steps set to the steps actually planned),
// curve.csv (step, lr, loss, answer-token loss and accuracy, accuracy on each answer's first
// token — the retrieval part —, tokens/s) and, after the last
// step, passkey_eval.csv. SIGINT/SIGTERM stop the run after the current step with a final save.
void pretrain(PretrainConfig config, const std::filesystem::path& out);

// Passkey accuracy of the checkpoint in `dir` at config.eval's lengths, printed as a table and
// written to `csv` (length, correct, total, accuracy). Runs in fp32 on config.train.device.
void evaluate_checkpoint(const PretrainConfig& config, const std::filesystem::path& dir,
                         const std::filesystem::path& csv);

}  // namespace duo
