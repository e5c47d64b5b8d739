#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/sh/test_examples.sh - the demo and the examples end to end against
# the build under test: scripts/demo.sh (mounts with backend=auto by
# itself), examples/demo.sh and examples/client.py (each on a fresh mount).
# Asserts their key output lines, that they exit 0, and that they clean up.
# Run: MEGAFS_BIN=build/release/megafs bash tests/sh/test_examples.sh
# (scripts/run-tests.sh does this). Exit 0 pass, 1 fail, 77 skipped.
TMP_PREFIX=/tmp/megafs-examples.XXXXXX
MOUNT_OPTS="backend=${MK_BACKEND:-cpu}"
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

has_line() { # name text line: one whole line of text
	checks=$((checks + 1))
	printf '%s\n' "$2" | grep -qxF -- "$3" || fail "$1: no line '$3' in: $2"
}
# The output of one "$ command" of scripts/demo.sh: the lines after it, up
# to the blank line that run() prints before the next command.
section() { # file command
	awk -v c="\$ $2" 'BEGIN { RS = ""; FS = "\n" }
		$1 == c { sub(/^[^\n]*\n?/, ""); print; exit }' "$1"
}

# ---- scripts/demo.sh (make demo) ------------------------------------------------
# It takes a build directory and runs BUILD/megafs: hand it MEGAFS_BIN.
mkdir "$TMP/b"
ln -s "$BIN" "$TMP/b/megafs"
D=$TMP/demo.out
timeout -k 5 120 bash "$ROOT/scripts/demo.sh" "$TMP/b" >"$D" 2>"$TMP/demo.err"
eq "demo.sh exit" "$?" 0
s=$(section "$D" 'grep -E "^(backend|device|state|slots)=" control/status')
has "demo status backend" "$s" "backend="
has_line "demo status state" "$s" state=running
has_line "demo status slots" "$s" slots=64
eq "demo ring/1 DONE" "$(section "$D" 'cat ring/1')" "3 2 0 2 5 161 0 0 0 0 0 0 0 0 0 0"
eq "demo observables" "$(section "$D" 'cat observables/0 observables/1 observables/2 observables/3' | tr '\n' ' ')" "7 10 9 1 "
eq "demo call" "$(section "$D" 'exec 3<>call; echo "load_u32 161 10" >&3; cat <&3; exec 3>&-')" \
	"3 3 0 2 161 10 0 0 0 0 0 0 0 0 0 0"
eq "demo observable 10" "$(section "$D" 'cat observables/10')" 10
eq "demo debug/log" "$(section "$D" 'cat debug/log')" "$(printf '42 1 2 64\ndropped 0')"
eq "demo metrics" "$(section "$D" 'grep -E "^(nop|store_u32|atomic_add|load_u32|done_count|published|pending) " control/metrics' | tr '\n' ' ')" \
	"nop 0 store_u32 2 atomic_add 3 load_u32 1 done_count 6 published 6 pending 0 "
s=$(section "$D" 'tail -n 2 errors')
eq "demo errors" "$(grep -c ' ring/5 EINVAL .*Fix:' <<<"$s")" 2
dm=$(sed -n 's/^\$ fusermount3 -u //p' "$D")
[ -n "$dm" ] || fail "demo: no closing fusermount3 line"
if [ -n "$dm" ]; then
	for i in $(seq 200); do # bounded: 10 s for the daemon to exit
		pgrep -f "$TMP/b/megafs .*$dm" >/dev/null || break
		sleep 0.05
	done
	pgrep -f "$TMP/b/megafs .*$dm" >/dev/null && fail "demo daemon still alive"
	grep -q " $dm " /proc/mounts && { fail "demo left $dm mounted"; umount -l "$dm"; }
	[ -e "$dm" ] && fail "demo left $dm behind"
fi
if [ "$fails" -gt 0 ]; then
	echo "--- scripts/demo.sh output"; cat "$D" "$TMP/demo.err"
fi

