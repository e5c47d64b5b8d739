/* SPDX-License-Identifier: MIT */
/*
 * runtime/dfa.c - literal pattern sets compiled to an Aho-Corasick dense
 * DFA, binary DFA loading, and the CPU scan loops; see runtime/dfa.h for
 * the formats and contracts. No I/O and no threads here.
 *
 * Compilation, in four passes so the big table is allocated exactly once:
 *   1. parse the literals text into pattern bytes + offsets;
 *   2. count trie nodes from the sorted patterns (1 + sum of each pattern's
 *      length minus its longest common prefix with its sorted predecessor)
 *      and enforce MK_DFA_MAX_STATES before allocating states*1 KiB;
 *   3. insert the patterns into the trie, built directly in next[] (0 means
 *      "no child": the root is never a child);
 *   4. breadth-first: fill every missing transition from the failure state
 *      (whose row is already complete), sum accept[] along failure links
 *      and set the output links used to enumerate hits.
 */
#include "runtime/dfa.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_STATE UINT32_MAX
/* Interleaved lanes of the counting scan (8 measured best on x86-64:
 * more spill registers), and the shortest region worth splitting, which
 * must stay >= SCAN_LANES * MK_DFA_MAX_PATLEN. */
#define SCAN_LANES 8u
#define SCAN_LANE_MIN ((size_t)64 * 1024)
_Static_assert(SCAN_LANE_MIN >= SCAN_LANES * MK_DFA_MAX_PATLEN,
	       "lane segments must hold the longest pattern");

struct mk_dfa {
	uint32_t *next;    /* states*256, state -> state */
	uint32_t *accept;  /* states, matches ending on entering the state */
	uint32_t states;   /* >= 1 */
	uint32_t max_len;  /* longest pattern, 0 = none or unknown */
	uint32_t npat;     /* patterns (0 for binary; mk_dfa_patterns says 1) */
	int binary;        /* loaded from a binary DFA */
	/* literal sets only (NULL for binary): */
	uint32_t *own_start; /* states+1, CSR rows into own_pat */
	uint32_t *own_pat;   /* npat, patterns ending exactly at a trie node */
	uint32_t *out_link;  /* states, nearest proper suffix with own
				outputs, NO_STATE if none */
	uint8_t *pat_bytes;  /* all pattern bytes, concatenated */
	uint32_t *pat_off;   /* npat+1 offsets into pat_bytes */
};

/* ---- parsing ------------------------------------------------------------- */

