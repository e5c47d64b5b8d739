#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/demo.sh MOUNTPOINT - drive a megafs mount from bash with echo and
# cat only: publish a few commands into ring slots, do a synchronous round
# trip through `call`, read observables and metrics, then scan a file for
# byte patterns through the resident kernel (patterns/ and streams/).
#
#   build/release/megafs -o backend=cpu /mnt/mk
#   examples/demo.sh /mnt/mk
#   fusermount3 -u /mnt/mk
#
# It uses ring slots 0..2 and observables 0..2, and creates (then removes)
# patterns/demo-PID and streams/demo-PID.
set -eu
M=${1:?usage: examples/demo.sh MOUNTPOINT}
if [ ! -f "$M/README" ] || [ ! -d "$M/ring" ]; then
	echo "demo: $M is not a megafs mount. Fix: build/release/megafs $M first" >&2
	exit 1
fi

say() { printf '\n== %s\n' "$*"; }
# A slot file reads "status opcode tenant priority arg0..arg11"; 3 = DONE.
wait_done() { # slot
	local i
	for i in $(seq 500); do
		[ "$(cut -d' ' -f1 <"$M/ring/$1")" = 3 ] && return 0
		sleep 0.01
	done
	echo "demo: ring/$1 did not complete: $(cat "$M/ring/$1")" >&2
	tail -n 3 "$M/errors" >&2
	exit 1
}
publish() { # slot command...
	local s=$1
	shift
	echo "$*" >"$M/ring/$s"
	wait_done "$s"
	printf 'ring/%s  %-22s -> %s\n' "$s" "$*" "$(cat "$M/ring/$s")"
}

say "the kernel"
grep -E '^(backend|device|state|slots)=' "$M/control/status"

say "commands through ring slots (observable K is control word 160+K)"
publish 0 store_u32 7 160     # observable 0 := 7
publish 1 atomic_add 5 161    # observable 1 += 5
publish 2 memcpy 160 162 1    # observable 2 := observable 0
echo "observables 0..2: $(cat "$M/observables/0") $(cat "$M/observables/1") $(cat "$M/observables/2")"

say "a synchronous round trip through call (one private channel per open)"
exec 3<>"$M/call"
echo "atomic_add 10 161" >&3
echo "load_u32 161 2" >&3   # observable 2 := observable 1
echo "first:  $(head -n1 <&3)"
echo "second: $(head -n1 <&3)"
exec 3>&-
echo "observable 2 now $(cat "$M/observables/2")"

say "metrics"
grep -E '^(store_u32|atomic_add|load_u32|memcpy|done_count|published|pending) ' \
	"$M/control/metrics"

say "scan a file for byte patterns"
data=$(mktemp /tmp/megafs-demo.XXXXXX)
P=$M/patterns/demo-$$
S=$M/streams/demo-$$
cleanup() {
	rmdir "$S" "$P" 2>/dev/null || true
	rm -f "$data"
}
trap cleanup EXIT
for i in $(seq 2000); do echo "GET /index.html $i"; echo "POST /form $i"; done >"$data"
chmod a+r "$data"
mkdir "$P" "$S"
printf 'GET /\nPOST /\nindex\n' >"$P/literals"   # one pattern per line
echo "set:      $(cat "$P/info")"
echo "$data" >"$S/source"
echo "demo-$$" >"$S/patterns"
echo 5 >"$S/max_hits"
if ! echo start >"$S/ctl"; then
	echo "demo: the scan did not start: $(tail -n1 "$M/errors")" >&2
	exit 1
fi
i=0
while ! grep -q state=done "$S/progress"; do
	i=$((i + 1))
	if [ $i -gt 600 ] || ! grep -q state=running "$S/progress"; then
		grep -q state=done "$S/progress" && break
		echo "demo: scan ended: $(cat "$S/progress") $(cat "$S/error")" >&2
		exit 1
	fi
	sleep 0.1
done
echo "progress: $(cat "$S/progress")"
echo "matches:  $(cat "$S/matches")   (grep -o counts: $(grep -oE 'GET /|POST /|index' "$data" | wc -l))"
echo "hits (pattern end_offset):"
sed 's/^/  /' "$S/hits"
