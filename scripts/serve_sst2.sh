#!/bin/sh
# docs/serve.md "Serving the transformer encoder": krelu serve on the
# HE-friendly 1-layer SST-2 model (seed 1, c = 5) of
# scripts/sst2_hefriendly.sh, and krelu client --task sst2 on the first N
# dev sentences and on one sentence (--text), over loopback. Writes
# $OUT/defaults.txt, $OUT/dev.json, $OUT/text.json and $OUT/server.txt (the server's log and
# its CPU time at the end). Needs ≈ 6 GB free (server ≈ 1.6 GB per
# session, client ≈ 3 GB while it makes keys).
#
#   sh scripts/serve_sst2.sh            # N=5
set -eu
OUT=${OUT:-out/serve_sst2}
N=${N:-5}
MODEL=${MODEL:-out/sst2he/he1_c5_1.gob}
ADDR=${ADDR:-127.0.0.1:18613}
mkdir -p "$OUT"
[ -f "$MODEL" ] || SEEDS=1 LAYERS=1 SWEEP=0 sh scripts/sst2_hefriendly.sh
go build -o "$OUT/krelu" ./cmd/krelu
# The default limits (512 MiB upload, 1 GiB key memory) cannot hold this
# model's key set: the server refuses to start, saying so.
"$OUT/krelu" serve --model "$MODEL" --addr "$ADDR" >"$OUT/defaults.txt" 2>&1 || true
cat "$OUT/defaults.txt"
nice -n 10 "$OUT/krelu" serve --model "$MODEL" --addr "$ADDR" --max-key-mb 1024 --max-key-memory-mb 4096 >"$OUT/server.txt" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for i in 1 2 3 4 5 6 7 8 9 10; do
	grep -q serving "$OUT/server.txt" && break
	sleep 2
done
cat "$OUT/server.txt"
nice -n 10 "$OUT/krelu" client --server "http://$ADDR" --task sst2 --model "$MODEL" --dev-limit "$N" --json >"$OUT/dev.json"
cat "$OUT/dev.json"
nice -n 10 "$OUT/krelu" client --server "http://$ADDR" --task sst2 --model "$MODEL" --text "a gorgeous , witty , seductive movie ." --json >"$OUT/text.json"
cat "$OUT/text.json"
echo "server CPU time (keys of 2 sessions, $N + 1 sentences): $(ps -o cputime= -p $SERVER)" | tee -a "$OUT/server.txt"
