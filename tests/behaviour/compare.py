#!/usr/bin/python3
"""Compares a behaviour digest with the recorded one.

    tests/behaviour/compare.py EXPECTED ACTUAL

On the CPU the fixture was recorded on (its `cpu` line), every line must be the same: the
models' bytes (SHA-256) and every figure. On another CPU the SHA-256 lines are left out
and numbers need only agree to within the rounding by which CPUs differ: one commit on an
EPYC (AVX2) and on a Xeon (AVX-512) differed by up to 5e-4 of a figure (a CNN's mean
training loss over 24 steps, a cubic term of 2e-4 fitted by SGD), while a changed learning
rate, batch order or loss moves them by percents. Words and whole numbers are always
equal. Exits 1 and prints every line that differs.
"""
import json
import sys

RELATIVE = 2e-3
ABSOLUTE = 1e-6


def parse(path):
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            key, sep, value = line.rstrip("\n").partition(" = ")
            if not sep:
                sys.exit(f"{path}: line {number}: expected 'key = value', got {line!r}")
            rows.append((key, json.loads(value)))
    return rows


def agree(a, b, relative, absolute):
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= relative * max(abs(a), abs(b)) + absolute
    return a == b


def main():
    expected_path, actual_path = sys.argv[1], sys.argv[2]
    expected, actual = parse(expected_path), parse(actual_path)
    same_cpu = dict(expected).get("cpu") == dict(actual).get("cpu")
    if same_cpu:
        print(f"the recorded CPU ({dict(actual).get('cpu')}): bytes and figures must be the same")
        tolerance = (0.0, 0.0)
    else:
        print(f"another CPU ({dict(actual).get('cpu')}, recorded on {dict(expected).get('cpu')}):"
              f" models' bytes not compared, figures within {RELATIVE:g} of each other")
        tolerance = (RELATIVE, ABSOLUTE)
        def kept(rows):
            return [(k, v) for k, v in rows if k != "cpu" and not k.endswith(" model.sha256")]
        expected, actual = kept(expected), kept(actual)
    failures = []
    expected_keys = [k for k, _ in expected]
    actual_keys = [k for k, _ in actual]
    if expected_keys != actual_keys:
        missing = sorted(set(expected_keys) - set(actual_keys))
        extra = sorted(set(actual_keys) - set(expected_keys))
        failures.append(f"the digests list other figures: missing {missing}, new {extra}")
    else:
        for (key, a), (_, b) in zip(expected, actual):
            if not agree(a, b, *tolerance):
                failures.append(f"{key}: expected {json.dumps(a)}, got {json.dumps(b)}")
    for f in failures:
        print(f"{actual_path}: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
