"""Independent reader for the history tests: opens a gate history with plain h5py (no special
flags), checks the layout of docs/history-schema.md and every row against the deterministic
values of synthetic_steps.h. Prints the number of rows; exits 1 on any mismatch.

usage: check_history.py FILE [SCHEMA]   (SCHEMA: the schema_version expected, default 2)
"""
import sys

import h5py
import numpy as np


def fail(message):
    print(f"check_history: {message}", file=sys.stderr)
    sys.exit(1)


STRING_ATTRS = ["format", "toolkit_version", "config_yaml", "model_name", "architecture"]


def main():
    path = sys.argv[1]
    schema = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    with h5py.File(path, "r") as f:
        if f.attrs["schema_version"] != schema:
            fail(f"schema_version {f.attrs['schema_version']}, expected {schema}")
        # Schema 2: fixed-length UTF-8 strings, which h5py returns as bytes; schema 1: variable-length
        # ones, returned as str.
        for name in STRING_ATTRS:
            info = h5py.check_string_dtype(f.attrs.get_id(name).dtype)
            if info is None or info.encoding != "utf-8" or (info.length is None) != (schema == 1):
                fail(f"attribute {name} has type {f.attrs.get_id(name).dtype} ({info})")
        text = lambda name: f.attrs[name].decode("utf-8") if schema == 2 else f.attrs[name]
        if text("format") != "duo-gate-history":
            fail("format attribute")
        if text("model_name") != "tiny-llama" or text("architecture") != "LlamaForCausalLM":
            fail(f"model_name {text('model_name')!r}, architecture {text('architecture')!r}")
        layers, kv = int(f.attrs["num_layers"]), int(f.attrs["num_kv_heads"])
        step = f["step"][:]
        n = len(step)
        gates = f["gates"][:]
        cols = {name: f[name][:] for name in
                ["loss/total", "loss/distill", "loss/reg", "lr", "tokens", "wall_time"]}
        for name, values in cols.items():
            if values.shape != (n,):
                fail(f"{name} has shape {values.shape} for {n} steps")
    if gates.shape != (n, layers, kv) or gates.dtype != np.float32:
        fail(f"gates shape {gates.shape} dtype {gates.dtype}")
    if not np.array_equal(step, np.arange(n, dtype=np.int64)):
        fail(f"steps are not 0..{n - 1}: {step}")
    s = step.reshape(-1, 1, 1)
    l = np.arange(layers).reshape(1, -1, 1)
    h = np.arange(kv).reshape(1, 1, -1)
    want = (((s * 31 + l * 7 + h * 3) % 1000) / 1000.0).astype(np.float32)
    if not np.array_equal(gates, want):
        bad = np.argwhere(gates != want)[0]
        fail(f"gate mismatch at row {bad[0]}: {gates[tuple(bad)]} != {want[tuple(bad)]}")
    sd = step.astype(np.float64)
    distill = 1.0 / (sd + 1)
    reg = 0.25 * (step % 7)
    checks = {"loss/distill": distill, "loss/reg": reg, "loss/total": distill + reg,
              "lr": 0.02 * (step % 11), "tokens": 1000 + step, "wall_time": 0.5 * sd}
    for name, expect in checks.items():
        if not np.array_equal(cols[name], expect):
            fail(f"{name} mismatch")
    print(n)


main()
