// Thin helpers over the HDF5 C API for the history file: an owning id handle, error checks that
// turn HDF5 failures into duo::Error (with HDF5's own innermost reason), and scalar attribute read/write.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace duo::h5 {

// Owns one HDF5 identifier of any kind (file, dataset, dataspace, type, property list, attribute).
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  ~Id() { reset(); }
  Id(Id&& other) noexcept : id_(other.release()) {}
  Id& operator=(Id&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = other.release();
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  hid_t release() {
    hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }
  void reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// HDF5 prints its error stack to stderr by default; we report errors ourselves. Idempotent.
void silence_errors();

// The innermost message of the current HDF5 error stack ("" when empty).
std::string last_error();

// Throws duo::Error("<path>: <what> (<hdf5 reason>)") when status/id is negative.
hid_t check(hid_t id, const std::filesystem::path& path, const std::string& what);
void check_status(herr_t status, const std::filesystem::path& path, const std::string& what);

// A new, empty HDF5 file held in memory (the core driver, no backing store), for a writer that
// then hands finish_memory_file's bytes to write_text_file. HDF5 itself then never writes to the
// disk: when a full disk or quota made its own close fail, it printed a two-line error, left the
// file open and crashed (SIGSEGV) at library shutdown. `path` only names the file in messages.
// `checksummed`: in the HDF5 1.10 file format (superblock version 3, version-2 object headers,
// extensible-array chunk indexes), whose metadata all carry checksums that HDF5 verifies before it
// decodes them, with up to `compact_attributes` attributes kept in the root group's object header
// (HDF5's default moves more than 8 into a separate heap); else in the earliest format.
Id create_memory_file(const std::filesystem::path& path, bool checksummed = false, unsigned compact_attributes = 8);
// Closes a file made by create_memory_file (every object in it must be closed already) and
// returns its bytes: a complete HDF5 file, as H5Fcreate on the disk would have left it.
std::string finish_memory_file(Id file, const std::filesystem::path& path);

// A scalar fixed-length UTF-8 string: H5T_C_S1 of the value's bytes plus a terminating NUL
// (H5T_STR_NULLTERM). Readers find it in the attribute itself; h5py returns it as bytes. A value
// holding a NUL byte is refused (it would read back cut short).
void write_attr(hid_t obj, const char* name, const std::string& value, const std::filesystem::path& path);
// A scalar variable-length UTF-8 string, kept in HDF5's global heap (h5py returns it as str). Only
// for files duo does not read back (the sweep's results.h5): read_string_attr refuses these.
void write_vlen_string_attr(hid_t obj, const char* name, const std::string& value, const std::filesystem::path& path);
void write_attr(hid_t obj, const char* name, int64_t value, const std::filesystem::path& path);
bool has_attr(hid_t obj, const char* name);
// Whether the attribute `name` is a variable-length string; throws duo::Error naming `path` when it
// is missing or not a string.
bool is_vlen_string_attr(hid_t obj, const char* name, const std::filesystem::path& path);
// Reads a scalar fixed-length string attribute, up to its first NUL. A variable-length one is
// refused without reading it: its bytes are in the global heap, which carries no checksum and
// which libhdf5 1.10.8 reads without checks (crashes and hangs on damaged files).
std::string read_string_attr(hid_t obj, const char* name, const std::filesystem::path& path);
int64_t read_int_attr(hid_t obj, const char* name, const std::filesystem::path& path);

}  // namespace duo::h5
