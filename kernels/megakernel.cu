/* SPDX-License-Identifier: MIT */
/*
 * kernels/megakernel.cu - the resident CUDA megakernel: launched once by
 * runtime/backend_cuda.c, it discovers the slots the host publishes, runs
 * them with the semantics of runtime/interp.h (the same code the CPU
 * backend runs) and marks them DONE, until control word 0 becomes non-zero.
 * It is not the host side: see runtime/backend_cuda.c and the shim
 * kernels/megakernel.h. Build: nvcc -std=c++17 -I. -gencode sm_90 (Makefile).
 *
 * Where the buffers live, and why:
 *   ring     mapped pinned host memory. The host publishes there with plain
 *            stores (status last, release); the kernel reads slots with
 *            16-byte volatile loads and stores DONE there (posted PCIe
 *            writes). The host sees DONE with no copy.
 *   SQ       mapped pinned, write-combined host memory: the doorbell.
 *            Every kick appends one entry (a copy of the slot for single
 *            publishes, a range for batches) of 8-byte (tag | data) units,
 *            so one PCIe read both discovers and delivers work, with no
 *            torn reads; WC memory spares that read the CPU-cache snoop.
 *            A few warps poll it, each its own copy: no polling storm,
 *            one 128..512-byte read per poller per PCIe round trip
 *            (~1.2 us on the reference H100 VM).
 *   control  device memory: every slot does at least two atomics on it
 *   debug    (DONE_COUNT, a metric), which stay in L2 instead of crossing
 *            PCIe. The host reads and writes them with cudaMemcpyAsync on
 *            a separate non-blocking stream while the kernel runs.
 *   state    device memory: per-block work queues, the parked bag, the
 *            priority partition queues. It persists across launches, so a
 *            stop never loses a consumed entry and start needs no rescan.
 *
 * Roles. Block 0 warps 0 and 2.. are the pollers (MK_CUDA_POLLERS, 4 by
 * default): each keeps one PCIe read of its own copy of the SQ in flight,
 * started a fraction of a round trip after the previous poller, so the
 * SQ is sampled every ~0.3 us instead of every ~1.2 us; the one that finds
 * new entries claims them (a shared-memory CAS) and hands them, in SQ
 * order, to block 0 warp 1, the executor, through shared memory. A poller
 * never fences and never touches L2: measured on H100, a GPU fence or
 * even an L2 load of a warp waits for its sysmem load in flight (~1 us), a
 * CTA fence does not (kernels/poll.cuh). A poller that claims a lone
 * single slot while the executor is idle runs it itself, which saves the
 * hand-off (MK_CUDA_DIRECT, on by default). The executor runs the other
 * single slots itself (one L2
 * round trip for the tenant mask, the handler, a GPU fence, one posted DONE
 * write), runs ranges of up to 32 slots itself and splits larger ones into
 * 32-slot chunks pushed round-robin to per-block queues; in the priority
 * variant it also makes every scheduling decision. Every other warp is a
 * worker: it pops chunks of its own block's queue, loads the 32 slots with
 * coalesced 16-byte loads (2 KB per warp round), executes one slot per lane
 * and stores DONE. Completions are announced to the host (hpage->done_seq,
 * behind a system fence) only while it says somebody waits (hpage->want).
 * SCAN_CHUNK slots become jobs that idle workers of every block (in both
 * variants) scan tile by tile in their shared memory; the warp that ends a
 * job completes its slot (kernels/scan.cuh).
 *
 * Release scope. DONE is stored after a GPU-scope fence, not a system one
 * (runtime/interp.h's MK_STORE_RELEASE): everything a handler writes is in
 * device memory, and the host reads it only through the copy engine, which
 * reads the same L2; a system fence costs ~0.7 us against ~0.35 us.
 * exec_claimed() below is mk_exec_claimed() with that one difference.
 * (A scan job's results are in host memory: it completes with a system one.)
 *
 * Claiming. The reference claims with a CAS on the ring status. Here the
 * ring is host memory, where a CAS is a non-posted PCIe atomic (about a
 * microsecond, and PCIe AtomicOps support). Instead, exactly-once comes
 * from the discovery path: the runtime kicks each publish exactly once,
 * each SQ entry is claimed by one poller (CAS) and run or queued by the
 * single executor, each chunk is popped by one
 * warp (CAS on a device-memory head), and a parked slot lives only in the
 * parked bag until re-queued. So the sharded variant moves a slot
 * PUBLISHED -> DONE in the ring without writing CLAIMED (the claim is held
 * on the device); the priority variant does write CLAIMED, because its
 * stranded-slot hazard (PROTOCOL.md 6.3 step 6) must stay visible.
 *
 * Tenant mask 0: the slot is parked (stays PUBLISHED) and retried when the
 * host writes a control word (a NUDGE entry) and every PARK_PERIOD_NS while
 * any slot is parked, which also catches masks changed by opcodes.
 *
 * Shutdown: the executor watches control word 0 and tells the pollers and
 * every block's workers (a stop word in their queue line); every warp
 * leaves only when it holds no work and no scan job is left, and the
 * executor only after the hand-off ring is empty, so queued work survives
 * to the next launch. The last warp out stores the launch id in the host
 * page.
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <time.h>

#include "kernels/megakernel.h"
#include "runtime/interp.h"

#define FULL_MASK 0xffffffffu
#define WARPS_PER_BLOCK (MK_CUDA_THREADS / 32u)
#define FE_DIRECT_MAX 32u        /* ranges up to this run on the executor */
#define PARK_PERIOD_NS 20000ull  /* retry parked slots this often */
#define IDLE_SLEEP_MIN_NS 64u
#define IDLE_SLEEP_MAX_NS 2000u
#define PRIO_BATCH 32u           /* priority decisions per round */
#define PRIO_ROUNDS 16u          /* rounds between two hand-off checks */
#define HANDOFF_SLOTS 64u        /* poller -> executor ring (shared memory) */
#define POLL_RTT_CYCLES 2400     /* one SQ read, H100 (tests/probe_poll.cu) */
#define SLOW_CYCLES 4000         /* executor: shutdown/park checks, idle */
#define PARK_EMPTY (~0ull)

