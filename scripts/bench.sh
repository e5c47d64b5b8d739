#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench: every benchmark of the project, each printing its peer and the
# ratio. Results are recorded by hand in docs/BENCH.md with date and machine.
#   scripts/bench.sh BUILD [backend]
set -u
B=${1:-build/release}
backend=${2:-${MK_BACKEND:-cpu}}
echo "== megafs bench: $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -n), $(nproc) cores, backend=$backend"
grep -m1 'model name' /proc/cpuinfo || true
for b in "$B"/tests/bench_*; do
	[ -x "$b" ] || continue
	case $b in *.o | *.d) continue ;; esac
	echo "---- $(basename "$b")"
	case $(basename "$b") in
	bench_runtime) "$b" "$backend" ;;
	*) "$b" ;;
	esac
done
