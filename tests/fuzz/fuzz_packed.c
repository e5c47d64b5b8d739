/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_packed.c - libFuzzer harness for PACKED_SLOT (5.9): the
 * encoder mk_proto_encode_packed over fuzzed op lists (up to 300 ops, up
 * to 13 args each), and the kernel-side decoder mk_exec_packed /
 * mk_exec_claimed of runtime/interp.h on what it produced. Checks: the
 * errno equals an independent model of the encoder's rules; the payload
 * decodes back to the ops; and a slot encoded with at most 4 ops (always
 * so under MK_PACK_STRICT) executes exactly like its inner ops run one by
 * one (set index 0) with the args taken from the encoder's input, on
 * copies of the same control/debug buffers and DFA sets.
 * Run: scripts/fuzz.sh (seeds: tests/fuzz/corpus/packed/).
 * MK_FUZZ_SOURCES: runtime/proto.c runtime/err.c
 * MK_FUZZ_OPTIONS: -max_len=4096
 */
#include <errno.h>
#include <string.h>

#include "runtime/interp.h"
#include "runtime/proto.h"
#include "tests/fuzz/mk_fuzz.h"

#define PK_MAX_OPS 300u

struct pk_ops {
	struct mk_proto_packed_op op[PK_MAX_OPS];
	uint32_t *args[PK_MAX_OPS];
	size_t n;
	unsigned flags;
	uint32_t flat[MK_ARGS_PER_SLOT]; /* all args in order, zero tail */
};

static void pk_ops_init(struct pk_ops *o, struct t_in *in)
{
	uint8_t shape = t_in_u8(in);
	size_t i, j, k = 0;

	o->flags = t_in_u8(in);
	o->n = (shape & 0x80u) ? shape + t_in_u8(in) : shape % 8u;
	if (o->n > PK_MAX_OPS)
		o->n = PK_MAX_OPS;
	memset(o->flat, 0, sizeof(o->flat));
	for (i = 0; i < o->n; i++) {
		o->op[i].opcode = t_in_u8(in);
		o->op[i].nargs = t_in_below(in, 14);
		o->args[i] = t_fuzz_alloc(o->op[i].nargs * sizeof(uint32_t));
		for (j = 0; j < o->op[i].nargs; j++) {
			o->args[i][j] = t_in_edge_u32(in);
			if (k < MK_ARGS_PER_SLOT)
				o->flat[k++] = o->args[i][j];
		}
		o->op[i].args = o->args[i];
	}
}

static void pk_ops_fini(struct pk_ops *o)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		free(o->args[i]);
}

static uint32_t pk_meta(size_t n)
{
	return (uint32_t)((2u + 2u * n + 3u) / 4u);
}

/* The encoder's rules (5.9 and proto.h), written from the contract. */
static int pk_ref_encode(const struct pk_ops *o)
{
	uint32_t meta = pk_meta(o->n);
	size_t i, total = 0;

	if (o->n > 255u || meta > MK_ARGS_PER_SLOT)
		return -EOVERFLOW;
	for (i = 0; i < o->n; i++) {
		total += o->op[i].nargs;
		if (meta + total > MK_ARGS_PER_SLOT)
			return -EOVERFLOW;
	}
	if (!(o->flags & MK_PACK_STRICT))
		return 0;
	if (o->n > MK_PACKED_MAX_INNER_OPS)
		return -EINVAL;
	for (i = 0, total = 0; i < o->n; i++) {
		if (meta + total + 3u > MK_ARGS_PER_SLOT)
			return -EINVAL;
		total += o->op[i].nargs;
	}
	return 0;
}

static uint32_t pk_byte(const uint32_t *payload, uint32_t b)
{
	return (payload[b / 4u] >> (8u * (b % 4u))) & 0xFFu;
}

static void pk_check_payload(const struct pk_ops *o, const uint32_t *payload,
			     size_t nwords)
{
	uint32_t meta = pk_meta(o->n), w = meta;
	size_t i, j;

	T_FUZZ_CHECK(nwords <= MK_ARGS_PER_SLOT, "nwords %zu", nwords);
	T_FUZZ_CHECK(pk_byte(payload, 0) == o->n, "byte 0 = %u, n = %zu",
		     pk_byte(payload, 0), o->n);
	for (i = 0; i < o->n; i++) {
		T_FUZZ_CHECK(pk_byte(payload, 2u + 2u * (uint32_t)i) ==
				     o->op[i].opcode &&
			     pk_byte(payload, 3u + 2u * (uint32_t)i) == w - meta,
		     "op %zu metadata", i);
		for (j = 0; j < o->op[i].nargs; j++)
			T_FUZZ_CHECK(payload[w++] == o->args[i][j],
				     "op %zu arg %zu", i, j);
	}
	T_FUZZ_CHECK(pk_byte(payload, 1) == w - meta && nwords == w,
		     "total %u, nwords %zu, want %u", pk_byte(payload, 1),
		     nwords, w);
	for (; w < MK_ARGS_PER_SLOT; w++)
		T_FUZZ_CHECK(payload[w] == 0, "payload word %u not zero", w);
}

/* Two identical sets of buffers: A runs the packed slot, B the oracle. */
struct pk_bufs {
	uint32_t *ctl[2], *dbg[2], *ring[2];
	uint32_t ctl_words, dbg_words, nsets;
	struct mk_dfa_view *sets;
	struct mk_exec x[2];
};

static uint32_t *pk_words(struct t_in *in, uint32_t n)
{
	uint32_t *w = t_fuzz_alloc((size_t)n * 4u);
	uint32_t i;

	for (i = 0; i < n; i++)
		w[i] = (t_in_u8(in) & 1u) ? t_in_edge_u32(in) : 0u;
	return w;
}

