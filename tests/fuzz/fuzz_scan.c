/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_scan.c - libFuzzer harness for the host decoder of the
 * SCAN_CHUNK extension slot (runtime/scan.h, mk_scan_exec_host in
 * runtime/stream.c): a fuzzed slot (buffer index, length, count_from, set
 * index, start state, file offset, hit capacity; any values, as ring/raw
 * can write) against an env with exactly-sized staging buffers and hit
 * arrays, a compiled literal set and a small binary DFA. Checks: bad
 * indices change nothing; otherwise the result equals mk_dfa_scan_count on
 * the clamped length and state, nhits = min(matches, capacity), overflow
 * iff more matches than capacity, and every hit is a real match in file
 * offset order. A flag makes the buffer >= 64 KiB (several hit pieces).
 * The binary table's accept counts are mostly small, sometimes at or past
 * the loader's bound MK_DFA_MAX_PATTERNS (then the set is not loaded).
 * Run: scripts/fuzz.sh (seeds: tests/fuzz/corpus/scan/).
 * MK_FUZZ_SOURCES: runtime/[a-z]*.c
 * MK_FUZZ_LIBS: -luring -lpthread -lm
 * MK_FUZZ_OPTIONS: -max_len=4096
 */
#include <errno.h>
#include <string.h>

#include "runtime/dfa.h"
#include "runtime/scan.h"
#include "runtime/stream.h"
#include "tests/fuzz/mk_fuzz.h"

#define SC_BIG ((size_t)140 * 1024) /* > 2 hit pieces of 64 KiB */

struct sc_rig {
	struct mk_scan_env *env;
	uint8_t *buf;
	size_t cap;
	struct mk_dfa *set[2];
	uint32_t w[MK_SLOT_WORDS];
};

/* Set 0: literals from the fuzz input; set 1: a 2-state binary DFA. */
static void sc_sets(struct sc_rig *r, struct t_in *in)
{
	uint8_t tbl[2 * MK_DFA_STATE_BYTES];
	size_t tlen = t_in_below(in, 48), i;
	uint32_t v;

	tlen = tlen < in->n ? tlen : in->n;
	if (mk_dfa_compile_literals(in->p, tlen, &r->set[0], NULL))
		r->set[0] = NULL;
	in->p += tlen;
	in->n -= tlen;
	for (i = 0; i < 512; i++) {
		v = (t_in_u8(in) >> (i & 7u)) & 1u;
		memcpy(tbl + 4 * i, &v, 4);
	}
	for (i = 0; i < 2; i++) {
		v = t_in_u8(in);
		v = v < 0xF8u ? v % 4u :
		    v < 0xFCu ? MK_DFA_MAX_PATTERNS - 1u + (v & 1u) :
				t_in_edge_u32(in);
		memcpy(tbl + 4 * (512 + i), &v, 4);
	}
	if (mk_dfa_load_binary(tbl, sizeof(tbl), &r->set[1], NULL))
		r->set[1] = NULL;
}

static void sc_init(struct sc_rig *r, struct t_in *in, uint8_t flags)
{
	size_t i, hits;
	uint8_t tag;

	r->env = calloc(1, sizeof(*r->env));
	if (!r->env)
		abort();
	sc_sets(r, in);
	for (i = 0; i < 2; i++) {
		if (!r->set[i] || (flags & (1u << i)))
			continue; /* leave some sets unregistered */
		r->env->dfas[i + 1] = r->set[i];
		r->env->sets[i + 1] = mk_dfa_view(r->set[i]);
	}
	for (i = 0; i < MK_SLOT_WORDS; i++)
		r->w[i] = t_in_edge_u32(in);
	r->w[MK_OPCODE_WORD] = MK_OP_SCAN_CHUNK;
	tag = t_in_u8(in);
	/* Mostly valid indices: buffer 2, sets 1..2. */
	if (tag & 1u)
		r->w[MK_ARG0_WORD] = 2;
	if (tag & 2u)
		r->w[MK_ARG0_WORD + 3] = 1u + (tag >> 7);
	if (tag & 4u)
		r->w[MK_ARG0_WORD + 7] = t_in_below(in, 8);
	r->cap = (flags & 0x80u) ? SC_BIG : t_in_below(in, 300);
	r->buf = t_fuzz_alloc(r->cap);
	for (i = 0; i < r->cap; i++)
		r->buf[i] = in->n ? in->p[i % in->n] : (uint8_t)i;
	r->env->bufs[2] = r->buf;
	r->env->caps[2] = (uint32_t)r->cap;
	hits = r->w[MK_ARG0_WORD + 7] < MK_SCAN_HITS_CAP ?
		       r->w[MK_ARG0_WORD + 7] :
		       MK_SCAN_HITS_CAP;
	r->env->hits[2] = t_fuzz_alloc(hits * sizeof(struct mk_scan_hit));
}

