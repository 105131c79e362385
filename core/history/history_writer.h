// Writes the gate history during training so that a kill -9 at any moment leaves a file that reads
// back whole up to the last step append() returned from (design: docs/history-schema.md).
#pragma once
#include <cstdint>
#include <filesystem>

#include "history/history.h"

namespace duo {

class HistoryWriter {
 public:
  struct Options {
    bool overwrite = false;  // create(): replace an existing history instead of refusing
    bool fsync = true;       // also push every step to the disk (survives power loss, not only kill -9)
  };

  // Starts a new history holding the metadata and no steps.
  static HistoryWriter create(const std::filesystem::path& path, const HistoryMeta& meta, Options options);
  static HistoryWriter create(const std::filesystem::path& path, const HistoryMeta& meta) {
    return create(path, meta, Options{});
  }
  // Continues an existing history at `next_step`: rows with step >= next_step are dropped, so the
  // resumed run adds no duplicate steps. Throws when the history ends before next_step - 1
  // (steps would be missing).
  static HistoryWriter resume(const std::filesystem::path& path, int64_t next_step, Options options);
  static HistoryWriter resume(const std::filesystem::path& path, int64_t next_step) {
    return resume(path, next_step, Options{});
  }

  // Adds one step; when it returns, the file at path() holds it. Steps must be consecutive: the
  // first any value >= 0, then each the previous + 1.
  void append(const StepRecord& record);

  int64_t rows() const { return columns_.rows(); }
  // The step the next append() must carry, or -1 while the history is empty (any step may start it).
  int64_t next_step() const { return rows() == 0 ? -1 : columns_.step.back() + 1; }
  const HistoryMeta& meta() const { return meta_; }
  const std::filesystem::path& path() const { return path_; }

  // One writer per file: copies would publish diverging versions over each other.
  HistoryWriter(const HistoryWriter&) = delete;
  HistoryWriter& operator=(const HistoryWriter&) = delete;
  HistoryWriter(HistoryWriter&&) = default;
  HistoryWriter& operator=(HistoryWriter&&) = default;

 private:
  HistoryWriter() = default;
  void publish();

  std::filesystem::path path_;
  HistoryMeta meta_;
  Options options_;
  HistoryColumns columns_;
};

}  // namespace duo
