"""What the reference safetensors library makes of each file in a directory, for
test_safetensors_fuzz's comparison with duo's parser.

usage: safetensors_verdicts.py DIR

Prints one JSON object per DIR/*.safetensors, in name order:
  {"file": NAME, "ok": true, "tensors": [[name, dtype, shape, data as hex], ...]}   (sorted by name)
  {"file": NAME, "ok": false, "error": MESSAGE}
"""
import json
import sys
from pathlib import Path

from safetensors import deserialize

for path in sorted(Path(sys.argv[1]).glob("*.safetensors")):
    try:
        tensors = deserialize(path.read_bytes())
        verdict = {"ok": True, "tensors": sorted([name, t["dtype"], t["shape"], bytes(t["data"]).hex()]
                                                 for name, t in tensors)}
    except Exception as e:  # SafetensorError, or any other refusal
        verdict = {"ok": False, "error": str(e)}
    print(json.dumps({"file": path.name, **verdict}))
