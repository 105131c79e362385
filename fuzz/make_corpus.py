"""Writes the seed corpus of every fuzz target (fuzz/corpus/<target>/) from the repository's own
models and configs, plus a few hand-made variants, each kept small, and the libFuzzer
dictionaries of the text formats (fuzz/dict/<target>.dict: every key the seeds use, and tokens
that probe number and structure handling). Run with the project's interpreter from the
repository root: .venv/bin/python fuzz/make_corpus.py
It needs h5py, numpy and safetensors (.venv), and /usr/lib/bible.data (bible-kjv-text)."""
import json
import re
import shutil
import struct
from pathlib import Path

import h5py
import numpy as np
from safetensors.numpy import save

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
DICT = ROOT / "fuzz" / "dict"

JSON_TOKENS = ['{', '}', '[', ']', ':', ',', '"', 'null', 'true', 'false', '-1', '0', '-0', '1e999', '1e300', '2.5',
               '18446744073709551615', '18446744073709551616', '9223372036854775808', '2147483648', '\\u0000', '\\ud800']
YAML_TOKENS = [': ', '- ', '[', ']', '{', '}', '"', "'", '~', 'null', 'true', 'false', 'yes', '.inf', '.nan', '-1',
               '1e999', '2.5', '0x10', '0o7', '9223372036854775808', '&a ', '*a', '!!str ', '!!binary ', '<<: ', '|\n',
               '>\n', '#', '---\n', '...\n']


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def safetensors_header():
    put("safetensors_header", "mixed.safetensors",
        save({"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], dtype=np.int64),
              "empty": np.zeros((0, 4), dtype=np.float16)}, metadata={"format": "pt"}))
    put("safetensors_header", "scalar.safetensors", save({"s": np.array(3.0, dtype=np.float64)}))
    # The real checkpoint's header, its data area replaced by the few bytes of one small tensor.
    raw = (ROOT / "models/tiny/model.safetensors").read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    name, first = min(((k, v) for k, v in header.items() if k != "__metadata__"),
                      key=lambda kv: kv[1]["data_offsets"][1] - kv[1]["data_offsets"][0])
    size = first["data_offsets"][1] - first["data_offsets"][0]
    small = {"__metadata__": header.get("__metadata__", {}), name: dict(first, data_offsets=[0, size])}
    text = json.dumps(small).encode()
    put("safetensors_header", "tiny-one-tensor.safetensors", struct.pack("<Q", len(text)) + text + bytes(size))


def model_config():
    for src in ["models/tiny/config.json", "models/tiny-random/config.json", "models/shapes/llama3-8b/config.json"]:
        put("model_config", src.split("/")[-2] + ".json", (ROOT / src).read_text())
    base = json.loads((ROOT / "models/tiny/config.json").read_text())
    variants = {
        "llama3-rope-scaling": dict(base, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                        "high_freq_factor": 4.0,
                                                        "original_max_position_embeddings": 8192}),
        "linear-rope-parameters": dict(base, rope_parameters={"rope_type": "linear", "factor": 2.0,
                                                              "rope_theta": 500000.0}),
        "qwen2": dict(base, architectures=["Qwen2ForCausalLM"], use_sliding_window=True, sliding_window=4096,
                      eos_token_id=[1, 2]),
        "mistral-bare": {"model_type": "mistral", "hidden_size": 64, "intermediate_size": 128,
                         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                         "vocab_size": 300, "head_dim": 16, "sliding_window": None},
    }
    for name, c in variants.items():
        put("model_config", name + ".json", json.dumps(c, indent=1))


def tokenizer_json():
    put("tokenizer_json", "byte-level.json", (ROOT / "models/tiny/tokenizer.json").read_text())
    # Llama 2's SentencePiece-style BPE (Metaspace or Replace normalizer, byte fallback), cut
    # down to its first 400 tokens and the merges among them.
    t = json.loads((ROOT / "tests/fixtures/tokenizers/llama2/tokenizer.json").read_text())
    vocab = {k: v for k, v in t["model"]["vocab"].items() if v < 400}
    merges = []
    for m in t["model"]["merges"]:
        a, b = m.split(" ") if isinstance(m, str) else m
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(m)
    t["model"]["vocab"] = vocab
    t["model"]["merges"] = merges
    t["added_tokens"] = [a for a in t["added_tokens"] if a["id"] < 400]
    put("tokenizer_json", "sentencepiece-bpe.json", json.dumps(t, ensure_ascii=False))


