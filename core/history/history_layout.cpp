// Writing and reading one complete gate-history file (docs/history-schema.md).
#include "history/history_layout.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <type_traits>
#include <cstdio>
#include <limits>
#include <utility>
#include <vector>

#include "history/hdf5_util.h"
#include "history/legacy_file.h"
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

// Throws unless a dataset of dimensions `dims` holds `rows` rows (any number when negative) of
// `row_size` values each.
void check_shape(const char* name, const std::vector<uint64_t>& dims, int64_t rows, int64_t row_size,
                 const std::filesystem::path& path) {
  if (dims.empty()) throw Error(path, std::string("dataset '") + name + "' has no step axis");
  uint64_t inner = 1;
  for (size_t i = 1; i < dims.size(); ++i)
    if (__builtin_mul_overflow(inner, dims[i], &inner)) inner = UINT64_MAX;
  if (inner != static_cast<uint64_t>(row_size))
    throw Error(path, std::string("dataset '") + name + "' has " + std::to_string(inner) +
                          " values per step, expected " + std::to_string(row_size));
  if (rows >= 0 && dims[0] != static_cast<uint64_t>(rows))
    throw Error(path, std::string("dataset '") + name + "' has " + std::to_string(dims[0]) + " rows, 'step' has " +
                          std::to_string(rows));
}

template <typename T>
hid_t memory_type();
template <>
hid_t memory_type<int64_t>() { return H5T_NATIVE_INT64; }
template <>
hid_t memory_type<float>() { return H5T_NATIVE_FLOAT; }
template <>
hid_t memory_type<double>() { return H5T_NATIVE_DOUBLE; }

// A history read by libhdf5: files in HDF5's 1.10 format (superblock version 3), whose metadata
// libhdf5 verifies by checksum before decoding it. It holds fixed-length strings only:
// variable-length ones are refused unread (their global heap carries no checksum).
class Hdf5Source {
 public:
  explicit Hdf5Source(const std::filesystem::path& path)
      : path_(path),
        file_(h5::check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), path,
                        "cannot open as HDF5 (truncated or corrupt file?)")) {}

  bool has_attr(const char* name) const { return h5::has_attr(file_.get(), name); }
  int64_t int_attr(const char* name) const { return h5::read_int_attr(file_.get(), name, path_); }
  std::string string_attr(const char* name, bool schema_1) const {
    if (schema_1 && h5::is_vlen_string_attr(file_.get(), name, path_))
      throw Error(path_, "a schema-1 history in HDF5's 1.10 file format, which duo never wrote it in: its "
                         "variable-length strings are not read (their heap carries no checksum)");
    return h5::read_string_attr(file_.get(), name, path_);
  }

  // A dataset of `rows` rows (any number when negative) of `row_size` values each.
  template <typename T>
  std::vector<T> dataset(const char* name, int64_t rows, int64_t row_size) const {
    const hid_t file = file_.get();
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) throw Error(path_, std::string("missing dataset '") + name + "'");
    h5::Id dset(h5::check(H5Dopen2(file, name, H5P_DEFAULT), path_, std::string("cannot open dataset '") + name + "'"));
    h5::Id space(h5::check(H5Dget_space(dset.get()), path_, std::string("cannot read dataset '") + name + "'"));
    const int rank = H5Sget_simple_extent_ndims(space.get());
    std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    check_shape(name, std::vector<uint64_t>(dims.begin(), dims.end()), rows, row_size, path_);
    // HDF5 reads chunks never written as fill values, so a damaged header can declare 2^60 rows in a
    // small file: the values must be stored. Deflate, the strongest filter HDF5 ships, packs at
    // most about 1032:1.
    uint64_t bytes = 0;
    const bool overflow = __builtin_mul_overflow(dims[0], static_cast<uint64_t>(row_size) * sizeof(T), &bytes);
    h5::Id dcpl(h5::check(H5Dget_create_plist(dset.get()), path_, std::string("cannot read dataset '") + name + "'"));
    const uint64_t stored = H5Dget_storage_size(dset.get());
    if (overflow || bytes > (H5Pget_nfilters(dcpl.get()) > 0 ? stored * 1032 : stored))
      throw Error(path_, std::string("dataset '") + name + "' declares " + std::to_string(dims[0]) +
                             " rows but stores " + std::to_string(stored) + " bytes (truncated or corrupt file)");
    std::vector<T> values(static_cast<size_t>(dims[0]) * static_cast<size_t>(row_size));
    if (!values.empty())
      h5::check_status(H5Dread(dset.get(), memory_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), path_,
                       std::string("cannot read dataset '") + name + "'");
    return values;
  }

 private:
  std::filesystem::path path_;
  h5::Id file_;
};

// A history in HDF5's earliest file format (superblock version 0 or 1, schema 1 as duo wrote it),
// read by duo's own decoder: libhdf5 decodes that format's unchecksummed structures unchecked
// (legacy_file.h). Variable-length strings are read in schema 1 only.
class LegacySource {
 public:
  explicit LegacySource(const std::filesystem::path& path) : path_(path), file_(path) {}

  bool has_attr(const char* name) const { return file_.has_attr(name); }
  int64_t int_attr(const char* name) const { return file_.int_attr(name); }
  std::string string_attr(const char* name, bool schema_1) const {
    if (!schema_1 && file_.is_vlen_string_attr(name))
      throw Error(path_, std::string("attribute '") + name +
                             "' is a variable-length string, not the fixed-length one expected (corrupt file?)");
    return file_.string_attr(name);
  }

