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
 *   SQ       mapped pinned host memory: the doorbell. Every kick appends one
 *            128-byte entry (a copy of the slot for single publishes, a
 *            range for batches) made of 8-byte (tag | data) units, so one
 *            PCIe read both discovers and delivers work, with no torn reads.
 *            ONE warp (the front end, block 0 warp 0) polls it: no polling
 *            storm, one 128..512-byte read per PCIe round trip.
 *   control  device memory: every slot does at least two atomics on it
 *   debug    (DONE_COUNT, a metric), which stay in L2 instead of crossing
 *            PCIe. The host reads and writes them with cudaMemcpyAsync on
 *            a separate non-blocking stream while the kernel runs.
 *   state    device memory: per-block work queues, the parked bag, the
 *            priority partition queues. It persists across launches, so a
 *            stop never loses a consumed entry and start needs no rescan.
 *
 * Roles. Block 0 warp 0 is the front end (FE): it consumes SQ entries in
 * order, runs single slots itself (lowest latency: one PCIe read, the
 * handler in L2, one posted DONE write), runs ranges of up to 32 slots
 * itself and splits larger ranges into 32-slot chunks pushed round-robin
 * to per-block queues. Every other warp is a worker: it pops chunks of its
 * own block's queue, loads the 32 slots with coalesced 16-byte loads (2 KB
 * per warp round), executes one slot per lane and stores DONE.
 *
 * Claiming. The reference claims with a CAS on the ring status. Here the
 * ring is host memory, where a CAS is a non-posted PCIe atomic (about a
 * microsecond, and PCIe AtomicOps support). Instead, exactly-once comes
 * from the discovery path: the runtime kicks each publish exactly once,
 * each SQ entry is consumed by the single FE, each chunk is popped by one
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
 * Shutdown: every warp checks control word 0 before taking new work and
 * leaves only when it holds none, so queued work survives to the next
 * launch. The last warp out stores the launch id in the host page.
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <time.h>

#include "kernels/megakernel.h"
#include "runtime/interp.h"

#define FULL_MASK 0xffffffffu
#define WARPS_PER_BLOCK (MK_CUDA_THREADS / 32u)
#define FE_DIRECT_MAX 32u        /* ranges up to this run on the front end */
#define PARK_PERIOD_NS 20000ull  /* retry parked slots this often */
#define IDLE_SLEEP_MIN_NS 64u
#define IDLE_SLEEP_MAX_NS 2000u
#define PRIO_BATCH 32u           /* priority decisions per round */
#define PRIO_ROUNDS 16u          /* rounds between two SQ polls */
#define PARK_EMPTY (~0ull)

/* ---- memory access helpers (PTX; see PROTOCOL.md section 10) ------------ */

static __device__ __forceinline__ uint32_t ld_vol(const uint32_t *p)
{
	return *(const volatile uint32_t *)p;
}

static __device__ __forceinline__ void st_vol(uint32_t *p, uint32_t v)
{
	*(volatile uint32_t *)p = v;
}

static __device__ __forceinline__ uint64_t ld_vol64(const uint64_t *p)
{
	return *(const volatile uint64_t *)p;
}

static __device__ __forceinline__ void st_vol64(uint64_t *p, uint64_t v)
{
	*(volatile uint64_t *)p = v;
}

/* 16-byte volatile load of host-written memory: never cached stale. */
static __device__ __forceinline__ uint4 ld_vol_v4(const uint32_t *p)
{
	uint4 v;

	asm volatile("ld.volatile.global.v4.u32 {%0,%1,%2,%3}, [%4];"
		     : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
		     : "l"(p)
		     : "memory");
	return v;
}

/* Two 8-byte SQ units; each element is single-copy atomic. */
static __device__ __forceinline__ void ld_vol_u64x2(const uint64_t *p,
						    uint64_t *a, uint64_t *b)
{
	asm volatile("ld.volatile.global.v2.u64 {%0,%1}, [%2];"
		     : "=l"(*a), "=l"(*b)
		     : "l"(p)
		     : "memory");
}

