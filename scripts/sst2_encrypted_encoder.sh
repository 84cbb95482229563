#!/bin/sh
# docs/transformer.md, "The whole encoder under CKKS": the HE-friendly
# SST-2 model of scripts/sst2_hefriendly.sh (seed 1, c = 5; 1 layer unless
# MODEL says otherwise; both are trained when MODEL is missing) run whole under CKKS on the first N dev sentences,
# in chunks of CHUNK sentences (one process each; a finished chunk's
# $OUT/infer_OFFSET.json is kept, so a rerun resumes), summed up by
# scripts/sst2_encrypted_summary.py into $OUT/summary.txt; then (BENCH=1)
# BenchmarkEncoder, 1 and 2 layers at the real shape with random weights
# (5 resp. 3 runs of 3 resp. 2 sentences), into $OUT/bench.txt.
#
#   sh scripts/sst2_encrypted_encoder.sh                      # N=100, one chunk
#   N=872 CHUNK=109 BENCH=0 sh scripts/sst2_encrypted_encoder.sh   # the whole dev set (≈ 2 CPU-hours)
#   MODEL=out/sst2he/he2_c5_1.gob OUT=out/sst2enc2 N=60 CHUNK=10 BENCH=0 sh scripts/sst2_encrypted_encoder.sh   # 2 layers (≈ 1 CPU-hour)
set -eu
OUT=${OUT:-out/sst2enc}
N=${N:-100}
CHUNK=${CHUNK:-$N}
BENCH=${BENCH:-1}
MODEL=${MODEL:-out/sst2he/he1_c5_1.gob}
mkdir -p "$OUT"
[ -f "$MODEL" ] || SEEDS=1 LAYERS="1 2" SWEEP=0 sh scripts/sst2_hefriendly.sh
go build -o "$OUT/krelu" ./cmd/krelu
off=0
while [ "$off" -lt "$N" ]; do
	f="$OUT/infer_$off.json"
	if [ -s "$f" ]; then
		# a kept chunk (maybe of another CHUNK): continue after its sentences
		k=$(sed -n 's/^ *"sentences": \([0-9]*\),*$/\1/p' "$f")
	else
		k=$((N - off < CHUNK ? N - off : CHUNK))
		# GOGC=50 keeps the 1-layer run at 2.7 GB instead of 3.6 GB.
		GOGC=${GOGC:-50} nice -n "${NICE:-10}" "$OUT/krelu" sst2 infer --model "$MODEL" --encrypted \
			--dev-offset "$off" --dev-limit "$k" --json >"$f.part"
		mv "$f.part" "$f"
	fi
	off=$((off + k))
done
python3 scripts/sst2_encrypted_summary.py "$OUT"/infer_*.json | tee "$OUT/summary.txt"
[ "$BENCH" = 1 ] || exit 0
# docs/sst2-encoder-bench.txt: on an otherwise idle machine, not niced
{
	go test ./henn -run '^$' -bench 'Encoder/layers1' -benchtime 3x -count 5 -timeout 60m
	go test ./henn -run '^$' -bench 'Encoder/layers2' -benchtime 2x -count 3 -timeout 60m
} | tee "$OUT/bench.txt"
