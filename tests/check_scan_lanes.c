/* SPDX-License-Identifier: MIT */
/*
 * tests/check_scan_lanes.c - the GPU's SCAN_CHUNK arithmetic
 * (kernels/scan_lanes.h: tiles, rounds, lane ranges and lead-ins, the lane
 * loops) run on the host, driven the way kernels/scan.cuh's warps drive it
 * (count phase, prefix, hit phase, in-order sets), against the CPU
 * backend's mk_scan_exec_host on random sets (1..300 patterns of up to
 * 1,024 bytes, binary DFAs, the empty set), texts, count_from, carried
 * states and hit caps, with the kernel's tile sizes and with small ones
 * that force many tiles and rounds. Needs no GPU: this is where the GPU
 * scan's exactness is checked on every machine; tests/check_scan_cuda.c
 * checks the warps themselves on a device.
 *   build/release/tests/check_scan_lanes
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/scan_lanes.h"
#include "runtime/dfa.h"
#include "runtime/stream.h"
#include "tests/mk_check.h"
#include "tests/t_scan.h"

#define LANES 32u

struct t_out {
	uint64_t matches;
	uint32_t nhits, end_state, overflow;
};

/* The kernel's sizes (_i == 0) or small ones: many tiles and rounds. */
static uint32_t round_bytes, max_tiles;
static uint64_t t_rng = 88172645463325252ull;

static uint64_t t_rand(void)
{
	t_rng ^= t_rng << 13;
	t_rng ^= t_rng >> 7;
	t_rng ^= t_rng << 17;
	return t_rng;
}

static void t_sizes(int small)
{
	round_bytes = small ? 256u : MK_CUDA_SCAN_TILE;
	max_tiles = small ? 8u : MK_CUDA_SCAN_MAX_TILES;
}

/* What scan_fill copies must fit the warp's shared memory, and cover the
 * lane's reads. */
static void t_check_geo(const struct mk_lane_geo *g, uint32_t te)
{
	if (!g->run)
		return;
	ck_assert_uint_eq(g->lo & 15u, 0);
	ck_assert_uint_le(g->lo, g->b);
	ck_assert_uint_le(g->b, g->c);
	ck_assert_uint_le(g->c, g->e);
	ck_assert_uint_le(g->e, te);
	ck_assert_uint_le(te - g->lo + 15u, round_bytes + MK_DFA_MAX_PATLEN + 64u);
}

/* Count phase of tile @t (scan_tile1): its count; the end state if it
 * holds the buffer's last byte. */
static uint64_t t_tile1(const struct mk_lane_job *j, uint32_t t,
			uint32_t *end_state, int *ends)
{
	uint32_t first, end, ts, te, lane, st;
	uint64_t n = 0;

	mk_lane_tile_span(j, t, &first, &end);
	ts = first;
	do {
		te = end - ts > round_bytes ? ts + round_bytes : end;
		for (lane = 0; lane < LANES; lane++) {
			struct mk_lane_geo g = mk_lane_geometry(j, ts, te, lane);

			t_check_geo(&g, te);
			st = mk_lane_start(j, &g);
			if (g.run)
				n += mk_lane_count(j->buf + g.lo, &g, &j->set, &st);
			if (g.run && g.last) {
				*end_state = st;
				(*ends)++;
			}
		}
		ts = te;
	} while (ts < end);
	return n;
}

/* Hit phase of tile @t from index @idx (scan_tile2). */
static void t_tile2(const struct mk_lane_job *j, uint32_t t, uint64_t idx,
		    uint64_t cnt)
{
	uint32_t first, end, ts, te, lane, st;

	mk_lane_tile_span(j, t, &first, &end);
	for (ts = first; ts < end && idx < j->cap && cnt; ts = te) {
		struct mk_lane_geo g[LANES];
		uint64_t c[LANES], incl = 0;

		te = end - ts > round_bytes ? ts + round_bytes : end;
		for (lane = 0; lane < LANES; lane++) {
			g[lane] = mk_lane_geometry(j, ts, te, lane);
			st = mk_lane_start(j, &g[lane]);
			c[lane] = g[lane].run ? mk_lane_count(j->buf + g[lane].lo,
							      &g[lane], &j->set, &st)
					      : 0u;
		}
		for (lane = 0; lane < LANES; lane++) {
			incl += c[lane];
			if (g[lane].run && c[lane] && idx + incl - c[lane] < j->cap)
				mk_lane_hits(j->buf + g[lane].lo, &g[lane], j,
					     mk_lane_start(j, &g[lane]),
					     idx + incl - c[lane]);
		}
		idx += incl;
	}
}