static __device__ __forceinline__ uint32_t ld_acquire_gpu(const uint32_t *p)
{
	uint32_t v;

	asm volatile("ld.acquire.gpu.global.u32 %0, [%1];"
		     : "=r"(v)
		     : "l"(p)
		     : "memory");
	return v;
}

static __device__ __forceinline__ void st_release_gpu(uint32_t *p, uint32_t v)
{
	asm volatile("st.release.gpu.global.u32 [%0], %1;" ::"l"(p), "r"(v)
		     : "memory");
}

static __device__ __forceinline__ void st_release_gpu64(uint64_t *p, uint64_t v)
{
	asm volatile("st.release.gpu.global.u64 [%0], %1;" ::"l"(p), "l"(v)
		     : "memory");
}

/* Acquire at system scope: orders SQ reads before the ring reads after. */
static __device__ __forceinline__ void fence_acq_sys(void)
{
	asm volatile("fence.acq_rel.sys;" ::: "memory");
}

static __device__ __forceinline__ uint64_t now_ns(void)
{
	uint64_t t;

	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
	return t;
}

static __device__ __forceinline__ uint32_t lane_id(void)
{
	return threadIdx.x & 31u;
}

static __device__ __forceinline__ int shutting_down(const mk_cuda_kargs &a)
{
	/* Pairs with the host's copy of 1 and with the SHUTDOWN opcode. */
	return ld_vol(&a.ctl[MK_CTL_SHUTDOWN]) != 0u;
}

/* ---- completion notice and the parked bag -------------------------------- */

/*
 * After a warp round: if any lane completed a slot, make its DONE store
 * visible first, then move hpage->done_seq so the host's progress thread
 * wakes waiters (a waiter that sees the new value then sees DONE).
 */
static __device__ void notify_done(const mk_cuda_kargs &a, int did)
{
	uint32_t m = __ballot_sync(FULL_MASK, did);

	if (!m)
		return;
	__threadfence_system();
	__syncwarp();
	if (lane_id() == 0) {
		uint32_t v = atomicAdd(&a.ds->done_events, 1u) + 1u;

		st_vol(&a.hpage->done_seq, v);
	}
}

/* Leave @slot PUBLISHED for a disabled tenant; the FE retries it later. */
static __device__ void park(const mk_cuda_kargs &a, uint32_t slot,
			    uint32_t tenant)
{
	uint32_t i = atomicAdd(&a.ds->park_tail, 1u);

	/* Release pairs with the FE's wait for a non-empty cell. */
	st_release_gpu64(&a.park[i & (a.park_cap - 1u)],
			 (uint64_t)slot | ((uint64_t)tenant << 32));
}

/* ---- running slots -------------------------------------------------------- */

/*
 * Sharded claim and execution of one slot whose 16 words are in @w
 * (PROTOCOL.md 4.3 steps 3-8). Returns 1 when it completed the slot.
 */
static __device__ int run_slot(const mk_cuda_kargs &a, const mk_exec *x,
			       uint32_t slot, const uint32_t *w)
{
	if (w[MK_STATUS_WORD] != MK_SLOT_PUBLISHED)
		return 0; /* nothing to claim */
	if (!mk_tenant_enabled(x, w[MK_TENANT_WORD])) {
		park(a, slot, w[MK_TENANT_WORD]);
		return 0;
	}
	if (a.test_trap && w[MK_OPCODE_WORD] == MK_CUDA_TRAP_OPCODE)
		__trap();
	/* Release store of DONE inside: pairs with the host's acquire. */
	mk_exec_claimed(x, slot * MK_SLOT_WORDS, w);
	return 1;
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
				 uint32_t first, uint32_t count, uint4 *buf)
{
	uint32_t off, lane = lane_id();

	for (off = 0; off < count; off += 32u) {
		uint32_t n = count - off < 32u ? count - off : 32u;
		uint32_t w[MK_SLOT_WORDS];
		int did = 0;

		warp_load(a, first + off, n, buf, w);
		if (lane < n)
			did = run_slot(a, x, first + off + lane, w);
		notify_done(a, did);
	}
}

/* ---- per-block work queues ------------------------------------------------- */

/*
 * FE: split [first, first + count) into 32-slot chunks and push them to
 * block queues round-robin, one block per lane per pass. A chunk whose
 * queue is full is run by the FE itself, so the FE never waits.
 */
