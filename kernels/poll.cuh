/* SPDX-License-Identifier: MIT */
/*
 * kernels/poll.cuh - the SQ pollers of the resident megakernel (block 0,
 * warps 0 and 2..): each keeps one read of its own copy of the submission
 * queue in host memory in flight, claims complete entries with a
 * shared-memory CAS and hands them to the executor warp in SQ order
 * (struct handoff), or runs a lone single-slot entry itself when the
 * executor is idle (poll_direct). Textually part of kernels/megakernel.cu
 * (included there after the helpers it uses: run_slot, notify_done,
 * exec_of, lane_id); not a header of its own.
 */
#ifndef MK_KERNELS_POLL_CUH
#define MK_KERNELS_POLL_CUH

/*
 * Shared-memory accesses of the hand-off are atomics: ordered by the CTA
 * fences around them like plain ones, a few cycles each, and
 * compute-sanitizer's racecheck (which cannot see a flag protocol) does
 * not report atomics.
 */
static __device__ __forceinline__ uint32_t sh_ld(volatile uint32_t *p)
{
	return atomicOr((uint32_t *)p, 0u);
}

static __device__ __forceinline__ void sh_st(volatile uint32_t *p, uint32_t v)
{
	atomicExch((uint32_t *)p, v);
}

/*
 * Warp-uniform read of a hand-off word: one lane reads, all get its value
 * (32 atomic reads are 32 serialised operations and could disagree).
 */
static __device__ __forceinline__ uint32_t sh_ld_warp(volatile uint32_t *p)
{
	uint32_t v = 0;

	if (lane_id() == 0)
		v = sh_ld(p);
	return __shfl_sync(FULL_MASK, v, 0);
}

/*
 * Shared-memory hand-off from the pollers to the executor (block 0).
 * Hand-off position i holds SQ entry start + i, start being the SQ head
 * at launch; claimed, tail and head count positions.
 */
struct handoff {
	uint32_t ent[HANDOFF_SLOTS][MK_SQ_UNITS]; /* data words of SQ entries */
	uint32_t head;        /* executor: entries taken */
	uint32_t tail;        /* pollers: entries handed off, in order */
	uint32_t claimed;     /* pollers: entries claimed (atomicCAS) */
	uint32_t stop;        /* executor -> pollers: stop consuming the SQ */
	uint32_t pollers_done; /* pollers -> executor: how many have left */
	uint32_t want;        /* poller 0 -> executor: the host has waiters */
	uint32_t t_issue;     /* trace: when the read that saw work was issued */
	uint32_t t_seen;      /* trace: when a poller saw it (clock, low bits) */
	long long rtt_sum;    /* trace: poller 0's read latency sums */
	uint32_t rtt_n;
};

/* One SQ read in flight: up to 4 entries at head, 8 lanes per entry. */
struct poll {
	uint64_t u0, u1, head;
	long long t; /* clock64() at issue */
	uint32_t nent, want;
};

