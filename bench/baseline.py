#!/usr/bin/env python3
"""The same job as `vramfit inspect --json`, done the way a Python user would: standard library
only (json, struct). Reads the 8-byte length and the JSON header of every shard (never the data),
sums elements and bytes, and prints the comparable totals as one JSON object.

    python3 bench/baseline.py CHECKPOINT_DIR
"""
import json
import os
import struct
import sys

DTYPE_BITS = {"BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8,
              "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32,
              "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64}


def shard_names(d):
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index, "rb") as f:
            return sorted(set(json.load(f)["weight_map"].values()))
    return sorted(n for n in os.listdir(d) if n.endswith(".safetensors"))


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


def main():
    d = sys.argv[1]
    files = tensors = params = nbytes = 0
    dtypes = {}
    for name in shard_names(d):
        header = read_header(os.path.join(d, name))
        files += 1
        for key, info in header.items():
            if key == "__metadata__":
                continue
            numel = 1
            for dim in info["shape"]:
                numel *= dim
            begin, end = info["data_offsets"]
            tensors += 1
            params += numel
            nbytes += end - begin
            dtypes[info["dtype"]] = dtypes.get(info["dtype"], 0) + 1
    print(json.dumps({"files": files, "tensors": tensors, "parameters": params, "bytes": nbytes,
                      "dtypes": dtypes}, sort_keys=True))


if __name__ == "__main__":
    main()
