"""Reference data for the C++ tokenizer tests, from the Hugging Face `tokenizers` library.

Writes into OUT (the build tree):
  text.txt                      the >= 1 MB test text (test_text.generate)
  tiny_*/tokenizer.json         tiny tokenizers trained here on that text
  <name>.json                   for each real and tiny tokenizer: the ids of the whole text and
                                of many snippets, with and without special tokens, and the
                                library's decodes, including decodes of id windows that cut
                                characters in half (invalid UTF-8 after byte-level decoding)
  invalid_utf8.json             byte strings that are not UTF-8, with the offset Python's strict
                                decoder reports (the C++ error must name the same offset)

Usage: python make_reference.py OUT   (reads DUO_FIXTURES_DIR for the real tokenizers)
"""
import json
import os
import random
import sys
import unicodedata

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
from tokenizers import pre_tokenizers, processors, trainers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_text  # noqa: E402

LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

EDGE_CASES = ["", " ", "   ", "  leading spaces", "trailing spaces   ", "\n\n\n", "\n", "\t\t",
              "<|begin_of_text|>", "<|begin_of_text|>Hello", "Hello<|begin_of_text|>",
              "<|begin_of_text|><|begin_of_text|>", "<|begin_of_text", "<s>", "<s> hello </s>",
              "hello<s>world", "  <s>", "1234567", "12345678901234567890", "3.14159",
              "don't DON'T ſ's", "a\u0085b", "a\u00a0\u00a0b", " \u3000 ", "\r\n\r\n",
              "x <mask> y", "a\u180eb", "a \u180e b", "x<mask>y", "  <mask>  ", "[SW]", "a[SW]b", "a [SW] b", "café",
              "cafe\u0301", "e\u0301\u0301", "😀", "👨‍👩‍👧‍👦", "你好，世界", "مرحبا بالعالم",
              "▁", "▁▁hello", "<0x41>", "    def f():\n        return 1\n", " " * 300,
              "Hello world", " Hello world", "<unk>", "<|eot_id|><|start_header_id|>"]


def train_byte_level(lines):
    """A Llama-3-like byte-level BPE: NFC, the Llama-3 split regex, ByteLevel, BOS template."""
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=3000, show_progress=False,
                                  special_tokens=["<|bos|>", "<|eos|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<|bos|> $A", special_tokens=[("<|bos|>", tok.token_to_id("<|bos|>"))])
    # Added tokens exercising the matching rules.
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=True, normalized=False)])
    tok.add_tokens([AddedToken("[SW]", single_word=True, normalized=False),
                    AddedToken("café", normalized=True)])
    return tok


def with_byte_fallback(tok, byte_fallback, unk):
    """Adds <0x00>..<0xFF> to the model vocab (as SentencePiece conversions have them)."""
    data = json.loads(tok.to_str())
    vocab = data["model"]["vocab"]
    for b in range(256):
        name = f"<0x{b:02X}>"
        if name not in vocab:
            vocab[name] = len(vocab)
    data["model"]["byte_fallback"] = byte_fallback
    data["model"]["unk_token"] = unk
    data["model"]["fuse_unk"] = True
    return Tokenizer.from_str(json.dumps(data))


def train_sentencepiece(lines, metaspace):
    """A Llama-2-like BPE: "▁" for spaces (normalizer or Metaspace), byte fallback, <unk>."""
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    if metaspace:
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    else:
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                         decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    # A small alphabet leaves most CJK, Arabic and emoji to byte fallback (or <unk>).
    trainer = trainers.BpeTrainer(vocab_size=1500, show_progress=False, limit_alphabet=120,
                                  special_tokens=["<unk>", "<s>", "</s>"])
    tok.train_from_iterator(lines, trainer)
    template = "<s> $A </s>" if metaspace else "<s> $A"
    tok.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[("<s>", 1), ("</s>", 2)])
    return tok


