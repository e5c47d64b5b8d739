/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_interp.c - libFuzzer harness for the opcode semantics of
 * runtime/interp.h on raw input: a fuzzed 16-word slot (any opcode, any
 * packed payload bytes) run by mk_exec_claimed against exactly-sized
 * control and debug-log buffers of fuzzed lengths and hand-made DFA sets (0 words included),
 * plus the claim helpers. ASan catches any access past the bound lengths
 * (PROTOCOL.md 0.3: out-of-range loads read 0, stores vanish). Checks: the
 * slot ends DONE and no other ring word moves; the debug log changes
 * exactly as PROTOCOL.md 5.10 says (only PRINTF); the run is deterministic.
 * Run: scripts/fuzz.sh (seeds: tests/fuzz/corpus/interp/).
 * MK_FUZZ_SOURCES: runtime/err.c
 * MK_FUZZ_OPTIONS: -max_len=4096
 */
#include <string.h>

#include "runtime/interp.h"
#include "tests/fuzz/mk_fuzz.h"

struct ip_bufs {
	uint32_t *ctl, *dbg, *ring;
	struct mk_dfa_view *sets;
	struct mk_exec x;
};

/* @n words: mostly small values, so indices often land in range. */
static uint32_t *ip_words(struct t_in *in, uint32_t n)
{
	uint32_t *w = t_fuzz_alloc((size_t)n * 4u);
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint8_t tag = t_in_u8(in);

		w[i] = tag < 64u ? 0u : tag < 160u ? tag - 64u : t_in_edge_u32(in);
	}
	return w;
}

static void ip_dup_into(struct ip_bufs *dst, const struct ip_bufs *src)
{
	const struct mk_exec *s = &src->x;

	dst->ctl = t_fuzz_alloc((size_t)s->ctl_words * 4u);
	dst->dbg = t_fuzz_alloc((size_t)s->dbg_words * 4u);
	dst->ring = t_fuzz_alloc((size_t)s->ring_words * 4u);
	memcpy(dst->ctl, src->ctl, (size_t)s->ctl_words * 4u);
	memcpy(dst->dbg, src->dbg, (size_t)s->dbg_words * 4u);
	memcpy(dst->ring, src->ring, (size_t)s->ring_words * 4u);
	dst->sets = NULL;
	dst->x = *s;
	dst->x.ctl = dst->ctl;
	dst->x.dbg = dst->dbg;
	dst->x.ring = dst->ring;
}

static void ip_free(struct ip_bufs *b)
{
	free(b->ctl);
	free(b->dbg);
	free(b->ring);
	if (b->sets)
		t_fuzz_sets_free(b->sets, b->x.nsets);
}

/* Ring of @slots slots; the slot at @base gets the fuzzed image @w. */
static void ip_init(struct ip_bufs *b, struct t_in *in, uint32_t slots)
{
	memset(&b->x, 0, sizeof(b->x));
	b->x.ctl_words = (t_in_u8(in) & 1u) ? t_in_below(in, 40) :
					      t_in_below(in, 200);
	b->x.dbg_words = t_in_below(in, 4u * 6u + 3u);
	b->x.ring_words = slots * MK_SLOT_WORDS;
	b->ctl = ip_words(in, b->x.ctl_words);
	b->dbg = ip_words(in, b->x.dbg_words);
	b->ring = ip_words(in, b->x.ring_words);
	b->sets = t_fuzz_sets_new(in, &b->x.nsets);
	b->x.ctl = b->ctl;
	b->x.dbg = b->dbg;
	b->x.ring = b->ring;
	b->x.sets = b->sets;
}

/*
 * The debug log after @w ran (PROTOCOL.md 5.10): only PRINTF touches it;
 * cursor += 4, and the record goes to base = old + 1 when base + 4 <= words,
 * each store bounds-checked, all u32 wrapping (a garbage cursor of
 * 0xFFFFFFFC.. can make a store land on the cursor itself: the reference's
 * pathological case, reproduced on purpose).
 */
static void ip_expect_dbg(uint32_t *dbg, uint32_t words, uint32_t base,
			  const uint32_t *w)
{
	uint32_t rec[4], old, at, k;

	if (w[MK_OPCODE_WORD] != MK_OP_PRINTF || !words)
		return;
	rec[0] = w[MK_ARG0_WORD];
	rec[1] = w[MK_ARG0_WORD + 1];
	rec[2] = w[MK_ARG0_WORD + 2];
	rec[3] = base;
	old = dbg[0];
	dbg[0] = old + MK_DEBUG_RECORD_WORDS;
	at = old + 1u;
	if (at + 4u > words)
		return;
	for (k = 0; k < 4; k++)
		if (at + k < words)
			dbg[at + k] = rec[k];
}

