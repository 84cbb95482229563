#!/usr/bin/env bash
# reproduce.sh — regenerate every table and figure in docs/ (and the README's
# "Results" section, which quotes them), one phase per doc.
#
# usage: scripts/reproduce.sh [phase...]      (no phase: all of them, in this order)
#
# phase        regenerates                                   wall time on 2 shared cores
# approx       docs/approx.md tables, docs/img/approx_demo_*  ≈ 6 min at load 27–37 (measured; ≈ 10 s idle)
# figures      docs/kernels.md figures and tables             ≈ 40 s (measured)
# he           docs/he.md "krelu he" table, docs/he-bench.txt  ≈ 15 min (estimate)
# seal         docs/seal-compare.md (SEAL 4.1.2 side by side)  ≈ 11 min SEAL build (once) + ≈ 17 min (measured, load 31–37)
# henn         docs/henn.md benchmark blocks                   ≈ 10 min (estimate)
# nn           docs/nn.md tables (2 tasks × 2 archs × 3 seeds) ≈ 5–8 h (estimate)
# nn-headline  README's encrypted MNIST figures (docs/nn.md    ≈ 5 h at load 30–45 (estimate from the parts run:
#              "98 % MNIST MLP": 3 seeds + repeated timings)  38 min per training, 5–10 min per encrypted run)
# llm          docs/llm.md (the commands block of that doc)    ≈ 1 h (estimate)
# sst2         docs/transformer.md                             ≈ 2–3 h (estimate)
#
# Every phase writes its raw outputs under out/reproduce/PHASE (gitignored)
# and prints its tables; figures and raw benchmark files are written into
# docs/ directly. Markdown tables are printed, not spliced into the docs:
# compare them with the doc and paste. The wall time of each phase run is
# appended to out/reproduce/times.txt.
# env: SEAL_ARCHIVE (for phase seal; default ../shared/peers/SEAL-4.1.2.tar.gz)
set -euo pipefail
cd "$(dirname "$0")/.."
ALL="approx figures he seal henn nn nn-headline llm sst2"
PHASES=${*:-$ALL}
for p in $PHASES; do
	case " $ALL " in *" $p "*) ;; *) echo "reproduce.sh: unknown phase '$p' (phases: $ALL)" >&2; exit 2;; esac
done
R=$PWD/out/reproduce
mkdir -p "$R/bin"
go build -o "$R/bin/krelu" ./cmd/krelu
export PATH=$R/bin:$PATH

phase_approx() {
	OUT=$R/approx sh scripts/approx_tables.sh | tee "$R/approx/tables.md"
	cp "$R/approx/demo/demo_curves.png" docs/img/approx_demo_curves.png
	cp "$R/approx/demo/demo_tradeoff.png" docs/img/approx_demo_tradeoff.png
}
phase_figures() {
	go test ./figures -run TestDocsFigures -update -v | tee "$R/figures/log.txt"
}
phase_he() {
	local d=$R/he
	krelu fit --data normal --kernel gaussian --interval -4,4 -o "$d/relu2.json"
	krelu he --activation "$d/relu2.json" --logn 13 --reps 5 --json | tee "$d/he13.json"
	krelu he --activation "$d/relu2.json" --logn 14 --reps 5 --json | tee "$d/he14.json"
	krelu he --activation "$d/relu2.json" --logn 15 --reps 5 --reference --json | tee "$d/he15.json"
	go test -run '^$' -bench Activation -benchtime 10x -count 6 ./he/ | tee docs/he-bench.txt
}
phase_seal() {
	scripts/seal_compare.sh ${SEAL_ARCHIVE:+"$SEAL_ARCHIVE"}
}
phase_henn() {
	local d=$R/henn
	go test ./henn -run '^$' -bench 'MNISTMLP/packed' -benchtime 5x | tee "$d/packed.txt"
	go test ./henn -run '^$' -bench 'MNISTMLP/slots' -benchtime 1x | tee "$d/slots.txt"
	go test ./henn -run '^$' -bench 'FFNBlock' -benchtime 5x | tee "$d/ffn.txt"
	go test ./henn -run '^$' -bench 'SlotsKernel' -benchtime 5x | tee "$d/slots-kernel.txt"
}
phase_nn() {
	local d=$R/nn
	OUT=$d KRELU=$R/bin/krelu ARCHS=mlp scripts/nn_experiments.sh swap heaware square
	OUT=$d KRELU=$R/bin/krelu ARCHS=cnn scripts/nn_experiments.sh swap heaware square
	OUT=$d KRELU=$R/bin/krelu SEEDS=1 scripts/nn_experiments.sh encrypted
	python3 scripts/nn_summary.py "$d" | tee "$d/summary.md"
}
phase_nn-headline() {
	local d=$R/nn-headline
	OUT=$d KRELU=$R/bin/krelu TASKS=mnist ARCHS=mlp SWAPS=kernel scripts/nn_experiments.sh swap augment augment-encrypted
	python3 scripts/nn_summary.py "$d" | tee "$d/summary.md"
}
phase_llm() {
	# The commands block under "## Commands" in docs/llm.md, run as written
	# (it writes to out/llm/): the doc and its generator cannot drift apart.
	awk '/^## Commands/{f=1} f&&/^```sh/{p=1;next} p&&/^```/{exit} p' docs/llm.md > "$R/llm/commands.sh"
	[ -s "$R/llm/commands.sh" ] || { echo "reproduce.sh: no sh block under '## Commands' in docs/llm.md" >&2; return 1; }
	mkdir -p out/llm
	bash -euo pipefail "$R/llm/commands.sh"
}
phase_sst2() {
	OUT=$R/sst2 sh scripts/sst2_experiments.sh
	cat "$R/sst2/summary.md"
}

for p in $PHASES; do
	mkdir -p "$R/$p"
	echo "== reproduce.sh: phase $p ($(date -u +%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
	t0=$(date +%s)
	"phase_$p"
	t=$(($(date +%s) - t0))
	echo "$(date -u +%Y-%m-%dT%H:%MZ) phase $p: ${t} s wall, $(nproc) cores, load at end $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$R/times.txt" >&2
done
