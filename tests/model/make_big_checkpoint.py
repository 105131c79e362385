"""Writes a ~3 GB bf16 Llama checkpoint of random weights (27 layers, hidden 2048, MHA,
vocab 32000) for measuring duo's peak memory while loading; see docs/models.md.

usage: make_big_checkpoint.py OUT_DIR
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

H, I, L, V, HEADS = 2048, 5632, 27, 32000, 16


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    cfg = dict(architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=H, intermediate_size=I,
               num_hidden_layers=L, num_attention_heads=HEADS, num_key_value_heads=HEADS, vocab_size=V,
               rms_norm_eps=1e-5, rope_theta=10000.0, max_position_embeddings=4096, hidden_act="silu",
               tie_word_embeddings=False, torch_dtype="bfloat16", bos_token_id=1, eos_token_id=2)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    g = torch.Generator().manual_seed(0)

    def w(*shape):
        return (torch.randn(*shape, generator=g) * 0.02).to(torch.bfloat16)

    def ones():
        return torch.ones(H, dtype=torch.bfloat16)

    t = {"model.embed_tokens.weight": w(V, H), "model.norm.weight": ones(), "lm_head.weight": w(V, H)}
    for i in range(L):
        p = f"model.layers.{i}."
        for n in ("q", "k", "v", "o"):
            t[p + f"self_attn.{n}_proj.weight"] = w(H, H)
        t[p + "mlp.gate_proj.weight"] = w(I, H)
        t[p + "mlp.up_proj.weight"] = w(I, H)
        t[p + "mlp.down_proj.weight"] = w(H, I)
        t[p + "input_layernorm.weight"] = ones()
        t[p + "post_attention_layernorm.weight"] = ones()
    save_file(t, os.path.join(out_dir, "model.safetensors"))
    print(f"{sum(x.numel() for x in t.values()) * 2 / 1e9:.3f} GB of weights in {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1])
