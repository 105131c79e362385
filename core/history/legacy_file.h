// Gate histories in HDF5's earliest file format (superblock version 0 or 1), the one duo wrote
// schema 1 in, read by duo itself rather than by libhdf5.
//
// Why not libhdf5: none of that format's structures carries a checksum, and libhdf5 1.10.8
// (Debian 12) decodes them without bounds checks. On damaged files the gate-history fuzz target
// found it copying gigabytes out of the global heap (H5HG_read, ASan memcpy-param-overlap, reading
// a variable-length string attribute), looping forever (H5C_protect under H5HG__protect),
// overrunning and reusing freed buffers while decoding attribute messages (H5Aexists) and copying
// past a dataset's buffer (H5Dread); the inputs are in fuzz/regressions/gate_history/. No HDF5
// call checks a structure before decoding it, nor hands out a variable-length string's heap
// reference without reading the heap. Schema 2 is written in the 1.10 format, whose metadata
// libhdf5 verifies by checksum before decoding it; this decoder keeps the older files readable.
//
// It reads what a gate history holds and nothing else: the superblock, the object headers
// (version 1, with continuation chunks), scalar attributes (64-bit little-endian integers,
// fixed- and variable-length strings, the latter from their global heap collection), groups as
// symbol tables (version-1 B-tree, symbol table nodes, local heap), and datasets of little-endian
// int64, float32 or float64 values stored compact, contiguous or in unfiltered chunks (version-1
// B-tree). Every address, size and count is checked against the file before it is used; a
// structure outside this set, or one that does not check out, is one duo::Error naming the file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace duo::h5 {

class LegacyFile {
 public:
  // Reads the whole file (histories are a few MB) and decodes its superblock and the root group's
  // object header.
  explicit LegacyFile(const std::filesystem::path& path);

  bool has_attr(const std::string& name) const { return attributes_.count(name) > 0; }
  // The root attribute `name`: a string up to its first NUL byte, or a 64-bit integer. Each throws
  // when the attribute is missing, of another type or does not hold exactly one value.
  std::string string_attr(const std::string& name) const;
  int64_t int_attr(const std::string& name) const;
  bool is_vlen_string_attr(const std::string& name) const;

  enum class Type { int64, float32, float64 };
  struct Dataset {
    std::vector<uint64_t> dims;
    std::string bytes;  // the values, row-major, little-endian
  };
  // Whether `name` ("step", "loss/total") names an object, and the dataset it names, which must
  // hold values of `type`.
  bool exists(const std::string& name) const { return find(name).has_value(); }
  Dataset dataset(const std::string& name, Type type) const;

 private:
  struct Message {
    uint16_t type;
    uint8_t flags;
    uint64_t at, size;  // where its data lies in the file
  };
  struct Attribute {
    uint64_t type_at, type_size, space_at, space_size, data_at, data_size;
  };

  [[noreturn]] void fail(const std::string& what) const;
  // `size` bytes at `at`, checked to lie in the file; `what` names them in the error.
  uint64_t check_range(uint64_t at, uint64_t size, const std::string& what) const;
  uint64_t le(uint64_t at, unsigned size) const;  // a little-endian number (checked range)
  uint64_t addr(uint64_t at) const { return le(at, offset_size_); }
  uint64_t length(uint64_t at) const { return le(at, length_size_); }

  std::vector<Message> object_header(uint64_t at, const std::string& what) const;
  // The object header of the object `name` names, through the groups on its path.
  std::optional<uint64_t> find(const std::string& name) const;
  // The members of the group whose object header is at `header`: name -> object header address.
  std::map<std::string, uint64_t> group_members(uint64_t header, const std::string& what) const;
  uint64_t element_count(uint64_t space_at, uint64_t space_size, std::vector<uint64_t>* dims,
                         const std::string& what) const;
  std::string vlen_string(const std::string& name, const Attribute& attr) const;
  void read_chunks(uint64_t node, unsigned level, const std::vector<uint64_t>& dims,
                   const std::vector<uint64_t>& chunk, uint64_t element, std::string& out,
                   std::map<std::vector<uint64_t>, bool>& seen, size_t& nodes, const std::string& what) const;

  std::filesystem::path path_;
  std::string bytes_;
  unsigned offset_size_ = 8, length_size_ = 8;  // bytes of a file address and of a length
  uint64_t root_ = 0;                            // the root group's object header
  std::map<std::string, Attribute> attributes_;  // the root group's
};

}  // namespace duo::h5
