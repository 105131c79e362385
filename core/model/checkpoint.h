// duo::Checkpoint: a Hugging Face checkpoint directory — config.json plus model.safetensors or
// shards listed by model.safetensors.index.json — with its weight files memory-mapped.
// Tensors are copied out of the mapping (cast to the requested dtype and device) one chunk at
// a time, and the mapped pages just read are handed back to the kernel right away, so peak
// host memory while loading stays near the size of the loaded weights plus one chunk.
#pragma once
#include <ATen/ATen.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/model_config.h"
#include "model/safetensors.h"

namespace duo {

class Checkpoint {
 public:
  // Reads config.json and the weight files' headers; throws duo::Error naming the file and the
  // problem (missing file, index naming an absent shard or a tensor its shard lacks, a shard
  // holding a tensor the index places elsewhere or nowhere, bad header).
  explicit Checkpoint(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const ModelConfig& config() const { return config_; }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }

  // The tensor `name`, which must have exactly `shape` and a float dtype (BF16, F16, F32),
  // as a new tensor of `dtype` on `device` that owns its memory.
  at::Tensor load(const std::string& name, at::IntArrayRef shape, at::ScalarType dtype,
                  at::Device device) const;
  // The checks of load() without the copy: throws the duo::Error load() would throw.
  void check(const std::string& name, at::IntArrayRef shape) const;

  // The checkpoint's tensors for which `used` is false, with the file holding each, in natural
  // name order (model.layers.9 before model.layers.10).
  struct Unused {
    std::string name;
    std::filesystem::path file;
  };
  std::vector<Unused> unused(const std::function<bool(const std::string&)>& used) const;

 private:
  struct Where {
    const SafetensorsFile* file;
    const StTensor* tensor;
  };
  const Where& checked(const std::string& name, at::IntArrayRef shape) const;
  std::filesystem::path dir_;
  std::filesystem::path weights_;  // model.safetensors or the index: named when a tensor is missing
  ModelConfig config_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::unordered_map<std::string, Where> tensors_;
};

}  // namespace duo
