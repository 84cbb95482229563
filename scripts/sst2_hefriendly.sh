#!/bin/sh
# The HE-friendly SST-2 encoder of docs/transformer.md ("The whole encoder
# made HE-friendly"): for each seed and depth, train the softmax/LayerNorm
# ReLU model, fit the kernel quadratic to its FFN pre-activations with
# `sst2 swap`, and train the HE-friendly encoder (2Quad attention, affine
# normalisation) with that quadratic from the start; on seed 1, 1 layer, a
# sweep of the attention shift c, the normalisation's initial scale, the
# FFN activation, learning rate, epochs and distillation (--teacher). Runs whose model file exists are not repeated (delete
# $OUT to start over). Writes the raw outputs and summary.md under $OUT.
#
#   sh scripts/sst2_hefriendly.sh                 # the docs' table: seeds 1 2 3, layers 1 2
#   SEEDS=1 LAYERS=1 SWEEP=0 sh scripts/sst2_hefriendly.sh
set -eu
OUT=${OUT:-out/sst2he}
SEEDS=${SEEDS:-"1 2 3"}
LAYERS=${LAYERS:-"1 2"}
SWEEP=${SWEEP:-1}
C=${C:-5}
COMMON=${COMMON:-"--epochs 4 --per-epoch 20000 --dim 64 --heads 4 --hidden 128 --max-len 64 --batch 32 --lr 1e-3 --clip 1"}
mkdir -p "$OUT"
go build -o "$OUT/krelu" ./cmd/krelu
K="nice -n 10 $OUT/krelu"

# train NAME FLAGS...: train $OUT/NAME.gob unless it exists.
train() {
	name=$1
	shift
	[ -f "$OUT/$name.gob" ] && return 0
	$K sst2 train $COMMON "$@" -o "$OUT/$name.gob.tmp" >"$OUT/train_$name.txt" 2>"$OUT/train_$name.log" || {
		echo "$name: training failed, see $OUT/train_$name.log" >&2
		return 0
	}
	mv "$OUT/$name.gob.tmp" "$OUT/$name.gob"
}

# relu model and its kernel quadratic for layers $1, seed $2.
base() {
	train "relu$1_$2" --layers "$1" --seed "$2"
	[ -f "$OUT/acts$1_$2/kernel2.json" ] || {
		mkdir -p "$OUT/acts$1_$2"
		$K sst2 swap -m "$OUT/relu$1_$2.gob" --calib 2000 -o "$OUT/acts$1_$2" >"$OUT/swap$1_$2.txt" 2>/dev/null
	}
}

for l in $LAYERS; do
	for s in $SEEDS; do
		base "$l" "$s"
		train "he${l}_c${C}_$s" --layers "$l" --seed "$s" --he-friendly --quad-shift "$C" --activation "$OUT/acts${l}_$s/kernel2.json"
	done
done

if [ "$SWEEP" = 1 ]; then
	base 1 1
	k2="$OUT/acts1_1/kernel2.json"
	for c in 1 2 5 10 20; do
		train "he1_c${c}_1" --layers 1 --seed 1 --he-friendly --quad-shift "$c" --activation "$k2"
	done
	train he1_c5_ones_1 --layers 1 --seed 1 --he-friendly --quad-shift 5 --norm-init ones --activation "$k2"
	train he1_c5_relu_1 --layers 1 --seed 1 --he-friendly --quad-shift 5
	train he1_c5_lr3_1 --layers 1 --seed 1 --he-friendly --quad-shift 5 --activation "$k2" --lr 3e-3
	train he1_c5_ep8_1 --layers 1 --seed 1 --he-friendly --quad-shift 5 --activation "$k2" --epochs 8
	# distillation from the softmax/ReLU model of the same seed and shape
	train he1_c5_kd_1 --layers 1 --seed 1 --he-friendly --quad-shift 5 --activation "$k2" --teacher "$OUT/relu1_1.gob" --distill-weight 0.5 --distill-temp 2
	base 2 1
	train he2_c5_kd_1 --layers 2 --seed 1 --he-friendly --quad-shift 5 --activation "$OUT/acts2_1/kernel2.json" --teacher "$OUT/relu2_1.gob" --distill-weight 0.5 --distill-temp 2
fi

# Summary: the dev accuracy each training run printed.
{
	echo "| run | dev accuracy % | last-epoch train acc % | per-epoch dev acc % |"
	echo "|---|---|---|---|"
	for f in "$OUT"/train_*.txt; do
		n=$(basename "$f" .txt | sed 's/^train_//')
		acc=$(awk '/^dev accuracy/ { printf "%.2f", 100 * $3 }' "$f")
		[ -n "$acc" ] || acc="failed: $(tail -n 1 "$OUT/train_$n.log")"
		tr=$(awk '/^epoch/ { t = $7 } END { printf "%.2f", 100 * t }' "$OUT/train_$n.log")
		ep=$(awk '/^epoch/ { printf "%s%.2f", sep, 100 * $10; sep = " " }' "$OUT/train_$n.log")
		echo "| $n | $acc | $tr | $ep |"
	done
	echo
	# mean ± sample std over seeds of each model kind (name without _seed)
	for f in "$OUT"/train_*.txt; do
		n=$(basename "$f" .txt | sed 's/^train_//')
		awk -v n="$n" '/^dev accuracy/ { k = n; sub(/_[0-9]+$/, "", k); print k, $3 }' "$f"
	done | awk '
		{ if (!($1 in c)) order[++m] = $1; c[$1]++; s[$1] += $2; q[$1] += $2 * $2; v[$1] = v[$1] sep[$1] sprintf("%.2f", 100 * $2); sep[$1] = " / " }
		END {
			print "| model | dev accuracy % (mean ± sample std) | seeds | per seed |"
			print "|---|---|---|---|"
			for (i = 1; i <= m; i++) { k = order[i]; n = c[k]
				sd = n > 1 ? sqrt((q[k] - s[k] * s[k] / n) / (n - 1)) : 0
				printf "| %s | %.2f ± %.2f | %d | %s |\n", k, 100 * s[k] / n, 100 * sd, n, v[k] }
		}'
} >"$OUT/summary.md"
cat "$OUT/summary.md"
