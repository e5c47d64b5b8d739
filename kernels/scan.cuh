/* SPDX-License-Identifier: MIT */
/*
 * kernels/scan.cuh - SCAN_CHUNK (runtime/scan.h) and the pattern sets of
 * DFA_STEP on the resident megakernel, with the results of the CPU backend
 * (mk_scan_exec_host in runtime/stream.c). Textually part of
 * kernels/megakernel.cu (included after lane_id, exec_of and notify_done);
 * the host half is runtime/backend_cuda_scan.c, the layouts are in
 * kernels/megakernel.h.
 *
 * Jobs. The lane that claims a SCAN_CHUNK slot (exec_or_post) does not run
 * it: it posts a job for the slot's staging buffer a0 (one job per buffer;
 * bit a0 of dstate.scan_pending, taken with atomicOr, says it runs) and
 * leaves the slot CLAIMED on the device. Every worker warp (all blocks,
 * both schedulers) looks at scan_pending when idle and takes tiles of a
 * posted job; the warp that finishes the last piece writes outs[a0],
 * clears the bit and completes the slot like exec_claimed (DONE_COUNT, no
 * metric for an opcode >= 32, DONE, notify_done). Warps leave the kernel
 * only when scan_pending is 0, so a stop lets every posted job finish.
 *
 * Claims. A phase publishes shape = gen << 32 | tiles, then (after a
 * fence) resets claim = gen << 32; a warp takes tile t with an atomicAdd
 * on claim and keeps it only if the returned gen equals shape's (read
 * again after a fence) and t < tiles. A kept tile belongs to a job that
 * cannot complete before the warp reports it (done counters), so the job's
 * fields are stable while it works; stale claims (a finished or reposted
 * job) fail the check and change nothing.
 *
 * Tiles (the arithmetic is kernels/scan_lanes.h, which
 * tests/check_scan_lanes.c runs on the host against the CPU backend).
 * Tile t counts the ends in its bytes, in rounds of MK_CUDA_SCAN_TILE
 * bytes copied to the warp's shared memory; each of the 32 lanes takes a
 * sub-range and starts max_len - 1 bytes early from state 0 (or from the
 * carried state a4 when that reaches byte 0, as the CPU would), which is
 * exact by the proof above mk_dfa_overlap (runtime/dfa.c). The lane that
 * ends the buffer reads at least max_len bytes, so its state is the
 * sequential end_state. A binary DFA (no known overlap) is one tile
 * scanned in order by one lane: correct, and slow (about one table-load
 * latency per byte).
 *
 * Hits. Count phase: per-tile counts. Its last warp forms the exclusive
 * prefix; tiles whose prefix is below the hit capacity are scanned again
 * (hit phase), each lane writing (pattern, end + 1) from its prefix while
 * below the cap, the patterns of one end ascending (mk_dfa_out_table).
 * The kept hits are the first cap matches by (end, pattern): the set the
 * CPU keeps (stream.c sorts the merged hits).
 */
#ifndef MK_KERNELS_SCAN_CUH
#define MK_KERNELS_SCAN_CUH

#include "kernels/scan_lanes.h"

#define SCAN_POLL_NS 20000ull /* idle workers look for jobs this often */

static __device__ __forceinline__ uint32_t sc_gen(uint64_t w)
{
	return (uint32_t)(w >> 32);
}

static __device__ __forceinline__ uint32_t sc_cnt(uint64_t w)
{
	return (uint32_t)w;
}

static __device__ __forceinline__ uint64_t ld_vol_u64(const void *p)
{
	return ld_vol64((const uint64_t *)p);
}

static __device__ __forceinline__ void st_vol_ptr(void *p, const void *v)
{
	st_vol64((uint64_t *)p, (uint64_t)(uintptr_t)v);
}

/* ---- DFA_STEP with the uploaded sets --------------------------------------- */

/* Does a PACKED_SLOT hold a DFA_STEP (mk_exec_packed's clamp)? */
static __device__ __forceinline__ int packed_has_step(const uint32_t *w)
{
	uint32_t n = mk_payload_byte(w, 0), i;
	int any = 0;

#pragma unroll
	for (i = 0; i < MK_PACKED_MAX_INNER_OPS; i++)
		any |= i < n && mk_payload_byte(w, 2u + 2u * i) == MK_OP_DFA_STEP;
	return any;
}

/*
 * mk_exec_op, and mk_exec_packed for PACKED_SLOT, with the device copies
 * of the pattern sets bound when the slot may step a DFA (one more L2 load
 * on that path only): DFA_STEP then reads what it reads on the CPU.
 */
