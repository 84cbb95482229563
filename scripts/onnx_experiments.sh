#!/usr/bin/env bash
# Post-hoc compilation of the PyTorch-trained LeNet-5 (models/lenet5.onnx):
# accuracy on the full MNIST test set for each activation fit beside the
# original ReLU model, the per-layer automatic choice, the encrypted run's
# agreement with its plaintext polynomial run, and the latency benchmark.
#
#   bash scripts/onnx_experiments.sh [OUT] [ENCRYPTED_IMAGES]
#
# OUT (default out/onnx) receives the .henn models and JSON reports.
# ENCRYPTED_IMAGES (default 2000) test images run under CKKS, in chunks of
# CHUNK (default 250; one process each, ≈ 9 GB resident; finished chunks are
# kept, so a rerun resumes), with
# MODEL=kernel|direct|minimax|decision|auto (default auto). About 2.5 CPU-seconds
# per image: hours on a shared 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/onnx}
n=${2:-2000}
mkdir -p "$out"
go build -o "$out/krelu" ./cmd/krelu
k="nice -n 10 $out/krelu"

echo "== calibrate on 1,000 MNIST training images, held out: the 10,000 test images"
# /usr/bin/time records each compile's CPU time (user + system seconds).
for m in kernel direct minimax decision auto; do
	/usr/bin/time -f "%U %S" -o "$out/cpu_$m.txt" $k compile models/lenet5.onnx --calib mnist:train --calib-limit 1000 --holdout mnist:test \
		--activation $m -o "$out/lenet5_$m.henn" --json > "$out/compile_$m.json"
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
print(f"{'activation':<10} {'test acc %':>10} {'original %':>10} {'agreement %':>11} {'kernel layers':>13} {'CPU s':>6}  per-layer methods")
for m in ["kernel", "direct", "minimax", "decision", "auto"]:
    r = json.load(open(f"{out}/compile_{m}.json"))
    h, c = r["holdout"], r["calibration"]
    layers = ",".join(l["method"] + (f"/{l['solver']}" if l.get("solver") else "") for l in c["layers"])
    cpu = sum(float(v) for v in open(f"{out}/cpu_{m}.txt").read().split()[-2:])
    print(f"{m:<10} {100*h['accuracy']:>10.2f} {100*h['original_accuracy']:>10.2f} {100*h['agreement_with_original']:>11.2f} "
          f"{c['kernel_chosen']:>6}/{len(c['layers'])}      {cpu:>6.1f}  {layers}")
PY

model=${MODEL:-auto}
chunk=${CHUNK:-250}
echo "== encrypted (CKKS) vs plaintext polynomial run, first $n test images, model lenet5_$model.henn (chunks of $chunk)"
for off in $(seq 0 "$chunk" $((n - 1))); do
	[ -s "$out/enc_${model}_$off.json" ] || $k infer --model "$out/lenet5_$model.henn" --input mnist:test \
		--offset "$off" --limit $((n - off < chunk ? n - off : chunk)) --encrypted --json > "$out/enc_${model}_$off.json"
done
python3 scripts/onnx_encrypted_summary.py "$out"/enc_${model}_*.json

echo "== latency benchmark (Go): LeNet-5 and the MLP with quadratic activations (Orion runs its MLP at LogN 13)"
nice -n 10 go test ./henn -run '^$' -bench 'BenchmarkGraph' -benchtime 3x -count 5 -timeout 60m | tee docs/onnx-bench.txt