def reference(tok, text, snippets, rng):
    whole = tok.encode(text).ids
    out = {
        "whole": {"ids": whole, "decoded": tok.decode(whole, skip_special_tokens=False),
                  "decoded_skip": tok.decode(whole, skip_special_tokens=True),
                  "ids_plain": tok.encode(text, add_special_tokens=False).ids},
        "snippets": [],
        "windows": [],
    }
    for s in snippets:
        ids = tok.encode(s).ids
        out["snippets"].append({"text": s, "ids": ids,
                                "ids_plain": tok.encode(s, add_special_tokens=False).ids,
                                "decoded": tok.decode(ids, skip_special_tokens=False),
                                "decoded_skip": tok.decode(ids, skip_special_tokens=True)})
    # Arbitrary id windows: their decodes start or end inside characters.
    for _ in range(2000):
        start = rng.randrange(len(whole))
        ids = whole[start:start + rng.randint(1, 12)]
        out["windows"].append({"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)})
    out["vocab_size"] = tok.get_vocab_size(with_added_tokens=True)
    return out


def random_code_point_strings(rng, count):
    """Strings of random code points from every plane. Characters are drawn only where the
    Unicode tables agree: assigned in Python's unicodedata (Unicode 14, so PCRE2 10.42 knows
    them too) and decomposed alike by Python and by the library, whose normalizer tables are
    older (docs/tokenizer.md, "Unicode versions")."""
    nfkd = normalizers.NFKD()

    def usable(c):
        # The probes catch combining classes the library's tables lack: next to U+0334
        # (class 1) or U+0345 (class 240) such a mark is reordered by one side only.
        return unicodedata.category(c) not in ("Cn", "Cs") and all(
            unicodedata.normalize("NFKD", p) == nfkd.normalize_str(p)
            for p in (c, c + "\u0334", "\u0345" + c))

    def code_point():
        k = rng.random()
        if k < 0.3:
            return rng.randint(0x20, 0x7E)
        if k < 0.65:
            return rng.randint(0x80, 0xFFFF)
        if k < 0.85:
            return rng.randint(0x10000, 0x3FFFF)
        return rng.choice([0x85, 0x180E, 0xA0, 0x2028, 0x20, 0x0A, 0x0D, 0x09, 0x3000, 0x200B,
                           0x1C, 0x27, 0x17F, 0x212A, 0x301, 0x1AC1, 0x323])

    out = []
    while len(out) < count:
        chars = [chr(c) for c in (code_point() for _ in range(rng.randint(1, 30)))]
        s = "".join(c for c in chars if usable(c))
        if s:
            out.append(s)
    return out


def invalid_utf8_cases(text_bytes, rng):
    cases = [b"\xff", b"abc\x80", b"\xc0\xaf", b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
             b"hello \xe4\xbd", b"\xf0\x9f\x98", "你好".encode()[:4] + b" world", b"ok\xc3\x28"]
    for _ in range(40):
        at = rng.randrange(len(text_bytes) - 200)
        piece = bytearray(text_bytes[at:at + 200])
        piece[rng.randrange(200)] = rng.choice([0x80, 0xBF, 0xC0, 0xC1, 0xF5, 0xFF, 0xE2])
        cases.append(bytes(piece))
    out = []
    for c in cases:
        try:
            c.decode("utf-8")
        except UnicodeDecodeError as e:
            out.append({"hex": c.hex(), "offset": e.start})
    return out


def variant(tok, **parts):
    """The same vocab and merges with other pipeline parts (JSON dicts), to cover components
    the trained tokenizers do not use; the ids only need to be deterministic, not good."""
    data = json.loads(tok.to_str())
    data.update(parts)
    return Tokenizer.from_str(json.dumps(data))


def byte_level_variants(tok):
    bos = {"type": "TemplateProcessing",
           "single": [{"SpecialToken": {"id": "<|bos|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
           "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
           "special_tokens": {"<|bos|>": {"id": "<|bos|>", "ids": [tok.token_to_id("<|bos|>")], "tokens": ["<|bos|>"]}}}
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    return {
        # GPT-2 style: ByteLevel does the splitting and adds a leading space; Llama-3.1 style
        # post-processor (Sequence of ByteLevel and a BOS template).
        "tiny_gpt2": variant(tok, normalizer=None,
                             pre_tokenizer={"type": "ByteLevel", "add_prefix_space": True,
                                            "trim_offsets": True, "use_regex": True},
                             post_processor={"type": "Sequence", "processors": [byte_level, bos]}),
        # Every Split behavior, inversion, literal and regex patterns, NFKD and regex Replace.
        "tiny_splits": variant(
            tok,
            normalizer={"type": "Sequence", "normalizers": [
                {"type": "NFKD"}, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
            pre_tokenizer={"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": "\\p{N}+"}, "behavior": "MergedWithPrevious", "invert": False},
                {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithNext", "invert": False},
                {"type": "Split", "pattern": {"Regex": "[.,;:!?]"}, "behavior": "Contiguous", "invert": False},
                {"type": "Split", "pattern": {"Regex": "[\\t\\n]"}, "behavior": "Removed", "invert": False},
                # Inverted: the emoji faces between the matches are removed.
                {"type": "Split", "pattern": {"Regex": "[^\\x{1F600}-\\x{1F64F}]+"}, "behavior": "Removed", "invert": True},
                {"type": "Split", "pattern": {"Regex": "[aeiou]"}, "behavior": "Isolated", "invert": False},
                byte_level]},
            post_processor=None),
    }


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    text = test_text.generate()
    text_bytes = text.encode("utf-8")
    with open(os.path.join(out_dir, "text.txt"), "wb") as f:
        f.write(text_bytes)
    lines = text.split("\n")
    rng = random.Random(99)
    # Snippets: edge cases, every line (with and without its newline), and random slices.
    snippets = list(EDGE_CASES)
    snippets += [ln for ln in lines if ln]
    snippets += [ln + "\n" for ln in lines[:2000]]
    for _ in range(2000):
        at = rng.randrange(len(text) - 100)
        snippets.append(text[at:at + rng.randint(1, 100)])
    snippets += random_code_point_strings(rng, 2000)

    tokenizers = {}
    fixtures = os.environ["DUO_FIXTURES_DIR"]
    for name in ("llama3", "llama2"):
        tokenizers[name] = Tokenizer.from_file(os.path.join(fixtures, "tokenizers", name, "tokenizer.json"))
    tokenizers["tiny_bytelevel"] = train_byte_level(lines)
    tokenizers.update(byte_level_variants(tokenizers["tiny_bytelevel"]))
    spm = train_sentencepiece(lines, metaspace=False)
    tokenizers["tiny_spm"] = with_byte_fallback(spm, True, "<unk>")
    tokenizers["tiny_spm_unk"] = with_byte_fallback(spm, False, "<unk>")
    tokenizers["tiny_metaspace"] = with_byte_fallback(train_sentencepiece(lines, metaspace=True), True, "<unk>")
    tokenizers["tiny_metaspace_always"] = variant(
        tokenizers["tiny_metaspace"],
        pre_tokenizer={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": False},
        decoder={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": False})

    for name, tok in tokenizers.items():
        if name.startswith("tiny_"):
            os.makedirs(os.path.join(out_dir, name), exist_ok=True)
            tok.save(os.path.join(out_dir, name, "tokenizer.json"))
        with open(os.path.join(out_dir, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(reference(tok, text, snippets, random.Random(7)), f, ensure_ascii=False)
    with open(os.path.join(out_dir, "invalid_utf8.json"), "w") as f:
        json.dump(invalid_utf8_cases(text_bytes, rng), f)


if __name__ == "__main__":
    main()