static __device__ void push_range(const mk_cuda_kargs &a, const mk_exec *x,
				  uint32_t first, uint32_t count, uint4 *buf)
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
			uint32_t t = ld_vol(&q->tail); /* the FE is its only writer */

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
				  __shfl_sync(FULL_MASK, n, f), buf);
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

static __device__ void worker(const mk_cuda_kargs &a, const mk_exec *x,
			      uint4 *buf)
{
	uint32_t sleep = IDLE_SLEEP_MIN_NS, first, count;

	while (!shutting_down(a)) {
		if (pop_chunk(a, &first, &count)) {
			run_range(a, x, first, count, buf);
			sleep = IDLE_SLEEP_MIN_NS;
			continue;
		}
		__nanosleep(sleep);
		sleep = sleep * 2u > IDLE_SLEEP_MAX_NS ? IDLE_SLEEP_MAX_NS : sleep * 2u;
	}
}

/* ---- priority partition queues (front end only) --------------------------- */

struct prio_q {
	uint32_t head[MK_CUDA_PQ_COUNT];
	uint32_t tail[MK_CUDA_PQ_COUNT];
};

/* Lane-parallel FIFO append of (slot, queue) pairs in lane order. */
static __device__ void pq_push(const mk_cuda_kargs &a, prio_q *pq, int valid,
			       uint32_t slot, uint32_t qi)
{
	uint32_t lane = lane_id(), q;

	for (q = 0; q < MK_CUDA_PQ_COUNT; q++) {
		uint32_t m = __ballot_sync(FULL_MASK, valid && qi == q);
		uint32_t base = pq->tail[q];

		if (!m)
			continue;
		if (valid && qi == q) {
			uint32_t pos = base + __popc(m & ((1u << lane) - 1u));

			a.pq[(size_t)q * a.pq_cap + (pos & (a.pq_cap - 1u))] = slot;
		}
		__syncwarp();
		if (lane == 0)
			pq->tail[q] = base + __popc(m);
		__syncwarp();
	}
}

/*
 * Priority variant: queue [first, first + count) by partition, in kick
 * order. @scan: a rescan of the ring, so only schedulable slots are queued.
 */
static __device__ void pq_push_range(const mk_cuda_kargs &a, const mk_exec *x,
				     prio_q *pq, uint32_t first, uint32_t count,
				     int scan)
{
	uint32_t off;

	for (off = 0; off < count; off += 32u) {
		uint32_t s = first + off + lane_id();
		int valid = off + lane_id() < count;

		if (valid && scan)
			valid = mk_prio_schedulable(
				ld_vol(&a.ring[(size_t)s * MK_SLOT_WORDS]));
		pq_push(a, pq, valid, s, valid ? mk_prio_partition(x, s) : 0u);
	}
}

/* The CPU backend's pop_priority (runtime/backend_cpu.c) on queue lengths. */
static __device__ int prio_pick(const mk_cuda_kargs &a, const uint32_t *len,
				uint32_t starv)
{
	int force_lower = starv >= MK_STARVATION_THRESHOLD;
	uint32_t p;

	for (p = 0; p < MK_PRIORITY_LEVELS; p++) {
		if (force_lower && p <= MK_PRIORITY_HIGH)
			continue;
		if (len[p])
			return (int)p;
	}
	if (!force_lower || !a.starvation_fix)
		return -1;
	for (p = 0; p <= MK_PRIORITY_HIGH; p++)
		if (len[p])
			return (int)p;
	return -1;
}

enum { ACT_SKIP = 0, ACT_PARK = 1, ACT_STRAND = 2, ACT_RUN = 3 };

struct prio_scratch {
	uint32_t slot[PRIO_BATCH];
	uint32_t part[PRIO_BATCH];
	uint32_t starv[PRIO_BATCH]; /* counter value each decision assumed */
	uint32_t st[PRIO_BATCH];
	uint32_t tenant[PRIO_BATCH];
	uint32_t act[PRIO_BATCH];
	uint32_t n, commit;
};

