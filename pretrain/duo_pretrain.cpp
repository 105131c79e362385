// duo-pretrain: trains the built-in model (a small Llama-architecture model with a byte-level
// tokenizer) from scratch on text mixed with retrieval tasks, or measures a checkpoint's
// passkey accuracy with full attention.
#include <CLI/CLI.hpp>

#include "pretrain.h"
#include "util/error.h"
#include "util/path_check.h"

int main(int argc, char** argv) {
  return duo::run_main("duo-pretrain", [&]() -> int {
    CLI::App app{
        "duo-pretrain: train a small Llama-architecture model from scratch on public-domain text\n"
        "interleaved with retrieval tasks (passkeys, record lookups, phrase recall), and write it as\n"
        "a Hugging Face checkpoint directory with its training curve and passkey accuracy.",
        "duo-pretrain"};
    std::string config_file, out_dir, eval_dir;
    std::vector<std::string> overrides;
    app.add_option("-c,--config", config_file, "YAML configuration (configs/pretrain-tiny.yaml)")->required();
    app.add_option("-o,--out", out_dir, "output directory (checkpoint, curve.csv, passkey_eval.csv)");
    app.add_option("-s,--set", overrides, "override one key, e.g. --set train.steps=100")->type_name("KEY=VALUE");
    app.add_option("--eval", eval_dir,
                   "only measure the passkey accuracy of the checkpoint in this directory (eval.* keys); "
                   "writes passkey_eval.csv into --out, or prints only")
        ->type_name("DIR");
    app.footer(
        "Examples:\n"
        "  duo-pretrain --config configs/pretrain-tiny.yaml --out runs/tiny\n"
        "  duo-pretrain --config configs/pretrain-tiny.yaml --set train.device=cpu --set eval.samples=10 "
        "--eval models/tiny");
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }
    duo::require_file(config_file, "--config", "a YAML configuration file");
    duo::PretrainConfig config = duo::PretrainConfig::load(config_file);
    config.apply_overrides(overrides);
    // Every path before anything loads or trains.
    for (const std::string& file : config.data.haystack_files) duo::require_file(file, "data.haystack_files", "text files");
    if (!eval_dir.empty()) {
      duo::require_directory(eval_dir, "--eval", "a checkpoint directory");
      const std::filesystem::path csv =
          out_dir.empty() ? std::filesystem::path() : std::filesystem::path(out_dir) / "passkey_eval.csv";
      if (!out_dir.empty()) duo::prepare_output_directory(out_dir, "--out");
      duo::evaluate_checkpoint(config, eval_dir, csv);
      return 0;
    }
    if (out_dir.empty()) throw duo::Error("--out DIR is required for training (see --help)");
    duo::require_directory(config.model.tokenizer, "model.tokenizer", "a tokenizer directory");
    duo::prepare_output_directory(out_dir, "--out");
    duo::pretrain(config, out_dir);
    return 0;
  });
}
