// HDF5 helpers: id ownership, error translation, scalar attributes.
#include "history/hdf5_util.h"

#include <vector>

#include "util/error.h"

namespace duo::h5 {

void Id::reset() {
  if (id_ >= 0) H5Idec_ref(id_);
  id_ = H5I_INVALID_HID;
}

void silence_errors() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

std::string last_error() {
  std::string message;
  // Walking upward starts at the most specific frame, which says what actually went wrong
  // ("truncated file", "file is already open for write") rather than "unable to open file".
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned, const H5E_error2_t* err, void* out) -> herr_t {
        auto* msg = static_cast<std::string*>(out);
        if (msg->empty() && err->desc) *msg = err->desc;
        return 0;
      },
      &message);
  return message;
}

hid_t check(hid_t id, const std::filesystem::path& path, const std::string& what) {
  if (id < 0) {
    std::string reason = last_error();
    throw Error(path, what + (reason.empty() ? "" : " (" + reason + ")"));
  }
  return id;
}

void check_status(herr_t status, const std::filesystem::path& path, const std::string& what) {
  check(static_cast<hid_t>(status), path, what);
}

Id create_memory_file(const std::filesystem::path& path) {
  Id fapl(check(H5Pcreate(H5P_FILE_ACCESS), path, "cannot create file access properties"));
  // Grows in steps of 1 MiB; backing_store = false: nothing is written to `path`.
  check_status(H5Pset_fapl_core(fapl.get(), size_t{1} << 20, false), path, "cannot use the in-memory file driver");
  return Id(check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), path, "cannot create file"));
}

std::string finish_memory_file(Id file, const std::filesystem::path& path) {
  check_status(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), path, "cannot finish file");
  const ssize_t size = H5Fget_file_image(file.get(), nullptr, 0);
  if (size < 0) check(static_cast<hid_t>(size), path, "cannot finish file");
  std::string image(static_cast<size_t>(size), '\0');
  if (H5Fget_file_image(file.get(), image.data(), image.size()) != size)
    check(-1, path, "cannot finish file");
  check_status(H5Fclose(file.release()), path, "cannot close file");
  return image;
}

void write_attr(hid_t obj, const char* name, const std::string& value,
                const std::filesystem::path& path) {
  // Variable-length UTF-8, so h5py returns a str rather than bytes.
  Id type(check(H5Tcopy(H5T_C_S1), path, "cannot create string type"));
  check_status(H5Tset_size(type.get(), H5T_VARIABLE), path, "cannot create string type");
  check_status(H5Tset_cset(type.get(), H5T_CSET_UTF8), path, "cannot create string type");
  Id space(check(H5Screate(H5S_SCALAR), path, "cannot create scalar dataspace"));
  Id attr(check(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), path,
                std::string("cannot create attribute ") + name));
  const char* text = value.c_str();
  check_status(H5Awrite(attr.get(), type.get(), &text), path,
               std::string("cannot write attribute ") + name);
}

void write_attr(hid_t obj, const char* name, int64_t value, const std::filesystem::path& path) {
  Id space(check(H5Screate(H5S_SCALAR), path, "cannot create scalar dataspace"));
  Id attr(check(H5Acreate2(obj, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                path, std::string("cannot create attribute ") + name));
  check_status(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), path,
               std::string("cannot write attribute ") + name);
}

bool has_attr(hid_t obj, const char* name) { return H5Aexists(obj, name) > 0; }

namespace {

// H5Aread writes every element an attribute holds and every byte its type declares: a damaged
// file's array attribute, or a string type longer than what is stored, would overrun the one
// value read here.
void check_one_stored_value(hid_t attr, const char* name, size_t value_size, const std::filesystem::path& path) {
  Id space(check(H5Aget_space(attr), path, std::string("cannot read attribute ") + name));
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count != 1)
    throw Error(path, std::string("attribute '") + name + "' holds " + std::to_string(count) + " values, not one");
  if (value_size > H5Aget_storage_size(attr))
    throw Error(path, std::string("attribute '") + name + "' declares " + std::to_string(value_size) +
                          " bytes but stores " + std::to_string(H5Aget_storage_size(attr)));
}

}  // namespace

std::string read_string_attr(hid_t obj, const char* name, const std::filesystem::path& path) {
  if (!has_attr(obj, name)) throw Error(path, std::string("missing attribute '") + name + "'");
  Id attr(check(H5Aopen(obj, name, H5P_DEFAULT), path, std::string("cannot open attribute ") + name));
  Id ftype(check(H5Aget_type(attr.get()), path, std::string("cannot read attribute ") + name));
  if (H5Tget_class(ftype.get()) != H5T_STRING)
    throw Error(path, std::string("attribute '") + name + "' is not a string");
  const bool variable = H5Tis_variable_str(ftype.get()) > 0;
  check_one_stored_value(attr.get(), name, variable ? 0 : H5Tget_size(ftype.get()), path);
  if (variable) {
    Id mtype(check(H5Tcopy(H5T_C_S1), path, "cannot create string type"));
    H5Tset_size(mtype.get(), H5T_VARIABLE);
    H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()));
    char* text = nullptr;
    check_status(H5Aread(attr.get(), mtype.get(), &text), path,
                 std::string("cannot read attribute ") + name);
    std::string value = text ? text : "";
    H5free_memory(text);
    return value;
  }
  size_t size = H5Tget_size(ftype.get());
  std::vector<char> buffer(size + 1, '\0');
  Id mtype(check(H5Tcopy(H5T_C_S1), path, "cannot create string type"));
  H5Tset_size(mtype.get(), size + 1);
  check_status(H5Aread(attr.get(), mtype.get(), buffer.data()), path,
               std::string("cannot read attribute ") + name);
  return std::string(buffer.data());
}

int64_t read_int_attr(hid_t obj, const char* name, const std::filesystem::path& path) {
  if (!has_attr(obj, name)) throw Error(path, std::string("missing attribute '") + name + "'");
  Id attr(check(H5Aopen(obj, name, H5P_DEFAULT), path, std::string("cannot open attribute ") + name));
  Id ftype(check(H5Aget_type(attr.get()), path, std::string("cannot read attribute ") + name));
  if (H5Tget_class(ftype.get()) != H5T_INTEGER)
    throw Error(path, std::string("attribute '") + name + "' is not an integer");
  check_one_stored_value(attr.get(), name, H5Tget_size(ftype.get()), path);
  int64_t value = 0;
  check_status(H5Aread(attr.get(), H5T_NATIVE_INT64, &value), path,
               std::string("cannot read attribute ") + name);
  return value;
}

}  // namespace duo::h5
