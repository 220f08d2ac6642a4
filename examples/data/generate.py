"""Writes the small CSV files the README's `tide fit` examples use: noisy samples of known
functions, with a fixed seed, so anyone can regenerate them (python3 generate.py)."""
import math
import random

rng = random.Random(7)


def write(name, header, rows):
    with open(name, "w") as f:
        f.write(header + "\n")
        for row in rows:
            f.write(",".join(f"{v:.6g}" for v in row) + "\n")


# y = 1 + x - 0.5 x^3 on [-2, 2], noise 0.3: the capacity sweep's data.
write("cubic.csv", "x,y",
      [(x, 1 + x - 0.5 * x ** 3 + rng.gauss(0, 0.3)) for x in (-2 + 4 * i / 59 for i in range(60))])
# Growth N e^(r t) with N = 3, r = 0.4 and 3 % multiplicative noise.
write("growth.csv", "day,count",
      [(t, 3 * math.exp(0.4 * t) * (1 + rng.gauss(0, 0.03))) for t in (i * 0.25 for i in range(40))])
# A dose-response fraction 1 / (1 + e^-(a + b dose)) with a = -3, b = 1.5.
write("dose.csv", "dose,response",
      [(d, min(1.0, max(0.0, 1 / (1 + math.exp(-(-3 + 1.5 * d))) + rng.gauss(0, 0.02))))
       for d in (i * 0.1 for i in range(41))])
# Michaelis-Menten-like saturation (1 + 2 s) / (1 + 0.5 s): a rational function.
write("saturation.csv", "s,rate",
      [(s, (1 + 2 * s) / (1 + 0.5 * s) + rng.gauss(0, 0.01)) for s in (i * 0.1 for i in range(51))])
# A plane with three inputs: y = 1 + 2 a - 3 b + 0.05 c.
rows = []
for _ in range(200):
    a, b, c = rng.uniform(0, 4), rng.uniform(-5, 5), rng.uniform(0, 100)
    rows.append((a, b, c, 1 + 2 * a - 3 * b + 0.05 * c + rng.gauss(0, 0.1)))
write("plane.csv", "a,b,c,y", rows)
