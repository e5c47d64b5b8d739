/* SPDX-License-Identifier: MIT */
/*
 * tests/check_dfa.c - runtime/dfa.[ch] against a brute-force oracle that
 * memcmp()s every pattern at every position: literals parsing and limits,
 * overlapping / prefix / suffix patterns, bytes 0x00 and 0xFF, hits, the
 * binary DFA format, and exact counts when a text is cut into chunks
 * (overlap form and carry-state form, and the interleaved-lane scan).
 * Run: ./build/release/tests/check_dfa
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime/dfa.h"
#include "tests/mk_check.h"

/* ---- helpers ------------------------------------------------------------- */

struct t_pats {
	uint32_t n;
	uint8_t **p;
	uint32_t *len;
};

static uint64_t t_rng = 0x9e3779b97f4a7c15ull;

static uint64_t t_rand(void)
{
	t_rng ^= t_rng << 13;
	t_rng ^= t_rng >> 7;
	t_rng ^= t_rng << 17;
	return t_rng;
}

static size_t t_below(size_t n)
{
	return n ? (size_t)(t_rand() % n) : 0;
}

/* Bytes drawn from a small alphabet so matches are frequent. */
static const uint8_t t_alpha[] = { 0x00, 0xFF, 'a', 'b', '\n', '\\' };

static uint8_t t_byte(size_t alpha)
{
	return alpha ? t_alpha[t_below(alpha)] : (uint8_t)t_rand();
}

static struct t_pats *t_pats_new(uint32_t n)
{
	struct t_pats *ps = calloc(1, sizeof(*ps));

	ck_assert_ptr_nonnull(ps);
	ps->p = calloc(n ? n : 1, sizeof(*ps->p));
	ps->len = calloc(n ? n : 1, sizeof(*ps->len));
	ck_assert(ps->p && ps->len);
	return ps;
}

static void t_pats_set(struct t_pats *ps, uint32_t i, const void *b,
		       uint32_t len)
{
	ps->p[i] = malloc(len);
	ck_assert_ptr_nonnull(ps->p[i]);
	memcpy(ps->p[i], b, len);
	ps->len[i] = len;
	if (i >= ps->n)
		ps->n = i + 1;
}

/* @n patterns of length minl..maxl over the first @alpha alphabet bytes
 * (0: all 256 byte values). */
static struct t_pats *t_pats_random(uint32_t n, uint32_t minl, uint32_t maxl,
				    size_t alpha)
{
	struct t_pats *ps = t_pats_new(n);
	uint8_t b[MK_DFA_MAX_PATLEN];
	uint32_t i, k, l;

	for (i = 0; i < n; i++) {
		l = minl + (uint32_t)t_below(maxl - minl + 1);
		for (k = 0; k < l; k++)
			b[k] = t_byte(alpha);
		t_pats_set(ps, i, b, l);
	}
	return ps;
}

static void t_pats_free(struct t_pats *ps)
{
	uint32_t i;

	for (i = 0; i < ps->n; i++)
		free(ps->p[i]);
	free(ps->p);
	free(ps->len);
	free(ps);
}

/* Literals text for @ps: LF, CR and backslash escaped, other bytes escaped
 * at random (so raw 0x00/0xFF and \xHH both get parsed). */
static char *t_literals(const struct t_pats *ps, size_t *len)
{
	size_t cap = 16, n = 0;
	char *t;
	uint32_t i, k;

	for (i = 0; i < ps->n; i++)
		cap += (size_t)ps->len[i] * 4 + 1;
	t = malloc(cap);
	ck_assert_ptr_nonnull(t);
	for (i = 0; i < ps->n; i++) {
		for (k = 0; k < ps->len[i]; k++) {
			uint8_t c = ps->p[i][k];

			if (c == '\n' || c == '\r' || c == '\\' ||
			    t_below(3) == 0)
				n += (size_t)sprintf(t + n, "\\x%02X", c);
			else
				t[n++] = (char)c;
		}
		t[n++] = '\n';
	}
	*len = n;
	return t;
}

static struct mk_dfa *t_compile(const struct t_pats *ps)
{
	struct mk_err err;
	struct mk_dfa *d = NULL;
	size_t len;
	char *t = t_literals(ps, &len);
	int rc = mk_dfa_compile_literals(t, len, &d, &err);

	ck_assert_msg(rc == 0, "compile: %d %s", rc, mk_err_msg(&err));
	free(t);
	return d;
}

static struct mk_dfa *t_compile_str(const char *s)
{
	struct mk_err err;
	struct mk_dfa *d = NULL;
	int rc = mk_dfa_compile_literals(s, strlen(s), &d, &err);

