#!/usr/bin/env python3
"""The logistic map x -> r x (1 - x): its Lyapunov exponent at one r (negative: a stable cycle,
positive: chaos), and the attractor's points, written to a file of its own. A stand-in for any
program a user already has: arguments in, a line of results on stdout, a file on disk.

    python3 logistic.py --r 3.7 --x0 0.2 --steps 200000 --out attractor.txt
"""

import argparse
import math
import os
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--r", type=float, required=True)
    p.add_argument("--x0", type=float, default=0.5)
    p.add_argument("--steps", type=int, default=100000)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    if not 0.0 < a.r <= 4.0:
        sys.exit(f"logistic.py: r = {a.r} is outside (0, 4]")
    x = a.x0
    for _ in range(1000):  # transient
        x = a.r * x * (1.0 - x)
    total = 0.0
    points = set()
    for _ in range(a.steps):
        x = a.r * x * (1.0 - x)
        total += math.log(max(abs(a.r * (1.0 - 2.0 * x)), 1e-300))
        if len(points) < 512:
            points.add(round(x, 6))
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w") as f:
        f.write("\n".join(f"{v:.6f}" for v in sorted(points)) + "\n")
    print(f"r={a.r:.4f} lyapunov={total / a.steps:.6f} points={len(points)}")


if __name__ == "__main__":
    main()
