/* SPDX-License-Identifier: MIT */
/*
 * kernels/megakernel.h - the extern "C" shim between runtime/backend_cuda.c
 * (gcc, CUDA runtime API) and kernels/megakernel.cu (nvcc): the layout of
 * the buffers the resident kernel shares with the host, the launch
 * arguments, and the few host functions nvcc must compile (the launch and
 * the peer kernels of tests/bench_gpu.c). C types only.
 *
 * Where things live (see docs in kernels/megakernel.cu):
 *   mapped pinned host memory: ring, submission queue (SQ), host page,
 *                              the scan env, staging buffers and hits;
 *   device memory:             control, debug log, scheduler state, the
 *                              pattern-set tables and scan jobs.
 */
#ifndef MK_KERNELS_MEGAKERNEL_H
#define MK_KERNELS_MEGAKERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/scan.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Submission queue entry: 16 "units" of 8 bytes, each (tag << 32 | data),
 * written by the host with one 8-byte store per unit. A unit is valid for
 * SQ position pos when its tag is (uint32_t)(pos + 1), so the kernel can
 * tell a complete entry from a half-written one with single-copy-atomic
 * 8-byte loads and no ordering between the units (NCCL's LL idea).
 * Unit 0 data = kind << 28 | slot (INLINE, RANGE) ; unit 1 data = count
 * (RANGE); units 1..15 data = slot words 1..15 (INLINE).
 * Each SQ position is a cell of kargs.pollers copies of the entry, 128
 * bytes each: poller p of the kernel reads copy p only, so no two reads
 * in flight share a line (tests/probe_poll.cu: reads of different warps
 * do not slow each other; two reads of one warp took ~1.5x as long).
 * MK_CUDA_POLLERS (1..MK_CUDA_MAX_POLLERS, default 4) sets the count.
 */
#define MK_SQ_UNITS 16u
#define MK_SQ_ENTRY_BYTES 128u
#define MK_CUDA_MAX_POLLERS 6u /* warps 0 and 2..6 of block 0 */
#define MK_CUDA_POLLERS 4u     /* default */
#define MK_SQ_KIND_INLINE 1u /* one slot, image copied into the entry */
#define MK_SQ_KIND_RANGE 2u  /* [slot, slot + count) of the ring */
#define MK_SQ_KIND_NUDGE 3u  /* host wrote control words: retry parked slots */
#define MK_SQ_KIND_SCAN 4u   /* like RANGE, but slots may not be published */
#define MK_SQ_KIND_SHIFT 28u
#define MK_SQ_SLOT_MASK 0x0FFFFFFFu

/* Host page. First line written by the kernel, second by the host. */
struct mk_cuda_hpage {
	uint64_t sq_head;  /* SQ entries the executor has taken (mirror) */
	uint32_t done_seq; /* changes after completions, while want != 0 */
	uint32_t alive;    /* launch id, stored when the executor starts */
	uint32_t exited;   /* launch id, stored by the last warp to leave */
	uint32_t tr_n;     /* MK_CUDA_TRACE: single slots in the means below */
	uint32_t tr_seen;  /* mean SM cycles, SQ read issued -> entry seen */
	uint32_t tr_exec;  /* mean SM cycles, entry seen -> executor has it */
	uint32_t tr_done;  /* mean SM cycles, executor has it -> DONE stored */
	uint32_t tr_rtt;   /* mean SM cycles, any SQ read issued -> arrived */
	uint32_t tr_ten;   /* mean SM cycles, executor has it -> mask known */
	uint32_t tr_fence; /* mean SM cycles of the release fence */
	uint32_t pad0[20];
	uint32_t want;     /* host: nonzero while threads wait for slots */
	uint32_t pad1[31];
};

/* Scheduler state in device memory; persists across launches. */
struct mk_cuda_dstate {
	uint64_t sq_head;     /* SQ position the next launch starts at */
	uint32_t live;        /* warps still inside the kernel (atomic) */
	uint32_t done_events; /* source of hpage->done_seq (atomic) */
	/* SCAN_CHUNK (kernels/scan.cuh); before park_head: a rescan keeps them */
	uint64_t scan_pending; /* bit b: buffer b's job runs (atomic) */
	uint64_t scan_tab;     /* host: mk_cuda_scan_tab in use, 0 = none */
	uint64_t scan_area;    /* host, once: the mk_cuda_scan_area */
	uint32_t park_head;   /* parked bag: the executor consumes from here */
	uint32_t park_tail;   /* parked bag: atomicAdd reservations */
	uint32_t rr;          /* round-robin cursor over block queues */
	uint32_t want;        /* copy of hpage->want for the workers */
	uint32_t pq_head[8];  /* priority partition queues (executor only) */
	uint32_t pq_tail[8];
	uint32_t pad1[6];
};

/*
 * Per-block work queue header (one 128-byte line each). Its workers poll
 * only this line, never the shared control words.
 */
struct mk_cuda_bqueue {
	uint32_t head; /* consumers of this block (atomicCAS) */
	uint32_t pad0[15];
	uint32_t tail; /* the executor only */
	uint32_t stop; /* the executor: launch id when workers must leave */
	uint32_t pad1[14];
};

/* Geometry of the device-memory scheduler area (all counts powers of 2). */
struct mk_cuda_geom {
	uint32_t slots;
	uint32_t nblocks;   /* grid size */
	uint32_t bq_cap;    /* cells per block queue */
	uint32_t park_cap;  /* parked bag cells */
	uint32_t pq_cap;    /* cells per priority partition queue */
	uint32_t sq_cap;    /* SQ entries (mapped host memory) */
	/* byte offsets inside the device scheduler area, and its size */
	size_t off_bq, off_bq_cells, off_park, off_pq, off_scan, bytes;
};

/* Launch arguments, passed by value. Pointers are device addresses. */
struct mk_cuda_kargs {
	uint32_t *ctl;
	uint32_t *ring; /* mapped host memory */
	uint32_t *dbg;
	const uint64_t *sq; /* mapped host memory, sq_cap cells of pollers x 16 units */
	struct mk_cuda_hpage *hpage;
	struct mk_cuda_dstate *ds;
	struct mk_cuda_bqueue *bq;
	uint64_t *bq_cells;  /* nblocks * bq_cap: first | count << 32 */
	uint64_t *park;      /* park_cap: slot | tenant << 32, ~0 = empty */
	uint32_t *pq;        /* 6 * pq_cap slot indices */
	uint32_t ctl_words, ring_words, dbg_words, slots;
	uint32_t sq_cap, bq_cap, park_cap, pq_cap;
	uint32_t nblocks;
	uint32_t priority;       /* 1: priority scheduler variant */
	uint32_t starvation_fix; /* 1: opt-in fix of PROTOCOL.md 6.4 */
	uint32_t launch_id;
	uint32_t test_trap; /* 1: MK_CUDA_TRAP_OPCODE traps (fault tests) */
	uint32_t trace;     /* 1: fill hpage->tr_* (MK_CUDA_TRACE=1) */
	uint32_t pollers;   /* SQ copies per cell = poller warps */
	uint32_t direct;    /* 1 (MK_CUDA_DIRECT, default): pollers run lone slots */
};

#define MK_CUDA_THREADS 256u /* threads per block */
#define MK_CUDA_CHUNK 32u    /* slots per block-queue item (one warp) */
#define MK_CUDA_PQ_COUNT 5u  /* one per partition; a slot outside them is parked */
/*
 * Test hook: with MK_CUDA_TEST_TRAP=1 in the environment at create time, a
 * slot with this (user) opcode makes the kernel execute a trap, so the
 * suites can check that a kernel fault is reported and never hangs.
 */
#define MK_CUDA_TRAP_OPCODE 0x7EADBEEFu

/*
 * ---- SCAN_CHUNK on the GPU (kernels/scan.cuh) -------------------------------
 * The host half (runtime/backend_cuda_scan.c) uploads the pattern sets to
 * device memory and publishes one immutable snapshot of them, a
 * struct mk_cuda_scan_tab, in dstate.scan_tab. A claimed SCAN_CHUNK slot
 * becomes the job of its staging buffer in the scan area (dstate.scan_area,
 * device memory the kernel alone writes); worker warps of every block take
 * its tiles.
 */
#define MK_CUDA_SCAN_TILE 16384u     /* counted bytes per warp round */
#define MK_CUDA_SCAN_MAX_TILES 2048u /* per job (bigger buffers: bigger tiles) */
/* Shared memory per warp: a round, its lead-in (< MK_DFA_MAX_PATLEN), and
 * 16-byte alignment at both ends. */
#define MK_CUDA_SCAN_SMEM (MK_CUDA_SCAN_TILE + MK_DFA_MAX_PATLEN + 64u)
#define MK_CUDA_SCAN_SEQ 0xFFFFFFFFu /* overlap of a set scanned in order */

/* One pattern set as the kernel sees it (device addresses). */
struct mk_cuda_scan_set {
	const uint32_t *next;    /* states*256 */
	const uint32_t *accept;  /* states */
	const uint32_t *out_off; /* states+1, mk_dfa_out_table (NULL: binary) */
	const uint32_t *out_pat; /* each row ascending */
	uint32_t states;         /* 0: no set at this index */
	uint32_t overlap;        /* max_len - 1, or MK_CUDA_SCAN_SEQ */
};

/* The tables of one set_scan call; never written once published. */
struct mk_cuda_scan_tab {
	struct mk_scan_env *env; /* mapped host memory, same address on both */
	struct mk_cuda_scan_set set[MK_SCAN_MAX_SETS];
	struct mk_dfa_view view[MK_SCAN_MAX_SETS]; /* DFA_STEP (device) */
};

/*
 * The job of one staging buffer (protocol in kernels/scan.cuh). shape and
 * claim words are gen << 32 | count: tiles of the phase, tiles taken.
 */
struct mk_cuda_scan_job {
	uint64_t shape1, claim1; /* count phase */
	uint64_t shape2, claim2; /* hit phase */
	uint64_t total;          /* matches, once counted */
	const uint8_t *buf;      /* mapped host memory, like out and hits */
	struct mk_scan_out *out;
	struct mk_scan_hit *hits;
	struct mk_cuda_scan_set set; /* copied when posted */
	uint64_t base;               /* file offset of byte 0 */
	uint32_t len, from, state, cap;
	uint32_t tile, slot, gen, done1;
	uint32_t done2, end_state;
	uint32_t pad[26];
};

struct mk_cuda_scan_area {
	struct mk_cuda_scan_job job[MK_SCAN_MAX_BUFS];
	uint64_t cnt[MK_SCAN_MAX_BUFS][MK_CUDA_SCAN_MAX_TILES]; /* per tile */
	uint32_t pre[MK_SCAN_MAX_BUFS][MK_CUDA_SCAN_MAX_TILES]; /* min(prefix, cap) */
};

MK_STATIC_ASSERT(sizeof(struct mk_cuda_scan_job) == 256, "one job, two lines");
/* dstate.scan_pending has one bit per staging buffer. */
MK_STATIC_ASSERT(MK_SCAN_MAX_BUFS <= 64u, "scan_pending is a 64-bit mask");
MK_STATIC_ASSERT(MK_DFA_MAX_PATLEN <= 1024u, "the lead-in fits the smem");

/* Round @v up to a power of two, at least @min (both <= 2^31). */
static inline uint32_t mk_cuda_pow2(uint32_t v, uint32_t min)
{
	uint32_t p = min;

	while (p < v && p < 0x80000000u)
		p <<= 1;
	return p;
}

/* Fill the capacities and offsets of @g from slots and nblocks. */
static inline void mk_cuda_geom_init(struct mk_cuda_geom *g, uint32_t slots,
				     uint32_t nblocks)
{
	uint32_t chunks = (slots + MK_CUDA_CHUNK - 1u) / MK_CUDA_CHUNK;

	g->slots = slots;
	g->nblocks = nblocks;
	/* Every pending slot sits in at most one place: room for all, x2. */
	g->bq_cap = mk_cuda_pow2(2u * chunks / (nblocks ? nblocks : 1u) + 8u, 16u);
	g->park_cap = mk_cuda_pow2(2u * slots, 64u);
	g->pq_cap = mk_cuda_pow2(slots, 64u);
	/*
	 * The SQ only absorbs bursts (the pollers drain it without waiting
	 * for execution). Overflow while stopped is not lost: the backend
	 * drops the queue and rescans the ring at the next start.
	 */
	g->sq_cap = mk_cuda_pow2((slots < 32768u ? slots : 32768u) + 256u, 1024u);
	g->off_bq = (sizeof(struct mk_cuda_dstate) + 255u) & ~(size_t)255u;
	g->off_bq_cells = g->off_bq + (size_t)nblocks * sizeof(struct mk_cuda_bqueue);
	g->off_park = g->off_bq_cells + (size_t)nblocks * g->bq_cap * 8u;
	g->off_pq = g->off_park + (size_t)g->park_cap * 8u;
	/* The scan area lives here too: zeroed before the first launch, so no
	 * allocation or memset runs beside the resident kernel for it. */
	g->off_scan = (g->off_pq + (size_t)MK_CUDA_PQ_COUNT * g->pq_cap * 4u +
		       255u) & ~(size_t)255u;
	g->bytes = g->off_scan + sizeof(struct mk_cuda_scan_area);
}

/* ---- host functions compiled by nvcc (kernels/megakernel.cu) ------------- */

/*
 * Blocks of MK_CUDA_THREADS the megakernel can keep resident per SM.
 * Returns a cudaError_t value (0 = success).
 */
int mk_cuda_kernel_occupancy(int *blocks_per_sm);

/*
 * Launch the resident megakernel on @stream (a cudaStream_t) with
 * @a->nblocks blocks of MK_CUDA_THREADS threads; cooperative when
 * @cooperative (all blocks co-resident or a launch error). Returns a
 * cudaError_t value.
 */
int mk_cuda_kernel_launch(const struct mk_cuda_kargs *a, void *stream,
			  int cooperative);

/*
 * Peer measurements for tests/bench_gpu.c, in the same process:
 *   launch_sync: @n times { launch a 1-thread kernel; cudaStreamSynchronize }
 *   graph_sync:  @n times { cudaGraphLaunch of a 1-kernel graph; sync }
 *   launch_tput: @n back-to-back async launches, then one sync
 * Per-op latencies go to @ns (n entries; NULL allowed for launch_tput),
 * the total wall time to @total_ns. Return a cudaError_t value.
 */
int mk_cuda_peer_launch_sync(uint32_t n, int64_t *ns, int64_t *total_ns);
int mk_cuda_peer_graph_sync(uint32_t n, int64_t *ns, int64_t *total_ns);
int mk_cuda_peer_launch_tput(uint32_t n, int64_t *total_ns);

#ifdef __cplusplus
}
#endif

#endif /* MK_KERNELS_MEGAKERNEL_H */