static void sc_fini(struct sc_rig *r)
{
	free(r->env->hits[2]);
	free(r->env);
	free(r->buf);
	mk_dfa_destroy(r->set[0]);
	mk_dfa_destroy(r->set[1]);
}

static void sc_check_hits(const struct sc_rig *r, const struct mk_dfa *d,
			  uint64_t base, uint32_t len, uint32_t from)
{
	const struct mk_scan_out *o = &r->env->outs[2];
	const struct mk_scan_hit *h = r->env->hits[2];
	uint64_t prev = 0, end;
	const uint8_t *p;

	uint32_t i, plen = 0;

	for (i = 0; i < o->nhits; i++) {
		end = h[i].end_offset - base; /* u64 wrapping, like the file offset */
		T_FUZZ_CHECK(end > from && end <= len && end >= prev,
			     "hit %u ends at %llu (from %u, len %u)", i,
			     (unsigned long long)end, from, len);
		prev = end;
		if (mk_dfa_is_binary(d)) {
			T_FUZZ_CHECK(h[i].pattern == 0, "binary hit pattern %u",
				     h[i].pattern);
			continue;
		}
		p = mk_dfa_pattern(d, h[i].pattern, &plen);
		T_FUZZ_CHECK(p && plen <= end &&
				     memcmp(r->buf + end - plen, p, plen) == 0,
			     "hit %u is not pattern %u", i, h[i].pattern);
	}
}

static void fuzz_scan_one(const uint8_t *data, size_t size)
{
	struct t_in in = { data, size };
	uint8_t flags = t_in_u8(&in);
	struct mk_scan_out before;
	const struct mk_dfa *d;
	uint32_t bi, set, len, from, st, hcap;
	uint64_t want, base;
	struct sc_rig r;

	memset(&r, 0, sizeof(r));
	sc_init(&r, &in, flags);
	bi = r.w[MK_ARG0_WORD];
	set = r.w[MK_ARG0_WORD + 3];
	before = r.env->outs[2];
	mk_scan_exec_host(r.env, r.w);
	if (bi >= MK_SCAN_MAX_BUFS || set >= MK_SCAN_MAX_SETS ||
	    !r.env->bufs[bi] || !r.env->dfas[set]) {
		T_FUZZ_CHECK(memcmp(&before, &r.env->outs[2], sizeof(before)) == 0,
			     "bad indices (buffer %u, set %u) wrote a result",
			     bi, set);
		goto out_fini;
	}
	d = r.env->dfas[set];
	len = r.w[MK_ARG0_WORD + 1] < r.cap ? r.w[MK_ARG0_WORD + 1] :
					      (uint32_t)r.cap;
	from = r.w[MK_ARG0_WORD + 2];
	st = r.w[MK_ARG0_WORD + 4] < mk_dfa_states(d) ? r.w[MK_ARG0_WORD + 4] :
							0u;
	hcap = r.w[MK_ARG0_WORD + 7] < MK_SCAN_HITS_CAP ?
		       r.w[MK_ARG0_WORD + 7] :
		       MK_SCAN_HITS_CAP;
	base = (uint64_t)r.w[MK_ARG0_WORD + 6] << 32 | r.w[MK_ARG0_WORD + 5];
	want = mk_dfa_scan_count(d, r.buf, len, from, &st);
	T_FUZZ_CHECK(r.env->outs[2].matches == want &&
			     r.env->outs[2].end_state == st,
		     "SCAN_CHUNK %llu/%u, scan_count %llu/%u",
		     (unsigned long long)r.env->outs[2].matches,
		     r.env->outs[2].end_state, (unsigned long long)want, st);
	T_FUZZ_CHECK(r.env->outs[2].nhits == (want < hcap ? want : hcap) &&
			     r.env->outs[2].overflow == (want > hcap),
		     "nhits %u overflow %u for %llu matches, capacity %u",
		     r.env->outs[2].nhits, r.env->outs[2].overflow,
		     (unsigned long long)want, hcap);
	sc_check_hits(&r, d, base, len, from);
out_fini:
	sc_fini(&r);
}

MK_FUZZ_ENTRY(fuzz_scan_one)
