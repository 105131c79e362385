// Checkpoint directory discovery, shard index validation and chunked, page-releasing tensor
// copies out of the memory-mapped weight files.
#include "model/checkpoint.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/error.h"

namespace duo {
namespace {

std::string shape_str(at::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Drops the pages behind [p, p + n) from this process. The mapping is private and never
// written, so the kernel can always fault them back in from the file; without this, every
// page read while loading would stay resident next to its copy and double peak memory.
void release_pages(const uint8_t* p, size_t n) {
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  uintptr_t b = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  uintptr_t e = (reinterpret_cast<uintptr_t>(p) + n + page - 1) & ~(page - 1);
  ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

// a < b with runs of digits compared as numbers, so layer 9 comes before layer 10 (a longer run
// is the larger number: names carry no leading zeros).
bool natural_less(const std::string& a, const std::string& b) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      const size_t ie = std::min(a.find_first_not_of("0123456789", i), a.size());
      const size_t je = std::min(b.find_first_not_of("0123456789", j), b.size());
      if (ie - i != je - j) return ie - i < je - j;
      if (const int c = a.compare(i, ie - i, b, j, je - j)) return c < 0;
      i = ie, j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i, ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

// Copies are done this many bytes at a time so that at most one chunk of mapped pages is
// resident on top of the destination tensors, whatever the size of the largest tensor.
constexpr size_t kChunkBytes = size_t(64) << 20;

}  // namespace

Checkpoint::Checkpoint(const std::filesystem::path& dir) : dir_(dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw Error(dir, "not a checkpoint directory (it does not exist or is not a directory)");
  const fs::path config_path = dir / "config.json";
  if (!fs::exists(config_path)) throw Error(config_path, "missing: a checkpoint directory needs config.json");
  config_ = load_model_config(config_path);

  const fs::path single = dir / "model.safetensors";
  const fs::path index = dir / "model.safetensors.index.json";
  if (fs::exists(single)) {
    weights_ = single;
    files_.push_back(std::make_unique<SafetensorsFile>(single));
    for (const StTensor& t : files_[0]->tensors()) tensors_[t.name] = {files_[0].get(), &t};
    return;
  }
  if (!fs::exists(index))
    throw Error(dir, "no weights: neither model.safetensors nor model.safetensors.index.json is present");

  weights_ = index;
  std::ifstream in(index, std::ios::binary);
  if (!in) throw Error(index, "cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Error(index, "is not valid JSON");
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw Error(index, "has no \"weight_map\" object");

  std::map<std::string, const SafetensorsFile*> shards;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string()) throw Error(index, "weight_map entry '" + it.key() + "' is not a file name");
    const std::string shard = it.value().get<std::string>();
    if (shard.empty() || fs::path(shard).filename() != fs::path(shard))
      throw Error(index, "weight_map entry '" + it.key() + "' names '" + shard + "', not a file in the checkpoint directory");
    auto found = shards.find(shard);
    if (found == shards.end()) {
      const fs::path p = dir / shard;
      if (!fs::exists(p))
        throw Error(index, "names shard '" + shard + "' (for tensor '" + it.key() + "'), which is absent");
      files_.push_back(std::make_unique<SafetensorsFile>(p));
      found = shards.emplace(shard, files_.back().get()).first;
    }
    const StTensor* t = found->second->find(it.key());
    if (!t) throw Error(found->second->path(), "tensor '" + it.key() + "' is missing, though " +
                                                   index.filename().string() + " places it here");
    tensors_[it.key()] = {found->second, t};
  }
  // A tensor the index does not place in its shard would be silently left out.
  for (const auto& file : files_)
    for (const StTensor& t : file->tensors()) {
      auto placed = tensors_.find(t.name);
      if (placed == tensors_.end())
        throw Error(file->path(), "holds tensor '" + t.name + "', which " + index.filename().string() +
                                      " does not list: the index and its shards disagree");
      if (placed->second.file != file.get())
        throw Error(file->path(), "holds tensor '" + t.name + "', which " + index.filename().string() +
                                      " places in " + placed->second.file->path().filename().string() +
                                      ": the index and its shards disagree");
    }
}

const Checkpoint::Where& Checkpoint::checked(const std::string& name, at::IntArrayRef shape) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error(weights_, "tensor '" + name + "' is missing");
  const SafetensorsFile& file = *it->second.file;
  const StTensor& t = *it->second.tensor;
  if (!std::equal(t.shape.begin(), t.shape.end(), shape.begin(), shape.end()))
    throw Error(file.path(), "tensor '" + name + "' has shape " + shape_str(t.shape) + ", expected " +
                                 shape_str(shape) + " from config.json");
  if (t.dtype != StDtype::BF16 && t.dtype != StDtype::F16 && t.dtype != StDtype::F32)
    throw Error(file.path(), "tensor '" + name + "' has dtype " + std::string(st_dtype_name(t.dtype)) +
                                 "; weights must be BF16, F16 or F32");
  return it->second;
}

void Checkpoint::check(const std::string& name, at::IntArrayRef shape) const { checked(name, shape); }

std::vector<Checkpoint::Unused> Checkpoint::unused(const std::function<bool(const std::string&)>& used) const {
  std::vector<Unused> out;
  for (const auto& [name, where] : tensors_)
    if (!used(name)) out.push_back({name, where.file->path()});
  std::sort(out.begin(), out.end(), [](const Unused& a, const Unused& b) { return natural_less(a.name, b.name); });
  return out;
}

at::Tensor Checkpoint::load(const std::string& name, at::IntArrayRef shape, at::ScalarType dtype,
                            at::Device device) const {
  const Where& where = checked(name, shape);
  const SafetensorsFile& file = *where.file;
  const StTensor& t = *where.tensor;
  const at::ScalarType stored = t.dtype == StDtype::BF16 ? at::kBFloat16 : t.dtype == StDtype::F16 ? at::kHalf : at::kFloat;

  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(dtype));
  at::Tensor flat = out.view({-1});
  const int64_t numel = t.numel();
  const size_t esize = st_dtype_size(t.dtype);
  const int64_t chunk = static_cast<int64_t>(kChunkBytes / esize);
  std::vector<uint8_t> staging;  // only for data not aligned to its element size
  for (int64_t off = 0; off < numel; off += chunk) {
    const int64_t n = std::min(chunk, numel - off);
    const uint8_t* src = file.data(t) + off * esize;
    const size_t bytes = static_cast<size_t>(n) * esize;
    void* ptr = const_cast<uint8_t*>(src);
    if (reinterpret_cast<uintptr_t>(src) % esize != 0) {
      staging.resize(bytes + 8);
      uint8_t* aligned = staging.data() + (8 - reinterpret_cast<uintptr_t>(staging.data()) % 8) % 8;
      std::memcpy(aligned, src, bytes);
      ptr = aligned;
    }
    flat.narrow(0, off, n).copy_(at::from_blob(ptr, {n}, at::TensorOptions().dtype(stored)));
    release_pages(src, bytes);
  }
  return device.is_cpu() ? out : out.to(device);
}

}  // namespace duo