	ck_assert_msg(rc == 0, "compile: %d %s", rc, mk_err_msg(&err));
	return d;
}

/* Oracle: matches ending (last byte) at positions >= @from. */
static uint64_t t_oracle(const struct t_pats *ps, const uint8_t *t,
			 size_t len, size_t from)
{
	uint64_t n = 0;
	uint32_t i;
	size_t e;

	for (e = from; e < len; e++)
		for (i = 0; i < ps->n; i++)
			if (ps->len[i] <= e + 1 &&
			    t[e] == ps->p[i][ps->len[i] - 1] &&
			    !memcmp(t + e + 1 - ps->len[i], ps->p[i],
				    ps->len[i]))
				n++;
	return n;
}

/* Random text over @alpha with patterns of @ps planted now and then. */
static uint8_t *t_text(const struct t_pats *ps, size_t len, size_t alpha)
{
	uint8_t *t = malloc(len ? len : 1);
	size_t i;

	ck_assert_ptr_nonnull(t);
	for (i = 0; i < len; i++)
		t[i] = t_byte(alpha);
	for (i = 0; ps && ps->n && i < len / 16; i++) {
		uint32_t k = (uint32_t)t_below(ps->n);
		size_t at = t_below(len);

		if (at + ps->len[k] <= len)
			memcpy(t + at, ps->p[k], ps->len[k]);
	}
	return t;
}

static uint64_t t_count(const struct mk_dfa *d, const uint8_t *t, size_t len)
{
	uint32_t st = 0;

	return mk_dfa_scan_count(d, t, len, 0, &st);
}

/* The state after @t from @st, by a hand-written loop over the view. */
static uint32_t t_walk(const struct mk_dfa *d, uint32_t st, const uint8_t *t,
		       size_t len)
{
	struct mk_dfa_view v = mk_dfa_view(d);
	size_t i;

	for (i = 0; i < len; i++)
		st = mk_dfa_step(v.next, st, t[i]);
	return st;
}

static void t_expect_compile_error(const char *text, size_t len, int code,
				   const char *needle)
{
	struct mk_err err;
	struct mk_dfa *d = NULL;
	int rc;

	mk_err_clear(&err);
	rc = mk_dfa_compile_literals(text, len, &d, &err);
	ck_assert_int_eq(rc, code);
	ck_assert_int_eq(err.code, code);
	ck_assert_ptr_null(d);
	t_assert_fix(mk_err_msg(&err));
	if (needle)
		ck_assert_msg(strstr(mk_err_msg(&err), needle),
			      "'%s' lacks '%s'", mk_err_msg(&err), needle);
}

/* ---- parsing ------------------------------------------------------------- */

START_TEST(test_dfa_parse_decodes_escapes)
{
	static const char text[] = "a\\x41\\xfe\\n\\t\\r\\0\\\\b\n\xff\x01z";
	static const uint8_t want0[] = { 'a', 0x41, 0xFE, '\n', '\t',
					 '\r', 0, '\\', 'b' };
	static const uint8_t want1[] = { 0xFF, 0x01, 'z' };
	struct mk_dfa *d = t_compile_str(text);
	const uint8_t *p;
	uint32_t len = 0;

	ck_assert_uint_eq(mk_dfa_patterns(d), 2);
	p = mk_dfa_pattern(d, 0, &len);
	ck_assert_uint_eq(len, sizeof(want0));
	ck_assert_mem_eq(p, want0, sizeof(want0));
	p = mk_dfa_pattern(d, 1, &len);
	ck_assert_uint_eq(len, sizeof(want1));
	ck_assert_mem_eq(p, want1, sizeof(want1));
	ck_assert_ptr_null(mk_dfa_pattern(d, 2, &len));
	ck_assert_uint_eq(mk_dfa_max_len(d), sizeof(want0));
	ck_assert_uint_eq(mk_dfa_overlap(d), sizeof(want0) - 1);
	mk_dfa_destroy(d);
}
END_TEST

START_TEST(test_dfa_parse_accepts_raw_nul_bytes)
{
	static const char text[] = { 'x', 0, 'y', '\n', 0 };
	struct mk_dfa *d = NULL;
	const uint8_t *p;
	uint32_t len = 0;

	ck_assert_int_eq(mk_dfa_compile_literals(text, sizeof(text), &d, NULL),
			 0);
	ck_assert_uint_eq(mk_dfa_patterns(d), 2);
	p = mk_dfa_pattern(d, 0, &len);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(p, "x\0y", 3);
	p = mk_dfa_pattern(d, 1, &len);
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(p[0], 0);
	mk_dfa_destroy(d);
}
END_TEST

