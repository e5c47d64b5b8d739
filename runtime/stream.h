/* SPDX-License-Identifier: MIT */
/*
 * runtime/stream.h - files stream through the resident megakernel: an
 * io_uring reader (runtime/uring.h) fills staging buffers the kernel can
 * read; every completed chunk is published as a SCAN_CHUNK ring slot
 * (runtime/scan.h) that the kernel executes like any other command; the
 * stream thread merges the per-chunk counts and hits and gives the buffer
 * back to the reader. Back-pressure: a stream owns a bounded number of
 * buffers; reading waits for a free one, and ring commands published by
 * users keep flowing beside it. Pairs with runtime/stream.c.
 *
 * Exactness across chunk boundaries: for a literal set each chunk re-reads
 * max_len - 1 bytes before its start and counts only matches that end in
 * its own bytes (proof in runtime/dfa.c), so chunks are independent and
 * may complete in any order. A binary DFA (unknown longest match) is
 * streamed in file order with the DFA state carried from chunk to chunk.
 */
#ifndef MK_RUNTIME_STREAM_H
#define MK_RUNTIME_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/dfa.h"
#include "runtime/err.h"
#include "runtime/runtime.h"
#include "runtime/scan.h"

#define MK_STREAM_DEFAULT_CHUNK (4u << 20)
#define MK_STREAM_MAX_CHUNK (16u << 20)
#define MK_STREAM_MIN_CHUNK 4096u
#define MK_STREAM_DEFAULT_HITS 1000u
#define MK_STREAM_BUFS 8u      /* staging buffers per stream, by default */
#define MK_STREAM_MAX_BUFS 16u /* most per stream (mk_stream_params.nbufs) */

struct mk_scan_pool; /* per runtime: staging buffers and pattern sets */
struct mk_stream;    /* one file being scanned */

/* Host execution of a SCAN_CHUNK slot (the CPU backend calls this). */
void mk_scan_exec_host(struct mk_scan_env *env, const uint32_t *slot_words);

/*
 * Hold off (or allow again) a replacement of @env's pattern sets while a
 * host worker runs an opcode that reads them (DFA_STEP, PACKED_SLOT):
 * set changes take env->host_lock exclusively, so a replaced table is
 * unreachable once the change returns and is freed at once.
 */
void mk_scan_sets_hold(struct mk_scan_env *env);
void mk_scan_sets_release(struct mk_scan_env *env);

/*
 * Create the pool for @rt and register its tables with the backend.
 * -ENOTSUP (backend cannot scan), -ENOMEM; Fix: hints in @err.
 */
int mk_scan_pool_create(struct mk_runtime *rt, struct mk_scan_pool **out,
			struct mk_err *err);
/* Free it; every stream must be destroyed first. NULL-tolerant. */
void mk_scan_pool_destroy(struct mk_scan_pool *pool);
/*
 * A stream destroyed while its chunks were still in a stopped kernel leaves
 * them there (they run after a restart) with their buffers and slots
 * reserved: orphans. Reap frees those whose slot is DONE (stream start and
 * end do it too) and returns how many are left; orphans() counts them
 * (NULL-tolerant, lock-free).
 */
int mk_scan_pool_reap(struct mk_scan_pool *pool);
uint32_t mk_scan_pool_orphans(const struct mk_scan_pool *pool);

/*
 * Register a compiled set (the pool borrows @d until removed): returns its
 * index (>= 0, the DFA_STEP/SCAN_CHUNK set number), -ENOSPC, or the
 * backend's error when it cannot take the set (cuda: -ENOMEM, or -E2BIG for
 * a hit table larger than the set's next[] table; runtime/dfa.h
 * mk_dfa_out_table).
 */
int mk_scan_pool_add_set(struct mk_scan_pool *pool, const struct mk_dfa *d,
			 struct mk_err *err);
/* Replace set @idx's DFA (same index), e.g. when literals are rewritten;
 * on the backend's errors (as for add) the old DFA stays. */
int mk_scan_pool_replace_set(struct mk_scan_pool *pool, int idx,
			     const struct mk_dfa *d, struct mk_err *err);
/* -EBUSY while a running stream uses it. */
int mk_scan_pool_remove_set(struct mk_scan_pool *pool, int idx,
			    struct mk_err *err);

struct mk_stream_params {
	int fd;              /* regular file opened by the caller (any creds) */
	uint64_t size;       /* bytes to scan */
	int set;             /* pattern set index in the pool */
	uint32_t chunk_bytes;/* MK_STREAM_MIN_CHUNK..MK_STREAM_MAX_CHUNK */
	uint32_t max_hits;   /* hits kept, 0..MK_SCAN_HITS_CAP */
	uint32_t nbufs;      /* staging buffers, 1..MK_STREAM_MAX_BUFS;
				0 = MK_STREAM_BUFS */
	int inline_reads;    /* 1: reads complete in the stream's thread,
				one at a time (the bench's comparison);
				0: io-wq workers copy in parallel
				(MK_URING_ASYNC) */
};

/*
 * Start scanning: takes ownership of @p->fd (closed on destroy). Returns 0,
 * -EINVAL (bad params), -ENOENT (no such set), -EBUSY (no free staging
 * buffers), -ENOMEM, or the reader's errors; Fix: hints in @err.
 */
int mk_stream_start(struct mk_scan_pool *pool, const struct mk_stream_params *p,
		    struct mk_stream **out, struct mk_err *err);
/* Ask it to stop; returns at once. The state becomes "cancelled". */
void mk_stream_cancel(struct mk_stream *s);
/* Cancel if running, wait until no read or slot is in flight, free. */
void mk_stream_destroy(struct mk_stream *s);

enum mk_stream_state {
	MK_STREAM_RUNNING,
	MK_STREAM_DONE,
	MK_STREAM_FAILED,
	MK_STREAM_CANCELLED
};

struct mk_stream_progress {
	enum mk_stream_state state;
	uint64_t bytes;   /* file bytes whose scan completed */
	uint64_t total;
	uint64_t matches;
	uint64_t chunks;  /* chunks completed */
	double elapsed_s; /* start to end (or now) */
	char error[MK_ERR_MSG_MAX]; /* "" unless failed */
	int error_code;             /* its negative errno, 0 unless failed */
	char io[128];     /* how the reader reads (READ_FIXED, ...) */
};

int mk_stream_progress(struct mk_stream *s, struct mk_stream_progress *out);
const char *mk_stream_state_name(enum mk_stream_state st);

/*
 * Copy up to @cap of the kept hits (sorted by end offset, then pattern) and
 * the number of further matches not kept in *@dropped. Returns the count.
 */
size_t mk_stream_hits(struct mk_stream *s, struct mk_scan_hit *out, size_t cap,
		      uint64_t *dropped);

#endif /* MK_RUNTIME_STREAM_H */
