// Writing and reading one complete gate-history file (docs/history-schema.md).
#include "history/history_layout.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "history/hdf5_util.h"
#include "model/streaming_window.h"
#include "util/error.h"
#include "util/text_file.h"

namespace duo {

void HistoryColumns::append(const StepRecord& record) {
  step.push_back(record.step);
  gates.insert(gates.end(), record.gates.begin(), record.gates.end());
  loss_total.push_back(record.loss_total);
  loss_distill.push_back(record.loss_distill);
  loss_reg.push_back(record.loss_reg);
  lr.push_back(record.lr);
  tokens.push_back(record.tokens);
  wall_time.push_back(record.wall_time);
}

void HistoryColumns::truncate(int64_t rows, int64_t gates_per_step) {
  const auto n = static_cast<size_t>(rows);
  step.resize(n);
  gates.resize(n * static_cast<size_t>(gates_per_step));
  loss_total.resize(n);
  loss_distill.resize(n);
  loss_reg.resize(n);
  lr.resize(n);
  tokens.resize(n);
  wall_time.resize(n);
}

}  // namespace duo

namespace duo::history_layout {
namespace {

// A dataset extendible along its first (step) axis, holding `rows` rows of `inner` shape.
void write_dataset(hid_t file, const char* name, hid_t file_type, hid_t mem_type, const void* data,
                   int64_t rows, const std::vector<hsize_t>& inner, const std::filesystem::path& path) {
  std::vector<hsize_t> dims{static_cast<hsize_t>(rows)}, maxdims{H5S_UNLIMITED}, chunk{kChunkRows};
  for (hsize_t d : inner) {
    dims.push_back(d);
    maxdims.push_back(d);
    chunk.push_back(d);
  }
  const int rank = static_cast<int>(dims.size());
  h5::Id space(h5::check(H5Screate_simple(rank, dims.data(), maxdims.data()), path, "cannot create dataspace"));
  h5::Id dcpl(h5::check(H5Pcreate(H5P_DATASET_CREATE), path, "cannot create dataset properties"));
  h5::check_status(H5Pset_chunk(dcpl.get(), rank, chunk.data()), path, "cannot set chunking");
  h5::Id dset(h5::check(H5Dcreate2(file, name, file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                        path, std::string("cannot create dataset '") + name + "'"));
  if (rows > 0)
    h5::check_status(H5Dwrite(dset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path,
                     std::string("cannot write dataset '") + name + "'");
}

// Reads a dataset of `rows` rows of `row_size` values each, checking its shape.
template <typename T>
std::vector<T> read_dataset(hid_t file, const char* name, hid_t mem_type, int64_t rows, int64_t row_size,
                            const std::filesystem::path& path) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) throw Error(path, std::string("missing dataset '") + name + "'");
  h5::Id dset(h5::check(H5Dopen2(file, name, H5P_DEFAULT), path, std::string("cannot open dataset '") + name + "'"));
  h5::Id space(h5::check(H5Dget_space(dset.get()), path, std::string("cannot read dataset '") + name + "'"));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1) throw Error(path, std::string("dataset '") + name + "' has no step axis");
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  uint64_t inner = 1;
  for (int i = 1; i < rank; ++i)
    if (__builtin_mul_overflow(inner, dims[i], &inner)) inner = UINT64_MAX;
  if (inner != static_cast<uint64_t>(row_size))
    throw Error(path, std::string("dataset '") + name + "' has " + std::to_string(inner) +
                          " values per step, expected " + std::to_string(row_size));
  if (rows >= 0 && dims[0] != static_cast<uint64_t>(rows))
    throw Error(path, std::string("dataset '") + name + "' has " + std::to_string(dims[0]) + " rows, 'step' has " +
                          std::to_string(rows));
  // HDF5 reads chunks never written as fill values, so a damaged header can declare 2^60 rows in a
  // small file: the values must be stored. Deflate, the strongest filter HDF5 ships, packs at
  // most about 1032:1.
  uint64_t bytes = 0;
  const bool overflow = __builtin_mul_overflow(dims[0], inner * sizeof(T), &bytes);
  h5::Id dcpl(h5::check(H5Dget_create_plist(dset.get()), path, std::string("cannot read dataset '") + name + "'"));
  const uint64_t stored = H5Dget_storage_size(dset.get());
  if (overflow || bytes > (H5Pget_nfilters(dcpl.get()) > 0 ? stored * 1032 : stored))
    throw Error(path, std::string("dataset '") + name + "' declares " + std::to_string(dims[0]) + " rows but stores " +
                          std::to_string(stored) + " bytes (truncated or corrupt file)");
  std::vector<T> values(static_cast<size_t>(dims[0]) * static_cast<size_t>(row_size));
  if (!values.empty())
    h5::check_status(H5Dread(dset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), path,
                     std::string("cannot read dataset '") + name + "'");
  return values;
}

}  // namespace

