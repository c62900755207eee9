#!/usr/bin/env python3
"""Generates the prune benchmark tree: N small files (seeded) under DIR
(version 1), or turns version 1 into version 2 (20% of files rewritten,
5% deleted, N/20 added). Usage: gen_tree.py DIR N 1|2"""
import os, random, sys
root, n, version = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
words = [("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))) for _ in range(5000)]
def content(i, gen):
    r = random.Random(i * 1000 + gen)
    size = r.randint(200, 8000)
    if i % 4 == 0:  # incompressible quarter
        return r.randbytes(size)
    out = []
    total = 0
    while total < size:
        w = r.choice(words); out.append(w); total += len(w) + 1
    return (" ".join(out)).encode()[:size]
def path(i):
    return os.path.join(root, f"d{i // 10000:03}", f"s{(i // 500) % 20:02}", f"f{i:07}.txt")
if version == 1:
    for i in range(n):
        p = path(i)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f: f.write(content(i, 0))
else:
    r = random.Random(7)
    for i in range(n):
        x = r.random()
        if x < 0.20:  # rewritten
            with open(path(i), "wb") as f: f.write(content(i, 1))
        elif x < 0.25:  # deleted
            os.remove(path(i))
    for i in range(n, n + n // 20):  # added
        p = path(i)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f: f.write(content(i, 0))
