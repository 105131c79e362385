#include "analysis/sweep_hdf5.h"

#include <cstring>
#include <string>

#include "analysis/sweep_scores.h"
#include "history/hdf5_util.h"
#include "util/text_file.h"

namespace duo::analysis {
namespace {

// One column of `items` as a 1-D dataset `name` under `where`.
template <typename T, typename Item, typename Get>
void write_column(hid_t where, const char* name, hid_t type, const std::vector<Item>& items, Get get,
                  const std::filesystem::path& path) {
  std::vector<T> values;
  values.reserve(items.size());
  for (const auto& item : items) values.push_back(get(item));
  hsize_t n = values.size();
  h5::Id space(h5::check(H5Screate_simple(1, &n, nullptr), path, "create dataspace"));
  h5::Id set(h5::check(H5Dcreate2(where, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), path,
                       std::string("create dataset ") + name));
  if (n > 0) h5::check_status(H5Dwrite(set.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), path, name);
}

// A column of fixed-length strings, wide enough for every task and method name.
template <typename Item, typename Get>
void write_text_column(hid_t where, const char* name, const std::vector<Item>& items, Get get,
                       const std::filesystem::path& path) {
  constexpr size_t kWidth = 32;
  h5::Id text(h5::check(H5Tcopy(H5T_C_S1), path, "string type"));
  h5::check_status(H5Tset_size(text.get(), kWidth), path, "string size");
  std::vector<char> values(items.size() * kWidth, '\0');
  for (size_t i = 0; i < items.size(); ++i) std::strncpy(&values[i * kWidth], get(items[i]).c_str(), kWidth - 1);
  hsize_t n = items.size();
  h5::Id space(h5::check(H5Screate_simple(1, &n, nullptr), path, "create dataspace"));
  h5::Id set(h5::check(H5Dcreate2(where, name, text.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), path,
                       std::string("create dataset ") + name));
  if (n > 0) h5::check_status(H5Dwrite(set.get(), text.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), path, name);
}

void write_scores(hid_t file, const char* group_name, const std::vector<TaskScore>& scores,
                  const std::filesystem::path& path) {
  h5::Id group(h5::check(H5Gcreate2(file, group_name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), path,
                         std::string("create group ") + group_name));
  const hid_t g = group.get(), i64 = H5T_NATIVE_INT64, f64 = H5T_NATIVE_DOUBLE;
  write_text_column(g, "task", scores, [](const TaskScore& t) { return t.task; }, path);
  write_text_column(g, "method", scores, [](const TaskScore& t) { return t.method; }, path);
  write_column<int64_t>(g, "seed", i64, scores, [](const TaskScore& t) { return t.seed; }, path);
  write_column<double>(g, "sparsity", f64, scores, [](const TaskScore& t) { return t.sparsity; }, path);
  write_column<int64_t>(g, "length", i64, scores, [](const TaskScore& t) { return t.length; }, path);
  write_column<double>(g, "score", f64, scores, [](const TaskScore& t) { return t.score; }, path);
  write_column<int64_t>(g, "count", i64, scores, [](const TaskScore& t) { return t.count; }, path);
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
    h5::write_vlen_string_attr(file.get(), "format", "duo-sweep-results", path);
    h5::write_attr(file.get(), "schema_version", kSweepH5SchemaVersion, path);
    h5::write_vlen_string_attr(file.get(), "sweep_config", config_json, path);

    const hid_t f = file.get(), i64 = H5T_NATIVE_INT64, f64 = H5T_NATIVE_DOUBLE;
    write_text_column(f, "task", rows, [](const SweepRow& r) { return r.task; }, path);
    write_text_column(f, "method", rows, [](const SweepRow& r) { return r.method; }, path);
    write_column<int64_t>(f, "seed", i64, rows, [](const SweepRow& r) { return r.seed; }, path);
    write_column<double>(f, "sparsity", f64, rows, [](const SweepRow& r) { return r.sparsity; }, path);
    write_column<int64_t>(f, "length", i64, rows, [](const SweepRow& r) { return r.length; }, path);
    write_column<double>(f, "depth", f64, rows, [](const SweepRow& r) { return r.depth; }, path);
    write_column<int64_t>(f, "sample", i64, rows, [](const SweepRow& r) { return r.sample; }, path);
    write_column<double>(f, "score", f64, rows, [](const SweepRow& r) { return r.score; }, path);
    write_column<double>(f, "exact", f64, rows, [](const SweepRow& r) { return r.exact; }, path);
    write_column<double>(f, "overlap", f64, rows, [](const SweepRow& r) { return r.overlap; }, path);
    write_column<int64_t>(f, "kv_bytes", i64, rows, [](const SweepRow& r) { return r.kv_bytes; }, path);
    write_column<double>(f, "prefill_s", f64, rows, [](const SweepRow& r) { return r.prefill_s; }, path);
    write_column<double>(f, "decode_s_per_token", f64, rows, [](const SweepRow& r) { return r.decode_s_per_token; },
                         path);
    write_column<int64_t>(f, "retrieval_heads", i64, rows, [](const SweepRow& r) { return r.retrieval_heads; }, path);

    const auto per_task = task_scores(rows);
    write_scores(f, "task_scores", per_task, path);
    write_scores(f, "ruler_average", ruler_averages(per_task), path);
    image = h5::finish_memory_file(std::move(file), path);
  }
  write_text_file(path, image);
}

}  // namespace duo::analysis
