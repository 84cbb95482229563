#!/bin/sh
# SST-2 transformer experiments of docs/transformer.md: for each seed, train a
# ReLU model, swap its FFN activation post hoc (fits calibrated on the
# model's own FFN pre-activations over 2,000 training sentences), train with
# the kernel quadratic and with x² from the start, and run the FFN tail under
# CKKS for seed 1. Writes raw outputs and summary.md under $OUT.
#
#   sh scripts/sst2_experiments.sh            # 3 seeds, the docs' figures
#   SEEDS="1" ENCRYPTED=0 TWO_LAYERS=0 sh scripts/sst2_experiments.sh
set -eu
OUT=${OUT:-/tmp/sst2-exp}
SEEDS=${SEEDS:-"1 2 3"}
ENCRYPTED=${ENCRYPTED:-1}
COMMON=${COMMON:-"--epochs 4 --per-epoch 20000 --layers 1 --dim 64 --heads 4 --hidden 128 --max-len 64 --batch 32 --lr 1e-3 --clip 1"}
mkdir -p "$OUT"
go build -o "$OUT/krelu" ./cmd/krelu
K="$OUT/krelu"
for s in $SEEDS; do
	$K sst2 train $COMMON --seed "$s" -o "$OUT/relu_$s.gob" >"$OUT/train_relu_$s.txt" 2>"$OUT/train_relu_$s.log"
	mkdir -p "$OUT/acts_$s"
	$K sst2 swap -m "$OUT/relu_$s.gob" --calib 2000 -write "$OUT/acts_$s" >"$OUT/swap_$s.txt" 2>/dev/null
	for a in kernel2 square; do
		act="$OUT/acts_$s/$a.json"
		$K sst2 train $COMMON --seed "$s" --activation "$act" -o "$OUT/${a}_$s.gob" >"$OUT/train_${a}_$s.txt" 2>"$OUT/train_${a}_$s.log"
		$K sst2 eval -m "$OUT/${a}_$s.gob" --ref "$OUT/relu_$s.gob" >"$OUT/eval_${a}_$s.txt" 2>/dev/null
	done
done
s=$(echo $SEEDS | cut -d' ' -f1)
if [ "$ENCRYPTED" = 1 ]; then
	$K sst2 infer -m "$OUT/kernel2_$s.gob" --encrypted >"$OUT/infer_trained_$s.txt" 2>/dev/null
	$K sst2 infer -m "$OUT/relu_$s.gob" --activation "$OUT/acts_$s/kernel2.json" --encrypted >"$OUT/infer_posthoc_$s.txt" 2>/dev/null
	# latency on a short run, less exposed to other load on the machine
	$K sst2 infer -m "$OUT/kernel2_$s.gob" --encrypted --dev-limit 32 >"$OUT/infer_latency_$s.txt" 2>/dev/null
fi
if [ "${TWO_LAYERS:-1}" = 1 ]; then
	mkdir -p "$OUT/acts_l2_$s"
	$K sst2 train $COMMON --layers 2 --seed "$s" -o "$OUT/relu_l2_$s.gob" >"$OUT/train_relu_l2_$s.txt" 2>"$OUT/train_relu_l2_$s.log"
	$K sst2 swap -m "$OUT/relu_l2_$s.gob" --calib 2000 -write "$OUT/acts_l2_$s" >"$OUT/swap_l2_$s.txt" 2>/dev/null
fi

# Summary: mean ± sample std over seeds of dev accuracy and agreement with
# the seed's ReLU model.
{
	for s in $SEEDS; do
		awk -v s="$s" '$1 ~ /^(relu|kernel2|ls2|square|minimax2|kernel4)$/ && $2 ~ /^0\./ { print ($1 == "relu" ? "relu" : "post-hoc " $1), $2, $3 }' "$OUT/swap_$s.txt"
		for a in kernel2 square; do
			awk -v a="$a" '/^dev accuracy/ { acc = $3 } /^agreement with/ { ag = $NF } END { print "trained " a, acc, ag }' "$OUT/eval_${a}_$s.txt"
		done
	done
} | awk '
	{ k = $1; if (NF == 4) { k = $1 " " $2; a = $3; g = $4 } else { a = $2; g = $3 }
	  if (!(k in n)) order[++m] = k
	  n[k]++; sa[k] += a; qa[k] += a * a; sg[k] += g; qg[k] += g * g }
	function sd(s, q, n) { return n > 1 ? sqrt((q - s * s / n) / (n - 1)) : 0 }
	END {
		print "| model | dev accuracy % | agreement with ReLU % | seeds |"
		print "|---|---|---|---|"
		for (i = 1; i <= m; i++) { k = order[i]
			printf "| %s | %.2f ± %.2f | %.2f ± %.2f | %d |\n", k, 100 * sa[k] / n[k], 100 * sd(sa[k], qa[k], n[k]), 100 * sg[k] / n[k], 100 * sd(sg[k], qg[k], n[k]), n[k] }
	}' >"$OUT/summary.md"
cat "$OUT/summary.md"