static __device__ void exec_with_sets(const mk_cuda_kargs &a, const mk_exec *x,
				      uint32_t slot_base, const uint32_t *w)
{
	uint32_t op = w[MK_OPCODE_WORD], pw[MK_SLOT_WORDS], i;
	int step = op == MK_OP_DFA_STEP;
	mk_exec xs = *x;

	if (op == MK_OP_PACKED_SLOT) {
		/* Its byte indexing needs memory; keep @w itself in registers. */
#pragma unroll
		for (i = 0; i < MK_SLOT_WORDS; i++)
			pw[i] = w[i];
		step = packed_has_step(pw);
	}
	if (step) {
		const mk_cuda_scan_tab *tab =
			(const mk_cuda_scan_tab *)ld_vol_u64(&a.ds->scan_tab);

		xs.sets = tab ? tab->view : NULL;
		xs.nsets = tab ? MK_SCAN_MAX_SETS : 0u;
	}
	mk_exec_op(&xs, slot_base, op, w[MK_ARG0_WORD], w[MK_ARG0_WORD + 1u],
		   w[MK_ARG0_WORD + 2u], w[MK_ARG0_WORD + 3u]);
	if (op == MK_OP_PACKED_SLOT)
		mk_exec_packed(&xs, slot_base, pw);
}

/* ---- posting a job (one lane) ------------------------------------------------ */

static __device__ void scan_out(mk_scan_out *o, uint64_t matches, uint32_t nhits,
				uint32_t end_state, uint32_t overflow)
{
	st_vol64(&o->matches, matches);
	st_vol(&o->nhits, nhits);
	st_vol(&o->end_state, end_state);
	st_vol(&o->overflow, overflow);
	st_vol(&o->pad, 0u);
}

static __device__ void load_set(const mk_cuda_scan_set *s, mk_cuda_scan_set *d)
{
	d->next = (const uint32_t *)ld_vol_u64(&s->next);
	d->accept = (const uint32_t *)ld_vol_u64(&s->accept);
	d->out_off = (const uint32_t *)ld_vol_u64(&s->out_off);
	d->out_pat = (const uint32_t *)ld_vol_u64(&s->out_pat);
	d->states = ld_vol(&s->states);
	d->overlap = ld_vol(&s->overlap);
}

/* Fill job @j (bit held) for slot @slot and open its count phase. */
static __device__ void scan_open(mk_cuda_scan_job *j, const mk_cuda_scan_set *set,
				 const uint32_t *arg, uint32_t slot)
{
	uint32_t gen = ld_vol(&j->gen) + 1u, tile, n;

	n = mk_lane_tiling(arg[1], arg[2], set->overlap, MK_CUDA_SCAN_TILE,
			   MK_CUDA_SCAN_MAX_TILES, &tile);
	st_vol_ptr(&j->set.next, set->next);
	st_vol_ptr(&j->set.accept, set->accept);
	st_vol_ptr(&j->set.out_off, set->out_off);
	st_vol_ptr(&j->set.out_pat, set->out_pat);
	st_vol(&j->set.states, set->states);
	st_vol(&j->set.overlap, set->overlap);
	st_vol64(&j->base, (uint64_t)arg[6] << 32 | arg[5]);
	st_vol(&j->len, arg[1]);
	st_vol(&j->from, arg[2]);
	st_vol(&j->state, arg[4]);
	st_vol(&j->cap, arg[7]);
	st_vol(&j->tile, tile);
	st_vol(&j->slot, slot);
	st_vol(&j->gen, gen);
	st_vol(&j->done1, 0u);
	st_vol(&j->done2, 0u);
	st_vol(&j->end_state, arg[4]);
	/* Fields, then shape, then claim: a kept claim sees all of them. */
	__threadfence();
	st_vol64(&j->shape1, (uint64_t)gen << 32 | n);
	__threadfence();
	atomicExch((unsigned long long *)&j->claim1, (unsigned long long)gen << 32);
}

/*
 * The claiming lane of a SCAN_CHUNK slot (tenant already checked). Returns
 * 1 when the slot became a job (a worker completes it), 0 when the caller
 * completes it now: as a no-op for bad indices, no tables or no buffer
 * (the CPU does the same) and for a buffer whose previous chunk is still
 * in flight (the streams never do that), or after writing the result of an
 * empty chunk.
 */
