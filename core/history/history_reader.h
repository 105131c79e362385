// Reads a whole gate-history file into memory: its metadata and every step.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "history/history.h"

namespace duo {

class HistoryReader {
 public:
  // Throws duo::Error naming the file: missing, not HDF5 / truncated, not a history, a newer
  // schema, inconsistent datasets.
  explicit HistoryReader(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  const HistoryMeta& meta() const { return meta_; }
  int64_t schema_version() const { return schema_version_; }
  const std::string& toolkit_version() const { return toolkit_version_; }

  int64_t rows() const { return columns_.rows(); }
  int64_t gates_per_step() const { return int64_t{meta_.num_layers} * meta_.num_kv_heads; }
  const std::vector<int64_t>& steps() const { return columns_.step; }
  // Gates of one row, [layer][kv_head] row-major.
  std::span<const float> gates_at(int64_t row) const;
  // All rows, [row][layer][kv_head] row-major.
  const std::vector<float>& gates_all() const { return columns_.gates; }
  const std::vector<double>& loss_total() const { return columns_.loss_total; }
  const std::vector<double>& loss_distill() const { return columns_.loss_distill; }
  const std::vector<double>& loss_reg() const { return columns_.loss_reg; }
  const std::vector<double>& lr() const { return columns_.lr; }
  const std::vector<int64_t>& tokens() const { return columns_.tokens; }
  const std::vector<double>& wall_time() const { return columns_.wall_time; }

 private:
  std::filesystem::path path_;
  HistoryMeta meta_;
  int64_t schema_version_ = 0;
  std::string toolkit_version_;
  HistoryColumns columns_;
};

}  // namespace duo
