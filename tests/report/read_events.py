#!/usr/bin/python3
"""An independent reader of TensorBoard event files (it shares no code with Tide's writer):
checks every record's framing and masked CRC-32C, decodes the Event protobuf by the wire
format, with the field numbers of TensorBoard's protos (event.proto, summary.proto, and the
hparams plugin's plugin_data.proto and api.proto), and prints one JSON object: the file
version, the scalars {step, tag, value}, the histograms {step, tag, min, max, num, sum,
sum_squares, limits, counts}, the session logs {step, status, msg} and the hparams
records {tag, plugin, kind, ...}. Exits non-zero with a message on a bad record.

Event: 1 wall_time double, 2 step varint, 3 file_version string, 5 summary, 6 session_log
(1 status varint, 3 msg). Summary: 1 values; a value: 1 tag, 2 simple_value float, 5 histo
(1 min, 2 max, 3 num, 4 sum, 5 sum_squares doubles, 6 bucket_limit and 7 bucket packed
doubles), 8 tensor (1 dtype, 5 float_val), 9 metadata (1 plugin_data: 1 plugin_name,
2 content)."""
import json
import math
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


def double(v: bytes) -> float:
    return struct.unpack("<d", v)[0]


def packed_doubles(v: bytes):
    return [x[0] for x in struct.iter_unpack("<d", v)]


def histogram(buf: bytes) -> dict:
    h = {"min": 0.0, "max": 0.0, "num": 0.0, "sum": 0.0, "sum_squares": 0.0,
         "limits": [], "counts": []}
    names = {1: "min", 2: "max", 3: "num", 4: "sum", 5: "sum_squares"}
    for n, wire, v in fields(buf):
        if n in names:
            h[names[n]] = double(v)
        elif n == 6:
            h["limits"] += packed_doubles(v) if wire == 2 else [double(v)]
        elif n == 7:
            h["counts"] += packed_doubles(v) if wire == 2 else [double(v)]
    return h


def value_of(buf: bytes):
    """google.protobuf.Value: 2 number (double), 3 string, 4 bool."""
    for n, _, v in fields(buf):
        if n == 2:
            return double(v)
        if n == 3:
            return v.decode()
        if n == 4:
            return bool(v)
    return None


def hparams_data(buf: bytes) -> dict:
    """HParamsPluginData: 1 version, 2 experiment, 3 session_start_info, 4 session_end_info."""
    out = {"version": 0}
    for n, _, v in fields(buf):
        if n == 1:
            out["version"] = v
        elif n == 2:
            x = {"kind": "experiment", "name": "", "hparams": [], "metrics": []}
            for xn, _, xv in fields(v):
                if xn == 6:
                    x["name"] = xv.decode()
                elif xn == 3:
                    x["time_created_secs"] = double(xv)
                elif xn == 4:
                    info = {"name": None, "type": 0, "values": []}
                    for hn, _, hv in fields(xv):
                        if hn == 1:
                            info["name"] = hv.decode()
                        elif hn == 4:
                            info["type"] = hv
                        elif hn == 5:
                            info["values"] = [value_of(lv) for ln, _, lv in fields(hv) if ln == 1]
                    x["hparams"].append(info)
                elif xn == 5:
                    metric = {"group": "", "tag": "", "dataset_type": 0}
                    for mn, _, mv in fields(xv):
                        if mn == 1:
                            for nn, _, nv in fields(mv):
                                metric["group" if nn == 1 else "tag"] = nv.decode()
                        elif mn == 5:
                            metric["dataset_type"] = mv
                    x["metrics"].append(metric)
            out.update(x)
        elif n == 3:
            start = {"kind": "session_start_info", "hparams": {}, "group_name": ""}
            for sn, _, sv in fields(v):
                if sn == 1:  # a map entry: 1 key, 2 value
                    key, val = None, None
                    for en, _, ev in fields(sv):
                        if en == 1:
                            key = ev.decode()
                        elif en == 2:
                            val = value_of(ev)
                    start["hparams"][key] = val
                elif sn == 4:
                    start["group_name"] = sv.decode()
                elif sn == 5:
                    start["start_time_secs"] = double(sv)
            out.update(start)
        elif n == 4:
            end = {"kind": "session_end_info", "status": 0}
            for en, _, ev in fields(v):
                if en == 1:
                    end["status"] = ev
                elif en == 2:
                    end["end_time_secs"] = double(ev)
            out.update(end)
    return out


def finite(x):
    """Non-finite floats as the strings "inf", "-inf" and "nan", which JSON has no word for."""
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, list):
        return [finite(v) for v in x]
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    return x


def main(path: str) -> None:
    data = open(path, "rb").read()
    out = {"file_version": None, "scalars": [], "histograms": [], "session_logs": [],
           "hparams": []}
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
            elif number == 6:
                log = {"step": step, "status": 0, "msg": ""}
                for ln, _, lv in fields(value):
                    if ln == 1:
                        log["status"] = lv
                    elif ln == 3:
                        log["msg"] = lv.decode()
                out["session_logs"].append(log)
            elif number == 5:
                for n, _, v in fields(value):
                    if n != 1:
                        continue
                    tag, scalar, histo, plugin, content, tensor = None, None, None, None, None, None
                    for vn, _, vv in fields(v):
                        if vn == 1:
                            tag = vv.decode()
                        elif vn == 2:
                            (scalar,) = struct.unpack("<f", vv)
                        elif vn == 5:
                            histo = histogram(vv)
                        elif vn == 8:  # TensorProto: 1 dtype, 5 float_val (packed)
                            tensor = {"dtype": 0, "float_val": []}
                            for tn, tw, tv in fields(vv):
                                if tn == 1:
                                    tensor["dtype"] = tv
                                elif tn == 5:
                                    tensor["float_val"] += ([x[0] for x in struct.iter_unpack("<f", tv)]
                                                            if tw == 2 else list(struct.unpack("<f", tv)))
                        elif vn == 9:
                            for mn, _, mv in fields(vv):
                                if mn == 1:
                                    for pn, _, pv in fields(mv):
                                        if pn == 1:
                                            plugin = pv.decode()
                                        elif pn == 2:
                                            content = pv
                    if histo is not None:
                        out["histograms"].append({"step": step, "tag": tag, **histo})
                    elif plugin is not None:
                        record = {"tag": tag, "plugin": plugin, "tensor": tensor}
                        if plugin == "hparams":
                            record.update(hparams_data(content or b""))
                        out["hparams"].append(record)
                    else:
                        out["scalars"].append({"step": step, "tag": tag, "value": scalar})
    print(json.dumps(finite(out)))


if __name__ == "__main__":
    main(sys.argv[1])
