/* SPDX-License-Identifier: MIT */
/*
 * tests/check_scan_cuda.c - SCAN_CHUNK and DFA_STEP on the CUDA backend
 * against the CPU backend (the oracle: mk_scan_exec_host): the same slots
 * on both, and outs[] (matches, nhits, end_state, overflow) and the kept
 * hits must be equal. Hits are compared sorted by (end, pattern): within
 * one end the CPU reports the longest pattern first and the GPU the lowest
 * index first; the kept set is the same. Covered: chunk boundaries in the
 * overlap form, overlapping/prefix/suffix patterns, 0x00/0xFF bytes, 1 and
 * 1,000 patterns, hit caps cutting inside a group of one end and in later
 * tiles, several jobs at once, a buffer of more than MAX_TILES tiles, a
 * binary DFA and a literal set carrying state, the empty set, edge
 * arguments and bad indices (no-ops), sets replaced between scans, a stop
 * with scans in flight, both schedulers, DFA_STEP and packed DFA_STEP, and
 * whole files through mk_stream on both backends.
 * Every case is tagged "gpu"; without a usable device (probed in a child)
 * the suite exits 77.
 *   build/release/tests/check_scan_cuda
 *   MK_GPU=1 scripts/run-tests.sh build/release
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/scan.h"
#include "runtime/stream.h"
#include "runtime/uring.h"
#include "tests/mk_check.h"
#include "tests/t_scan.h"
#include "tests/t_cuda.h"
#include "tests/t_runtime.h"

#define NB 2 /* 0: cpu (oracle), 1: cuda */
#define HIT_BYTES (MK_SCAN_HITS_CAP * sizeof(struct mk_scan_hit))

static const char *const names[NB] = { "cpu", "cuda" };

struct side {
	struct mk_runtime *rt;
	struct mk_scan_env *env;
};

static struct side sd[NB];
static uint32_t nbuf;  /* staging buffers in both envs */
static size_t bcap;    /* bytes of each */
static uint32_t t_rng = 12345u;

static uint32_t t_rand(void)
{
	t_rng ^= t_rng << 13;
	t_rng ^= t_rng >> 17;
	t_rng ^= t_rng << 5;
	return t_rng;
}

/* ---- two runtimes with one env each ------------------------------------- */

/*
 * Create both runtimes with @bufs staging buffers of @cap bytes; @d (may
 * be NULL) becomes set 0. @cold: install it all before the kernels start,
 * so no device or mapped allocation happens beside a resident kernel
 * (compute-sanitizer checks a kernel against the allocations that existed
 * at its launch: what a resident kernel reads of later ones it reports as
 * out of bounds). The priority variant runs with the 6.4 fix: these cases
 * publish far more than 16 CRITICAL slots (0..7 of 64) in a row, which
 * the reference scheduler strands for ever (PROTOCOL.md 6.4 HAZARD).
 */
static void t_open_sets(enum mk_sched sched, uint32_t bufs, size_t cap,
			const struct mk_dfa *d, int cold)
{
	uint32_t flags = sched == MK_SCHED_PRIORITY ? MK_CFG_STARVATION_FIX : 0;
	struct mk_config cfg;
	struct mk_err err;
	uint32_t b;
	int i;

	nbuf = bufs;
	bcap = cap;
	for (i = 0; i < NB; i++) {
		struct mk_scan_env *env;

		if (cold) {
			mk_config_init(&cfg);
			cfg.backend = names[i];
			cfg.slots = 64;
			cfg.scheduler = sched;
			cfg.flags = flags;
			cfg.tenants = 4;
			mk_err_clear(&err);
			ck_assert_msg(mk_runtime_create(&cfg, &sd[i].rt, &err) == 0,
				      "%s: create: %s", names[i], err.msg);
		} else {
			sd[i].rt = t_rt_start(names[i], 64, sched, flags);
		}
		env = mk_runtime_alloc_shared(sd[i].rt, sizeof(*env));
		ck_assert_ptr_nonnull(env);
		for (b = 0; b < bufs; b++) {
			env->bufs[b] = mk_runtime_alloc_shared(sd[i].rt, cap);
			env->hits[b] = mk_runtime_alloc_shared(sd[i].rt, HIT_BYTES);
			ck_assert(env->bufs[b] && env->hits[b]);
			env->caps[b] = (uint32_t)cap;
		}
		env->dfas[0] = d;
		env->sets[0] = d ? mk_dfa_view(d) : (struct mk_dfa_view){ 0 };
		sd[i].env = env;
		mk_err_clear(&err);
		ck_assert_msg(mk_runtime_set_scan(sd[i].rt, env, &err) == 0,
			      "%s: %s", names[i], err.msg);
		if (cold)
			ck_assert_msg(mk_runtime_start(sd[i].rt, &err) == 0,
				      "%s: start: %s", names[i], err.msg);
	}
}