/*
 * MK_CUDA_TRACE scratch: per-thread clock stamps of the executor's latency
 * path (only the executor's lane that runs a single slot reads them).
 */
static __device__ long long g_tr_f0, g_tr_f1, g_tr_ten;

/* ---- memory access helpers (PTX; see PROTOCOL.md section 10) ------------ */

#include "kernels/ptx.cuh"

static __device__ __forceinline__ uint32_t lane_id(void)
{
	return threadIdx.x & 31u;
}

static __device__ __forceinline__ int shutting_down(const mk_cuda_kargs &a)
{
	/* Pairs with the host's copy of 1 and with the SHUTDOWN opcode. */
	return ld_vol(&a.ctl[MK_CTL_SHUTDOWN]) != 0u;
}

/*
 * The runtime/interp.h view of the buffers, built from the kernel
 * parameters where it is used: everything inlines and it stays in
 * registers instead of a local-memory struct (measured on the latency path).
 */
static __device__ __forceinline__ mk_exec exec_of(const mk_cuda_kargs &a)
{
	mk_exec x = { a.ctl, a.ring, a.dbg, a.ctl_words, a.ring_words,
		      a.dbg_words, NULL, 0u };

	return x;
}

/* ---- completion notice and the parked bag -------------------------------- */

/*
 * After a warp round, only while the host has waiters (@want): if any lane
 * completed a slot, make its DONE store visible first, then move
 * hpage->done_seq so the host's monitor wakes them (a waiter that sees the
 * new value then sees DONE). Without waiters this costs nothing.
 */
static __device__ void notify_done(const mk_cuda_kargs &a, int did,
				   uint32_t want)
{
	uint32_t m = __ballot_sync(FULL_MASK, did);

	if (!m || !want)
		return;
	__threadfence_system();
	__syncwarp();
	if (lane_id() == 0) {
		uint32_t v = atomicAdd(&a.ds->done_events, 1u) + 1u;

		st_vol(&a.hpage->done_seq, v);
	}
}

/*
 * mk_tenant_enabled() with both loads in flight at once: with the default
 * table (word 2 == 3) one L2 round trip instead of two. Same values.
 */