void validate_meta(const HistoryMeta& meta, const std::filesystem::path& path) {
  auto positive = [&](int value, const char* name) {
    if (value <= 0) throw Error(path, std::string(name) + " must be positive, got " + std::to_string(value));
  };
  positive(meta.num_layers, "num_layers");
  positive(meta.num_heads, "num_heads");
  positive(meta.num_kv_heads, "num_kv_heads");
  positive(meta.head_dim, "head_dim");
  if (meta.num_heads % meta.num_kv_heads != 0)
    throw Error(path, "num_heads (" + std::to_string(meta.num_heads) + ") is not a multiple of num_kv_heads (" +
                          std::to_string(meta.num_kv_heads) + ")");
  for (const auto& [value, name] : {std::pair{meta.sink, "sink"}, std::pair{meta.recent, "recent"}})
    if (value < 0 || value > kMaxWindowTokens)
      throw Error(path, std::string(name) + " must be an integer in [0, " + std::to_string(kMaxWindowTokens) +
                            "], got " + std::to_string(value));
}

void check_gate(float gate, int64_t step, int layer, int kv_head, const std::filesystem::path& path) {
  if (gate >= 0.0f && gate <= 1.0f) return;
  char value[32];
  std::snprintf(value, sizeof value, "%.9g", static_cast<double>(gate));
  throw Error(path, "step " + std::to_string(step) + ", layer " + std::to_string(layer) + ", KV head " +
                        std::to_string(kv_head) + ": gate " + value + " is not in [0, 1]" +
                        (std::isnan(gate) ? " (the training diverged?)" : ""));
}

void write_file(const std::filesystem::path& path, const HistoryMeta& meta, const HistoryColumns& columns,
                bool sync) {
  h5::Id file = h5::create_memory_file(path);
  const hid_t f = file.get();
  h5::write_attr(f, "format", std::string(kHistoryFormat), path);
  h5::write_attr(f, "schema_version", kHistorySchemaVersion, path);
  h5::write_attr(f, "toolkit_version", std::string(DUO_VERSION), path);
  h5::write_attr(f, "config_yaml", meta.config_yaml, path);
  h5::write_attr(f, "model_name", meta.model_name, path);
  h5::write_attr(f, "architecture", meta.architecture, path);
  h5::write_attr(f, "num_layers", int64_t{meta.num_layers}, path);
  h5::write_attr(f, "num_heads", int64_t{meta.num_heads}, path);
  h5::write_attr(f, "num_kv_heads", int64_t{meta.num_kv_heads}, path);
  h5::write_attr(f, "head_dim", int64_t{meta.head_dim}, path);
  h5::write_attr(f, "sink", int64_t{meta.sink}, path);
  h5::write_attr(f, "recent", int64_t{meta.recent}, path);

  const int64_t rows = columns.rows();
  h5::Id group(h5::check(H5Gcreate2(f, kLossGroup, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), path,
                         "cannot create group 'loss'"));
  write_dataset(f, kStep, H5T_STD_I64LE, H5T_NATIVE_INT64, columns.step.data(), rows, {}, path);
  write_dataset(f, kGates, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, columns.gates.data(), rows,
                {static_cast<hsize_t>(meta.num_layers), static_cast<hsize_t>(meta.num_kv_heads)}, path);
  write_dataset(f, kLossTotal, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, columns.loss_total.data(), rows, {}, path);
  write_dataset(f, kLossDistill, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, columns.loss_distill.data(), rows, {}, path);
  write_dataset(f, kLossReg, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, columns.loss_reg.data(), rows, {}, path);
  write_dataset(f, kLr, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, columns.lr.data(), rows, {}, path);
  write_dataset(f, kTokens, H5T_STD_I64LE, H5T_NATIVE_INT64, columns.tokens.data(), rows, {}, path);
  write_dataset(f, kWallTime, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, columns.wall_time.data(), rows, {}, path);
  group.reset();
  write_text_file(path, h5::finish_memory_file(std::move(file), path), WriteFileOptions{sync});
}

