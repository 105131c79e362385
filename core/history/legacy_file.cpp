// Gate histories in HDF5's earliest file format, read by duo (legacy_file.h says why not by
// libhdf5). The structures and their fields are those of the HDF5 file format specification:
// superblock versions 0 and 1, object header version 1, attribute, dataspace, datatype, layout
// (version 3) and symbol table messages, version-1 B-trees (group nodes and raw-data chunks),
// symbol table nodes, local and global heaps.
#include "history/legacy_file.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <utility>

#include "util/error.h"

namespace duo::h5 {
namespace {

constexpr char kSignature[] = "\x89HDF\r\n\x1a\n";
constexpr uint64_t kUndefined = ~uint64_t{0};  // an undefined address (all bits set)

// Object header message types and flags.
constexpr uint16_t kDataspace = 0x0001, kDatatype = 0x0003, kLayout = 0x0008, kFilters = 0x000B,
                   kAttribute = 0x000C, kContinuation = 0x0010, kSymbolTable = 0x0011;
constexpr uint8_t kShared = 0x02;

// Datatype classes.
constexpr unsigned kFixedPoint = 0, kFloat = 1, kString = 3, kVariableLength = 9;

// Bounds on the walks, far above what a history holds (a few object header chunks, B-trees of one
// or two levels): a damaged file cannot make them run long.
constexpr size_t kMaxHeaderChunks = 64;
constexpr size_t kMaxTreeNodes = 4096;

uint64_t pad8(uint64_t n) { return (n + 7) / 8 * 8; }

std::string type_name(LegacyFile::Type type) {
  switch (type) {
    case LegacyFile::Type::int64: return "little-endian int64";
    case LegacyFile::Type::float32: return "little-endian float32";
    case LegacyFile::Type::float64: return "little-endian float64";
  }
  return "";
}

}  // namespace

void LegacyFile::fail(const std::string& what) const {
  throw Error(path_, "cannot read this gate history (HDF5's earliest file format, read by duo): " + what);
}

uint64_t LegacyFile::check_range(uint64_t at, uint64_t size, const std::string& what) const {
  if (at > bytes_.size() || size > bytes_.size() - at)
    fail(what + " (" + std::to_string(size) + " bytes at offset " + std::to_string(at) +
         ") lies past the end of the file (" + std::to_string(bytes_.size()) + " bytes)");
  return at;
}

uint64_t LegacyFile::le(uint64_t at, unsigned size) const {
  check_range(at, size, "a field");
  uint64_t value = 0;
  for (unsigned i = 0; i < size; ++i) value |= uint64_t{static_cast<unsigned char>(bytes_[at + i])} << (8 * i);
  return value;
}

LegacyFile::LegacyFile(const std::filesystem::path& path) : path_(path) {
  {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    const std::streamoff size = in ? static_cast<std::streamoff>(in.tellg()) : -1;
    if (size < 0) throw Error(path, "cannot open for reading");
    bytes_.resize(static_cast<size_t>(size));
    in.seekg(0);
    if (!in.read(bytes_.data(), static_cast<std::streamsize>(bytes_.size()))) throw Error(path, "cannot read");
  }
  // Superblock version 0 or 1 at offset 0 (duo wrote no user block before it).
  check_range(0, 24, "the superblock");
  if (bytes_.compare(0, 8, kSignature, 8) != 0) fail("no HDF5 signature at the start of the file");
  const unsigned version = static_cast<unsigned char>(bytes_[8]);
  if (version > 1) fail("superblock version " + std::to_string(version));
  offset_size_ = static_cast<unsigned char>(bytes_[13]);
  length_size_ = static_cast<unsigned char>(bytes_[14]);
  for (unsigned size : {offset_size_, length_size_})
    if (size != 2 && size != 4 && size != 8)
      fail("the superblock declares " + std::to_string(size) + "-byte addresses or lengths");
  // Base address, free-space address, end-of-file address, driver block address, then the root
  // group's symbol table entry: link name offset, object header address.
  const uint64_t fields = version == 0 ? 24 : 28;
  if (addr(fields) != 0) fail("the superblock's base address is not 0");
  const uint64_t eof = addr(fields + 2 * offset_size_);
  if (eof > bytes_.size())
    fail("truncated file: it holds " + std::to_string(bytes_.size()) + " bytes, its superblock says " +
         std::to_string(eof));
  root_ = addr(fields + 5 * offset_size_);

  for (const Message& m : object_header(root_, "the root group's object header")) {
    if (m.type != kAttribute) continue;
    if (m.flags & kShared) fail("a shared attribute message");
    // Version 1: name, datatype and dataspace each padded to 8 bytes; 2: unpadded, and a flags
    // byte (shared datatype or dataspace, which duo never wrote); 3: as 2, plus a name encoding.
    if (m.size < 8) fail("an attribute message is cut short");
    const unsigned v = static_cast<unsigned char>(bytes_[m.at]);
    if (v < 1 || v > 3) fail("attribute message version " + std::to_string(v));
    if (v > 1 && (static_cast<unsigned char>(bytes_[m.at + 1]) & 0x03)) fail("an attribute with a shared datatype");
    const uint64_t name_size = le(m.at + 2, 2), type_size = le(m.at + 4, 2), space_size = le(m.at + 6, 2);
    const auto part = [&](uint64_t n) { return v == 1 ? pad8(n) : n; };
    Attribute a;
    const uint64_t name_at = m.at + (v == 3 ? 9 : 8);
    a.type_at = name_at + part(name_size);
    a.type_size = type_size;
    a.space_at = a.type_at + part(type_size);
    a.space_size = space_size;
    a.data_at = a.space_at + part(space_size);
    if (name_size == 0 || a.data_at > m.at + m.size || bytes_[name_at + name_size - 1] != '\0')
      fail("an attribute message is shorter than its parts, or its name is not terminated");
    a.data_size = m.at + m.size - a.data_at;
    attributes_.emplace(bytes_.substr(name_at, name_size - 1), a);
  }
}

std::vector<LegacyFile::Message> LegacyFile::object_header(uint64_t at, const std::string& what) const {
  // Version 1: version, reserved, message count (2), reference count (4), size of the first
  // chunk (4), padding to 16 bytes; then messages of type (2), size (2), flags (1), 3 reserved
  // bytes and their data, in the first chunk and the chunks continuation messages name.
  check_range(at, 16, what);
  if (bytes_[at] != 1) fail(what + ": object header version " + std::to_string(static_cast<unsigned char>(bytes_[at])));
  std::vector<std::pair<uint64_t, uint64_t>> chunks{{at + 16, le(at + 8, 4)}};
  std::set<uint64_t> seen;
  uint64_t total = 0;  // chunks do not overlap: together no longer than the file
  std::vector<Message> messages;
  for (size_t next = 0; next < chunks.size(); ++next) {
    const auto [start, size] = chunks[next];
    check_range(start, size, what);
    total += size;
    if (!seen.insert(start).second || seen.size() > kMaxHeaderChunks || total > bytes_.size())
      fail(what + " continues in a loop or in too many chunks");
    for (uint64_t p = start, end = start + size; end - p >= 8;) {
      Message m{static_cast<uint16_t>(le(p, 2)), static_cast<uint8_t>(bytes_[p + 4]), p + 8, le(p + 2, 2)};
      if (m.size > end - m.at) fail(what + ": a message runs past its chunk");
      p = m.at + m.size;
      if (m.type != kContinuation) {
        messages.push_back(m);
        continue;
      }
      if (m.size < offset_size_ + length_size_) fail(what + ": a continuation message is cut short");
      chunks.emplace_back(addr(m.at), length(m.at + offset_size_));
    }
  }
  return messages;
}

uint64_t LegacyFile::element_count(uint64_t at, uint64_t size, std::vector<uint64_t>* dims,
                                   const std::string& what) const {
  // Version 1: version, rank, flags, 5 reserved bytes; version 2: version, rank, flags, type
  // (scalar, simple, null). Then the dimensions, then (flags bit 0) their maximums.
  if (size < 4) fail(what + ": its dataspace is cut short");
  const unsigned version = static_cast<unsigned char>(bytes_[at]);
  const unsigned rank = static_cast<unsigned char>(bytes_[at + 1]);
  if (version < 1 || version > 2) fail(what + ": dataspace version " + std::to_string(version));
  const uint64_t dims_at = at + (version == 1 ? 8 : 4);
  if (rank > 32 || dims_at + uint64_t{rank} * length_size_ > at + size) fail(what + ": its dataspace is cut short");
  if (version == 2 && bytes_[at + 3] == 2) return 0;  // a null dataspace
  uint64_t count = 1;
  for (unsigned i = 0; i < rank; ++i) {
    const uint64_t d = length(dims_at + uint64_t{i} * length_size_);
    if (dims) dims->push_back(d);
    if (__builtin_mul_overflow(count, d, &count)) fail(what + " declares more than 2^64 values");
  }
  return count;
}

std::string LegacyFile::string_attr(const std::string& name) const {
  const auto found = attributes_.find(name);
  if (found == attributes_.end()) throw Error(path_, "missing attribute '" + name + "'");
  const Attribute& a = found->second;
  const std::string what = "attribute '" + name + "'";
  if (a.type_size < 8) fail(what + ": its datatype is cut short");
  const unsigned type_class = static_cast<unsigned char>(bytes_[a.type_at]) & 0x0F;
  const bool vlen = type_class == kVariableLength && (static_cast<unsigned char>(bytes_[a.type_at + 1]) & 0x0F) == 1;
  if (type_class != kString && !vlen) throw Error(path_, what + " is not a string");
  const uint64_t count = element_count(a.space_at, a.space_size, nullptr, what);
  if (count != 1) throw Error(path_, what + " holds " + std::to_string(count) + " values, not one");
  if (vlen) return vlen_string(name, a);
  const uint64_t size = le(a.type_at + 4, 4);
  if (size > a.data_size)
    fail(what + " declares " + std::to_string(size) + " bytes but stores " + std::to_string(a.data_size));
  const std::string value = bytes_.substr(a.data_at, size);
  return value.substr(0, value.find('\0'));
}

bool LegacyFile::is_vlen_string_attr(const std::string& name) const {
  const auto found = attributes_.find(name);
  if (found == attributes_.end() || found->second.type_size < 8) return false;
  const uint64_t at = found->second.type_at;
  return (static_cast<unsigned char>(bytes_[at]) & 0x0F) == kVariableLength &&
         (static_cast<unsigned char>(bytes_[at + 1]) & 0x0F) == 1;
}

std::string LegacyFile::vlen_string(const std::string& name, const Attribute& a) const {
  // The value: the string's length in bytes, then its heap object's collection address and index.
  if (a.data_size < 4 + offset_size_ + 4)
    fail("attribute '" + name + "' holds " + std::to_string(a.data_size) +
         " bytes, too few for a variable-length string");
  const uint64_t size = le(a.data_at, 4);
  const uint64_t collection = addr(a.data_at + 4);
  const uint64_t index = le(a.data_at + 4 + offset_size_, 4);
  if (size == 0) return "";
  // The global heap collection: "GCOL", version 1, 3 reserved bytes, its size; then objects of an
  // index (2 bytes), a reference count (2), 4 reserved bytes, a size and the data padded to 8
  // bytes, up to object 0 (the free space).
  const std::string what = "the global heap collection of attribute '" + name + "'";
  const uint64_t header = 8 + length_size_;
  check_range(collection, header, what);
  if (bytes_.compare(collection, 4, "GCOL") != 0 || bytes_[collection + 4] != 1) fail(what + " has no heap signature");
  const uint64_t collection_size = length(collection + 8);
  if (collection_size < header) fail(what + " declares " + std::to_string(collection_size) + " bytes");
  check_range(collection, collection_size, what);
  const uint64_t end = collection + collection_size;
  for (uint64_t p = collection + header; end - p >= header;) {
    const uint64_t object = le(p, 2);
    const uint64_t object_size = length(p + 8);
    if (object == 0) break;
    const uint64_t data = p + header;
    if (object_size > end - data)
      fail(what + ": object " + std::to_string(object) + " of " + std::to_string(object_size) +
           " bytes runs past the collection's end");
    if (object == index) {
      if (object_size != size)
        fail("attribute '" + name + "' is " + std::to_string(size) + " bytes long, its heap object " +
             std::to_string(object_size));
      const std::string value = bytes_.substr(data, object_size);
      return value.substr(0, value.find('\0'));
    }
    if (pad8(object_size) > end - data) break;
    p = data + pad8(object_size);
  }
  fail(what + " holds no object " + std::to_string(index));
}

int64_t LegacyFile::int_attr(const std::string& name) const {
  const auto found = attributes_.find(name);
  if (found == attributes_.end()) throw Error(path_, "missing attribute '" + name + "'");
  const Attribute& a = found->second;
  const std::string what = "attribute '" + name + "'";
  if (a.type_size < 12) fail(what + ": its datatype is cut short");
  if ((static_cast<unsigned char>(bytes_[a.type_at]) & 0x0F) != kFixedPoint) throw Error(path_, what + " is not an integer");
  // Little-endian (bit 0 clear), signed (bit 3), 8 bytes, all 64 bits used from bit 0.
  if ((static_cast<unsigned char>(bytes_[a.type_at + 1]) & 0x09) != 0x08 || le(a.type_at + 4, 4) != 8 ||
      le(a.type_at + 8, 2) != 0 || le(a.type_at + 10, 2) != 64)
    fail(what + " is not a little-endian 64-bit signed integer");
  const uint64_t count = element_count(a.space_at, a.space_size, nullptr, what);
  if (count != 1) throw Error(path_, what + " holds " + std::to_string(count) + " values, not one");
  if (a.data_size < 8) fail(what + " declares 8 bytes but stores " + std::to_string(a.data_size));
  return static_cast<int64_t>(le(a.data_at, 8));
}

std::map<std::string, uint64_t> LegacyFile::group_members(uint64_t header, const std::string& what) const {
  uint64_t tree = kUndefined, heap = kUndefined;
  for (const Message& m : object_header(header, what))
    if (m.type == kSymbolTable && m.size >= 2 * uint64_t{offset_size_}) {
      tree = addr(m.at);
      heap = addr(m.at + offset_size_);
    }
  if (tree == kUndefined) fail(what + " is not a group (no symbol table)");
  // The local heap holding the member names: "HEAP", version 0, 3 reserved bytes, the data
  // segment's size, the free list's offset, the data segment's address.
  check_range(heap, 8 + 2 * uint64_t{length_size_} + offset_size_, what + "'s local heap");
  if (bytes_.compare(heap, 4, "HEAP") != 0 || bytes_[heap + 4] != 0) fail(what + "'s local heap has no signature");
  const uint64_t names_size = length(heap + 8);
  const uint64_t names = check_range(addr(heap + 8 + 2 * uint64_t{length_size_}), names_size, what + "'s member names");

  // The version-1 B-tree of group nodes: "TREE", type 0, level, entries used (2), left and right
  // siblings, then keys (name offsets, a length each) and children alternating, a key first and
  // last. Level-0 children are symbol table nodes: "SNOD", version 1, reserved, symbol count (2),
  // then entries of a name offset, an object header address, cache type (4), reserved (4) and a
  // 16-byte scratch pad.
  std::map<std::string, uint64_t> members;
  std::set<uint64_t> visited;
  std::vector<std::pair<uint64_t, int>> pending{{tree, -1}};
  while (!pending.empty()) {
    const auto [node, expected_level] = pending.back();
    pending.pop_back();
    if (!visited.insert(node).second || visited.size() > kMaxTreeNodes) fail(what + "'s B-tree loops or is too large");
    check_range(node, 8 + 2 * uint64_t{offset_size_}, what + "'s B-tree");
    if (bytes_.compare(node, 4, "TREE") != 0 || bytes_[node + 4] != 0) fail(what + "'s B-tree node has no signature");
    const int level = static_cast<unsigned char>(bytes_[node + 5]);
    if (expected_level >= 0 && level != expected_level) fail(what + "'s B-tree levels do not descend by one");
    const uint64_t entries = le(node + 6, 2);
    const uint64_t first = node + 8 + 2 * uint64_t{offset_size_};
    const uint64_t stride = length_size_ + offset_size_;
    check_range(first, entries * stride + length_size_, what + "'s B-tree node");
    for (uint64_t i = 0; i < entries; ++i) {
      const uint64_t child = addr(first + i * stride + length_size_);
      if (level > 0) {
        pending.emplace_back(child, level - 1);
        continue;
      }
      check_range(child, 8, what + "'s symbol table node");
      if (bytes_.compare(child, 4, "SNOD") != 0 || bytes_[child + 4] != 1)
        fail(what + "'s symbol table node has no signature");
      const uint64_t symbols = le(child + 6, 2);
      const uint64_t entry = 2 * uint64_t{offset_size_} + 24;
      check_range(child + 8, symbols * entry, what + "'s symbol table node");
      for (uint64_t s = 0; s < symbols; ++s) {
        const uint64_t name_offset = addr(child + 8 + s * entry);
        const void* nul = name_offset < names_size
                              ? std::memchr(bytes_.data() + names + name_offset, '\0', names_size - name_offset)
                              : nullptr;
        if (!nul) fail(what + ": a member's name lies outside its heap");
        const size_t name_size = static_cast<const char*>(nul) - (bytes_.data() + names + name_offset);
        members.emplace(bytes_.substr(names + name_offset, name_size), addr(child + 8 + s * entry + offset_size_));
      }
    }
  }
  return members;
}

std::optional<uint64_t> LegacyFile::find(const std::string& name) const {
  uint64_t header = root_;
  std::string group = "the root group";
  for (size_t start = 0;;) {
    const size_t slash = name.find('/', start);
    const auto all = group_members(header, group);
    const auto found = all.find(name.substr(start, slash == std::string::npos ? slash : slash - start));
    if (found == all.end()) return std::nullopt;
    if (slash == std::string::npos) return found->second;
    header = found->second;
    group = "group '" + name.substr(0, slash) + "'";
    start = slash + 1;
  }
}

LegacyFile::Dataset LegacyFile::dataset(const std::string& name, Type type) const {
  const std::optional<uint64_t> header = find(name);
  if (!header) throw Error(path_, "missing dataset '" + name + "'");
  const std::string what = "dataset '" + name + "'";
  const Message* space = nullptr;
  const Message* datatype = nullptr;
  const Message* layout = nullptr;
  const std::vector<Message> messages = object_header(*header, what);
  for (const Message& m : messages) {
    if (m.type == kFilters) fail(what + " is filtered (compressed), which duo never wrote");
    if (m.type != kDataspace && m.type != kDatatype && m.type != kLayout) continue;
    if (m.flags & kShared) fail(what + " has a shared dataspace, datatype or layout");
    (m.type == kDataspace ? space : m.type == kDatatype ? datatype : layout) = &m;
  }
  if (!space || !datatype || !layout) fail(what + " lacks its dataspace, datatype or layout");

  // The datatype: class and version (1 byte), class bit field (3), size (4), properties. Integers
  // must be little-endian and signed; floating point little-endian IEEE 754.
  const uint64_t t = datatype->at;
  if (datatype->size < 12) fail(what + ": its datatype is cut short");
  const unsigned type_class = static_cast<unsigned char>(bytes_[t]) & 0x0F;
  const unsigned bits0 = static_cast<unsigned char>(bytes_[t + 1]), sign_at = static_cast<unsigned char>(bytes_[t + 2]);
  const uint64_t element = le(t + 4, 4);
  bool matches = false;
  if (type == Type::int64)
    matches = type_class == kFixedPoint && (bits0 & 0x09) == 0x08 && element == 8 && le(t + 8, 2) == 0 &&
              le(t + 10, 2) == 64;
  else if (datatype->size >= 20) {
    // Little-endian, no padding bits, an implied leading mantissa bit (bit field 0x20), the sign
    // at the top bit; then bit offset, precision, exponent location and size, mantissa location
    // and size, exponent bias.
    const bool single = type == Type::float32;
    matches = type_class == kFloat && (bits0 & 0x7F) == 0x20 && element == (single ? 4u : 8u) &&
              sign_at == (single ? 31u : 63u) && le(t + 8, 2) == 0 && le(t + 10, 2) == element * 8 &&
              le(t + 12, 1) == (single ? 23u : 52u) && le(t + 13, 1) == (single ? 8u : 11u) && le(t + 14, 1) == 0 &&
              le(t + 15, 1) == (single ? 23u : 52u) && le(t + 16, 4) == (single ? 127u : 1023u);
  }
  if (!matches) throw Error(path_, what + " does not hold " + type_name(type) + " values");

  Dataset out;
  const uint64_t count = element_count(space->at, space->size, &out.dims, what);
  uint64_t total = 0;
  if (__builtin_mul_overflow(count, element, &total) || total > bytes_.size())
    fail(what + " declares " + std::to_string(count) + " values, more than the file's " +
         std::to_string(bytes_.size()) + " bytes hold");
  out.bytes.assign(static_cast<size_t>(total), '\0');

  // The layout, version 3: class (compact, contiguous, chunked) and where the values are.
  const uint64_t l = layout->at;
  if (layout->size < 2 || bytes_[l] != 3) fail(what + ": its layout message is not of version 3");
  const unsigned layout_class = static_cast<unsigned char>(bytes_[l + 1]);
  const uint64_t layout_end = l + layout->size;
  if (layout_class == 0) {  // compact: size (2), the values
    if (layout->size < 4 || le(l + 2, 2) != total || layout_end - (l + 4) < total)
      fail(what + ": its compact values are not the size its dataspace declares");
    out.bytes = bytes_.substr(l + 4, total);
  } else if (layout_class == 1) {  // contiguous: address, size
    if (layout->size < 2 + uint64_t{offset_size_} + length_size_) fail(what + ": its layout message is cut short");
    if (total > 0) {
      if (length(l + 2 + offset_size_) < total) fail(what + " stores fewer bytes than its dataspace declares");
      out.bytes = bytes_.substr(check_range(addr(l + 2), total, what), total);
    }
  } else if (layout_class == 2) {  // chunked: rank + 1 (1), B-tree address, chunk dimensions (4 each)
    if (layout->size < 3 + uint64_t{offset_size_}) fail(what + ": its layout message is cut short");
    const unsigned rank = static_cast<unsigned char>(bytes_[l + 2]);
    const uint64_t dims_at = l + 3 + offset_size_;
    if (out.dims.empty() || rank != out.dims.size() + 1 || layout_end - dims_at < 4 * uint64_t{rank})
      fail(what + ": its chunks have another rank than its dataspace");
    std::vector<uint64_t> chunk;
    uint64_t expected = 1;  // chunks covering the dataspace
    for (unsigned i = 0; i + 1 < rank; ++i) {
      chunk.push_back(le(dims_at + 4 * uint64_t{i}, 4));
      if (chunk.back() == 0) fail(what + " has chunks of size 0");
      expected *= (out.dims[i] + chunk.back() - 1) / chunk.back();  // at most `count` chunks of data
    }
    if (le(dims_at + 4 * uint64_t{rank - 1}, 4) != element) fail(what + ": its chunks' element size is not its type's");
    if (total > 0) {
      std::map<std::vector<uint64_t>, bool> seen;
      size_t nodes = 0;
      read_chunks(addr(l + 3), 0xFFFF, out.dims, chunk, element, out.bytes, seen, nodes, what);
      if (seen.size() != expected)
        fail(what + " stores " + std::to_string(seen.size()) + " of its " + std::to_string(expected) + " chunks");
    }
  } else {
    fail(what + ": layout class " + std::to_string(layout_class));
  }
  return out;
}

void LegacyFile::read_chunks(uint64_t node, unsigned level, const std::vector<uint64_t>& dims,
                             const std::vector<uint64_t>& chunk, uint64_t element, std::string& out,
                             std::map<std::vector<uint64_t>, bool>& seen, size_t& nodes,
                             const std::string& what) const {
  // A version-1 B-tree node of raw-data chunks: "TREE", type 1, level, entries used (2), left and
  // right siblings, then keys and children alternating. A key: the chunk's size in bytes (4), its
  // filter mask (4) and its offset in every dimension (8 each, the last 0); level-0 children are
  // the chunks.
  if (++nodes > kMaxTreeNodes) fail(what + "'s chunk B-tree loops or is too large");
  check_range(node, 8 + 2 * uint64_t{offset_size_}, what + "'s chunk B-tree");
  if (bytes_.compare(node, 4, "TREE") != 0 || bytes_[node + 4] != 1) fail(what + "'s chunk B-tree node has no signature");
  const unsigned node_level = static_cast<unsigned char>(bytes_[node + 5]);
  if (level != 0xFFFF && node_level != level) fail(what + "'s chunk B-tree levels do not descend by one");
  const uint64_t entries = le(node + 6, 2);
  const size_t rank = dims.size();
  const uint64_t key = 8 + 8 * (uint64_t{rank} + 1);
  const uint64_t first = node + 8 + 2 * uint64_t{offset_size_};
  check_range(first, entries * (key + offset_size_) + key, what + "'s chunk B-tree node");
  uint64_t chunk_bytes = element;
  for (uint64_t c : chunk)
    if (__builtin_mul_overflow(chunk_bytes, c, &chunk_bytes) || chunk_bytes > bytes_.size())
      fail(what + " has chunks larger than the file");
  for (uint64_t i = 0; i < entries; ++i) {
    const uint64_t k = first + i * (key + offset_size_);
    const uint64_t child = addr(k + key);
    if (node_level > 0) {
      read_chunks(child, node_level - 1, dims, chunk, element, out, seen, nodes, what);
      continue;
    }
    std::vector<uint64_t> offset(rank);
    for (size_t d = 0; d < rank; ++d) {
      offset[d] = le(k + 8 + 8 * d, 8);
      if (offset[d] % chunk[d] != 0 || offset[d] >= dims[d]) fail(what + " has a chunk at an offset outside it");
    }
    if (le(k + 8 + 8 * rank, 8) != 0) fail(what + " has a chunk at an offset outside it");
    if (le(k + 4, 4) != 0) fail(what + " has a filtered chunk");
    if (le(k, 4) != chunk_bytes) fail(what + " has a chunk of another size than its chunk dimensions");
    if (!seen.emplace(offset, true).second) fail(what + " stores a chunk twice");
    const uint64_t data = check_range(child, chunk_bytes, what + "'s chunk");
    // Copy the part inside the dataspace, one run along the last dimension at a time; `at` walks
    // the chunk's other dimensions like an odometer.
    std::vector<uint64_t> at(rank, 0);
    const uint64_t run = std::min(chunk[rank - 1], dims[rank - 1] - offset[rank - 1]);
    for (bool more = true; more;) {
      bool inside = true;
      uint64_t src = 0, dst = 0;
      for (size_t d = 0; d < rank; ++d) {
        inside = inside && offset[d] + at[d] < dims[d];
        src = src * chunk[d] + at[d];
        dst = dst * dims[d] + offset[d] + at[d];
      }
      if (inside) out.replace(dst * element, run * element, bytes_, data + src * element, run * element);
      more = false;
      for (size_t d = rank - 1; d-- > 0;) {
        if (++at[d] < chunk[d]) {
          more = true;
          break;
        }
        at[d] = 0;
      }
    }
  }
}

}  // namespace duo::h5