def configs():
    for f in sorted((ROOT / "configs").glob("*.yaml")):
        put("pretrain_config" if f.name.startswith("pretrain") else "train_config", f.name, f.read_text())
    put("pretrain_config", "models-tiny.yaml", (ROOT / "models/tiny/pretrain.yaml").read_text())


def pattern_json():
    heads = [{"layer": l, "kv_head": h, "gate": round(0.1 + 0.2 * l + 0.1 * h, 3),
              "role": "retrieval" if l else "streaming"} for l in range(2) for h in range(3)]
    doc = {"format": "duo-attention-pattern", "schema_version": 1, "toolkit_version": "0.1.0",
           "model": {"name": "models/tiny", "architecture": "LlamaForCausalLM"},
           "num_layers": 2, "num_kv_heads": 3, "num_heads": 6, "gqa_group_size": 2, "sink": 64, "recent": 256,
           "window_source": "override", "trained_window": {"sink": 16, "recent": 64}, "rule": "sparsity",
           "requested_sparsity": 0.5, "sparsity": 0.5, "threshold": 0.3, "retrieval_heads": 3,
           "streaming_heads": 3, "kv_cache_saved": {"4096": 0.46, "32768": 0.495, "131072": 0.499},
           "source": {"path": "runs/tiny/history.h5", "kind": "history", "step": 59}, "heads": heads}
    put("pattern_json", "override.json", json.dumps(doc, indent=2))
    old = {k: v for k, v in doc.items() if k not in ("window_source", "trained_window")}
    put("pattern_json", "before-window-source.json", json.dumps(dict(old, rule="threshold", num_heads=None,
                                                                     requested_sparsity=None)))


def reference_dir():
    tsv = "1.000000000000000000e+00\t2.5e-01\n0\t+0.75\n"
    put("reference_dir", "tsv-only.bin", tsv)
    config = json.dumps({"model_name": "models/tiny", "num_heads": 8, "sink_size": 64, "recent_size": 256})
    put("reference_dir", "with-config.bin", tsv + "\0" + config)


def gate_history():
    # As core/history/history_layout.cpp writes it (docs/history-schema.md): 2 layers, 2 KV heads.
    # Schema 2 in HDF5's 1.10 file format (checksummed metadata, read by libhdf5) with fixed-length
    # UTF-8 string attributes, NUL-terminated, all 12 kept in the root's object header; schema 1
    # in the earliest format with the variable-length strings an older duo wrote (read by duo's
    # own decoder, core/history/legacy_file.h).
    rows, layers, kv = 3, 2, 2
    strings = {"format": "duo-gate-history", "toolkit_version": "0.1.0", "config_yaml": "run: {steps: 3}\n",
               "model_name": "models/tiny", "architecture": "LlamaForCausalLM"}
    for name, schema in (("three-steps.h5", 2), ("schema1-three-steps.h5", 1)):
        path = CORPUS / "gate_history" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
        fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
        if schema == 2:
            fcpl.set_attr_phase_change(16, 16)
            fapl.set_libver_bounds(h5py.h5f.LIBVER_V110, h5py.h5f.LIBVER_V110)
        else:
            fapl.set_libver_bounds(h5py.h5f.LIBVER_EARLIEST, h5py.h5f.LIBVER_LATEST)
        with h5py.File(h5py.h5f.create(str(path).encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)) as f:
            for k, v in strings.items():
                if schema == 1:
                    f.attrs[k] = v
                    continue
                data = v.encode()
                tid = h5py.h5t.C_S1.copy()
                tid.set_size(len(data) + 1)
                tid.set_strpad(h5py.h5t.STR_NULLTERM)
                tid.set_cset(h5py.h5t.CSET_UTF8)
                attr = h5py.h5a.create(f.id, k.encode(), tid, h5py.h5s.create(h5py.h5s.SCALAR))
                attr.write(np.array(data, dtype=f"S{len(data) + 1}"), mtype=tid)
            for k, v in {"schema_version": schema, "num_layers": layers, "num_heads": 4, "num_kv_heads": kv,
                         "head_dim": 16, "sink": 64, "recent": 256}.items():
                f.attrs[k] = np.int64(v)
            def column(name, data):
                f.create_dataset(name, data=data, maxshape=(None,) + data.shape[1:], chunks=(64,) + data.shape[1:])
            column("step", np.arange(rows, dtype=np.int64))
            column("gates", np.linspace(0, 1, rows * layers * kv, dtype=np.float32).reshape(rows, layers, kv))
            for name in ("loss/total", "loss/distill", "loss/reg", "lr", "wall_time"):
                column(name, np.linspace(0.5, 1.5, rows))
            column("tokens", np.full(rows, 1024, dtype=np.int64))


