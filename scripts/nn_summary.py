#!/usr/bin/env python3
"""Summarise the JSON outputs of scripts/nn_experiments.sh as Markdown tables.

usage: scripts/nn_summary.py [OUT]   (default /tmp/krelu-nn-exp)
"""
import glob, json, os, re, statistics, sys

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/krelu-nn-exp"

def load(p):
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

def ms(xs):
    xs = [100 * x for x in xs if x is not None]
    if not xs:
        return "—"
    if len(xs) == 1:
        return f"{xs[0]:.2f} (n=1)"
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}" + ("" if len(xs) >= 3 else f" (n={len(xs)})")

SWAPS = ["kernel", "deg4", "direct", "direct4", "square", "fastercryptonets", "minimax2", "decision-aware"]
LABEL = {"kernel": "kernel deg-2 (ours)", "deg4": "kernel deg-4 (ours)", "direct": "direct LS deg-2",
         "direct4": "direct LS deg-4", "square": "x²", "fastercryptonets": "Faster-CryptoNets 0.25+0.5x+0.125x²",
         "minimax2": "minimax deg-2 on [−max abs u, max abs u]", "decision-aware": "decision-aware quadratic (Li, Wu & Miao)"}

for task in ["mnist", "fashion"]:
    for arch in ["mlp", "cnn"]:
        seeds = sorted({int(m.group(1)) for p in glob.glob(f"{out}/{task}-{arch}-s*-relu.train.json")
                        for m in [re.search(r"-s(\d+)-relu\.train\.json$", p)] if m})  # not -s1-aug-relu
        if not seeds:
            continue
        relu = [load(f"{out}/{task}-{arch}-s{s}-relu.train.json") for s in seeds]
        epochs = [r["epochs_run"] for r in relu if r]
        print(f"\n### {task} {arch} (seeds {', '.join(map(str, seeds))}; ReLU epochs run {epochs})\n")
        print("| model | test accuracy % | agreement with ReLU model % |")
        print("|---|---|---|")
        print(f"| ReLU (trained) | {ms([r['test_accuracy'] for r in relu if r])} | 100 |")
        for sw in SWAPS:
            rs = [load(f"{out}/{task}-{arch}-s{s}-swap-{sw}.json") for s in seeds]
            rs = [r for r in rs if r]
            if rs:
                print(f"| ReLU → {LABEL[sw]}, post hoc | {ms([r['swapped_accuracy'] for r in rs])} | {ms([r['agreement'] for r in rs])} |")
        for tag, lab in [("poly", "kernel deg-2 from the start (HE-aware)"), ("sq", "x² from the start (CryptoNets)")]:
            rs = [load(f"{out}/{task}-{arch}-s{s}-{tag}.eval.json") for s in seeds]
            rs = [r for r in rs if r]
            if rs:
                print(f"| {lab} | {ms([r['accuracy'] for r in rs])} | {ms([r.get('agreement_with_reference') for r in rs])} |")

def keys(r):
    k = r.get("latency_evaluation_key_bytes")
    return f"{k/1e6:.1f}" if k else "—"

enc = sorted(glob.glob(f"{out}/*-enc-*.json"))
if enc:
    print("\n### Encrypted inference\n")
    print("| model | images | accuracy % (plaintext %) | agreement % | amortized ms/image (mode) | single-image latency s | preset | eval keys MB (throughput / latency layout) | input ct KB/image |")
    print("|---|---|---|---|---|---|---|---|---|")
    for p in enc:
        r = load(p)
        if not r:
            continue
        print(f"| {os.path.basename(p)[:-5]} | {r['images']} | {100*r['accuracy']:.2f} ({100*r['plaintext_accuracy']:.2f}) | "
              f"{100*r['agreement_with_plaintext']:.2f} | {1000*r['seconds_per_image_amortized']:.2f} ({r['mode']}) | "
              f"{r['latency_seconds_single']:.3f} ({r['latency_mode']}) | {r['preset']} | {r['evaluation_key_bytes']/1e6:.1f} / {keys(r)} | "
              f"{r['ciphertext_bytes_per_image']/1e3:.1f} |")
