#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make lint: the hard limits of ../shared/STYLE.md section 4.6 and the
# layering rules of section 4.1, checked mechanically.
#   - .c/.cu files < 1000 lines, headers < 600 (abi.h exempt)
#   - functions < 100 lines (tests: 200), by the column-0 brace heuristic
#   - runtime/ never includes FUSE; only the cuda backend's files
#     (runtime/backend_cuda*) and kernels/ include CUDA headers; only
#     runtime/uring.c includes liburing
#   - every global symbol of libmk.a starts with mk_
set -u
B=${1:-build/release}
bad=0
for f in runtime/*.c fs/*.c kernels/*.cu tests/*.c; do
	[ -f "$f" ] || continue
	n=$(wc -l <"$f")
	[ "$n" -lt 1000 ] || { echo "lint: $f has $n lines (limit 1000)"; bad=1; }
	limit=100
	case $f in tests/*) limit=200 ;; esac
	awk -v f="$f" -v limit="$limit" '
		/^[a-zA-Z].*\(/ { name = $0 }
		/^\{/ { start = NR }
		/^\}/ { if (start && NR - start > limit) {
				printf "lint: %s:%d function of %d lines (limit %d): %s\n",
				       f, start, NR - start, limit, name; bad = 1 }
			start = 0 }
		END { exit bad }' "$f" || bad=1
done
for f in runtime/*.h fs/*.h kernels/*.h; do
	[ -f "$f" ] || continue
	[ "$f" = runtime/abi.h ] && continue
	n=$(wc -l <"$f")
	[ "$n" -lt 600 ] || { echo "lint: $f has $n lines (limit 600)"; bad=1; }
done
if grep -ln 'include <fuse' runtime/* 2>/dev/null; then
	echo "lint: runtime/ must not include FUSE headers"; bad=1
fi
for f in $(grep -l 'include <cuda' runtime/* fs/* 2>/dev/null); do
	case $f in
	runtime/backend_cuda.c | runtime/backend_cuda_scan.c | runtime/backend_cuda_i.h) ;;
	*) echo "lint: $f includes CUDA"; bad=1 ;;
	esac
done
for f in $(grep -l 'include <liburing' runtime/* fs/* 2>/dev/null); do
	[ "$f" = runtime/uring.c ] || { echo "lint: $f includes liburing"; bad=1; }
done
if [ -f "$B/libmk.a" ]; then
	syms=$(nm -g --defined-only "$B/libmk.a" 2>/dev/null | awk 'NF==3 {print $3}' |
		grep -v '^mk_' | grep -v '^_' | grep -v '^DW\.ref\.' || true)
	[ -z "$syms" ] || { echo "lint: non-mk_ global symbols in libmk.a:"; echo "$syms"; bad=1; }
fi
[ $bad -eq 0 ] && echo "lint: ok"
exit $bad