static __device__ __forceinline__ int tenant_ok(const mk_exec *x, uint32_t t)
{
	uint32_t guess = mk_ctl_load(x, MK_CTL_TENANT_MASK_DEFAULT + t);
	uint32_t tb = mk_ctl_load(x, MK_CTL_TENANT_BASE);

	if (tb != MK_CTL_TENANT_MASK_DEFAULT)
		guess = mk_ctl_load(x, tb + t);
	return guess != 0u;
}

/* ---- SCAN_CHUNK jobs and DFA_STEP's pattern sets ------------------------- */

#include "kernels/scan.cuh"

/*
 * mk_exec_claimed() of runtime/interp.h (PROTOCOL.md 4.3 steps 6-8) with a
 * GPU-scope release before the DONE store (see the file header).
 */
static __device__ __forceinline__ void exec_claimed(const mk_cuda_kargs &a,
						    const mk_exec *x,
						    uint32_t slot_base,
						    const uint32_t *w, int trace)
{
	uint32_t op = w[MK_OPCODE_WORD];

	if (op == MK_OP_DFA_STEP || op == MK_OP_PACKED_SLOT)
		exec_with_sets(a, x, slot_base, w);
	else
		mk_exec_op(x, slot_base, op, w[MK_ARG0_WORD], w[MK_ARG0_WORD + 1u],
			   w[MK_ARG0_WORD + 2u], w[MK_ARG0_WORD + 3u]);
	/* mk_ctl_add() without waiting for the old value (word 1 always exists). */
	asm volatile("red.global.sys.add.u32 [%0], 1;" ::"l"(&x->ctl[MK_CTL_DONE_COUNT])
		     : "memory");
	/* Pairs with the host's acquire load of the status word. */
	if (trace)
		g_tr_f0 = clock64();
	__threadfence();
	if (trace)
		g_tr_f1 = clock64();
	st_vol(&x->ring[slot_base + MK_STATUS_WORD], MK_SLOT_DONE);
}

/* exec_claimed, except that a SCAN_CHUNK may become a job: 1 if completed. */
static __device__ __forceinline__ int exec_or_post(const mk_cuda_kargs &a,
						   const mk_exec *x, uint32_t slot,
						   const uint32_t *w, int trace)
{
	if (w[MK_OPCODE_WORD] == MK_OP_SCAN_CHUNK && scan_post(a, slot, w))
		return 0;
	exec_claimed(a, x, slot * MK_SLOT_WORDS, w, trace);
	return 1;
}

/* Leave @slot PUBLISHED for a disabled tenant; the executor retries it. */
static __device__ void park(const mk_cuda_kargs &a, uint32_t slot,
			    uint32_t tenant)
{
	uint32_t i = atomicAdd(&a.ds->park_tail, 1u);

	/* Release pairs with the executor's wait for a non-empty cell. */
	st_release_gpu64(&a.park[i & (a.park_cap - 1u)],
			 (uint64_t)slot | ((uint64_t)tenant << 32));
}

/* ---- running slots -------------------------------------------------------- */

/*
 * Sharded claim and execution of one slot whose 16 words are in @w, the
 * tenant check already made (@enabled) (PROTOCOL.md 4.3 steps 3-8).
 * Returns 1 when it completed the slot.
 */
static __device__ __forceinline__ int run_checked(const mk_cuda_kargs &a,
						  uint32_t slot, const uint32_t *w,
						  int enabled)
{
	const mk_exec x = exec_of(a);

	if (w[MK_STATUS_WORD] != MK_SLOT_PUBLISHED)
		return 0; /* nothing to claim */
	if (!enabled) {
		park(a, slot, w[MK_TENANT_WORD]);
		return 0;
	}
	if (a.test_trap && w[MK_OPCODE_WORD] == MK_CUDA_TRAP_OPCODE)
		__trap();
	return exec_or_post(a, &x, slot, w, (int)a.trace);
}

static __device__ int run_slot(const mk_cuda_kargs &a, const mk_exec *x,
			       uint32_t slot, const uint32_t *w)
{
	return run_checked(a, slot, w,
			   w[MK_STATUS_WORD] == MK_SLOT_PUBLISHED &&
				   tenant_ok(x, w[MK_TENANT_WORD]));
}

