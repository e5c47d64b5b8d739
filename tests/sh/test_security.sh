#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Security of the mount, as another user would meet it (run as root):
#  - the default mount is private: user nobody cannot even list it (EACCES);
#  - with -o allow_other, default_permissions enforces the modes: nobody
#    reads 0644/0444 files but cannot write them (EACCES), and cannot
#    publish into ring/N, stop the kernel or chmod a node (EPERM);
#  - root-only read-only files stay read-only to root too (EACCES);
#  - a stream's source is opened with the writer's supplementary groups
#    (fs/cred.c): nobody streams a 0640 root:G file when in group G, and
#    gets EACCES (state=failed, error and errors line) without it.
# Every refusal is checked for its errno, not only for failing.
set -u
[ -c /dev/fuse ] || { echo "skip: /dev/fuse is missing"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root to switch users"; exit 77; }
command -v setpriv >/dev/null || { echo "skip: setpriv missing"; exit 77; }
command -v groupadd >/dev/null || { echo "skip: groupadd missing"; exit 77; }
B=${MK_BUILD:-$PWD/build/release}
BIN=${MEGAFS_BIN:-$B/megafs}
MNT=$(mktemp -d /tmp/mk-sec.XXXXXX)
SRC=$(mktemp -d /tmp/mk-sec-src.XXXXXX)
G=mksec$$
chmod 755 "$MNT" "$SRC"
fail=0
cleanup() {
	fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	rmdir "$MNT" 2>/dev/null || true
	rm -rf "$SRC"
	getent group "$G" >/dev/null && groupdel "$G"
}
trap cleanup EXIT
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
as_nobody_in() { # group, command...: nobody with one supplementary group
	local g=$1
	shift
	setpriv --reuid=65534 --regid=65534 --groups="$g" -- "$@"
}
# expect NAME ok|ERRNO CMD...: CMD succeeds, or fails with that errno,
# named from its strerror text in the C locale (ls, cat, chmod, sh's
# "cannot create", coreutils echo's "write error" all print it).
expect() {
	local name=$1 want=$2 out rc got=ok
	shift 2
	out=$(LC_ALL=C "$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		case $out in
		*"Permission denied"*) got=EACCES ;;
		*"Operation not permitted"*) got=EPERM ;;
		*) got="rc $rc" ;;
		esac
	fi
	if [ "$got" = "$want" ]; then
		[ "$want" = ok ] && echo "ok   $name" || echo "ok   $name ($want)"
	else
		echo "FAIL $name: got $got, want $want: $out"
		fail=1
	fi
}
wait_ready() {
	for _ in $(seq 100); do [ -e "$MNT/README" ] && return 0; sleep 0.05; done
	return 1
}
wait_state() { # stream, state: bounded (10 s)
	for _ in $(seq 200); do
		grep -q "^state=$2 " "$MNT/streams/$1/progress" && return 0
		sleep 0.05
	done
	return 1
}

"$BIN" -o backend=cpu,slots=16 "$MNT" && wait_ready || exit 1
expect "root uses its own mount" ok cat "$MNT/control/status"
expect "private mount: nobody cannot list it" EACCES as_nobody ls "$MNT"
expect "private mount: nobody cannot read a slot" EACCES as_nobody cat "$MNT/ring/0"
expect "read-only file refuses root" EACCES sh -c "echo 1 > '$MNT/control/done_count'"
fusermount3 -u "$MNT"

"$BIN" -o backend=cpu,slots=16,allow_other "$MNT" && wait_ready || exit 1
expect "allow_other: nobody reads status" ok as_nobody cat "$MNT/control/status"
expect "allow_other: nobody reads a slot" ok as_nobody cat "$MNT/ring/0"
expect "default_permissions: nobody cannot publish" EACCES \
	as_nobody sh -c "echo 'store_u32 5 160' > '$MNT/ring/0'"
expect "default_permissions: nobody cannot stop the kernel" EACCES \
	as_nobody sh -c "echo 1 > '$MNT/control/shutdown'"
expect "default_permissions: nobody cannot write an observable" EACCES \
	as_nobody sh -c "echo 3 > '$MNT/observables/0'"
expect "default_permissions: nobody cannot chmod a slot" EPERM \
	as_nobody chmod 777 "$MNT/ring/0"
expect "nothing nobody tried changed observable 0" ok \
	sh -c "[ \"\$(cat '$MNT/observables/0')\" = 0 ]"
expect "slot 0 still empty" ok grep -q "^0 0 0 0 " "$MNT/ring/0"
expect "kernel still running" ok grep -q "state=running" "$MNT/control/status"

# Supplementary groups: a 0640 root:G file, G only a supplementary group
# of the writer (its gid stays 65534), so only fs/cred.c's setgroups of
# the FUSE thread lets the open through.
groupadd "$G" || exit 1
printf 'ab ab\n' >"$SRC/grp"
chown "root:$G" "$SRC/grp"
chmod 0640 "$SRC/grp"
mkdir "$MNT/patterns/A" && echo ab >"$MNT/patterns/A/literals" || exit 1
S=$MNT/streams
expect "with group $G: nobody names the source" ok as_nobody_in "$G" \
	sh -c "mkdir '$S/g' && echo '$SRC/grp' > '$S/g/source' && echo A > '$S/g/patterns'"
expect "with group $G: nobody starts the stream" ok as_nobody_in "$G" \
	sh -c "env echo start > '$S/g/ctl'"
expect "with group $G: the scan is done" ok wait_state g "done"
expect "with group $G: both matches counted" ok \
	sh -c "[ \"\$(cat '$S/g/matches')\" = 2 ]"
expect "without the group: nobody names the source" ok as_nobody \
	sh -c "mkdir '$S/n' && echo '$SRC/grp' > '$S/n/source' && echo A > '$S/n/patterns'"
expect "without the group: start fails" EACCES as_nobody \
	sh -c "env echo start > '$S/n/ctl'"
expect "without the group: state=failed" ok wait_state n failed
expect "without the group: error names EACCES with a Fix:" ok \
	sh -c "grep -q 'EACCES.*Fix:' '$S/n/error'"
expect "without the group: errors line" ok \
	sh -c "tail -n1 '$MNT/errors' | grep -q ' streams/n/ctl EACCES .*Fix:'"
expect "without the group: nothing scanned" ok \
	sh -c "[ \"\$(cat '$S/n/matches')\" = 0 ]"
# The source is opened as the user who wrote it, not as the one who starts:
# nobody-in-G starts n (written without G): still EACCES.
expect "the writer's groups count, not the starter's" EACCES \
	as_nobody_in "$G" sh -c "env echo start > '$S/n/ctl'"
[ $fail -eq 0 ] && echo "security: all checks passed"
exit $fail