static void t_open(enum mk_sched sched, uint32_t bufs, size_t cap)
{
	t_open_sets(sched, bufs, cap, NULL, 0);
}

static void t_close(void)
{
	uint32_t b;
	int i;

	for (i = 0; i < NB; i++) {
		ck_assert_int_eq(mk_runtime_set_scan(sd[i].rt, NULL, NULL), 0);
		for (b = 0; b < nbuf; b++) {
			mk_runtime_free_shared(sd[i].rt, sd[i].env->bufs[b]);
			mk_runtime_free_shared(sd[i].rt, sd[i].env->hits[b]);
		}
		mk_runtime_free_shared(sd[i].rt, sd[i].env);
		mk_runtime_destroy(sd[i].rt);
	}
}

/* Install @d (NULL: remove) as set @idx on both sides. */
static void t_set(uint32_t idx, const struct mk_dfa *d)
{
	struct mk_err err;
	int i;

	for (i = 0; i < NB; i++) {
		sd[i].env->dfas[idx] = d;
		sd[i].env->sets[idx] = d ? mk_dfa_view(d) : (struct mk_dfa_view){ 0 };
		mk_err_clear(&err);
		ck_assert_msg(mk_runtime_set_scan(sd[i].rt, sd[i].env, &err) == 0,
			      "%s: %s", names[i], err.msg);
	}
}

static struct mk_dfa *t_lits(const char *text)
{
	struct mk_dfa *d = NULL;
	struct mk_err err;

	ck_assert_msg(mk_dfa_compile_literals(text, strlen(text), &d, &err) == 0,
		      "%s", err.msg);
	return d;
}

/* n random patterns of 3..11 bytes over the first @alpha byte values. */
static struct mk_dfa *t_random_set(uint32_t n, uint32_t alpha)
{
	char *text = malloc((size_t)n * 48 + 1), *t = text;
	struct mk_dfa *d;
	uint32_t i, k, len;

	ck_assert_ptr_nonnull(text);
	for (i = 0; i < n; i++) {
		len = 3 + t_rand() % 9;
		for (k = 0; k < len; k++)
			t += sprintf(t, "\\x%02x", t_rand() % alpha);
		*t++ = '\n';
	}
	*t = '\0';
	d = t_lits(text);
	free(text);
	return d;
}

/* ---- one SCAN_CHUNK on both sides ---------------------------------------- */

static void t_fill(uint32_t b, const uint8_t *data, size_t len)
{
	int i;

	ck_assert_uint_le(len, bcap);
	for (i = 0; i < NB; i++)
		memcpy(sd[i].env->bufs[b], data, len);
}

static void t_publish(uint32_t slot, uint32_t op, const uint32_t *a, size_t n)
{
	struct mk_err err;
	int i;

	for (i = 0; i < NB; i++) {
		mk_err_clear(&err);
		ck_assert_msg(mk_runtime_publish(sd[i].rt, slot, 0, op, a, n, &err) == 0,
			      "%s: publish slot %u: %s", names[i], slot, err.msg);
	}
}

static void t_wait(uint32_t slot)
{
	int i;

	for (i = 0; i < NB; i++)
		ck_assert_msg(mk_runtime_wait(sd[i].rt, slot, T_WAIT_NS) == 0,
			      "%s: slot %u not DONE", names[i], slot);
}

