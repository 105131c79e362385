"""Independent check of a `duo-analyze sweep` output directory: results.h5 (h5py) holds exactly
the rows of results.csv (csv module) and the configuration of sweep-config.json, and the figures
are PNG files.

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
    assert int(h5.attrs["schema_version"]) == 1
    config = json.loads((out / "sweep-config.json").read_text())
    assert config["format"] == "duo-sweep-config" and config["schema_version"] == 1, config
    assert json.loads(h5.attrs["sweep_config"]) == config, "results.h5 holds another configuration"
    assert config["settings"]["--dtype"] == "fp32" and config["settings"]["--device"] == "cpu", config
    methods = [m.decode() for m in h5["method"][...]]
    assert methods == [r["method"] for r in rows], "method column differs"
    for col in ("seed", "length", "sample", "kv_bytes", "retrieval_heads"):
        assert np.array_equal(h5[col][...], [int(r[col]) for r in rows]), col
    for col in ("sparsity", "depth", "exact", "overlap", "prefill_s", "decode_s_per_token"):
        assert np.allclose(h5[col][...], [float(r[col]) for r in rows], rtol=1e-5), col
for png in ["accuracy.png"] + [p.name for p in out.glob("grid-sparsity-*.png")]:
    assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
assert len(list(out.glob("grid-sparsity-*.png"))) >= 1
print(f"ok: {len(rows)} rows in CSV and HDF5 with their configuration, figures present")