/* Lane 0: up to 32 pops decided as if each one is claimed and accounted. */
static __device__ void prio_decide(const mk_cuda_kargs &a, const mk_exec *x,
				   const prio_q *pq, prio_scratch *sc)
{
	uint32_t len[MK_PRIORITY_LEVELS], cur[MK_PRIORITY_LEVELS], p, n = 0;
	uint32_t starv, any = 0;

	for (p = 0; p < MK_PRIORITY_LEVELS; p++) {
		len[p] = pq->tail[p] - pq->head[p];
		cur[p] = pq->head[p];
		any |= len[p];
	}
	sc->n = 0;
	if (!any)
		return;
	starv = mk_ctl_load(x, MK_CTL_PRIORITY_STARVATION);
	while (n < PRIO_BATCH) {
		int q = prio_pick(a, len, starv);

		if (q < 0)
			break;
		sc->slot[n] = a.pq[(size_t)q * a.pq_cap + (cur[q] & (a.pq_cap - 1u))];
		sc->part[n] = (uint32_t)q;
		sc->starv[n] = starv;
		cur[q]++;
		len[q]--;
		n++;
		starv = (uint32_t)q <= MK_PRIORITY_HIGH ? starv + 1u : 0u;
	}
	sc->n = n;
}

/*
 * Lane 0: replay the decisions in order with the real slot words, exactly
 * as run_priority() of the CPU backend does one pop at a time. Stops after
 * the first pop whose outcome differs from the assumption (not claimable,
 * parked, or a counter someone else changed), so the next round re-decides
 * from the true state. Returns the number of pops consumed.
 */
static __device__ uint32_t prio_commit(const mk_exec *x, prio_q *pq,
				       prio_scratch *sc)
{
	uint32_t k, c = 0;

	for (k = 0; k < sc->n; k++) {
		uint32_t t = sc->tenant[k];

		if (k > 0 && mk_ctl_load(x, MK_CTL_PRIORITY_STARVATION) != sc->starv[k])
			break;
		c = k + 1u;
		if (!mk_prio_schedulable(sc->st[k])) {
			sc->act[k] = ACT_SKIP;
			break;
		}
		if (!mk_tenant_enabled(x, t)) {
			sc->act[k] = ACT_PARK;
			break;
		}
		mk_prio_account(x, sc->part[k], t);
		/* Reference hazard 6.3 step 6: a mask flipped to 0 strands it. */
		sc->act[k] = mk_tenant_enabled(x, t) ? ACT_RUN : ACT_STRAND;
	}
	for (k = 0; k < c; k++)
		pq->head[sc->part[k]]++;
	return c;
}

/* One priority round: decide, load, commit, execute. Returns pops used. */
static __device__ uint32_t prio_round(const mk_cuda_kargs &a, const mk_exec *x,
				      prio_q *pq, prio_scratch *sc)
{
	uint32_t lane = lane_id(), n, c, s = 0;
	uint32_t w[MK_SLOT_WORDS];
	int did = 0;

	if (lane == 0)
		prio_decide(a, x, pq, sc);
	__syncwarp();
	n = sc->n;
	if (n == 0)
		return 0;
	if (lane < n) {
		s = sc->slot[lane];
		load_slot(a, s, w);
		sc->st[lane] = w[MK_STATUS_WORD];
		sc->tenant[lane] = w[MK_TENANT_WORD];
	}
	__syncwarp();
	if (lane == 0)
		sc->commit = prio_commit(x, pq, sc);
	__syncwarp();
	c = sc->commit;
	if (lane < c) {
		uint32_t act = sc->act[lane];

		if (act == ACT_PARK)
			park(a, s, w[MK_TENANT_WORD]);
		if (act == ACT_RUN || act == ACT_STRAND)
			st_vol(&a.ring[(size_t)s * MK_SLOT_WORDS], MK_SLOT_CLAIMED);
		if (act == ACT_RUN) {
			mk_exec_claimed(x, s * MK_SLOT_WORDS, w);
			did = 1;
		}
	}
	notify_done(a, did);
	return c;
}

/* ---- the front end ---------------------------------------------------------- */

/*
 * Retry parked slots: those whose tenant is enabled now run (sharded) or go
 * back to their partition queue (priority); the others are parked again.
 */
