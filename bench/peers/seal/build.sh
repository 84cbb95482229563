#!/usr/bin/env bash
# build.sh — build Microsoft SEAL 4.1.2 from its source archive and the peer
# benchmark bench/peers/seal/seal_bench.cpp against it.
#
# usage: bench/peers/seal/build.sh [SEAL-4.1.2.tar.gz]
#   archive default: ../shared/peers/SEAL-4.1.2.tar.gz relative to the repository root
#   env BUILD (default: <repo>/out/peers/seal, gitignored) holds the extracted
#   source, the CMake build, the install prefix and the benchmark binary.
# SEAL is built once (≈ 11 min on 2 cores under heavy load); later calls only
# rebuild the benchmark. Nothing from SEAL is committed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
archive=${1:-$root/../shared/peers/SEAL-4.1.2.tar.gz}
BUILD=${BUILD:-$root/out/peers/seal}
JOBS=${JOBS:-2}
want=d6b422b79deeeb2583424ce7340727ab4267645bcdb3381a607dfd3db83e2664

for tool in cmake g++ tar sha256sum; do
	command -v "$tool" >/dev/null || { echo "build.sh: $tool not found (Debian: apt-get install -y cmake g++)" >&2; exit 1; }
done
if [ ! -f "$BUILD/install/lib/libseal-4.1.a" ]; then
	[ -f "$archive" ] || { echo "build.sh: SEAL archive not found: $archive (pass its path as the first argument)" >&2; exit 1; }
	got=$(sha256sum "$archive" | cut -d' ' -f1)
	[ "$got" = "$want" ] || { echo "build.sh: $archive has sha256 $got, want $want (SEAL 4.1.2)" >&2; exit 1; }
	mkdir -p "$BUILD"
	rm -rf "$BUILD/SEAL-4.1.2" "$BUILD/build"
	tar -xzf "$archive" -C "$BUILD"
	# Flags from the archive's build notes: no downloaded dependencies, no
	# compression, no Intel HEXL — plain portable C++ as TenSEAL ships it.
	cmake -S "$BUILD/SEAL-4.1.2" -B "$BUILD/build" -DCMAKE_BUILD_TYPE=Release -DSEAL_BUILD_DEPS=OFF \
		-DSEAL_USE_MSGSL=OFF -DSEAL_USE_ZLIB=OFF -DSEAL_USE_ZSTD=OFF -DSEAL_USE_INTEL_HEXL=OFF \
		-DSEAL_BUILD_EXAMPLES=OFF -DSEAL_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$BUILD/install" >&2
	cmake --build "$BUILD/build" -j"$JOBS" >&2
	cmake --install "$BUILD/build" >&2
fi
cmake -S "$here" -B "$BUILD/bench" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$BUILD/install" >&2
cmake --build "$BUILD/bench" -j"$JOBS" >&2
echo "$BUILD/bench/seal_bench"
