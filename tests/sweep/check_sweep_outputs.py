"""Independent check of a `duo-analyze sweep` output directory: results.h5 (h5py) holds exactly
the rows of results.csv (csv module), the configuration of sweep-config.json and score tables
that are the means of the rows (the same as scores.csv), and the figures are PNG files.

usage: check_sweep_outputs.py OUT_DIR EXPECTED_ROWS
"""
import csv
import json
import sys
from pathlib import Path

import h5py
import numpy as np

out, expected = Path(sys.argv[1]), int(sys.argv[2])
with open(out / "results.csv", newline="") as f:
    rows = list(csv.DictReader(f))
assert len(rows) == expected, f"{len(rows)} CSV rows, expected {expected}"
with h5py.File(out / "results.h5", "r") as h5:
    assert h5.attrs["format"] in (b"duo-sweep-results", "duo-sweep-results"), h5.attrs["format"]
    assert int(h5.attrs["schema_version"]) == 2
    config = json.loads((out / "sweep-config.json").read_text())
    assert config["format"] == "duo-sweep-config" and config["schema_version"] == 2, config
    assert json.loads(h5.attrs["sweep_config"]) == config, "results.h5 holds another configuration"
    assert config["settings"]["--dtype"] == "fp32" and config["settings"]["--device"] == "cpu", config
    for col in ("task", "method"):
        assert [m.decode() for m in h5[col][...]] == [r[col] for r in rows], f"{col} column differs"
    for col in ("seed", "length", "sample", "kv_bytes", "retrieval_heads"):
        assert np.array_equal(h5[col][...], [int(r[col]) for r in rows]), col
    for col in ("sparsity", "depth", "score", "exact", "overlap", "prefill_s", "decode_s_per_token"):
        assert np.allclose(h5[col][...], [float(r[col]) for r in rows], rtol=1e-5), col
    # The score tables: scores.csv holds both groups' rows, and each task score is the mean of its
    # rows' scores.
    with open(out / "scores.csv", newline="") as f:
        scores = list(csv.DictReader(f))
    tables = [h5["task_scores"], h5["ruler_average"]]
    assert sum(len(t["score"]) for t in tables) == len(scores), "scores.csv and results.h5 hold other tables"
    groups = {}
    for r in rows:
        key = (r["task"], r["method"], int(r["seed"]), float(r["sparsity"]), int(r["length"]))
        groups.setdefault(key, []).append(float(r["score"]))
    t = h5["task_scores"]
    assert len(t["score"]) == len(groups)
    for i in range(len(t["score"])):
        key = (t["task"][i].decode(), t["method"][i].decode(), int(t["seed"][i]), float(t["sparsity"][i]), int(t["length"][i]))
        assert np.isclose(t["score"][i], np.mean(groups[key])) and t["count"][i] == len(groups[key]), key
grid = any(r["task"] in ("passkey", "niah") for r in rows)
tasks = any(r["task"] not in ("passkey", "niah") for r in rows)
ruler = any(r["task"].startswith("ruler:") for r in rows)
figures = (["accuracy.png"] + [p.name for p in out.glob("grid-sparsity-*.png")] if grid else []) + \
    (["tasks.png"] if tasks else []) + (["ruler-average.png"] if ruler else [])
for png in figures:
    assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
assert not grid or len(list(out.glob("grid-sparsity-*.png"))) >= 1
print(f"ok: {len(rows)} rows in CSV and HDF5 with their configuration and score tables, figures present")
