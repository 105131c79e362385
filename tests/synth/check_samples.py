"""Rebuilds duo-synth's samples with the `tokenizers` library and the reference's templates
(mit-han-lab/duo-attention, duo_attn/data.py) and checks that duo's ids and spans are exactly
these. Usage: check_samples.py <tokenizer dir> <haystack file, under 16 KB> <samples.jsonl>
(the samples printed by `duo-synth --json` with the default templates and word list)."""
import json
import sys

from tokenizers import Tokenizer

NATO = ("alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november "
        "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()
ORDINALS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
            "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
            "twentieth").split()
NEEDLE = "Remeber this sequence of words, it's the {ordinal_number} passkey to the vault: "
QUESTION = "Based on the content of the book, what is the {ordinal_number} passkey to the vault?\nPasskey: "
PROMPT1 = "<|im_start|> This is a very long story book: <book> "
PROMPT2 = " </book>.\n\n"
SEPARATOR = "\n\n"

tok = Tokenizer.from_file(sys.argv[1] + "/tokenizer.json")


def enc(text):
    return tok.encode(text, add_special_tokens=False).ids


# Special tokens the post-processor puts before a text (BOS for Llama-2, none for the fixture's
# Llama-3 tokenizer.json).
plain, special = enc("a"), tok.encode("a").ids
head_specials = special[:special.index(plain[0])]
head = head_specials + enc(PROMPT1)
haystack = enc(open(sys.argv[2], encoding="utf-8").read()) + enc("\n\n")
separator = enc(SEPARATOR)
grid = [0.05 + (0.95 - 0.05) * k / 999 for k in range(1000)]

count = 0
for line in open(sys.argv[3]):
    s = json.loads(line)
    n, h = len(s["passkeys"]), s["haystack_tokens"]
    assert all(d in grid for d in s["depths"]), "depths on linspace(0.05, 0.95, 1000)"
    assert s["depths"] == sorted(set(s["depths"])), "distinct, ascending depths"
    assert all(w in NATO for p in s["passkeys"] for w in p.split(" ")), "NATO words"
    keys = [enc(p) for p in s["passkeys"]]

    ids, needles, questions, answers, last = list(head), [], [], [], 0
    for i, (depth, key) in enumerate(zip(s["depths"], keys)):
        at = int(h * depth)
        ids += haystack[last:at] + separator
        start = len(ids)
        ids += enc(NEEDLE.format(ordinal_number=ORDINALS[i])) + key
        needles.append([start, len(ids)])
        ids += separator
        last = at
    ids += haystack[last:h] + enc(PROMPT2)
    block = len(ids)
    for i, key in enumerate(keys):
        start = len(ids)
        ids += enc(QUESTION.format(ordinal_number=ORDINALS[i]))
        questions.append([start, len(ids)])
        answers.append([len(ids), len(ids) + len(key)])
        ids += key + separator

    assert len(ids) == s["context_length"], (len(ids), s["context_length"])
    assert s["ids"] == ids, next(i for i, (a, b) in enumerate(zip(s["ids"], ids)) if a != b)
    assert s["label_span"] == [block, len(ids)]
    assert s["needle_spans"] == needles and s["question_spans"] == questions
    assert s["answer_spans"] == answers
    count += 1
assert count > 0
print(f"{count} samples match")
