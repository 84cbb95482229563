#!/bin/sh
# Regenerates the "HE-friendly stories260K by distillation" section of
# docs/llm.md: `krelu distill` replaces every SiLU of stories260K by a
# degree-2 polynomial and fine-tunes all weights on the KL divergence to
# the original model, on 160 stories the original model sampled (the
# train split of krelu calibrate's --text stories:200), from four starting
# points on the same batches; scored on 20 of the 40 held-out stories and the
# 174 held-out SST-2 dev sentences at each budget. Writes the best run's
# checkpoint to llama2c/model/stories260K-q2.{bin,L0..L4.json}.
# Then `krelu llm-he` runs that model with every FFN block under CKKS
# (docs/llm.md "Encrypted FFNs"; HE_ONLY=1 skips the distillation and runs
# only this part, on the committed checkpoint: about 10 min).
# Markdown on stdout, progress on stderr. About 1 h on a busy shared 2-core
# machine (training stops before a budget it cannot reach within MAX_TIME,
# default 38m, every start at the same budget); STEPS=0,10 for a quick look.
set -eu
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/krelu-llm-distill}
mkdir -p "$OUT"
go build -o "$OUT/krelu" ./cmd/krelu
[ "${HE_ONLY:-0}" = 1 ] || nice -n 10 "$OUT/krelu" distill --stories 200 --seed 1 --starts kernel,direct,square,random \
	--steps "${STEPS:-0,20,60,150}" --max-time "${MAX_TIME:-38m}" --batch 4 --max-len 64 --eval-stories 20 --lr 1e-3 --clip 1 --workers 2 \
	--sample-steps 128 -o "${PREFIX:-llama2c/model/stories260K-q2}"

# Item 4: the saved model with every FFN block under CKKS, on the first 40
# held-out SST-2 sentences (one ciphertext per feature, a position per slot).
P=${PREFIX:-llama2c/model/stories260K-q2}
echo
echo "### krelu llm-he"
echo
A="$P.L0.json,$P.L1.json,$P.L2.json,$P.L3.json,$P.L4.json"
echo '```sh'
echo "krelu llm-he --model $P.bin --activation $A --units 40 --workers 2"
echo '```'
echo
nice -n 10 "$OUT/krelu" llm-he --model "$P.bin" --activation "$A" --units 40 --workers 2
# The N13 preset cannot carry the last layer's outputs: llm-he refuses it
# (exit status 2) before making any key.
echo
echo '```sh'
echo "krelu llm-he --model $P.bin --activation $A --units 40 --workers 2 --logn 13"
if "$OUT/krelu" llm-he --model "$P.bin" --activation "$A" --units 40 --workers 2 --logn 13 2>"$OUT/logn13.err"; then
	echo "llm-he accepted --logn 13: the headroom check no longer refuses it" >&2
	exit 1
fi
cat "$OUT/logn13.err"
echo '```'