static __device__ int scan_post(const mk_cuda_kargs &a, uint32_t slot,
				const uint32_t *w)
{
	/* Both written by the copy engine (put_word64, backend_cuda_scan.c),
	 * after the tables they point to, before the host returned. */
	const mk_cuda_scan_tab *tab = (const mk_cuda_scan_tab *)ld_vol_u64(&a.ds->scan_tab);
	mk_cuda_scan_area *ar = (mk_cuda_scan_area *)ld_vol_u64(&a.ds->scan_area);
	uint32_t arg[8], bi = w[MK_ARG0_WORD], k, caps;
	const uint8_t *buf;
	mk_cuda_scan_set set;
	mk_scan_env *env;
	mk_scan_hit *hits;
	uint64_t bit;

	if (!tab || !ar || bi >= MK_SCAN_MAX_BUFS ||
	    w[MK_ARG0_WORD + 3u] >= MK_SCAN_MAX_SETS)
		return 0;
	load_set(&tab->set[w[MK_ARG0_WORD + 3u]], &set);
	env = (mk_scan_env *)ld_vol_u64(&tab->env);
	if (!set.next || !env)
		return 0;
	/*
	 * The host filled the buffer (and the env) before it published the
	 * slot, whose words may have come inside the SQ entry: acquire at
	 * system scope, so every read of them here and, through the job's
	 * release/acquire, in the workers comes after.
	 */
	fence_acq_sys();
	/*
	 * The host swaps a buffer (runtime/stream.c take_buffers/drop_buffer)
	 * with caps and hits stored before bufs, and bufs cleared first: read
	 * bufs, then caps and hits, then bufs again. Unchanged, the three
	 * belong together (a spare block reused at the same address is at
	 * least as large as either caps); changed, a stray slot raced a
	 * stream's end and is a no-op, never a read past the buffer.
	 */
	buf = (const uint8_t *)ld_vol_u64(&env->bufs[bi]);
	fence_acq_sys();
	hits = (mk_scan_hit *)ld_vol_u64(&env->hits[bi]);
	caps = ld_vol(&env->caps[bi]);
	fence_acq_sys();
	if (!buf || !hits || ((uintptr_t)buf & 15u) ||
	    (const uint8_t *)ld_vol_u64(&env->bufs[bi]) != buf)
		return 0;
	for (k = 0; k < 8u; k++)
		arg[k] = w[MK_ARG0_WORD + k];
	arg[1] = arg[1] < caps ? arg[1] : caps;
	arg[4] = arg[4] < set.states ? arg[4] : 0u;
	arg[7] = arg[7] < MK_SCAN_HITS_CAP ? arg[7] : MK_SCAN_HITS_CAP;
	if (arg[1] == 0u) { /* nothing to read: the state stays */
		scan_out(&env->outs[bi], 0u, 0u, arg[4], 0u);
		__threadfence_system(); /* before the caller's DONE */
		return 0;
	}
	bit = 1ull << bi;
	if (atomicOr((unsigned long long *)&a.ds->scan_pending, bit) & bit)
		return 0;
	st_vol_ptr(&ar->job[bi].buf, buf);
	st_vol_ptr(&ar->job[bi].out, &env->outs[bi]);
	st_vol_ptr(&ar->job[bi].hits, hits);
	scan_open(&ar->job[bi], &set, arg, slot);
	return 1;
}

/* ---- a job as one warp sees it ------------------------------------------------ */

/* Every lane: the fields of job @j (stable: the warp holds a tile). */
static __device__ void scan_job_load(mk_cuda_scan_job *j, mk_lane_job *v)
{
	uint64_t sh = ld_vol64(&j->shape1);

	v->buf = (const uint8_t *)ld_vol_u64(&j->buf);
	v->out = (mk_scan_out *)ld_vol_u64(&j->out);
	v->hits = (mk_scan_hit *)ld_vol_u64(&j->hits);
	load_set(&j->set, &v->set);
	v->base = ld_vol64(&j->base);
	v->len = ld_vol(&j->len);
	v->from = ld_vol(&j->from);
	v->state = ld_vol(&j->state);
	v->cap = ld_vol(&j->cap);
	v->tile = ld_vol(&j->tile);
	v->slot = ld_vol(&j->slot);
	v->gen = sc_gen(sh);
	v->ntiles = sc_cnt(sh);
}

/*
 * Lane 0: take a tile of @j. Returns the phase (1 count, 2 hits) with the
 * tile in *@t, or 0. The pre-check keeps idle warps from piling atomics
 * on a job whose tiles are all taken.
 */
