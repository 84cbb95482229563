#!/bin/sh
# Regenerates the tables of docs/approx.md: `krelu compare` on N(0,1),
# uniform[-4,4], Student t(3) and Laplace(1), and `krelu demo` on the
# embedded stories260K token embeddings. Prints Markdown to stdout;
# plots go to ${OUT:-/tmp/krelu-approx-tables}.
set -eu
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/krelu-approx-tables}
mkdir -p "$OUT"
go build -o "$OUT/krelu" ./cmd/krelu
K="$OUT/krelu"
for data in normal uniform:-4,4 t:3 laplace:1; do
	echo "### \`krelu compare --data $data\`"
	echo
	"$K" compare --data "$data" --plot "$OUT/compare_$(echo "$data" | tr ':,' '__').png" | grep -v '^wrote '
	echo
	echo "Fixed bandwidth: \`krelu compare --data $data --bandwidth 0.5\` (first two rows)"
	echo
	"$K" compare --data "$data" --bandwidth 0.5 | sed -n '4,7p;$p'
	echo
done
echo "### \`krelu demo\` (stories260K token embeddings, held-out tokens)"
echo
"$K" demo -out "$OUT/demo" | grep -v '^wrote '
