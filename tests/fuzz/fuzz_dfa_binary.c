/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_dfa_binary.c - libFuzzer harness for the binary DFA
 * loader (mk_dfa_load_binary) and the scanner on loaded tables. Mode 0
 * hands the fuzz bytes to the loader as a file; mode 1 builds a table of
 * 1..5 states from the fuzz bytes (sometimes with an out-of-range entry)
 * so that most inputs have the 1028-byte state size, then scans the rest.
 * Checks: the loader accepts exactly the valid tables (dfa.h rules) with
 * -EINVAL/-E2BIG and a Fix: otherwise, output untouched; export gives the
 * input bytes back; scan counts, final states and hit callbacks equal a
 * plain step loop over the table; chunked carry-form scans agree.
 * Fixed bug (test_fuzz_regress_dfa_binary_accept_storm): accept[] was an
 * unbounded u32 and mk_dfa_scan_hits calls its callback accept[s] times
 * per byte with no way to stop, so a table with a huge accept count took
 * ~2^32 callbacks per byte. The loader now refuses accept counts above
 * MK_DFA_MAX_PATTERNS; every loaded table gets the hits check, and mode 1
 * sometimes writes accept counts at and just past that bound.
 * Run: scripts/fuzz.sh (seeds: tests/fuzz/corpus/dfa_binary/).
 * MK_FUZZ_SOURCES: runtime/dfa.c runtime/err.c
 * MK_FUZZ_OPTIONS: -max_len=8192
 */
#include <errno.h>
#include <string.h>

#include "runtime/dfa.h"
#include "tests/fuzz/mk_fuzz.h"

#define DB_MAX_STATES 5u

static uint32_t db_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* dfa.h rules for a binary DFA of @len bytes. */
static int db_ref_valid(const uint8_t *t, size_t len)
{
	size_t states, i;

	if (!len || len % MK_DFA_STATE_BYTES)
		return -EINVAL;
	states = len / MK_DFA_STATE_BYTES;
	if (states > MK_DFA_MAX_STATES)
		return -E2BIG;
	for (i = 0; i < states * 256u; i++)
		if (db_le32(t + 4 * i) >= states)
			return -EINVAL;
	for (i = 0; i < states; i++) /* accept[] is bounded like a literal set */
		if (db_le32(t + 4 * (states * 256u + i)) > MK_DFA_MAX_PATTERNS)
			return -EINVAL;
	return 0;
}

struct db_hits {
	const uint8_t *h;
	const uint8_t *table;
	uint32_t states;
	uint64_t n;
};

static void db_on_hit(void *ctx, uint32_t pattern, size_t end)
{
	struct db_hits *hs = ctx;

	T_FUZZ_CHECK(pattern == 0, "binary DFA hit with pattern %u", pattern);
	T_FUZZ_CHECK(end >= 1, "hit end %zu", end);
	hs->n++;
}

/* Reference scan straight over the little-endian table bytes. */
static uint64_t db_ref_scan(const uint8_t *t, uint32_t states,
			    const uint8_t *h, size_t len, size_t from,
			    uint32_t *state)
{
	const uint8_t *acc = t + (size_t)states * 256u * 4u;
	uint32_t s = *state;
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		s = db_le32(t + 4u * ((size_t)s * 256u + h[i]));
		if (i >= from)
			n += db_le32(acc + 4u * s);
	}
	*state = s;
	return n;
}