def haystack_jsonl():
    put("haystack_jsonl", "records.jsonl",
        '{"text": "In the beginning.", "id": 1}\n\n{"text": "caf\\u00e9 \\n second", "meta": {"a": [1, 2]}}\n')


def tokenize_jsonl():
    # One file each way: the conversion stops at the first line it cannot convert.
    put("tokenize_jsonl", "texts.jsonl", '{"text": "Hello world", "id": 7}\n\n{"text": "caf\\u00e9\\n", "n": null}\n')
    put("tokenize_jsonl", "ids.jsonl", '{"ids": [1, 72, 105, 2], "text_len": 2}\n{"ids": [], "a": [1.5]}\n')


def kjv_bible():
    # bible-kjv-text's header and its first window's first 1500 compressed bytes, as a one-window
    # file (the last window may expand to less than the window size).
    raw = Path("/usr/lib/bible.data").read_bytes()
    first = struct.unpack(">I", raw[92:96])[0]
    body = raw[first - 3:first + 1500]
    table_end = 92 + 2 * 4
    out = bytearray(raw[:84]) + struct.pack(">II", struct.unpack(">I", raw[84:88])[0], 1)
    out += struct.pack(">II", table_end + 3, table_end + len(body))
    put("kjv_bible", "one-window.data", bytes(out + body))


def escape(token):
    return "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else f"\\x{ord(c):02x}" for c in token)


def write_dict(target, tokens):
    DICT.mkdir(parents=True, exist_ok=True)
    lines = [f'"{escape(t)}"' for t in sorted(set(tokens))]
    (DICT / f"{target}.dict").write_text("\n".join(lines) + "\n")


def dictionaries():
    def json_keys(value, out):
        if isinstance(value, dict):
            for k, v in value.items():
                out.add(f'"{k}"')
                json_keys(v, out)
        elif isinstance(value, list):
            for v in value[:50]:
                json_keys(v, out)
        elif isinstance(value, str) and len(value) < 24:
            out.add(f'"{value}"')
    for target in ("safetensors_header", "model_config", "tokenizer_json", "pattern_json"):
        keys = set()
        for f in (CORPUS / target).iterdir():
            data = f.read_bytes()
            if target == "safetensors_header":
                data = data[8:8 + struct.unpack("<Q", data[:8])[0]]
            json_keys(json.loads(data), keys)
        write_dict(target, JSON_TOKENS + sorted(keys))
    for target in ("train_config", "pretrain_config"):
        keys = set()
        for f in (CORPUS / target).iterdir():
            keys.update(m + ":" for m in re.findall(r"^\s*([a-z_]+):", f.read_text(), re.M))
        write_dict(target, YAML_TOKENS + sorted(keys))
    write_dict("tokenize_jsonl", JSON_TOKENS + ['"text"', '"ids"', '\\n'])
    write_dict("reference_dir", ["\t", "\n", "+", "-", "e", "E", ".", "nan", "inf", "1e999", "\0",
                                 '"sink_size"', '"recent_size"', '"num_heads"', '"model_name"'] + JSON_TOKENS)


if __name__ == "__main__":
    shutil.rmtree(CORPUS, ignore_errors=True)
    for make in (safetensors_header, model_config, tokenizer_json, configs, pattern_json, reference_dir,
                 gate_history, haystack_jsonl, tokenize_jsonl, kjv_bible, dictionaries):
        make()
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    print(f"fuzz corpus: {sum(1 for p in CORPUS.rglob('*') if p.is_file())} files, {total} bytes")