/* Load one slot's 16 words (one lane, four 16-byte loads). */
static __device__ void load_slot(const mk_cuda_kargs &a, uint32_t slot,
				 uint32_t *w)
{
	const uint32_t *p = a.ring + (size_t)slot * MK_SLOT_WORDS;
	uint32_t k;

#pragma unroll
	for (k = 0; k < 4u; k++) {
		uint4 v = ld_vol_v4(p + 4u * k);

		w[4u * k] = v.x;
		w[4u * k + 1u] = v.y;
		w[4u * k + 2u] = v.z;
		w[4u * k + 3u] = v.w;
	}
}

/*
 * Warp round over slots [first, first + n), n <= 32: coalesced 16-byte
 * loads (lane l of round r holds part q % 4 of slot q / 4, q = l + 32r),
 * transposed through shared memory so lane j owns slot j.
 */
static __device__ void warp_load(const mk_cuda_kargs &a, uint32_t first,
				 uint32_t n, uint4 *buf, uint32_t *w)
{
	uint32_t lane = lane_id(), r, k;

	__syncwarp(); /* the last round's reads of @buf are done */
#pragma unroll
	for (r = 0; r < 4u; r++) {
		uint32_t q = lane + 32u * r;

		if ((q >> 2) < n)
			buf[q] = ld_vol_v4(a.ring +
					   (size_t)(first + (q >> 2)) * MK_SLOT_WORDS +
					   (q & 3u) * 4u);
	}
	__syncwarp();
	if (lane < n) {
#pragma unroll
		for (k = 0; k < 4u; k++) {
			uint4 v = buf[lane * 4u + k];

			w[4u * k] = v.x;
			w[4u * k + 1u] = v.y;
			w[4u * k + 2u] = v.z;
			w[4u * k + 3u] = v.w;
		}
	}
	__syncwarp();
}

/* Whole warp: run the sharded range [first, first + count) in rounds. */
static __device__ void run_range(const mk_cuda_kargs &a, const mk_exec *x,
				 uint32_t first, uint32_t count, uint4 *buf,
				 uint32_t want)
{
	uint32_t off, lane = lane_id();

	for (off = 0; off < count; off += 32u) {
		uint32_t n = count - off < 32u ? count - off : 32u;
		uint32_t w[MK_SLOT_WORDS];
		int did = 0;

		warp_load(a, first + off, n, buf, w);
		if (lane < n)
			did = run_slot(a, x, first + off + lane, w);
		notify_done(a, did, want);
	}
}

/* ---- per-block work queues ------------------------------------------------- */

/*
 * Executor: split [first, first + count) into 32-slot chunks, push them to
 * block queues round-robin, one block per lane per pass. A chunk whose
 * queue is full is run by the executor itself, so it never waits.
 */
static __device__ void push_range(const mk_cuda_kargs &a, const mk_exec *x,
				  uint32_t first, uint32_t count, uint4 *buf,
				  uint32_t want)
{
	uint32_t lane = lane_id();
	uint32_t width = a.nblocks < 32u ? a.nblocks : 32u;
	uint32_t rr = a.ds->rr, off;

	for (off = 0; off < count; off += width * MK_CUDA_CHUNK) {
		uint32_t mine = off + lane * MK_CUDA_CHUNK;
		int has = lane < width && mine < count;
		uint32_t n = has ? min(MK_CUDA_CHUNK, count - mine) : 0u;
		int pushed = 0;
		uint32_t failed, f;

		if (has) {
			uint32_t b = (rr + lane) % a.nblocks;
			mk_cuda_bqueue *q = &a.bq[b];
			uint32_t t = ld_vol(&q->tail); /* the executor is its only writer */

			if (t - ld_vol(&q->head) < a.bq_cap) {
				a.bq_cells[(size_t)b * a.bq_cap + (t & (a.bq_cap - 1u))] =
					(uint64_t)(first + mine) | ((uint64_t)n << 32);
				/* Release pairs with the worker's acquire of tail. */
				st_release_gpu(&q->tail, t + 1u);
				pushed = 1;
			}
		}
		rr = (rr + width) % a.nblocks;
		failed = __ballot_sync(FULL_MASK, has && !pushed);
		while (failed) {
			f = __ffs(failed) - 1u;
			failed &= failed - 1u;
			run_range(a, x, first + off + f * MK_CUDA_CHUNK,
				  __shfl_sync(FULL_MASK, n, f), buf, want);
		}
	}
	if (lane == 0)
		a.ds->rr = rr;
	__syncwarp();
}