static void db_check_loaded(const struct mk_dfa *d, const uint8_t *t,
			    size_t len, const uint8_t *h, size_t hlen,
			    uint8_t knob)
{
	uint32_t states = (uint32_t)(len / MK_DFA_STATE_BYTES);
	uint32_t st0 = knob % states, st = st0, st_ref = st0, st_hits = st0;
	size_t from = hlen ? knob % (hlen + 1u) : 0, cut;
	struct db_hits hs = { h, t, states, 0 };
	uint8_t *out = t_fuzz_alloc(len);
	struct mk_dfa_view v = mk_dfa_view(d);
	uint32_t plen = 0;
	uint64_t want, n;
	char info[96];

	T_FUZZ_CHECK(mk_dfa_states(d) == states && mk_dfa_is_binary(d) &&
			     mk_dfa_patterns(d) == 1 && mk_dfa_max_len(d) == 0 &&
			     mk_dfa_overlap(d) == MK_DFA_OVERLAP_UNBOUNDED &&
			     v.states == states && mk_dfa_table_bytes(d) == len,
		     "binary DFA accessors");
	T_FUZZ_CHECK(mk_dfa_pattern(d, 0, &plen) == NULL, "binary pattern 0");
	T_FUZZ_CHECK(mk_dfa_info(d, info, sizeof(info)) > 0 &&
			     strstr(info, "max_len=unknown"),
		     "info '%s'", info);
	T_FUZZ_CHECK(mk_dfa_export(d, out, len) == 0 && memcmp(out, t, len) == 0,
		     "export differs from the loaded bytes");
	st = st0;
	want = db_ref_scan(t, states, h, hlen, from, &st_ref);
	n = mk_dfa_scan_count(d, h, hlen, from, &st);
	T_FUZZ_CHECK(n == want && st == st_ref,
		     "scan_count %llu/%u, reference %llu/%u",
		     (unsigned long long)n, st, (unsigned long long)want,
		     st_ref);
	n = mk_dfa_scan_hits(d, h, hlen, from, &st_hits, db_on_hit, &hs);
	T_FUZZ_CHECK(n == want && hs.n == want && st_hits == st_ref,
		     "scan_hits %llu (%llu callbacks), want %llu",
		     (unsigned long long)n, (unsigned long long)hs.n,
		     (unsigned long long)want);
	/* Carry form from state 0: two chunks sum to the whole. */
	st_ref = 0;
	want = db_ref_scan(t, states, h, hlen, 0, &st_ref);
	cut = hlen ? (knob * 13u) % (hlen + 1u) : 0;
	st = 0;
	n = mk_dfa_scan_count(d, h, cut, 0, &st);
	n += mk_dfa_scan_count(d, h + cut, hlen - cut, 0, &st);
	T_FUZZ_CHECK(n == want && st == st_ref, "carry form %llu, want %llu",
		     (unsigned long long)n, (unsigned long long)want);
	free(out);
}

/* Mode 1: a table of 1..5 states from the fuzz bytes. */
static size_t db_build(struct t_in *in, uint8_t **out)
{
	uint8_t shape = t_in_u8(in);
	uint32_t states = 1u + shape % DB_MAX_STATES, i, r, v, x;
	uint32_t cells = states * 256u;
	uint32_t bad = (shape & 0x80u) ? t_in_below(in, cells) : UINT32_MAX;
	size_t len = (size_t)states * MK_DFA_STATE_BYTES;
	uint8_t *t = t_fuzz_alloc(len), k;

	/* Runs of one next-state keep the table short in fuzz bytes. */
	for (i = 0; i < cells;) {
		k = t_in_u8(in);
		v = (uint32_t)(k & 0x0Fu) % states;
		for (r = 0; r <= (uint32_t)(k >> 4) * 4u && i < cells;
		     r++, i++) {
			x = i == bad ? states + (k & 3u) : v;
			memcpy(t + 4u * i, &x, 4);
		}
	}
	for (i = 0; i < states; i++) {
		k = t_in_u8(in);
		v = k < 0xFCu ? k % 3u : MK_DFA_MAX_PATTERNS - 1u + (k & 3u);
		memcpy(t + 4u * (cells + i), &v, 4);
	}
	*out = t;
	return len;
}

static void fuzz_dfa_binary_one(const uint8_t *data, size_t size)
{
	struct t_in in = { data, size };
	uint8_t mode = t_in_u8(&in), knob = t_in_u8(&in);
	struct mk_dfa *d = NULL, *sentinel = (struct mk_dfa *)&in;
	const uint8_t *h;
	uint8_t *t;
	size_t len, hlen;
	struct mk_err e;
	int rc, ref;

	if (mode & 1u) {
		len = db_build(&in, &t);
		h = in.p;
		hlen = in.n;
	} else {
		len = (size_t)knob * in.n / 255u;
		t = t_fuzz_alloc(len);
		memcpy(t, in.p, len);
		h = in.p + len;
		hlen = in.n - len;
	}
	ref = db_ref_valid(t, len);
	mk_err_clear(&e);
	d = sentinel;
	rc = mk_dfa_load_binary(t, len, &d, &e);
	T_FUZZ_CHECK(rc == ref, "load_binary(%zu bytes) -> %d, want %d (%s)",
		     len, rc, ref, e.msg);
	if (rc) {
		T_FUZZ_CHECK_ERR(rc, &e);
		T_FUZZ_CHECK(d == sentinel, "output written on error");
	} else {
		db_check_loaded(d, t, len, h, hlen, knob);
		mk_dfa_destroy(d);
	}
	free(t);
}

MK_FUZZ_ENTRY(fuzz_dfa_binary_one)
