#!/usr/bin/python3
"""Compares a behaviour digest with the recorded one: the same lines in the same order,
words and whole numbers equal, other numbers equal to within the rounding by which CPUs
differ.

    tests/behaviour/compare.py EXPECTED ACTUAL

Two builds of one commit on an AVX-512 and an AVX2 machine differ by up to 5e-4 of a
figure (a CNN's mean training loss over 24 steps, a cubic term of 2e-4 fitted by SGD);
a changed learning rate, batch order or loss moves them by percents. Exits 1 and prints
every line that differs.
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


def agree(a, b):
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= RELATIVE * max(abs(a), abs(b)) + ABSOLUTE
    return a == b


def main():
    expected_path, actual_path = sys.argv[1], sys.argv[2]
    expected, actual = parse(expected_path), parse(actual_path)
    failures = []
    expected_keys = [k for k, _ in expected]
    actual_keys = [k for k, _ in actual]
    if expected_keys != actual_keys:
        missing = sorted(set(expected_keys) - set(actual_keys))
        extra = sorted(set(actual_keys) - set(expected_keys))
        failures.append(f"the digests list other figures: missing {missing}, new {extra}")
    else:
        for (key, a), (_, b) in zip(expected, actual):
            if not agree(a, b):
                failures.append(f"{key}: expected {json.dumps(a)}, got {json.dumps(b)}")
    for f in failures:
        print(f"{actual_path}: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
