/* SPDX-License-Identifier: MIT */
/*
 * runtime/scan.h - the SCAN_CHUNK extension opcode (MK_OP_SCAN_CHUNK,
 * 0xF100, user range): the resident megakernel scans a staged file chunk
 * for a pattern set. Host and device share the env below through memory
 * the kernel can read (mapped pinned memory for CUDA), so the layout is
 * plain C with fixed-width types; nvcc compiles it too.
 *
 * Slot arguments of SCAN_CHUNK:
 *   a0 staging buffer index     a1 bytes in the buffer
 *   a2 count_from: bytes at the start that are overlap (not counted)
 *   a3 pattern set index        a4 start DFA state (0, or carried)
 *   a5/a6 file offset of byte 0 (low/high 32 bits)
 *   a7 hit capacity for this chunk (<= MK_SCAN_HITS_CAP)
 * Semantics (one statement, runtime/dfa.h): run the set's DFA from state a4
 * (0 if a4 >= states) over buf[0..a1) (a1 clamped to caps[a0]); every
 * match that ends at a position >= a2 is counted (overlapping matches
 * included); the first min(a7, MK_SCAN_HITS_CAP) of them by (end offset,
 * pattern index) are recorded as (pattern, end offset in the file), in an
 * order within one end that is the backend's (CPU: longest pattern first;
 * GPU: lowest index first), so sort them to compare (stream.c does); the
 * state after the last byte is stored for carry-state streaming. Results
 * land in outs[a0]; then the slot completes like any other (DONE_COUNT,
 * DONE; no metric: the opcode is >= 32). Bad indices, no tables, an
 * unloaded set or a missing buffer make it a no-op that still completes
 * (never a fault); outs[a0] is then untouched.
 *
 * Backends: the CPU runs it in the claiming worker (mk_scan_exec_host in
 * runtime/stream.c). The CUDA kernel makes it a job of buffer a0 that warps
 * of every SM scan tile by tile (kernels/scan.cuh); there the env, bufs
 * and hits must come from mk_runtime_alloc_shared (mapped memory at the
 * same address on both sides), a SCAN_CHUNK whose buffer still has a chunk
 * in flight completes as a no-op (streams never publish one), and a set
 * without a known longest match (binary DFA) is scanned in order by one
 * lane.
 */
#ifndef MK_RUNTIME_SCAN_H
#define MK_RUNTIME_SCAN_H

#include <stdint.h>

#include "runtime/abi.h"
#include "runtime/dfa.h"

#define MK_SCAN_MAX_SETS 64u
#define MK_SCAN_MAX_BUFS 64u /* <= 64: the CUDA kernel's pending mask */
#define MK_SCAN_HITS_CAP 65536u

struct mk_scan_hit {
	uint32_t pattern;
	uint32_t pad;
	uint64_t end_offset; /* file offset one past the match's last byte */
};

/* Result of one chunk scan; written by the backend that ran the slot. */
struct mk_scan_out {
	uint64_t matches;   /* matches ending at >= count_from */
	uint32_t nhits;     /* hits recorded in hits[0..nhits) */
	uint32_t end_state; /* DFA state after the last byte */
	uint32_t overflow;  /* 1: more hits than capacity (counted, not kept) */
	uint32_t pad;
};

/* Everything a backend needs to run SCAN_CHUNK; owned by runtime/stream.c. */
struct mk_scan_env {
	uint8_t *bufs[MK_SCAN_MAX_BUFS];          /* staging buffers */
	struct mk_scan_out outs[MK_SCAN_MAX_BUFS]; /* one result per buffer */
	struct mk_scan_hit *hits[MK_SCAN_MAX_BUFS]; /* MK_SCAN_HITS_CAP each */
	uint32_t caps[MK_SCAN_MAX_BUFS];           /* bytes of each buffer */
	struct mk_dfa_view sets[MK_SCAN_MAX_SETS]; /* next == NULL: free */
	/* Host-only: the compiled sets (for hit enumeration on the CPU). */
	const struct mk_dfa *dfas[MK_SCAN_MAX_SETS];
	/*
	 * Host-only: a pthread_rwlock_t guarding bufs/hits/caps. Host scans
	 * hold it shared; the pool takes it exclusively to free the buffers
	 * of a finished stream, so a stray SCAN_CHUNK slot written by hand
	 * never reads freed memory. NULL: no locking (tests, fuzzers).
	 */
	void *host_lock;
};

#endif /* MK_RUNTIME_SCAN_H */
