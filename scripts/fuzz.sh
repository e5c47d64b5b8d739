#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build and run the libFuzzer harnesses tests/fuzz/fuzz_*.c (issue 6).
#   scripts/fuzz.sh [SECONDS] [TARGET...]  build, then run each target (all
#                                          of tests/fuzz/fuzz_*.c by default)
#                                          for SECONDS (default $FUZZ_SECONDS,
#                                          else 20): a few minutes in all
#   FUZZ_SECONDS=600 scripts/fuzz.sh       long runs
#   FUZZ_BUILD_ONLY=1 scripts/fuzz.sh      build build/fuzz/fuzz_* only
#   FUZZ_KEEP=1                            keep the /tmp work directory
#   FUZZ_CC=clang-14                       compiler (default clang)
#   FUZZ_OPEN=1                            build with -DMK_FUZZ_OPEN into
#                                          build/fuzz-open: harnesses stop
#                                          steering around open (known,
#                                          unfixed) bugs, to reproduce them
# Each harness lists the runtime sources it links on its "MK_FUZZ_SOURCES:"
# line (globs allowed; runtime/backend_cuda.c and _scan.c are left out, the stub
# backend stands in), extra link flags on "MK_FUZZ_LIBS:" and extra
# libFuzzer flags on "MK_FUZZ_OPTIONS:". They are built with clang straight
# from runtime/*.c (libmk.a is gcc-built and uninstrumented).
# Every run works on a copy of tests/fuzz/corpus/TARGET in /tmp, so the
# committed corpus is never touched. Exit status: 0 clean, 1 on any crash,
# leak, timeout, sanitizer report or harness invariant failure (the
# reproducer's path is printed), 2 when the build fails.
set -u
cd "$(dirname "$0")/.."

secs=${FUZZ_SECONDS:-20}
case ${1:-} in
[0-9]*) secs=$1; shift ;;
esac
CC=${FUZZ_CC:-clang}
OUT=build/fuzz
CFLAGS=(-std=c11 -g -O1 -I. -D_GNU_SOURCE -fno-omit-frame-pointer
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
if [ -n "${FUZZ_OPEN:-}" ]; then
	OUT=build/fuzz-open
	CFLAGS+=(-DMK_FUZZ_OPEN=1)
fi

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "fuzz: $CC not found. Fix: apt-get install clang (libFuzzer ships with it) or set FUZZ_CC" >&2
	exit 2
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		t=${f#tests/fuzz/fuzz_}
		targets+=("${t%.c}")
	done
fi

# The value of a "KEY:" line in a harness's header comment.
field() { # file key
	sed -n "s/^ \* $2: *//p" "$1" | head -n 1
}

build_one() { # target
	local t=$1 src=tests/fuzz/fuzz_$1.c bin=$OUT/fuzz_$1 srcs=() f
	[ -f "$src" ] || { echo "fuzz: no harness $src" >&2; return 1; }
	# shellcheck disable=SC2086 # the field is a list of paths and globs
	for f in $(field "$src" MK_FUZZ_SOURCES); do
		case $f in runtime/backend_cuda.c | runtime/backend_cuda_scan.c) ;;
		*) srcs+=("$f") ;; esac
	done
	# Rebuild only when the harness, a linked source or a header changed.
	if [ -x "$bin" ] && [ -z "$(find "$src" tests/fuzz/mk_fuzz.h runtime \
		\( -name '*.[ch]' -o -name '*.def' \) -newer "$bin" | head -n 1)" ]; then
		return 0
	fi
	printf '  %-7s %s\n' FUZZCC "$bin"
	# shellcheck disable=SC2046 # MK_FUZZ_LIBS is a list of flags
	"$CC" "${CFLAGS[@]}" -o "$bin" "$src" "${srcs[@]}" \
		$(field "$src" MK_FUZZ_LIBS)
}

mkdir -p "$OUT"
for t in "${targets[@]}"; do
	build_one "$t" || { echo "fuzz: building $t failed" >&2; exit 2; }
done
[ -n "${FUZZ_BUILD_ONLY:-}" ] && exit 0

work=$(mktemp -d /tmp/mkfuzz.XXXXXX)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
printf '%-14s %10s %9s %7s %7s  %s\n' target execs exec/s cov ft result
for t in "${targets[@]}"; do
	bin=$OUT/fuzz_$t
	corpus=$work/corpus/$t
	arts=$work/artifacts/$t/
	log=$work/$t.log
	mkdir -p "$corpus" "$arts"
	if [ -d "tests/fuzz/corpus/$t" ]; then
		cp -R "tests/fuzz/corpus/$t/." "$corpus/"
	fi
	# shellcheck disable=SC2046 # options are words
	"$bin" -max_total_time="$secs" -timeout="${FUZZ_TIMEOUT:-25}" \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$arts" \
		$(field "tests/fuzz/fuzz_$t.c" MK_FUZZ_OPTIONS) "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	crash=$(find "$arts" -type f | head -n 1)
	if [ "$rc" -eq 0 ] && [ -z "$crash" ]; then
		res=ok
	else
		res="FAILED (rc=$rc)"
		failed+=("$t")
	fi
	printf '%-14s %10s %9s %7s %7s  %s\n' "$t" "${execs:--}" "${rate:--}" \
		"${cov:--}" "${ft:--}" "$res"
	if [ "$res" != ok ]; then
		echo "---- $t: last lines of $log"
		grep -v '^#[0-9]' "$log" | tail -n 40
		for c in $(find "$arts" -type f); do
			echo "---- $t: reproducer $c"
			echo "     replay: $bin $c"
			echo "     keep:   cp $c tests/fuzz/regress/$t/<name> and add a test case to tests/check_fuzz_regress.c"
		done
	fi
done
echo "====================================================="
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: FAILED: ${failed[*]} (logs and reproducers under $work)"
	exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${secs}s each, no crash"
[ -n "${FUZZ_KEEP:-}" ] && echo "fuzz: work directory $work" || rm -rf "$work"
exit 0
