"""The independent reference for `duo-analyze attention`: Hugging Face transformers' eager
attention (output_attentions=True) and the scores computed from those maps with numpy.

usage:
  attention_reference.py make-model OUT_DIR TOKENIZER_DIR
      a tiny random Llama checkpoint (fp32, 3 layers, 8 query heads, 4 KV heads, head_dim 16:
      the analysis tests' history shape) with the byte-level tokenizer files of TOKENIZER_DIR
  attention_reference.py check MODEL_DIR OUT_DIR SINK RECENT SAMPLES.jsonl... [--gates HISTORY.h5]
      recomputes the scores of the samples (duo-synth --json lines) and compares them with
      OUT_DIR/attention_scores.csv and .json; with --gates also the rank correlations and the
      top-half overlaps. Exits 1 with a message on the first disagreement.
"""
import csv
import json
import os
import shutil
import sys

import numpy as np

TOLERANCE = 1e-4


def fail(message):
    print(f"attention_reference: {message}", file=sys.stderr)
    sys.exit(1)


def make_model(out_dir, tokenizer_dir):
    import torch
    import transformers as T

    torch.manual_seed(1234)
    cfg = T.LlamaConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=3, num_attention_heads=8,
                        num_key_value_heads=4, head_dim=16, vocab_size=258, max_position_embeddings=4096,
                        rms_norm_eps=1e-5, bos_token_id=256, eos_token_id=257, tie_word_embeddings=False,
                        # Wider than the default 0.02, so that the heads attend unevenly.
                        initializer_range=0.25)
    model = T.LlamaForCausalLM(cfg).eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tokenizer_dir, name), os.path.join(out_dir, name))


def average_ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    ranks = [0.0] * len(v)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return np.array(ranks)


