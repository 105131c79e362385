"""Independent check of a duo-train history with h5py: shapes, contiguous steps, finite losses,
gates within [0,1] and moved from their initial value.

usage: check_history.py HISTORY.h5 EXPECTED_STEPS LAYERS KV_HEADS
Prints one line and exits non-zero on the first failed check.
"""
import sys

import h5py
import numpy as np


def main(path, steps, layers, kv_heads):
    with h5py.File(path, "r", swmr=True) as f:
        gates = f["gates"][...]
        step = f["step"][...]
        total = f["loss/total"][...]
        distill = f["loss/distill"][...]
        reg = f["loss/reg"][...]
        lr = f["lr"][...]
    assert gates.shape == (steps, layers, kv_heads), f"gates shape {gates.shape}"
    assert np.array_equal(step, np.arange(steps)), f"steps {step}"
    for name, v in (("total", total), ("distill", distill), ("reg", reg), ("lr", lr)):
        assert v.shape == (steps,) and np.all(np.isfinite(v)), f"loss/{name} {v}"
    assert np.allclose(total, distill + 0.05 * reg, rtol=1e-5, atol=1e-7), "total != distill + 0.05 reg"
    assert np.all((gates >= 0) & (gates <= 1)), "gates outside [0,1]"
    assert np.abs(gates[-1] - 1.0).max() > 1e-3, "gates did not move"
    assert np.allclose(reg, np.abs(gates).mean(axis=(1, 2)), atol=0.05), "reg != mean |gates|"
    print(f"ok: {steps} steps, gates {gates.shape}, final loss {total[-1]:.4g}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
