"""Independent check of duo-analyze's exports, with numpy, h5py and json only.

Reads the final gates of the history with h5py, then checks that
  - our pattern JSON holds those gates and retrieval heads chosen the way kvpress's
    DuoAttentionPress chooses them (round(N * sparsity) smallest gates become streaming);
  - all three deploy the window the history records it was trained with (its sink and recent);
  - the reference directory holds those gates clipped to [0, 1] (read as the reference's
    load_attn_pattern does), and the reference's own sparsify rule (quantile of the gates plus
    1e-6 noise, gate >= quantile => retrieval) selects the same retrieval heads;
  - rtp-llm's headwise_config repeats every KV head's role for its query heads.
Prints "ok"; exits 1 with the first mismatch.

usage: check_exports.py HISTORY PATTERN_JSON REFERENCE_DIR RTP_JSON SPARSITY
"""
import json
import os
import sys

import h5py
import numpy as np


def fail(message):
    print(f"check_exports: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    history, pattern_path, reference_dir, rtp_path = sys.argv[1:5]
    sparsity = float(sys.argv[5])
    with h5py.File(history, "r") as f:
        gates = f["gates"][-1].astype(np.float32)  # [layers, kv_heads]
        num_heads = int(f.attrs["num_heads"])
        # The exports deploy the window the history was trained with.
        window = (int(f.attrs["sink"]), int(f.attrs["recent"]))
    layers, kv = gates.shape
    n = gates.size

    # kvpress: n_pruned = round(N * ratio), argsort ascending, those are streaming.
    streaming = np.zeros(n, dtype=bool)
    streaming[np.argsort(gates, axis=None, kind="stable")[: round(n * sparsity)]] = True
    expect = ~streaming.reshape(layers, kv)

    with open(pattern_path) as fh:
        pattern = json.load(fh)
    if pattern["format"] != "duo-attention-pattern" or pattern["schema_version"] != 1:
        fail("pattern format/schema_version")
    if (pattern["num_layers"], pattern["num_kv_heads"], pattern["num_heads"]) != (layers, kv, num_heads):
        fail("pattern shape")
    if pattern["gqa_group_size"] != num_heads // kv:
        fail("gqa_group_size")
    if (pattern["sink"], pattern["recent"]) != window or pattern["window_source"] != "trained":
        fail(f"sink/recent/window_source, expected the trained {window}")
    if (pattern["trained_window"]["sink"], pattern["trained_window"]["recent"]) != window:
        fail("trained_window")
    got_gates = np.zeros((layers, kv), dtype=np.float32)
    got_roles = np.zeros((layers, kv), dtype=bool)
    for head in pattern["heads"]:
        got_gates[head["layer"], head["kv_head"]] = head["gate"]
        got_roles[head["layer"], head["kv_head"]] = head["role"] == "retrieval"
    if not np.array_equal(got_gates, gates):
        fail("pattern gates differ from the history's final gates")
    if not np.array_equal(got_roles, expect):
        fail(f"pattern roles differ from kvpress's rule:\n{got_roles}\n{expect}")
    if abs(pattern["sparsity"] - (1 - got_roles.mean())) > 1e-12:
        fail("pattern sparsity field")

    # The reference loader: loadtxt(delimiter="\t"), clip to [0, 1]; config.json sink/recent.
    tsv = np.loadtxt(os.path.join(reference_dir, "full_attention_heads.tsv"), dtype=float, delimiter="\t")
    tsv = np.clip(tsv, 0, 1)
    if tsv.shape != (layers, kv) or not np.array_equal(tsv.astype(np.float32), np.clip(gates, 0, 1)):
        fail("reference TSV differs from the clipped final gates")
    with open(os.path.join(reference_dir, "config.json")) as fh:
        config = json.load(fh)
    if (config["sink_size"], config["recent_size"]) != window:
        fail("reference config.json sink_size/recent_size")
    # The reference's sparsify_attention_heads, with its tie-breaking noise.
    rng = np.random.default_rng(0)
    noisy = tsv + rng.uniform(0, 1e-6, tsv.shape)
    threshold = np.quantile(noisy, sparsity)
    reference_roles = noisy >= threshold
    if not np.array_equal(reference_roles, got_roles):
        fail(f"the reference's rule on our TSV picks other heads:\n{reference_roles}\n{got_roles}")

    with open(rtp_path) as fh:
        rtp = json.load(fh)["headwise_config"]
    for key, value in (("sink_token_num", window[0]), ("swa_token_num", window[1]), ("seqlen_threshold", 16384)):
        if rtp[key] != value or not isinstance(rtp[key], int):
            fail(f"rtp-llm {key}")
    group = num_heads // kv
    for layer in range(layers):
        row = rtp[str(layer)]
        if len(row) != num_heads or any(v not in (0, 1) or not isinstance(v, int) for v in row):
            fail(f"rtp-llm layer {layer}: {row}")
        want = [int(got_roles[layer, q // group]) for q in range(num_heads)]
        if row != want:
            fail(f"rtp-llm layer {layer}: {row} != {want}")
    if len([k for k in rtp if k.isdigit()]) != layers:
        fail("rtp-llm layer keys")
    print("ok")


main()