def spearman(a, b):
    ra, rb = average_ranks(list(a)), average_ranks(list(b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    d = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return 0.0 if d == 0 else float((ra * rb).sum() / d)


def top_half(values):
    """The heads kept at sparsity 0.5: all but the round(n/2) smallest (stable: earlier heads
    among equal values become streaming first)."""
    n = len(values)
    order = np.argsort(np.asarray(values), kind="stable")
    keep = np.zeros(n, dtype=bool)
    keep[order[int(round(n / 2)):]] = True
    return keep


def jaccard(a, b):
    either = (a | b).sum()
    return 1.0 if either == 0 else float((a & b).sum() / either)


def check(model_dir, out_dir, sink, recent, sample_files, history):
    import torch
    import transformers as T

    model = T.LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32,
                                               attn_implementation="eager").eval()
    cfg = model.config
    layers, hq, hkv = cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads
    group = hq // hkv
    needle = np.zeros((layers, hq))
    outside = np.zeros((layers, hq))
    copies = np.zeros((layers, hq))  # Wu et al.: the top key is in the passkey and holds the predicted token
    rows_total, correct = 0, 0
    uniform_needle, uniform_outside = 0.0, 0.0
    samples = [json.loads(line) for f in sample_files for line in open(f) if line.strip()]
    if not samples:
        fail("no samples")
    for s in samples:
        ids = torch.tensor([s["ids"]])
        with torch.no_grad():
            out = model(ids, output_attentions=True)
        maps = [a[0].double().numpy() for a in out.attentions]  # per layer [Hq, T, T]
        logits = out.logits[0].numpy()
        for (a0, a1), (n0, n1) in zip(s["answer_spans"], s["needle_spans"]):
            start = n1 - (a1 - a0)  # the passkey closes its needle
            if s["ids"][start:n1] != s["ids"][a0:a1]:
                fail("answer and needle passkey tokens differ")
            for p in range(a0, a1):
                r = p - 1  # the query that predicts answer token p
                rows_total += 1
                predicted = int(np.argmax(logits[r]))
                correct += int(predicted == s["ids"][p])
                uniform_needle += (n1 - start) / (r + 1)
                uniform_outside += len(range(sink, r - recent + 1)) / (r + 1)
                for l in range(layers):
                    needle[l] += maps[l][:, r, start:n1].sum(-1)
                    # Keys a streaming head drops: sink <= j <= r - recent.
                    if r - recent + 1 > sink:
                        outside[l] += maps[l][:, r, sink:r - recent + 1].sum(-1)
                    top = np.argmax(maps[l][:, r, :r + 1], axis=-1)  # per query head
                    for h, j in enumerate(top):
                        copies[l, h] += int(start <= j < n1 and s["ids"][j] == predicted)
    # Mean over the group's query heads (query head i uses KV head i // group), rows and samples.
    retrieval = needle.reshape(layers, hkv, group).sum(-1) / (rows_total * group)
    beyond = outside.reshape(layers, hkv, group).sum(-1) / (rows_total * group)
    copy = copies.reshape(layers, hkv, group).max(-1) / rows_total  # max over the KV head's query heads

    with open(os.path.join(out_dir, "attention_scores.csv")) as f:
        table = list(csv.DictReader(f))
    if len(table) != layers * hkv:
        fail(f"CSV has {len(table)} rows, expected {layers * hkv}")
    worst = 0.0
    for row in table:
        l, h = int(row["layer"]), int(row["kv_head"])
        for name, ref in (("retrieval_score", retrieval[l, h]), ("outside_window_mass", beyond[l, h]),
                          ("copy_score", copy[l, h])):
            diff = abs(float(row[name]) - ref)
            worst = max(worst, diff)
            if diff > TOLERANCE:
                fail(f"layer {l} kv_head {h} {name}: duo {row[name]}, transformers {ref:.9g}")
    if retrieval.max() < 1e-3 or beyond.max() < 1e-3:
        fail("the reference scores are all near zero: the test sample does not exercise them")

    record = json.load(open(os.path.join(out_dir, "attention_scores.json")))
    if record["format"] != "duo-attention-scores" or record["schema_version"] != 1:
        fail("JSON format or schema_version")
    if record["answer_tokens"] != rows_total:
        fail(f"JSON answer_tokens {record['answer_tokens']}, reference {rows_total}")
    if abs(record["answer_token_accuracy"] - correct / rows_total) > 1e-9:
        fail(f"JSON answer_token_accuracy {record['answer_token_accuracy']}, reference {correct / rows_total}")
    if np.abs(np.array(record["retrieval_score"]) - retrieval).max() > TOLERANCE:
        fail("JSON retrieval_score differs from the reference")
    if np.abs(np.array(record["outside_window_mass"]) - beyond).max() > TOLERANCE:
        fail("JSON outside_window_mass differs from the reference")
    if np.abs(np.array(record["copy_score"]) - copy).max() > TOLERANCE:
        fail("JSON copy_score differs from the reference")
    scores = json.load(open(os.path.join(out_dir, "copy_scores.json")))
    if scores["format"] != "duo-head-scores" or scores["method"] != "retrieval-copy" or scores["fold"] != "max":
        fail("copy_scores.json is not a retrieval-copy head-score file folded by max")
    if np.abs(np.array(scores["scores"]) - copy).max() > TOLERANCE:
        fail("copy_scores.json differs from the reference copy score")
    for name, ref in (("retrieval_score", uniform_needle), ("outside_window_mass", uniform_outside)):
        if abs(record["uniform_baseline"][name] - ref / rows_total) > 1e-9:
            fail(f"JSON uniform_baseline {name} {record['uniform_baseline'][name]}, reference {ref / rows_total}")
    if record["sink"] != sink or record["recent"] != recent:
        fail("JSON sink/recent differ from the test's")

    if history:
        import h5py
        with h5py.File(history, "r") as f:
            gates = f["gates"][-1].reshape(-1).astype(np.float64)
        g = record.get("gates")
        if g is None:
            fail("JSON has no gates comparison")
        if np.abs(np.array(g["values"]).reshape(-1) - gates).max() > 1e-6:
            fail("JSON gates differ from the history's last step")
        for name, ref in (("retrieval_score", retrieval), ("outside_window_mass", beyond)):
            rho = spearman(gates, ref.reshape(-1))
            if abs(g["spearman"][name] - rho) > 1e-6:
                fail(f"Spearman gate vs {name}: duo {g['spearman'][name]}, reference {rho}")
            j = jaccard(top_half(gates), top_half(ref.reshape(-1)))
            if abs(g["jaccard"][name] - j) > 1e-9:
                fail(f"Jaccard top half by gate vs by {name}: duo {g['jaccard'][name]}, reference {j}")
        if g["top_k"] != int(top_half(gates).sum()):
            fail("JSON top_k")
    print(f"{len(samples)} samples, {rows_total} answer tokens, {correct} predicted, "
          f"{int(copies.sum())} copy events; largest difference {worst:.2e}")


def main(argv):
    if len(argv) == 4 and argv[1] == "make-model":
        make_model(argv[2], argv[3])
    elif len(argv) >= 7 and argv[1] == "check":
        args = argv[2:]
        history = None
        if "--gates" in args:
            i = args.index("--gates")
            history = args[i + 1]
            del args[i:i + 2]
        check(args[0], args[1], int(args[2]), int(args[3]), args[4:], history)
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
