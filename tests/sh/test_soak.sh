#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Soak: for MK_SOAK_SECONDS (60 in CI; 600 for the long run) keep a mount
# busy with the random exerciser (writers with exact counters, repeated),
# readers of metrics/status/words, and, when the mount has streams/, file
# scans. At the end the daemon's RSS and open-fd count must be stable
# against a quiet sample taken after warm-up, and every exerciser round
# exact.
set -u
[ -c /dev/fuse ] || { echo "skip: /dev/fuse is missing"; exit 77; }
B=${MK_BUILD:-$PWD/build/release}
BIN=${MEGAFS_BIN:-$B/megafs}
SECS=${MK_SOAK_SECONDS:-60}
MNT=$(mktemp -d /tmp/mk-soak.XXXXXX)
daemon=
DATA=$(mktemp /tmp/mk-soak-data.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	wait "$daemon" 2>/dev/null
	rmdir "$MNT" 2>/dev/null || true
	rm -f "$DATA"
}
trap cleanup EXIT
"$BIN" -f -o backend=${MK_BACKEND:-cpu},slots=128,observables=320 "$MNT" 2>/dev/null &
daemon=$!
for _ in $(seq 100); do [ -e "$MNT/README" ] && break; sleep 0.05; done
[ -e "$MNT/README" ] || { echo "FAIL: mount did not come up"; exit 1; }

rss() { awk '/^VmRSS/ {print $2}' "/proc/$daemon/status"; }
fds() { ls "/proc/$daemon/fd" | wc -l; }
if [ -d "$MNT/streams" ]; then
	# Warm-up: 8 streams at once touch every staging buffer of the scan
	# pool (64, allocated at mount, first touched by a scan), so that its
	# first use does not read as growth.
	head -c $((32 << 20)) /dev/urandom >"$DATA"
	mkdir "$MNT/patterns/p" && printf 'ab\n\\x00\\xff\n' >"$MNT/patterns/p/literals"
	for i in 0 1 2 3 4 5 6 7; do
		mkdir "$MNT/streams/w$i"
		echo "$DATA" >"$MNT/streams/w$i/source"
		echo p >"$MNT/streams/w$i/patterns"
	done
	for i in 0 1 2 3 4 5 6 7; do echo start >"$MNT/streams/w$i/ctl"; done
	for _ in $(seq 600); do # bounded: 60 s
		grep -q "state=running" "$MNT"/streams/w*/progress || break
		sleep 0.1
	done
	# The set is "ab" and 00 ff; neither overlaps itself: count() is exact.
	want=$(python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); print(d.count(b"ab") + d.count(b"\0\xff"))' "$DATA")
	for i in 0 1 2 3 4 5 6 7; do
		got="$(grep -o "state=[a-z]*" "$MNT/streams/w$i/progress") $(cat "$MNT/streams/w$i/matches")"
		[ "$got" = "state=done $want" ] ||
			{ echo "FAIL: warm-up stream w$i: '$got', want 'state=done $want'"; exit 1; }
	done
	rmdir "$MNT"/streams/w*
fi
sleep 0.5
base_rss=$(rss) # quiet: no stream, no load
end=$((SECONDS + SECS))

( while [ $SECONDS -lt $end ]; do # metric and status readers
	cat "$MNT/control/metrics" "$MNT/control/metrics.prom" \
		"$MNT/control/status" "$MNT/control/words" >/dev/null 2>&1
done ) &
pids+=($!)
shared=
if [ -d "$MNT/streams" ]; then # file scans beside the ring traffic
	shared=1 # scan chunks are ring slots too: done_count is shared
	( n=0
	  while [ $SECONDS -lt $end ]; do
		s="$MNT/streams/s$((n++ % 4))"
		mkdir -p "$s" 2>/dev/null
		echo "$DATA" >"$s/source"; echo p >"$s/patterns"
		echo start >"$s/ctl" 2>/dev/null
		for _ in $(seq 600); do grep -q "state=running" "$s/progress" || break; sleep 0.1; done
		rmdir "$s" 2>/dev/null
	  done ) &
	pids+=($!)
fi

rounds=0 peak_rss=0 warm_fds="" fail=0
while [ $SECONDS -lt $end ]; do
	if ! MK_FSX_SHARED=${shared:-} "$B/tests/tool_fsx" "$MNT" 20000 $((RANDOM * 32768 + RANDOM)) 4 >/tmp/mk-soak-fsx.log 2>&1; then
		cat /tmp/mk-soak-fsx.log
		fail=1
		break
	fi
	rounds=$((rounds + 1))
	# Under load RSS depends on whether a scan runs at the sample
	# (8 staging buffers of 4 MiB, mapped per stream): logged, not judged.
	r=$(rss)
	[ "$r" -gt "$peak_rss" ] && peak_rss=$r
	[ -n "$warm_fds" ] || warm_fds=$(fds)
done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
pids=()
# Quiesce: let the last scan finish and be freed before the end sample.
for _ in $(seq 100); do
	[ -z "$(ls "$MNT/streams" 2>/dev/null)" ] && break
	sleep 0.1
done
sleep 0.5
end_rss=$(rss)
end_fds=$(fds)
echo "soak: ${SECS}s, $rounds exerciser rounds; RSS KiB: quiet before ${base_rss}, peak under load ${peak_rss}, quiet after ${end_rss}; fds ${warm_fds} -> ${end_fds}"
[ -n "$warm_fds" ] || warm_fds=$(fds)
if [ "$fail" -ne 0 ] || [ "$rounds" -eq 0 ]; then
	echo "FAIL: exerciser diverged or never ran"
	exit 1
fi
# Stable: no fd leak, and once the load stops the daemon is back within
# 25% + 16 MiB of its quiet size before the load (room for the FUSE
# workers' 1 MiB buffers the load adds; a leaked stream keeps 32 MiB).
# Under ASan/TSan the allocator keeps freed memory in quarantine, so RSS
# says nothing there: only fds are judged (LeakSanitizer checks the exit).
if [ "$end_fds" -gt $((warm_fds + 2)) ]; then
	echo "FAIL: fd growth"
	exit 1
fi
lim=$((base_rss * 5 / 4 + 16384))
if ldd "$BIN" 2>/dev/null | grep -q 'lib[at]san'; then
	echo "soak: RSS not judged: $BIN runs under a sanitizer"
elif [ "$end_rss" -gt "$lim" ]; then
	echo "FAIL: RSS growth (limit $lim KiB)"
	exit 1
fi
echo "soak: ok"