# ---- examples/demo.sh MNT --------------------------------------------------------
out=$(bash "$ROOT/examples/demo.sh" "$TMP" 2>&1)
eq "examples/demo.sh on a plain dir: exit" "$?" 1
has "examples/demo.sh on a plain dir" "$out" "is not a megafs mount. Fix:"
do_mount ""
out=$(timeout -k 5 120 bash "$ROOT/examples/demo.sh" "$MNT" 2>&1)
eq "examples/demo.sh exit" "$?" 0
has_line "demo ring/0" "$out" "$(printf 'ring/0  %-22s -> %s' 'store_u32 7 160' '3 1 0 2 7 160 0 0 0 0 0 0 0 0 0 0')"
has_line "demo ring/2" "$out" "$(printf 'ring/2  %-22s -> %s' 'memcpy 160 162 1' '3 5 0 2 160 162 1 0 0 0 0 0 0 0 0 0')"
has_line "demo observables" "$out" "observables 0..2: 7 5 7"
has_line "demo call first" "$out" "first:  3 2 0 2 10 161 0 0 0 0 0 0 0 0 0 0"
has_line "demo call second" "$out" "second: 3 3 0 2 161 2 0 0 0 0 0 0 0 0 0 0"
has_line "demo observable 2" "$out" "observable 2 now 15"
for l in "store_u32 1" "atomic_add 2" "load_u32 1" "memcpy 1" "done_count 5" \
	"published 5" "pending 0"; do
	has_line "demo metrics '$l'" "$out" "$l"
done
has "demo scan done" "$(grep '^progress: ' <<<"$out")" "state=done"
# 2000 lines each of "GET /index.html N" and "POST /form N".
has_line "demo scan matches" "$out" "matches:  6000   (grep -o counts: 6000)"
eq "demo scan hits" "$(grep -cE '^  [0-9]+ [0-9]+$' <<<"$out")" 5
eq "demo removed its pattern set and stream" \
	"$(find "$MNT/patterns" "$MNT/streams" -mindepth 1 -name 'demo-*' | wc -l)" 0
[ "$fails" -gt 0 ] && printf -- '--- examples/demo.sh output\n%s\n' "$out"
do_umount

# ---- examples/client.py MNT ------------------------------------------------------
out=$(python3 "$ROOT/examples/client.py" "$TMP" 2>&1)
eq "client.py on a plain dir: exit" "$?" 1
has "client.py on a plain dir" "$out" "is not a megafs mount. Fix:"
do_mount ""
out=$(timeout -k 5 120 python3 "$ROOT/examples/client.py" "$MNT" 2>&1)
eq "client.py exit" "$?" 0
has "client.py kernel" "$(grep '^kernel: ' <<<"$out")" "state=running"
z=", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]"
has_line "client.py ring/0" "$out" "ring/0 [3, 1, 0, 2, 7, 160$z"
has_line "client.py ring/1" "$out" "ring/1 [3, 2, 0, 2, 5, 161$z"
has_line "client.py ring/2 binary" "$out" "ring/2 [3, 2, 0, 2, 1, 161$z"
has_line "client.py observables" "$out" "observables 0, 1: 7 6"
has_line "client.py call 1" "$out" "call  status=3 opcode=1 args=[41, 163, 0]"
has_line "client.py call 2" "$out" "call  status=3 opcode=2 args=[1, 163, 0]"
has_line "client.py call 3" "$out" "call  status=3 opcode=3 args=[163, 4, 0]"
eq "client.py observable 4" "$(grep -cE '^observable 4 = 42 \(3 calls in [0-9]+ us\)$' <<<"$out")" 1
has_line "client.py metrics" "$out" \
	"metrics: {'store_u32': 2, 'atomic_add': 3, 'load_u32': 1, 'done_count': 6}"
has "client.py scan" "$out" "state=done"
# "abab\0\xff" x 50000: ab 100000, abab 50000, \0\xff 50000, b\0 50000.
has "client.py matches" "$(grep '^matches ' <<<"$out")" "matches 250000 (python counts 250000), first hits [("
[ "$fails" -gt 0 ] && printf -- '--- examples/client.py output\n%s\n' "$out"
do_umount

echo "test_examples: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