START_TEST(test_dfa_parse_skips_empty_lines_and_crlf)
{
	struct mk_dfa *d = t_compile_str("\n\nab\r\n\r\n\ncd\\r\r\n \n");
	const uint8_t *p;
	uint32_t len = 0;

	ck_assert_uint_eq(mk_dfa_patterns(d), 3);
	p = mk_dfa_pattern(d, 0, &len);
	ck_assert_uint_eq(len, 2);
	ck_assert_mem_eq(p, "ab", 2);
	p = mk_dfa_pattern(d, 1, &len);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(p, "cd\r", 3);
	p = mk_dfa_pattern(d, 2, &len);
	ck_assert_uint_eq(len, 1);
	ck_assert_mem_eq(p, " ", 1);
	mk_dfa_destroy(d);
}
END_TEST

START_TEST(test_dfa_parse_rejects_bad_escapes)
{
	static const char *bad[] = {
		"a\n\nx\\q\n", "a\n\nx\\x4\n", "a\n\nx\\xZZ\n",
		"a\n\nx\\\n",  "a\n\nx\\",     "a\n\n\\x4g\n",
		"a\n\n\\N\n",  "a\r\n\n\\ \n",
	};
	size_t i;

	/* Empty line 2 still counts: every error is on line 3. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		t_expect_compile_error(bad[i], strlen(bad[i]), -EINVAL,
				       "line 3");
}
END_TEST

START_TEST(test_dfa_parse_enforces_pattern_length)
{
	size_t n = MK_DFA_MAX_PATLEN + 1;
	char *t = malloc(n + 8);
	struct mk_dfa *d = NULL;

	ck_assert_ptr_nonnull(t);
	memset(t, 'q', n);
	t[0] = '\n';
	/* line 1 empty, line 2: 1024 bytes: accepted */
	ck_assert_int_eq(mk_dfa_compile_literals(t, n, &d, NULL), 0);
	ck_assert_uint_eq(mk_dfa_max_len(d), MK_DFA_MAX_PATLEN);
	mk_dfa_destroy(d);
	/* 1024 bytes written as 1023 raw + one escape: still fine */
	memcpy(t + n - 1, "\\x41", 4);
	ck_assert_int_eq(mk_dfa_compile_literals(t, n + 3, &d, NULL), 0);
	mk_dfa_destroy(d);
	memset(t + 1, 'q', n);
	t_expect_compile_error(t, n + 1, -E2BIG, "line 2");
	free(t);
}
END_TEST

START_TEST(test_dfa_parse_enforces_pattern_count)
{
	size_t cap = (MK_DFA_MAX_PATTERNS + 1) * 8, n = 0;
	char *t = malloc(cap);
	struct mk_dfa *d = NULL;
	uint32_t i;

	ck_assert_ptr_nonnull(t);
	for (i = 0; i < MK_DFA_MAX_PATTERNS; i++)
		n += (size_t)sprintf(t + n, "%u\n", i);
	ck_assert_int_eq(mk_dfa_compile_literals(t, n, &d, NULL), 0);
	ck_assert_uint_eq(mk_dfa_patterns(d), MK_DFA_MAX_PATTERNS);
	mk_dfa_destroy(d);
	n += (size_t)sprintf(t + n, "\n\nlast");
	t_expect_compile_error(t, n, -E2BIG, "line 10003");
	free(t);
	/* 10,001 patterns of the maximum length: the count limit stops the
	 * parse before the decoded bytes could outgrow their buffer. */
	n = (size_t)(MK_DFA_MAX_PATTERNS + 1) * (MK_DFA_MAX_PATLEN + 1);
	t = malloc(n);
	ck_assert_ptr_nonnull(t);
	memset(t, 'z', n);
	for (i = 1; i <= MK_DFA_MAX_PATTERNS + 1; i++)
		t[(size_t)i * (MK_DFA_MAX_PATLEN + 1) - 1] = '\n';
	t_expect_compile_error(t, n, -E2BIG, "line 10001");
	free(t);
}
END_TEST

START_TEST(test_dfa_compile_enforces_state_limit)
{
	/* 1100 distinct 1000-byte patterns: > 1<<20 trie nodes. */
	struct t_pats *ps = t_pats_random(1100, 1000, 1000, 0);
	size_t len;
	char *t = t_literals(ps, &len);

	t_expect_compile_error(t, len, -E2BIG, "states");
	free(t);
	t_pats_free(ps);
}
END_TEST

/* ---- counting against the oracle ----------------------------------------- */