static __device__ int scan_claim(mk_cuda_scan_job *j, uint32_t *t)
{
	uint64_t s = ld_vol64(&j->shape1), c = ld_vol64(&j->claim1), old;
	int ph = 1;

	if (sc_gen(s) != sc_gen(c) || sc_cnt(c) >= sc_cnt(s)) {
		s = ld_vol64(&j->shape2);
		c = ld_vol64(&j->claim2);
		if (sc_gen(s) != sc_gen(c) || sc_cnt(c) >= sc_cnt(s))
			return 0;
		ph = 2;
	}
	old = atomicAdd((unsigned long long *)(ph == 1 ? &j->claim1 : &j->claim2),
			1ull);
	/* Acquire: pairs with the fence before the claim word's reset. */
	__threadfence();
	s = ld_vol64(ph == 1 ? &j->shape1 : &j->shape2);
	if (sc_gen(s) != sc_gen(old) || sc_cnt(old) >= sc_cnt(s))
		return 0;
	*t = sc_cnt(old);
	return ph;
}

/* ---- one round of a tile: shared memory and the lanes' ranges ---------------- */

/*
 * Copy buffer bytes [lo, hi) (lo 16-aligned) into @sm: coalesced 16-byte
 * volatile loads (the host refills the buffer between chunks), 8 in
 * flight per lane before their stores.
 */
static __device__ void scan_fill(uint8_t *sm, const uint8_t *buf, uint32_t lo,
				 uint32_t hi)
{
	const uint32_t *src = (const uint32_t *)(buf + lo);
	uint32_t n = (hi - lo + 15u) / 16u, k, u;
	uint4 *dst = (uint4 *)sm, v[8];

	__syncwarp(); /* the last round's readers are done */
	for (k = lane_id(); k < n; k += 256u) {
#pragma unroll
		for (u = 0; u < 8u; u++)
			if (k + 32u * u < n)
				v[u] = ld_vol_v4(src + 4u * (k + 32u * u));
#pragma unroll
		for (u = 0; u < 8u; u++)
			if (k + 32u * u < n)
				dst[k + 32u * u] = v[u];
	}
	__syncwarp();
}

static __device__ uint64_t warp_sum64(uint64_t v)
{
	uint32_t d;

	for (d = 16u; d; d >>= 1)
		v += __shfl_xor_sync(FULL_MASK, v, d);
	return v;
}

static __device__ uint64_t warp_incl64(uint64_t v)
{
	uint32_t d;

	for (d = 1u; d < 32u; d <<= 1) {
		uint64_t u = __shfl_up_sync(FULL_MASK, v, d);

		if (lane_id() >= d)
			v += u;
	}
	return v;
}

/* ---- completion ---------------------------------------------------------------- */

/*
 * Whole warp: outs[a0], release the buffer's job, complete the slot as
 * exec_claimed does (SCAN_CHUNK >= 32 has no metric, as on the CPU).
 */
static __device__ void scan_complete(const mk_cuda_kargs &a, uint32_t bi,
				     const mk_lane_job &j, uint64_t total,
				     uint32_t end_state)
{
	int did = 0;

	if (lane_id() == 0) {
		const mk_exec x = exec_of(a);
		uint32_t base = j.slot * MK_SLOT_WORDS;

		scan_out(j.out, total, total < j.cap ? (uint32_t)total : j.cap,
			 end_state, total > j.cap);
		__threadfence();
		/* The job is free before DONE: the host refills the buffer then. */
		atomicAnd((unsigned long long *)&a.ds->scan_pending, ~(1ull << bi));
		mk_exec_op(&x, base, MK_OP_SCAN_CHUNK, 0u, 0u, 0u, 0u);
		asm volatile("red.global.sys.add.u32 [%0], 1;" ::"l"(&x.ctl[MK_CTL_DONE_COUNT])
			     : "memory");
		/* outs and hits are host memory: visible before DONE. */
		__threadfence_system();
		st_vol(&x.ring[base + MK_STATUS_WORD], MK_SLOT_DONE);
		did = 1;
	}
	notify_done(a, did, ld_vol(&a.ds->want));
}

/* ---- the phases ------------------------------------------------------------------ */