static void pk_bufs_init(struct pk_bufs *b, struct t_in *in)
{
	int k;

	b->ctl_words = t_in_below(in, MK_CONTROL_MIN_WORDS + 24u);
	b->dbg_words = t_in_below(in, 1u + 4u * 4u + 3u);
	b->ctl[0] = pk_words(in, b->ctl_words);
	b->dbg[0] = pk_words(in, b->dbg_words);
	b->sets = t_fuzz_sets_new(in, &b->nsets);
	b->ctl[1] = t_fuzz_alloc((size_t)b->ctl_words * 4u);
	b->dbg[1] = t_fuzz_alloc((size_t)b->dbg_words * 4u);
	memcpy(b->ctl[1], b->ctl[0], (size_t)b->ctl_words * 4u);
	memcpy(b->dbg[1], b->dbg[0], (size_t)b->dbg_words * 4u);
	for (k = 0; k < 2; k++) {
		b->ring[k] = t_fuzz_alloc(MK_SLOT_BYTES);
		memset(b->ring[k], 0, MK_SLOT_BYTES);
		memset(&b->x[k], 0, sizeof(b->x[k]));
		b->x[k].ctl = b->ctl[k];
		b->x[k].ring = b->ring[k];
		b->x[k].dbg = b->dbg[k];
		b->x[k].ctl_words = b->ctl_words;
		b->x[k].ring_words = MK_SLOT_WORDS;
		b->x[k].dbg_words = b->dbg_words;
		b->x[k].sets = b->sets;
		b->x[k].nsets = b->nsets;
	}
}

static void pk_bufs_fini(struct pk_bufs *b)
{
	int k;

	for (k = 0; k < 2; k++) {
		free(b->ctl[k]);
		free(b->dbg[k]);
		free(b->ring[k]);
	}
	t_fuzz_sets_free(b->sets, b->nsets);
}

/*
 * Run the packed slot on A and the expected inner ops on B. The kernel
 * clamps to 4 ops and skips an op whose 3 arg words leave the payload; with
 * n <= 4 its metadata size equals the encoder's, so op i reads flat[off_i
 * .. off_i + 2] of the encoder's input.
 */
static void pk_check_exec(const struct pk_ops *o, const uint32_t *payload,
			  struct t_in *in)
{
	uint32_t w[MK_SLOT_WORDS], meta = pk_meta(o->n), off = 0;
	struct pk_bufs b;
	size_t i;

	pk_bufs_init(&b, in);
	w[MK_STATUS_WORD] = MK_SLOT_CLAIMED;
	w[MK_OPCODE_WORD] = MK_OP_PACKED_SLOT;
	w[MK_TENANT_WORD] = t_in_u8(in);
	w[MK_PRIORITY_WORD] = MK_PRIORITY_NORMAL;
	memcpy(&w[MK_ARG0_WORD], payload, MK_ARGS_PER_SLOT * 4u);
	memcpy(b.ring[0], w, sizeof(w));
	memcpy(b.ring[1], w, sizeof(w));
	mk_exec_claimed(&b.x[0], 0, w);
	if (o->n <= MK_PACKED_MAX_INNER_OPS) {
		for (i = 0; i < o->n; i++) {
			if (meta + off + 3u <= MK_ARGS_PER_SLOT)
				mk_exec_op(&b.x[1], 0, o->op[i].opcode,
					   o->flat[off], o->flat[off + 1],
					   o->flat[off + 2], 0u);
			off += (uint32_t)o->op[i].nargs;
		}
		mk_ctl_add(&b.x[1], MK_CTL_DONE_COUNT, 1u);
		b.ring[1][MK_STATUS_WORD] = MK_SLOT_DONE;
		T_FUZZ_CHECK(memcmp(b.ctl[0], b.ctl[1], b.ctl_words * 4u) == 0,
			     "packed exec: control differs from inner ops");
		T_FUZZ_CHECK(memcmp(b.dbg[0], b.dbg[1], b.dbg_words * 4u) == 0,
			     "packed exec: debug log differs from inner ops");
		T_FUZZ_CHECK(memcmp(b.ring[0], b.ring[1], MK_SLOT_BYTES) == 0,
			     "packed exec: slot differs");
	}
	T_FUZZ_CHECK(b.ring[0][MK_STATUS_WORD] == MK_SLOT_DONE,
		     "packed slot not DONE");
	pk_bufs_fini(&b);
}

static void fuzz_packed_one(const uint8_t *data, size_t size)
{
	struct t_in in = { data, size };
	uint32_t payload[MK_ARGS_PER_SLOT];
	struct pk_ops *o = t_fuzz_alloc(sizeof(*o));
	size_t nwords = 0;
	struct mk_err e;
	int rc, ref;

	pk_ops_init(o, &in);
	ref = pk_ref_encode(o);
	mk_err_clear(&e);
	memset(payload, 0xee, sizeof(payload));
	rc = mk_proto_encode_packed(o->op, o->n, o->flags, payload, &nwords,
				    &e);
	T_FUZZ_CHECK(rc == ref, "encode_packed(%zu ops, flags 0x%x) = %d, want %d",
		     o->n, o->flags, rc, ref);
	if (rc) {
		T_FUZZ_CHECK_ERR(rc, &e);
	} else {
		pk_check_payload(o, payload, nwords);
		pk_check_exec(o, payload, &in);
	}
	pk_ops_fini(o);
	free(o);
}

MK_FUZZ_ENTRY(fuzz_packed_one)