/* outs[b] and the kept hits (sorted) of both sides must be equal. */
static void t_compare(uint32_t b, const char *what)
{
	struct mk_scan_out o[NB];
	struct mk_scan_hit *h[NB];
	uint32_t k;
	int i;

	for (i = 0; i < NB; i++) {
		o[i] = sd[i].env->outs[b];
		ck_assert_uint_le(o[i].nhits, MK_SCAN_HITS_CAP);
		h[i] = malloc(((size_t)o[i].nhits + 1) * sizeof(*h[i]));
		ck_assert_ptr_nonnull(h[i]);
		memcpy(h[i], sd[i].env->hits[b], o[i].nhits * sizeof(*h[i]));
		qsort(h[i], o[i].nhits, sizeof(*h[i]), t_cmp_hit);
	}
	ck_assert_msg(o[0].matches == o[1].matches, "%s: matches cpu %llu cuda %llu",
		      what, (unsigned long long)o[0].matches,
		      (unsigned long long)o[1].matches);
	ck_assert_msg(o[0].nhits == o[1].nhits, "%s: nhits cpu %u cuda %u", what,
		      o[0].nhits, o[1].nhits);
	ck_assert_msg(o[0].end_state == o[1].end_state,
		      "%s: end_state cpu %u cuda %u", what, o[0].end_state,
		      o[1].end_state);
	ck_assert_msg(o[0].overflow == o[1].overflow, "%s: overflow cpu %u cuda %u",
		      what, o[0].overflow, o[1].overflow);
	for (k = 0; k < o[0].nhits; k++)
		ck_assert_msg(h[0][k].pattern == h[1][k].pattern &&
				      h[0][k].end_offset == h[1][k].end_offset,
			      "%s: hit %u: cpu (%u, %llu) cuda (%u, %llu)", what, k,
			      h[0][k].pattern, (unsigned long long)h[0][k].end_offset,
			      h[1][k].pattern, (unsigned long long)h[1][k].end_offset);
	free(h[0]);
	free(h[1]);
}

/* Args of a SCAN_CHUNK: buffer, bytes, count_from, set, state, offset, cap. */
static void t_args(uint32_t *a, uint32_t b, uint32_t len, uint32_t from,
		   uint32_t set, uint32_t state, uint64_t off, uint32_t cap)
{
	a[0] = b;
	a[1] = len;
	a[2] = from;
	a[3] = set;
	a[4] = state;
	a[5] = (uint32_t)off;
	a[6] = (uint32_t)(off >> 32);
	a[7] = cap;
}

/* One chunk on buffer @b (slot @b), compared. Returns the cuda outs. */
static struct mk_scan_out t_one(uint32_t b, const uint32_t *a, const char *what)
{
	t_publish(b, MK_OP_SCAN_CHUNK, a, 8);
	t_wait(b);
	t_compare(b, what);
	return sd[1].env->outs[b];
}

/*
 * @data in chunks of @chunk bytes, overlap form (each re-reads overlap
 * bytes before its start, count_from = that lead-in), up to nbuf chunks in
 * flight at once; every chunk compared. Returns the sum of the matches,
 * which must be the whole text's count.
 */
static uint64_t t_chunks(const struct mk_dfa *d, uint32_t set,
			 const uint8_t *data, size_t len, uint32_t chunk,
			 uint32_t cap)
{
	size_t ov = mk_dfa_overlap(d), off = 0;
	uint64_t total = 0;
	uint32_t a[8], n, b, st = 0;
	char what[128];

	while (off < len) {
		for (n = 0; n < nbuf && off < len; n++) {
			size_t lead = off < ov ? off : ov;
			size_t clen = len - off < chunk ? len - off : chunk;

			t_fill(n, data + off - lead, lead + clen);
			t_args(a, n, (uint32_t)(lead + clen), (uint32_t)lead, set, 0,
			       off - lead, cap);
			t_publish(n, MK_OP_SCAN_CHUNK, a, 8);
			off += clen;
		}
		for (b = 0; b < n; b++) {
			t_wait(b);
			snprintf(what, sizeof(what), "chunk %u of %zu bytes, cap %u", b,
				 (size_t)chunk, cap);
			t_compare(b, what);
			total += sd[1].env->outs[b].matches;
		}
	}
	ck_assert_uint_eq(total, mk_dfa_scan_count(d, data, len, 0, &st));
	return total;
}

static uint8_t *t_text(size_t len, const char *alpha, size_t na)
{
	uint8_t *t = malloc(len ? len : 1);
	size_t i;

	ck_assert_ptr_nonnull(t);
	for (i = 0; i < len; i++)
		t[i] = (uint8_t)alpha[t_rand() % na];
	return t;
}

/* ---- cases ---------------------------------------------------------------- */

/* Overlapping, prefix, suffix and 0x00/0xFF patterns across chunk and tile
 * boundaries, with caps from none to all; _i: 0 sharded, 1 priority. */
