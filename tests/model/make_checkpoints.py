"""Builds tiny random Hugging Face checkpoints for every model variant duo supports and records
what transformers computes with them, as the reference for test_model's parity tests.

usage: make_checkpoints.py OUT_DIR

For each variant and each on-disk dtype (bf16, fp32) it writes OUT_DIR/<variant>-<dtype>/
holding the save_pretrained output plus reference.safetensors with:
  ids        [2, T] int64    the input ids
  hidden     [2, T, H] fp32  final hidden states (after the final norm), model run in fp32
  logits     [2, T, V] fp32
  inv_freq   [D/2] fp32      the rotary embedding's inverse frequencies
  generated  [32] int64      greedy continuation of ids[0], EOS ignored
"""
import hashlib
import importlib.metadata
import os
import sys


def stamp():
    """What the outputs depend on: this script and the reference library versions."""
    with open(__file__, "rb") as f:
        h = hashlib.sha256(f.read()).hexdigest()
    versions = [importlib.metadata.version(p) for p in ("torch", "transformers", "safetensors")]
    return h + " " + " ".join(versions) + "\n"


# Re-running ctest should not rebuild identical checkpoints: skip before the slow imports.
if __name__ == "__main__" and len(sys.argv) == 2:
    try:
        with open(os.path.join(sys.argv[1], "stamp")) as f:
            if f.read() == stamp():
                sys.exit(0)
    except OSError:
        pass

import torch
import transformers as T
from safetensors.torch import save_file

COMMON = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              vocab_size=320, max_position_embeddings=256, rms_norm_eps=1e-5,
              bos_token_id=1, eos_token_id=2)

LLAMA3 = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
          "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}

VARIANTS = {
    "llama_mha": (T.LlamaConfig, dict(num_key_value_heads=4)),
    "llama_gqa": (T.LlamaConfig, dict(num_key_value_heads=2)),
    "llama3_rope": (T.LlamaConfig, dict(num_key_value_heads=2, rope_parameters=LLAMA3,
                                        max_position_embeddings=131072)),
    "linear_rope": (T.LlamaConfig, dict(num_key_value_heads=2,
                                        rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0})),
    "llama_tied": (T.LlamaConfig, dict(num_key_value_heads=2, tie_word_embeddings=True)),
    "mistral": (T.MistralConfig, dict(num_key_value_heads=2, sliding_window=None)),
    "qwen2": (T.Qwen2Config, dict(num_key_value_heads=2)),
    "qwen3": (T.Qwen3Config, dict(num_key_value_heads=2, head_dim=32)),
}

T_PROMPT = 24
N_GEN = 32


def build(cls, kw, seed):
    torch.manual_seed(seed)
    # A wider initialisation than the default 0.02 spreads the logits of such a tiny model, so
    # greedy choices are not decided by rounding.
    cfg = cls(**{**COMMON, **kw}, initializer_range=0.2)
    model = cls_for(cfg)(cfg).eval()
    with torch.no_grad():  # norms start at 1; perturb them so a missed norm weight shows
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith(".bias"):
                p.add_(torch.randn_like(p) * 0.1)
    return model


def cls_for(cfg):
    return {"llama": T.LlamaForCausalLM, "mistral": T.MistralForCausalLM,
            "qwen2": T.Qwen2ForCausalLM, "qwen3": T.Qwen3ForCausalLM}[cfg.model_type]


def greedy(model, ids):
    out = model.generate(ids, max_new_tokens=N_GEN, min_new_tokens=N_GEN, do_sample=False,
                         eos_token_id=None, pad_token_id=0, output_scores=True,
                         return_dict_in_generate=True)
    scores = torch.stack(out.scores)[:, 0]  # [N_GEN, V]
    top2 = scores.topk(2, dim=-1).values
    margin = (top2[:, 0] - top2[:, 1]).min().item()
    return out.sequences[0, ids.shape[1]:], margin


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(2)
    T.logging.disable_progress_bar()
    for vi, (name, (cls, kw)) in enumerate(VARIANTS.items()):
        for dtype_name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            d = os.path.join(out_dir, f"{name}-{dtype_name}")
            # Retry seeds until greedy decoding has a clear winner at every step, so that the
            # comparison tests the model and not fp32 rounding between two implementations.
            for seed in range(100 * vi, 100 * vi + 50):
                model = build(cls, kw, seed).to(dtype)
                model.save_pretrained(d, safe_serialization=True)
                ref = cls_for(model.config).from_pretrained(d, dtype=torch.float32).eval()
                g = torch.Generator().manual_seed(seed)
                ids = torch.randint(3, COMMON["vocab_size"], (2, T_PROMPT), generator=g)
                with torch.no_grad():
                    out = ref(ids, output_hidden_states=True)
                    base = ref.model(ids)
                    generated, margin = greedy(ref, ids[:1])
                if margin > 1e-3:
                    break
            else:
                sys.exit(f"{name}-{dtype_name}: no seed gives a clear greedy margin")
            # The base model's last_hidden_state is after the final norm; in transformers 5
            # output_hidden_states' last entry is that same tensor.
            assert torch.equal(out.hidden_states[-1], base.last_hidden_state)
            save_file({"ids": ids.contiguous(), "hidden": base.last_hidden_state.contiguous(),
                       "logits": out.logits.float().contiguous(),
                       "inv_freq": ref.model.rotary_emb.inv_freq.float().contiguous(),
                       "generated": generated.contiguous()},
                      os.path.join(d, "reference.safetensors"))
            if name == "llama_gqa" and dtype_name == "fp32":
                # The same model again, saved in shards with an index.
                sd = os.path.join(out_dir, "llama_gqa_sharded-fp32")
                model.save_pretrained(sd, safe_serialization=True, max_shard_size="100KB")
                assert os.path.exists(os.path.join(sd, "model.safetensors.index.json"))
                save_file({"ids": ids.contiguous(), "hidden": base.last_hidden_state.contiguous(),
                           "logits": out.logits.float().contiguous(),
                           "inv_freq": ref.model.rotary_emb.inv_freq.float().contiguous(),
                           "generated": generated.contiguous()},
                          os.path.join(sd, "reference.safetensors"))
            print(f"{name}-{dtype_name}: seed {seed}, greedy margin {margin:.4f}")
    with open(os.path.join(out_dir, "stamp"), "w") as f:
        f.write(stamp())


if __name__ == "__main__":
    main(sys.argv[1])