/* Worker: pop one chunk of this block's queue; 0 when empty or lost. */
static __device__ int pop_chunk(const mk_cuda_kargs &a, uint32_t *first,
				uint32_t *count)
{
	uint64_t item = 0;
	int got = 0;

	if (lane_id() == 0) {
		mk_cuda_bqueue *q = &a.bq[blockIdx.x];
		uint32_t h = ld_vol(&q->head);
		uint32_t t = ld_acquire_gpu(&q->tail);

		if (h != t) {
			/* Read before the CAS: the cell cannot be reused until head passes h. */
			item = ld_vol64(&a.bq_cells[(size_t)blockIdx.x * a.bq_cap +
						     (h & (a.bq_cap - 1u))]);
			got = atomicCAS(&q->head, h, h + 1u) == h;
		}
	}
	got = __shfl_sync(FULL_MASK, got, 0);
	item = __shfl_sync(FULL_MASK, item, 0);
	*first = (uint32_t)item;
	*count = (uint32_t)(item >> 32);
	return got;
}

/*
 * Worker: pop chunks of this block's queue until the executor raises this
 * block's stop word, and take tiles of scan jobs (@sm: this warp's shared
 * memory) when idle, except the block's last warp, kept for ring commands
 * while streams run; then help finish every posted job. Idle workers touch
 * only their block's queue line (a thousand warps polling one control word
 * would make its line, which also holds DONE_COUNT and the tenant table,
 * an L2 hot spot), and the scan jobs' word every SCAN_POLL_NS.
 */
static __device__ void worker(const mk_cuda_kargs &a, const mk_exec *x,
			      uint4 *buf, uint8_t *sm)
{
	const uint32_t *stop = &a.bq[blockIdx.x].stop;
	uint32_t sleep = IDLE_SLEEP_MIN_NS, first, count, want;
	/* Priority variant: workers run no ring commands, so all of them scan. */
	uint64_t next_poll = !a.priority && threadIdx.x / 32u == WARPS_PER_BLOCK - 1u
				     ? ~0ull : 0u;

	/* Lane 0's view of the stop word for all: pop_chunk and the scan
	 * need the whole warp, so the exit must be warp-uniform. */
	while (__shfl_sync(FULL_MASK, ld_vol(stop), 0) != a.launch_id) {
		if (pop_chunk(a, &first, &count)) {
			/* Read before the ring loads: an L2 load waits behind them. */
			want = ld_vol(&a.ds->want);
			run_range(a, x, first, count, buf, want);
			sleep = IDLE_SLEEP_MIN_NS;
			continue;
		}
		if (scan_idle(a, sm, &next_poll)) {
			sleep = IDLE_SLEEP_MIN_NS;
			continue;
		}
		__nanosleep(sleep);
		sleep = sleep * 2u > IDLE_SLEEP_MAX_NS ? IDLE_SLEEP_MAX_NS : sleep * 2u;
	}
	scan_drain(a, sm);
}

/* Executor: tell every block's workers to leave (they finish their chunk). */
static __device__ void stop_workers(const mk_cuda_kargs &a)
{
	uint32_t b;

	for (b = lane_id(); b < a.nblocks; b += 32u)
		st_vol(&a.bq[b].stop, a.launch_id);
	__syncwarp();
}

/* ---- priority variant: partition queues and decisions (executor only) ---- */

#include "kernels/prio.cuh"

/* ---- the pollers (block 0, warps 0 and 2..) --------------------------------- */

#include "kernels/poll.cuh"
#include "kernels/trace.cuh"

/* ---- the executor (block 0, warp 1) ---------------------------------------- */

/*
 * Retry parked slots: those whose tenant is enabled now run (sharded) or go
 * back to their partition queue (priority); the others are parked again.
 */