START_TEST(test_scan_cuda_chunks_match_cpu)
{
	static const uint32_t chunks[] = { 4096, 16384, 40000, 70001 };
	static const uint32_t caps[] = { 0, 1, 7, 1000, MK_SCAN_HITS_CAP };
	size_t len = 3 * 16384 + 4321, i;
	uint8_t *t = t_text(len, "abcdaaaaane\x00\xff", 13);
	struct mk_dfa *d;
	uint32_t c, k;

	t_open(_i ? MK_SCHED_PRIORITY : MK_SCHED_SHARDED, 8, 80000);
	d = t_lits("needle\nneed\ndle\naaaa\n\\x00\\xff\\x00\na\n"
		   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\n");
	for (i = 1; i < 4; i++) /* straddle the 16 KiB tile boundaries */
		memcpy(t + i * 16384 - 3, "needle", 6);
	memset(t + 16384 - 30, 'a', 39);
	t[16384 + 9] = 'b';
	t_set(0, d);
	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++)
		for (k = 0; k < sizeof(caps) / sizeof(caps[0]); k++)
			t_chunks(d, 0, t, len, chunks[c], caps[k]);
	t_set(0, NULL);
	t_close();
	mk_dfa_destroy(d);
	free(t);
}
END_TEST

/* "a".."aaaaa" at shuffled indices on runs of 'a': every cap cuts a group
 * of one end; a sparse tail puts the cut in later tiles. */
START_TEST(test_scan_cuda_hit_cap_cuts_a_same_end_group)
{
	size_t len = 5 * 16384, i;
	uint8_t *t = t_text(len, "xyz", 3);
	struct mk_dfa *d;
	uint32_t a[8], cap;
	char what[64];

	for (i = 0; i < len; i += 997) /* runs of 1..8 'a' */
		memset(t + i, 'a', 1 + i % 8 < len - i ? 1 + i % 8 : len - i);
	t_open(MK_SCHED_SHARDED, 2, len);
	d = t_lits("aaa\na\naaaaa\naa\naaaa\n");
	t_set(3, d);
	t_fill(1, t, len);
	for (cap = 0; cap < 40; cap++) {
		t_args(a, 1, (uint32_t)len, 0, 3, 0, 7, cap);
		snprintf(what, sizeof(what), "cap %u", cap);
		t_one(1, a, what);
	}
	for (cap = 100; cap < 700; cap += 37) { /* cuts in tiles 1..4 */
		t_args(a, 1, (uint32_t)len, 5, 3, 0, 1ull << 40, cap);
		snprintf(what, sizeof(what), "cap %u", cap);
		t_one(1, a, what);
	}
	t_set(3, NULL);
	t_close();
	mk_dfa_destroy(d);
	free(t);
}
END_TEST

START_TEST(test_scan_cuda_1000_and_1_patterns)
{
	size_t len = 300000;
	uint8_t *t = t_text(len, "\x00\x01\x02\x03", 4);
	struct mk_dfa *many = t_random_set(1000, 4), *one = t_random_set(1, 4);

	t_open(MK_SCHED_SHARDED, 4, 70000);
	t_set(0, many);
	t_set(63, one);
	t_chunks(many, 0, t, len, 65536, 500);
	t_chunks(many, 0, t, len, 65536, MK_SCAN_HITS_CAP);
	t_chunks(one, 63, t, len, 50000, 100);
	t_set(0, NULL);
	t_set(63, NULL);
	t_close();
	mk_dfa_destroy(many);
	mk_dfa_destroy(one);
	free(t);
}
END_TEST

/* Carry form: chunks in order, each from the previous end state. */
static void t_carry(const struct mk_dfa *d, uint32_t set, const uint8_t *t,
		    size_t len, uint32_t chunk, uint32_t cap)
{
	struct mk_scan_out o;
	uint32_t a[8], st = 0, want_st = 0;
	uint64_t total = 0, want;
	size_t off;
	char what[64];

	for (off = 0; off < len; off += chunk) {
		uint32_t clen = len - off < chunk ? (uint32_t)(len - off) : chunk;

		t_fill(0, t + off, clen);
		t_args(a, 0, clen, 0, set, st, off, cap);
		snprintf(what, sizeof(what), "carry chunk at %zu", off);
		o = t_one(0, a, what);
		st = o.end_state;
		total += o.matches;
	}
	want = mk_dfa_scan_count(d, t, len, 0, &want_st);
	ck_assert_uint_eq(total, want);
	ck_assert_uint_eq(st, want_st);
}

