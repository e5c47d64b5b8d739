/* SPDX-License-Identifier: MIT */
/*
 * kernels/prio.cuh - the priority variant's scheduler (PROTOCOL.md 6.2-6.4)
 * for the resident megakernel: per-partition FIFO queues in device memory
 * and the decisions of the CPU backend's pop_priority()/run_priority(),
 * made by the executor warp alone, in order, up to 32 per round. Textually
 * part of kernels/megakernel.cu (included there after the helpers it uses:
 * load_slot, park, tenant_ok, exec_or_post, notify_done); not a header of
 * its own.
 */
#ifndef MK_KERNELS_PRIO_CUH
#define MK_KERNELS_PRIO_CUH

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
 * Lane-parallel: queue @slot on its partition @part, or park it (it stays
 * PUBLISHED) when no partition covers it now: the parked bag retries it,
 * like the CPU backend's enqueue() (PROTOCOL.md 6.3 reads the offsets
 * every iteration).
 */
static __device__ void pq_place(const mk_cuda_kargs &a, prio_q *pq, int valid,
				uint32_t slot, uint32_t part)
{
	if (valid && part >= MK_PRIORITY_LEVELS) {
		park(a, slot, ld_vol(&a.ring[(size_t)slot * MK_SLOT_WORDS +
					     MK_TENANT_WORD]));
		valid = 0;
	}
	pq_push(a, pq, valid, slot, valid ? part : 0u);
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
		pq_place(a, pq, valid, s, valid ? mk_prio_partition(x, s) : 0u);
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

enum { ACT_SKIP = 0, ACT_PARK = 1, ACT_STRAND = 2, ACT_RUN = 3, ACT_MOVE = 4 };

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
	uint32_t k, c = 0, off[MK_PRIORITY_LEVELS + 1u];

	mk_prio_offsets(x, off);
	for (k = 0; k < sc->n; k++) {
		uint32_t t = sc->tenant[k];

		if (k > 0 && mk_ctl_load(x, MK_CTL_PRIORITY_STARVATION) != sc->starv[k])
			break;
		c = k + 1u;
		if (!mk_prio_schedulable(sc->st[k])) {
			sc->act[k] = ACT_SKIP;
			break;
		}
		/* The offsets changed since it was queued: it belongs elsewhere. */
		if (mk_prio_partition_of(off, sc->slot[k]) != sc->part[k]) {
			sc->act[k] = ACT_MOVE;
			break;
		}
		if (!tenant_ok(x, t)) {
			sc->act[k] = ACT_PARK;
			break;
		}
		mk_prio_account(x, sc->part[k], t);
		/* Reference hazard 6.3 step 6: a mask flipped to 0 strands it. */
		sc->act[k] = tenant_ok(x, t) ? ACT_RUN : ACT_STRAND;
	}
	for (k = 0; k < c; k++)
		pq->head[sc->part[k]]++;
	return c;
}

/* One priority round: decide, load, commit, execute. Returns pops used. */
static __device__ uint32_t prio_round(const mk_cuda_kargs &a, const mk_exec *x,
				      prio_q *pq, prio_scratch *sc,
				      uint32_t want)
{
	uint32_t lane = lane_id(), n, c, s = 0;
	uint32_t w[MK_SLOT_WORDS];
	int did = 0, move;

	__syncwarp(); /* the last round's reads of @sc are done */
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
		/* The claim is visible in the ring here (and strands forever). */
		if (act == ACT_RUN || act == ACT_STRAND)
			st_vol(&a.ring[(size_t)s * MK_SLOT_WORDS], MK_SLOT_CLAIMED);
		if (act == ACT_RUN) /* a SCAN_CHUNK may become a job */
			did = exec_or_post(a, x, s, w, 0);
	}
	notify_done(a, did, want);
	move = lane < c && sc->act[lane] == ACT_MOVE;
	pq_place(a, pq, move, s, move ? mk_prio_partition(x, s) : 0u);
	return c;
}

/* Priority variant: run rounds while they make progress, bounded. */
static __device__ void schedule(const mk_cuda_kargs &a, const mk_exec *x,
				prio_q *pq, prio_scratch *sc, uint32_t want)
{
	uint32_t r;

	for (r = 0; r < PRIO_ROUNDS; r++)
		if (prio_round(a, x, pq, sc, want) == 0)
			break;
}

#endif /* MK_KERNELS_PRIO_CUH */