static __device__ void park_pass(const mk_cuda_kargs &a, const mk_exec *x,
				 prio_q *pq, uint32_t want)
{
	uint32_t lane = lane_id();
	uint32_t h = a.ds->park_head, t = ld_acquire_gpu(&a.ds->park_tail), base;

	for (base = h; base != t; base += min(32u, t - base)) {
		int active = lane < t - base;
		uint64_t *cell = &a.park[(base + lane) & (a.park_cap - 1u)];
		uint64_t c = PARK_EMPTY;
		uint32_t slot = 0, tenant = 0, w[MK_SLOT_WORDS];
		int ready = 0, did = 0;

		if (active) {
			/* A reserved cell is written right after its atomicAdd. */
			while ((c = ld_vol64(cell)) == PARK_EMPTY)
				__nanosleep(32);
			st_vol64(cell, PARK_EMPTY);
			slot = (uint32_t)c;
			tenant = (uint32_t)(c >> 32);
			ready = tenant_ok(x, tenant);
			if (!ready)
				park(a, slot, tenant);
		}
		if (a.priority) { /* parked again if no partition covers it */
			pq_place(a, pq, ready, slot,
				 ready ? mk_prio_partition(x, slot) : 0u);
			continue;
		}
		if (ready) {
			load_slot(a, slot, w);
			did = run_slot(a, x, slot, w);
		}
		notify_done(a, did, want);
	}
	if (lane == 0)
		a.ds->park_head = t;
	__syncwarp();
}

/* A consumed range: queue it (priority) or run / push it (sharded). */
static __device__ void exec_range(const mk_cuda_kargs &a, const mk_exec *x,
				  prio_q *pq, uint32_t kind, uint32_t s,
				  uint32_t cnt, uint4 *buf, uint32_t want)
{
	if (s >= a.slots)
		return;
	cnt = cnt > a.slots - s ? a.slots - s : cnt;
	if (a.priority)
		pq_push_range(a, x, pq, s, cnt, kind == MK_SQ_KIND_SCAN);
	else if (cnt <= FE_DIRECT_MAX)
		run_range(a, x, s, cnt, buf, want);
	else
		push_range(a, x, s, cnt, buf, want);
}

/*
 * Run hand-off entries [h, h + n), n <= 32: single slots first, one lane
 * each and all in parallel (the latency path), then ranges and nudges in
 * order. Returns 1 if one was a NUDGE.
 */
static __device__ int exec_entries(const mk_cuda_kargs &a, const mk_exec *x,
				   prio_q *pq, volatile handoff *hf, uint32_t h,
				   uint32_t n, uint4 *buf, uint32_t want)
{
	uint32_t lane = lane_id(), w[MK_SQ_UNITS], d0 = 0, cnt = 0, e, i;
	int did = 0, nudge = 0, fenced = 0;

	if (lane < n) {
		volatile uint32_t *src = hf->ent[(h + lane) % HANDOFF_SLOTS];
		uint32_t guess = 0, tb = 0, full;

		w[0] = sh_ld(&src[0]);
		w[MK_TENANT_WORD] = sh_ld(&src[MK_TENANT_WORD]);
		/* The tenant loads go out first; the rest of the entry meanwhile. */
		if (!a.priority && w[0] >> MK_SQ_KIND_SHIFT == MK_SQ_KIND_INLINE) {
			const mk_exec xr = exec_of(a);

			guess = mk_ctl_load(&xr, MK_CTL_TENANT_MASK_DEFAULT +
							 w[MK_TENANT_WORD]);
			tb = mk_ctl_load(&xr, MK_CTL_TENANT_BASE);
		}
#pragma unroll
		for (i = 1; i < 8u; i++)
			if (i != MK_TENANT_WORD)
				w[i] = sh_ld(&src[i]);
		/* Words 8..15 (args 4..11) matter only to PACKED_SLOT and SCAN_CHUNK. */
		full = w[MK_OPCODE_WORD] == MK_OP_PACKED_SLOT ||
		       w[MK_OPCODE_WORD] == MK_OP_SCAN_CHUNK;
#pragma unroll
		for (i = 8; i < MK_SQ_UNITS; i++)
			w[i] = full ? sh_ld(&src[i]) : 0u;
		d0 = w[0];
		cnt = w[1];
		if (!a.priority && d0 >> MK_SQ_KIND_SHIFT == MK_SQ_KIND_INLINE &&
		    (d0 & MK_SQ_SLOT_MASK) < a.slots) {
			if (tb != MK_CTL_TENANT_MASK_DEFAULT)
				guess = mk_ctl_load(x, tb + w[MK_TENANT_WORD]);
			if (a.trace && guess != 0x12345678u)
				g_tr_ten = clock64();
			w[MK_STATUS_WORD] = MK_SLOT_PUBLISHED; /* as it was kicked */
			did = run_checked(a, d0 & MK_SQ_SLOT_MASK, w, guess != 0u);
		}
	}
	notify_done(a, did, want);
	for (e = 0; e < n; e++) {
		uint32_t k = __shfl_sync(FULL_MASK, d0, e);
		uint32_t c = __shfl_sync(FULL_MASK, cnt, e);
		uint32_t kind = k >> MK_SQ_KIND_SHIFT;

		if (kind == MK_SQ_KIND_NUDGE)
			nudge = 1;
		if (kind == MK_SQ_KIND_INLINE && a.priority)
			c = 1u;
		else if (kind != MK_SQ_KIND_RANGE && kind != MK_SQ_KIND_SCAN)
			continue;
		if (!fenced) {
			/* The ring words of a range were written before its entry. */
			fence_acq_sys();
			fenced = 1;
		}
		exec_range(a, x, pq, kind, k & MK_SQ_SLOT_MASK, c, buf, want);
	}
	return nudge;
}

