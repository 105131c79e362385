// Gate-history reader: checks the file before handing it to HDF5 so the common mistakes (no such
// file, not HDF5 at all, cut short) get a plain message, then reads everything.
#include "history/history_reader.h"

#include <stdexcept>
#include <string>

#include "history/hdf5_util.h"
#include "history/history_layout.h"
#include "util/error.h"

namespace duo {

HistoryReader::HistoryReader(const std::filesystem::path& path) : path_(path) {
  h5::silence_errors();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(path, "no such file");
  if (std::filesystem::is_directory(path, ec)) throw Error(path, "is a directory, not a gate history file");
#if H5_VERSION_GE(1, 12, 0)
  const htri_t is_hdf5 = H5Fis_accessible(path.c_str(), H5P_DEFAULT);
#else
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
#endif
  if (is_hdf5 <= 0) throw Error(path, "not a readable HDF5 file (truncated, corrupt, or another format)");
  history_layout::StoredHistory stored = history_layout::read_file(path);
  meta_ = std::move(stored.meta);
  schema_version_ = stored.schema_version;
  toolkit_version_ = std::move(stored.toolkit_version);
  columns_ = std::move(stored.columns);
}

std::span<const float> HistoryReader::gates_at(int64_t row) const {
  if (row < 0 || row >= rows()) throw std::out_of_range("gate history row " + std::to_string(row) + " out of range");
  const auto n = static_cast<size_t>(gates_per_step());
  return std::span<const float>(columns_.gates).subspan(static_cast<size_t>(row) * n, n);
}

}  // namespace duo