START_TEST(test_scan_cuda_carry_state_binary_and_literal)
{
	size_t len = 100000;
	uint8_t *t = t_text(len, "abc", 3);
	struct mk_dfa *lit = t_lits("abcab\nbca\nc\n"), *bin = t_binary_of(lit);

	t_open(MK_SCHED_SHARDED, 1, 40000);
	t_set(1, bin);
	t_set(2, lit);
	t_carry(bin, 1, t, len, 4096, 10);
	t_carry(bin, 1, t, len, 33333, 0);
	t_carry(bin, 1, t, 3000, 1000, MK_SCAN_HITS_CAP);
	t_carry(lit, 2, t, len, 4096, 100); /* a literal set from a carried state */
	t_carry(lit, 2, t, 3000, 1, 3);     /* 1-byte chunks: ends near byte 0 */
	t_set(1, NULL);
	t_set(2, NULL);
	t_close();
	mk_dfa_destroy(bin);
	mk_dfa_destroy(lit);
	free(t);
}
END_TEST

/* len 0, len past the buffer, count_from past len, cap past the limit,
 * start state past the table, the empty set, replaced sets. */
START_TEST(test_scan_cuda_edge_arguments)
{
	uint8_t *t = t_text(5000, "ab\x00", 3);
	struct mk_dfa *d = t_lits("ab\nba\nb\\x00\n"), *e = t_lits("");
	struct mk_dfa *r = t_lits("\\x00\\x00\nbb\n");
	uint32_t a[8], i;
	static const uint32_t cases[][4] = { /* len, from, state, cap */
		{ 0, 0, 2, 5 },	      { 0, 0, 999, 5 },	  { 1, 0, 0, 5 },
		{ 5000, 0, 0, 5 },    { 9000, 0, 0, 5 },  { 5000, 4999, 0, 5 },
		{ 5000, 5000, 3, 5 }, { 5000, 7000, 1, 5 }, { 5000, 0, 999, 5 },
		{ 5000, 100, 2, 0xFFFFFFFFu }, { 4097, 1, 1, 1 },
	};
	char what[64];

	t_open(MK_SCHED_SHARDED, 1, 5000);
	t_fill(0, t, 5000);
	t_set(4, d);
	t_set(5, e);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t_args(a, 0, cases[i][0], cases[i][1], 4, cases[i][2], 123, cases[i][3]);
		snprintf(what, sizeof(what), "case %u", i);
		t_one(0, a, what);
		a[3] = 5;
		snprintf(what, sizeof(what), "case %u, empty set", i);
		t_one(0, a, what);
	}
	t_set(4, r); /* replaced: the next scan uses the new tables */
	t_args(a, 0, 5000, 0, 4, 0, 0, 50);
	t_one(0, a, "replaced set");
	t_set(4, NULL);
	t_set(5, NULL);
	t_close();
	mk_dfa_destroy(d);
	mk_dfa_destroy(e);
	mk_dfa_destroy(r);
	free(t);
}
END_TEST

