// HDF5 helpers: id ownership, error translation, scalar attributes.
#include "history/hdf5_util.h"

#include <algorithm>
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

Id create_memory_file(const std::filesystem::path& path, bool checksummed, unsigned compact_attributes) {
  Id fapl(check(H5Pcreate(H5P_FILE_ACCESS), path, "cannot create file access properties"));
  // Grows in steps of 1 MiB; backing_store = false: nothing is written to `path`.
  check_status(H5Pset_fapl_core(fapl.get(), size_t{1} << 20, false), path, "cannot use the in-memory file driver");
  Id fcpl(check(H5Pcreate(H5P_FILE_CREATE), path, "cannot create file creation properties"));
  if (checksummed) {
    check_status(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_V110), path,
                 "cannot select the HDF5 1.10 file format");
    check_status(H5Pset_attr_phase_change(fcpl.get(), compact_attributes, compact_attributes), path,
                 "cannot keep the attributes compact");
  }
  return Id(check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), path, "cannot create file"));
}

namespace {

// Bob Jenkins' lookup3 hash ("hashlittle", byte by byte), the checksum of HDF5's metadata.
uint32_t lookup3(const unsigned char* k, size_t length, uint32_t initval) {
  const auto rot = [](uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
  uint32_t a, b, c;
  a = b = c = 0xdeadbeef + static_cast<uint32_t>(length) + initval;
  const auto word = [&](size_t at, size_t n) {
    uint32_t w = 0;
    for (size_t i = 0; i < n; ++i) w |= uint32_t{k[at + i]} << (8 * i);
    return w;
  };
  for (; length > 12; length -= 12, k += 12) {
    a += word(0, 4), b += word(4, 4), c += word(8, 4);
    a -= c, a ^= rot(c, 4), c += b;
    b -= a, b ^= rot(a, 6), a += c;
    c -= b, c ^= rot(b, 8), b += a;
    a -= c, a ^= rot(c, 16), c += b;
    b -= a, b ^= rot(a, 19), a += c;
    c -= b, c ^= rot(b, 4), b += a;
  }
  if (length == 0) return c;
  a += word(0, std::min<size_t>(length, 4));
  if (length > 4) b += word(4, std::min<size_t>(length - 4, 4));
  if (length > 8) c += word(8, length - 8);
  c ^= b, c -= rot(b, 14);
  a ^= c, a -= rot(c, 11);
  b ^= a, b -= rot(a, 25);
  c ^= b, c -= rot(b, 16);
  a ^= c, a -= rot(c, 4);
  b ^= a, b -= rot(a, 14);
  c ^= b, c -= rot(b, 24);
  return c;
}

// HDF5 1.10.8 clears the superblock's status flags ("open for writing") in the image
// H5Fget_file_image returns but keeps the checksum computed with them set, so a superblock of
// version 2 or 3 would fail its check when the file is opened (fixed in later HDF5 releases):
// recompute it over the superblock's 12 fixed bytes and four addresses.
void fix_superblock_checksum(std::string& image) {
  if (image.size() < 12 || static_cast<unsigned char>(image[8]) < 2) return;
  const size_t covered = 12 + 4 * static_cast<size_t>(static_cast<unsigned char>(image[9]));
  if (image.size() < covered + 4) return;
  const uint32_t sum = lookup3(reinterpret_cast<const unsigned char*>(image.data()), covered, 0);
  for (int i = 0; i < 4; ++i) image[covered + i] = static_cast<char>((sum >> (8 * i)) & 0xff);
}

}  // namespace

std::string finish_memory_file(Id file, const std::filesystem::path& path) {
  check_status(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), path, "cannot finish file");
  const ssize_t size = H5Fget_file_image(file.get(), nullptr, 0);
  if (size < 0) check(static_cast<hid_t>(size), path, "cannot finish file");
  std::string image(static_cast<size_t>(size), '\0');
  if (H5Fget_file_image(file.get(), image.data(), image.size()) != size)
    check(-1, path, "cannot finish file");
  fix_superblock_checksum(image);
  check_status(H5Fclose(file.release()), path, "cannot close file");
  return image;
}

namespace {

void write_string_attr(hid_t obj, const char* name, hid_t type, const void* data, const std::filesystem::path& path) {
  check_status(H5Tset_cset(type, H5T_CSET_UTF8), path, "cannot create string type");
  Id space(check(H5Screate(H5S_SCALAR), path, "cannot create scalar dataspace"));
  Id attr(check(H5Acreate2(obj, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT), path,
                std::string("cannot create attribute ") + name));
  check_status(H5Awrite(attr.get(), type, data), path, std::string("cannot write attribute ") + name);
}

}  // namespace

void write_attr(hid_t obj, const char* name, const std::string& value, const std::filesystem::path& path) {
  if (value.find('\0') != std::string::npos)
    throw Error(path, std::string("attribute '") + name + "' cannot be written: its value holds a NUL byte");
  Id type(check(H5Tcopy(H5T_C_S1), path, "cannot create string type"));
  check_status(H5Tset_size(type.get(), value.size() + 1), path, "cannot create string type");
  check_status(H5Tset_strpad(type.get(), H5T_STR_NULLTERM), path, "cannot create string type");
  write_string_attr(obj, name, type.get(), value.c_str(), path);
}

void write_vlen_string_attr(hid_t obj, const char* name, const std::string& value,
                            const std::filesystem::path& path) {
  Id type(check(H5Tcopy(H5T_C_S1), path, "cannot create string type"));
  check_status(H5Tset_size(type.get(), H5T_VARIABLE), path, "cannot create string type");
  const char* text = value.c_str();
  write_string_attr(obj, name, type.get(), &text, path);
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

namespace {

Id open_string_attr(hid_t obj, const char* name, const std::filesystem::path& path, Id* ftype) {
  if (!has_attr(obj, name)) throw Error(path, std::string("missing attribute '") + name + "'");
  Id attr(check(H5Aopen(obj, name, H5P_DEFAULT), path, std::string("cannot open attribute ") + name));
  *ftype = Id(check(H5Aget_type(attr.get()), path, std::string("cannot read attribute ") + name));
  if (H5Tget_class(ftype->get()) != H5T_STRING)
    throw Error(path, std::string("attribute '") + name + "' is not a string");
  return attr;
}

}  // namespace

bool is_vlen_string_attr(hid_t obj, const char* name, const std::filesystem::path& path) {
  Id ftype;
  Id attr = open_string_attr(obj, name, path, &ftype);
  return H5Tis_variable_str(ftype.get()) > 0;
}

std::string read_string_attr(hid_t obj, const char* name, const std::filesystem::path& path) {
  Id ftype;
  Id attr = open_string_attr(obj, name, path, &ftype);
  if (H5Tis_variable_str(ftype.get()) != 0)
    throw Error(path, std::string("attribute '") + name + "' is a variable-length string, not the fixed-length one "
                                                          "expected (corrupt file?)");
  const size_t size = H5Tget_size(ftype.get());
  check_one_stored_value(attr.get(), name, size, path);
  std::vector<char> buffer(size + 1, '\0');
  Id mtype(check(H5Tcopy(H5T_C_S1), path, "cannot create string type"));
  check_status(H5Tset_size(mtype.get(), size + 1), path, "cannot create string type");
  check_status(H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get())), path, "cannot create string type");
  check_status(H5Aread(attr.get(), mtype.get(), buffer.data()), path, std::string("cannot read attribute ") + name);
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
