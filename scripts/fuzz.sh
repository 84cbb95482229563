#!/usr/bin/env bash
# Runs every fuzz target of krelu's decoders of untrusted bytes, one at a
# time, for FUZZTIME (default 10^6 executions each), and prints one markdown
# row per target: package, target, executions, wall time, new corpus
# entries, result. docs/fuzz.md records a run of this script.
#
#   bash scripts/fuzz.sh                     # all targets, 10^6 executions
#   FUZZTIME=20s bash scripts/fuzz.sh he nn  # the targets of packages he and nn
#   bash scripts/fuzz.sh serve:FuzzInferBody  # one target
#
#   FUZZPARALLEL=1 FUZZNICE=19 bash scripts/fuzz.sh he:FuzzReadPublicKey  # run C's settings
#
# FUZZVMEM (KB) caps each go test process's virtual memory (ulimit -v), so
# that an input which makes a decoder allocate gigabytes kills the fuzz
# worker (a reported crash) instead of the machine's other jobs.
#
# The machine is shared: targets run under nice -n FUZZNICE (default 10),
# one after the other, with FUZZPARALLEL workers (default 2).
#
# A third field in a target's line adds go test flags for it. The targets
# whose seeds are kilobytes long (the Lattigo-backed ones and henn's .henn
# reader) bound how many executions the fuzzer spends minimizing each new
# interesting input
# (-fuzzminimizetime 2000x instead of the default 60 s): minimizing one
# kilobyte-sized input takes O(size^2) executions, and in run B that, not
# the decoders, held FuzzReadPublicKey to 170 and FuzzReadBootstrapKeys to
# 50 executions/s (see docs/fuzz.md).
#
# A crash leaves its input in PKG/testdata/fuzz/FuzzX/ (commit it: it
# becomes a regression test of `go test`) and makes the script exit 1.
# After each target a few of the inputs it found are kept as seeds (see
# keep_corpus); `bash scripts/fuzz.sh --keep-only PKG:FuzzX ...` does only that.
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-1000000x}
FUZZPARALLEL=${FUZZPARALLEL:-2}
FUZZNICE=${FUZZNICE:-10}
MIN="-fuzzminimizetime 2000x"
LOG=${FUZZLOG:-$(mktemp -d)/fuzz}
mkdir -p "$LOG"

targets=(
	"./he FuzzReadCiphertext $MIN"
	"./he FuzzReadParameters"
	"./he FuzzReadPublicKey $MIN"
	"./he FuzzReadEvaluationKeys"
	"./he FuzzReadBootstrapKeys $MIN"
	"./henn FuzzReadCiphertexts $MIN"
	"./henn FuzzReadModel $MIN"
	"./serve FuzzSessionBody $MIN"
	"./serve FuzzInferBody $MIN"
	"./nn FuzzLoad"
	"./transformer FuzzLoad"
	"./activation FuzzReadActivation"
	"./approx FuzzParseSource"
	"./approx FuzzReadSampleText"
	"./npy FuzzRead"
	"./mnist FuzzReadIDX"
	"./format/safetensors FuzzParse"
	"./format/gguf FuzzParse"
	"./format/glove FuzzReadWink"
	"./format/glove FuzzReadText"
	"./llama2c FuzzParse"
	"./llama2c FuzzReadTokenizer"
	"./llama2c FuzzTokenizerRoundTrip"
	"./onnx FuzzReadModel"
	"./onnx FuzzReadTensor"
	"./graph FuzzRunOps"
)

# keep_corpus copies up to KEEP (default 8) of the smallest entries the
# fuzzer found (Go's fuzz cache) into PKG/testdata/fuzz/NAME/, where
# `go test` replays them: a modest seed corpus, not thousands of files.
keep_corpus() {
	local pkg=$1 name=$2 cache
	cache="$(go env GOCACHE)/fuzz/$(go list "$pkg")/$name"
	[ -d "$cache" ] || return 0
	mkdir -p "$pkg/testdata/fuzz/$name"
	# shellcheck disable=SC2012
	ls -S -r "$cache" | head -n "${KEEP:-8}" | while read -r f; do
		cp -n "$cache/$f" "$pkg/testdata/fuzz/$name/"
	done
}

if [ "${1:-}" = "--keep-only" ]; then
	shift
	for t in "$@"; do keep_corpus "./${t%%:*}" "${t#*:}"; done
	exit 0
fi

echo "| package | target | executions | time | new corpus entries | result |"
echo "|---|---|---|---|---|---|"
status=0
for t in "${targets[@]}"; do
	read -r pkg name extra <<<"$t"
	if [ $# -gt 0 ] && [[ " $* " != *" ${pkg#./}:$name "* ]] && [[ " $* " != *" ${pkg#./} "* ]]; then continue; fi
	out="$LOG/${pkg//\//_}_$name.log"
	start=$(date +%s)
	# shellcheck disable=SC2086
	(if [ -n "${FUZZVMEM:-}" ]; then ulimit -v "$FUZZVMEM"; fi
	nice -n "$FUZZNICE" go test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -parallel "$FUZZPARALLEL" ${extra:-} -timeout 0 "$pkg" >"$out" 2>&1)
	rc=$?
	secs=$(($(date +%s) - start))
	last=$(grep -E '^fuzz: elapsed' "$out" | tail -1)
	execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
	newc=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
	if [ $rc -eq 0 ]; then res=ok; else res="FAIL (see $out)"; status=1; fi
	keep_corpus "$pkg" "$name"
	echo "| ${pkg#./} | $name | ${execs:-?} | ${secs} s | ${newc:-0} | $res |"
done
exit $status