/*
 * The executor: takes hand-off entries as they come; runs the slow duties
 * (shutdown check, parked slots, priority retries) every SLOW_CYCLES; leaves
 * only after every poller stopped and the hand-off ring is empty, so no
 * consumed entry is lost.
 */
static __device__ void executor(const mk_cuda_kargs &a, const mk_exec *x,
				volatile handoff *hf, uint4 *buf, prio_q *pq,
				prio_scratch *sc)
{
	uint64_t last_park = now_ns(), start = a.ds->sq_head;
	long long last_slow = clock64();
	uint32_t lane = lane_id(), h = 0, q, stopping = 0;
	int nudge = 0, work = 0;
	struct trace tr = { 0, 0, 0, 0, 0, 0 };

	if (lane == 0) {
		for (q = 0; q < MK_CUDA_PQ_COUNT; q++) {
			pq->head[q] = a.ds->pq_head[q];
			pq->tail[q] = a.ds->pq_tail[q];
		}
		st_vol(&a.hpage->alive, a.launch_id);
	}
	__syncwarp();
	for (;;) {
		uint32_t t = sh_ld_warp(&hf->tail), want = sh_ld_warp(&hf->want);

		if (t != h) {
			uint32_t n = t - h < 32u ? t - h : 32u;
			long long t0 = clock64();

			__threadfence_block(); /* pairs with the pollers' fence */
			nudge |= exec_entries(a, x, pq, hf, h, n, buf, want);
			if (a.trace)
				trace_add(a, hf, &tr, t0);
			h += n;
			__syncwarp();
			if (lane == 0) {
				sh_st(&hf->head, h);
				/* The host's room check and NUDGE dedup. Only
				 * the executor stores it, so it never goes
				 * back (pollers finish claims out of order). */
				st_vol64(&a.hpage->sq_head, start + h);
			}
			work = 1;
		} else if (stopping && sh_ld_warp(&hf->pollers_done) == a.pollers) {
			__threadfence_block();
			if (sh_ld_warp(&hf->tail) == h)
				break;
			continue;
		}
		if (a.priority && work && !stopping)
			schedule(a, x, pq, sc, want); /* new work: decide now */
		work = 0;
		if (!nudge && clock64() - last_slow < SLOW_CYCLES)
			continue;
		last_slow = clock64();
		if (!stopping && shutting_down(a)) {
			stopping = 1;
			if (lane == 0)
				sh_st(&hf->stop, 1u);
			stop_workers(a);
		}
		if (ld_vol(&a.ds->park_tail) != a.ds->park_head &&
		    (nudge || now_ns() - last_park > PARK_PERIOD_NS)) {
			park_pass(a, x, pq, want);
			last_park = now_ns();
		}
		nudge = 0;
		if (a.priority && !stopping)
			schedule(a, x, pq, sc, want);
	}
	if (lane == 0) {
		for (q = 0; q < MK_CUDA_PQ_COUNT; q++) {
			a.ds->pq_head[q] = pq->head[q];
			a.ds->pq_tail[q] = pq->tail[q];
		}
		/* Every claimed entry was handed off and run or queued. */
		a.ds->sq_head = start + h;
		st_vol64(&a.hpage->sq_head, start + h);
	}
	__syncwarp();
}

