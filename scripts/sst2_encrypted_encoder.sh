#!/bin/sh
# docs/transformer.md, "The whole encoder under CKKS": the HE-friendly
# 1-layer SST-2 model (seed 1, c = 5) of scripts/sst2_hefriendly.sh run
# whole under CKKS on the first N dev sentences, and BenchmarkEncoder (1
# and 2 layers at the real shape, random weights). Writes $OUT/infer.json
# and $OUT/bench.txt.
#
#   sh scripts/sst2_encrypted_encoder.sh            # N=100 (GOGC=50 keeps it at 2.7 GB)
#   N=872 sh scripts/sst2_encrypted_encoder.sh      # the whole dev set (hours)
set -eu
OUT=${OUT:-out/sst2enc}
N=${N:-100}
MODEL=${MODEL:-out/sst2he/he1_c5_1.gob}
mkdir -p "$OUT"
[ -f "$MODEL" ] || SEEDS=1 LAYERS=1 SWEEP=0 sh scripts/sst2_hefriendly.sh
go build -o "$OUT/krelu" ./cmd/krelu
GOGC=${GOGC:-50} nice -n 10 "$OUT/krelu" sst2 infer --model "$MODEL" --encrypted --dev-limit "$N" --json >"$OUT/infer.json"
cat "$OUT/infer.json"
nice -n 10 go test ./henn -run '^$' -bench Encoder -benchtime 3x -timeout 180m | tee "$OUT/bench.txt"
