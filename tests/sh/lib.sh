#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/sh/lib.sh - shared setup and assertions of the mount-level tests
# (sourced, not run: scripts/run-tests.sh runs only test_*.sh). Before
# sourcing set TMP_PREFIX (mktemp -d template) and MOUNT_OPTS (the -o
# options do_mount starts from). Gives BIN, TMP, MNT, PID, the counters
# fails/checks, cleanup on exit, fail/eq/has/mounted/not_run, wait_ready
# and do_mount/do_umount. Skips (77) without /dev/fuse.
set -u
export LC_ALL=C # ls order, error strings and sort are the C locale's on every machine
BIN=${MEGAFS_BIN:-build/release/megafs}
if [ ! -e /dev/fuse ]; then
	echo "SKIP: /dev/fuse is missing (load the fuse module or run the container with --device /dev/fuse)"
	exit 77
fi
[ -x "$BIN" ] || { echo "FAIL: MEGAFS_BIN=$BIN is not executable (run make)"; exit 1; }
command -v python3 >/dev/null || { echo "FAIL: python3 is required"; exit 1; }
BIN=$(realpath "$BIN")
TMP=$(mktemp -d "$TMP_PREFIX")
MNT=$TMP/mnt
PID=
LINKED=
fails=0
checks=0
mkdir -p "$MNT"

umount_quiet() {
	fusermount3 -u "$1" 2>/dev/null || umount "$1" 2>/dev/null ||
		umount -l "$1" 2>/dev/null
}
cleanup() {
	[ -n "$LINKED" ] && rm -f "$LINKED"
	umount_quiet "$MNT"
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	grep -q " $MNT " /proc/mounts && umount -l "$MNT" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# Checks this machine cannot run (not root, a tool missing): a note, or a
# failure under MK_REQUIRE_MOUNT=1 (CI), where every mount check must run.
not_run() { # what was not checked and why
	if [ "${MK_REQUIRE_MOUNT:-}" = 1 ]; then
		fail "$* (MK_REQUIRE_MOUNT=1 requires every mount check; Fix: run as root with the tools installed, or unset MK_REQUIRE_MOUNT)"
	else
		echo "note: $*"
	fi
}
eq() { # name got want
	checks=$((checks + 1))
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}
has() { # name haystack needle
	checks=$((checks + 1))
	case $2 in *"$3"*) ;; *) fail "$1: '$3' not in '$2'" ;; esac
}
mounted() { grep -q " $1 fuse" /proc/mounts; }

wait_ready() { # bounded: 200 x 50 ms
	local i
	for i in $(seq 200); do
		[ -f "$MNT/README" ] && return 0
		[ -n "$PID" ] && ! kill -0 "$PID" 2>/dev/null && break
		sleep 0.05
	done
	echo "FAIL: mount did not become ready"; cat "$TMP/log"; exit 1
}
do_mount() { # extra -o options, appended to MOUNT_OPTS
	"$BIN" -f -o "$MOUNT_OPTS$1" "$MNT" >"$TMP/log" 2>&1 &
	PID=$!
	wait_ready
}
do_umount() {
	fusermount3 -u "$MNT" || umount "$MNT"
	wait "$PID"
	eq "daemon exit status" "$?" 0
	PID=
	mounted "$MNT" && fail "mount still present after unmount"
}
