#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Exactly once under mixed load (tests/tool_load.c): one process mounts
# megafs in-process; 8 writer processes drive call, ring/N and ring/raw
# through the mount while 4 threads publish through the runtime API into
# the same ring. Every observable, DONE_COUNT, the ATOMIC_ADD metric and
# control/done_count must equal what was sent. CI size 200,000 commands;
# the GPU check runs 1,000,000 with MK_BACKEND=cuda (MK_LOAD_TOTAL sets it).
set -u
[ -c /dev/fuse ] || { echo "skip: /dev/fuse is missing"; exit 77; }
B=${MK_BUILD:-$PWD/build/release}
MNT=$(mktemp -d /tmp/mk-load.XXXXXX)
cleanup() {
	fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	rmdir "$MNT" 2>/dev/null || true
}
trap cleanup EXIT
"$B/tests/tool_load" "${MK_BACKEND:-cpu}" "$MNT" "${MK_LOAD_TOTAL:-200000}"
