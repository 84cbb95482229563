#!/usr/bin/env python3
"""Turn the raw samples of scripts/seal_compare.sh into the Markdown table docs/he.md quotes.

usage: scripts/seal_compare_summary.py RAW [BUILD_SECONDS RUN_SECONDS]

Per parameter set and operation: the median and range (min–max) over the
rounds of thread CPU ms per operation, and krelu/SEAL as the ratio of the
medians with the range of the per-round ratios (each round ran both sides
back to back, so a round's ratio shares its machine load).
"""
import re, statistics, sys

raw = sys.argv[1]
secs = sys.argv[2:4]
CHAIN = {13: "{60,40,40,60}", 14: "{60,40×4,60}", 15: "{60,40×8,60}"}
# (round, logn, impl, op) -> cpu ms per op
s = {}
header = []
for line in open(raw):
    line = line.rstrip("\n")
    if line.startswith("#"):
        header.append(line[2:])
        continue
    m = re.match(r"round=(\d+) seal logn=(\d+) chain=\S+ op=(\w+) iters=\d+ cpu_ms=([\d.]+) wall_ms=([\d.]+)", line)
    if m:
        s[(int(m[1]), int(m[2]), "seal", m[3])] = float(m[4])
        continue
    m = re.match(r"round=(\d+) krelu BenchmarkActivation/SEAL-N(\d+)-\S+/top/(\w+)-\d+\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) cpu-ms/op", line)
    if m:
        s[(int(m[1]), int(m[2]), "krelu", m[3])] = float(m[4])
        continue
    if line.strip():
        sys.exit(f"seal_compare_summary.py: unparsed line in {raw}: {line}")
if not s:
    sys.exit(f"seal_compare_summary.py: no samples in {raw}")

rounds = sorted({k[0] for k in s})
logns = sorted({k[1] for k in s})

def samples(logn, impl, op):
    return [s[(r, logn, impl, op)] for r in rounds if (r, logn, impl, op) in s]

def cell(xs):
    return f"{statistics.median(xs):.2f} [{min(xs):.2f}–{max(xs):.2f}]"

def ratio(logn, a, b):
    xa, xb = samples(logn, *a), samples(logn, *b)
    per = [s[(r, logn) + a] / s[(r, logn) + b] for r in rounds if (r, logn) + a in s and (r, logn) + b in s]
    return f"{statistics.median(xa) / statistics.median(xb):.2f} [{min(per):.2f}–{max(per):.2f}]"

print("<!-- written by scripts/seal_compare.sh; do not edit by hand -->")
print(f"krelu (Lattigo) against Microsoft SEAL 4.1.2, same N, chain and scale 2^40, fresh ciphertext at the top level.")
print(f"Thread CPU ms per operation: median [min–max] over {len(rounds)} interleaved rounds; ratio = krelu / SEAL")
print("(ratio of the medians [range of the per-round ratios]; < 1: krelu faster).\n")
print("| N | chain | krelu square | SEAL square | square ratio | krelu degree 2 (1 level) | SEAL degree 2 (2 levels) | degree-2 ratio | krelu generic degree 2 (Lattigo, 2 levels) | generic / SEAL |")
print("|---|---|---|---|---|---|---|---|---|---|")
for l in logns:
    print(f"| {1 << l} | {CHAIN[l]} | {cell(samples(l, 'krelu', 'square'))} | {cell(samples(l, 'seal', 'square'))} | "
          f"{ratio(l, ('krelu', 'square'), ('seal', 'square'))} | {cell(samples(l, 'krelu', 'quad'))} | "
          f"{cell(samples(l, 'seal', 'poly2'))} | {ratio(l, ('krelu', 'quad'), ('seal', 'poly2'))} | "
          f"{cell(samples(l, 'krelu', 'generic'))} | {ratio(l, ('krelu', 'generic'), ('seal', 'poly2'))} |")
print()
for h in header:
    print(f"- {h}")
if len(secs) == 2:
    print(f"- wall time: {secs[0]} s to build (SEAL is built only on the first run), {secs[1]} s for the rounds")