/* ---- the kernel ------------------------------------------------------------- */

#define SCAN_SMEM_BLOCK (WARPS_PER_BLOCK * MK_CUDA_SCAN_SMEM) /* dynamic */

__global__ void __launch_bounds__(MK_CUDA_THREADS, 1)
	mk_megakernel(const mk_cuda_kargs a)
{
	extern __shared__ uint4 s_scan[]; /* SCAN_SMEM_BLOCK: a round per warp */
	__shared__ uint4 s_buf[WARPS_PER_BLOCK][128];
	__shared__ handoff s_hf;
	__shared__ prio_q s_pq;
	__shared__ prio_scratch s_sc;
	mk_exec x = { a.ctl,	     a.ring,	   a.dbg, a.ctl_words,
		      a.ring_words, a.dbg_words, NULL,  0u };
	uint32_t wid = threadIdx.x / 32u;
	uint8_t *sm = (uint8_t *)s_scan + wid * MK_CUDA_SCAN_SMEM;

	if (threadIdx.x == 0) {
		s_hf.head = s_hf.tail = s_hf.claimed = 0;
		s_hf.stop = s_hf.pollers_done = 0;
		s_hf.want = 0;
		s_hf.rtt_sum = 0;
		s_hf.rtt_n = 0;
	}
	__syncthreads();
	if (blockIdx.x == 0 && (wid == 0 || (wid >= 2u && wid <= a.pollers)))
		poller(a, &s_hf, wid ? wid - 1u : 0u); /* warps 0, 2.. */
	else if (blockIdx.x == 0 && wid == 1) {
		executor(a, &x, &s_hf, s_buf[1], &s_pq, &s_sc);
		scan_drain(a, sm); /* jobs it posted after the workers left */
	} else {
		worker(a, &x, s_buf[wid], sm); /* priority: scan tiles only */
	}
	__syncwarp();
	if (lane_id() == 0 && atomicSub(&a.ds->live, 1u) == 1u) {
		/* Everything this launch wrote lands before the host sees it left. */
		__threadfence_system();
		st_vol(&a.hpage->exited, a.launch_id);
	}
}

/* ---- host shims (extern "C", see kernels/megakernel.h) -------------------- */

/* The scan rounds need more than the default 48 KiB of shared memory. */
static cudaError_t allow_scan_smem(void)
{
	return cudaFuncSetAttribute((const void *)mk_megakernel,
				    cudaFuncAttributeMaxDynamicSharedMemorySize,
				    (int)SCAN_SMEM_BLOCK);
}

extern "C" int mk_cuda_kernel_occupancy(int *blocks_per_sm)
{
	cudaError_t e = allow_scan_smem();

	if (e != cudaSuccess)
		return (int)e;
	return (int)cudaOccupancyMaxActiveBlocksPerMultiprocessor(
		blocks_per_sm, mk_megakernel, (int)MK_CUDA_THREADS, SCAN_SMEM_BLOCK);
}

extern "C" int mk_cuda_kernel_launch(const struct mk_cuda_kargs *a,
				     void *stream, int cooperative)
{
	cudaStream_t s = (cudaStream_t)stream;
	void *args[1] = { (void *)a };
	cudaError_t e = allow_scan_smem();

	if (e != cudaSuccess)
		return (int)e;
	if (cooperative)
		return (int)cudaLaunchCooperativeKernel((const void *)mk_megakernel,
							dim3(a->nblocks),
							dim3(MK_CUDA_THREADS), args,
							SCAN_SMEM_BLOCK, s);
	mk_megakernel<<<a->nblocks, MK_CUDA_THREADS, SCAN_SMEM_BLOCK, s>>>(*a);
	return (int)cudaGetLastError();
}

/* The plain-CUDA peers of tests/bench_gpu.c: same object, same process. */
#include "kernels/peers.cuh"
