#!/usr/bin/python3
"""An independent reader of the safetensors format (it shares no code with Tide's writer):
parses FILE by the format's definition (8-byte little-endian header length, a JSON header,
raw little-endian tensors) and prints one JSON object: for each tensor its dtype, shape,
element count and the sum of its elements, and the metadata. Exits non-zero with a
message when the file breaks the format."""
import json
import struct
import sys

SIZES = {"F32": ("f", 4), "F64": ("d", 8), "I64": ("q", 8)}


def main(path: str) -> None:
    data = open(path, "rb").read()
    if len(data) < 8:
        sys.exit(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        sys.exit(f"{path}: header length {n} beyond the file")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = data[8 + n:]
    out = {"metadata": header.pop("__metadata__", {}), "tensors": {}}
    end = 0
    for name, entry in header.items():
        code, size = SIZES[entry["dtype"]]
        begin, stop = entry["data_offsets"]
        count = 1
        for d in entry["shape"]:
            count *= d
        if stop - begin != count * size or stop > len(body):
            sys.exit(f"{path}: tensor {name}: offsets {begin}..{stop} do not hold {count} values")
        values = struct.unpack(f"<{count}{code}", body[begin:stop])
        out["tensors"][name] = {"dtype": entry["dtype"], "shape": entry["shape"],
                                "count": count, "sum": float(sum(values))}
        end = max(end, stop)
    if end != len(body):
        sys.exit(f"{path}: {len(body) - end} bytes after the last tensor")
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