/* A binary DFA: one lane, in order, hits as they come (pattern 0). */
static __device__ void scan_seq(const mk_cuda_kargs &a, uint32_t bi,
				const mk_lane_job &j, uint8_t *sm)
{
	uint32_t s = j.state, pos, end, nh = 0;
	uint64_t n = 0;

	for (pos = 0; pos < j.len; pos = end) {
		end = j.len - pos > MK_CUDA_SCAN_TILE ? pos + MK_CUDA_SCAN_TILE : j.len;
		scan_fill(sm, j.buf, pos, end);
		if (lane_id() == 0)
			mk_lane_seq(sm, pos, end, &j, &s, &n, &nh);
	}
	n = __shfl_sync(FULL_MASK, n, 0);
	s = __shfl_sync(FULL_MASK, s, 0);
	__threadfence_system(); /* the hits, before the completion */
	scan_complete(a, bi, j, n, s);
}

/*
 * The count phase is done: exclusive prefix of the tile counts (clamped to
 * the cap), then complete, or open the hit phase over the tiles whose
 * prefix is below the cap.
 */
static __device__ void scan_finish1(const mk_cuda_kargs &a,
				    mk_cuda_scan_area *ar, uint32_t bi,
				    const mk_lane_job &j)
{
	mk_cuda_scan_job *job = &ar->job[bi];
	uint32_t lane = lane_id(), k, n2 = 0;
	uint64_t run = 0;

	for (k = 0; k < j.ntiles; k += 32u) {
		int in = k + lane < j.ntiles;
		uint64_t c = in ? ld_vol64(&ar->cnt[bi][k + lane]) : 0u;
		uint64_t incl = warp_incl64(c), excl = run + incl - c;

		if (in)
			st_vol(&ar->pre[bi][k + lane],
			       excl < j.cap ? (uint32_t)excl : j.cap);
		n2 += __popc(__ballot_sync(FULL_MASK, in && excl < j.cap));
		run += __shfl_sync(FULL_MASK, incl, 31);
	}
	if (j.cap == 0u || run == 0u) {
		scan_complete(a, bi, j, run, ld_vol(&job->end_state));
		return;
	}
	__threadfence(); /* pre[] and total before the hit phase opens */
	if (lane == 0) {
		st_vol64(&job->total, run);
		__threadfence();
		st_vol64(&job->shape2, (uint64_t)j.gen << 32 | n2);
		__threadfence();
		atomicExch((unsigned long long *)&job->claim2,
			   (unsigned long long)j.gen << 32);
	}
	__syncwarp();
}

/* Count phase, tile @t: count the ends in its bytes, round by round. */
static __device__ void scan_tile1(const mk_cuda_kargs &a, mk_cuda_scan_area *ar,
				  uint32_t bi, const mk_lane_job &j, uint32_t t,
				  uint8_t *sm)
{
	uint32_t first, end, ts, te, st, done = 0;
	uint64_t n = 0;

	mk_lane_tile_span(&j, t, &first, &end);
	ts = first;
	do { /* at least one round: an empty tile still finds the end state */
		mk_lane_geo g;

		te = end - ts > MK_CUDA_SCAN_TILE ? ts + MK_CUDA_SCAN_TILE : end;
		g = mk_lane_geometry(&j, ts, te, lane_id());
		scan_fill(sm, j.buf, g.lo, te);
		st = mk_lane_start(&j, &g);
		n += warp_sum64(g.run ? mk_lane_count(sm, &g, &j.set, &st) : 0u);
		if (g.run && g.last)
			st_vol(&ar->job[bi].end_state, st);
		ts = te;
	} while (ts < end);
	if (lane_id() == 0)
		st_vol64(&ar->cnt[bi][t], n);
	__threadfence(); /* the count and the end state before done1 */
	__syncwarp();
	if (lane_id() == 0)
		done = atomicAdd(&ar->job[bi].done1, 1u) + 1u == j.ntiles;
	if (__shfl_sync(FULL_MASK, done, 0)) {
		__threadfence();
		__syncwarp(); /* lane 0's acquire, for every lane's loads */
		scan_finish1(a, ar, bi, j);
	}
}