static __device__ void park_pass(const mk_cuda_kargs &a, const mk_exec *x,
				 prio_q *pq)
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
			ready = mk_tenant_enabled(x, tenant);
			if (!ready)
				park(a, slot, tenant);
		}
		if (a.priority) {
			pq_push(a, pq, ready, slot,
				ready ? mk_prio_partition(x, slot) : 0u);
			continue;
		}
		if (ready) {
			load_slot(a, slot, w);
			did = run_slot(a, x, slot, w);
		}
		notify_done(a, did);
	}
	if (lane == 0)
		a.ds->park_head = t;
	__syncwarp();
}

/*
 * Issue the read of up to @nent SQ entries at @head (8 lanes per entry, two
 * units per lane). The values are used later by sq_count(), so other loads
 * issued in between overlap with this PCIe round trip.
 */
static __device__ void sq_issue(const mk_cuda_kargs &a, uint64_t head,
				uint32_t nent, uint64_t *u0, uint64_t *u1)
{
	uint32_t lane = lane_id(), e = lane >> 3;

	*u0 = *u1 = 0;
	if (e < nent)
		ld_vol_u64x2(a.sq + (size_t)((head + e) & (a.sq_cap - 1u)) *
					    MK_SQ_UNITS +
				     2u * (lane & 7u),
			     u0, u1);
}

/* How many consecutive entries from @head are complete (all tags match). */
static __device__ uint32_t sq_count(uint64_t head, uint32_t nent, uint64_t u0,
				    uint64_t u1)
{
	uint32_t e = lane_id() >> 3, m, n = 0;
	uint32_t tag = (uint32_t)(head + e + 1u);
	int ok = e < nent && (uint32_t)(u0 >> 32) == tag &&
		 (uint32_t)(u1 >> 32) == tag;

	m = __ballot_sync(FULL_MASK, ok);
	while (n < nent && ((m >> (8u * n)) & 0xFFu) == 0xFFu)
		n++;
	return n;
}

/* Each lane gets the 16 data words of its lane group's entry. */
static __device__ void sq_gather(uint64_t u0, uint64_t u1, uint32_t *w)
{
	uint32_t src = lane_id() & ~7u, i;

#pragma unroll
	for (i = 0; i < MK_SQ_UNITS; i++)
		w[i] = __shfl_sync(FULL_MASK, (uint32_t)((i & 1u) ? u1 : u0),
				   src + i / 2u);
}

/* Handle @n consumed entries; returns 1 if one was a NUDGE. */
static __device__ int fe_batch(const mk_cuda_kargs &a, const mk_exec *x,
			       prio_q *pq, uint32_t n, uint64_t u0, uint64_t u1,
			       uint4 *buf)
{
	uint32_t w[MK_SQ_UNITS], lane = lane_id(), e, d0, kind;
	int did = 0, nudge = 0, fenced = 0;

	sq_gather(u0, u1, w);
	d0 = w[0];
	kind = d0 >> MK_SQ_KIND_SHIFT;
	/* Single slots first, four in parallel: the latency path. */
	if (!a.priority && (lane & 7u) == 0 && (lane >> 3) < n &&
	    kind == MK_SQ_KIND_INLINE && (d0 & MK_SQ_SLOT_MASK) < a.slots) {
		w[MK_STATUS_WORD] = MK_SLOT_PUBLISHED; /* as it was kicked */
		did = run_slot(a, x, d0 & MK_SQ_SLOT_MASK, w);
	}
	notify_done(a, did);
	for (e = 0; e < n; e++) {
		uint32_t k = __shfl_sync(FULL_MASK, d0, 8u * e);
		uint32_t cnt = __shfl_sync(FULL_MASK, w[1], 8u * e);
		uint32_t s = k & MK_SQ_SLOT_MASK;

		kind = k >> MK_SQ_KIND_SHIFT;
		if (kind == MK_SQ_KIND_NUDGE)
			nudge = 1;
		if (kind == MK_SQ_KIND_INLINE && a.priority)
			cnt = 1u;
		else if (kind != MK_SQ_KIND_RANGE && kind != MK_SQ_KIND_SCAN)
			continue;
		if (s >= a.slots)
			continue;
		if (!fenced) {
			/* The ring words of a range were written before its entry. */
			fence_acq_sys();
			fenced = 1;
		}
		cnt = cnt > a.slots - s ? a.slots - s : cnt;
		if (a.priority)
			pq_push_range(a, x, pq, s, cnt, kind == MK_SQ_KIND_SCAN);
		else if (cnt <= FE_DIRECT_MAX)
			run_range(a, x, s, cnt, buf);
		else
			push_range(a, x, s, cnt, buf);
	}
	return nudge;
}

