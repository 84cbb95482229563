#!/usr/bin/python3
"""Sum up chunked `krelu sst2 infer --encrypted --json` reports (scripts/sst2_encrypted_encoder.sh)."""
import statistics
import sys

import chunks

n = agree = acc = pacc = 0
err = cpu = 0.0
lat, per = [], []
nchunks = 0
for r, k in chunks.load(sys.argv[1:], "sentences"):
    nchunks += 1
    n += k
    agree += chunks.count(r, "agreement_with_plaintext", k)
    acc += chunks.count(r, "accuracy", k)
    pacc += chunks.count(r, "plaintext_accuracy", k)
    err = max(err, r["max_abs_logit_error"])
    cpu += r["cpu_ns"] / 1e9
    lat += [t / 1e9 for t in r["latencies_ns"]]
    head = r
    per.append(f"  {r['_path']}: {k} sentences, CPU {r['cpu_ns'] / 1e9 / k:.2f} s per sentence, "
               f"slowest {max(r['latencies_ns']) / 1e9:.1f} s (sentence {r['latencies_ns'].index(max(r['latencies_ns']))} of the chunk)")
if n == 0:
    sys.exit("no finished chunk")
q = statistics.quantiles(lat, n=10, method="inclusive") if len(lat) > 1 else lat * 9
print(f"{n} dev sentences in {nchunks} chunk(s): agreement with plaintext {100 * agree / n:.2f}% ({agree}/{n}), "
      f"max |logit error| {err:.2g}, encrypted accuracy {100 * acc / n:.2f}% (plaintext {100 * pacc / n:.2f}%)")
print(f"{head['preset']} LogN {head['log_n']}, {head['levels']} levels, {head['rotation_keys']} rotation keys, "
      f"{head['evaluation_key_bytes'] / 1e6:.0f} MB of evaluation keys, {head['workers']} workers")
print(f"seconds per sentence (encrypt+evaluate+decrypt): median {statistics.median(lat):.2f}, "
      f"10th–90th percentile {q[0]:.2f}–{q[-1]:.2f}, min {min(lat):.2f}, max {max(lat):.2f}; "
      f"CPU {cpu / n:.2f} s per sentence (online phase)")
print("server (on ciphertexts): " + ", ".join(head["server_layers"]))
print("client (plaintext): " + ", ".join(head["client_layers"]))
print("per chunk:")
print("\n".join(per))
