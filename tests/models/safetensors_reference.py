#!/usr/bin/env python3
"""An independent safetensors implementation (struct + json + numpy) for cross-checking.
  write PATH   writes a fixed set of tensors, header unpadded and keys in reverse order
  read PATH    prints {name: {dtype, shape, values}} as JSON"""

import json
import struct
import sys

import numpy as np


def tensors():
    rng = np.random.default_rng(3)
    return {
        "w.f32": ("F32", rng.standard_normal((3, 4)).astype(np.float32)),
        "w.f16": ("F16", np.array([1.0, -2.5, 65504.0, 6.1e-5, 0.1], dtype=np.float32)),
        "w.bf16": ("BF16", np.array([[1.0, -0.15625], [3.0e38, 1e-3]], dtype=np.float32)),
        "empty": ("F32", np.zeros((0, 5), dtype=np.float32)),
    }


def encode(dtype, values):
    if dtype == "F32":
        return values.astype("<f4").tobytes()
    if dtype == "F16":
        return values.astype("<f2").tobytes()
    bits = values.astype("<f4").view("<u4")
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # round to nearest even
    return rounded.astype("<u2").tobytes()


def write_tensors(path, named):
    """named: {name: (dtype, float32 array)}; header unpadded, keys in reverse order."""
    header, blob = {}, b""
    for name in sorted(named, reverse=True):
        dtype, values = named[name]
        data = encode(dtype, values)
        header[name] = {"dtype": dtype, "shape": list(values.shape), "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob)


def write(path):
    write_tensors(path, tensors())


def read(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        chunk = data[begin:end]
        if entry["dtype"] == "F32":
            values = np.frombuffer(chunk, "<f4")
        elif entry["dtype"] == "F16":
            values = np.frombuffer(chunk, "<f2").astype(np.float32)
        else:
            values = (np.frombuffer(chunk, "<u2").astype(np.uint32) << 16).view(np.float32)
        out[name] = {"dtype": entry["dtype"], "shape": entry["shape"], "values": [float(v) for v in values]}
    print(json.dumps(out))


if __name__ == "__main__":
    {"write": write, "read": read}[sys.argv[1]](sys.argv[2])
