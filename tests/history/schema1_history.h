// A schema-1 gate history as duo wrote it before schema 2, for the tests that old files still
// read and resume: HDF5's earliest file format (the library's default then), the root attributes
// in the old writer's order with its variable-length UTF-8 strings (h5::write_vlen_string_attr
// is that code), schema_version 1, and the datasets as the old writer made them (chunks of 64
// rows, unlimited along the steps) holding the values of a schema-2 history. `meta`, when given,
// replaces the source's metadata strings (an old file could hold what schema 2 cannot: a
// config_yaml past kMaxStringBytes).
#pragma once
#include <hdf5.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "history/hdf5_util.h"
#include "history/history_reader.h"

namespace duo::test {

namespace schema1_detail {

template <typename T>
void write_column(hid_t file, const char* name, hid_t file_type, hid_t mem_type, const std::vector<T>& values,
                  int64_t rows, std::vector<hsize_t> inner) {
  std::vector<hsize_t> dims{static_cast<hsize_t>(rows)}, maxdims{H5S_UNLIMITED}, chunk{64};
  for (hsize_t d : inner) {
    dims.push_back(d);
    maxdims.push_back(d);
    chunk.push_back(d);
  }
  const int rank = static_cast<int>(dims.size());
  duo::h5::Id space(H5Screate_simple(rank, dims.data(), maxdims.data()));
  duo::h5::Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_chunk(dcpl.get(), rank, chunk.data());
  duo::h5::Id set(H5Dcreate2(file, name, file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
  if (!set.valid() || (rows > 0 && H5Dwrite(set.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0))
    throw std::runtime_error(std::string("write_schema1_copy: cannot write ") + name);
}

}  // namespace schema1_detail

inline void write_schema1_copy(const std::filesystem::path& from, const std::filesystem::path& to,
                               const HistoryMeta* replaced = nullptr) {
  namespace h5 = duo::h5;
  using schema1_detail::write_column;
  const HistoryReader source(from);
  const HistoryMeta& meta = replaced ? *replaced : source.meta();
  h5::Id out(H5Fcreate(to.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  if (!out.valid()) throw std::runtime_error("write_schema1_copy: cannot create " + to.string());
  const hid_t f = out.get();
  h5::write_vlen_string_attr(f, "format", "duo-gate-history", to);
  h5::write_attr(f, "schema_version", int64_t{1}, to);
  h5::write_vlen_string_attr(f, "toolkit_version", source.toolkit_version(), to);
  h5::write_vlen_string_attr(f, "config_yaml", meta.config_yaml, to);
  h5::write_vlen_string_attr(f, "model_name", meta.model_name, to);
  h5::write_vlen_string_attr(f, "architecture", meta.architecture, to);
  h5::write_attr(f, "num_layers", int64_t{meta.num_layers}, to);
  h5::write_attr(f, "num_heads", int64_t{meta.num_heads}, to);
  h5::write_attr(f, "num_kv_heads", int64_t{meta.num_kv_heads}, to);
  h5::write_attr(f, "head_dim", int64_t{meta.head_dim}, to);
  h5::write_attr(f, "sink", int64_t{meta.sink}, to);
  h5::write_attr(f, "recent", int64_t{meta.recent}, to);
  h5::Id group(H5Gcreate2(f, "loss", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  const int64_t rows = source.rows();
  const std::vector<hsize_t> gates{static_cast<hsize_t>(meta.num_layers), static_cast<hsize_t>(meta.num_kv_heads)};
  write_column(f, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, source.steps(), rows, {});
  write_column(f, "gates", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, source.gates_all(), rows, gates);
  write_column(f, "loss/total", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, source.loss_total(), rows, {});
  write_column(f, "loss/distill", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, source.loss_distill(), rows, {});
  write_column(f, "loss/reg", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, source.loss_reg(), rows, {});
  write_column(f, "lr", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, source.lr(), rows, {});
  write_column(f, "tokens", H5T_STD_I64LE, H5T_NATIVE_INT64, source.tokens(), rows, {});
  write_column(f, "wall_time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, source.wall_time(), rows, {});
}

}  // namespace duo::test