/* No-ops that still complete: outs untouched, DONE_COUNT counts them. */
START_TEST(test_scan_cuda_bad_indices_are_noops)
{
	struct mk_dfa *d = t_lits("q\n");
	static const uint32_t bad[][2] = { /* buffer, set */
		{ MK_SCAN_MAX_BUFS, 0 }, { 0, MK_SCAN_MAX_SETS }, { 0, 7 },
		{ 9, 0 }, { 0xFFFFFFFFu, 0xFFFFFFFFu },
	};
	uint32_t a[8], i, k;
	int s;

	t_open(MK_SCHED_SHARDED, 1, 4096);
	t_set(0, d);
	t_fill(0, (const uint8_t *)"qqqq", 4);
	for (s = 0; s < NB; s++)
		memset(&sd[s].env->outs[0], 0xAB, sizeof(sd[s].env->outs[0]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t_args(a, bad[i][0], 4, 0, bad[i][1], 0, 0, 10);
		t_publish(2, MK_OP_SCAN_CHUNK, a, 8);
		t_wait(2);
	}
	for (s = 0; s < NB; s++) /* no tables at all: a no-op too */
		ck_assert_int_eq(mk_runtime_set_scan(sd[s].rt, NULL, NULL), 0);
	t_args(a, 0, 4, 0, 0, 0, 0, 10);
	t_publish(2, MK_OP_SCAN_CHUNK, a, 8);
	t_wait(2);
	for (s = 0; s < NB; s++) {
		const uint8_t *o = (const uint8_t *)&sd[s].env->outs[0];

		for (k = 0; k < sizeof(struct mk_scan_out); k++)
			ck_assert_uint_eq(o[k], 0xAB);
		ck_assert_uint_eq(t_ctl(sd[s].rt, MK_CTL_DONE_COUNT), 6);
		ck_assert_int_eq(mk_runtime_set_scan(sd[s].rt, sd[s].env, NULL), 0);
	}
	t_args(a, 0, 4, 0, 0, 0, 0, 10); /* and back */
	t_one(0, a, "after the tables came back");
	ck_assert_uint_eq(sd[1].env->outs[0].matches, 4);
	t_set(0, NULL);
	t_close();
	mk_dfa_destroy(d);
}
END_TEST

/* A buffer past MAX_TILES * TILE bytes: tiles grow, results do not. */
START_TEST(test_scan_cuda_big_buffer)
{
	size_t len = (40u << 20) + 333;
	uint8_t *t = t_text(len, "ab\xff", 3);
	struct mk_dfa *d = t_lits("ab\nbab\n\\xff\\xff\\xffa\n");
	uint32_t a[8], cap;
	char what[64];

	t_open(MK_SCHED_SHARDED, 1, len);
	t_set(0, d);
	t_fill(0, t, len);
	for (cap = 0; cap <= MK_SCAN_HITS_CAP; cap += MK_SCAN_HITS_CAP / 2) {
		t_args(a, 0, (uint32_t)len, 2, 0, 0, 0, cap);
		snprintf(what, sizeof(what), "40 MiB, cap %u", cap);
		t_one(0, a, what);
	}
	t_set(0, NULL);
	t_close();
	mk_dfa_destroy(d);
	free(t);
}
END_TEST

/* Stop with scan jobs in flight: the kernel finishes them before it
 * leaves (or they stay PUBLISHED, never half-done); restart completes all. */
START_TEST(test_scan_cuda_stop_with_jobs_in_flight)
{
	size_t len = 4u << 20;
	uint8_t *t = t_text(len, "ab", 2);
	struct mk_dfa *lit = t_lits("ab\nba\n"), *bin = t_binary_of(lit);
	struct mk_slot s;
	uint32_t a[8], b;
	char what[32];
	int round;

	t_open(MK_SCHED_SHARDED, 4, len);
	t_set(0, lit);
	t_set(1, bin);
	for (b = 0; b < 4; b++)
		t_fill(b, t, len);
	for (round = 0; round < 3; round++) {
		for (b = 0; b < 4; b++) {
			t_args(a, b, (uint32_t)len, 0, b == 3 ? 1 : 0, 0, 0, 100);
			t_publish(b, MK_OP_SCAN_CHUNK, a, 8);
		}
		ck_assert_int_eq(mk_runtime_stop(sd[1].rt), 0);
		for (b = 0; b < 4; b++) {
			ck_assert_int_eq(mk_runtime_read_slot(sd[1].rt, b, &s), 0);
			ck_assert(s.status == MK_SLOT_DONE || s.status == MK_SLOT_PUBLISHED);
		}
		ck_assert_int_eq(mk_runtime_start(sd[1].rt, NULL), 0);
		for (b = 0; b < 4; b++) {
			t_wait(b);
			snprintf(what, sizeof(what), "round %d buffer %u", round, b);
			t_compare(b, what);
		}
	}
	t_set(0, NULL);
	t_set(1, NULL);
	t_close();
	mk_dfa_destroy(bin);
	mk_dfa_destroy(lit);
	free(t);
}
END_TEST

/* DFA_STEP (and inside PACKED_SLOT) reads the device copies of the sets. */
START_TEST(test_scan_cuda_dfa_step_matches_cpu)
{
	struct mk_dfa *d = t_lits("ab\nbc\nabc\n\\x00\\xff\n"), *bin = t_binary_of(d);
	struct mk_packed_op ops[2];
	uint32_t a[4], k, obs, states = mk_dfa_states(d);
	int i;

	t_open(MK_SCHED_SHARDED, 1, 4096);
	t_set(0, d);
	t_set(2, bin);
	for (k = 0; k < 300; k++) {
		obs = k % 16;
		a[0] = t_rand() % (states + 3); /* past the table: reads 0 */
		a[1] = t_rand();                /* only the low byte counts */
		a[2] = obs;
		a[3] = k % 5 == 4 ? 63 : t_rand() % 3; /* 1 and 63: no set */
		t_publish(k % 8, MK_OP_DFA_STEP, a, 4);
		t_wait(k % 8);
		ck_assert_uint_eq(t_ctl(sd[0].rt, MK_CTL_OBSERVABLE_BASE + obs),
				  t_ctl(sd[1].rt, MK_CTL_OBSERVABLE_BASE + obs));
	}
	memset(ops, 0, sizeof(ops));
	ops[0].opcode = MK_OP_DFA_STEP;
	ops[0].nargs = 3;
	ops[0].args[0] = 0;
	ops[0].args[1] = 'a';
	ops[0].args[2] = 20;
	ops[1] = ops[0];
	ops[1].args[0] = mk_dfa_view(d).next['a'];
	ops[1].args[1] = 'b';
	ops[1].args[2] = 21;
	for (i = 0; i < NB; i++) {
		ck_assert_int_eq(mk_runtime_publish_packed(sd[i].rt, 9, 0, ops, 2, NULL), 0);
		ck_assert_int_eq(mk_runtime_wait(sd[i].rt, 9, T_WAIT_NS), 0);
	}
	for (k = 20; k < 22; k++)
		ck_assert_uint_eq(t_ctl(sd[0].rt, MK_CTL_OBSERVABLE_BASE + k),
				  t_ctl(sd[1].rt, MK_CTL_OBSERVABLE_BASE + k));
	ck_assert_uint_ne(t_ctl(sd[1].rt, MK_CTL_OBSERVABLE_BASE + 21), 0);
	ck_assert_uint_eq(t_ctl(sd[0].rt, MK_CTL_METRICS_BASE + MK_OP_DFA_STEP),
			  t_ctl(sd[1].rt, MK_CTL_METRICS_BASE + MK_OP_DFA_STEP));
	t_set(0, NULL);
	t_set(2, NULL);
	t_close();
	mk_dfa_destroy(bin);
	mk_dfa_destroy(d);
}
END_TEST

/* ---- whole files through mk_stream ---------------------------------------- */

struct t_stream_out {
	struct mk_stream_progress pr;
	struct mk_scan_hit hits[1000];
	size_t n;
	uint64_t dropped;
};

static void t_stream(struct mk_runtime *rt, const char *path,
		     const struct mk_dfa *d, uint32_t chunk,
		     struct t_stream_out *out)
{
	struct mk_stream_params p = { 0 };
	struct mk_scan_pool *pool = NULL;
	struct mk_stream *s = NULL;
	struct mk_err err;
	uint64_t fsize;

	ck_assert_msg(mk_scan_pool_create(rt, &pool, &err) == 0, "%s", err.msg);
	p.set = mk_scan_pool_add_set(pool, d, &err);
	ck_assert_msg(p.set >= 0, "%s", err.msg);
	p.fd = mk_uring_open_source(path, &fsize, &err);
	ck_assert_int_ge(p.fd, 0);
	p.size = fsize;
	p.chunk_bytes = chunk;
	p.max_hits = 1000;
	ck_assert_msg(mk_stream_start(pool, &p, &s, &err) == 0, "%s", err.msg);
	do {
		mk_runtime_wait_progress(rt, mk_runtime_progress(rt), 1000000);
		mk_stream_progress(s, &out->pr);
	} while (out->pr.state == MK_STREAM_RUNNING);
	out->n = mk_stream_hits(s, out->hits, 1000, &out->dropped);
	mk_stream_destroy(s);
	ck_assert_int_eq(mk_scan_pool_remove_set(pool, p.set, &err), 0);
	mk_scan_pool_destroy(pool);
}

START_TEST(test_scan_cuda_stream_matches_cpu)
{
	static struct t_stream_out o[NB];
	size_t len = (3u << 20) + 4097;
	uint8_t *t = t_text(len, "\x00\x01\x02\x03", 4);
	struct mk_dfa *lit = t_random_set(1000, 4), *bin = t_binary_of(lit);
	struct mk_dfa *sets[2] = { lit, bin };
	char path[] = "/tmp/mk-scan-cuda.XXXXXX";
	int fd = mkstemp(path), i, k;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, t, len), (ssize_t)len);
	close(fd);
	for (i = 0; i < NB; i++)
		sd[i].rt = t_rt_start(names[i], 64, MK_SCHED_SHARDED, 0);
	for (k = 0; k < 2; k++) {
		for (i = 0; i < NB; i++)
			t_stream(sd[i].rt, path, sets[k], k ? 1u << 20 : 65536, &o[i]);
		for (i = 0; i < NB; i++)
			ck_assert_str_eq(mk_stream_state_name(o[i].pr.state), "done");
		ck_assert_uint_eq(o[0].pr.matches, o[1].pr.matches);
		ck_assert_uint_eq(o[1].pr.bytes, len);
		ck_assert_uint_eq(o[0].n, o[1].n);
		ck_assert_uint_eq(o[0].dropped, o[1].dropped);
		ck_assert_mem_eq(o[0].hits, o[1].hits, o[0].n * sizeof(o[0].hits[0]));
	}
	for (i = 0; i < NB; i++)
		mk_runtime_destroy(sd[i].rt);
	unlink(path);
	mk_dfa_destroy(bin);
	mk_dfa_destroy(lit);
	free(t);
}
END_TEST

