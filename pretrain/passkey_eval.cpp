// passkey_accuracy: batched teacher-forced forward passes, argmax per position, exact match
// over each passkey's tokens (see passkey_eval.h for why that equals greedy decoding).
#include "passkey_eval.h"

#include <algorithm>

namespace duo {

std::vector<PasskeyAccuracy> passkey_accuracy(const LlamaModel& model, const synth::PasskeyGenerator& generator,
                                              const std::vector<int64_t>& lengths, int64_t samples, int64_t batch) {
  at::InferenceMode guard;
  std::vector<PasskeyAccuracy> out;
  for (int64_t length : lengths) {
    PasskeyAccuracy acc{length};
    for (int64_t first = 0; first < samples; first += batch) {
      const int64_t n = std::min(batch, samples - first);
      std::vector<synth::PasskeySample> group;
      at::Tensor ids = at::empty({n, length}, at::kLong);
      for (int64_t b = 0; b < n; ++b) {
        group.push_back(generator.sample(first + b, length));
        std::copy(group.back().ids.begin(), group.back().ids.end(), ids[b].data_ptr<int64_t>());
      }
      FullAttention attn;
      // predicted[b][j]: the model's most likely token at position j + 1.
      at::Tensor predicted =
          model.forward(ids.to(model.device()), attn).logits.argmax(-1).to(at::kCPU).contiguous();
      for (int64_t b = 0; b < n; ++b) {
        const int64_t* pred = predicted[b].data_ptr<int64_t>();
        const std::vector<int32_t>& truth = group[b].ids;
        for (const synth::Span& span : group[b].answer_spans) {
          bool exact = true;
          for (int64_t j = span.start; j < span.end; ++j) exact = exact && pred[j - 1] == truth[j];
          acc.correct += exact;
          ++acc.total;
        }
      }
    }
    out.push_back(acc);
  }
  return out;
}

}  // namespace duo
