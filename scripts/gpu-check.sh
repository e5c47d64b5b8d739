#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole GPU check of megafs in one command, for the bare GPU machine
# (Ubuntu, nvcc on PATH, no package registry, no fusermount3, no ../shared):
#   scripts/gpu-check.sh
# Steps: unpack third_party/debs (scripts/fetch-debs.sh made them) into
# /tmp/pfx, GPU summary, the PCIe polling probe (tests/probe_poll.cu),
# build (make CUDA=1 into build/gpu-check), the GPU suites, the mixed
# load test (8 writer processes + 4 API threads, 1M commands, exact
# counters), bench_gpu (+ bench_runtime, bench_fs and
# bench_scan on cuda), ab (options against their other setting),
# compute-sanitizer memcheck +
# racecheck on check_parity, the unit suites, mount tests with
# backend=cuda. The GPU steps come first, so they report even when the time
# budget runs out. A failing step is recorded and the next one runs anyway;
# the end is a table "step | result | seconds" (also in $OUT/summary.txt).
# Everything worth keeping goes under $OUT (default build/gpu-check-out): one
# log per step. Exit status: 0 when no step failed.
#   GPU_CHECK_STEPS="build gpu-suites bench"  run only these (deps always)
#   GPU_CHECK_STEPS="gpu-info build raw"  the ring/raw rounds (step raw, not
#                           in the default list: scripts/raw-rounds.sh on
#                           cuda, MK_RAW_ROUNDS=5 rounds of MK_PUBLISH_PARTS
#                           4 / 8 / 1, 1, 2 and 4 writers, host half)
#   GPU_CHECK_DEADLINE=570  seconds for everything: each step's timeout is
#                           clamped to what is left, later steps are
#                           recorded as skipped (a device command gets 600)
#   JOBS=16 MK_PFX=/tmp/pfx MK_DEBS=third_party/debs  overrides
#   SAN_TIMEOUT=240 MK_PARITY_STEPS=12  compute-sanitizer step limits
#   MK_TEST_TIMEOUT=150     per test binary / shell test in the suites
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
OUT=${OUT:-$ROOT/build/gpu-check-out}
mkdir -p "$OUT"
B=build/gpu-check
PFX=${MK_PFX:-/tmp/pfx}
DEBS=${MK_DEBS:-$ROOT/third_party/debs}
JOBS=${JOBS:-16}
ALL_STEPS="gpu-info probe build gpu-suites load-cuda bench ab memcheck racecheck scan-memcheck scan-racecheck unit mount-cuda"
STEPS=${GPU_CHECK_STEPS:-$ALL_STEPS}
LOG=$OUT/gpu-check.log
DEADLINE=${GPU_CHECK_DEADLINE:-570}
export MK_TEST_TIMEOUT=${MK_TEST_TIMEOUT:-150}
START=$(date +%s)
names=() results=() times=()
failed=0

say() { printf '%s\n' "$*" | tee -a "$LOG"; }

now() { date +%s.%N; }

record() { # name result t0
	local s
	s=$(awk -v a="$3" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
	names+=("$1")
	results+=("$2")
	times+=("$s")
	case $2 in FAIL*) failed=1 ;; esac
	say "==== [$1] $2 (${s}s)"
}

# run_step NAME TIMEOUT CMD...: output in $OUT/NAME.log, tail echoed.
# The timeout is clamped to what is left of the deadline.
run_step() {
	local name=$1 tmo=$2 t0 rc res left
	shift 2
	t0=$(now)
	left=$((DEADLINE - ($(date +%s) - START)))
	if [ "$left" -lt 15 ]; then
		record "$name" "SKIP (time budget)" "$t0"
		return 0
	fi
	[ "$tmo" -le "$left" ] || tmo=$left
	say "==== [$name] $*"
	timeout --foreground -k 10 "$tmo" "$@" >"$OUT/$name.log" 2>&1
	rc=$?
	case $rc in
	0) res=PASS ;;
	77) res=SKIP ;;
	124 | 137) res="FAIL (timeout ${tmo}s)" ;;
	*) res="FAIL (rc=$rc)" ;;
	esac
	tail -n "${TAIL:-30}" "$OUT/$name.log" | sed 's/^/    /' | tee -a "$LOG"
	record "$name" "$res" "$t0"
}

