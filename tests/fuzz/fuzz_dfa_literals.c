/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_dfa_literals.c - libFuzzer harness for the literal
 * pattern compiler and the scanner of runtime/dfa.c. Input: a flags byte,
 * a split byte, then a literals text and a haystack. Checks: the compiler
 * accepts exactly what an independent parser of the dfa.h grammar accepts
 * (same errno, same patterns); scan counts equal a brute-force count;
 * hits come in end order, longest first, and each really matches; the
 * overlap and carry chunkings and an export -> mk_dfa_load_binary round
 * trip count the same; the interleaved-lane scan of a >= 64 KiB haystack
 * equals the single-lane count.
 * Run: scripts/fuzz.sh (seeds: tests/fuzz/corpus/dfa_literals/).
 * MK_FUZZ_SOURCES: runtime/dfa.c runtime/err.c
 * MK_FUZZ_OPTIONS: -max_len=4096 -dict=tests/fuzz/dfa.dict
 */
#include <errno.h>
#include <string.h>

#include "runtime/dfa.h"
#include "tests/fuzz/mk_fuzz.h"

#define DL_HAY_MAX 512u
#define DL_BIG ((size_t)66 * 1024)

/* Patterns as the independent parser reads them. */
struct dl_ref {
	uint8_t *bytes;
	uint32_t *off; /* n + 1 */
	uint32_t n;
	uint32_t max_len;
};

