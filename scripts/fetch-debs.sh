#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Download the Debian packages the GPU machine lacks (it has no package
# registry) into third_party/debs/, which git ignores and which travels with
# the checkout. Run it here, on the development machine; scripts/gpu-check.sh
# unpacks them there with dpkg -x, without touching /.
#   scripts/fetch-debs.sh [DEST]          (default third_party/debs)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$ROOT/third_party/debs}
need=(libfuse3-3 libfuse3-dev fuse3 liburing2 liburing-dev check libsubunit0
	libsubunit-dev
	# bench only: the Hyperscan peer of tests/bench_scan.c. Its other
	# dependencies (libc6, libgcc-s1, libstdc++6, debconf) are on every
	# Debian/Ubuntu machine.
	libhyperscan5 libhyperscan-dev)
# pkg-config may be missing on the GPU machine too; optional.
optional=(pkgconf pkgconf-bin libpkgconf3 pkg-config)

command -v apt-get >/dev/null || {
	echo "fetch-debs: no apt-get here. Fix: run this on a Debian/Ubuntu development machine" >&2
	exit 1
}
mkdir -p "$DEST"
cd "$DEST"
if ! apt-get download "${need[@]}"; then
	echo "fetch-debs: apt-get download failed. Fix: run 'apt-get update' (as root) and retry" >&2
	exit 1
fi
for p in "${optional[@]}"; do
	apt-get download "$p" >/dev/null 2>&1 || echo "fetch-debs: optional $p not downloaded"
done
echo "fetch-debs: $(ls -1 ./*.deb | wc -l) packages in $DEST:"
ls -1 ./*.deb
