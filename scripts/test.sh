#!/usr/bin/env bash
# The test command of README.md: set-up, static checks, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.deps/*'))
if [ -n "$bad" ]; then echo "gofmt would change:"; echo "$bad"; exit 1; fi
echo "== go vet"
go vet ./...
echo "== go test"
go test -count=1 -timeout 30m ./...
echo "== go test -race (packages that run goroutines)"
go test -count=1 -race -short -timeout 30m ${RACE_PKGS:-./he/... ./henn/... ./approx/... ./llama2c/... ./nn/... ./serve/... ./distill/... ./cmd/krelu/...}
