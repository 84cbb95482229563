#!/usr/bin/env bash
# seal_compare.sh — krelu's CKKS square and degree-2 activation against
# Microsoft SEAL 4.1.2 at the same ring degree, modulus chain and scale, run
# INTERLEAVED on this machine: every round runs, per parameter set, SEAL's
# benchmark (bench/peers/seal) and krelu's BenchmarkActivation SEAL-chain
# sub-benchmarks (he/bench_test.go) back to back, alternating which goes
# first, so both see the same machine load. Thread CPU time is compared
# (both sides read CLOCK_THREAD_CPUTIME_ID); wall time is kept in the raw file.
#
# usage: scripts/seal_compare.sh [SEAL-4.1.2.tar.gz]
#   archive default: ../shared/peers/SEAL-4.1.2.tar.gz relative to the repository root
# env:   ROUNDS (default 5), ITERS (operations per timed sample, default 5),
#        LOGNS (default "13 14 15"), OUT (default docs/seal-compare.md; the
#        raw samples go beside it as .raw.txt)
# Not part of CI. Measured on the 2-core machine shared with other jobs (load
# average 20–37): building SEAL once took ≈ 11 min (into out/peers/seal,
# gitignored; later runs reuse it), the benchmark ≈ 3 min, the 5 rounds 17 min.
# On an idle machine expect a few minutes for each.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
ITERS=${ITERS:-5}
LOGNS=${LOGNS:-"13 14 15"}
OUT=${OUT:-docs/seal-compare.md}
RAW=${OUT%.md}.raw.txt
case $ROUNDS in ''|*[!0-9]*|0) echo "seal_compare.sh: ROUNDS must be a positive integer, got '$ROUNDS'" >&2; exit 2;; esac
case $ITERS in ''|*[!0-9]*|0) echo "seal_compare.sh: ITERS must be a positive integer, got '$ITERS'" >&2; exit 2;; esac
for l in $LOGNS; do
	case $l in 13|14|15) ;; *) echo "seal_compare.sh: LOGNS entries must be 13, 14 or 15, got '$l'" >&2; exit 2;; esac
done

start=$(date +%s)
seal=$(bench/peers/seal/build.sh "$@" | tail -n 1)
mkdir -p out
go test -c -o out/he.test ./he
built=$(date +%s)

{
	echo "# seal_compare.sh raw samples: $(date -u +%Y-%m-%dT%H:%MZ), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# rounds=$ROUNDS iters=$ITERS; $(go version | cut -d' ' -f3); Lattigo $(go list -m -f '{{.Version}}' github.com/tuneinsight/lattigo/v6); SEAL 4.1.2"
	for r in $(seq 1 "$ROUNDS"); do
		for l in $LOGNS; do
			krelu() {
				# quad-fold and quad-2goroutines are left out: the peer has neither.
				(cd he && ../out/he.test -test.run '^$' -test.bench "^BenchmarkActivation\$/^SEAL-N$l-/^top\$/^(square|quad|generic)\$" \
					-test.benchtime "${ITERS}x" -test.count 1) | grep '^Benchmark' | sed "s/^/round=$r krelu /"
			}
			peer() { "$seal" "$ITERS" "$l" | sed "s/^/round=$r /"; }
			if [ $((r % 2)) = 1 ]; then peer; krelu; else krelu; peer; fi
		done
		echo "round $r done" >&2
	done
	echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$RAW"
end=$(date +%s)
python3 scripts/seal_compare_summary.py "$RAW" "$((built - start))" "$((end - built))" > "$OUT"
cat "$OUT"
