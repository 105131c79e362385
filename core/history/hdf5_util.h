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

void write_attr(hid_t obj, const char* name, const std::string& value, const std::filesystem::path& path);
void write_attr(hid_t obj, const char* name, int64_t value, const std::filesystem::path& path);
bool has_attr(hid_t obj, const char* name);
std::string read_string_attr(hid_t obj, const char* name, const std::filesystem::path& path);
int64_t read_int_attr(hid_t obj, const char* name, const std::filesystem::path& path);

}  // namespace duo::h5