want() { [[ " $STEPS " == *" $1 "* ]]; }

# ---- deps: unpack the .debs, point pkg-config and the loader at them -------
step_deps() {
	local t0 f n=0
	t0=$(now)
	mkdir -p "$PFX"
	for f in "$DEBS"/*.deb; do
		[ -f "$f" ] || continue
		dpkg-deb -x "$f" "$PFX" && n=$((n + 1))
	done
	export PKG_CONFIG_SYSROOT_DIR=$PFX
	export PKG_CONFIG_LIBDIR=$PFX/usr/lib/x86_64-linux-gnu/pkgconfig:$PFX/usr/share/pkgconfig
	export PKG_CONFIG_PATH=$PKG_CONFIG_LIBDIR
	export LD_LIBRARY_PATH=$PFX/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	export PATH=$PATH:$PFX/bin:$PFX/usr/bin:/usr/local/cuda/bin
	export MK_NO_FUSERMOUNT=1 # deps.sh: mounts fall back to umount
	say "deps: unpacked $n package(s) from $DEBS into $PFX"
	if [ "$n" -eq 0 ] && ! pkg-config --exists fuse3 liburing check 2>/dev/null; then
		say "deps: no .debs and no system packages. Fix: run scripts/fetch-debs.sh on the dev machine and carry third_party/debs"
		record deps "FAIL (no packages)" "$t0"
		return
	fi
	if pkg-config --exists fuse3 liburing check; then
		say "deps: pkg-config $(command -v pkg-config): $(pkg-config --cflags --libs fuse3 liburing check)"
		record deps PASS "$t0"
	else
		say "deps: pkg-config cannot resolve fuse3 liburing check"
		record deps "FAIL (pkg-config)" "$t0"
	fi
}

step_gpu_info() {
	{
		nvidia-smi --query-gpu=name,driver_version,memory.total,pcie.link.gen.current,pcie.link.width.current,clocks.max.sm,persistence_mode --format=csv
		nvidia-smi
		nvcc --version
		command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer
		uname -a
		nproc
	} 2>&1
}

# probe: tests/probe_poll.cu, the PCIe facts the pollers rest on (read
# latency with 1..8 polling warps; ping-pong with 1..8 pollers).
step_probe() {
	mkdir -p build
	nvcc -O3 -std=c++17 -arch=sm_90 tests/probe_poll.cu -o build/probe_poll &&
		build/probe_poll
}

# The Makefile links .cu objects with gcc; they need libstdc++ unless the
# Makefile already says so (or builds them without C++ runtime needs).
build_extra() {
	if grep -q -- '-lstdc++\|no-threadsafe-statics' Makefile; then
		return
	fi
	echo "LDLIBS=-lpthread -lm -lstdc++"
}

# make -k: one broken target does not hide the others. scripts/deps.sh may
# fail here only because optional dev tools (clang, valgrind) cannot be
# installed without a registry; that alone does not fail the step.
step_build() {
	local extra rc f missing=0
	extra=$(build_extra)
	rm -rf "$B"
	mkdir -p "$(dirname "$B")"
	# shellcheck disable=SC2086
	make -k -j"$JOBS" CUDA=1 B="$B" ${extra:+"$extra"} 2>&1 | tee "$B.make.log"
	rc=${PIPESTATUS[0]}
	[ "$rc" -eq 0 ] && return 0
	for f in libmk.a megafs tests/check_backend_cuda tests/check_parity tests/bench_gpu; do
		[ -e "$B/$f" ] || { echo "build: $B/$f is missing"; missing=1; }
	done
	if [ "$missing" -eq 0 ] && [ "$(grep -c '\*\*\*' "$B.make.log")" -eq \
		"$(grep -c '\*\*\* \[Makefile:[0-9]*: deps\]' "$B.make.log")" ]; then
		echo "build: only scripts/deps.sh failed (no registry here); everything built"
		return 0
	fi
	return "$rc"
}

sanitizer() {
	local cs
	cs=$(command -v compute-sanitizer || true)
	[ -n "$cs" ] || cs=/usr/local/cuda/bin/compute-sanitizer
	[ -x "$cs" ] || cs=/usr/local/cuda/compute-sanitizer/compute-sanitizer
	echo "$cs"
}

# check_scan_cuda runs only its gpu-san case under the sanitizer: the tool
# checks a kernel against the allocations that existed at its launch, and
# the other cases allocate beside the resident kernel (see that case).
step_sanitize() { # tool [suite [tags]]
	local cs
	cs=$(sanitizer)
	if [ ! -x "$cs" ]; then
		echo "compute-sanitizer not found"
		return 77
	fi
	CK_FORK=no CK_INCLUDE_TAGS=${3:-gpu} MK_PARITY_STEPS=${MK_PARITY_STEPS:-12} \
		"$cs" --tool "$1" --error-exitcode 3 "$B/tests/${2:-check_parity}"
}

# bench_scan (issue 5): a page-cached file of MK_BENCH_SCAN_MIB MiB (8 GiB;
# the machine has 128 GiB of RAM) streamed through the kernel vs a pinned
# host-to-device copy, and scanned for 200 literals vs Hyperscan (from
# third_party/debs) on all cores and one. It fails the step only when the
# match counts differ; its summary line goes into the final table.
step_bench() {
	local rc=0
	"$B/tests/bench_gpu" || return
	if [ -x "$B/tests/bench_runtime" ]; then
		echo "---- bench_runtime cuda"
		"$B/tests/bench_runtime" cuda
	fi
	if [ -x "$B/tests/bench_fs" ]; then
		echo "---- bench_fs cuda (file round trips and ring/raw vs a null FUSE server)"
		MK_BUILD=$ROOT/$B timeout 120 "$B/tests/bench_fs" cuda 3000 2>/dev/null || rc=$?
	fi
	if [ -x "$B/tests/bench_scan" ]; then
		echo "---- bench_scan cuda ${MK_BENCH_SCAN_MIB:-8192} MiB (streaming scan vs pinned H2D and Hyperscan)"
		timeout 200 "$B/tests/bench_scan" cuda "${MK_BENCH_SCAN_MIB:-8192}" || rc=$?
	fi
	return "$rc"
}

# ab: options against their other settings in the same run, alternated:
# MK_CUDA_POLLERS=1 / 4 (default) / 6 SQ poller warps and MK_CUDA_DIRECT=0
# / 1 (default) on bench_gpu's round trip; on bench_fs's ring/raw the
# default (big publishes in 4 parts) vs MK_PUBLISH_PARTS=1 (serial) vs
# MK_NT_PUBLISH=1 (streaming stores); then the GPU suites with 1 and 6
# pollers and with MK_CUDA_DIRECT=0.
step_ab() {
	local t v rc=0
	for v in MK_CUDA_POLLERS=1 MK_CUDA_POLLERS=4 MK_CUDA_POLLERS=6 \
		MK_CUDA_DIRECT=0 MK_CUDA_DIRECT=1 MK_CUDA_DIRECT=0 MK_CUDA_DIRECT=1; do
		echo "---- bench_gpu $v (quick)"
		env "$v" MK_BENCH_QUICK=1 timeout 90 "$B/tests/bench_gpu" || rc=1
	done
	for v in "" MK_PUBLISH_PARTS=1 MK_NT_PUBLISH=1 "" MK_PUBLISH_PARTS=1 MK_NT_PUBLISH=1; do
		echo "---- bench_fs cuda ${v:-(defaults)}"
		env $v MK_BUILD="$ROOT/$B" timeout 90 "$B/tests/bench_fs" \
			cuda 300 2>/dev/null || rc=1
	done
	for v in MK_CUDA_POLLERS=1 MK_CUDA_POLLERS=6 MK_CUDA_DIRECT=0; do
		for t in check_backend_cuda check_parity; do
			echo "---- $t $v"
			env "$v" CK_INCLUDE_TAGS=gpu timeout 120 "$B/tests/$t" 2>&1 |
				tail -n 5
			[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
		done
	done
	return "$rc"
}

step_raw() {
	B=$B bash scripts/raw-rounds.sh cuda "${MK_RAW_ROUNDS:-5}" 100
}

step_mount_cuda() {
	local t rc pass=0 fail=0 skip=0
	export MEGAFS_BIN=$ROOT/$B/megafs MK_BUILD=$ROOT/$B MK_BACKEND=cuda
	export MK_FSX_OPS=${MK_FSX_OPS:-200000} MK_SOAK_SECONDS=${MK_SOAK_SECONDS:-20}
	# Tests that mount with MK_BACKEND.
	for t in ${MK_CUDA_SH_TESTS:-tests/sh/test_mount_basic.sh tests/sh/test_mount_stream.sh tests/sh/test_examples.sh tests/sh/test_ring_raw.sh tests/sh/test_fsx.sh tests/sh/test_soak.sh}; do
		[ -f "$t" ] || continue
		echo "==== $t (MK_BACKEND=cuda)"
		timeout --foreground -k 10 "$MK_TEST_TIMEOUT" bash "$t"
		rc=$?
		case $rc in
		0) pass=$((pass + 1)) ;;
		77) skip=$((skip + 1)) ;;
		*) fail=$((fail + 1)) && echo "FAILED: $t (rc=$rc)" ;;
		esac
	done
	echo "mount tests (cuda): $pass passed, $fail failed, $skip skipped"
	[ "$fail" -eq 0 ] || return 1
	[ "$pass" -gt 0 ] || return 77
}

export -f step_gpu_info step_probe step_build build_extra step_sanitize sanitizer \
	step_bench step_ab step_raw step_mount_cuda
export B JOBS ROOT MK_TEST_TIMEOUT

: >"$LOG"
say "== megafs gpu-check $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n), steps: $STEPS"
step_deps
want gpu-info && run_step gpu-info 60 bash -c step_gpu_info
want probe && run_step probe 60 bash -c step_probe
want build && run_step build 400 bash -c step_build
if [ ! -x "$B/tests/check_parity" ] && [ -d "$B" ]; then
	say "note: $B has no test binaries; later steps will fail"
fi
want gpu-suites && run_step gpu-suites 400 env MK_GPU=1 scripts/run-tests.sh "$B"
want load-cuda && run_step load-cuda 240 env MK_BACKEND=cuda \
	MK_LOAD_TOTAL="${MK_LOAD_TOTAL:-1000000}" MK_BUILD="$ROOT/$B" \
	bash tests/sh/test_load.sh
want bench && run_step bench 330 bash -c step_bench
want ab && run_step ab 420 bash -c step_ab
want raw && run_step raw 500 bash -c step_raw
want memcheck && run_step memcheck "${SAN_TIMEOUT:-240}" bash -c "step_sanitize memcheck"
want racecheck && run_step racecheck "${SAN_TIMEOUT:-240}" bash -c "step_sanitize racecheck"
want scan-memcheck && run_step scan-memcheck "${SAN_TIMEOUT:-240}" \
	bash -c "step_sanitize memcheck check_scan_cuda gpu-san"
want scan-racecheck && run_step scan-racecheck "${SAN_TIMEOUT:-240}" \
	bash -c "step_sanitize racecheck check_scan_cuda gpu-san"
want unit && run_step unit 400 scripts/run-tests.sh "$B"
if want mount-cuda; then
	if [ -d tests/sh ]; then
		run_step mount-cuda 400 bash -c step_mount_cuda
	else
		names+=(mount-cuda) results+=("SKIP (no tests/sh)") times+=(0)
	fi
fi

{
	echo
	printf '%-12s | %-22s | %s\n' step result seconds
	printf '%-12s-+-%-22s-+-%s\n' ------------ ---------------------- -------
	for i in "${!names[@]}"; do
		printf '%-12s | %-22s | %s\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"
	done
	if grep -q '^bench_scan summary:' "$OUT/bench.log" 2>/dev/null; then
		printf '%-12s | %s\n' bench_scan \
			"$(grep -m1 '^bench_scan summary:' "$OUT/bench.log" | cut -d' ' -f3-)"
	fi
} | tee "$OUT/summary.txt" | tee -a "$LOG"
exit "$failed"
