"""One DuoAttention gate-training step as a PyTorch user writes it: the baseline duo-bench-train-step
prints its figures beside.

Hugging Face transformers' Llama built from a config.json with random weights (bf16, frozen), a gate
per (layer, KV head) applied to SDPA outputs (out = a * full + (1 - a) * streaming, the paper's
formula), streaming attention through SDPA with an exact sink + recent token mask, the reference
pass under no_grad, activation checkpointing of every decoder layer (non-reentrant), the loss on
the final hidden states of the last tenth of the tokens plus 0.05 * mean |gate|.

Prints one JSON object per context length on stdout:
  {"tokens": T, "step_s": median seconds, "peak_gib": peak allocated GiB}

  python benchmarks/train_step_pytorch.py --model-config models/shapes/llama3-8b/config.json \
      --lengths 4096,32768 --steps 2
"""

import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F
from transformers import AttentionInterface, LlamaConfig, LlamaForCausalLM

try:  # transformers >= 4.53: let the custom attention get no materialized causal mask, as sdpa does
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
except ImportError:  # pragma: no cover
    AttentionMaskInterface = None


class GatedSDPA:
    """The attention function transformers calls in every layer: full attention alone for the
    reference pass, the gate mix for the gated pass."""

    def __init__(self, gates, sink, recent):
        self.gates, self.sink, self.recent = gates, sink, recent
        self.gated = False
        self.mask = None

    def streaming_mask(self, T, device):
        if self.mask is None or self.mask.shape[0] != T:
            self.mask = None
            i = torch.arange(T, device=device).unsqueeze(1)
            j = torch.arange(T, device=device).unsqueeze(0)
            self.mask = (j <= i) & ((j < self.sink) | (i - j < self.recent))
        return self.mask

    def __call__(self, module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
        group = query.shape[1] // key.shape[1]
        full = F.scaled_dot_product_attention(query, key, value, is_causal=True, scale=scaling, enable_gqa=True)
        if self.gated:
            # The memory-efficient kernel takes the mask but no GQA: expand the KV heads.
            k = key.repeat_interleave(group, dim=1)
            v = value.repeat_interleave(group, dim=1)
            stream = F.scaled_dot_product_attention(query, k, v, attn_mask=self.streaming_mask(query.shape[2], query.device),
                                                    scale=scaling)
            a = self.gates[module.layer_idx].repeat_interleave(group).view(1, -1, 1, 1).to(query.dtype)
            full = a * full + (1 - a) * stream
        return full.transpose(1, 2).contiguous(), None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-config", required=True)
    ap.add_argument("--lengths", default="4096")
    ap.add_argument("--steps", type=int, default=2, help="timed steps per length, after one warm-up step")
    ap.add_argument("--sink", type=int, default=128)
    ap.add_argument("--recent", type=int, default=256)
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    device = torch.device(args.device)

    with open(args.model_config) as f:
        config = LlamaConfig.from_dict(json.load(f))
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with device:
        model = LlamaForCausalLM(config)
    torch.set_default_dtype(torch.float32)
    model.requires_grad_(False)
    L, Hkv = config.num_hidden_layers, config.num_key_value_heads
    gates = torch.full((L, Hkv), 0.5, device=device, requires_grad=True)
    attention = GatedSDPA(gates, args.sink, args.recent)
    AttentionInterface.register("duo_gated", attention)
    if AttentionMaskInterface is not None:
        AttentionMaskInterface.register("duo_gated", sdpa_mask)
    model.config._attn_implementation = "duo_gated"
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()  # checkpointing is active in training mode only; Llama has no dropout
    body = model.model  # its last_hidden_state is after the final norm; no LM head needed

    for T in [int(x) for x in args.lengths.split(",")]:
        torch.manual_seed(T)
        ids = torch.randint(0, config.vocab_size, (1, T), device=device)
        answer = torch.zeros(1, T, dtype=torch.bool, device=device)
        answer[:, T - T // 10:] = True
        times = []
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        for i in range(args.steps + 1):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t0 = time.perf_counter()
            gates.grad = None
            with torch.no_grad():
                attention.gated = False
                ref = body(input_ids=ids, use_cache=False).last_hidden_state
            attention.gated = True
            hidden = body(input_ids=ids, use_cache=False).last_hidden_state
            diff = ref[answer].float() - hidden[answer].float()
            loss = diff.pow(2).mean(-1).sum() / answer.sum() + 0.05 * gates.abs().mean()
            loss.backward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i > 0:
                times.append(time.perf_counter() - t0)
            if gates.grad is None or not bool(gates.grad.abs().sum() > 0):
                raise SystemExit("train_step_pytorch: the gates got no gradient")
            del ref, hidden, diff, loss
        times.sort()
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else -1
        print(json.dumps({"tokens": T, "step_s": times[len(times) // 2], "peak_gib": peak}), flush=True)
        attention.mask = None
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
