// save_safetensors: the header as JSON (nlohmann keeps insertion order only in ordered_json,
// which is what makes the data offsets read in file order), then the raw little-endian bytes.
#include "model/safetensors_writer.h"

#include <nlohmann/json.hpp>

#include <set>
#include <string_view>

#include "util/error.h"
#include "util/text_file.h"

namespace duo {
namespace {

const char* dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kBool: return "BOOL";
    case at::kByte: return "U8";
    case at::kChar: return "I8";
    case at::kShort: return "I16";
    case at::kInt: return "I32";
    case at::kLong: return "I64";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    case at::kFloat: return "F32";
    case at::kDouble: return "F64";
    default: return nullptr;
  }
}

}  // namespace

void save_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> data;  // contiguous CPU copies, in file order
  std::set<std::string> seen;
  size_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__") throw Error(path, "cannot save a tensor named '" + name + "'");
    if (!seen.insert(name).second) throw Error(path, "tensor '" + name + "' given twice");
    const char* dtype = dtype_name(tensor.scalar_type());
    if (!dtype)
      throw Error(path, "tensor '" + name + "' has dtype " + std::string(c10::toString(tensor.scalar_type())) +
                            ", which safetensors cannot hold");
    at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
    const size_t bytes = t.numel() * t.element_size();
    header[name] = {{"dtype", dtype}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(t));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  uint64_t n = text.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>(static_cast<unsigned char>(n >> (8 * i)));  // little-endian
  std::vector<std::string_view> parts{std::string_view(len, 8), text};
  // Tensors are stored in the machine's byte order; every host duo runs on is little-endian.
  for (const at::Tensor& t : data)
    parts.emplace_back(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  // A temporary file renamed into place; a full disk is one error naming the file.
  write_file_parts(path, parts);
}

}  // namespace duo
