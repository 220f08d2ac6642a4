#!/usr/bin/python3
"""An independent reader of TensorBoard event files (it shares no code with Tide's writer):
checks every record's framing and masked CRC-32C, decodes the Event protobuf by the wire
format (field 1 wall_time double, 2 step varint, 3 file_version string, 5 summary; in a
Summary, field 1 values; in a value, 1 tag string, 2 simple_value float), and prints one
JSON object: the file version and a list of {step, tag, value}. Exits non-zero with a
message on a bad record."""
import json
import struct
import sys


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data: bytes) -> int:
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def fields(buf: bytes):
    """Yields (field number, wire type, value) of a protobuf message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def varint(buf: bytes, i: int):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


def main(path: str) -> None:
    data = open(path, "rb").read()
    out = {"file_version": None, "scalars": []}
    i = 0
    while i < len(data):
        if i + 12 > len(data):
            sys.exit(f"{path}: truncated record header at byte {i}")
        header = data[i:i + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[i + 8:i + 12])
        if masked(header) != length_crc:
            sys.exit(f"{path}: bad length CRC at byte {i}")
        body = data[i + 12:i + 12 + length]
        (body_crc,) = struct.unpack("<I", data[i + 12 + length:i + 16 + length])
        if masked(body) != body_crc:
            sys.exit(f"{path}: bad data CRC at byte {i + 12}")
        i += 16 + length
        step = 0
        for number, _, value in fields(body):
            if number == 2:
                step = value
            elif number == 3:
                out["file_version"] = value.decode()
            elif number == 5:
                for n, _, v in fields(value):
                    if n != 1:
                        continue
                    tag, scalar = None, None
                    for vn, _, vv in fields(v):
                        if vn == 1:
                            tag = vv.decode()
                        elif vn == 2:
                            (scalar,) = struct.unpack("<f", vv)
                    out["scalars"].append({"step": step, "tag": tag, "value": scalar})
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
