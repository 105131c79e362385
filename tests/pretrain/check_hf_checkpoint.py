"""Loads a duo-pretrain output directory with transformers (model and tokenizer) and prints, as
JSON, the greedy continuation of a prompt and the tokenizer's ids for a text.

usage: python check_hf_checkpoint.py DIR PROMPT_IDS(comma-separated) NEW_TOKENS TEXT
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main(path: str, prompt: str, new_tokens: str, text: str) -> None:
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    assert type(model).__name__ == "LlamaForCausalLM", type(model)
    ids = torch.tensor([[int(x) for x in prompt.split(",")]])
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=int(new_tokens), min_new_tokens=int(new_tokens),
                             do_sample=False, pad_token_id=model.config.eos_token_id)
    tok = AutoTokenizer.from_pretrained(path)
    print(json.dumps({"generated": out[0, ids.shape[1]:].tolist(), "encoded": tok(text).input_ids}))


if __name__ == "__main__":
    main(*sys.argv[1:])
