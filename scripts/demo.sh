#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The megafs demo (make demo): installs what is missing, builds, mounts with
# backend=auto, drives the megakernel with shell tools, shows a slot, an
# observable and the metrics, and unmounts.
#   scripts/demo.sh [BUILD]
set -eu
cd "$(dirname "$0")/.."
B=${1:-build/release}
[ -x "$B/megafs" ] || { scripts/deps.sh && make -j"$(nproc)" B="$B" >/dev/null; }
MNT=$(mktemp -d /tmp/megafs-demo.XXXXXX)
cleanup() {
	cd / # a failure inside the mount would leave it busy
	fusermount3 -u "$MNT" 2>/dev/null || umount "$MNT" 2>/dev/null || true
	rmdir "$MNT" 2>/dev/null || true
}
trap cleanup EXIT
run() { printf '\n$ %s\n' "$*"; eval "$@"; }
# A write only publishes; the kernel runs the slot later. Poll each slot's
# status word (3 = DONE), bounded, so the reads below see the results even
# on a slow machine or a GPU.
wait_done() { # slot...
	local s i
	for s; do
		for i in $(seq 500); do
			[ "$(cut -d' ' -f1 <"ring/$s")" = 3 ] && continue 2
			sleep 0.01
		done
		echo "demo: ring/$s is not DONE after 5 s: $(cat "ring/$s")" >&2
		exit 1
	done
}

"$B/megafs" -o backend=auto,slots=64 "$MNT"
for _ in $(seq 100); do [ -e "$MNT/README" ] && break; sleep 0.05; done
cd "$MNT"
run 'grep -E "^(backend|device|state|slots)=" control/status'
run 'echo "store_u32 7 160" > ring/0'
run 'echo "atomic_add 5 161" > ring/1'
run 'echo "atomic_add 5 161" > ring/2'
run 'echo "packed store_u32 9 162 ; atomic_add 1 163" > ring/3'
run 'echo "printf 42 1 2" > ring/4'
wait_done 0 1 2 3 4
run 'cat ring/1'
run 'cat observables/0 observables/1 observables/2 observables/3'
run 'exec 3<>call; echo "load_u32 161 10" >&3; cat <&3; exec 3>&-'
run 'cat observables/10'
run 'cat debug/log'
run 'grep -E "^(nop|store_u32|atomic_add|load_u32|done_count|published|pending) " control/metrics'
run 'echo 0xFFF0 > ring/5 || true    # a reserved opcode'
run 'echo bogus > ring/5 || true'
run 'tail -n 2 errors'
cd /
printf '\n$ fusermount3 -u %s\n' "$MNT"
