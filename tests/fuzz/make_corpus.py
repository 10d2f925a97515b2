#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/NAME from the project's test data and the named
corruption classes. Deterministic; re-run after changing it: python3 tests/fuzz/make_corpus.py

Seeds are small on purpose (libFuzzer's -max_len follows the largest seed). Real files whose data
region is large are cut after the header: the parser still walks every entry before it rejects the
missing data. Files found by fuzzing (crash-*, finding-*) are added by hand and never rewritten."""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(kind, name, data):
    d = os.path.join(CORPUS, kind)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def st(header, data_len=None, prefix=None):
    """A safetensors image: 8-byte LE length, header, data_len zero bytes (default: what the
    header's largest end offset asks for)."""
    if isinstance(header, (dict, list)):
        header = json.dumps(header, separators=(",", ":"))
    hb = header.encode() if isinstance(header, str) else header
    if data_len is None:
        data_len = 0
        try:
            for k, v in json.loads(hb).items():
                if k != "__metadata__" and isinstance(v, dict):
                    data_len = max(data_len, int(v["data_offsets"][1]))
        except Exception:
            pass
    n = len(hb) if prefix is None else prefix
    return struct.pack("<Q", n) + hb + b"\0" * data_len


def t(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def safetensors_seeds():
    ok = {
        "valid_one_f32": {"w": t("F32", [2, 2], 0, 16)},
        "valid_metadata_first": {"__metadata__": {"format": "pt"}, "a": t("BF16", [3], 0, 6),
                                 "b": t("I64", [1], 6, 14)},
        "valid_out_of_order": {"b": t("U8", [2], 2, 4), "a": t("U8", [2], 0, 2)},
        "valid_scalar_and_zero": {"s": t("F32", [], 0, 4), "z": t("F32", [0, 7], 4, 4)},
        "valid_subbyte": {"f4": t("F4", [3, 2], 0, 3), "f6": t("F6_E2M3", [4], 3, 6),
                          "e8": t("F8_E8M0", [2], 6, 8)},
        "valid_byte_dtypes": {d: t(d, [8], 8 * i, 8 * i + 8)
                              for i, d in enumerate(["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3"])},
        "valid_empty": {},
        "valid_metadata_null": {"__metadata__": None},
    }
    for name, h in ok.items():
        write("safetensors", name, st(h))
    write("safetensors", "valid_whitespace_padded",
          st('  \n{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}   \t ', 4))
    write("safetensors", "valid_unicode_name", st({"\u00e9\u4e2d\U0001f600": t("U8", [1], 0, 1)}))
    write("safetensors", "valid_escaped_name",
          st('{"a\\nb\\u0041\\"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1))
    bad = {
        # prefix classes
        "HEADER_TOO_SMALL": b"\x05\0\0\0",
        "HEADER_TOO_LARGE": st("{}", 0, prefix=100000001),
        "HEADER_PAST_EOF": st("{}", 0, prefix=99999999),
        "HEADER_LEN_MAX_U64": st("{}", 0, prefix=2**64 - 1),
        # JSON / UTF-8
        "BAD_UTF8": st(b'{"a\xff":{}}', 0),
        "OVERLONG_UTF8": st(b'{"\xc0\xaf":1}', 0),
        "SURROGATE_UTF8": st(b'{"\xed\xa0\x80":1}', 0),
        "NOT_JSON": st('{"a":}', 0),
        "TRAILING_GARBAGE": st("{} x", 0),
        "NUL_IN_HEADER": st(b'{"a\0":1}', 0),
        "EMPTY_HEADER": st("", 0),
        "ROOT_NOT_OBJECT": st("[]", 0),
        "DEEP_NESTING": st("[" * 1100 + "]" * 1100, 0),
        # entries
        "ENTRY_NOT_OBJECT": st('{"w":5}', 0),
        "MISSING_DTYPE": st('{"w":{"shape":[1],"data_offsets":[0,4]}}', 4),
        "MISSING_SHAPE": st('{"w":{"dtype":"F32","data_offsets":[0,4]}}', 4),
        "MISSING_OFFSETS": st('{"w":{"dtype":"F32","shape":[1]}}', 4),
        "ONE_OFFSET": st('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}', 4),
        "UNKNOWN_DTYPE": st({"w": t("F128", [1], 0, 16)}),
        "LOWERCASE_DTYPE": st({"w": t("bf16", [1], 0, 2)}),
        "SHAPE_NEGATIVE": st('{"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}', 0),
        "SHAPE_FLOAT": st('{"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}', 1),
        "SHAPE_ABOVE_2_53": st('{"w":{"dtype":"U8","shape":[9007199254740994],"data_offsets":[0,1]}}', 1),
        "SHAPE_STRING": st('{"w":{"dtype":"U8","shape":["2"],"data_offsets":[0,2]}}', 2),
        "SHAPE_1E300": st('{"w":{"dtype":"U8","shape":[1e300],"data_offsets":[0,1]}}', 1),
        "SHAPE_OVERFLOW": st('{"w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}', 0),
        "BYTES_OVERFLOW": st('{"w":{"dtype":"F64","shape":[4503599627370496,4096],"data_offsets":[0,0]}}', 0),
        "NBYTES_MISMATCH": st({"w": t("BF16", [2, 3], 0, 10)}),
        "MISALIGNED_F4": st({"w": t("F4", [3], 0, 2)}),
        "MISALIGNED_F6": st({"w": t("F6_E3M2", [3], 0, 3)}),
        "OFFSETS_REVERSED": st('{"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}', 4),
        "OFFSETS_NEGATIVE": st('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,-1]}}', 1),
        "OFFSET_GAP": st({"a": t("U8", [2], 0, 2), "b": t("U8", [2], 3, 5)}),
        "OFFSET_OVERLAP": st({"a": t("U8", [2], 0, 2), "b": t("U8", [2], 1, 3)}),
        "OFFSET_NOT_FROM_ZERO": st({"a": t("U8", [2], 2, 4)}),
        "INCOMPLETE_SHORT": st({"a": t("U8", [2], 0, 2)}, 3),
        "INCOMPLETE_LONG": st({"a": t("U8", [4], 0, 4)}, 2),
        "DUP_NAME": st('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
                       '"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}', 4),
        "DUP_NAME_VIA_NUL_ESCAPE": st('{"a\\u0000x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
                                      '"a\\u0000y":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}', 4),
        "METADATA_NOT_STRING": st('{"__metadata__":{"n":1}}', 0),
        "METADATA_ARRAY": st('{"__metadata__":[]}', 0),
        "CONTROL_CHAR_NAME": st('{"a\\nb":{"dtype":"X","shape":[1],"data_offsets":[0,1]}}', 1),
    }
    for name, data in bad.items():
        write("safetensors", "n_" + name.lower(), data)
    # Real files from testdata/: small ones whole, large ones cut after the header.
    for rel in ["tiny-llama/model.safetensors", "tiny-gpt2/model-00001-of-00002.safetensors",
                "tiny-gpt2/model-00002-of-00002.safetensors", "tiny-llama-lora/adapter_model.safetensors"]:
        with open(os.path.join(ROOT, "testdata", rel), "rb") as f:
            raw = f.read()
        n = struct.unpack("<Q", raw[:8])[0]
        tag = rel.replace("/", "_").replace(".safetensors", "")
        if len(raw) <= 16384:
            write("safetensors", "testdata_" + tag, raw)
        else:
            write("safetensors", "testdata_" + tag + "_header_only", raw[:8 + n])


def index_seeds():
    with open(os.path.join(ROOT, "testdata/tiny-gpt2/model.safetensors.index.json"), "rb") as f:
        write("index", "testdata_tiny_gpt2", f.read())
    wm = {"model.embed_tokens.weight": "model-00001-of-00002.safetensors",
          "lm_head.weight": "model-00002-of-00002.safetensors"}
    seeds = {
        "valid_minimal": {"weight_map": {}},
        "valid_total": {"metadata": {"total_size": 123}, "weight_map": wm},
        "valid_null_metadata": {"metadata": None, "weight_map": wm},
        "valid_extra_keys": {"metadata": {"total_size": 0, "format": "pt"}, "weight_map": wm, "x": [1]},
        "n_not_object": [1, 2],
        "n_no_weight_map": {"metadata": {}},
        "n_weight_map_array": {"weight_map": ["a"]},
        "n_value_not_string": {"weight_map": {"a": 1}},
        "n_unsafe_parent": {"weight_map": {"a": "../x.safetensors"}},
        "n_unsafe_absolute": {"weight_map": {"a": "/etc/passwd"}},
        "n_unsafe_subdir": {"weight_map": {"a": "sub/x.safetensors"}},
        "n_unsafe_backslash": {"weight_map": {"a": "..\\x.safetensors"}},
        "n_unsafe_empty": {"weight_map": {"a": ""}},
        "n_unsafe_dot": {"weight_map": {"a": "."}},
        "n_metadata_not_object": {"metadata": 5, "weight_map": wm},
        "n_total_negative": {"metadata": {"total_size": -1}, "weight_map": wm},
        "n_total_float": {"metadata": {"total_size": 1.5}, "weight_map": wm},
        "n_total_string": {"metadata": {"total_size": "12"}, "weight_map": wm},
        "n_total_huge": {"metadata": {"total_size": 1e300}, "weight_map": wm},
    }
    for name, v in seeds.items():
        write("index", name, json.dumps(v, indent=1))
    write("index", "n_dup_tensor", '{"weight_map":{"a":"x.safetensors","a":"y.safetensors"}}')
    write("index", "n_not_json", '{"weight_map":{"a":}')
    write("index", "n_empty", "")
    write("index", "n_nul_escape", '{"weight_map":{"a":"x\\u0000/../y"}}')


def adapter_config_seeds():
    with open(os.path.join(ROOT, "testdata/tiny-llama-lora/adapter_config.json"), "rb") as f:
        write("adapter_config", "testdata_tiny_llama_lora", f.read())
    base = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "m", "r": 8,
            "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"], "bias": "none",
            "use_dora": False, "use_rslora": False, "fan_in_fan_out": False, "modules_to_save": None}
    seeds = {
        "valid_base": {},
        "valid_regex_target": {"target_modules": ".*\\.(q|v)_proj"},
        "valid_all_linear": {"target_modules": "all-linear"},
        "valid_patterns": {"rank_pattern": {"q_proj": 4, "layers\\.0\\..*": 2},
                           "alpha_pattern": {"v_proj": 3.5}},
        "valid_exclude": {"exclude_modules": ["lm_head"], "modules_to_save": ["score"]},
        "valid_exclude_regex": {"exclude_modules": ".*lm_head"},
        "valid_dora_bias": {"use_dora": True, "bias": "lora_only", "fan_in_fan_out": True},
        "n_r_zero": {"r": 0},
        "n_r_negative": {"r": -1},
        "n_r_float": {"r": 1.5},
        "n_r_huge": {"r": 1e300},
        "n_r_string": {"r": "8"},
        "n_peft_type_ia3": {"peft_type": "IA3"},
        "n_bias_bad": {"bias": "some"},
        "n_layers_to_transform": {"layers_to_transform": [0, 1]},
        "n_target_parameters": {"target_parameters": ["experts.gate_up_proj"]},
        "n_layer_replication": {"layer_replication": [[0, 4]]},
        "n_target_comma": {"target_modules": ["q,proj"]},
        "n_target_not_string": {"target_modules": [1]},
        "n_rank_pattern_bad": {"rank_pattern": {"q_proj": -2}},
        "n_alpha_pattern_bad": {"alpha_pattern": {"q_proj": "x"}},
    }
    for name, over in seeds.items():
        c = dict(base)
        c.update(over)
        write("adapter_config", name, json.dumps(c, indent=2))
    c = dict(base)
    del c["r"]
    write("adapter_config", "n_r_missing", json.dumps(c))
    write("adapter_config", "n_dup_key", '{"peft_type":"LORA","r":8,"r":16,"target_modules":["q_proj"]}')
    write("adapter_config", "n_case_key", '{"peft_type":"LORA","R":8,"target_modules":["q_proj"]}')
    write("adapter_config", "n_not_object", "[1]")
    write("adapter_config", "n_not_json", '{"r":')
    write("adapter_config", "n_empty", "")


def snap_payload(origin, shards, aux=()):
    """An uncompressed snapshot payload (vf_snapshot.h) with zero fingerprints: fuzz_snapshot
    recomputes them and wraps the payload in a valid outer header."""
    o = origin.encode() if isinstance(origin, str) else origin
    out = struct.pack("<I", len(o)) + o + struct.pack("<I", len(shards))
    for name, size, hdr in shards:
        n = name.encode() if isinstance(name, str) else name
        h = hdr.encode() if isinstance(hdr, str) else hdr
        out += struct.pack("<H", len(n)) + n + struct.pack("<QI", size, len(h)) + b"\0" * 16 + h
    out += struct.pack("<I", len(aux))
    for name, data in aux:
        n = name.encode() if isinstance(name, str) else name
        d = data.encode() if isinstance(data, str) else data
        out += struct.pack("<H", len(n)) + n + struct.pack("<I", len(d)) + b"\0" * 16 + d
    return out


def snap_outer(payload, version=1, flags=0, plen=None, clen=None, extra=b"", magic=b"\x89VFSNAP\n"):
    """A whole .vfsnap image with a zero (wrong) fingerprint: exercises the outer checks."""
    import gzip
    z = gzip.compress(payload, 6, mtime=0)
    plen = len(payload) if plen is None else plen
    clen = len(z) if clen is None else clen
    return magic + struct.pack("<IIQQ", version, flags, plen, clen) + b"\0" * 16 + z + extra


def real_shard(rel):
    with open(os.path.join(ROOT, "testdata", rel), "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    return (os.path.basename(rel), len(raw), raw[8:8 + n])


def snapshot_seeds():
    llama = real_shard("tiny-llama/model.safetensors")
    g1 = real_shard("tiny-gpt2/model-00001-of-00002.safetensors")
    g2 = real_shard("tiny-gpt2/model-00002-of-00002.safetensors")
    read = lambda rel: open(os.path.join(ROOT, "testdata", rel), "rb").read()
    cfg = ("config.json", read("tiny-llama/config.json"))
    gidx = ("model.safetensors.index.json", read("tiny-gpt2/model.safetensors.index.json"))
    tiny = b'{"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}'
    one = ("model.safetensors", 8 + len(tiny) + 2, tiny)
    p = {
        "payload_tiny_llama": snap_payload("/models/tiny-llama", [llama], [cfg]),
        "payload_tiny_gpt2_indexed": snap_payload("testdata/tiny-gpt2", [g1, g2],
                                                  [gidx, ("config.json", read("tiny-gpt2/config.json"))]),
        "payload_one_tiny": snap_payload("d", [one]),
        "payload_all_aux": snap_payload("d", [one], [("config.json", "{}"), ("generation_config.json", "{}"),
                                                     ("adapter_config.json", "{}")]),
        "n_payload_no_shard": snap_payload("d", []),
        "n_payload_empty_origin": snap_payload("", [one]),
        "n_payload_control_origin": snap_payload("a\nb", [one]),
        "n_payload_slash_name": snap_payload("d", [("sub/x.safetensors",) + one[1:]]),
        "n_payload_dotdot_name": snap_payload("d", [("..",) + one[1:]]),
        "n_payload_nul_name": snap_payload("d", [(b"a\0b",) + one[1:]]),
        "n_payload_dup_shard": snap_payload("d", [one, one]),
        "n_payload_dup_aux": snap_payload("d", [one], [("config.json", "{}"), ("config.json", "{}")]),
        "n_payload_unknown_aux": snap_payload("d", [one], [("secrets.txt", "x")]),
        "n_payload_too_many_aux": snap_payload("d", [one], [("config.json", "{}")] * 5),
        "n_payload_bad_header": snap_payload("d", [("model.safetensors", 10, '{"a":}')]),
        "n_payload_size_mismatch": snap_payload("d", [("model.safetensors", 9999, tiny)]),
        "n_payload_index_mismatch": snap_payload("d", [one], [("model.safetensors.index.json",
                                                              '{"weight_map":{"w":"other.safetensors"}}')]),
        "n_payload_dup_tensor_across": snap_payload("d", [one, ("b.safetensors",) + one[1:]]),
        "n_payload_truncated": snap_payload("d", [one])[:-7],
    }
    p["n_payload_trailing"] = p["payload_one_tiny"] + b"xx"
    for name, data in p.items():
        write("snapshot", name, data)
    base = p["payload_one_tiny"]
    outer = {
        "n_outer_fingerprint_mismatch": snap_outer(base),
        "n_outer_short": snap_outer(base)[:20],
        "n_outer_version_2": snap_outer(base, version=2),
        "n_outer_flags": snap_outer(base, flags=1),
        "n_outer_payload_huge": snap_outer(base, plen=2**40),
        "n_outer_payload_short": snap_outer(base, plen=len(base) - 1),
        "n_outer_payload_long": snap_outer(base, plen=len(base) + 100),
        "n_outer_truncated_gzip": snap_outer(base)[:-9],
        "n_outer_clen_past_eof": snap_outer(base, clen=10**6),
        "n_outer_trailing": snap_outer(base, extra=b"\0\0\0"),
        "n_outer_corrupt_gzip": snap_outer(base)[:60] + b"\xff" * 8 + snap_outer(base)[68:],
        "n_outer_gzip_bomb_claim": snap_outer(b"\0" * 200000, plen=1000),
    }
    for name, data in outer.items():
        write("snapshot", name, data)


def main():
    kinds = sys.argv[1:] or ["safetensors", "index", "snapshot", "adapter_config"]
    for k in kinds:
        globals()[k + "_seeds"]()


if __name__ == "__main__":
    main()
