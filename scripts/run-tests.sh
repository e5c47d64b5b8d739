#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run every test binary in BUILD/tests/check_* and every mount-level shell
# test tests/sh/test_*.sh (liburing runtests.sh style): a timeout per test,
# exit 77 = skipped, lists of failed/skipped at the end and the plain
# closing line "N passed, N failed, N skipped".
#   scripts/run-tests.sh BUILD            all suites
#   MK_SUITES="check_proto check_runtime" only those binaries (and only the
#                                         tests/sh scripts it names, e.g.
#                                         MK_SUITES=test_malformed.sh)
#   MK_VALGRIND=1                         wrap binaries in valgrind, no shell tests
#   MK_GPU=1                              only gpu-tagged cases (CK_INCLUDE_TAGS=gpu)
#   MK_REQUIRE_MOUNT=1                    a skipped tests/sh/test_*.sh (77: no
#                                         /dev/fuse, not root, ...) is a
#                                         failure: CI must show mount evidence
#   MK_SAN_LOGS=DIR                       sanitizer log_path directory (make
#                                         check-asan): a report file that
#                                         appears in it during a test is
#                                         printed and fails that test; DIR
#                                         is removed when none appeared
set -u
B=${1:-build/release}
TIMEOUT=${MK_TEST_TIMEOUT:-900}
[ -n "${MK_VALGRIND:-}" ] && TIMEOUT=${MK_TEST_TIMEOUT:-600}
case $B in
/*) abs_b=$B ;;
*) abs_b=$PWD/$B ;;
esac
export MEGAFS_BIN="$abs_b/megafs" MK_BUILD="$abs_b"
pass=0 fail=0 skip=0
failed=() skipped=()
if [ -n "${MK_GPU:-}" ]; then
	export CK_INCLUDE_TAGS=gpu
elif [ -z "${CK_INCLUDE_TAGS:-}" ]; then
	export CK_EXCLUDE_TAGS=${CK_EXCLUDE_TAGS:-gpu}
fi
wrap=()
if [ -n "${MK_VALGRIND:-}" ]; then
	export CK_FORK=no
	# --fair-sched: valgrind runs one thread at a time; its default lock
	# lets a thread that polls re-take it at once and starve the thread it
	# waits for, a hang no real scheduler produces.
	wrap=(valgrind -q --fair-sched=try --leak-check=full --errors-for-leak-kinds=definite
		--error-exitcode=3 --suppressions=tests/valgrind.supp)
fi

# A test that outlives TIMEOUT is a hang: before killing it, print what
# every thread is doing (kernel side from /proc, user side through vgdb
# under valgrind), so a CI log names the culprit.
dump_hang() { # pid
	local pid=$1 p t
	echo "---- hang: $name (pid $pid) after ${TIMEOUT}s; thread states follow"
	for p in $pid $(pgrep -P "$pid" 2>/dev/null); do
		for t in /proc/"$p"/task/*; do
			[ -d "$t" ] || continue
			printf '%s %s wchan=%s syscall=%s\n' "$t" \
				"$(cat "$t"/comm 2>/dev/null)" \
				"$(cat "$t"/wchan 2>/dev/null)" \
				"$(cut -d' ' -f1-3 "$t"/syscall 2>/dev/null)"
			sed 's/^/    /' "$t"/stack 2>/dev/null | head -12
		done
		if [ -n "${MK_VALGRIND:-}" ] && command -v vgdb >/dev/null; then
			timeout 60 vgdb --pid="$p" v.info scheduler 2>&1 | head -200
		fi
	done
	echo "---- end of hang report"
}

run_with_deadline() { # cmd...: rc of cmd, 124 after a hang
	local pid end=$((SECONDS + TIMEOUT))
	"$@" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$end" ]; then
			dump_hang "$pid"
			pkill -KILL -P "$pid" 2>/dev/null
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			return 124
		fi
		sleep 0.1
	done
	wait "$pid"
}

run_one() { # name cmd...
	local name=$1 rc
	shift
	printf '==== %s\n' "$name"
	run_with_deadline "$@"
	rc=$?
	if [ "$rc" -eq 77 ] && [ "${MK_REQUIRE_MOUNT:-}" = 1 ] &&
		[[ $name == test_*.sh ]]; then
		echo "FAIL: $name skipped (exit 77), but MK_REQUIRE_MOUNT=1 requires the mount tests to run." \
			"Fix: run as root with /dev/fuse present (container: --device /dev/fuse --cap-add SYS_ADMIN)," \
			"or unset MK_REQUIRE_MOUNT outside CI"
		fail=$((fail + 1)); failed+=("$name (skipped, MK_REQUIRE_MOUNT=1)")
		return
	fi
	case $rc in
	0) pass=$((pass + 1)) ;;
	77) skip=$((skip + 1)); skipped+=("$name") ;;
	124 | 137) fail=$((fail + 1)); failed+=("$name (timeout)") ;;
	*) fail=$((fail + 1)); failed+=("$name (rc=$rc)") ;;
	esac
}

# MK_SAN_LOGS: sanitizer reports that processes wrote to files (log_path),
# above all those of the daemons the mount tests start in the background,
# whose stderr nobody reads. After each test, wait for this build's megafs
# daemons to exit (they write leak reports at exit), then print every new
# report file and count it as a failure of that test.
declare -A san_seen=() san_stuck=()
san_daemons() { # pids running $MEGAFS_BIN, but not those already given up on
	local p exe
	exe=$(realpath -m "$MEGAFS_BIN")
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$exe" ] || continue
		[ -n "${san_stuck[${p#/proc/}]:-}" ] || echo "${p#/proc/}"
	done
}
san_check() { # test name
	local f p n=0 new=0
	[ -n "${MK_SAN_LOGS:-}" ] || return 0
	while [ -n "$(san_daemons)" ] && [ "$n" -lt 300 ]; do # 30 s
		sleep 0.1
		n=$((n + 1))
	done
	for p in $(san_daemons); do
		san_stuck[$p]=1
		echo "FAIL: megafs daemon $p still runs 30 s after $1 ended: its sanitizer report would be lost"
		fail=$((fail + 1)); failed+=("$1 (daemon $p left running)")
	done
	for f in "$MK_SAN_LOGS"/*; do
		if [ ! -f "$f" ] || [ -n "${san_seen[$f]:-}" ]; then
			continue
		fi
		san_seen[$f]=1
		new=$((new + 1))
		echo "==== sanitizer report $f (written during $1)"
		cat "$f"
	done
	if [ "$new" -gt 0 ]; then
		fail=$((fail + 1))
		failed+=("$1 (sanitizer: $new report files)")
	fi
}

for t in "$B"/tests/check_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	case $name in *.o | *.d) continue ;; esac
	if [ -n "${MK_SUITES:-}" ] && ! [[ " $MK_SUITES " == *" $name "* ]]; then
		continue
	fi
	run_one "$name" "${wrap[@]}" "$t"
	san_check "$name"
done
if [ -z "${MK_VALGRIND:-}" ] && [ -z "${MK_GPU:-}" ]; then
	for t in tests/sh/test_*.sh; do
		[ -f "$t" ] || continue
		name=$(basename "$t")
		if [ -n "${MK_SUITES:-}" ] && ! [[ " $MK_SUITES " == *" $name "* ]]; then
			continue
		fi
		run_one "$name" bash "$t"
		san_check "$name"
	done
fi
if [ -n "${MK_SAN_LOGS:-}" ]; then
	if [ ${#san_seen[@]} -gt 0 ]; then
		echo "sanitizer reports kept in $MK_SAN_LOGS"
	else
		rm -rf "$MK_SAN_LOGS"
	fi
fi
echo "====================================================="
[ ${#skipped[@]} -gt 0 ] && echo "skipped: ${skipped[*]}"
[ ${#failed[@]} -gt 0 ] && echo "FAILED: ${failed[*]}"
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