static void ip_check_exec(struct ip_bufs *b, uint32_t base, const uint32_t *w)
{
	struct ip_bufs again;
	uint32_t *ring0 = t_fuzz_alloc((size_t)b->x.ring_words * 4u);
	uint32_t *dbg0 = t_fuzz_alloc((size_t)b->x.dbg_words * 4u);
	uint32_t i;

	memcpy(ring0, b->ring, (size_t)b->x.ring_words * 4u);
	memcpy(dbg0, b->dbg, (size_t)b->x.dbg_words * 4u);
	ip_dup_into(&again, b);
	mk_exec_claimed(&b->x, base, w);
	mk_exec_claimed(&again.x, base, w);
	T_FUZZ_CHECK(b->ring[base + MK_STATUS_WORD] == MK_SLOT_DONE,
		     "slot not DONE after exec");
	ring0[base + MK_STATUS_WORD] = MK_SLOT_DONE;
	T_FUZZ_CHECK(memcmp(ring0, b->ring, (size_t)b->x.ring_words * 4u) == 0,
		     "exec changed a ring word other than the status");
	ip_expect_dbg(dbg0, b->x.dbg_words, base, w);
	T_FUZZ_CHECK(memcmp(dbg0, b->dbg, (size_t)b->x.dbg_words * 4u) == 0,
		     "debug log differs from PROTOCOL.md 5.10 (op 0x%x)",
		     w[MK_OPCODE_WORD]);
	T_FUZZ_CHECK(memcmp(again.ctl, b->ctl, (size_t)b->x.ctl_words * 4u) ==
				     0 &&
			     memcmp(again.dbg, b->dbg,
				    (size_t)b->x.dbg_words * 4u) == 0,
		     "exec is not deterministic");
	for (i = 0; i < b->x.ring_words; i++)
		T_FUZZ_CHECK(again.ring[i] == b->ring[i], "ring word %u", i);
	ip_free(&again);
	free(dbg0);
	free(ring0);
}

/* Claims on fuzzed statuses/tenants: only the status word can move. */
static void ip_check_claims(struct ip_bufs *b, uint32_t base, struct t_in *in)
{
	uint32_t st = b->ring[base + MK_STATUS_WORD], prio, won;

	if (t_in_u8(in) & 1u) {
		won = (uint32_t)mk_try_claim(&b->x, base);
		T_FUZZ_CHECK(!won || st == MK_SLOT_PUBLISHED,
			     "claimed a slot in status %u", st);
	} else {
		won = (uint32_t)mk_prio_try_claim(&b->x, base);
		T_FUZZ_CHECK(!won || mk_prio_schedulable(st),
			     "priority-claimed a slot in status %u", st);
	}
	T_FUZZ_CHECK(b->ring[base + MK_STATUS_WORD] ==
			     (won ? (uint32_t)MK_SLOT_CLAIMED : st),
		     "status %u after claim %u", b->ring[base], won);
	prio = mk_prio_partition(&b->x, t_in_edge_u32(in));
	T_FUZZ_CHECK(prio <= MK_PRIORITY_LEVELS, "partition %u", prio);
	if (won)
		mk_prio_account(&b->x, prio < MK_PRIORITY_LEVELS ? prio : 0u,
				b->ring[base + MK_TENANT_WORD]);
}

static void fuzz_interp_one(const uint8_t *data, size_t size)
{
	struct t_in in = { data, size };
	uint32_t w[MK_SLOT_WORDS], slots, base, i;
	struct ip_bufs b;

	slots = 1u + t_in_below(&in, 3);
	base = t_in_below(&in, slots) * MK_SLOT_WORDS;
	for (i = 0; i < MK_SLOT_WORDS; i++)
		w[i] = (t_in_u8(&in) & 1u) ? t_in_edge_u32(&in) : t_in_u32(&in);
	ip_init(&b, &in, slots);
	memcpy(&b.ring[base], w, sizeof(w));
	ip_check_claims(&b, base, &in);
	ip_check_exec(&b, base, w);
	ip_free(&b);
}

MK_FUZZ_ENTRY(fuzz_interp_one)