/* Priority variant: run rounds while they make progress, bounded. */
static __device__ void fe_schedule(const mk_cuda_kargs &a, const mk_exec *x,
				   prio_q *pq, prio_scratch *sc)
{
	uint32_t r;

	for (r = 0; r < PRIO_ROUNDS; r++)
		if (prio_round(a, x, pq, sc) == 0)
			break;
}

static __device__ void front_end(const mk_cuda_kargs &a, const mk_exec *x,
				 uint4 *buf, prio_q *pq, prio_scratch *sc)
{
	uint64_t head = a.ds->sq_head, last_park = now_ns();
	uint32_t lane = lane_id(), nent = 1, q;
	int nudge = 0;

	if (lane == 0) {
		for (q = 0; q < MK_CUDA_PQ_COUNT; q++) {
			pq->head[q] = a.ds->pq_head[q];
			pq->tail[q] = a.ds->pq_tail[q];
		}
		st_vol(&a.hpage->alive, a.launch_id);
	}
	__syncwarp();
	for (;;) {
		uint64_t u0, u1, now;
		uint32_t n, sd, parked;

		/* Issue the PCIe poll first; the L2 loads overlap with it. */
		sq_issue(a, head, nent, &u0, &u1);
		sd = ld_vol(&a.ctl[MK_CTL_SHUTDOWN]);
		parked = ld_vol(&a.ds->park_tail) != a.ds->park_head;
		n = sq_count(head, nent, u0, u1);
		if (sd)
			break; /* entries read but not consumed stay queued */
		now = now_ns();
		if (parked && (nudge || now - last_park > PARK_PERIOD_NS)) {
			park_pass(a, x, pq);
			last_park = now;
			nudge = 0;
		}
		if (n) {
			nudge |= fe_batch(a, x, pq, n, u0, u1, buf);
			head += n;
			if (lane == 0) {
				a.ds->sq_head = head;
				st_vol64(&a.hpage->sq_head, head);
			}
		}
		nent = n ? 4u : 1u;
		if (a.priority)
			fe_schedule(a, x, pq, sc);
	}
	if (lane == 0) {
		a.ds->sq_head = head;
		for (q = 0; q < MK_CUDA_PQ_COUNT; q++) {
			a.ds->pq_head[q] = pq->head[q];
			a.ds->pq_tail[q] = pq->tail[q];
		}
	}
	__syncwarp();
}

/* ---- the kernel ------------------------------------------------------------- */

__global__ void __launch_bounds__(MK_CUDA_THREADS, 1)
	mk_megakernel(const mk_cuda_kargs a)
{
	__shared__ uint4 s_buf[WARPS_PER_BLOCK][128];
	__shared__ prio_q s_pq;
	__shared__ prio_scratch s_sc;
	mk_exec x = { a.ctl,	     a.ring,	   a.dbg, a.ctl_words,
		      a.ring_words, a.dbg_words, NULL,  0u };
	uint32_t wid = threadIdx.x / 32u;

	if (blockIdx.x == 0 && wid == 0)
		front_end(a, &x, s_buf[0], &s_pq, &s_sc);
	else if (!a.priority)
		worker(a, &x, s_buf[wid]);
	__syncwarp();
	if (lane_id() == 0 && atomicSub(&a.ds->live, 1u) == 1u) {
		/* Everything this launch wrote lands before the host sees it left. */
		__threadfence_system();
		st_vol(&a.hpage->exited, a.launch_id);
	}
}

/* A 1-thread kernel: the peer of tests/bench_gpu.c. */
__global__ void mk_peer_kernel(uint32_t *p)
{
	if (p)
		*p += 1u;
}

