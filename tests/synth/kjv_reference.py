"""Writes the default haystack as duo should produce it, independently of duo's decoder: the
windows of Debian's bible-kjv-text data file are expanded by gzip (which reads Unix `compress`
streams), then verse references are dropped, each chapter's verses joined by spaces and chapters
separated by blank lines.  Usage: kjv_reference.py <bible.data> <output.txt>"""
import struct
import subprocess
import sys

data = open(sys.argv[1], "rb").read()
window_size, windows = struct.unpack(">II", data[84:92])
offsets = struct.unpack(">%dI" % (windows + 1), data[92:92 + 4 * (windows + 1)])
header = data[offsets[0] - 3:offsets[0]]
raw = b"".join(
    subprocess.run(["gzip", "-dc"], input=header + data[offsets[w]:offsets[w + 1]],
                   capture_output=True, check=True).stdout
    for w in range(windows))

chapters = []  # [key, [verse texts]]
for line in raw.decode("ascii").split("\n")[1:]:
    reference, _, text = line.partition(" ")
    if ":" not in reference:
        continue
    key = reference.split(":")[0]
    if not chapters or chapters[-1][0] != key:
        chapters.append([key, []])
    chapters[-1][1].append(text)
with open(sys.argv[2], "w", encoding="ascii", newline="") as out:
    out.write("\n\n".join(" ".join(verses) for _, verses in chapters) + "\n")
