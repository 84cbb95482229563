#!/usr/bin/env bash
# Load test of krelu serve (docs/serve.md): builds krelu and the driver,
# writes the 784-128-10 MNIST checkpoint, starts `krelu serve` on
# 127.0.0.1 (loopback only), drives it with CLIENTS concurrent encrypted
# clients for DURATION or MAX_REQUESTS requests, whichever comes first, then
# stops the server. Prints the driver's JSON: requests, errors, p50/p99
# latency and the server's peak RSS (VmHWM).
#
#   bash scripts/serve_load.sh                          # 8 clients, 10 minutes
#   DURATION=20s CLIENTS=2 bash scripts/serve_load.sh   # a quick look
#
# Everything runs under nice -n 10: the machine may be shared.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-8}
DURATION=${DURATION:-10m}
MAX_REQUESTS=${MAX_REQUESTS:-100000}
BATCH=${BATCH:-8}
PORT=${PORT:-18080}
SERVE_FLAGS=${SERVE_FLAGS:-}

tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/krelu" ./cmd/krelu
go build -o "$tmp/serveload" ./serve/internal/loadtest/serveload
"$tmp/serveload" -write-model "$tmp/mlp.model"

# shellcheck disable=SC2086
nice -n 10 "$tmp/krelu" serve --model "$tmp/mlp.model" --addr "127.0.0.1:$PORT" $SERVE_FLAGS >"$tmp/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
	if grep -q "serving" "$tmp/serve.log" 2>/dev/null; then break; fi
	if ! kill -0 "$pid" 2>/dev/null; then cat "$tmp/serve.log" >&2; exit 1; fi
	sleep 0.2
done
cat "$tmp/serve.log" >&2
echo "load: $CLIENTS clients, $DURATION, at most $MAX_REQUESTS requests of $BATCH images; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
nice -n 10 "$tmp/serveload" -server "http://127.0.0.1:$PORT" -model "$tmp/mlp.model" -clients "$CLIENTS" \
	-duration "$DURATION" -max-requests "$MAX_REQUESTS" -batch "$BATCH" -pid "$pid"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