StoredHistory read_file(const std::filesystem::path& path) {
  h5::Id file(h5::check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), path,
                        "cannot open as HDF5 (truncated or corrupt file?)"));
  const hid_t f = file.get();
  if (!h5::has_attr(f, "format") || h5::read_string_attr(f, "format", path) != kHistoryFormat)
    throw Error(path, "not a duo gate history (no format attribute '" + std::string(kHistoryFormat) + "')");
  StoredHistory stored;
  stored.schema_version = h5::read_int_attr(f, "schema_version", path);
  if (stored.schema_version > kHistorySchemaVersion)
    throw Error(path, "gate history schema version " + std::to_string(stored.schema_version) +
                          " is newer than this build reads (up to " + std::to_string(kHistorySchemaVersion) +
                          "); update duo");
  if (stored.schema_version < 1)
    throw Error(path, "invalid gate history schema version " + std::to_string(stored.schema_version));
  stored.toolkit_version = h5::read_string_attr(f, "toolkit_version", path);
  HistoryMeta& meta = stored.meta;
  meta.config_yaml = h5::read_string_attr(f, "config_yaml", path);
  meta.model_name = h5::read_string_attr(f, "model_name", path);
  meta.architecture = h5::read_string_attr(f, "architecture", path);
  // Range-checked before the cast, so that 2^40 layers is not read as 0 nor a sink of 1e12 as
  // a negative number.
  auto read_int = [&](const char* name, int64_t lo, int64_t hi) {
    const int64_t value = h5::read_int_attr(f, name, path);
    if (value < lo || value > hi)
      throw Error(path, std::string("attribute '") + name + "' is " + std::to_string(value) + ", not an integer in [" +
                            std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return static_cast<int>(value);
  };
  constexpr int64_t kMaxInt = std::numeric_limits<int>::max();
  meta.num_layers = read_int("num_layers", 1, kMaxInt);
  meta.num_heads = read_int("num_heads", 1, kMaxInt);
  meta.num_kv_heads = read_int("num_kv_heads", 1, kMaxInt);
  meta.head_dim = read_int("head_dim", 1, kMaxInt);
  meta.sink = read_int("sink", 0, kMaxWindowTokens);
  meta.recent = read_int("recent", 0, kMaxWindowTokens);
  validate_meta(meta, path);

  HistoryColumns& c = stored.columns;
  c.step = read_dataset<int64_t>(f, kStep, H5T_NATIVE_INT64, -1, 1, path);
  const int64_t rows = c.rows();
  for (int64_t i = 0; i < rows; ++i) {
    if (c.step[i] < 0) throw Error(path, "negative step at row " + std::to_string(i));
    if (i > 0 && c.step[i] != c.step[i - 1] + 1)
      throw Error(path, "steps are not consecutive at row " + std::to_string(i) + " (step " +
                            std::to_string(c.step[i - 1]) + " then " + std::to_string(c.step[i]) + ")");
  }
  const int64_t gates_per_step = int64_t{meta.num_layers} * meta.num_kv_heads;
  c.gates = read_dataset<float>(f, kGates, H5T_NATIVE_FLOAT, rows, gates_per_step, path);
  for (int64_t i = 0; i < rows; ++i)
    for (int l = 0; l < meta.num_layers; ++l)
      for (int h = 0; h < meta.num_kv_heads; ++h)
        check_gate(c.gates[static_cast<size_t>((i * meta.num_layers + l) * meta.num_kv_heads + h)], c.step[i], l, h,
                   path);
  c.loss_total = read_dataset<double>(f, kLossTotal, H5T_NATIVE_DOUBLE, rows, 1, path);
  c.loss_distill = read_dataset<double>(f, kLossDistill, H5T_NATIVE_DOUBLE, rows, 1, path);
  c.loss_reg = read_dataset<double>(f, kLossReg, H5T_NATIVE_DOUBLE, rows, 1, path);
  c.lr = read_dataset<double>(f, kLr, H5T_NATIVE_DOUBLE, rows, 1, path);
  c.tokens = read_dataset<int64_t>(f, kTokens, H5T_NATIVE_INT64, rows, 1, path);
  c.wall_time = read_dataset<double>(f, kWallTime, H5T_NATIVE_DOUBLE, rows, 1, path);
  return stored;
}

}  // namespace duo::history_layout