START_TEST(test_dfa_empty_set_matches_nothing)
{
	struct mk_dfa *d = t_compile_str("\n\r\n\n");
	uint8_t t[300];
	char info[128];
	uint32_t st = 0;
	size_t i;

	for (i = 0; i < sizeof(t); i++)
		t[i] = (uint8_t)i;
	ck_assert_uint_eq(mk_dfa_states(d), 1);
	ck_assert_uint_eq(mk_dfa_patterns(d), 0);
	ck_assert_uint_eq(mk_dfa_overlap(d), 0);
	ck_assert_uint_eq(mk_dfa_scan_count(d, t, sizeof(t), 0, &st), 0);
	ck_assert_uint_eq(st, 0);
	mk_dfa_info(d, info, sizeof(info));
	ck_assert_str_eq(info,
			 "states=1 patterns=0 table_bytes=1028 max_len=0\n");
	mk_dfa_destroy(d);
	ck_assert_int_eq(mk_dfa_compile_literals("", 0, &d, NULL), 0);
	ck_assert_uint_eq(mk_dfa_states(d), 1);
	mk_dfa_destroy(d);
}
END_TEST

static void t_collect(void *ctx, uint32_t pattern, size_t end)
{
	uint64_t *v = ctx;

	v[1 + v[0]++] = (uint64_t)pattern << 32 | end;
}

START_TEST(test_dfa_counts_overlapping_matches)
{
	struct mk_dfa *d = t_compile_str("aaaa\n");
	uint64_t hits[16] = { 0 };
	uint32_t st = 0;

	ck_assert_uint_eq(t_count(d, (const uint8_t *)"aaaaaaa", 7), 4);
	ck_assert_uint_eq(mk_dfa_scan_hits(d, (const uint8_t *)"aaaaaaa", 7, 0,
					   &st, t_collect, hits),
			  4);
	ck_assert_uint_eq(hits[0], 4);
	ck_assert_uint_eq(hits[1], 4); /* pattern 0, end one past byte 3 */
	ck_assert_uint_eq(hits[4], 7);
	mk_dfa_destroy(d);
}
END_TEST

START_TEST(test_dfa_counts_prefix_and_suffix_patterns)
{
	static const char *set[] = { "a", "ab", "abc", "bc", "c", "b",
				     "abcab", "cab", "abc" };
	struct t_pats *ps = t_pats_new(9);
	struct mk_dfa *d;
	uint32_t i;
	int round;

	for (i = 0; i < 9; i++)
		t_pats_set(ps, i, set[i], (uint32_t)strlen(set[i]));
	d = t_compile(ps);
	ck_assert_uint_eq(t_count(d, (const uint8_t *)"abcabc", 6),
			  t_oracle(ps, (const uint8_t *)"abcabc", 6, 0));
	for (round = 0; round < 200; round++) {
		size_t len = t_below(400);
		uint8_t *t = t_text(ps, len, 0);

		for (i = 0; i < len; i++)
			t[i] = "abc\xff"[t_below(4)];
		ck_assert_uint_eq(t_count(d, t, len), t_oracle(ps, t, len, 0));
		free(t);
	}
	mk_dfa_destroy(d);
	t_pats_free(ps);
}
END_TEST

static void t_random_rounds(uint32_t npat, int rounds, size_t maxlen)
{
	int r;

	for (r = 0; r < rounds; r++) {
		size_t alpha = 2 + t_below(5); /* 0x00 and 0xFF always in */
		struct t_pats *ps = t_pats_random(npat, 1, 8, alpha);
		struct mk_dfa *d = t_compile(ps);
		size_t len = t_below(maxlen);
		uint8_t *t = t_text(ps, len, alpha);
		size_t from = t_below(len + 2);
		uint32_t st = 0;

		ck_assert_uint_eq(t_count(d, t, len), t_oracle(ps, t, len, 0));
		ck_assert_uint_eq(mk_dfa_scan_count(d, t, len, from, &st),
				  t_oracle(ps, t, len, from));
		ck_assert_uint_eq(st, t_walk(d, 0, t, len));
		free(t);
		mk_dfa_destroy(d);
		t_pats_free(ps);
	}
}

START_TEST(test_dfa_matches_oracle_one_pattern)
{
	t_random_rounds(1, 300, 2000);
}
END_TEST

START_TEST(test_dfa_matches_oracle_1000_patterns)
{
	t_random_rounds(1000, 6, 20000);
}
END_TEST

START_TEST(test_dfa_matches_oracle_full_byte_range)
{
	struct t_pats *ps = t_pats_random(300, 1, 12, 0);
	struct mk_dfa *d = t_compile(ps);
	uint8_t *t = t_text(ps, 50000, 0);

	ck_assert_uint_eq(t_count(d, t, 50000), t_oracle(ps, t, 50000, 0));
	free(t);
	mk_dfa_destroy(d);
	t_pats_free(ps);
}
END_TEST

