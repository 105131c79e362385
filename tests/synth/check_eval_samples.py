"""Checks duo-synth's evaluation samples (`duo-synth --task ...`) with the `tokenizers` library:
each prompt, encoded with the tokenizer's special tokens, has exactly the sample's length; it ends
with its answer prefix; each needle is in it and each answer is in a needle (or, for cwe and fwe,
in the list); the token position of each needle is the number of tokens of the text before it.
Usage: check_eval_samples.py <tokenizer dir> <samples.jsonl>. Prints "N samples match"."""
import json
import sys

from tokenizers import Tokenizer

tok = Tokenizer.from_file(sys.argv[1] + "/tokenizer.json")
count = 0
for number, line in enumerate(open(sys.argv[2]), 1):
    s = json.loads(line)
    where = f"line {number} ({s['task']}, sample {s['index']})"
    prompt = s["prompt"]
    tokens = len(tok.encode(prompt).ids)
    assert tokens == s["length"], f"{where}: {tokens} tokens, the sample says {s['length']}"
    assert prompt.endswith(s["answer_prefix"]), f"{where}: the prompt does not end with its answer prefix"
    for needle, position in zip(s["needles"], s["needle_tokens"]):
        at = prompt.find(needle)
        assert at >= 0, f"{where}: needle {needle!r} is not in the prompt"
        assert len(tok.encode(prompt[:at]).ids) == position, f"{where}: needle {needle!r} is not at token {position}"
    for answer in s["answers"]:
        if s["task"] in ("ruler:cwe", "ruler:fwe"):
            assert answer in prompt, f"{where}: answer {answer!r} is not in the prompt"
        else:
            assert any(answer in n for n in s["needles"]), f"{where}: answer {answer!r} is in no needle"
    for instruction in s["instructions"]:
        assert instruction["text"] in s["needles"][0], f"{where}: {instruction['text']!r} is not in the block"
    count += 1
print(f"{count} samples match")