static int dl_hex(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One line of the dfa.h grammar: 0, -EINVAL or -E2BIG. */
static int dl_ref_line(struct dl_ref *r, const uint8_t *s, size_t n,
		       size_t *nbytes)
{
	uint32_t len = 0;
	size_t i = 0;
	uint8_t c;

	while (i < n) {
		c = s[i++];
		if (c == '\\') {
			if (i == n)
				return -EINVAL;
			c = s[i++];
			if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
			else if (c == 'r')
				c = '\r';
			else if (c == '0')
				c = 0;
			else if (c == 'x' && i + 2 <= n && dl_hex(s[i]) >= 0 &&
				 dl_hex(s[i + 1]) >= 0) {
				c = (uint8_t)(dl_hex(s[i]) * 16 + dl_hex(s[i + 1]));
				i += 2;
			} else if (c != '\\')
				return -EINVAL;
		}
		if (len == MK_DFA_MAX_PATLEN)
			return -E2BIG;
		r->bytes[*nbytes + len++] = c;
	}
	if (r->n == MK_DFA_MAX_PATTERNS)
		return -E2BIG;
	*nbytes += len;
	r->off[++r->n] = (uint32_t)*nbytes;
	if (len > r->max_len)
		r->max_len = len;
	return 0;
}

static int dl_ref_parse(struct dl_ref *r, const uint8_t *t, size_t len)
{
	size_t pos = 0, nbytes = 0, n, k;
	int rc;

	r->bytes = t_fuzz_alloc(len);
	r->off = t_fuzz_alloc((len / 2u + 2u) * sizeof(uint32_t));
	r->off[0] = 0;
	r->n = 0;
	r->max_len = 0;
	while (pos < len) {
		for (k = pos; k < len && t[k] != '\n'; k++)
			;
		n = k - pos;
		/* The runtime drops a CR before LF and at the end of the text. */
		if (n && t[pos + n - 1] == '\r')
			n--;
		if (n) {
			rc = dl_ref_line(r, t + pos, n, &nbytes);
			if (rc)
				return rc;
		}
		pos = k + 1;
	}
	return 0;
}

static uint64_t dl_brute(const struct dl_ref *r, const uint8_t *h, size_t len,
			 size_t from)
{
	uint64_t n = 0;
	uint32_t p, m;
	size_t end;

	for (p = 0; p < r->n; p++) {
		m = r->off[p + 1] - r->off[p];
		for (end = m; end <= len; end++)
			if (end - 1 >= from &&
			    memcmp(h + end - m, r->bytes + r->off[p], m) == 0)
				n++;
	}
	return n;
}

struct dl_hits {
	const struct mk_dfa *d;
	const uint8_t *h;
	size_t from;
	uint64_t n;
	size_t last_end;
	uint32_t last_len;
};

static void dl_on_hit(void *ctx, uint32_t pattern, size_t end)
{
	struct dl_hits *hs = ctx;
	const uint8_t *p;
	uint32_t len = 0;

	p = mk_dfa_pattern(hs->d, pattern, &len);
	T_FUZZ_CHECK(p && len && end >= len && end > hs->from,
		     "hit pattern %u end %zu", pattern, end);
	T_FUZZ_CHECK(memcmp(hs->h + end - len, p, len) == 0,
		     "hit pattern %u at %zu does not match", pattern, end);
	T_FUZZ_CHECK(end > hs->last_end ||
			     (end == hs->last_end && len <= hs->last_len),
		     "hit order: end %zu len %u after end %zu len %u", end, len,
		     hs->last_end, hs->last_len);
	hs->last_end = end;
	hs->last_len = len;
	hs->n++;
}

static void dl_check_patterns(const struct mk_dfa *d, const struct dl_ref *r)
{
	const uint8_t *p;
	uint32_t i, len = 0;

	T_FUZZ_CHECK(mk_dfa_patterns(d) == r->n && mk_dfa_max_len(d) == r->max_len &&
			     !mk_dfa_is_binary(d),
		     "patterns %u/%u, max_len %u/%u", mk_dfa_patterns(d), r->n,
		     mk_dfa_max_len(d), r->max_len);
	T_FUZZ_CHECK(mk_dfa_overlap(d) == (r->max_len ? r->max_len - 1u : 0u),
		     "overlap %zu", mk_dfa_overlap(d));
	for (i = 0; i < r->n; i++) {
		p = mk_dfa_pattern(d, i, &len);
		T_FUZZ_CHECK(p && len == r->off[i + 1] - r->off[i] &&
				     memcmp(p, r->bytes + r->off[i], len) == 0,
			     "pattern %u differs from the reference parse", i);
	}
	T_FUZZ_CHECK(mk_dfa_pattern(d, r->n, &len) == NULL, "pattern past n");
	T_FUZZ_CHECK(mk_dfa_states(d) >= 1 &&
			     mk_dfa_states(d) <= 1u + r->off[r->n],
		     "states %u for %u pattern bytes", mk_dfa_states(d),
		     r->off[r->n]);
}

/* The chunkings of dfa.h: overlap form and carry form. */
static void dl_check_chunks(const struct mk_dfa *d, const uint8_t *h,
			    size_t len, size_t cut, uint64_t want)
{
	size_t ov = mk_dfa_overlap(d), lead = ov < cut ? ov : cut;
	uint32_t st = 0;
	uint64_t n;

	n = mk_dfa_scan_count(d, h, cut, 0, &st);
	n += mk_dfa_scan_count(d, h + cut, len - cut, 0, &st);
	T_FUZZ_CHECK(n == want, "carry form %llu, want %llu",
		     (unsigned long long)n, (unsigned long long)want);
	st = 0;
	n = mk_dfa_scan_count(d, h, cut, 0, &st);
	st = 0;
	n += mk_dfa_scan_count(d, h + cut - lead, len - cut + lead, lead, &st);
	T_FUZZ_CHECK(n == want, "overlap form %llu, want %llu (cut %zu)",
		     (unsigned long long)n, (unsigned long long)want, cut);
}

static void dl_check_export(const struct mk_dfa *d, const uint8_t *h,
			    size_t len, uint64_t want, uint32_t want_state)
{
	size_t bytes = mk_dfa_table_bytes(d);
	uint8_t *buf = t_fuzz_alloc(bytes);
	struct mk_dfa *b = NULL;
	uint32_t st = 0;
	uint64_t n;

	T_FUZZ_CHECK(mk_dfa_export(d, buf, bytes - 1u) == -ENOSPC,
		     "export into a short buffer");
	T_FUZZ_CHECK(mk_dfa_export(d, buf, bytes) == 0, "export");
	T_FUZZ_CHECK(mk_dfa_load_binary(buf, bytes, &b, NULL) == 0,
		     "exported table does not load");
	n = mk_dfa_scan_count(b, h, len, 0, &st);
	T_FUZZ_CHECK(n == want && st == want_state,
		     "binary round trip %llu/%u, want %llu/%u",
		     (unsigned long long)n, st, (unsigned long long)want,
		     want_state);
	mk_dfa_destroy(b);
	free(buf);
}

/* >= 64 KiB haystack: scan_count takes the interleaved lanes. */
static void dl_check_lanes(const struct mk_dfa *d, const uint8_t *h,
			   size_t len, size_t from)
{
	uint8_t *big = t_fuzz_alloc(DL_BIG);
	struct dl_hits hs = { d, big, 0, 0, 0, 0 };
	uint32_t s1 = 0, s2 = 0;
	uint64_t lanes, one;
	size_t i;

	for (i = 0; i < DL_BIG; i++)
		big[i] = len ? h[i % len] : (uint8_t)i;
	from %= 4096u;
	hs.from = from;
	lanes = mk_dfa_scan_count(d, big, DL_BIG, from, &s1);
	one = mk_dfa_scan_hits(d, big, DL_BIG, from, &s2, dl_on_hit, &hs);
	T_FUZZ_CHECK(lanes == one && one == hs.n && s1 == s2,
		     "lanes %llu/%u, single lane %llu/%u",
		     (unsigned long long)lanes, s1, (unsigned long long)one, s2);
	free(big);
}

static void dl_check_scans(const struct mk_dfa *d, const struct dl_ref *r,
			   const uint8_t *h, size_t len, uint8_t flags)
{
	size_t from = len ? flags % (len + 1u) : 0, cut;
	struct dl_hits hs = { d, h, from, 0, 0, 0 };
	uint32_t st = 0, st_hits = 0;
	uint64_t want, n;

	want = dl_brute(r, h, len, from);
	n = mk_dfa_scan_count(d, h, len, from, &st);
	T_FUZZ_CHECK(n == want, "scan_count %llu, brute force %llu",
		     (unsigned long long)n, (unsigned long long)want);
	n = mk_dfa_scan_hits(d, h, len, from, &st_hits, dl_on_hit, &hs);
	T_FUZZ_CHECK(n == want && hs.n == want && st_hits == st,
		     "scan_hits %llu (%llu callbacks), want %llu",
		     (unsigned long long)n, (unsigned long long)hs.n,
		     (unsigned long long)want);
	want = dl_brute(r, h, len, 0);
	cut = len ? (flags * 7u) % (len + 1u) : 0;
	dl_check_chunks(d, h, len, cut, want);
	st = 0;
	mk_dfa_scan_count(d, h, len, 0, &st);
	if (flags & 0x40u)
		dl_check_export(d, h, len, want, st);
	if ((flags & 0xE0u) == 0xE0u && mk_dfa_max_len(d))
		dl_check_lanes(d, h, len, from);
}

static void fuzz_dfa_literals_one(const uint8_t *data, size_t size)
{
	struct t_in in = { data, size };
	uint8_t flags = t_in_u8(&in), split = t_in_u8(&in);
	size_t tlen = (size_t)split * in.n / 255u, hlen;
	const uint8_t *text = in.p, *hay = in.p + tlen;
	struct mk_dfa *d = NULL;
	struct dl_ref r;
	struct mk_err e;
	char info[24];
	int rc, ref;

	hlen = in.n - tlen < DL_HAY_MAX ? in.n - tlen : DL_HAY_MAX;
	ref = dl_ref_parse(&r, text, tlen);
	mk_err_clear(&e);
	rc = mk_dfa_compile_literals(text, tlen, &d, &e);
	T_FUZZ_CHECK(rc == ref, "compile -> %d, reference parser %d (%s)", rc,
		     ref, e.msg);
	if (rc) {
		T_FUZZ_CHECK_ERR(rc, &e);
		T_FUZZ_CHECK(d == NULL, "output written on error");
		goto out_free;
	}
	dl_check_patterns(d, &r);
	rc = mk_dfa_info(d, info, sizeof(info));
	T_FUZZ_CHECK(rc > 0 && strlen(info) == ((size_t)rc < sizeof(info) ?
							 (size_t)rc :
							 sizeof(info) - 1u),
		     "info -> %d '%s'", rc, info);
	dl_check_scans(d, &r, hay, hlen, flags);
	mk_dfa_destroy(d);
out_free:
	free(r.off);
	free(r.bytes);
}

MK_FUZZ_ENTRY(fuzz_dfa_literals_one)
