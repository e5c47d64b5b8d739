/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_model.c - libFuzzer harness for the deterministic
 * reference model (runtime/model.c, mk_model_run) over fuzzed rings (any
 * word count, statuses, tenants, opcodes), fuzzed control buffers
 * (garbage tenant pointer, priority offsets, starvation counter) and debug
 * logs, both variants, with a small max_iters. Checks: no crash and no
 * access past the bound buffers; the documented return values; slot
 * statuses move only PUBLISHED/YIELD/REQUEUE -> CLAIMED/DONE and nothing
 * else in the ring changes; two runs on copies give identical buffers.
 * Fixed bug (test_fuzz_regress_model_wrapped_partition): a priority
 * partition whose end is below its start took ~2^32/S probes per pass;
 * priority offsets and the ring are fuzzed unrestricted.
 * Run: scripts/fuzz.sh (seeds: tests/fuzz/corpus/model/).
 * MK_FUZZ_SOURCES: runtime/model.c runtime/proto.c runtime/err.c
 * MK_FUZZ_OPTIONS: -max_len=4096 -timeout=10
 */
#include <errno.h>
#include <string.h>

#include "runtime/model.h"
#include "runtime/proto.h"
#include "tests/fuzz/mk_fuzz.h"

#define MD_MAX_LANES 12u

struct md_bufs {
	uint32_t *ctl, *ring, *dbg;
	struct mk_exec x;
};

static uint32_t *md_alloc_copy(const uint32_t *src, uint32_t n)
{
	uint32_t *w = t_fuzz_alloc((size_t)n * 4u);

	if (n)
		memcpy(w, src, (size_t)n * 4u);
	return w;
}

static void md_fill_ring(uint32_t *ring, uint32_t words, struct t_in *in)
{
	uint32_t i;

	for (i = 0; i < words; i++) {
		uint8_t tag = t_in_u8(in);

		switch (i % MK_SLOT_WORDS) {
		case MK_STATUS_WORD:
			ring[i] = tag < 0xF0u ? tag % 8u : t_in_edge_u32(in);
			break;
		case MK_OPCODE_WORD:
			ring[i] = tag < 0xC0u ? tag % 8u : t_in_edge_u32(in);
			break;
		case MK_TENANT_WORD:
			ring[i] = tag < 0xF0u ? tag % 4u : t_in_edge_u32(in);
			break;
		default:
			ring[i] = tag < 0x80u ? tag : t_in_edge_u32(in);
			break;
		}
	}
}

/* Control words: defaults of the encoder, then fuzzed overrides. */
static void md_fill_ctl(uint32_t *ctl, uint32_t words, uint32_t lanes,
			struct t_in *in)
{
	uint32_t off[MK_CTL_PRIORITY_OFFSETS_SLOTS], i, k, n;

	memset(ctl, 0, (size_t)words * 4u);
	if (words > MK_CTL_TENANT_BASE)
		ctl[MK_CTL_TENANT_BASE] = MK_CTL_TENANT_MASK_DEFAULT;
	for (i = MK_CTL_TENANT_MASK_DEFAULT; i < 7u && i < words; i++)
		ctl[i] = MK_TENANT_MASK_ALL;
	mk_proto_default_priority_offsets(lanes, off);
	for (i = 0; i < MK_CTL_PRIORITY_OFFSETS_SLOTS; i++)
		if (MK_CTL_PRIORITY_OFFSETS_BASE + i < words)
			ctl[MK_CTL_PRIORITY_OFFSETS_BASE + i] = off[i];
	n = t_in_below(in, 24);
	for (k = 0; k < n && words; k++) {
		uint8_t tag = t_in_u8(in);

		/* Aim at the words the scheduler reads most of the time. */
		i = tag < 0x60u ? MK_CTL_PRIORITY_OFFSETS_BASE + tag % 7u :
		    tag < 0x80u ? tag % 8u :
				  t_in_below(in, words);
		if (i < words)
			ctl[i] = (t_in_u8(in) & 1u) ? t_in_below(in, 20) :
						      t_in_edge_u32(in);
	}
}

static void md_init(struct md_bufs *b, struct t_in *in, uint32_t lanes)
{
	uint8_t shape = t_in_u8(in);

	memset(&b->x, 0, sizeof(b->x)); /* no DFA sets: DFA_STEP is a no-op */
	b->x.ring_words = (shape & 1u) ?
				  t_in_below(in, MD_MAX_LANES * 16u + 20u) :
				  t_in_below(in, MD_MAX_LANES + 1u) * 16u;
	b->x.ctl_words = (shape & 2u) ? t_in_below(in, 200) :
					MK_CONTROL_MIN_WORDS + t_in_below(in, 8);
	b->x.dbg_words = (shape & 4u) ? t_in_below(in, 30) :
					MK_DEBUG_BUFFER_WORDS;
	b->ring = t_fuzz_alloc((size_t)b->x.ring_words * 4u);
	b->ctl = t_fuzz_alloc((size_t)b->x.ctl_words * 4u);
	b->dbg = t_fuzz_alloc((size_t)b->x.dbg_words * 4u);
	memset(b->dbg, 0, (size_t)b->x.dbg_words * 4u);
	if (b->x.dbg_words && (shape & 8u))
		b->dbg[0] = t_in_edge_u32(in);
	md_fill_ring(b->ring, b->x.ring_words, in);
	md_fill_ctl(b->ctl, b->x.ctl_words, lanes, in);
	b->x.ring = b->ring;
	b->x.ctl = b->ctl;
	b->x.dbg = b->dbg;
}

