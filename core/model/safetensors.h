// The .safetensors format: an 8-byte little-endian header length N, N bytes of JSON naming
// each tensor's dtype, shape and [begin, end) byte range inside the data area that follows.
// Parsing is torch-free and as strict as the reference library (huggingface/safetensors): the
// tensors must cover the data area exactly, without gaps, overlaps or trailing bytes. Every
// inconsistency a file can hold is a duo::Error that names the file, so a damaged or hostile
// checkpoint never reaches the tensor code.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/mapped_file.h"

namespace duo {

enum class StDtype { BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, F8_E4M3, F8_E5M2 };

std::string_view st_dtype_name(StDtype dtype);
size_t st_dtype_size(StDtype dtype);

struct StTensor {
  std::string name;
  StDtype dtype;
  std::vector<int64_t> shape;
  size_t begin = 0;  // byte offsets from the start of the file (not of the data area)
  size_t end = 0;
  int64_t numel() const;
};

struct StHeader {
  std::vector<StTensor> tensors;  // in file order of their data
  std::unordered_map<std::string, std::string> metadata;  // "__metadata__", string to string
};

// Parses and validates the header of a safetensors file held in bytes[0, size). `path` only
// names the file in error messages.
StHeader parse_safetensors(const uint8_t* bytes, size_t size, const std::filesystem::path& path);

// A memory-mapped safetensors file with its validated header.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_.path(); }
  const MappedFile& file() const { return file_; }
  const std::vector<StTensor>& tensors() const { return header_.tensors; }
  const std::unordered_map<std::string, std::string>& metadata() const { return header_.metadata; }
  const StTensor* find(std::string_view name) const;  // nullptr when absent
  const uint8_t* data(const StTensor& t) const { return file_.data() + t.begin; }

 private:
  MappedFile file_;
  StHeader header_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace duo