/*
 * The sanitizer case (tag gpu-san; gpu-check's scan-memcheck and
 * scan-racecheck run only it): everything allocated before the kernels
 * start, then chunks of a literal set with caps, and DFA_STEP.
 */
START_TEST(test_scan_cuda_sets_before_start)
{
	static const uint32_t caps[] = { 0, 7, MK_SCAN_HITS_CAP };
	size_t len = 2 * 16384 + 999;
	uint8_t *t = t_text(len, "abneedl\x00\xff", 9);
	struct mk_dfa *d = t_lits("needle\nneed\ndle\naaaa\n\\x00\\xff\\x00\na\n");
	uint32_t a[4], k;

	memcpy(t + 16384 - 3, "needle", 6);
	t_open_sets(_i ? MK_SCHED_PRIORITY : MK_SCHED_SHARDED, 4, 20000, d, 1);
	for (k = 0; k < sizeof(caps) / sizeof(caps[0]); k++)
		t_chunks(d, 0, t, len, 7000, caps[k]);
	for (k = 0; k < 40; k++) {
		a[0] = t_rand() % (mk_dfa_states(d) + 2);
		a[1] = t_rand();
		a[2] = k % 8;
		a[3] = 0;
		t_publish(k % 4, MK_OP_DFA_STEP, a, 4);
		t_wait(k % 4);
		ck_assert_uint_eq(t_ctl(sd[0].rt, MK_CTL_OBSERVABLE_BASE + k % 8),
				  t_ctl(sd[1].rt, MK_CTL_OBSERVABLE_BASE + k % 8));
	}
	t_set(0, NULL);
	t_close();
	mk_dfa_destroy(d);
	free(t);
}
END_TEST