/* A posted job, as the warps of kernels/scan.cuh run it. */
static void t_job(struct mk_lane_job *j, struct t_out *o)
{
	uint32_t t, n2 = 0, end_state = 0;
	uint64_t *cnt, *pre, run = 0;
	int ends = 0;

	j->ntiles = mk_lane_tiling(j->len, j->from, j->set.overlap, round_bytes,
				   max_tiles, &j->tile);
	if (j->set.overlap == MK_CUDA_SCAN_SEQ) { /* scan_seq */
		uint32_t s = j->state, nh = 0, pos, end;
		uint64_t n = 0;

		for (pos = 0; pos < j->len; pos = end) {
			end = j->len - pos > round_bytes ? pos + round_bytes : j->len;
			mk_lane_seq(j->buf + pos, pos, end, j, &s, &n, &nh);
		}
		o->matches = n;
		o->nhits = nh;
		o->end_state = s;
		o->overflow = n > j->cap;
		return;
	}
	ck_assert_uint_le(j->ntiles, max_tiles);
	cnt = calloc(j->ntiles, sizeof(*cnt));
	pre = calloc(j->ntiles, sizeof(*pre));
	ck_assert(cnt && pre);
	for (t = 0; t < j->ntiles; t++)
		cnt[t] = t_tile1(j, t, &end_state, &ends);
	ck_assert_int_eq(ends, 1); /* exactly one lane knows the end state */
	for (t = 0; t < j->ntiles; t++) { /* scan_finish1 */
		pre[t] = run < j->cap ? run : j->cap;
		n2 += run < j->cap;
		run += cnt[t];
	}
	for (t = 0; j->cap && run && t < n2; t++)
		t_tile2(j, t, pre[t], cnt[t]);
	o->matches = run;
	o->nhits = run < j->cap ? (uint32_t)run : j->cap;
	o->end_state = end_state;
	o->overflow = run > j->cap;
	free(cnt);
	free(pre);
}

/* Random literals: @np patterns of 1..@maxl bytes over @alpha values. */
static struct mk_dfa *t_random_set(uint32_t np, uint32_t maxl, uint32_t alpha)
{
	char *text = malloc((size_t)np * (maxl * 4 + 1) + 1), *p = text;
	struct mk_dfa *d = NULL;
	struct mk_err err;
	uint32_t i, k, l;

	ck_assert_ptr_nonnull(text);
	for (i = 0; i < np; i++) {
		l = t_rand() % 6 == 0 ? maxl : 1 + (uint32_t)(t_rand() % maxl);
		for (k = 0; k < l; k++)
			p += sprintf(p, "\\x%02x", (unsigned)(t_rand() % alpha));
		*p++ = '\n';
	}
	ck_assert_int_eq(mk_dfa_compile_literals(text, (size_t)(p - text), &d, &err), 0);
	free(text);
	return d;
}

/* The job scan_post would post for these args, on @d's tables. */
static void t_post(struct mk_lane_job *j, const struct mk_dfa *d,
		   const uint32_t *off, const uint32_t *pat, const uint32_t *a,
		   struct mk_scan_hit *hits)
{
	struct mk_dfa_view v = mk_dfa_view(d);
	size_t ov = mk_dfa_overlap(d);

	memset(j, 0, sizeof(*j));
	j->hits = hits;
	j->set.next = v.next;
	j->set.accept = v.accept;
	j->set.out_off = off;
	j->set.out_pat = pat;
	j->set.states = v.states;
	j->set.overlap = ov < MK_DFA_MAX_PATLEN ? (uint32_t)ov : MK_CUDA_SCAN_SEQ;
	j->base = (uint64_t)a[6] << 32 | a[5];
	j->len = a[1];
	j->from = a[2];
	j->state = a[4] < v.states ? a[4] : 0u;
	j->cap = a[7] < MK_SCAN_HITS_CAP ? a[7] : MK_SCAN_HITS_CAP;
}

/* One random case: the CPU backend's SCAN_CHUNK vs the lane arithmetic. */
static void t_case(struct mk_scan_env *env, uint8_t *buf, size_t bufcap,
		   struct mk_scan_hit *gh)
{
	uint32_t alpha = 2 + (uint32_t)(t_rand() % 3), maxl, np, a[8], k, w[16];
	struct mk_dfa *d, *bin = NULL, *use;
	uint32_t *off = NULL, *pat = NULL, len;
	struct mk_lane_job j;
	struct mk_scan_out co;
	struct t_out go;
	struct mk_err err;
	size_t i;

