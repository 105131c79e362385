#include "model/decode_graph.h"

#include <ATen/core/grad_mode.h>

#include <stdexcept>
#include <string>

#include "kernels/decode_attention.h"

#ifdef DUO_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace duo {

#ifdef DUO_WITH_CUDA
struct DecodeGraph::Cuda {
  explicit Cuda(c10::DeviceIndex device) : stream(c10::cuda::getStreamFromPool(false, device)) {}
  c10::cuda::CUDAStream stream;
  at::cuda::CUDAGraph graph;
};
#else
struct DecodeGraph::Cuda {};
#endif

bool DecodeGraph::available(const LlamaModel& model) {
  const ModelConfig& c = model.config();
  return model.device().is_cuda() && c.num_key_value_heads > 0 &&
         kernels::decode_attention_supported(model.device(), model.dtype(), c.head_dim,
                                             c.num_attention_heads / c.num_key_value_heads);
}

DecodeGraph::DecodeGraph(const LlamaModel& model, MixedKVCacheAttention& cache, Options options)
    : model_(model),
      attn_(cache),
      use_graph_(options.cuda_graph && available(model)),
      fused_matvec_(options.fused_matvec),
      position_mode_(model.device().is_cpu() || available(model)) {}

DecodeGraph::~DecodeGraph() = default;

at::Tensor DecodeGraph::step(const at::Tensor& ids, int64_t pos) {
  at::NoGradGuard no_grad;
  if (!position_mode_ || !attn_.graph_decodable(pos)) {
    ++plain_steps_;
    return model_.forward(ids, attn_, pos, /*logits=*/true).logits;
  }
  if (!ids_.defined()) {
    ids_ = ids.clone();
    pos_ = at::full({1}, pos, at::TensorOptions().dtype(at::kLong).device(model_.device()));
  } else {
    if (ids.sizes() != ids_.sizes())
      throw std::invalid_argument("DecodeGraph: ids changed shape from the first step's");
    ids_.copy_(ids);
    pos_.fill_(pos);
  }
  if (!use_graph_) {
    ++position_steps_;
    at::Tensor logits = model_.decode_step(ids_, attn_, pos_, pos, true, fused_matvec_).logits;
    attn_.decoded(pos);
    return logits;
  }
#ifdef DUO_WITH_CUDA
  if (captured_) {
    cuda_->graph.replay();
    attn_.decoded(pos);
    ++replays_;
    return logits_;
  }
  // The real step, eagerly on the side stream, then the capture of the same step there. The
  // capture runs nothing; the graph replays it at whatever ids_ and pos_ hold then.
  const c10::cuda::CUDAGuard device_guard(model_.device());
  cuda_ = std::make_unique<Cuda>(model_.device().index());
  const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream();
  at::cuda::CUDAEvent before, after;
  before.record(current);
  before.block(cuda_->stream);
  at::Tensor first;
  {
    const c10::cuda::CUDAStreamGuard stream_guard(cuda_->stream);
    first = model_.decode_step(ids_, attn_, pos_, pos, true, fused_matvec_).logits;
    cuda_->graph.capture_begin();
    logits_ = model_.decode_step(ids_, attn_, pos_, pos, true, fused_matvec_).logits;
    cuda_->graph.capture_end();
  }
  after.record(cuda_->stream);
  after.block(current);
  first.record_stream(current);
  captured_ = true;
  attn_.decoded(pos);
  ++position_steps_;
  return first;
#else
  throw std::logic_error("DecodeGraph: built without CUDA");
#endif
}

}  // namespace duo
