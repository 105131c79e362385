"""Asserts two duo-train histories hold exactly the same steps, gates and losses.

usage: compare_histories.py A.h5 B.h5
"""
import sys

import h5py
import numpy as np


def load(path):
    with h5py.File(path, "r", swmr=True) as f:
        return {k: f[k][...] for k in ("step", "gates", "loss/total", "loss/distill", "loss/reg", "lr")}


a, b = load(sys.argv[1]), load(sys.argv[2])
for key in a:
    assert a[key].shape == b[key].shape, f"{key}: shapes {a[key].shape} vs {b[key].shape}"
    assert np.array_equal(a[key], b[key]), f"{key} differs: max |diff| {np.abs(a[key] - b[key]).max()}"
print(f"identical: {len(a['step'])} steps")
