"""Deterministic multilingual test text for the tokenizer tests and benchmark.

generate(seed, min_bytes) mixes English prose, source code, CJK, Arabic with harakat, other
scripts, emoji (ZWJ sequences, skin tones, flags), combining marks (decomposed and precomposed),
long whitespace runs (including U+0085, U+00A0, U+3000), digit runs, and the marker strings
the tests' added tokens look for. Everything comes from random.Random(seed): no downloads.

Run as a script to write the text: python test_text.py OUT.txt [--seed N] [--min-bytes N]
"""
import argparse
import random

WORDS = """the of and to in is was for on that with as by at from his her they be this have
not are but had which one were all we when there can an your been has more if will would
who so no out up into do time my than its first about may only new some could these two
way see many then them very should long make people because down over any between after
work where life most through back years little must before good state world same under
great right might year place while each number water think every small another around
system although reason model token attention head retrieval streaming memory cache layer
value query key gradient sequence context window passage answer question language""".split()
CONTRACTIONS = ["don't", "it's", "we'll", "THEY'RE", "you've", "I'm", "she'd", "can't",
                "O'Neil", "rock'n'roll", "'tis", "Y'ALL'D", "isn'T", "ſ's"]
NAMES = ["Alice", "Bob", "McDonald", "iPhone", "NASA", "Zürich", "São Paulo", "Ærøskøbing",
         "Kraków", "Đà Nẵng", "Reykjavík", "naïve", "coöperate", "façade", "Straße"]
CODE = [
    "def {f}({a}, {b}=None):\n    if {b} is None:\n        return {a} * {n}\n    return [{a}[i] + {b} for i in range({n})]\n",
    "for (int {a} = 0; {a} < {n}; ++{a}) {{\n\t{f}[{a}] = {b}[{a}] >> 2;  // shift\n}}\n",
    "const auto {f} = std::make_unique<{F}>({n}, \"{a}\");\nif (!{f}->ok()) throw std::runtime_error(\"{b}\");\n",
    "#include <{a}.h>\n#define {F}_MAX 0x{h}\nstatic int {f}(void) {{ return {F}_MAX & {n}u; }}\n",
    "SELECT {a}, COUNT(*) FROM {f} WHERE {b} >= {n} GROUP BY {a};\n",
    "    {f}: {{\"{a}\": [{n}, {n}.5e-3, -{n}], \"{b}\": null, \"ok\": true}},\n",
    "$ git commit -m \"{f}: fix {a}\" && ./{b} --threads={n} 2>&1 | tee /tmp/{a}.log\n",
    "<div class=\"{a}\"><a href=\"https://example.com/{f}?q={n}&lang=en\">{b}</a></div>\n",
]
IDENT = ["x", "y", "idx", "buf", "tokens", "merge_rank", "kv_cache", "attnMask", "_tmp",
         "HEAD_DIM", "self", "π", "变量", "ñame"]
CJK_PUNCT = "。，、；：？！「」『』（）《》"
KANA = [chr(c) for c in range(0x3041, 0x3097)] + [chr(c) for c in range(0x30A1, 0x30FB)]
ARABIC_LETTERS = [chr(c) for c in range(0x0621, 0x063B)] + [chr(c) for c in range(0x0641, 0x064B)]
HARAKAT = [chr(c) for c in range(0x064B, 0x0653)]
SCRIPTS = {
    "cyrillic": (0x0430, 0x044F), "greek": (0x03B1, 0x03C9), "thai": (0x0E01, 0x0E2E),
    "devanagari": (0x0915, 0x0939), "hebrew": (0x05D0, 0x05EA), "armenian": (0x0561, 0x0586),
}
DEVANAGARI_SIGNS = [chr(c) for c in range(0x093E, 0x094D)]
EMOJI = ["😀", "🤖", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵", "🇫🇷", "❤️", "✨", "🚀", "🧠",
         "1️⃣", "☕", "🐍", "🦀", "🙏🏿", "🫠"]
COMBINING = [chr(c) for c in range(0x0300, 0x0370)]
SPACES = [" ", "\t", "\u00a0", "\u3000", "\u2003", "\u0085", "\u2028", "\u180e", "\u200b", "\x1c", "\r\n", "\n", "\f", "\v"]
MARKERS = ["<|begin_of_text|>", "<|eot_id|>", "<s>", "</s>", "<unk>", " <mask> ", "<mask>",
           "[SW]", "x[SW]y", " [SW] ", "café", "cafe\u0301", "<|bos|>", "<|eos|>"]


