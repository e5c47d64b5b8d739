/* SPDX-License-Identifier: MIT */
/*
 * kernels/scan_lanes.h - the arithmetic of SCAN_CHUNK on the GPU, apart
 * from the warp machinery of kernels/scan.cuh: how a job is cut into
 * tiles, a tile into rounds and a round into 32 lane ranges with their
 * lead-in, and the lane loops that count matches and write hits. Plain C
 * and C++ like runtime/interp.h, so tests/check_scan_lanes.c runs this
 * very code on the host against mk_scan_exec_host (make test, no GPU).
 *
 * Exactness (runtime/dfa.c above mk_dfa_overlap): for a literal set with
 * ov = max_len - 1, reading ov bytes before a position from state 0 counts
 * exactly the matches ending there, and after ov + 1 bytes the state is
 * the sequential one. A lane that reaches back to byte 0 starts from the
 * job's carried state instead, as a sequential scan would.
 */
#ifndef MK_KERNELS_SCAN_LANES_H
#define MK_KERNELS_SCAN_LANES_H

#include <stdint.h>

#include "kernels/megakernel.h"

#ifdef __CUDACC__
#define MK_LANE_FN static __device__ __forceinline__
#define MK_LANE_LDG(p) __ldg(p)
#else
#define MK_LANE_FN static inline
#define MK_LANE_LDG(p) (*(p))
#endif

/* A job as a warp reads it (struct mk_cuda_scan_job, fields settled). */
struct mk_lane_job {
	const uint8_t *buf;
	struct mk_scan_out *out;
	struct mk_scan_hit *hits;
	struct mk_cuda_scan_set set;
	uint64_t base; /* file offset of byte 0 */
	uint32_t len, from, state, cap, tile, slot, gen, ntiles;
};

/* One lane's part of a round [ts, te): it counts the ends in [c, e) and
 * reads from b; lo is where the warp's copy of the round starts. */
struct mk_lane_geo {
	uint32_t b, c, e, lo;
	int run;  /* the lane scans */
	int last; /* its final state is the buffer's end state */
};

/* One 16-byte hit, straight into (mapped host) memory. */
MK_LANE_FN void mk_lane_put_hit(struct mk_scan_hit *h, uint32_t pat,
				uint64_t end)
{
#ifdef __CUDACC__
	asm volatile("st.volatile.global.v4.u32 [%0], {%1,%2,%3,%4};" ::"l"(h),
		     "r"(pat), "r"(0u), "r"((uint32_t)end),
		     "r"((uint32_t)(end >> 32))
		     : "memory");
#else
	h->pattern = pat;
	h->pad = 0;
	h->end_offset = end;
#endif
}

/*
 * Tiles of a job: counted bytes [from, len) in at most @max_tiles tiles of
 * a multiple of @unit bytes (*@tile). A set scanned in order (overlap
 * MK_CUDA_SCAN_SEQ), and a job whose counted range is empty (only the end
 * state to find), are one tile.
 */
MK_LANE_FN uint32_t mk_lane_tiling(uint32_t len, uint32_t from, uint32_t ov,
				   uint32_t unit, uint32_t max_tiles,
				   uint32_t *tile)
{
	uint64_t counted = len - (from < len ? from : len);
	uint64_t span = (uint64_t)unit * max_tiles;

	*tile = unit * (uint32_t)((counted + span - 1u) / span);
	if (*tile == 0u)
		*tile = unit;
	if (ov == MK_CUDA_SCAN_SEQ || counted == 0u)
		return 1u;
	return (uint32_t)((counted + *tile - 1u) / *tile);
}

/* Counted bytes [*first, *end) of tile @t. */
MK_LANE_FN void mk_lane_tile_span(const struct mk_lane_job *j, uint32_t t,
				  uint32_t *first, uint32_t *end)
{
	uint32_t c0 = j->from < j->len ? j->from : j->len;
	uint64_t f = (uint64_t)c0 + (uint64_t)t * j->tile;

	*first = f < j->len ? (uint32_t)f : j->len;
	*end = f + j->tile < j->len ? (uint32_t)(f + j->tile) : j->len;
}

/*
 * Lane @lane's part of round [ts, te) (te - ts <= a tile round). Lane
 * strides are 4 mod 8 bytes, so at every step the 32 lanes' bytes sit in
 * 32 different shared-memory banks. The lane that holds the buffer's last
 * byte (or lane 0 of an empty round at the buffer's end) reads at least
 * ov + 1 bytes or from byte 0: its final state is the sequential one. The
 * warp copies [lo, te) (lo 16-aligned; at most te - ts + ov + 15 bytes).
 */