/* Hit phase, tile @t: write its hits from its prefix while below the cap. */
static __device__ void scan_tile2(const mk_cuda_kargs &a, mk_cuda_scan_area *ar,
				  uint32_t bi, const mk_lane_job &j, uint32_t t,
				  uint32_t n2, uint8_t *sm)
{
	uint32_t first, end, ts, te, st, done = 0;
	uint64_t idx = ld_vol(&ar->pre[bi][t]);

	mk_lane_tile_span(&j, t, &first, &end);
	for (ts = first; ts < end && idx < j.cap && ld_vol64(&ar->cnt[bi][t]);
	     ts = te) {
		mk_lane_geo g;
		uint64_t c, incl;

		te = end - ts > MK_CUDA_SCAN_TILE ? ts + MK_CUDA_SCAN_TILE : end;
		g = mk_lane_geometry(&j, ts, te, lane_id());
		scan_fill(sm, j.buf, g.lo, te);
		st = mk_lane_start(&j, &g);
		c = g.run ? mk_lane_count(sm, &g, &j.set, &st) : 0u;
		incl = warp_incl64(c);
		if (g.run && c && idx + incl - c < j.cap)
			mk_lane_hits(sm, &g, &j, mk_lane_start(&j, &g), idx + incl - c);
		idx += __shfl_sync(FULL_MASK, incl, 31);
	}
	__threadfence_system(); /* hits are host memory: before done2 */
	__syncwarp();
	if (lane_id() == 0)
		done = atomicAdd(&ar->job[bi].done2, 1u) + 1u == n2;
	if (__shfl_sync(FULL_MASK, done, 0)) {
		__threadfence();
		__syncwarp(); /* lane 0's acquire, for every lane's loads */
		scan_complete(a, bi, j, ld_vol64(&ar->job[bi].total),
			      ld_vol(&ar->job[bi].end_state));
	}
}

/* ---- the workers' side --------------------------------------------------------- */

/* Whole warp: take and run one tile of some posted job; 0 if none. */
static __device__ int scan_step(const mk_cuda_kargs &a, uint8_t *sm)
{
	uint32_t rot = (blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32u) & 63u;
	uint64_t pend = 0, m;
	mk_cuda_scan_area *ar;

	if (lane_id() == 0)
		pend = ld_vol64(&a.ds->scan_pending);
	pend = __shfl_sync(FULL_MASK, pend, 0);
	if (!pend)
		return 0;
	ar = (mk_cuda_scan_area *)ld_vol_u64(&a.ds->scan_area);
	/* Rotated per warp, so the warps spread over the jobs. */
	m = rot ? (pend >> rot | pend << (64u - rot)) : pend;
	for (; m; m &= m - 1u) {
		uint32_t bi = ((uint32_t)__ffsll((long long)m) - 1u + rot) & 63u;
		uint32_t t = 0;
		int ph = 0;
		mk_lane_job j;

		if (lane_id() == 0)
			ph = scan_claim(&ar->job[bi], &t);
		ph = __shfl_sync(FULL_MASK, ph, 0);
		if (!ph)
			continue;
		t = __shfl_sync(FULL_MASK, t, 0);
		/* Lane 0's acquire (fence after the claim) orders the other
		 * lanes' loads too only through a barrier; a shuffle is none. */
		__syncwarp();
		scan_job_load(&ar->job[bi], &j);
		if (j.set.overlap == MK_CUDA_SCAN_SEQ)
			scan_seq(a, bi, j, sm);
		else if (ph == 1)
			scan_tile1(a, ar, bi, j, t, sm);
		else
			scan_tile2(a, ar, bi, j, t,
				   sc_cnt(ld_vol64(&ar->job[bi].shape2)), sm);
		return 1;
	}
	return 0;
}

/*
 * Idle worker: look for scan work every SCAN_POLL_NS (a thousand warps
 * polling one line would make it an L2 hot spot), at once after a step
 * that found some. Returns 1 when it ran a tile.
 */
static __device__ int scan_idle(const mk_cuda_kargs &a, uint8_t *sm,
				uint64_t *next_poll)
{
	/* Warp-uniform: scan_step is whole-warp (FULL_MASK shuffles). */
	uint64_t now = __shfl_sync(FULL_MASK, now_ns(), 0);

	if (now < *next_poll)
		return 0;
	if (scan_step(a, sm)) {
		*next_poll = 0;
		return 1;
	}
	*next_poll = now + SCAN_POLL_NS;
	return 0;
}

/* Before a warp that may have posted leaves: no job may be left behind. */
static __device__ void scan_drain(const mk_cuda_kargs &a, uint8_t *sm)
{
	uint64_t pend;

	for (;;) {
		pend = lane_id() == 0 ? ld_vol64(&a.ds->scan_pending) : 0u;
		if (!__shfl_sync(FULL_MASK, pend, 0))
			return;
		if (!scan_step(a, sm))
			__nanosleep(1000);
	}
}

#endif /* MK_KERNELS_SCAN_CUH */
