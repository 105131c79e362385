"""The `tokenizers` library's side of duo-bench-tokenizer: encode throughput of one tokenizer
on one text, on one thread (run with RAYON_NUM_THREADS=1).

Usage: python tokenizer_bench.py TOKENIZER_JSON TEXT_FILE
Prints lines "<measure> <MB/s>" for: cold (first single call on a fresh tokenizer), single
(best single call of the whole text), lines (best pass encoding each line separately).
"""
import sys
import time

from tokenizers import Tokenizer


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    tok = Tokenizer.from_file(sys.argv[1])
    with open(sys.argv[2], "rb") as f:
        data = f.read()
    text = data.decode("utf-8")
    mb = len(data) / 1e6
    lines = text.split("\n")
    cold = best(lambda: tok.encode(text), 1)
    single = best(lambda: tok.encode(text), 5)
    per_line = best(lambda: [tok.encode(line) for line in lines], 3)
    print(f"cold {mb / cold:.2f}")
    print(f"single {mb / single:.2f}")
    print(f"lines {mb / per_line:.2f}")


if __name__ == "__main__":
    main()