	/* many short patterns, or a few up to the longest allowed */
	np = 1 + (uint32_t)(t_rand() % (t_rand() % 4 ? 12 : 300));
	maxl = 1 + (uint32_t)(t_rand() % (np > 12 || t_rand() % 5 ? 12
							   : MK_DFA_MAX_PATLEN));
	d = t_random_set(t_rand() % 20 ? np : 0, maxl, alpha);
	if (t_rand() % 5 == 0)
		bin = t_binary_of(d);
	use = bin ? bin : d;
	ck_assert_int_eq(mk_dfa_out_table(use, SIZE_MAX, &off, &pat, &err), 0);
	len = (uint32_t)(t_rand() % (t_rand() % 3 ? 4000 : bufcap));
	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(t_rand() % (alpha + (t_rand() % 50 == 0)));
	a[0] = 0;
	a[1] = len;
	a[2] = (uint32_t)(t_rand() % 3 ? t_rand() % (len + 11u) : 0u);
	a[3] = 0;
	a[4] = (uint32_t)(t_rand() % 3 ? t_rand() % (mk_dfa_states(use) + 2u) : 0u);
	a[5] = (uint32_t)t_rand();
	a[6] = (uint32_t)(t_rand() % 3);
	a[7] = (uint32_t)(t_rand() % 3 ? t_rand() % 3000 : t_rand() % 5);
	if (t_rand() % 10 == 0)
		a[7] = 0xFFFFFFFFu;
	memset(w, 0, sizeof(w));
	w[MK_OPCODE_WORD] = MK_OP_SCAN_CHUNK;
	memcpy(&w[MK_ARG0_WORD], a, sizeof(a));
	env->dfas[0] = use;
	env->sets[0] = mk_dfa_view(use);
	mk_scan_exec_host(env, w);
	co = env->outs[0];
	t_post(&j, use, off, pat, a, gh);
	j.buf = buf;
	if (len == 0) { /* scan_post answers it: nothing read, the state stays */
		go.matches = 0;
		go.nhits = 0;
		go.end_state = j.state;
		go.overflow = 0;
	} else {
		t_job(&j, &go);
	}
	ck_assert_msg(co.matches == go.matches && co.nhits == go.nhits &&
			      co.end_state == go.end_state && co.overflow == go.overflow,
		      "len %u from %u state %u cap %u ov %u: cpu %llu/%u/%u/%u gpu %llu/%u/%u/%u",
		      len, a[2], a[4], a[7], j.set.overlap,
		      (unsigned long long)co.matches, co.nhits, co.end_state,
		      co.overflow, (unsigned long long)go.matches, go.nhits,
		      go.end_state, go.overflow);
	qsort(env->hits[0], co.nhits, sizeof(*gh), t_cmp_hit);
	qsort(gh, go.nhits, sizeof(*gh), t_cmp_hit);
	for (k = 0; k < co.nhits; k++)
		ck_assert(env->hits[0][k].pattern == gh[k].pattern &&
			  env->hits[0][k].end_offset == gh[k].end_offset);
	free(off);
	free(pat);
	mk_dfa_destroy(bin);
	mk_dfa_destroy(d);
}

START_TEST(test_scan_lanes_match_cpu)
{
	size_t bufcap = _i ? 20000 : 120000;
	struct mk_scan_env *env = calloc(1, sizeof(*env));
	uint8_t *buf = malloc(bufcap);
	struct mk_scan_hit *gh = calloc(MK_SCAN_HITS_CAP, sizeof(*gh));
	int it;

	ck_assert(env && buf && gh);
	env->bufs[0] = buf;
	env->caps[0] = (uint32_t)bufcap;
	env->hits[0] = calloc(MK_SCAN_HITS_CAP, sizeof(struct mk_scan_hit));
	ck_assert_ptr_nonnull(env->hits[0]);
	t_sizes(_i);
	/* Under valgrind (make check-valgrind) a tenth: same code, ~50x slower. */
	for (it = 0; it < (_i ? 250 : 100) / (getenv("MK_VALGRIND") ? 10 : 1); it++)
		t_case(env, buf, bufcap, gh);
	free(env->hits[0]);
	free(env);
	free(buf);
	free(gh);
}
END_TEST

/* Lane ranges tile the round exactly, reads stay in the copied bytes, and
 * the 32 lanes' strides keep them in distinct banks. */
START_TEST(test_scan_lanes_geometry)
{
	struct mk_lane_job j;
	uint32_t it, lane, ts, te, covered, ends;

	memset(&j, 0, sizeof(j));
	t_sizes(0);
	for (it = 0; it < 20000; it++) {
		j.len = 1 + (uint32_t)(t_rand() % 100000);
		j.set.overlap = (uint32_t)(t_rand() % MK_DFA_MAX_PATLEN);
		te = j.len - (uint32_t)(t_rand() % 3 ? 0 : t_rand() % j.len);
		ts = te - (uint32_t)(t_rand() % ((te < round_bytes ? te : round_bytes) + 1u));
		covered = 0;
		ends = 0;
		for (lane = 0; lane < LANES; lane++) {
			struct mk_lane_geo g = mk_lane_geometry(&j, ts, te, lane);

			t_check_geo(&g, te);
			if (g.c < g.e) {
				ck_assert_uint_eq(g.c, ts + covered);
				covered += g.e - g.c;
			}
			ends += g.last;
			if (lane == 1 && g.c < g.e)
				ck_assert_uint_eq(((g.c - ts) / 4u) % 2u, 1u);
		}
		ck_assert_uint_eq(covered, te - ts);
		ck_assert_uint_eq(ends, te == j.len);
	}
}
END_TEST

static Suite *scan_lanes_suite(void)
{
	Suite *s = suite_create("scan_lanes");
	TCase *tc = tcase_create("lanes");

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_scan_lanes_match_cpu, 0, 2);
	tcase_add_test(tc, test_scan_lanes_geometry);
	suite_add_tcase(s, tc);
	return s;
}

MK_CHECK_MAIN(scan_lanes_suite)
