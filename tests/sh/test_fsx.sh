#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The random exerciser (tests/tool_fsx.c) against a fresh mount: 1,000,000
# seeded operations from MK_FSX_PROCS processes (4; at most 16) over ring/N
# (text and binary images), ring/raw, call, observables (compare_swap
# result words included), tenant masks and shutdown/restart, checked
# against a shadow model; counters must be exact. Longer runs:
# MK_FSX_OPS=10000000. A failure prints the seed, every process's last
# operations and the command that reruns it (MK_FSX_SEED=<seed> ...).
set -u
[ -c /dev/fuse ] || { echo "skip: /dev/fuse is missing"; exit 77; }
B=${MK_BUILD:-$PWD/build/release}
BIN=${MEGAFS_BIN:-$B/megafs}
OPS=${MK_FSX_OPS:-1000000}
SEED=${MK_FSX_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
PROCS=${MK_FSX_PROCS:-4}
# 16 slots a process (and as many again for call); the observables hold a
# 32-word band and its 32 compare_swap result words (160 above) a process,
# in blocks of 320 for five processes.
SLOTS=$((PROCS * 32 > 128 ? PROCS * 32 : 128))
OBS=$(( (PROCS + 4) / 5 * 320 ))
MNT=$(mktemp -d /tmp/mk-fsx.XXXXXX)
cleanup() {
	fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	rmdir "$MNT" 2>/dev/null || true
}
trap cleanup EXIT
"$BIN" -o backend=${MK_BACKEND:-cpu},slots=$SLOTS,observables=$OBS,tenants=1 "$MNT" || exit 1
for _ in $(seq 100); do [ -e "$MNT/README" ] && break; sleep 0.05; done
"$B/tests/tool_fsx" "$MNT" "$OPS" "$SEED" "$PROCS"
