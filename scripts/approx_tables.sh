#!/bin/sh
# Regenerates the tables of docs/approx.md: `krelu compare` on N(0,1),
# uniform[-4,4], Student t(3) and Laplace(1), and `krelu demo` on the
# embedded stories260K token embeddings. Prints Markdown to stdout;
# plots go to ${OUT:-/tmp/krelu-approx-tables}.
set -eu
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/krelu-approx-tables}
mkdir -p "$OUT"
go build -o "$OUT/krelu" ./cmd/krelu || go build -o "$OUT/krelu" cmd/krelu/main.go cmd/krelu/shared.go cmd/krelu/fit.go cmd/krelu/compare.go cmd/krelu/demo.go
K="$OUT/krelu"

# variants prints the kernel row and verdict of other bandwidth choices.
variants() {
	echo "| variant | kernel fit | RMSE | MAE | max\\|err\\| | p99\\|err\\| | verdict vs direct |"
	echo "|---|---|---:|---:|---:|---:|---|"
	for v in "$@"; do
		# the label leaves out the scratch output folder
		"$K" $v | awk -F'|' -v v="$(echo "$v" | sed 's| -out [^ ]*||')" '
			/^\| kernel LS/ { row = sprintf("| `%s` | %s, %s | %s | %s | %s | %s |", v, $2, $4, $6, $7, $8, $9) }
			/Kernel vs direct fit:/ { sub(/.*Kernel vs direct fit: /, ""); sub(/\.$/, ""); gsub(/\|/, "\\|"); print row " " $0 " |" }'
	done
}

for data in normal uniform:-4,4 t:3 laplace:1; do
	echo "### \`krelu compare --data $data\`"
	echo
	"$K" compare --data "$data" --plot "$OUT/compare_$(echo "$data" | tr ':,' '__').png" | grep -v '^wrote '
	echo
	echo "Other bandwidth choices for the kernel row (the other rows do not change):"
	echo
	variants "compare --data $data --bandwidth 0.5" "compare --data $data --criterion mix:0.5" "compare --data $data --criterion max"
	echo
done
echo "### \`krelu demo\` (stories260K token embeddings, held-out tokens)"
echo
"$K" demo --no-he -o "$OUT/demo" | grep -v '^wrote '
echo
variants "demo -o $OUT/demo2 --criterion mix:0.5" "demo -o $OUT/demo3 --criterion max"
echo
echo "### \`krelu demo --data t:3\` (20000 simulated calibration draws, 20000 held-out draws)"
echo
"$K" demo --no-he --data t:3 -o "$OUT/demo_t3" | grep -v '^wrote '
