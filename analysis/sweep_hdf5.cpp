#include "analysis/sweep_hdf5.h"

#include <cstring>
#include <string>

#include "history/hdf5_util.h"

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
  auto tmp = path;
  tmp += ".partial";
  {
    h5::Id file(h5::check(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), tmp, "create"));
    h5::write_attr(file.get(), "format", std::string("duo-sweep-results"), tmp);
    h5::write_attr(file.get(), "schema_version", kSweepH5SchemaVersion, tmp);
    h5::write_attr(file.get(), "sweep_config", config_json, tmp);

    // method: fixed-length strings, wide enough for every method name.
    constexpr size_t kWidth = 16;
    h5::Id text(h5::check(H5Tcopy(H5T_C_S1), tmp, "string type"));
    h5::check_status(H5Tset_size(text.get(), kWidth), tmp, "string size");
    std::vector<char> methods(rows.size() * kWidth, '\0');
    for (size_t i = 0; i < rows.size(); ++i)
      std::strncpy(&methods[i * kWidth], rows[i].method.c_str(), kWidth - 1);
    hsize_t n = rows.size();
    h5::Id space(h5::check(H5Screate_simple(1, &n, nullptr), tmp, "create dataspace"));
    h5::Id set(h5::check(H5Dcreate2(file.get(), "method", text.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                                    H5P_DEFAULT),
                         tmp, "create dataset method"));
    if (n > 0)
      h5::check_status(H5Dwrite(set.get(), text.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, methods.data()), tmp, "method");

    const hid_t i64 = H5T_NATIVE_INT64, f64 = H5T_NATIVE_DOUBLE;
    write_column<int64_t>(file.get(), "seed", i64, rows, [](const SweepRow& r) { return r.seed; }, tmp);
    write_column<double>(file.get(), "sparsity", f64, rows, [](const SweepRow& r) { return r.sparsity; }, tmp);
    write_column<int64_t>(file.get(), "length", i64, rows, [](const SweepRow& r) { return r.length; }, tmp);
    write_column<double>(file.get(), "depth", f64, rows, [](const SweepRow& r) { return r.depth; }, tmp);
    write_column<int64_t>(file.get(), "sample", i64, rows, [](const SweepRow& r) { return r.sample; }, tmp);
    write_column<double>(file.get(), "exact", f64, rows, [](const SweepRow& r) { return r.exact; }, tmp);
    write_column<double>(file.get(), "overlap", f64, rows, [](const SweepRow& r) { return r.overlap; }, tmp);
    write_column<int64_t>(file.get(), "kv_bytes", i64, rows, [](const SweepRow& r) { return r.kv_bytes; }, tmp);
    write_column<double>(file.get(), "prefill_s", f64, rows, [](const SweepRow& r) { return r.prefill_s; }, tmp);
    write_column<double>(file.get(), "decode_s_per_token", f64, rows,
                         [](const SweepRow& r) { return r.decode_s_per_token; }, tmp);
    write_column<int64_t>(file.get(), "retrieval_heads", i64, rows,
                          [](const SweepRow& r) { return r.retrieval_heads; }, tmp);
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace duo::analysis
