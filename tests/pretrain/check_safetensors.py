"""Reads a safetensors file written by duo's save_safetensors with the Python safetensors
package and checks it holds exactly the tensors the test wrote (values made by the same
formulas as in safetensors_writer_test.cpp).

usage: python check_safetensors.py FILE
"""
import sys

import torch
from safetensors import safe_open


def main(path: str) -> None:
    with safe_open(path, framework="pt") as f:
        assert f.metadata() == {"format": "pt", "note": "written by duo"}, f.metadata()
        assert list(f.keys()) == sorted(["a.f32", "b.bf16", "c.i64", "d.bool"]), list(f.keys())
        a, b, c, d = (f.get_tensor(k) for k in ["a.f32", "b.bf16", "c.i64", "d.bool"])
    want_a = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) / 7
    assert a.dtype == torch.float32 and torch.equal(a, want_a), a
    assert b.dtype == torch.bfloat16 and torch.equal(b, (torch.arange(6, dtype=torch.float32) - 2.5).to(torch.bfloat16)), b
    assert c.dtype == torch.int64 and torch.equal(c, torch.tensor([-(2**40), 0, 2**40 + 3])), c
    assert d.dtype == torch.bool and d.shape == (2, 2) and d.tolist() == [[True, False], [False, True]], d
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1])