static void md_copy(struct md_bufs *dst, const struct md_bufs *src)
{
	dst->x = src->x;
	dst->ring = md_alloc_copy(src->ring, src->x.ring_words);
	dst->ctl = md_alloc_copy(src->ctl, src->x.ctl_words);
	dst->dbg = md_alloc_copy(src->dbg, src->x.dbg_words);
	dst->x.ring = dst->ring;
	dst->x.ctl = dst->ctl;
	dst->x.dbg = dst->dbg;
}

static void md_free(struct md_bufs *b)
{
	free(b->ring);
	free(b->ctl);
	free(b->dbg);
}

/* Status moves allowed by one model run (4.3, 6.3), per slot. */
static int md_status_move_ok(uint32_t from, uint32_t to, int in_lanes)
{
	if (from == to)
		return 1;
	if (!in_lanes)
		return 0;
	if (from == MK_SLOT_PUBLISHED || from == MK_SLOT_YIELD ||
	    from == MK_SLOT_REQUEUE)
		return to == MK_SLOT_CLAIMED || to == MK_SLOT_DONE;
	return 0;
}

static void md_check_ring(const struct md_bufs *before,
			  const struct md_bufs *after, uint32_t lanes)
{
	uint32_t i, s;

	for (i = 0; i < after->x.ring_words; i++) {
		s = i / MK_SLOT_WORDS;
		if (i % MK_SLOT_WORDS == MK_STATUS_WORD &&
		    (uint64_t)(s + 1u) * MK_SLOT_WORDS <= after->x.ring_words)
			T_FUZZ_CHECK(md_status_move_ok(before->ring[i],
						       after->ring[i],
						       s < lanes),
				     "slot %u status %u -> %u (%u lanes)", s,
				     before->ring[i], after->ring[i], lanes);
		else
			T_FUZZ_CHECK(before->ring[i] == after->ring[i],
				     "ring word %u changed %u -> %u", i,
				     before->ring[i], after->ring[i]);
	}
}

static void fuzz_model_one(const uint8_t *data, size_t size)
{
	struct t_in in = { data, size };
	struct md_bufs b, orig, again;
	uint32_t lanes = t_in_below(&in, MD_MAX_LANES + 1u);
	uint8_t mode = t_in_u8(&in);
	int variant = (mode & 0x40u) ? (int)(mode % 4u) : (int)(mode & 1u);
	int once = (mode >> 2) & 1, fix = (mode >> 3) & 1;
	uint32_t max_iters = t_in_below(&in, 9);
	int rc, rc2;

	md_init(&b, &in, lanes);
	md_copy(&orig, &b);
	md_copy(&again, &b);
	rc = mk_model_run(&b.x, lanes, variant, once, max_iters, fix);
	if (variant != MK_MODEL_SHARDED && variant != MK_MODEL_PRIORITY)
		T_FUZZ_CHECK(rc == -EINVAL, "variant %d -> %d", variant, rc);
	else if (lanes == 0)
		T_FUZZ_CHECK(rc == 0, "0 lanes -> %d", rc);
	else if (once)
		T_FUZZ_CHECK(rc == 1, "once -> %d", rc);
	else
		T_FUZZ_CHECK(rc == -ETIMEDOUT || (rc >= 1 &&
						  (uint32_t)rc <= max_iters),
			     "max_iters %u -> %d", max_iters, rc);
	md_check_ring(&orig, &b, lanes);
	rc2 = mk_model_run(&again.x, lanes, variant, once, max_iters, fix);
	T_FUZZ_CHECK(rc2 == rc, "second run %d, first %d", rc2, rc);
	T_FUZZ_CHECK(memcmp(again.ring, b.ring, b.x.ring_words * 4u) == 0 &&
			     memcmp(again.ctl, b.ctl, b.x.ctl_words * 4u) == 0 &&
			     memcmp(again.dbg, b.dbg, b.x.dbg_words * 4u) == 0,
		     "the model is not deterministic");
	md_free(&again);
	md_free(&orig);
	md_free(&b);
}

MK_FUZZ_ENTRY(fuzz_model_one)
