#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench: every benchmark of the project, each printing its peer and the
# ratio. Results are recorded by hand in docs/BENCH.md with date and machine.
#   scripts/bench.sh BUILD [backend]
# backend: cpu (default) or cuda, also from MK_BENCH_BACKEND / MK_BACKEND.
# bench_scan (issue 5) streams a file of MK_BENCH_SCAN_MIB MiB (512 on cpu,
# 8192 on cuda) and compares with Hyperscan when it was built with it
# (scripts/deps.sh --bench installs libhyperscan-dev; then rebuild).
set -u
B=${1:-build/release}
backend=${2:-${MK_BENCH_BACKEND:-${MK_BACKEND:-cpu}}}
scan_mib=512
[ "$backend" = cuda ] && scan_mib=8192
echo "== megafs bench: $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -n), $(nproc) cores, backend=$backend"
grep -m1 'model name' /proc/cpuinfo || true
for b in "$B"/tests/bench_*; do
	[ -x "$b" ] || continue
	case $b in *.o | *.d) continue ;; esac
	echo "---- $(basename "$b")"
	case $(basename "$b") in
	bench_runtime) "$b" "$backend" ;;
	bench_scan) "$b" "$backend" "${MK_BENCH_SCAN_MIB:-$scan_mib}" ;;
	*) "$b" ;;
	esac
done