  template <typename T>
  std::vector<T> dataset(const char* name, int64_t rows, int64_t row_size) const {
    static_assert(std::endian::native == std::endian::little, "the decoder hands over little-endian values");
    using Type = h5::LegacyFile::Type;
    const Type type = std::is_same_v<T, int64_t> ? Type::int64 : std::is_same_v<T, float> ? Type::float32 : Type::float64;
    const h5::LegacyFile::Dataset d = file_.dataset(name, type);
    check_shape(name, d.dims, rows, row_size, path_);
    std::vector<T> values(d.bytes.size() / sizeof(T));
    if (!values.empty()) std::memcpy(values.data(), d.bytes.data(), values.size() * sizeof(T));
    return values;
  }

 private:
  std::filesystem::path path_;
  h5::LegacyFile file_;
};

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
  // Each fixed-length string attribute is one message of the root group's object header, whose
  // size field (two bytes) caps it at 64 KiB.
  for (const auto& [value, name] : {std::pair{&meta.config_yaml, "config_yaml"},
                                    std::pair{&meta.model_name, "model_name"},
                                    std::pair{&meta.architecture, "architecture"}})
    if (value->size() > kMaxStringBytes)
      throw Error(path, std::string(name) + " is " + std::to_string(value->size()) + " bytes, more than the " +
                            std::to_string(kMaxStringBytes) + " a gate history's string attribute holds");
  // The 1.10 format: every structure HDF5 decodes carries a checksum (history_layout.h).
  h5::Id file = h5::create_memory_file(path, /*checksummed=*/true, /*compact_attributes=*/16);
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

namespace {

template <typename Source>
StoredHistory read_from(const Source& f, const std::filesystem::path& path) {
  const std::string not_ours = "not a duo gate history (no format attribute '" + std::string(kHistoryFormat) + "')";
  if (!f.has_attr("format") || !f.has_attr("schema_version")) throw Error(path, not_ours);
  StoredHistory stored;
  stored.schema_version = f.int_attr("schema_version");
  const bool schema_1 = stored.schema_version == 1;
  auto read_string = [&](const char* name) { return f.string_attr(name, schema_1); };
  if (read_string("format") != kHistoryFormat) throw Error(path, not_ours);
  if (stored.schema_version > kHistorySchemaVersion)
    throw Error(path, "gate history schema version " + std::to_string(stored.schema_version) +
                          " is newer than this build reads (up to " + std::to_string(kHistorySchemaVersion) +
                          "); update duo");
  if (stored.schema_version < 1)
    throw Error(path, "invalid gate history schema version " + std::to_string(stored.schema_version));
  stored.toolkit_version = read_string("toolkit_version");
  HistoryMeta& meta = stored.meta;
  meta.config_yaml = read_string("config_yaml");
  meta.model_name = read_string("model_name");
  meta.architecture = read_string("architecture");
  // Range-checked before the cast, so that 2^40 layers is not read as 0 nor a sink of 1e12 as
  // a negative number.
  auto read_int = [&](const char* name, int64_t lo, int64_t hi) {
    const int64_t value = f.int_attr(name);
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
  c.step = f.template dataset<int64_t>(kStep, -1, 1);
  const int64_t rows = c.rows();
  for (int64_t i = 0; i < rows; ++i) {
    if (c.step[i] < 0) throw Error(path, "negative step at row " + std::to_string(i));
    if (i > 0 && c.step[i] != c.step[i - 1] + 1)
      throw Error(path, "steps are not consecutive at row " + std::to_string(i) + " (step " +
                            std::to_string(c.step[i - 1]) + " then " + std::to_string(c.step[i]) + ")");
  }
  const int64_t gates_per_step = int64_t{meta.num_layers} * meta.num_kv_heads;
  c.gates = f.template dataset<float>(kGates, rows, gates_per_step);
  for (int64_t i = 0; i < rows; ++i)
    for (int l = 0; l < meta.num_layers; ++l)
      for (int h = 0; h < meta.num_kv_heads; ++h)
        check_gate(c.gates[static_cast<size_t>((i * meta.num_layers + l) * meta.num_kv_heads + h)], c.step[i], l, h,
                   path);
  c.loss_total = f.template dataset<double>(kLossTotal, rows, 1);
  c.loss_distill = f.template dataset<double>(kLossDistill, rows, 1);
  c.loss_reg = f.template dataset<double>(kLossReg, rows, 1);
  c.lr = f.template dataset<double>(kLr, rows, 1);
  c.tokens = f.template dataset<int64_t>(kTokens, rows, 1);
  c.wall_time = f.template dataset<double>(kWallTime, rows, 1);
  return stored;
}

}  // namespace

StoredHistory read_file(const std::filesystem::path& path) {
  // Which reader may decode the file is decided from its superblock's version byte, before
  // libhdf5 sees the file: version 3 (the 1.10 format, schema 2 as duo writes it) has every
  // metadata structure checksummed, which libhdf5 verifies before decoding; versions 0 and 1 (the
  // earliest format, schema 1 as duo wrote it) have no checksums, and libhdf5 1.10.8 crashes or
  // hangs decoding them damaged (legacy_file.h), so duo decodes those itself.
  std::ifstream in(path, std::ios::binary);
  char head[9] = {};
  if (!in.read(head, sizeof head) || std::memcmp(head, "\x89HDF\r\n\x1a\n", 8) != 0)
    throw Error(path, "not a gate history: no HDF5 signature at its start (duo writes no user block)");
  in.close();
  const unsigned version = static_cast<unsigned char>(head[8]);
  if (version <= 1) return read_from(LegacySource(path), path);
  if (version == 3) return read_from(Hdf5Source(path), path);
  throw Error(path, "HDF5 superblock version " + std::to_string(version) +
                        ": not a file format duo writes (the earliest, or 1.10's), and one whose structures "
                        "libhdf5 1.10.8 cannot be trusted to decode when damaged");
}

}  // namespace duo::history_layout