def sentence(r):
    words = []
    for _ in range(r.randint(4, 18)):
        k = r.random()
        if k < 0.08:
            words.append(r.choice(CONTRACTIONS))
        elif k < 0.14:
            words.append(r.choice(NAMES))
        elif k < 0.17:
            words.append(str(r.randint(0, 10 ** r.randint(1, 9))))
        else:
            words.append(r.choice(WORDS))
    s = " ".join(words)
    s = s[0].upper() + s[1:]
    return s + r.choice([".", ".", ".", "?", "!", "...", ";", ":", " —", ","])


def prose(r):
    return " ".join(sentence(r) for _ in range(r.randint(2, 7)))


def code(r):
    t = r.choice(CODE)
    return t.format(f=r.choice(IDENT), F=r.choice(IDENT).upper(), a=r.choice(IDENT),
                    b=r.choice(IDENT), n=r.randint(0, 99999), h=format(r.getrandbits(24), "X"))


def cjk(r):
    out = []
    for _ in range(r.randint(5, 60)):
        k = r.random()
        if k < 0.6:
            out.append(chr(r.randint(0x4E00, 0x9FA5)))
        elif k < 0.8:
            out.append(r.choice(KANA))
        elif k < 0.9:
            out.append(chr(r.randint(0xAC00, 0xD7A3)))
        else:
            out.append(r.choice(CJK_PUNCT))
    return "".join(out)


def arabic(r):
    words = []
    for _ in range(r.randint(3, 12)):
        w = ""
        for _ in range(r.randint(2, 7)):
            w += r.choice(ARABIC_LETTERS)
            if r.random() < 0.3:
                w += r.choice(HARAKAT)
        words.append(w)
    if r.random() < 0.3:
        words.append("".join(chr(0x0660 + r.randint(0, 9)) for _ in range(r.randint(1, 8))))
    return " ".join(words) + r.choice(["، ", ". ", "؟ "])


def other_script(r):
    lo, hi = SCRIPTS[r.choice(sorted(SCRIPTS))]
    words = []
    for _ in range(r.randint(2, 8)):
        w = "".join(chr(r.randint(lo, hi)) for _ in range(r.randint(1, 9)))
        if lo == 0x0915 and r.random() < 0.5:
            w += r.choice(DEVANAGARI_SIGNS)
        words.append(w)
    return " ".join(words)


def emoji(r):
    return "".join(r.choice(EMOJI) + (" " if r.random() < 0.4 else "") for _ in range(r.randint(1, 8)))


def combining(r):
    out = []
    for _ in range(r.randint(3, 20)):
        out.append(r.choice("aeiouAEIOUnczsy"))
        for _ in range(r.choice([0, 1, 1, 2, 3])):
            out.append(r.choice(COMBINING))
        if r.random() < 0.2:
            out.append(" ")
    return "".join(out)


def whitespace(r):
    k = r.random()
    if k < 0.4:
        return " " * r.randint(2, 200)
    if k < 0.6:
        return "\n" * r.randint(2, 8)
    return "".join(r.choice(SPACES) for _ in range(r.randint(1, 40)))


def digits(r):
    k = r.random()
    if k < 0.4:
        return "".join(r.choice("0123456789") for _ in range(r.randint(1, 40)))
    if k < 0.6:
        return f"{r.randint(0, 10**9):,}.{r.randint(0, 99):02d}"
    if k < 0.8:
        return "".join(chr(0xFF10 + r.randint(0, 9)) for _ in range(r.randint(1, 12)))
    return f"{r.randint(1900, 2100)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d} {r.randint(0, 23)}:{r.randint(0, 59):02d}"


def markers(r):
    return r.choice(["", " ", "\n"]) + r.choice(MARKERS) + r.choice(["", " ", "Hello", "\n"])


PARTS = [(prose, 30), (code, 14), (cjk, 10), (arabic, 6), (other_script, 6), (emoji, 5),
         (combining, 5), (whitespace, 8), (digits, 8), (markers, 4)]


def generate(seed=1234, min_bytes=1 << 20):
    r = random.Random(seed)
    funcs = [f for f, _ in PARTS]
    weights = [w for _, w in PARTS]
    chunks, size = [], 0
    while size < min_bytes:
        line = []
        for _ in range(r.randint(1, 4)):
            line.append(r.choices(funcs, weights)[0](r))
        chunk = r.choice([" ", "", "  "]).join(line) + r.choice(["\n", "\n", "\n\n", " "])
        chunks.append(chunk)
        size += len(chunk.encode("utf-8"))
    return "".join(chunks)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--min-bytes", type=int, default=1 << 20)
    a = p.parse_args()
    with open(a.out, "wb") as f:
        f.write(generate(a.seed, a.min_bytes).encode("utf-8"))


if __name__ == "__main__":
    main()