struct patset {
	uint8_t *bytes; /* capacity: min(text length, the limits' product);
			   unescaping only shrinks */
	size_t nbytes;
	uint32_t *off;  /* MK_DFA_MAX_PATTERNS + 1 entries */
	uint32_t n;
	uint32_t max_len;
};

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int bad_escape(struct mk_err *err, uint32_t line, const uint8_t *s,
		      size_t n)
{
	char shown[8];
	size_t i, k = 0;

	for (i = 0; i < n && i < 4 && k + 1 < sizeof(shown); i++)
		shown[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	shown[k] = '\0';
	return mk_err_setf(err, -EINVAL,
			   "use only \\xHH (two hex digits), \\n, \\t, \\r, "
			   "\\0 or \\\\; write a backslash as \\\\",
			   "literals line %u: bad escape \"%s\"", line, shown);
}

/* Decode one escape at s[*i] (just after the backslash) into *out. */
static int decode_escape(const uint8_t *s, size_t n, size_t *i, uint8_t *out)
{
	uint8_t c;

	if (*i >= n)
		return -EINVAL;
	c = s[(*i)++];
	switch (c) {
	case 'n': *out = '\n'; return 0;
	case 't': *out = '\t'; return 0;
	case 'r': *out = '\r'; return 0;
	case '0': *out = 0; return 0;
	case '\\': *out = '\\'; return 0;
	case 'x':
		if (*i + 2 > n || hexval(s[*i]) < 0 || hexval(s[*i + 1]) < 0)
			return -EINVAL;
		*out = (uint8_t)(hexval(s[*i]) * 16 + hexval(s[*i + 1]));
		*i += 2;
		return 0;
	default:
		return -EINVAL;
	}
}

/* Unescape line @line (@s, @n bytes, no LF) and append it as a pattern. */
static int parse_line(struct patset *ps, const uint8_t *s, size_t n,
		      uint32_t line, struct mk_err *err)
{
	uint8_t *dst = ps->bytes + ps->nbytes;
	uint32_t o = 0;
	size_t i = 0;

	if (ps->n == MK_DFA_MAX_PATTERNS)
		return mk_err_setf(err, -E2BIG,
				   "split the patterns into several pattern "
				   "sets",
				   "literals line %u: more than %u patterns",
				   line, MK_DFA_MAX_PATTERNS);
	while (i < n) {
		size_t at = i;
		uint8_t c = s[i++];

		if (c == '\\' && decode_escape(s, n, &i, &c) < 0)
			return bad_escape(err, line, s + at, n - at);
		if (o == MK_DFA_MAX_PATLEN)
			return mk_err_setf(err, -E2BIG,
					   "shorten it or split it into "
					   "several patterns",
					   "literals line %u: pattern longer "
					   "than %u bytes",
					   line, MK_DFA_MAX_PATLEN);
		dst[o++] = c;
	}
	ps->nbytes += o;
	ps->n++;
	ps->off[ps->n] = (uint32_t)ps->nbytes;
	if (o > ps->max_len)
		ps->max_len = o;
	return 0;
}

static int parse_literals(const uint8_t *t, size_t len, struct patset *ps,
			  struct mk_err *err)
{
	/* The limits bound the decoded bytes (so u32 offsets suffice), however
	 * long the text is (empty lines). */
	size_t cap = (size_t)MK_DFA_MAX_PATTERNS * MK_DFA_MAX_PATLEN, pos = 0;
	uint32_t line = 0;
	int rc;

	ps->bytes = malloc(len < cap ? (len ? len : 1) : cap);
	ps->off = calloc(MK_DFA_MAX_PATTERNS + 1, sizeof(*ps->off));
	if (!ps->bytes || !ps->off)
		return mk_err_set(err, -ENOMEM,
				  "out of memory parsing literals",
				  "free memory or use a smaller pattern set");
	while (pos < len) {
		const uint8_t *s = t + pos;
		const uint8_t *lf = memchr(s, '\n', len - pos);
		size_t n = lf ? (size_t)(lf - s) : len - pos;

		pos += n + (lf ? 1 : 0);
		line++;
		if (n && s[n - 1] == '\r') /* CRLF line end */
			n--;
		if (!n)
			continue;
		rc = parse_line(ps, s, n, line, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- compilation --------------------------------------------------------- */

struct patref {
	const uint8_t *p;
	uint32_t len;
};

static int cmp_patref(const void *a, const void *b)
{
	const struct patref *x = a, *y = b;
	uint32_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, n);

	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

/* Exact trie node count (root included) of @ps into *@states. */
static int count_states(const struct patset *ps, uint64_t *states,
			struct mk_err *err)
{
	struct patref *r = malloc(((size_t)ps->n + 1) * sizeof(*r));
	uint64_t total = 1;
	uint32_t i, k;

	if (!r)
		return mk_err_set(err, -ENOMEM,
				  "out of memory sorting patterns",
				  "free memory or use a smaller pattern set");
	for (i = 0; i < ps->n; i++) {
		r[i].p = ps->bytes + ps->off[i];
		r[i].len = ps->off[i + 1] - ps->off[i];
	}
	qsort(r, ps->n, sizeof(*r), cmp_patref);
	for (i = 0; i < ps->n; i++) {
		k = 0;
		if (i)
			while (k < r[i].len && k < r[i - 1].len &&
			       r[i].p[k] == r[i - 1].p[k])
				k++;
		total += r[i].len - k;
	}
	free(r);
	*states = total;
	return 0;
}

/* Insert every pattern; record the CSR of own outputs and own counts. */
static void build_trie(struct mk_dfa *d, const struct patset *ps,
		       uint32_t *end_state)
{
	uint32_t used = 1, p, i, s;

	for (p = 0; p < ps->n; p++) {
		s = 0;
		for (i = ps->off[p]; i < ps->off[p + 1]; i++) {
			uint32_t *slot =
				&d->next[(size_t)s * 256 + ps->bytes[i]];

			if (!*slot)
				*slot = used++;
			s = *slot;
		}
		end_state[p] = s;
		d->accept[s]++;
	}
	/* CSR: own_start[s+1] counts, prefix sum, then fill in pattern order
	 * so each row lists its patterns by increasing index. */
	for (s = 0; s < d->states; s++)
		d->own_start[s + 1] = d->own_start[s] + d->accept[s];
	for (p = 0; p < ps->n; p++)
		d->own_pat[d->own_start[end_state[p]]++] = p;
	for (s = d->states; s > 0; s--)
		d->own_start[s] = d->own_start[s - 1];
	d->own_start[0] = 0;
}

static int has_own(const struct mk_dfa *d, uint32_t s)
{
	return d->own_start[s + 1] > d->own_start[s];
}

/* BFS over the trie: failure transitions, accept sums, output links. */
static void link_automaton(struct mk_dfa *d, uint32_t *fail, uint32_t *queue)
{
	uint32_t head = 0, tail = 0, s, b;

	d->out_link[0] = NO_STATE;
	for (b = 0; b < 256; b++) {
		uint32_t c = d->next[b];

		if (c) {
			fail[c] = 0;
			d->out_link[c] = NO_STATE; /* the root has no outputs */
			queue[tail++] = c;
		}
	}
	while (head < tail) {
		const uint32_t *frow;
		uint32_t *row;

		s = queue[head++];
		row = &d->next[(size_t)s * 256];
		/* fail[s] is shallower, so its row is already complete */
		frow = &d->next[(size_t)fail[s] * 256];
		for (b = 0; b < 256; b++) {
			uint32_t c = row[b], f;

			if (!c) {
				row[b] = frow[b];
				continue;
			}
			f = frow[b];
			fail[c] = f;
			d->accept[c] += d->accept[f]; /* f is shallower */
			d->out_link[c] = has_own(d, f) ? f : d->out_link[f];
			queue[tail++] = c;
		}
	}
}

static int alloc_literal_dfa(struct mk_dfa *d, uint32_t npat)
{
	size_t st = d->states;

	d->next = calloc(st * 256, sizeof(uint32_t));
	d->accept = calloc(st, sizeof(uint32_t));
	d->own_start = calloc(st + 1, sizeof(uint32_t));
	d->own_pat = malloc(((size_t)npat + 1) * sizeof(uint32_t));
	d->out_link = malloc(st * sizeof(uint32_t));
	if (!d->next || !d->accept || !d->own_start || !d->own_pat ||
	    !d->out_link)
		return -ENOMEM;
	return 0;
}

static int compile_patset(struct mk_dfa *d, const struct patset *ps,
			  struct mk_err *err)
{
	uint32_t *end_state = NULL, *fail = NULL, *queue = NULL;
	uint64_t states = 0;
	int rc;

	rc = count_states(ps, &states, err);
	if (rc < 0)
		return rc;
	if (states > MK_DFA_MAX_STATES)
		return mk_err_setf(err, -E2BIG,
				   "use fewer or shorter patterns, or split "
				   "them into several pattern sets",
				   "the patterns need %llu DFA states, more "
				   "than the limit of %u",
				   (unsigned long long)states,
				   MK_DFA_MAX_STATES);
	d->states = (uint32_t)states;
	d->npat = ps->n;
	d->max_len = ps->max_len;
	rc = alloc_literal_dfa(d, ps->n);
	end_state = malloc(((size_t)ps->n + 1) * sizeof(uint32_t));
	fail = malloc((size_t)d->states * sizeof(uint32_t));
	queue = malloc((size_t)d->states * sizeof(uint32_t));
	if (rc < 0 || !end_state || !fail || !queue) {
		rc = mk_err_setf(err, -ENOMEM,
				 "free memory or use fewer patterns",
				 "out of memory for a %u-state DFA (%zu MiB)",
				 d->states,
				 (size_t)d->states * MK_DFA_STATE_BYTES >> 20);
		goto out_free_scratch;
	}
	build_trie(d, ps, end_state);
	link_automaton(d, fail, queue);
	rc = 0;
out_free_scratch:
	free(queue);
	free(fail);
	free(end_state);
	return rc;
}

int mk_dfa_compile_literals(const void *text, size_t len, struct mk_dfa **out,
			    struct mk_err *err)
{
	struct patset ps = { 0 };
	struct mk_dfa *d = NULL;
	int rc;

	rc = parse_literals(text, len, &ps, err);
	if (rc < 0)
		goto out_free_patset;
	d = calloc(1, sizeof(*d));
	if (!d) {
		rc = mk_err_set(err, -ENOMEM, "out of memory for a pattern set",
				"free memory and retry");
		goto out_free_patset;
	}
	rc = compile_patset(d, &ps, err);
	if (rc < 0)
		goto out_destroy_dfa;
	d->pat_bytes = ps.bytes; /* ownership moves to the DFA */
	d->pat_off = ps.off;
	*out = d;
	return 0;
out_destroy_dfa:
	mk_dfa_destroy(d);
out_free_patset:
	free(ps.off);
	free(ps.bytes);
	return rc;
}

/* ---- binary DFA ---------------------------------------------------------- */

static uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void store_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* gcc and clang fuse the byte loads of load_le32 into one load. */
static void copy_words_in(uint32_t *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = load_le32(src + 4 * i);
}

static int check_binary_len(size_t len, struct mk_err *err)
{
	if (!len)
		return mk_err_set(err, -EINVAL, "the binary DFA is empty",
				  "write u32 next[states*256] then u32 "
				  "accept[states], little-endian");
	if (len % MK_DFA_STATE_BYTES)
		return mk_err_setf(err, -EINVAL,
				   "the length must be states * 1028 bytes: "
				   "u32 next[states*256] then u32 "
				   "accept[states], little-endian",
				   "the binary DFA is %zu bytes, not a "
				   "multiple of %u",
				   len, MK_DFA_STATE_BYTES);
	if (len / MK_DFA_STATE_BYTES > MK_DFA_MAX_STATES)
		return mk_err_setf(err, -E2BIG,
				   "minimise the DFA or split the patterns "
				   "into several sets",
				   "the binary DFA has %zu states, more than "
				   "the limit of %u",
				   len / MK_DFA_STATE_BYTES, MK_DFA_MAX_STATES);
	return 0;
}

int mk_dfa_load_binary(const void *bytes, size_t len, struct mk_dfa **out,
		       struct mk_err *err)
{
	const uint8_t *src = bytes;
	struct mk_dfa *d = NULL;
	size_t i, cells;
	int rc;

	rc = check_binary_len(len, err);
	if (rc < 0)
		return rc;
	d = calloc(1, sizeof(*d));
	if (!d)
		goto out_nomem;
	d->binary = 1;
	d->states = (uint32_t)(len / MK_DFA_STATE_BYTES);
	cells = (size_t)d->states * 256;
	d->next = malloc(cells * sizeof(uint32_t));
	d->accept = malloc((size_t)d->states * sizeof(uint32_t));
	if (!d->next || !d->accept)
		goto out_nomem;
	copy_words_in(d->next, src, cells);
	copy_words_in(d->accept, src + cells * 4, d->states);
	for (i = 0; i < cells; i++) {
		if (d->next[i] < d->states)
			continue;
		rc = mk_err_setf(err, -EINVAL,
				 "every next-state must be below the state "
				 "count (byte length / 1028); regenerate the "
				 "table",
				 "binary DFA: next[%zu*256+%zu] = %u, but the "
				 "table has %u states",
				 i / 256, i % 256, d->next[i], d->states);
		mk_dfa_destroy(d);
		return rc;
	}
	/*
	 * Bound accept[] like a literal set's (at most MK_DFA_MAX_PATTERNS
	 * matches end at one byte): hits are enumerated one by one, so a huge
	 * accept count would stall the scan (found by fuzz_dfa_binary).
	 */
	for (i = 0; i < d->states; i++) {
		if (d->accept[i] <= MK_DFA_MAX_PATTERNS)
			continue;
		rc = mk_err_setf(err, -EINVAL,
				 "keep every accept count at or below 10000 "
				 "(matches ending on entering the state)",
				 "binary DFA: accept[%zu] = %u is too large",
				 i, d->accept[i]);
		mk_dfa_destroy(d);
		return rc;
	}
	*out = d;
	return 0;
out_nomem:
	mk_dfa_destroy(d);
	return mk_err_setf(err, -ENOMEM, "free memory or use a smaller DFA",
			   "out of memory loading a %zu-byte binary DFA", len);
}

int mk_dfa_export(const struct mk_dfa *d, void *buf, size_t cap)
{
	size_t cells = (size_t)d->states * 256, i;
	uint8_t *dst = buf;

	if (cap < mk_dfa_table_bytes(d))
		return -ENOSPC;
	for (i = 0; i < cells; i++)
		store_le32(dst + 4 * i, d->next[i]);
	for (i = 0; i < d->states; i++)
		store_le32(dst + 4 * (cells + i), d->accept[i]);
	return 0;
}

void mk_dfa_destroy(struct mk_dfa *d)
{
	if (!d)
		return;
	free(d->next);
	free(d->accept);
	free(d->own_start);
	free(d->own_pat);
	free(d->out_link);
	free(d->pat_bytes);
	free(d->pat_off);
	free(d);
}

/* ---- accessors ----------------------------------------------------------- */

struct mk_dfa_view mk_dfa_view(const struct mk_dfa *d)
{
	struct mk_dfa_view v;

	v.next = d->next;
	v.accept = d->accept;
	v.states = d->states;
	v.max_len = d->max_len;
	return v;
}

uint32_t mk_dfa_states(const struct mk_dfa *d)
{
	return d->states;
}

uint32_t mk_dfa_patterns(const struct mk_dfa *d)
{
	return d->binary ? 1 : d->npat;
}

uint32_t mk_dfa_max_len(const struct mk_dfa *d)
{
	return d->max_len;
}

int mk_dfa_is_binary(const struct mk_dfa *d)
{
	return d->binary;
}

size_t mk_dfa_table_bytes(const struct mk_dfa *d)
{
	return (size_t)d->states * MK_DFA_STATE_BYTES;
}

const uint8_t *mk_dfa_pattern(const struct mk_dfa *d, uint32_t i,
			      uint32_t *len)
{
	if (d->binary || i >= d->npat)
		return NULL;
	*len = d->pat_off[i + 1] - d->pat_off[i];
	return d->pat_bytes + d->pat_off[i];
}

int mk_dfa_info(const struct mk_dfa *d, char *buf, size_t cap)
{
	char ml[16];

	if (d->binary)
		snprintf(ml, sizeof(ml), "unknown");
	else
		snprintf(ml, sizeof(ml), "%u", d->max_len);
	return snprintf(buf, cap, "states=%u patterns=%u table_bytes=%zu "
			"max_len=%s\n", d->states, mk_dfa_patterns(d),
			mk_dfa_table_bytes(d), ml);
}

/*
 * Why max_len - 1 is enough (L = max_len, literal sets only).
 * Invariant of Aho-Corasick: after reading a string w from state 0, the DFA
 * is in the trie node of u(w), the longest suffix of w that is a prefix of
 * some pattern; accept[] of that node counts the patterns that are suffixes
 * of u(w) (own outputs plus those reached by failure links).
 *   1. A pattern P is a suffix of w  <=>  P is a suffix of u(w): P is itself
 *      a trie node and a suffix of w, so it is no longer than u(w) and, both
 *      being suffixes of w, a suffix of it; the converse is immediate. Hence
 *      accept after w = number of patterns ending at the end of w.
 *   2. Let a match of P (|P| = m <= L) end at position e >= start. It begins
 *      at e - m + 1 >= start - (L - 1) = a (clamped: a = 0 is the true
 *      start of the text). Scanning from state 0 at a, the DFA reaches e
 *      having read w' = text[a..e], with |w'| = e - a + 1 >= L >= m.
 *   3. By 1., accept there counts the patterns that are suffixes of w'.
 *      Every pattern ending at e in the full text has length <= L <= |w'|,
 *      so it is a suffix of w' too, and vice versa. So the count at every
 *      e >= start equals the count of a scan of the whole text from 0.
 * The same argument with |w'| >= L shows that the *state* is exact once L
 * bytes were read, which the interleaved lanes use for the final state.
 * A binary DFA need not have this property at any distance, hence
 * MK_DFA_OVERLAP_UNBOUNDED and the carry form.
 */
size_t mk_dfa_overlap(const struct mk_dfa *d)
{
	if (d->binary)
		return MK_DFA_OVERLAP_UNBOUNDED;
	return d->max_len ? d->max_len - 1 : 0;
}

/* ---- scanning ------------------------------------------------------------ */

static uint64_t scan_one(const struct mk_dfa *d, const uint8_t *buf,
			 size_t len, size_t from, uint32_t *state_inout)
{
	const uint32_t *next = d->next, *acc = d->accept;
	size_t i, lead = from < len ? from : len;
	uint32_t s = *state_inout;
	uint64_t n = 0;

	for (i = 0; i < lead; i++)
		s = mk_dfa_step(next, s, buf[i]);
	for (; i < len; i++) {
		s = mk_dfa_step(next, s, buf[i]);
		n += acc[s];
	}
	*state_inout = s;
	return n;
}

/*
 * SCAN_LANES independent dependency chains hide the load latency of the
 * step (one chain is latency-bound). Region [from, len) is cut into
 * SCAN_LANES segments; lane 0 continues from *state_inout over buf[0..from)
 * as scan_one would, the others start from state 0, L - 1 bytes before
 * their segment (exact by the proof above mk_dfa_overlap; an empty set
 * stays in state 0). The last lane read >= L bytes, so its final state is
 * the true one.
 */
static uint64_t scan_lanes(const struct mk_dfa *d, const uint8_t *buf,
			   size_t len, size_t from, uint32_t *state_inout)
{
	const uint32_t *next = d->next, *acc = d->accept;
	size_t seg = (len - from) / SCAN_LANES, i;
	size_t ov = d->max_len ? d->max_len - 1 : 0;
	const uint8_t *p[SCAN_LANES];
	uint32_t s[SCAN_LANES];
	uint64_t n = 0;
	unsigned j;

	for (j = 0; j < SCAN_LANES; j++) {
		p[j] = buf + from + j * seg;
		s[j] = 0;
	}
	s[0] = *state_inout;
	for (i = 0; i < from; i++)
		s[0] = mk_dfa_step(next, s[0], buf[i]);
	for (i = ov; i > 0; i--)
		for (j = 1; j < SCAN_LANES; j++)
			s[j] = mk_dfa_step(next, s[j], p[j][-(ptrdiff_t)i]);
	for (i = 0; i < seg; i++) {
#pragma GCC unroll 8
		for (j = 0; j < SCAN_LANES; j++) {
			s[j] = mk_dfa_step(next, s[j], p[j][i]);
			n += acc[s[j]];
		}
	}
	j = SCAN_LANES - 1;
	for (i = (size_t)(p[j] + seg - buf); i < len; i++) {
		s[j] = mk_dfa_step(next, s[j], buf[i]);
		n += acc[s[j]];
	}
	*state_inout = s[j];
	return n;
}

uint64_t mk_dfa_scan_count(const struct mk_dfa *d, const uint8_t *buf,
			   size_t len, size_t count_from,
			   uint32_t *state_inout)
{
	/* Lanes need a known L (literal sets) and segments of at least L
	 * bytes, which the lane minimum guarantees. */
	if (!d->binary && count_from < len &&
	    len - count_from >= SCAN_LANE_MIN)
		return scan_lanes(d, buf, len, count_from, state_inout);
	return scan_one(d, buf, len, count_from, state_inout);
}

static void report_hits(const struct mk_dfa *d, uint32_t s, size_t end,
			mk_dfa_hit_fn fn, void *ctx)
{
	uint32_t q, k;

	if (d->binary) {
		for (k = 0; k < d->accept[s]; k++)
			fn(ctx, 0, end);
		return;
	}
	for (q = has_own(d, s) ? s : d->out_link[s]; q != NO_STATE;
	     q = d->out_link[q])
		for (k = d->own_start[q]; k < d->own_start[q + 1]; k++)
			fn(ctx, d->own_pat[k], end);
}

uint64_t mk_dfa_scan_hits(const struct mk_dfa *d, const uint8_t *buf,
			  size_t len, size_t count_from, uint32_t *state_inout,
			  mk_dfa_hit_fn fn, void *ctx)
{
	const uint32_t *next = d->next, *acc = d->accept;
	size_t i, lead = count_from < len ? count_from : len;
	uint32_t s = *state_inout;
	uint64_t n = 0;

	if (!fn)
		return mk_dfa_scan_count(d, buf, len, count_from, state_inout);
	for (i = 0; i < lead; i++)
		s = mk_dfa_step(next, s, buf[i]);
	for (; i < len; i++) {
		s = mk_dfa_step(next, s, buf[i]);
		if (!acc[s])
			continue;
		n += acc[s];
		report_hits(d, s, i + 1, fn, ctx);
	}
	*state_inout = s;
	return n;
}

/* ---- hit table for table-driven backends ----------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Row @s of a literal set: own outputs along the output links, sorted. */
static void fill_out_row(const struct mk_dfa *d, uint32_t s, uint32_t *row)
{
	uint32_t q, k, n = 0;

	for (q = has_own(d, s) ? s : d->out_link[s]; q != NO_STATE;
	     q = d->out_link[q])
		for (k = d->own_start[q]; k < d->own_start[q + 1]; k++)
			row[n++] = d->own_pat[k];
	if (n > 1) /* each link's list is ascending; their union is not */
		qsort(row, n, sizeof(*row), cmp_u32);
}

int mk_dfa_out_table(const struct mk_dfa *d, size_t max_entries,
		     uint32_t **off, uint32_t **pat, struct mk_err *err)
{
	uint64_t total = 0;
	uint32_t *o, *p, s;

	for (s = 0; s < d->states; s++)
		total += d->accept[s];
	if (total > max_entries || total > UINT32_MAX)
		return mk_err_setf(err, -E2BIG,
				   "use fewer patterns that end in other "
				   "patterns, or -o backend=cpu",
				   "the hit table of this pattern set needs "
				   "%llu entries, more than %zu",
				   (unsigned long long)total, max_entries);
	o = malloc(((size_t)d->states + 1) * sizeof(*o));
	p = calloc(total ? (size_t)total : 1, sizeof(*p));
	if (!o || !p) {
		free(o);
		free(p);
		return mk_err_set(err, -ENOMEM, "out of memory for a hit table",
				  "free memory or use a smaller pattern set");
	}
	o[0] = 0;
	for (s = 0; s < d->states; s++) {
		o[s + 1] = o[s] + d->accept[s];
		if (!d->binary && d->accept[s])
			fill_out_row(d, s, p + o[s]);
	}
	*off = o;
	*pat = p; /* binary DFA: calloc's zeros are pattern 0 */
	return 0;
}