/* Issue the read of copy @copy of up to @nent entries at @head. */
static __device__ void poll_issue(const mk_cuda_kargs &a, uint32_t copy,
				  uint64_t head, uint32_t nent, int with_want,
				  poll *p)
{
	uint32_t lane = lane_id(), e = lane >> 3;

	p->head = head;
	p->nent = nent;
	p->t = clock64();
	p->u0 = p->u1 = 0;
	if (e < nent)
		ld_vol_u64x2(a.sq + (size_t)((head + e) & (a.sq_cap - 1u)) *
					    a.pollers * MK_SQ_UNITS +
				     copy * MK_SQ_UNITS + 2u * (lane & 7u),
			     &p->u0, &p->u1);
	if (with_want && lane == 31u)
		p->want = ld_vol(&a.hpage->want);
	else if (lane == 31u)
		p->want = 0xFFFFFFFFu; /* not read */
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

/*
 * A lone INLINE entry this poller has just claimed runs here when the
 * executor has run everything before it (head == @pos), saving the
 * hand-off to the executor: 3.15-3.18 us p50 instead of 3.81-3.85 us
 * (docs/BENCH.md run I). With one poller this was slower (run F: its next
 * read then left later); with several, the others keep sampling the SQ
 * meanwhile. The entry is still handed off, as kind 0, which the executor
 * skips; entries claimed after it wait for it (tail), so order is kept.
 * Off with MK_CUDA_DIRECT=0. Not for the priority variant, traces, or
 * opcodes that post scan or packed work. Returns 1 if it ran the entry.
 */
static __device__ int poll_direct(const mk_cuda_kargs &a, volatile handoff *hf,
				  const poll *p, uint32_t pos)
{
	uint32_t d0 = __shfl_sync(FULL_MASK, (uint32_t)p->u0, 0);
	uint32_t op = __shfl_sync(FULL_MASK, (uint32_t)p->u1, 0);
	uint32_t w[MK_SQ_UNITS], i;
	int did = 0;

	if (!a.direct || a.priority || a.trace ||
	    d0 >> MK_SQ_KIND_SHIFT != MK_SQ_KIND_INLINE ||
	    op == MK_OP_SCAN_CHUNK || op == MK_OP_PACKED_SLOT ||
	    op == MK_OP_DFA_STEP || sh_ld_warp(&hf->head) != pos)
		return 0;
#pragma unroll
	for (i = 0; i < MK_SQ_UNITS; i++)
		w[i] = __shfl_sync(FULL_MASK,
				   (i & 1u) ? (uint32_t)p->u1 : (uint32_t)p->u0,
				   (int)(i >> 1));
	if (lane_id() == 0 && (d0 & MK_SQ_SLOT_MASK) < a.slots) {
		const mk_exec x = exec_of(a);

		w[MK_STATUS_WORD] = MK_SLOT_PUBLISHED; /* as it was kicked */
		did = run_slot(a, &x, d0 & MK_SQ_SLOT_MASK, w);
	}
	notify_done(a, did, sh_ld_warp(&hf->want));
	return 1;
}

/*
 * Wait for @p's data; claim its complete entries for this poller (as many
 * as the hand-off ring has room for) with a CAS on hf->claimed, and hand
 * them to the executor in SQ order: write their cells, wait until the
 * entries before them are handed off (tail), then advance tail. A read
 * issued for an older head, or one that lost the claim to another poller,
 * gives nothing. Only shared memory and posted stores: no fence that
 * would wait for the reads in flight. Returns 1 if the SQ had work.
 */
static __device__ int poll_take(const mk_cuda_kargs &a, volatile handoff *hf,
				const poll *p, uint64_t *head, uint64_t start,
				int first)
{
	uint32_t n = sq_count(p->head, p->nent, p->u0, p->u1);
	uint32_t lane = lane_id(), e = lane >> 3, j = lane & 7u, room, pos, old = 0;
	int ran;

	if (first && a.trace && lane == 0) {
		hf->rtt_sum += clock64() - p->t;
		if (++hf->rtt_n == 4096u) {
			st_vol(&a.hpage->tr_rtt, (uint32_t)(hf->rtt_sum / 4096u));
			hf->rtt_sum = 0;
			hf->rtt_n = 0;
		}
	}
	if (first) {
		uint32_t w = __shfl_sync(FULL_MASK, p->want, 31);

		if (lane == 0 && w != 0xFFFFFFFFu && w != sh_ld(&hf->want)) {
			sh_st(&hf->want, w);
			st_vol(&a.ds->want, w); /* for the workers */
		}
	}
	if (p->head != *head || !n)
		return n != 0;
	pos = (uint32_t)(*head - start);
	room = HANDOFF_SLOTS - (pos - sh_ld_warp(&hf->head));
	n = n < room ? n : room;
	if (!n)
		return 1;
	if (lane == 0)
		old = atomicCAS((uint32_t *)&hf->claimed, pos, pos + n);
	old = __shfl_sync(FULL_MASK, old, 0);
	if (old != pos) { /* another poller has them: follow it */
		if ((int32_t)(old - pos) > 0)
			*head = start + old;
		return 1;
	}
	ran = n == 1u && poll_direct(a, hf, p, pos);
	if (e < n) {
		volatile uint32_t *dst = hf->ent[(pos + e) % HANDOFF_SLOTS];

		sh_st(&dst[2u * j], ran ? 0u : (uint32_t)p->u0); /* kind 0: skip */
		sh_st(&dst[2u * j + 1u], (uint32_t)p->u1);
	}
	__syncwarp();
	__threadfence_block(); /* pairs with the executor's fence after tail */
	*head += n;
	if (lane == 0) {
		while (sh_ld(&hf->tail) != pos)
			; /* the poller that claimed just before writes its cells */
		if (a.trace) {
			sh_st(&hf->t_issue, (uint32_t)p->t);
			sh_st(&hf->t_seen, (uint32_t)clock64());
		}
		sh_st(&hf->tail, pos + n);
	}
	__syncwarp();
	return 1;
}

/*
 * A poller (block 0, a.pollers of them, @pid 0..pollers-1): keeps one
 * read of its own copy of the SQ in flight. Reads of different warps do
 * not slow each other down (tests/probe_poll.cu: 1.23-1.26 us for 1 to 8
 * warps, while two reads of one warp took ~1.5x), so pollers started
 * 1/pollers of a round trip apart sample the SQ that much more often.
 * Before each read a poller skips what the others claimed.
 */
static __device__ void poller(const mk_cuda_kargs &a, volatile handoff *hf,
			      uint32_t pid)
{
	uint64_t start = a.ds->sq_head, head = start;
	uint32_t nent = 1, k = 0, c;
	long long t0 = clock64();
	poll p;

	while (clock64() - t0 < (long long)pid * POLL_RTT_CYCLES / a.pollers)
		;
	while (!sh_ld_warp(&hf->stop)) {
		c = sh_ld_warp(&hf->claimed);
		if ((int32_t)(c - (uint32_t)(head - start)) > 0)
			head = start + c;
		/* want lives in another page: poller 0 reads it every 64th poll. */
		poll_issue(a, pid, head, nent, pid == 0 && (++k & 63u) == 0, &p);
		nent = poll_take(a, hf, &p, &head, start, pid == 0) ? 4u : 1u;
	}
	__syncwarp();
	__threadfence_block();
	if (lane_id() == 0)
		atomicAdd((uint32_t *)&hf->pollers_done, 1u);
}

#endif /* MK_KERNELS_POLL_CUH */
