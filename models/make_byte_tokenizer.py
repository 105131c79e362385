"""Writes a byte-level tokenizer.json: one token per byte (GPT-2's byte-to-unicode alphabet),
no merges, plus <|bos|> and <|eos|>; BOS is prepended on encode. Used by the built-in models,
whose vocabulary must cover any text without a trained merge table.

usage: python make_byte_tokenizer.py OUT_DIR
"""
import json
import sys
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    # Ids ordered by byte value, so id == byte for ids < 256.
    byte_to_char = {}
    n = 0
    for b in range(256):
        if (33 <= b <= 126) or (161 <= b <= 172) or (174 <= b <= 255):
            byte_to_char[b] = chr(b)
        else:
            byte_to_char[b] = chr(256 + n)
            n += 1
    assert set(byte_to_char.values()) == set(alphabet)
    vocab = {byte_to_char[b]: b for b in range(256)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|bos|>", "<|eos|>"])
    bos = tok.token_to_id("<|bos|>")
    tok.post_processor = processors.TemplateProcessing(
        single="<|bos|> $A", pair="<|bos|> $A <|bos|> $B", special_tokens=[("<|bos|>", bos)])
    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": "<|bos|>", "eos_token": "<|eos|>", "add_bos_token": True,
        "model_max_length": 8192, "tokenizer_class": "PreTrainedTokenizerFast"}, indent=2) + "\n")
    check = Tokenizer.from_file(str(out / "tokenizer.json"))
    ids = check.encode("héllo ✓").ids
    assert ids[0] == bos and check.decode(ids[1:]) == "héllo ✓", ids


if __name__ == "__main__":
    main(sys.argv[1])
