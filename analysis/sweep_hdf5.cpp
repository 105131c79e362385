#include "analysis/sweep_hdf5.h"

#include <cstring>
#include <string>

#include "history/hdf5_util.h"
#include "util/text_file.h"

namespace duo::analysis {
namespace {

template <typename T, typename Get>
void write_column(hid_t file, const char* name, hid_t type, const std::vector<SweepRow>& rows, Get get,
                  const std::filesystem::path& path) {
  std::vector<T> values;
  values.reserve(rows.size());
  for (const auto& r : rows) values.push_back(get(r));
  hsize_t n = values.size();
  h5::Id space(h5::check(H5Screate_simple(1, &n, nullptr), path, "create dataspace"));
  h5::Id set(h5::check(H5Dcreate2(file, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), path,
                       std::string("create dataset ") + name));
  if (n > 0) h5::check_status(H5Dwrite(set.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), path, name);
}

}  // namespace

void write_sweep_h5(const std::filesystem::path& path, const std::vector<SweepRow>& rows,
                    const std::string& config_json) {
  h5::silence_errors();
  // Built in memory and written by write_text_file (a temporary file renamed into place): a full
  // disk is one error naming results.h5, which keeps its previous version.
  std::string image;
  {
    h5::Id file = h5::create_memory_file(path);
    h5::write_attr(file.get(), "format", std::string("duo-sweep-results"), path);
    h5::write_attr(file.get(), "schema_version", kSweepH5SchemaVersion, path);
    h5::write_attr(file.get(), "sweep_config", config_json, path);

    // method: fixed-length strings, wide enough for every method name.
    constexpr size_t kWidth = 16;
    h5::Id text(h5::check(H5Tcopy(H5T_C_S1), path, "string type"));
    h5::check_status(H5Tset_size(text.get(), kWidth), path, "string size");
    std::vector<char> methods(rows.size() * kWidth, '\0');
    for (size_t i = 0; i < rows.size(); ++i)
      std::strncpy(&methods[i * kWidth], rows[i].method.c_str(), kWidth - 1);
    hsize_t n = rows.size();
    h5::Id space(h5::check(H5Screate_simple(1, &n, nullptr), path, "create dataspace"));
    h5::Id set(h5::check(H5Dcreate2(file.get(), "method", text.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                                    H5P_DEFAULT),
                         path, "create dataset method"));
    if (n > 0)
      h5::check_status(H5Dwrite(set.get(), text.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, methods.data()), path, "method");

    const hid_t i64 = H5T_NATIVE_INT64, f64 = H5T_NATIVE_DOUBLE;
    write_column<int64_t>(file.get(), "seed", i64, rows, [](const SweepRow& r) { return r.seed; }, path);
    write_column<double>(file.get(), "sparsity", f64, rows, [](const SweepRow& r) { return r.sparsity; }, path);
    write_column<int64_t>(file.get(), "length", i64, rows, [](const SweepRow& r) { return r.length; }, path);
    write_column<double>(file.get(), "depth", f64, rows, [](const SweepRow& r) { return r.depth; }, path);
    write_column<int64_t>(file.get(), "sample", i64, rows, [](const SweepRow& r) { return r.sample; }, path);
    write_column<double>(file.get(), "exact", f64, rows, [](const SweepRow& r) { return r.exact; }, path);
    write_column<double>(file.get(), "overlap", f64, rows, [](const SweepRow& r) { return r.overlap; }, path);
    write_column<int64_t>(file.get(), "kv_bytes", i64, rows, [](const SweepRow& r) { return r.kv_bytes; }, path);
    write_column<double>(file.get(), "prefill_s", f64, rows, [](const SweepRow& r) { return r.prefill_s; }, path);
    write_column<double>(file.get(), "decode_s_per_token", f64, rows,
                         [](const SweepRow& r) { return r.decode_s_per_token; }, path);
    write_column<int64_t>(file.get(), "retrieval_heads", i64, rows,
                          [](const SweepRow& r) { return r.retrieval_heads; }, path);
    set.reset();
    space.reset();
    text.reset();
    image = h5::finish_memory_file(std::move(file), path);
  }
  write_text_file(path, image);
}

}  // namespace duo::analysis
