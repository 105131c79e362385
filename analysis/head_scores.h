// Head scores: what a method other than duo's gate optimization says about each (layer, KV
// head) — scored from the model in seconds, or imported from another project's files — in the
// gates' shape and sense: one value in [0, 1] per KV head, higher meaning more of a retrieval
// head. Written as a small JSON file (format "duo-head-scores", docs/head-scores.md) that
// load_gates reads like any gate source, so `pattern`, `export`, `compare`, `plot`, `attention`
// and `sweep` take it unchanged.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "analysis/gate_set.h"

namespace duo::analysis {

inline constexpr int kHeadScoresSchemaVersion = 1;
inline constexpr const char* kHeadScoresFormat = "duo-head-scores";

struct HeadScores {
  std::string method;       // "on-the-fly", "prulong", "retrieval-head", ...
  std::string description;  // one line: what the scores measure
  std::string model_name;
  int num_layers = 0, num_kv_heads = 0;
  int num_heads = 0;  // query heads; 0 when the source does not say
  // How per-query-head scores became per-KV-head ones: "mean", "max", or "none" (the source
  // scores KV heads itself).
  std::string fold = "none";
  std::vector<float> scores;  // [layer][kv_head] row-major, each in [0, 1]
  std::filesystem::path source;  // the file an importer read; empty for a method run on a model
  double wall_seconds = 0;        // what the method took
  std::string options_json = "{}";  // the method's options, a JSON object, recorded as given
  std::optional<StreamingWindow> window;  // the window the method assumed, if any
};

void write_head_scores(const std::filesystem::path& path, const HeadScores& scores);

// Whether `path` is a JSON file whose "format" is kHeadScoresFormat (false for any other file,
// readable or not: the callers then read it as what else it may be).
bool is_head_scores_file(const std::filesystem::path& path);

// The scores as a GateSet of kind "scores" (source, model, shape, window). Throws duo::Error
// naming the file for a malformed file, a newer schema, a value outside [0, 1] or a shape
// that does not match the values.
GateSet read_head_scores(const std::filesystem::path& path);

// PruLong's masks.tsv (save_prulong_masks.py): one row per layer, one tab-separated value per
// KV head, each the deterministic hard-concrete mask in [0, 1] (1: a global, full-attention
// head). Taken as they are.
HeadScores import_prulong_masks(const std::filesystem::path& tsv);

// Retrieval_Head's head-score JSON (Wu et al., 2024): {"layer-head": [score per test, ...]} over
// query heads. Each query head's score is the mean over its tests; a KV head gets the maximum
// over its num_heads / num_kv_heads query heads (fold "max": a KV head must keep its full cache
// if any query head reading it retrieves). num_heads is taken from the file's keys.
HeadScores import_retrieval_head_json(const std::filesystem::path& json, int num_kv_heads);

}  // namespace duo::analysis
