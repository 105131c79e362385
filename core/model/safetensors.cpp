// Strict safetensors header parsing (see safetensors.h).
#include "model/safetensors.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace duo {
namespace {

struct DtypeInfo {
  StDtype dtype;
  std::string_view name;
  size_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {StDtype::BOOL, "BOOL", 1}, {StDtype::U8, "U8", 1},       {StDtype::I8, "I8", 1},
    {StDtype::I16, "I16", 2},   {StDtype::U16, "U16", 2},     {StDtype::F16, "F16", 2},
    {StDtype::BF16, "BF16", 2}, {StDtype::I32, "I32", 4},     {StDtype::U32, "U32", 4},
    {StDtype::F32, "F32", 4},   {StDtype::F64, "F64", 8},     {StDtype::I64, "I64", 8},
    {StDtype::U64, "U64", 8},   {StDtype::F8_E4M3, "F8_E4M3", 1}, {StDtype::F8_E5M2, "F8_E5M2", 1},
};

const DtypeInfo& info(StDtype dtype) {
  for (const auto& d : kDtypes)
    if (d.dtype == dtype) return d;
  throw std::logic_error("unknown StDtype");
}

// The largest header the reference implementation accepts (100 MB); anything bigger is
// damage, and refusing it early keeps a lying length from making us parse gigabytes.
constexpr uint64_t kMaxHeader = 100'000'000;

}  // namespace

std::string_view st_dtype_name(StDtype dtype) { return info(dtype).name; }
size_t st_dtype_size(StDtype dtype) { return info(dtype).size; }

int64_t StTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

StHeader parse_safetensors(const uint8_t* bytes, size_t size, const std::filesystem::path& path) {
  using nlohmann::json;
  if (size < 8)
    throw Error(path, "not a safetensors file: " + std::to_string(size) +
                          " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  if (n > size - 8)
    throw Error(path, "truncated or not a safetensors file: header length " + std::to_string(n) +
                          " exceeds the " + std::to_string(size - 8) + " bytes after it");
  if (n > kMaxHeader)
    throw Error(path, "safetensors header length " + std::to_string(n) + " is larger than 100 MB");
  if (n < 2) throw Error(path, "safetensors header of " + std::to_string(n) + " bytes holds no JSON object");

  const char* text = reinterpret_cast<const char*>(bytes + 8);
  json j = json::parse(text, text + n, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw Error(path, "safetensors header is not valid JSON");
  if (!j.is_object()) throw Error(path, "safetensors header is not a JSON object");

  const size_t data_start = 8 + static_cast<size_t>(n);
  const size_t data_size = size - data_start;
  StHeader header;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (v.is_null()) continue;  // the reference reads null as no metadata
      if (!v.is_object()) throw Error(path, "safetensors __metadata__ is not a JSON object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          throw Error(path, "safetensors __metadata__ entry '" + m.key() + "' is not a string");
        header.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& problem) {
      return Error(path, "tensor '" + name + "': " + problem);
    };
    if (!v.is_object()) throw bad("entry is not a JSON object");
    auto d = v.find("dtype");
    auto s = v.find("shape");
    auto o = v.find("data_offsets");
    if (d == v.end() || !d->is_string()) throw bad("missing or non-string \"dtype\"");
    if (s == v.end() || !s->is_array()) throw bad("missing or non-array \"shape\"");
    if (o == v.end() || !o->is_array() || o->size() != 2)
      throw bad("\"data_offsets\" must be an array of two integers");

    StTensor t;
    t.name = name;
    const std::string dname = d->get<std::string>();
    const DtypeInfo* di = nullptr;
    for (const auto& k : kDtypes)
      if (k.name == dname) di = &k;
    if (!di) throw bad("unknown dtype '" + dname + "'");
    t.dtype = di->dtype;

    uint64_t bytes_needed = di->size;
    for (const json& dim : *s) {
      if (!dim.is_number_unsigned()) throw bad("shape entries must be non-negative integers");
      uint64_t x = dim.get<uint64_t>();
      if (x > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(bytes_needed, x, &bytes_needed))
        throw bad("shape is too large");
      t.shape.push_back(static_cast<int64_t>(x));
    }
    if (!(*o)[0].is_number_unsigned() || !(*o)[1].is_number_unsigned())
      throw bad("\"data_offsets\" must be non-negative integers");
    const uint64_t b = (*o)[0].get<uint64_t>(), e = (*o)[1].get<uint64_t>();
    if (b > e) throw bad("data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + ") run backwards");
    if (e > data_size)
      throw bad("data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                ") reach past the end of the data area (" + std::to_string(data_size) +
                " bytes): the file is truncated or the header lies");
    if (e - b != bytes_needed)
      throw bad("data_offsets span " + std::to_string(e - b) + " bytes but dtype " + dname +
                " and the shape need " + std::to_string(bytes_needed));
    t.begin = data_start + b;
    t.end = data_start + e;
    header.tensors.push_back(std::move(t));
  }

  // As the reference library requires: taken in the order of their offsets, the tensors tile the
  // data area exactly, each starting where the previous one ends (empty tensors included), the
  // first at 0 and the last ending at the end of the file. A gap or trailing bytes mean the header
  // and the data disagree: a header length off by a few bytes of padding still parses as JSON but
  // shifts every tensor.
  std::sort(header.tensors.begin(), header.tensors.end(),
            [](const StTensor& a, const StTensor& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
  size_t covered = data_start;
  const StTensor* previous = nullptr;
  for (const StTensor& cur : header.tensors) {
    if (cur.begin < covered)
      throw Error(path, "tensors '" + previous->name + "' and '" + cur.name + "' overlap in the data area");
    if (cur.begin > covered)
      throw Error(path, "tensor '" + cur.name + "' starts at data offset " + std::to_string(cur.begin - data_start) +
                            (previous ? ", but '" + previous->name + "' ends at " : ", but the data area starts at ") +
                            std::to_string(covered - data_start) + ": " + std::to_string(cur.begin - covered) +
                            " bytes belong to no tensor (the file is not fully covered)");
    covered = cur.end;
    previous = &cur;
  }
  if (covered != size)
    throw Error(path, "the file is not fully covered: its tensors end at data offset " +
                          std::to_string(covered - data_start) + " but the data area holds " +
                          std::to_string(data_size) + " bytes (trailing bytes, or a header length of " +
                          std::to_string(n) + " that does not match the header)");
  return header;
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path)
    : file_(path), header_(parse_safetensors(file_.data(), file_.size(), path)) {
  for (size_t i = 0; i < header_.tensors.size(); ++i) index_.emplace(header_.tensors[i].name, i);
}

const StTensor* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

}  // namespace duo
