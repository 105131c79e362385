// Where things live inside a gate-history file (docs/history-schema.md): dataset and attribute
// names, writing one complete file, and reading it back. Shared by the writer and the reader.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "history/history.h"

namespace duo::history_layout {

inline constexpr const char* kGates = "gates";
inline constexpr const char* kStep = "step";
inline constexpr const char* kLossGroup = "loss";
inline constexpr const char* kLossTotal = "loss/total";
inline constexpr const char* kLossDistill = "loss/distill";
inline constexpr const char* kLossReg = "loss/reg";
inline constexpr const char* kLr = "lr";
inline constexpr const char* kTokens = "tokens";
inline constexpr const char* kWallTime = "wall_time";

// Rows per chunk along the (unlimited) step axis.
inline constexpr hsize_t kChunkRows = 64;
// The longest string attribute (config_yaml, model_name, architecture) a history stores, in bytes.
inline constexpr size_t kMaxStringBytes = 65000;

// Throws duo::Error naming `path` when the metadata cannot describe a history.
void validate_meta(const HistoryMeta& meta, const std::filesystem::path& path);

// Throws duo::Error naming `path`, the step, layer and KV head unless `gate` lies in [0, 1].
// duo-train clamps every gate to [0, 1] after each optimizer step, as the reference implementation
// does, so anything else (a NaN from a diverged run, a value edited in) is not a gate.
void check_gate(float gate, int64_t step, int layer, int kv_head, const std::filesystem::path& path);

// Builds a complete history file (schema 2: HDF5's 1.10 format, fixed-length strings) in memory
// and puts it at `path` through write_text_file: a temporary sibling renamed over `path`, flushed
// to the disk first when `sync`. A failed write (a full disk) is one duo::Error naming `path`;
// `path` keeps its previous version and no temporary file is left behind.
void write_file(const std::filesystem::path& path, const HistoryMeta& meta, const HistoryColumns& columns,
                bool sync);

struct StoredHistory {
  HistoryMeta meta;
  int64_t schema_version = 0;
  std::string toolkit_version;
  HistoryColumns columns;
};

// Reads and checks a whole file: a duo history, a schema this build reads, consistent datasets,
// consecutive steps. Throws duo::Error naming `path` otherwise. Files in HDF5's 1.10 format
// (schema 2) are read by libhdf5, which verifies their checksums; files in the earliest format
// (schema 1) by duo's own decoder (legacy_file.h), since libhdf5 1.10.8 decodes that format's
// unchecksummed structures unchecked.
StoredHistory read_file(const std::filesystem::path& path);

}  // namespace duo::history_layout
