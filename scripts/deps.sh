#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Make sure megafs's build and test dependencies are present; install the
# missing Debian packages when we can (root + apt-get), else say how.
#   scripts/deps.sh          check, install what is missing
#   scripts/deps.sh --dev    the same plus clang, valgrind and Hyperscan (CI)
#   scripts/deps.sh --bench  the same plus Hyperscan (libhyperscan-dev), the
#                            peer of tests/bench_scan.c; rebuild afterwards
#   scripts/deps.sh --check  check only (exit 1 if something is missing)
# On a machine with no package registry (the GPU machine), point
# PKG_CONFIG_PATH at unpacked .debs instead: see scripts/gpu-check.sh.
set -u
need_pc="fuse3 liburing check"
missing_pkgs=()
for pc in $need_pc; do
	if ! pkg-config --exists "$pc" 2>/dev/null; then
		case $pc in
		fuse3) missing_pkgs+=(libfuse3-dev) ;;
		liburing) missing_pkgs+=(liburing-dev) ;;
		check) missing_pkgs+=(check libsubunit-dev) ;;
		esac
	fi
done
command -v pkg-config >/dev/null 2>&1 || missing_pkgs+=(pkg-config)
command -v fusermount3 >/dev/null 2>&1 || [ -n "${MK_NO_FUSERMOUNT:-}" ] ||
	missing_pkgs+=(fuse3)
command -v gcc >/dev/null 2>&1 || missing_pkgs+=(gcc make)
command -v python3 >/dev/null 2>&1 || missing_pkgs+=(python3)
# --dev: also the sanitizer and fuzzing tools (make check-valgrind, make
# fuzz); CI asks for them, a plain build does not need them. --dev and
# --bench: Hyperscan for the bench_scan peer (x86-64 only; make test never
# needs it).
want_hs=0
if [ "${1:-}" = "--dev" ]; then
	shift
	want_hs=1
	command -v clang >/dev/null 2>&1 || missing_pkgs+=(clang)
	command -v valgrind >/dev/null 2>&1 || missing_pkgs+=(valgrind)
elif [ "${1:-}" = "--bench" ]; then
	shift
	want_hs=1
fi
if [ "$want_hs" = 1 ] && [ "$(uname -m)" = x86_64 ] &&
	! pkg-config --exists libhs 2>/dev/null; then
	missing_pkgs+=(libhyperscan-dev)
fi
[ ${#missing_pkgs[@]} -eq 0 ] && exit 0
if [ "${1:-}" = "--check" ]; then
	echo "megafs: missing packages: ${missing_pkgs[*]}" >&2
	exit 1
fi
echo "  DEPS    installing ${missing_pkgs[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v apt-get >/dev/null 2>&1; then
	echo "megafs: missing ${missing_pkgs[*]} and no apt-get." >&2
	echo "Fix: install libfuse3-dev fuse3 liburing-dev check pkg-config by hand." >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends \
	"${missing_pkgs[@]}"; } >/tmp/megafs-deps.log 2>&1; then
	tail -20 /tmp/megafs-deps.log >&2
	echo "megafs: could not install ${missing_pkgs[*]}." >&2
	echo "Fix: run 'sudo apt-get install ${missing_pkgs[*]}' and retry." >&2
	exit 1
fi
exit 0