MK_LANE_FN struct mk_lane_geo mk_lane_geometry(const struct mk_lane_job *j,
					       uint32_t ts, uint32_t te,
					       uint32_t lane)
{
	uint32_t n = te - ts, s = (n + 31u) / 32u, ov = j->set.overlap;
	uint32_t anchor, first;
	struct mk_lane_geo g;

	s = (s + 3u) & ~3u;
	if (((s / 4u) & 1u) == 0u)
		s += 4u;
	g.c = lane * s < n ? ts + lane * s : te;
	g.e = lane * s + s < n ? ts + lane * s + s : te;
	g.last = te == j->len && (n ? (n - 1u) / s == lane : lane == 0u);
	g.run = g.c < g.e || g.last;
	anchor = g.c < j->len ? g.c : j->len - 1u;
	g.b = anchor > ov ? anchor - ov : 0u;
	first = ts < j->len ? ts : j->len - 1u; /* lane 0's anchor */
	g.lo = (first > ov ? first - ov : 0u) & ~15u;
	return g;
}

/* The lane's first state: the carried one when it reads from byte 0. */
MK_LANE_FN uint32_t mk_lane_start(const struct mk_lane_job *j,
				  const struct mk_lane_geo *g)
{
	return g->b == 0u ? j->state : 0u;
}

/* Run the DFA over [b, e) of @sm (byte lo first) from *@st; count the ends
 * in [c, e). */
MK_LANE_FN uint64_t mk_lane_count(const uint8_t *sm, const struct mk_lane_geo *g,
				  const struct mk_cuda_scan_set *set,
				  uint32_t *st)
{
	const uint32_t *next = set->next, *acc = set->accept;
	uint32_t s = *st, i;
	uint64_t n = 0;

	for (i = g->b; i < g->c; i++)
		s = MK_LANE_LDG(&next[s * 256u + sm[i - g->lo]]);
	for (; i < g->e; i++) {
		s = MK_LANE_LDG(&next[s * 256u + sm[i - g->lo]]);
		n += MK_LANE_LDG(&acc[s]);
	}
	*st = s;
	return n;
}

/*
 * mk_lane_count from state @s, writing the hits from index @idx on while
 * it is below the cap: (pattern, end + 1), the patterns of one end in
 * ascending order (the set's out_off/out_pat rows).
 */
MK_LANE_FN void mk_lane_hits(const uint8_t *sm, const struct mk_lane_geo *g,
			     const struct mk_lane_job *j, uint32_t s,
			     uint64_t idx)
{
	const uint32_t *next = j->set.next, *acc = j->set.accept;
	uint32_t i, k, o;

	for (i = g->b; i < g->c; i++)
		s = MK_LANE_LDG(&next[s * 256u + sm[i - g->lo]]);
	for (; i < g->e && idx < j->cap; i++) {
		s = MK_LANE_LDG(&next[s * 256u + sm[i - g->lo]]);
		k = MK_LANE_LDG(&acc[s]);
		o = k ? MK_LANE_LDG(&j->set.out_off[s]) : 0u;
		for (; k && idx < j->cap; k--, o++, idx++)
			mk_lane_put_hit(&j->hits[idx],
					MK_LANE_LDG(&j->set.out_pat[o]),
					j->base + i + 1u);
	}
}

/*
 * A set scanned in order (binary DFA), one round [pos, end) at @sm:
 * continue from *@st, add the ends >= from to *@n and write hits of
 * pattern 0 at *@nh while below the cap.
 */
MK_LANE_FN void mk_lane_seq(const uint8_t *sm, uint32_t pos, uint32_t end,
			    const struct mk_lane_job *j, uint32_t *st,
			    uint64_t *n, uint32_t *nh)
{
	uint32_t s = *st, i, k;

	for (i = pos; i < end; i++) {
		s = MK_LANE_LDG(&j->set.next[s * 256u + sm[i - pos]]);
		if (i < j->from)
			continue;
		k = MK_LANE_LDG(&j->set.accept[s]);
		*n += k;
		for (; k && *nh < j->cap; k--, (*nh)++)
			mk_lane_put_hit(&j->hits[*nh], 0u, j->base + i + 1u);
	}
	*st = s;
}

#endif /* MK_KERNELS_SCAN_LANES_H */
