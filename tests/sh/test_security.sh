#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Security of the mount, as another user would meet it (run as root):
#  - the default mount is private: user nobody cannot even list it;
#  - with -o allow_other, default_permissions enforces the modes: nobody
#    reads 0644/0444 files but cannot write them (EACCES), and cannot
#    publish into ring/N or stop the kernel;
#  - root-only read-only files stay read-only to root too (EACCES).
set -u
[ -c /dev/fuse ] || { echo "skip: /dev/fuse is missing"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root to switch users"; exit 77; }
command -v setpriv >/dev/null || { echo "skip: setpriv missing"; exit 77; }
B=${MK_BUILD:-$PWD/build/release}
BIN=${MEGAFS_BIN:-$B/megafs}
MNT=$(mktemp -d /tmp/mk-sec.XXXXXX)
chmod 755 "$MNT"
fail=0
cleanup() {
	fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	rmdir "$MNT" 2>/dev/null || true
}
trap cleanup EXIT
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
expect() { # name, expected: ok|fail, command...
	local name=$1 want=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if { [ "$want" = ok ] && [ $rc -eq 0 ]; } ||
		{ [ "$want" = fail ] && [ $rc -ne 0 ]; }; then
		echo "ok   $name"
	else
		echo "FAIL $name (rc=$rc): $out"
		fail=1
	fi
}
wait_ready() {
	for _ in $(seq 100); do [ -e "$MNT/README" ] && return 0; sleep 0.05; done
	return 1
}

"$BIN" -o backend=cpu,slots=16 "$MNT" && wait_ready || exit 1
expect "root uses its own mount" ok cat "$MNT/control/status"
expect "private mount: nobody cannot list it" fail as_nobody ls "$MNT"
expect "private mount: nobody cannot read a slot" fail as_nobody cat "$MNT/ring/0"
expect "read-only file refuses root" fail sh -c "echo 1 > '$MNT/control/done_count'"
fusermount3 -u "$MNT"

"$BIN" -o backend=cpu,slots=16,allow_other "$MNT" && wait_ready || exit 1
expect "allow_other: nobody reads status" ok as_nobody cat "$MNT/control/status"
expect "allow_other: nobody reads a slot" ok as_nobody cat "$MNT/ring/0"
expect "default_permissions: nobody cannot publish" fail \
	as_nobody sh -c "echo 'store_u32 5 160' > '$MNT/ring/0'"
expect "default_permissions: nobody cannot stop the kernel" fail \
	as_nobody sh -c "echo 1 > '$MNT/control/shutdown'"
expect "default_permissions: nobody cannot write an observable" fail \
	as_nobody sh -c "echo 3 > '$MNT/observables/0'"
expect "nothing nobody tried changed observable 0" ok \
	sh -c "[ \"\$(cat '$MNT/observables/0')\" = 0 ]"
expect "kernel still running" ok grep -q "state=running" "$MNT/control/status"
[ $fail -eq 0 ] && echo "security: all checks passed"
exit $fail
