#!/bin/sh
# docs/serve.md "Serving the transformer encoder": krelu serve, with its
# default limits, on the HE-friendly 1-layer SST-2 model (seed 1, c = 5) of
# scripts/sst2_hefriendly.sh; krelu client --task sst2 on the first N dev
# sentences and on one sentence (--text) with the whole model (which gives
# the plaintext reference), and on that sentence again with the client
# tables alone (krelu sst2 export --client), over loopback. Writes
# $OUT/client.gob and $OUT/export.json (the tables and their sizes),
# $OUT/dev.json, $OUT/text.json, $OUT/text_tables.json and $OUT/server.txt
# (the server's log, its CPU time and resident memory at the end). Needs ≈ 6 GB free (server ≈ 1 GB of shared encoded weights +
# 0.65 GB per session, client ≈ 3 GB while it makes keys).
#
#   sh scripts/serve_sst2.sh            # N=5
#   SERVE_FLAGS="--read-timeout 10m" sh scripts/serve_sst2.sh
#
# On a loaded machine the niced server can take longer than the default
# 1-minute read timeout to receive and decode a 652 MB key upload (408);
# SERVE_FLAGS passes a longer --read-timeout (or any other krelu serve flag).
set -eu
OUT=${OUT:-out/serve_sst2}
N=${N:-5}
MODEL=${MODEL:-out/sst2he/he1_c5_1.gob}
ADDR=${ADDR:-127.0.0.1:18613}
mkdir -p "$OUT"
[ -f "$MODEL" ] || SEEDS=1 LAYERS=1 SWEEP=0 sh scripts/sst2_hefriendly.sh
go build -o "$OUT/krelu" ./cmd/krelu
"$OUT/krelu" sst2 export --model "$MODEL" --client -o "$OUT/client.gob" --json >"$OUT/export.json"
cat "$OUT/export.json"
# The default key limits are sized to the model's key set.
# shellcheck disable=SC2086
nice -n 10 "$OUT/krelu" serve --model "$MODEL" --addr "$ADDR" ${SERVE_FLAGS:-} >"$OUT/server.txt" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for i in $(seq 1 60); do
	grep -q serving "$OUT/server.txt" && break
	sleep 2
done
cat "$OUT/server.txt"
nice -n 10 "$OUT/krelu" client --server "http://$ADDR" --task sst2 --model "$MODEL" --dev-limit "$N" --json >"$OUT/dev.json"
cat "$OUT/dev.json"
TEXT="a gorgeous , witty , seductive movie ."
nice -n 10 "$OUT/krelu" client --server "http://$ADDR" --task sst2 --model "$MODEL" --text "$TEXT" --json >"$OUT/text.json"
cat "$OUT/text.json"
nice -n 10 "$OUT/krelu" client --server "http://$ADDR" --task sst2 --model "$OUT/client.gob" --text "$TEXT" --json >"$OUT/text_tables.json"
cat "$OUT/text_tables.json"
echo "server CPU time (keys of 3 sessions, $N + 2 sentences): $(ps -o cputime= -p $SERVER); $(grep -E 'VmRSS|VmHWM' /proc/$SERVER/status | tr -s ' \t' ' ' | tr '\n' ' ')" | tee -a "$OUT/server.txt"
