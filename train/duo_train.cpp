// duo-train: finds the retrieval heads of a model by optimizing DuoAttention gates.
#include <CLI/CLI.hpp>

#include <iostream>

#include "config.h"
#include "trainer.h"
#include "util/error.h"
#include "util/path_check.h"

int main(int argc, char** argv) {
  return duo::run_main("duo-train", [&]() -> int {
    CLI::App app{
        "duo-train: freeze a model, give every (layer, KV head) a gate alpha in [0,1] mixing full\n"
        "and streaming attention, and optimize the gates on synthetic passkey retrieval\n"
        "(distillation to the full-attention model + L1 pressure towards streaming).\n"
        "Every step is written to <out>/history.h5; <out>/checkpoint.pt lets a killed run resume.",
        "duo-train"};
    std::string config_file, model_dir, out_dir;
    std::vector<std::string> overrides;
    bool resume = false;
    app.add_option("-c,--config", config_file, "YAML run configuration (see configs/ and docs/configuration.md)");
    app.add_option("-m,--model", model_dir, "Hugging Face checkpoint directory (overrides model.path)");
    app.add_option("-o,--out", out_dir, "output directory for config.yaml, history.h5, checkpoint.pt (overrides run.out)");
    app.add_option("-s,--set", overrides, "override one key, e.g. --set optim.lr=0.01 --set run.steps=500")
        ->type_name("KEY=VALUE");
    app.add_flag("-r,--resume", resume,
                 "continue the run in --out (or run.out) from its last checkpoint, with the "
                 "configuration stored there");
    app.footer(
        "Examples:\n"
        "  duo-train --config configs/llama3-8b.yaml --model /models/Llama-3-8B-Instruct-Gradient-1048k\n"
        "  duo-train --config configs/tiny-random.yaml --set run.steps=20 --out runs/try\n"
        "  duo-train --resume --out runs/try");
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }

    duo::TrainConfig config;
    std::string source;  // where the configuration's values came from, for errors
    // Where the paths came from, for messages: the command line or the config file.
    const char* out_flag = out_dir.empty() ? "run.out" : "--out";
    if (resume) {
      if (out_dir.empty() && config_file.empty())
        throw duo::Error("--resume needs --out DIR (or --config naming run.out)");
      if (out_dir.empty()) out_dir = duo::TrainConfig::load(config_file).run.out;
      if (!overrides.empty() || !model_dir.empty())
        throw duo::Error("--resume continues a run with its stored configuration; --set and --model "
                         "cannot change it");
      duo::require_directory(out_dir, out_flag, "the run directory to resume");
      duo::RunFiles files(out_dir);
      if (!std::filesystem::exists(files.config))
        throw duo::Error(files.config, "no run to resume here (config.yaml is missing)");
      config = duo::TrainConfig::load(files.config);
      config.run.out = out_dir;
      source = files.config.string();
    } else {
      if (config_file.empty()) throw duo::Error("--config FILE is required (see --help)");
      config = duo::TrainConfig::load(config_file);
      source = config_file + (overrides.empty() ? "" : " with --set");
      if (!model_dir.empty()) overrides.push_back("model.path=" + model_dir);
      if (!out_dir.empty()) overrides.push_back("run.out=" + out_dir);
      config.apply_overrides(overrides);
    }
    // Before anything loads: a wrong path is one line now, not after the model has loaded.
    config.check_input_paths(model_dir.empty() ? "model.path" : "--model");
    duo::prepare_output_directory(config.run.out, out_flag);
    return duo::train(config, resume, source);
  });
}
