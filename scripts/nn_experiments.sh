#!/usr/bin/env bash
# nn_experiments.sh — the image-classification experiments of docs/nn.md.
#
# For each task (mnist, fashion), architecture (mlp, cnn) and seed:
#   1. train with ReLU;
#   2. swap ReLU post hoc for every approximation (krelu eval --swap ...);
#   3. train with the kernel quadratic from the start (HE-aware), the
#      quadratic being the one step 2 calibrated on the ReLU model;
#   4. train with x² from the start (CryptoNets).
# then run encrypted inference on the swapped seed-1 models.
# Phase "augment" (MLP; docs/nn.md, "98 % MNIST MLP"): ReLU and kernel-quadratic
# MLPs trained with the recipe selected on the validation split — cosine
# schedule, lr 3e-3, 60 epochs, random ±2-pixel shifts; the quadratic is the
# one phase swap wrote; phase "augment-encrypted" runs the seed-1 one under CKKS.
# Every command writes one JSON file into $OUT; scripts/nn_summary.py turns
# them into the tables of docs/nn.md. Runs are skipped when their JSON
# exists, so the script can be resumed.
#
# usage: scripts/nn_experiments.sh [phase...]   (phases: swap heaware square encrypted
#        augment augment-encrypted; default the first four)
# env:   OUT (default /tmp/krelu-nn-exp), SEEDS (default "1 2 3"), TASKS, ARCHS,
#        CNN_EPOCHS (default 5), MLP_EPOCHS (default 20),
#        KRELU (default: go build ./cmd/krelu into $OUT/krelu)
# docs/nn.md ran:  ARCHS=mlp scripts/nn_experiments.sh swap heaware square
#                  ARCHS=cnn scripts/nn_experiments.sh swap heaware square
#                  SEEDS=1 scripts/nn_experiments.sh encrypted
#                  TASKS=mnist ARCHS=mlp scripts/nn_experiments.sh augment augment-encrypted
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/krelu-nn-exp}
SEEDS=${SEEDS:-"1 2 3"}
TASKS=${TASKS:-"mnist fashion"}
ARCHS=${ARCHS:-"mlp cnn"}
PHASES=${*:-"swap heaware square encrypted"}
mkdir -p "$OUT"
if [ -z "${KRELU:-}" ]; then
	go build -o "$OUT/krelu" ./cmd/krelu
	KRELU=$OUT/krelu
fi
SWAPS="kernel deg4 direct direct4 square fastercryptonets minimax2 decision-aware"

CNN_EPOCHS=${CNN_EPOCHS:-5}
MLP_EPOCHS=${MLP_EPOCHS:-20}
AUG="--patience 0 --schedule cosine --epochs 60 --lr 3e-3 --augment shift:2"
epochs() { if [ "$1" = cnn ]; then echo "--epochs $CNN_EPOCHS --patience 2"; else echo "--epochs $MLP_EPOCHS --patience 3"; fi; }

run() { # run OUTFILE CMD...: run CMD unless OUTFILE exists, its stdout to OUTFILE
	local f=$1; shift
	[ -s "$f" ] && return 0
	echo "+ $*" >&2
	"$@" > "$f.tmp" && mv "$f.tmp" "$f"
}

for phase in $PHASES; do
for task in $TASKS; do
for arch in $ARCHS; do
for seed in $SEEDS; do
	b=$OUT/$task-$arch-s$seed
	case $phase in
	swap)
		run "$b-relu.train.json" "$KRELU" train --task "$task" --arch "$arch" --seed "$seed" $(epochs "$arch") --quiet --json -o "$b-relu.model"
		for s in $SWAPS; do
			extra=()
			if [ "$s" = kernel ]; then extra=(--write-activation "$b-kernel.act.json" -o "$b-kernel.model"); fi
			if [ "$s" = decision-aware ]; then extra=(-o "$b-decision-aware.model"); fi
			run "$b-swap-$s.json" "$KRELU" eval --model "$b-relu.model" --swap "$s" --json "${extra[@]}"
		done
		;;
	heaware)
		run "$b-poly.train.json" "$KRELU" train --task "$task" --arch "$arch" --seed "$seed" $(epochs "$arch") --activation "$b-kernel.act.json" --clip 5 --quiet --json -o "$b-poly.model"
		run "$b-poly.eval.json" "$KRELU" eval --model "$b-poly.model" --reference "$b-relu.model" --json
		;;
	square)
		run "$b-sq.train.json" "$KRELU" train --task "$task" --arch "$arch" --seed "$seed" $(epochs "$arch") --activation square --clip 5 --quiet --json -o "$b-sq.model"
		run "$b-sq.eval.json" "$KRELU" eval --model "$b-sq.model" --reference "$b-relu.model" --json
		;;
	augment)
		[ "$arch" = mlp ] || continue
		run "$b-aug-relu.train.json" "$KRELU" train --task "$task" --arch "$arch" --seed "$seed" $AUG --quiet --json -o "$b-aug-relu.model"
		run "$b-aug-poly.train.json" "$KRELU" train --task "$task" --arch "$arch" --seed "$seed" $AUG --activation "$b-kernel.act.json" --clip 5 --quiet --json -o "$b-aug-poly.model"
		run "$b-aug-poly.eval.json" "$KRELU" eval --model "$b-aug-poly.model" --reference "$b-aug-relu.model" --json
		;;
	augment-encrypted)
		[ "$arch" = mlp ] && [ "$seed" = 1 ] || continue
		run "$b-enc-aug-poly.json" "$KRELU" infer --model "$b-aug-poly.model" --encrypted --json
		;;
	encrypted)
		[ "$seed" = 1 ] || continue
		models="poly kernel decision-aware"
		[ "$arch" = cnn ] && models=poly
		for m in $models; do
			run "$b-enc-$m.json" "$KRELU" infer --model "$b-$m.model" --encrypted --json
		done
		;;
	esac
done
done
done
done
