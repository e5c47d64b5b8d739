#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run every test binary in BUILD/tests/check_* and every mount-level shell
# test tests/sh/test_*.sh (liburing runtests.sh style): a timeout per test,
# exit 77 = skipped, lists of failed/skipped at the end and the plain
# closing line "N passed, N failed, N skipped".
#   scripts/run-tests.sh BUILD            all suites
#   MK_SUITES="check_proto check_runtime" only those binaries
#   MK_VALGRIND=1                         wrap binaries in valgrind, no shell tests
#   MK_GPU=1                              only gpu-tagged cases (CK_INCLUDE_TAGS=gpu)
set -u
B=${1:-build/release}
TIMEOUT=${MK_TEST_TIMEOUT:-900}
export MEGAFS_BIN="$PWD/$B/megafs" MK_BUILD="$PWD/$B"
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
	wrap=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite
		--error-exitcode=3 --suppressions=tests/valgrind.supp)
fi

run_one() { # name cmd...
	local name=$1 rc
	shift
	printf '==== %s\n' "$name"
	timeout --foreground -k 10 "$TIMEOUT" "$@"
	rc=$?
	case $rc in
	0) pass=$((pass + 1)) ;;
	77) skip=$((skip + 1)); skipped+=("$name") ;;
	124 | 137) fail=$((fail + 1)); failed+=("$name (timeout)") ;;
	*) fail=$((fail + 1)); failed+=("$name (rc=$rc)") ;;
	esac
}

for t in "$B"/tests/check_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	case $name in *.o | *.d) continue ;; esac
	if [ -n "${MK_SUITES:-}" ] && ! [[ " $MK_SUITES " == *" $name "* ]]; then
		continue
	fi
	run_one "$name" "${wrap[@]}" "$t"
done
if [ -z "${MK_VALGRIND:-}" ] && [ -z "${MK_SUITES:-}" ] && [ -z "${MK_GPU:-}" ]; then
	for t in tests/sh/test_*.sh; do
		[ -f "$t" ] || continue
		run_one "$(basename "$t")" bash "$t"
	done
fi
echo "====================================================="
[ ${#skipped[@]} -gt 0 ] && echo "skipped: ${skipped[*]}"
[ ${#failed[@]} -gt 0 ] && echo "FAILED: ${failed[*]}"
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
