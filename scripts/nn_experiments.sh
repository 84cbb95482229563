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
# one phase swap wrote (SWAPS=kernel is enough for it); phase
# "augment-encrypted" runs every seed's one under CKKS, REPS times (timings
# vary between repeats, accuracies do not).
# Every command writes one JSON file into $OUT; scripts/nn_summary.py turns
# them into the tables of docs/nn.md. Runs are skipped when their JSON
# exists, so the script can be resumed.
#
# usage: scripts/nn_experiments.sh [phase...]   (phases: swap heaware square encrypted
#        augment augment-encrypted; default the first four; augment = augment-poly
#        (the kernel-quadratic MLP) + augment-relu (the ReLU one and the agreement);
#        sweep: the recipes compared before augment's was chosen; side: docs/nn.md "Side runs";
#        sweep and side need phase swap's ReLU models and kernel activations)
# env:   OUT (default /tmp/krelu-nn-exp), SEEDS (default "1 2 3"), TASKS, ARCHS,
#        SWAPS (post-hoc swaps of phase swap, default all eight),
#        REPS (timing repeats of phase augment-encrypted, default 3),
#        CNN_EPOCHS (default 5), MLP_EPOCHS (default 20),
#        KRELU (default: go build ./cmd/krelu into $OUT/krelu)
# docs/nn.md ran:  ARCHS=mlp scripts/nn_experiments.sh swap heaware square
#                  ARCHS=cnn scripts/nn_experiments.sh swap heaware square
#                  SEEDS=1 scripts/nn_experiments.sh encrypted
#                  TASKS=mnist ARCHS=mlp SWAPS=kernel scripts/nn_experiments.sh swap augment augment-encrypted
#                  (the README's headline MNIST figures; scripts/reproduce.sh nn-headline)
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
SWAPS=${SWAPS:-"kernel deg4 direct direct4 square fastercryptonets minimax2 decision-aware"}
REPS=${REPS:-3}

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
	augment|augment-poly|augment-relu)
		[ "$arch" = mlp ] || continue
		if [ "$phase" != augment-relu ]; then
			run "$b-aug-poly.train.json" "$KRELU" train --task "$task" --arch "$arch" --seed "$seed" $AUG --activation "$b-kernel.act.json" --clip 5 --quiet --json -o "$b-aug-poly.model"
		fi
		if [ "$phase" != augment-poly ]; then
			run "$b-aug-relu.train.json" "$KRELU" train --task "$task" --arch "$arch" --seed "$seed" $AUG --quiet --json -o "$b-aug-relu.model"
			run "$b-aug-poly.eval.json" "$KRELU" eval --model "$b-aug-poly.model" --reference "$b-aug-relu.model" --json
		fi
		;;
	sweep)
		# docs/nn.md "Selection by the validation split": the recipes tried
		# before augment's was chosen (the chosen one is augment's aug-poly).
		[ "$arch" = mlp ] || continue
		run "$b-swap-direct-act.json" "$KRELU" eval --model "$b-relu.model" --swap direct --write-activation "$b-direct.act.json" --json
		while IFS='|' read -r tag act flags; do
			[ -n "$tag" ] || continue
			a=(); [ "$act" = relu ] || a=(--activation "$b-$act.act.json" --clip 5)
			run "$b-sweep-$tag.train.json" "$KRELU" train --task "$task" --arch "$arch" --seed "$seed" --patience 0 --schedule cosine $flags "${a[@]}" --quiet --json -o "$b-sweep-$tag.model"
		done <<-SWEEP
			cos-lr1e-3-e40-shift2|kernel|--lr 1e-3 --epochs 40 --augment shift:2
			cos-lr1e-3-e40-shift2-wd0.05|kernel|--lr 1e-3 --epochs 40 --augment shift:2 --weight-decay 0.05
			cos-lr1e-3-e80-shift2|kernel|--lr 1e-3 --epochs 80 --augment shift:2
			cos-lr3e-3-e40-shift2|kernel|--lr 3e-3 --epochs 40 --augment shift:2
			cos-lr5e-3-e40-shift2|kernel|--lr 5e-3 --epochs 40 --augment shift:2
			cos-lr3e-3-e60-noshift|kernel|--lr 3e-3 --epochs 60
			cos-lr3e-3-e60-shift2-direct|direct|--lr 3e-3 --epochs 60 --augment shift:2
			relu-cos-lr1e-3-e40-shift2|relu|--lr 1e-3 --epochs 40 --augment shift:2
		SWEEP
		;;
	side)
		# docs/nn.md "Side runs" (MLP): a wider HE-aware MLP, and the post-hoc
		# kernel swap with approx's cross-validated bandwidth.
		[ "$arch" = mlp ] || continue
		run "$b-side-w256.train.json" "$KRELU" train --task "$task" --arch "$arch" --seed "$seed" --hidden 256 --epochs 20 --patience 5 --lr-decay 0.9 --activation "$b-kernel.act.json" --clip 5 --quiet --json -o "$b-side-w256.model"
		run "$b-side-bw0.json" "$KRELU" eval --model "$b-relu.model" --swap kernel --bandwidth 0 --json
		;;
	augment-encrypted)
		[ "$arch" = mlp ] || continue
		for r in $(seq 1 "$REPS"); do
			f=$b-encaug-poly.r$r.json
			[ -s "$f" ] || cut -d' ' -f1 /proc/loadavg > "$f.load" # the machine's load, for the summary
			run "$f" "$KRELU" infer --model "$b-aug-poly.model" --encrypted --json
			[ -s "$f.load" ] && [ "$(wc -l < "$f.load")" = 1 ] && cut -d' ' -f1 /proc/loadavg >> "$f.load"
		done
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