START_TEST(test_dfa_scans_empty_and_one_byte_text)
{
	struct mk_dfa *d = t_compile_str("\\xff\n\\x00\n\\x00\\x00\n");
	static const uint8_t ff = 0xFF, zero = 0;
	uint32_t st = 0;

	ck_assert_uint_eq(mk_dfa_scan_count(d, NULL, 0, 0, &st), 0);
	ck_assert_uint_eq(st, 0);
	ck_assert_uint_eq(t_count(d, &ff, 1), 1);
	ck_assert_uint_eq(t_count(d, &zero, 1), 1);
	st = 0;
	ck_assert_uint_eq(mk_dfa_scan_count(d, &zero, 1, 1, &st), 0);
	/* carried state: the second 0x00 completes "\0\0" as well */
	ck_assert_uint_eq(mk_dfa_scan_count(d, &zero, 1, 0, &st), 2);
	mk_dfa_destroy(d);
}
END_TEST

static int t_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

START_TEST(test_dfa_hits_match_oracle)
{
	struct t_pats *ps = t_pats_random(40, 1, 5, 3);
	struct mk_dfa *d = t_compile(ps);
	size_t len = 3000, e, n = 0;
	uint8_t *t = t_text(ps, len, 3);
	uint64_t *got = calloc(len * 40 + 1, sizeof(uint64_t));
	uint64_t *want = calloc(len * 40, sizeof(uint64_t));
	uint32_t st = 0, i;

	ck_assert(got && want);
	for (e = 10; e < len; e++)
		for (i = 0; i < ps->n; i++)
			if (ps->len[i] <= e + 1 &&
			    !memcmp(t + e + 1 - ps->len[i], ps->p[i],
				    ps->len[i]))
				want[n++] = (uint64_t)i << 32 | (e + 1);
	ck_assert_uint_eq(mk_dfa_scan_hits(d, t, len, 10, &st, t_collect, got),
			  n);
	ck_assert_uint_eq(got[0], n);
	qsort(got + 1, n, sizeof(uint64_t), t_cmp_u64);
	qsort(want, n, sizeof(uint64_t), t_cmp_u64);
	ck_assert_mem_eq(got + 1, want, n * sizeof(uint64_t));
	ck_assert_uint_eq(st, t_walk(d, 0, t, len));
	st = 0;
	ck_assert_uint_eq(mk_dfa_scan_hits(d, t, len, 10, &st, NULL, NULL), n);
	free(got);
	free(want);
	free(t);
	mk_dfa_destroy(d);
	t_pats_free(ps);
}
END_TEST

/* ---- binary DFA ---------------------------------------------------------- */

static struct mk_dfa *t_round_trip(const struct mk_dfa *d)
{
	size_t n = mk_dfa_table_bytes(d);
	uint8_t *bin = malloc(n);
	struct mk_dfa *b = NULL;
	struct mk_err err;

	ck_assert_ptr_nonnull(bin);
	ck_assert_int_eq(mk_dfa_export(d, bin, n - 1), -ENOSPC);
	ck_assert_int_eq(mk_dfa_export(d, bin, n), 0);
	ck_assert_int_eq(mk_dfa_load_binary(bin, n, &b, &err), 0);
	free(bin);
	return b;
}

START_TEST(test_dfa_binary_round_trip_keeps_counts)
{
	struct t_pats *ps = t_pats_random(1000, 1, 8, 4);
	struct mk_dfa *d = t_compile(ps), *b = t_round_trip(d);
	uint8_t *t = t_text(ps, 30000, 4);
	uint64_t want = t_oracle(ps, t, 30000, 0), k;
	uint64_t *hits = calloc(want + 1, sizeof(uint64_t));
	uint32_t st = 0;
	char info[128], expect[128];

	ck_assert_ptr_nonnull(hits);
	ck_assert_int_eq(mk_dfa_is_binary(b), 1);
	ck_assert_uint_eq(mk_dfa_states(b), mk_dfa_states(d));
	ck_assert_uint_eq(mk_dfa_patterns(b), 1);
	ck_assert_uint_eq(mk_dfa_max_len(b), 0);
	ck_assert(mk_dfa_overlap(b) == MK_DFA_OVERLAP_UNBOUNDED);
	ck_assert_uint_eq(t_count(b, t, 30000), want);
	ck_assert_uint_eq(t_count(d, t, 30000), want);
	ck_assert_uint_eq(mk_dfa_scan_hits(b, t, 30000, 0, &st, t_collect,
					   hits),
			  want);
	ck_assert_uint_eq(hits[0], want);
	for (k = 1; k <= want; k++)
		ck_assert_uint_eq(hits[k] >> 32, 0); /* pattern index 0 */
	ck_assert_ptr_null(mk_dfa_pattern(b, 0, &st));
	mk_dfa_info(b, info, sizeof(info));
	snprintf(expect, sizeof(expect),
		 "states=%u patterns=1 table_bytes=%zu max_len=unknown\n",
		 mk_dfa_states(d), mk_dfa_table_bytes(d));
	ck_assert_str_eq(info, expect);
	free(hits);
	free(t);
	mk_dfa_destroy(b);
	mk_dfa_destroy(d);
	t_pats_free(ps);
}
END_TEST

