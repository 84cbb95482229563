#!/usr/bin/python3
"""Sum up chunked `krelu infer --encrypted --json` reports (scripts/onnx_experiments.sh)."""
import statistics
import sys

import chunks

n = agree = acc = pacc = 0
err = 0.0
lat, per = [], []
for r, k in chunks.load(sys.argv[1:], "inputs"):
    n += k
    agree += chunks.count(r, "agreement_with_plaintext", k)
    acc += chunks.count(r, "accuracy", k)
    pacc += chunks.count(r, "plaintext_accuracy", k)
    err = max(err, r["max_abs_error_vs_plaintext"])
    lat.append(r["latency_seconds_single"])
    per.append(r["seconds_per_input_amortized"])
    plan = r["encrypted_plan"]
if n == 0:
    sys.exit("no finished chunk")
print(f"{n} images in {len(lat)} chunks: agreement with plaintext {100 * agree / n:.2f}% ({agree}/{n}), "
      f"max |logit error| {err:.3g}, accuracy {100 * acc / n:.2f}% (plaintext {100 * pacc / n:.2f}%)")
print(f"{plan['preset']} LogN {plan['log_n']}, {plan['levels']} levels, {plan['inputs_per_ciphertext']} images per ciphertext, "
      f"{plan['rotation_keys']} rotation keys")
print(f"wall clock per chunk (shared machine): single-image latency median {statistics.median(lat):.3g} s "
      f"[{min(lat):.3g}, {max(lat):.3g}], amortized median {statistics.median(per):.3g} s/image [{min(per):.3g}, {max(per):.3g}]")