static Suite *scan_cuda_suite(void)
{
	Suite *s = suite_create("scan_cuda");
	TCase *tc = tcase_create("gpu");
	TCase *san = tcase_create("gpu-san");

	tcase_set_tags(san, "gpu gpu-san");
	tcase_set_timeout(san, 300);
	tcase_add_loop_test(san, test_scan_cuda_sets_before_start, 0, 2);
	suite_add_tcase(s, san);

	tcase_set_tags(tc, "gpu");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_scan_cuda_chunks_match_cpu, 0, 2);
	tcase_add_test(tc, test_scan_cuda_hit_cap_cuts_a_same_end_group);
	tcase_add_test(tc, test_scan_cuda_1000_and_1_patterns);
	tcase_add_test(tc, test_scan_cuda_carry_state_binary_and_literal);
	tcase_add_test(tc, test_scan_cuda_edge_arguments);
	tcase_add_test(tc, test_scan_cuda_bad_indices_are_noops);
	tcase_add_test(tc, test_scan_cuda_big_buffer);
	tcase_add_test(tc, test_scan_cuda_stop_with_jobs_in_flight);
	tcase_add_test(tc, test_scan_cuda_dfa_step_matches_cpu);
	tcase_add_test(tc, test_scan_cuda_stream_matches_cpu);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (!t_cuda_present()) {
		printf("check_scan_cuda: no usable CUDA device, skipped\n");
		return 77;
	}
	unsetenv("MEGAFS_CUDA_SCAN"); /* the default: the GPU scan is on */
	return t_run_suite(scan_cuda_suite());
}