static void t_expect_load_error(const void *bin, size_t len, int code,
				const char *needle)
{
	struct mk_err err;
	struct mk_dfa *d = NULL;

	mk_err_clear(&err);
	ck_assert_int_eq(mk_dfa_load_binary(bin, len, &d, &err), code);
	ck_assert_ptr_null(d);
	t_assert_fix(mk_err_msg(&err));
	ck_assert_msg(strstr(mk_err_msg(&err), needle), "'%s' lacks '%s'",
		      mk_err_msg(&err), needle);
}

START_TEST(test_dfa_binary_rejects_bad_tables)
{
	size_t n = 3 * MK_DFA_STATE_BYTES, huge;
	uint8_t *bin = calloc(1, n + 1);
	struct mk_dfa *d = NULL;
	void *map;

	ck_assert_ptr_nonnull(bin);
	t_expect_load_error(bin, 0, -EINVAL, "empty");
	t_expect_load_error(bin, n + 1, -EINVAL, "not a multiple");
	t_expect_load_error(bin, 1027, -EINVAL, "not a multiple");
	ck_assert_int_eq(mk_dfa_load_binary(bin, n, &d, NULL), 0);
	ck_assert_uint_eq(mk_dfa_states(d), 3);
	mk_dfa_destroy(d);
	/* next[2*256+7] = 3 with 3 states */
	bin[(2 * 256 + 7) * 4] = 3;
	t_expect_load_error(bin, n, -EINVAL, "next[2*256+7] = 3");
	bin[(2 * 256 + 7) * 4] = 2;
	bin[(2 * 256 + 7) * 4 + 3] = 0x80; /* little-endian high byte */
	t_expect_load_error(bin, n, -EINVAL, "states");
	free(bin);
	/* Too many states: rejected before a byte is read, so an untouched
	 * NORESERVE mapping is enough. */
	huge = ((size_t)MK_DFA_MAX_STATES + 1) * MK_DFA_STATE_BYTES;
	map = mmap(NULL, huge, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
		   MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
	t_expect_load_error(map, huge, -E2BIG, "states");
	munmap(map, huge);
}
END_TEST

START_TEST(test_dfa_binary_self_loop_counts_every_byte)
{
	/* A hand-made 2-state DFA: state 1 after 0xFF, accept[1] = 2. */
	size_t n = 2 * MK_DFA_STATE_BYTES;
	uint8_t *bin = calloc(1, n);
	static const uint8_t t[] = { 0xFF, 0, 0xFF, 0xFF };
	struct mk_dfa *d = NULL;

	ck_assert_ptr_nonnull(bin);
	bin[0xFF * 4] = 1;
	bin[(256 + 0xFF) * 4] = 1;
	bin[(2 * 256 + 1) * 4] = 2;
	ck_assert_int_eq(mk_dfa_load_binary(bin, n, &d, NULL), 0);
	ck_assert_uint_eq(t_count(d, t, sizeof(t)), 6);
	mk_dfa_destroy(d);
	free(bin);
}
END_TEST

/* ---- chunked scans ------------------------------------------------------- */

static int t_cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

/* Sorted random cut points in (0, len), plus 0 and len; returns count. */
static size_t t_cuts(size_t len, size_t *cut, size_t max)
{
	size_t n = 1, i;

	cut[0] = 0;
	for (i = 0; i < max - 2 && len > 1; i++)
		cut[n++] = 1 + t_below(len - 1);
	cut[n++] = len;
	qsort(cut, n, sizeof(size_t), t_cmp_size);
	return n;
}

static uint64_t t_scan_overlap_form(const struct mk_dfa *d,
				    const uint8_t *t, const size_t *cut,
				    size_t ncut)
{
	size_t ov = mk_dfa_overlap(d), i;
	uint64_t n = 0;

	/* Reverse order: chunks are independent. */
	for (i = ncut - 1; i > 0; i--) {
		size_t a = cut[i - 1], b = cut[i];
		size_t s = a > ov ? a - ov : 0;
		uint32_t st = 0;

		n += mk_dfa_scan_count(d, t + s, b - s, a - s, &st);
	}
	return n;
}

static uint64_t t_scan_carry_form(const struct mk_dfa *d, const uint8_t *t,
				  const size_t *cut, size_t ncut,
				  uint32_t *final)
{
	uint64_t n = 0;
	uint32_t st = 0;
	size_t i;

	for (i = 1; i < ncut; i++)
		n += mk_dfa_scan_count(d, t + cut[i - 1], cut[i] - cut[i - 1],
				       0, &st);
	*final = st;
	return n;
}

START_TEST(test_dfa_split_scan_is_exact)
{
	static const uint32_t npat[] = { 1, 20, 1000 };
	size_t cut[64];
	int r;

	for (r = 0; r < 12; r++) {
		size_t alpha = 2 + t_below(5);
		struct t_pats *ps = t_pats_random(npat[r % 3], 1, 16, alpha);
		struct mk_dfa *d = t_compile(ps), *b = t_round_trip(d);
		size_t len = 1 + t_below(r < 6 ? 3000 : 300000);
		uint8_t *t = t_text(ps, len, alpha);
		uint64_t want = t_oracle(ps, t, len, 0);
		size_t ncut = t_cuts(len, cut, 2 + t_below(60));
		uint32_t fin = 0, fin_b = 0;

		ck_assert_uint_eq(t_scan_overlap_form(d, t, cut, ncut), want);
		ck_assert_uint_eq(t_scan_carry_form(d, t, cut, ncut, &fin),
				  want);
		ck_assert_uint_eq(fin, t_walk(d, 0, t, len));
		ck_assert_uint_eq(t_scan_carry_form(b, t, cut, ncut, &fin_b),
				  want);
		ck_assert_uint_eq(fin_b, fin);
		free(t);
		mk_dfa_destroy(b);
		mk_dfa_destroy(d);
		t_pats_free(ps);
	}
}
END_TEST

START_TEST(test_dfa_lane_scan_matches_oracle_and_state)
{
	struct t_pats *ps = t_pats_random(30, 1, 40, 3);
	struct mk_dfa *d = t_compile(ps);
	size_t len = 512 * 1024 + 77, from;
	uint8_t *t = t_text(ps, len, 3);
	uint32_t st, carried;
	int r;

	for (r = 0; r < 8; r++) {
		from = r ? t_below(len - 70000) : 0;
		st = 0;
		ck_assert_uint_eq(mk_dfa_scan_count(d, t, len, from, &st),
				  t_oracle(ps, t, len, from));
		ck_assert_uint_eq(st, t_walk(d, 0, t, len));
	}
	/* carried non-zero state into a lane scan */
	carried = t_walk(d, 0, t, 1000);
	st = carried;
	ck_assert_uint_eq(mk_dfa_scan_count(d, t + 1000, len - 1000, 0, &st),
			  t_oracle(ps, t, len, 1000));
	ck_assert_uint_eq(st, t_walk(d, 0, t, len));
	free(t);
	mk_dfa_destroy(d);
	t_pats_free(ps);
}
END_TEST

START_TEST(test_dfa_lane_boundaries_see_longest_pattern)
{
	/* Every position ends a match of the longest pattern, so a lane that
	 * started one byte too late would miss one at its boundary. */
	struct t_pats *ps = t_pats_new(3);
	size_t len = 200 * 1024 + 3, from;
	uint8_t *t = malloc(len), a40[40];
	struct mk_dfa *d;
	uint32_t st;

	ck_assert_ptr_nonnull(t);
	memset(t, 'a', len);
	memset(a40, 'a', sizeof(a40));
	t_pats_set(ps, 0, a40, 40);
	t_pats_set(ps, 1, a40, 7);
	t_pats_set(ps, 2, "b", 1);
	d = t_compile(ps);
	for (from = 0; from < 300; from += 37) {
		st = 0;
		ck_assert_uint_eq(mk_dfa_scan_count(d, t, len, from, &st),
				  t_oracle(ps, t, len, from));
		ck_assert_uint_eq(st, t_walk(d, 0, t, len));
	}
	mk_dfa_destroy(d);
	free(t);
	t_pats_free(ps);
}
END_TEST

/* ---- hit table (GPU hit enumeration) ------------------------------------ */

/* Row of the state after each prefix = the patterns ending there, ascending. */
static void t_check_out_rows(const struct t_pats *ps, const struct mk_dfa *d,
			     const uint32_t *off, const uint32_t *pat,
			     const uint8_t *t, size_t len)
{
	struct mk_dfa_view v = mk_dfa_view(d);
	uint32_t st = 0, i, k;
	size_t e;

	for (e = 0; e < len; e++) {
		st = mk_dfa_step(v.next, st, t[e]);
		k = off[st];
		for (i = 0; i < ps->n; i++) /* ascending i: the row's order */
			if (ps->len[i] <= e + 1 &&
			    !memcmp(t + e + 1 - ps->len[i], ps->p[i], ps->len[i]))
				ck_assert_uint_eq(pat[k++], i);
		ck_assert_uint_eq(k, off[st + 1]);
		ck_assert_uint_eq(off[st + 1] - off[st], v.accept[st]);
	}
}

START_TEST(test_dfa_out_table_lists_patterns_ascending)
{
	struct t_pats *ps = t_pats_random(303, 1, 6, 2);
	struct mk_dfa *d, *b;
	uint8_t *t = t_text(ps, 20000, 2);
	uint32_t *off = NULL, *pat = NULL, s;
	struct mk_err err;

	/* nested suffixes at high indices: rows need the sort */
	for (s = 300; s < 303; s++)
		free(ps->p[s]);
	t_pats_set(ps, 300, "\x00\x00\x00", 3);
	t_pats_set(ps, 301, "\x00", 1);
	t_pats_set(ps, 302, "\x00\x00", 2);
	d = t_compile(ps);
	ck_assert_int_eq(mk_dfa_out_table(d, SIZE_MAX, &off, &pat, &err), 0);
	t_check_out_rows(ps, d, off, pat, t, 20000);
	free(off);
	free(pat);
	mk_err_clear(&err);
	ck_assert_int_eq(mk_dfa_out_table(d, 1, &off, &pat, &err), -E2BIG);
	t_assert_fix(mk_err_msg(&err));
	b = t_round_trip(d); /* binary: pattern 0, accept[s] times */
	ck_assert_int_eq(mk_dfa_out_table(b, SIZE_MAX, &off, &pat, &err), 0);
	for (s = 0; s < mk_dfa_states(b); s++)
		ck_assert_uint_eq(off[s + 1] - off[s], mk_dfa_view(b).accept[s]);
	for (s = 0; s < off[mk_dfa_states(b)]; s++)
		ck_assert_uint_eq(pat[s], 0);
	free(off);
	free(pat);
	mk_dfa_destroy(b);
	mk_dfa_destroy(d);
	free(t);
	t_pats_free(ps);
}
END_TEST

Suite *dfa_suite(void);
Suite *dfa_suite(void)
{
	Suite *s = suite_create("dfa");
	TCase *tc = tcase_create("dfa");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_dfa_parse_decodes_escapes);
	tcase_add_test(tc, test_dfa_parse_accepts_raw_nul_bytes);
	tcase_add_test(tc, test_dfa_parse_skips_empty_lines_and_crlf);
	tcase_add_test(tc, test_dfa_parse_rejects_bad_escapes);
	tcase_add_test(tc, test_dfa_parse_enforces_pattern_length);
	tcase_add_test(tc, test_dfa_parse_enforces_pattern_count);
	tcase_add_test(tc, test_dfa_compile_enforces_state_limit);
	tcase_add_test(tc, test_dfa_empty_set_matches_nothing);
	tcase_add_test(tc, test_dfa_counts_overlapping_matches);
	tcase_add_test(tc, test_dfa_counts_prefix_and_suffix_patterns);
	tcase_add_test(tc, test_dfa_matches_oracle_one_pattern);
	tcase_add_test(tc, test_dfa_matches_oracle_1000_patterns);
	tcase_add_test(tc, test_dfa_matches_oracle_full_byte_range);
	tcase_add_test(tc, test_dfa_scans_empty_and_one_byte_text);
	tcase_add_test(tc, test_dfa_hits_match_oracle);
	tcase_add_test(tc, test_dfa_binary_round_trip_keeps_counts);
	tcase_add_test(tc, test_dfa_binary_rejects_bad_tables);
	tcase_add_test(tc, test_dfa_binary_self_loop_counts_every_byte);
	tcase_add_test(tc, test_dfa_split_scan_is_exact);
	tcase_add_test(tc, test_dfa_lane_scan_matches_oracle_and_state);
	tcase_add_test(tc, test_dfa_lane_boundaries_see_longest_pattern);
	tcase_add_test(tc, test_dfa_out_table_lists_patterns_ascending);
	suite_add_tcase(s, tc);
	return s;
}

MK_CHECK_MAIN(dfa_suite)