/* ---- host shims (extern "C", see kernels/megakernel.h) -------------------- */

extern "C" int mk_cuda_kernel_occupancy(int *blocks_per_sm)
{
	return (int)cudaOccupancyMaxActiveBlocksPerMultiprocessor(
		blocks_per_sm, mk_megakernel, (int)MK_CUDA_THREADS, 0);
}

extern "C" int mk_cuda_kernel_launch(const struct mk_cuda_kargs *a,
				     void *stream, int cooperative)
{
	cudaStream_t s = (cudaStream_t)stream;
	void *args[1] = { (void *)a };

	if (cooperative)
		return (int)cudaLaunchCooperativeKernel((const void *)mk_megakernel,
							dim3(a->nblocks),
							dim3(MK_CUDA_THREADS), args,
							0, s);
	mk_megakernel<<<a->nblocks, MK_CUDA_THREADS, 0, s>>>(*a);
	return (int)cudaGetLastError();
}

static int64_t host_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define PEER_TRY(call)                     \
	do {                               \
		rc = (call);               \
		if (rc != cudaSuccess)     \
			goto out;          \
	} while (0)

extern "C" int mk_cuda_peer_launch_sync(uint32_t n, int64_t *ns,
					int64_t *total_ns)
{
	cudaStream_t s = NULL;
	cudaError_t rc;
	int64_t t0, t;
	uint32_t i;

	PEER_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	for (i = 0; i < 16u; i++) /* warm up */
		mk_peer_kernel<<<1, 1, 0, s>>>(NULL);
	PEER_TRY(cudaStreamSynchronize(s));
	t0 = host_ns();
	for (i = 0; i < n; i++) {
		t = host_ns();
		mk_peer_kernel<<<1, 1, 0, s>>>(NULL);
		PEER_TRY(cudaStreamSynchronize(s));
		ns[i] = host_ns() - t;
	}
	*total_ns = host_ns() - t0;
	rc = cudaGetLastError();
out:
	if (s)
		cudaStreamDestroy(s);
	return (int)rc;
}

extern "C" int mk_cuda_peer_graph_sync(uint32_t n, int64_t *ns,
				       int64_t *total_ns)
{
	cudaStream_t s = NULL;
	cudaGraph_t g = NULL;
	cudaGraphExec_t ge = NULL;
	cudaError_t rc;
	int64_t t0, t;
	uint32_t i;

	PEER_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	PEER_TRY(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
	mk_peer_kernel<<<1, 1, 0, s>>>(NULL);
	PEER_TRY(cudaStreamEndCapture(s, &g));
	PEER_TRY(cudaGraphInstantiate(&ge, g, 0));
	for (i = 0; i < 16u; i++)
		PEER_TRY(cudaGraphLaunch(ge, s));
	PEER_TRY(cudaStreamSynchronize(s));
	t0 = host_ns();
	for (i = 0; i < n; i++) {
		t = host_ns();
		PEER_TRY(cudaGraphLaunch(ge, s));
		PEER_TRY(cudaStreamSynchronize(s));
		ns[i] = host_ns() - t;
	}
	*total_ns = host_ns() - t0;
out:
	if (ge)
		cudaGraphExecDestroy(ge);
	if (g)
		cudaGraphDestroy(g);
	if (s)
		cudaStreamDestroy(s);
	return (int)rc;
}

extern "C" int mk_cuda_peer_launch_tput(uint32_t n, int64_t *total_ns)
{
	cudaStream_t s = NULL;
	cudaError_t rc;
	int64_t t0;
	uint32_t i;

	PEER_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	mk_peer_kernel<<<1, 1, 0, s>>>(NULL);
	PEER_TRY(cudaStreamSynchronize(s));
	t0 = host_ns();
	for (i = 0; i < n; i++)
		mk_peer_kernel<<<1, 1, 0, s>>>(NULL);
	PEER_TRY(cudaStreamSynchronize(s));
	*total_ns = host_ns() - t0;
	rc = cudaGetLastError();
out:
	if (s)
		cudaStreamDestroy(s);
	return (int)rc;
}
