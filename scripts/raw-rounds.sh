#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ring/raw with 1 MiB writes, measured in alternated rounds so that each
# setting meets the same machine drift: every round runs
# tests/bench_fs BACKEND N once per MK_PUBLISH_PARTS setting, in turn. Each
# run's own null FUSE server is its peer. Prints every run's figures, then
# per setting the median (min-max) over the rounds, in M slots/s:
# to completion from 1, 2 and 4 writers, and the host half (kernel
# stopped), each beside its null FUSE figure. Works on every backend:
#   scripts/raw-rounds.sh [BACKEND [ROUNDS [N]]]
#   B=build/release         the build whose megafs and tests/bench_fs run
#   MK_RAW_PARTS="4 8 1"    the MK_PUBLISH_PARTS settings ("" = default)
# scripts/gpu-check.sh runs it as its step "raw" (cuda, 5 rounds).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BACKEND=${1:-cpu}
ROUNDS=${2:-3}
N=${3:-100}
B=${B:-build/release}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
PARTS=${MK_RAW_PARTS:-4 8 1}
if [ ! -x "$B/tests/bench_fs" ]; then
	echo "raw-rounds: no $B/tests/bench_fs. Fix: make (or set B= to a build)" >&2
	exit 1
fi
TMP=$(mktemp -d /tmp/mk-raw-rounds.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# One run: "setting one null1 two null2 four null4 host nullh".
run_once() { # parts
	local out
	out=$(MK_PUBLISH_PARTS=$1 MK_BUILD=$B timeout 300 "$B/tests/bench_fs" \
		"$BACKEND" "$N" 2>/dev/null) || return 1
	awk -v p="$1" '
		/^ring\/raw 1048576 B writes:/ { one = $5; n1 = $12 }
		/^ring\/raw 1 MiB writes from 2 writers:/ { two = $8; n2 = $15 }
		/^ring\/raw 1 MiB writes from 4 writers:/ { four = $8; n4 = $15 }
		/^ring\/raw host half/ { host = $11; nh = $16 }
		END {
			if (one == "" || two == "" || four == "" || host == "")
				exit 1
			print p, one, n1, two, n2, four, n4, host, nh
		}' <<<"$out"
}

echo "raw-rounds: backend=$BACKEND rounds=$ROUNDS n=$N MK_PUBLISH_PARTS in {$PARTS}, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf '%-6s %-5s | %8s %8s | %8s %8s | %8s %8s | %8s %8s\n' round parts \
	'1 writer' null '2 wr.' null '4 wr.' null 'host' null
fail=0
for r in $(seq "$ROUNDS"); do
	for p in $PARTS; do
		if line=$(run_once "$p"); then
			echo "$line" >>"$TMP/runs"
			# shellcheck disable=SC2086
			printf '%-6s %-5s | %8s %8s | %8s %8s | %8s %8s | %8s %8s\n' \
				"$r" $line
		else
			echo "round $r parts=$p: bench_fs failed or printed no ring/raw rows"
			fail=1
		fi
	done
done
[ -s "$TMP/runs" ] || exit 1

echo
echo "median (min-max), M slots/s, per MK_PUBLISH_PARTS setting:"
printf '%-5s | %-22s | %-22s | %-22s | %-22s | %-22s\n' parts \
	'1 writer' 'null FUSE' '2 writers' '4 writers' 'host half'
for p in $PARTS; do
	row=$p
	for col in 2 3 4 6 8; do
		cell=$(awk -v p="$p" -v c="$col" '$1 == p { print $c }' "$TMP/runs" |
			sort -g | awk '{ v[NR] = $1 } END {
				if (!NR) { print "-"; exit }
				m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
				printf "%.2f (%.2f-%.2f)", m, v[1], v[NR] }')
		row="$row|$cell"
	done
	IFS='|' read -r a b c d e f <<<"$row"
	printf '%-5s | %-22s | %-22s | %-22s | %-22s | %-22s\n' "$a" "$b" "$c" "$d" "$e" "$f"
done
echo "(null FUSE: the 1-writer peer; each run's 2-, 4-writer and host-half peers are in the rows above)"
exit "$fail"
