"""The independent reference for `duo-analyze score --method on-the-fly`: kvpress's on-the-fly
DuoAttention scores, written here from their definition with Hugging Face transformers' own
modules (the decoder layers' input norm, projections and rotary embedding) and numpy.

usage:
  head_scores_reference.py on-the-fly MODEL_DIR IDS.jsonl Q_LEN SCORES.json
      recomputes the scores of the samples in IDS.jsonl (one {"ids": [...]} a line) and compares
      them with SCORES.json (a duo head-score file). Exits 1 with a message on a disagreement.
"""
import json
import sys

import numpy as np

TOLERANCE = 1e-5


def fail(message):
    print(f"head_scores_reference: {message}", file=sys.stderr)
    sys.exit(1)


def on_the_fly(model_dir, ids_path, q_len, scores_path):
    import torch
    import transformers as T
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    model = T.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    cfg = model.config
    layers, hq, hkv = cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads
    group = hq // hkv
    with open(ids_path) as f:
        samples = [json.loads(line)["ids"] for line in f if line.strip()]
    total = np.zeros((layers, hkv))
    positions = torch.arange(q_len).unsqueeze(0)
    with torch.no_grad():
        for ids in samples:
            out = model(torch.tensor([ids]), output_hidden_states=True)
            for layer, hidden in enumerate(out.hidden_states[:-1]):  # each layer's input
                block = model.model.layers[layer]
                attn = block.self_attn
                d = attn.head_dim
                x = block.input_layernorm(hidden)
                mean_q = attn.q_proj(x).view(1, x.shape[1], hq, d).mean(1)   # [1, hq, d]
                mean_k = attn.k_proj(x).view(1, x.shape[1], hkv, d).mean(1)  # [1, hkv, d]
                q = mean_q.unsqueeze(2).expand(1, hq, q_len, d)
                k = mean_k.unsqueeze(2).expand(1, hkv, q_len, d)
                cos, sin = model.model.rotary_emb(x, positions)
                q, k = apply_rotary_pos_emb(q, k, cos, sin)
                k = torch.repeat_interleave(k, group, dim=1)
                # The last position's query against every position's key, per query head.
                logits = torch.einsum("hd,hkd->hk", q[0, :, -1], k[0]) / d**0.5
                weights = torch.softmax(logits.double(), dim=-1).numpy()  # [hq, q_len]
                per_head = np.cumsum(weights, axis=1).mean(1)
                total[layer] += per_head.reshape(hkv, group).mean(1) / len(samples)
    with open(scores_path) as f:
        doc = json.load(f)
    got = np.array(doc["scores"], dtype=float)
    if doc["format"] != "duo-head-scores" or doc["method"] != "on-the-fly" or doc["fold"] != "mean":
        fail(f"{scores_path}: not an on-the-fly head-score file with fold mean")
    if got.shape != total.shape:
        fail(f"shape {got.shape}, expected {total.shape}")
    worst = np.abs(got - total).max()
    if worst > TOLERANCE:
        fail(f"largest difference {worst:.3g} > {TOLERANCE}:\nduo\n{got}\nreference\n{total}")
    print(f"{len(samples)} samples, {layers}x{hkv} scores agree within {worst:.2g}")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "on-the-fly":
        on_the_fly(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        fail(__doc__)
