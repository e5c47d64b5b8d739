/* SPDX-License-Identifier: MIT */
/*
 * tests/check_interp.c - opcode semantics of runtime/interp.h driven through
 * the deterministic reference model (runtime/model.c): PROTOCOL.md 5.1-5.10,
 * 4.3/4.4 (shutdown, tenant masks), 6.3/6.4 (priority scan, starvation,
 * fairness) and the out-of-bounds rules of 0.3. Checklist items 6, 7, 9.
 * Run: ./build/release/tests/check_interp
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "runtime/abi.h"
#include "runtime/interp.h"
#include "runtime/model.h"
#include "runtime/proto.h"
#include "tests/mk_check.h"

/* One set of buffers: control, ring and a 64-record debug log. */
struct rig {
	uint32_t *ctl, *ring, *dbg;
	size_t clen, rlen, dlen;
	uint32_t slots;
	struct mk_exec x;
};

static void rig_init(struct rig *r, uint32_t slots, uint32_t tenants,
		     uint32_t obs)
{
	uint8_t *c = NULL, *g = NULL, *d = NULL;

	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(mk_proto_encode_control(0, tenants, obs, &c, &r->clen,
						 NULL),
			 0);
	ck_assert_int_eq(mk_proto_encode_empty_ring(slots, &g, &r->rlen, NULL),
			 0);
	ck_assert_int_eq(mk_proto_encode_empty_debug_log(64, &d, &r->dlen, NULL),
			 0);
	r->ctl = (uint32_t *)(void *)c;
	r->ring = (uint32_t *)(void *)g;
	r->dbg = (uint32_t *)(void *)d;
	r->slots = slots;
	r->x.ctl = r->ctl;
	r->x.ring = r->ring;
	r->x.dbg = r->dbg;
	r->x.ctl_words = (uint32_t)(r->clen / 4u);
	r->x.ring_words = (uint32_t)(r->rlen / 4u);
	r->x.dbg_words = (uint32_t)(r->dlen / 4u);
}

static void rig_fini(struct rig *r)
{
	free(r->ctl);
	free(r->ring);
	free(r->dbg);
}

static void pub(struct rig *r, uint32_t slot, uint32_t tenant, uint32_t op,
		uint32_t a0, uint32_t a1, uint32_t a2)
{
	uint32_t args[3] = { a0, a1, a2 };

	ck_assert_int_eq(mk_proto_publish_slot(r->ring, r->rlen, slot, tenant,
					       op, args, 3, NULL),
			 0);
}

static int once(struct rig *r)
{
	return mk_model_run(&r->x, r->slots, MK_MODEL_SHARDED, 1, 0, 0);
}

static int prio_once(struct rig *r, int fix)
{
	return mk_model_run(&r->x, r->slots, MK_MODEL_PRIORITY, 1, 0, fix);
}

static uint32_t st(const struct rig *r, uint32_t slot)
{
	return r->ring[slot * MK_SLOT_WORDS];
}

/* Every metric word except @keep (96 + op) is zero. */
static void assert_only_metric(const struct rig *r, int keep, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < MK_CTL_METRICS_SLOTS; i++)
		ck_assert_msg(r->ctl[96 + i] == ((int)i == keep ? n : 0u),
			      "metric %u = %u", i, r->ctl[96 + i]);
}

/* ---- 5.1/5.4: the builtins ----------------------------------------------- */

START_TEST(test_interp_nop_counts_metric_and_done)
{
	struct rig r;

	rig_init(&r, 2, 1, 4);
	pub(&r, 0, 0, MK_OP_NOP, 0, 0, 0);
	ck_assert_int_eq(once(&r), 1);
	assert_only_metric(&r, 0, 1);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 1);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_DONE);
	ck_assert_uint_eq(st(&r, 1), MK_SLOT_EMPTY);
	/* republish the DONE slot: it runs again */
	pub(&r, 0, 0, MK_OP_NOP, 0, 0, 0);
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.ctl[96], 2);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 2);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_store_and_add_wrap)
{
	struct rig r;

	rig_init(&r, 4, 1, 4);
	pub(&r, 0, 0, MK_OP_STORE_U32, 0xFFFFFFFFu, 161, 0);
	pub(&r, 1, 0, MK_OP_ATOMIC_ADD, 2, 161, 0);
	pub(&r, 2, 0, MK_OP_STORE_U32, 0x1234, 0xFFFFFFFFu, 0); /* vanishes */
	pub(&r, 3, 0, MK_OP_ATOMIC_ADD, 5, 1000000, 0);	       /* vanishes */
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.ctl[161], 1); /* 0xFFFFFFFF + 2 wraps */
	ck_assert_uint_eq(r.ctl[97], 2);
	ck_assert_uint_eq(r.ctl[98], 2);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 4);
	ck_assert_uint_eq(r.ctl[160], 0);
	ck_assert_uint_eq(r.ctl[162], 0);
	ck_assert_uint_eq(st(&r, 2), MK_SLOT_DONE);
	ck_assert_uint_eq(st(&r, 3), MK_SLOT_DONE);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_load_u32_writes_observable_arg1)
{
	struct rig r;

	rig_init(&r, 3, 1, 4);
	r.ctl[MK_CTL_EPOCH] = 0xE0;
	pub(&r, 0, 0, MK_OP_LOAD_U32, MK_CTL_EPOCH, 2, 0);
	pub(&r, 1, 0, MK_OP_LOAD_U32, 99999, 1, 0); /* OOB source reads 0 */
	pub(&r, 2, 0, MK_OP_LOAD_U32, MK_CTL_EPOCH, 4, 0); /* 164: past end */
	r.ctl[161] = 0x55;
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.ctl[162], 0xE0);
	ck_assert_uint_eq(r.ctl[161], 0);
	ck_assert_uint_eq(r.ctl[99], 3);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 3);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_load_u32_observable_wraps_to_shutdown)
{
	struct rig r;

	rig_init(&r, 2, 1, 4);
	/* 160 + (2^32 - 160) wraps to word 0: a non-zero load shuts down */
	pub(&r, 0, 0, MK_OP_LOAD_U32, MK_CTL_TENANT_BASE, 0u - 160u, 0);
	pub(&r, 1, 0, MK_OP_NOP, 0, 0, 0);
	ck_assert_int_eq(mk_model_run(&r.x, 2, MK_MODEL_SHARDED, 0, 100, 0), 2);
	ck_assert_uint_eq(r.ctl[MK_CTL_SHUTDOWN], 3);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_DONE);
	ck_assert_uint_eq(st(&r, 1), MK_SLOT_PUBLISHED); /* lane 1 returned */
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 1);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_compare_swap_result_at_arg0)
{
	struct rig r;

	rig_init(&r, 2, 1, 8);
	r.ctl[5] = 10;
	r.ctl[6] = 20;
	pub(&r, 0, 0, MK_OP_COMPARE_SWAP, 5, 10, 11); /* succeeds */
	pub(&r, 1, 0, MK_OP_COMPARE_SWAP, 6, 99, 21); /* fails */
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.ctl[5], 11);
	ck_assert_uint_eq(r.ctl[165], 10); /* old == expected: success */
	ck_assert_uint_eq(r.ctl[6], 20);
	ck_assert_uint_eq(r.ctl[166], 20); /* old != expected: failure */
	ck_assert_uint_eq(r.ctl[100], 2);
	/* OOB target: old = 0, no write; result index 160 + arg0 wraps to 0 */
	pub(&r, 0, 0, MK_OP_COMPARE_SWAP, 0u - 160u, 0, 7);
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.ctl[MK_CTL_SHUTDOWN], 0);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 3);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_memcpy_forward_smear_and_oob)
{
	struct rig r;
	uint32_t i;

	rig_init(&r, 3, 1, 10);
	for (i = 0; i < 10; i++)
		r.ctl[160 + i] = 0xA0 + i;
	pub(&r, 0, 0, MK_OP_MEMCPY, 160, 161, 3);   /* overlapping: smear */
	pub(&r, 1, 0, MK_OP_MEMCPY, 100000, 166, 2); /* OOB source reads 0 */
	pub(&r, 2, 0, MK_OP_MEMCPY, 160, 100000, 5); /* OOB dest vanishes */
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.ctl[160], 0xA0);
	ck_assert_uint_eq(r.ctl[161], 0xA0);
	ck_assert_uint_eq(r.ctl[162], 0xA0);
	ck_assert_uint_eq(r.ctl[163], 0xA0);
	ck_assert_uint_eq(r.ctl[164], 0xA4);
	ck_assert_uint_eq(r.ctl[165], 0xA5);
	ck_assert_uint_eq(r.ctl[166], 0);
	ck_assert_uint_eq(r.ctl[167], 0);
	ck_assert_uint_eq(r.ctl[168], 0xA8);
	ck_assert_uint_eq(r.ctl[101], 3);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 3);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_memcpy_huge_count_finishes_and_wraps)
{
	struct rig r;
	uint32_t i;

	rig_init(&r, 1, 1, 10); /* 170 control words */
	for (i = 0; i < 10; i++)
		r.ctl[160 + i] = 0xA0 + i;
	/*
	 * n = 2^32 - 1 from 160 to 165: i < 5 copies 160..164 to 165..169;
	 * at i = 2^32 - 165 the destination wraps to word 0 and the source is
	 * 2^32 - 5 (out of range, 0), so words 0..163 become 0 (the metric
	 * counted before the handler too). DONE_COUNT is added afterwards.
	 */
	pub(&r, 0, 0, MK_OP_MEMCPY, 160, 165, 0xFFFFFFFFu);
	ck_assert_int_eq(once(&r), 1);
	for (i = 0; i < 164; i++)
		ck_assert_msg(r.ctl[i] == (i == 1 ? 1u : 0u), "word %u = %u", i,
			      r.ctl[i]);
	ck_assert_uint_eq(r.ctl[164], 0xA4);
	for (i = 0; i < 5; i++)
		ck_assert_uint_eq(r.ctl[165 + i], 0xA0 + i);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_DONE);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_memcpy_wrapping_destination)
{
	struct rig r;

	rig_init(&r, 1, 1, 4);
	r.ctl[162] = 0;
	r.ctl[163] = 0x55;
	/* i = 0, 1 land on 2^32-2, 2^32-1 (vanish); i = 2, 3 on words 0, 1 */
	pub(&r, 0, 0, MK_OP_MEMCPY, 160, 0xFFFFFFFEu, 4);
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.ctl[MK_CTL_SHUTDOWN], 0);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 0x56);
	ck_assert_uint_eq(r.ctl[MK_CTL_TENANT_BASE], 3);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_batch_fence_epoch_and_word_160)
{
	struct rig r;

	rig_init(&r, 2, 1, 4);
	pub(&r, 0, 0, MK_OP_BATCH_FENCE, 3, 0xBEEF, 0);
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.ctl[MK_CTL_EPOCH], 1);
	ck_assert_uint_eq(r.ctl[160], 0xBEEF);
	ck_assert_uint_eq(r.ctl[103], 1);
	ck_assert_uint_eq(r.ctl[163], 0); /* arg0 is ignored */
	pub(&r, 1, 0, MK_OP_BATCH_FENCE, 0, 0xCAFE, 0);
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.ctl[MK_CTL_EPOCH], 2);
	ck_assert_uint_eq(r.ctl[160], 0xCAFE);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_batch_publish_runs_items_then_fence)
{
	uint32_t a[2] = { 9, 161 };
	struct mk_proto_item items[2] = { { MK_OP_STORE_U32, a, 2 },
					  { MK_OP_NOP, NULL, 0 } };
	struct rig r;

	rig_init(&r, 4, 1, 4);
	ck_assert_int_eq(mk_proto_batch_publish(r.ring, r.rlen, 0, 0, items, 2,
						0x77, NULL),
			 3);
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.ctl[161], 9);
	ck_assert_uint_eq(r.ctl[160], 0x77);
	ck_assert_uint_eq(r.ctl[MK_CTL_EPOCH], 1);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 3);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_printf_record_layout)
{
	struct mk_debug_record rec[64];
	struct rig r;
	size_t n = 0;

	rig_init(&r, 4, 1, 0);
	pub(&r, 3, 0, MK_OP_PRINTF, 0xF00, 11, 22);
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.dbg[0], 4);
	ck_assert_uint_eq(r.dbg[1], 0xF00);
	ck_assert_uint_eq(r.dbg[2], 11);
	ck_assert_uint_eq(r.dbg[3], 22);
	ck_assert_uint_eq(r.dbg[4], 48); /* slot_base = 16 * slot 3 */
	assert_only_metric(&r, -1, 0);	 /* PRINTF is never metered */
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 1);
	ck_assert_int_eq(mk_proto_try_read_debug_log(r.dbg, r.dlen, rec, 64, &n,
						     NULL),
			 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(rec[0].args[2], 48);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_printf_overflow_drops_records)
{
	struct mk_debug_record rec[64];
	struct mk_err err;
	uint32_t i, dropped = 0;
	struct rig r;
	size_t n = 0;

	rig_init(&r, 65, 1, 0);
	for (i = 0; i < 65; i++)
		pub(&r, i, 0, MK_OP_PRINTF, 0x100 + i, i, 0);
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.dbg[0], 260);
	ck_assert_uint_eq(r.dbg[1 + 63 * 4], 0x100 + 63);
	ck_assert_uint_eq(r.dbg[4 + 63 * 4], 16 * 63);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 65);
	mk_err_clear(&err);
	ck_assert_int_eq(mk_proto_try_read_debug_log(r.dbg, r.dlen, rec, 64, &n,
						     &err),
			 -ENODATA);
	ck_assert_ptr_nonnull(strstr(mk_err_msg(&err), "cursor must stay within"));
	t_assert_fix(mk_err_msg(&err));
	ck_assert_int_eq(mk_proto_read_debug_log_clamped(r.dbg, r.dlen, rec, 64,
							 &n, &dropped, NULL),
			 0);
	ck_assert_uint_eq(n, 64);
	ck_assert_uint_eq(dropped, 1);
	ck_assert_uint_eq(rec[0].fmt_id, 0x100);
	ck_assert_uint_eq(rec[63].fmt_id, 0x100 + 63);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_shutdown_stops_later_lanes)
{
	struct rig r;

	rig_init(&r, 3, 1, 4);
	pub(&r, 0, 0, MK_OP_NOP, 0, 0, 0);
	pub(&r, 1, 0, MK_OP_SHUTDOWN, 0, 0, 0);
	pub(&r, 2, 0, MK_OP_NOP, 0, 0, 0);
	ck_assert_int_eq(mk_model_run(&r.x, 3, MK_MODEL_SHARDED, 0, 100, 0), 2);
	ck_assert_uint_eq(r.ctl[MK_CTL_SHUTDOWN], 1);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_DONE);
	ck_assert_uint_eq(st(&r, 1), MK_SLOT_DONE);
	ck_assert_uint_eq(st(&r, 2), MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 2);
	assert_only_metric(&r, 0, 1); /* SHUTDOWN is not metered */
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_encoded_shutdown_processes_nothing)
{
	struct rig r;

	rig_init(&r, 2, 1, 4);
	r.ctl[MK_CTL_SHUTDOWN] = 1;
	pub(&r, 0, 0, MK_OP_NOP, 0, 0, 0);
	ck_assert_int_eq(mk_model_run(&r.x, 2, MK_MODEL_SHARDED, 0, 100, 0), 1);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 0);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_persistent_without_shutdown_times_out)
{
	struct rig r;

	rig_init(&r, 2, 1, 4);
	pub(&r, 0, 0, MK_OP_NOP, 0, 0, 0);
	ck_assert_int_eq(mk_model_run(&r.x, 2, MK_MODEL_SHARDED, 0, 50, 0),
			 -ETIMEDOUT);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 1);
	ck_assert_int_eq(mk_model_run(&r.x, 2, 7, 1, 0, 0), -EINVAL);
	ck_assert_int_eq(mk_model_run(&r.x, 0, MK_MODEL_SHARDED, 0, 5, 0), 0);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_unknown_opcodes)
{
	struct rig r;

	rig_init(&r, 3, 1, 4);
	pub(&r, 0, 0, 0xABCD, 160, 161, 0);
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_DONE);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 1);
	assert_only_metric(&r, -1, 0);
	pub(&r, 1, 0, 20, 0, 0, 0);	      /* unknown but < 32: metered */
	pub(&r, 2, 0, MK_OP_DFA_STEP, 1, 2, 3); /* metered no-op */
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.ctl[96 + 20], 1);
	ck_assert_uint_eq(r.ctl[96 + 6], 1);
	ck_assert_uint_eq(r.ctl[163], 0);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 3);
	rig_fini(&r);
}
END_TEST

/* ---- 5.9: packed slots ---------------------------------------------------- */

START_TEST(test_interp_packed_worked_example)
{
	uint32_t a0[2] = { 7, 160 }, a1[2] = { 5, 161 };
	struct mk_proto_packed_op ops[3] = { { 1, a0, 2 }, { 2, a1, 2 },
					     { 0, NULL, 0 } };
	struct rig r;

	rig_init(&r, 1, 1, 4);
	r.ctl[161] = 100;
	ck_assert_int_eq(mk_proto_publish_packed_slot(r.ring, r.rlen, 0, 0, ops,
						      3, 0, NULL),
			 0);
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.ctl[160], 7);
	ck_assert_uint_eq(r.ctl[161], 105);
	ck_assert_uint_eq(r.ctl[96], 1);
	ck_assert_uint_eq(r.ctl[97], 1);
	ck_assert_uint_eq(r.ctl[98], 1);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 1); /* one outer slot */
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_DONE);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_packed_runs_at_most_four_ops)
{
	uint32_t a[2] = { 0x99, 165 };
	struct mk_proto_packed_op ops[5];
	struct rig r;

	rig_init(&r, 1, 1, 8);
	memset(ops, 0, sizeof(ops));
	ops[4].opcode = MK_OP_STORE_U32;
	ops[4].args = a;
	ops[4].nargs = 2;
	ck_assert_int_eq(mk_proto_publish_packed_slot(r.ring, r.rlen, 0, 0, ops,
						      5, 0, NULL),
			 0);
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.ctl[96], 4); /* 4 NOPs ran */
	ck_assert_uint_eq(r.ctl[97], 0); /* the 5th op was dropped */
	ck_assert_uint_eq(r.ctl[165], 0);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_packed_six_ops_misread_metadata)
{
	uint32_t a[2] = { 0x11, 165 };
	struct mk_proto_packed_op ops[6];
	uint32_t w3;
	struct rig r;

	rig_init(&r, 1, 1, 8);
	memset(ops, 0, sizeof(ops));
	ops[0].opcode = MK_OP_STORE_U32;
	ops[0].args = a;
	ops[0].nargs = 2;
	ops[5].opcode = 9;
	ck_assert_int_eq(mk_proto_publish_packed_slot(r.ring, r.rlen, 0, 0, ops,
						      6, 0, NULL),
			 0);
	/* host metadata is 4 words, the kernel's (clamped n = 4) is 3 */
	w3 = r.ring[MK_ARG0_WORD + 3];
	ck_assert_uint_eq(w3, 0x00000209u); /* op5: opcode 9, offset 2 */
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.ctl[0x11], w3); /* STORE(arg0 = w3, arg1 = 0x11) */
	ck_assert_uint_eq(r.ctl[165], 0);
	ck_assert_uint_eq(r.ctl[97], 1);
	ck_assert_uint_eq(r.ctl[96], 3);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_packed_skips_op_past_payload)
{
	uint32_t a0[9] = { 0x77, 165 }, a1[1] = { 0 };
	struct mk_proto_packed_op ops[2] = { { MK_OP_STORE_U32, a0, 9 },
					     { MK_OP_NOP, a1, 1 } };
	struct rig r;

	rig_init(&r, 1, 1, 8);
	ck_assert_int_eq(mk_proto_publish_packed_slot(r.ring, r.rlen, 0, 0, ops,
						      2, 0, NULL),
			 0);
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(r.ctl[165], 0x77);
	ck_assert_uint_eq(r.ctl[97], 1);
	ck_assert_uint_eq(r.ctl[96], 0); /* base 11: 11 + 3 > 12, skipped */
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 1);
	rig_fini(&r);
}
END_TEST

/* ---- 2.4 / 4.3 step 4: tenant masks ------------------------------------- */

START_TEST(test_interp_tenant_mask_zero_keeps_slot_published)
{
	struct rig r;

	rig_init(&r, 2, 1, 4); /* only tenant 0 enabled */
	pub(&r, 0, 1, MK_OP_STORE_U32, 5, 160, 0);
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 0);
	ck_assert_uint_eq(r.ctl[97], 0);
	ck_assert_uint_eq(r.ctl[160], 0);
	ck_assert_int_eq(once(&r), 1); /* rechecked, still skipped */
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_PUBLISHED);
	r.ctl[MK_CTL_TENANT_MASK_DEFAULT + 1] = 0x8; /* any non-zero value */
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_DONE);
	ck_assert_uint_eq(r.ctl[160], 5);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 1);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_tenant_table_pointer_moves_and_aliases)
{
	struct rig r;

	rig_init(&r, 2, 1, 8);
	/* tenant 29 aliases quota word 32, non-zero with tenant_count >= 1 */
	pub(&r, 0, 29, MK_OP_NOP, 0, 0, 0);
	/* move the table into the observables: mask of t is ctl[164 + t] */
	r.ctl[MK_CTL_TENANT_BASE] = 164;
	r.ctl[164 + 2] = 1;
	pub(&r, 1, 2, MK_OP_NOP, 0, 0, 0);
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_PUBLISHED); /* ctl[193]: OOB */
	ck_assert_uint_eq(st(&r, 1), MK_SLOT_DONE);
	r.ctl[MK_CTL_TENANT_BASE] = 3;
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_DONE); /* via ctl[32] = 1000000 */
	rig_fini(&r);
}
END_TEST

/* ---- 6.3 / 6.4: the priority variant ------------------------------------ */

/* S slots, default offsets, tenants 0..99 enabled (masks and quotas). */
static void prio_rig(struct rig *r, uint32_t slots)
{
	rig_init(r, slots, 100, 4);
	ck_assert_int_eq(mk_proto_write_default_priority_offsets(r->ctl, r->clen,
								 slots, NULL),
			 0);
}

START_TEST(test_interp_priority_needs_offsets)
{
	struct rig r;

	rig_init(&r, 10, 1, 4); /* plain encode_control: all partitions empty */
	pub(&r, 0, 0, MK_OP_NOP, 0, 0, 0);
	ck_assert_int_eq(prio_once(&r, 0), 1);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_PUBLISHED);
	ck_assert_int_eq(mk_proto_write_default_priority_offsets(r.ctl, r.clen,
								 10, NULL),
			 0);
	ck_assert_int_eq(prio_once(&r, 0), 1);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_DONE);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_priority_partitions_and_fairness)
{
	struct rig r;
	uint32_t p;

	prio_rig(&r, 10); /* offsets [0,2,4,6,8,10] */
	for (p = 0; p < 5; p++)
		pub(&r, 2 * p + 1, 33 + p, MK_OP_NOP, 0, 0, 0);
	/* lane 1 probes slot 1 (p0) first and stops: one claim per lane */
	ck_assert_int_eq(prio_once(&r, 0), 1);
	ck_assert_uint_eq(st(&r, 1), MK_SLOT_DONE);
	ck_assert_uint_eq(st(&r, 3), MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(r.ctl[136], 1);
	ck_assert_uint_eq(r.ctl[64 + 1], 1); /* tenant 33 -> 64 + 33 mod 32 */
	ck_assert_uint_eq(r.ctl[135], 1);
	for (p = 1; p < 5; p++)
		ck_assert_int_eq(prio_once(&r, 0), 1);
	for (p = 0; p < 5; p++) {
		ck_assert_uint_eq(st(&r, 2 * p + 1), MK_SLOT_DONE);
		ck_assert_uint_eq(r.ctl[136 + p], 1);
		ck_assert_uint_eq(r.ctl[64 + 1 + p], 1);
	}
	ck_assert_uint_eq(r.ctl[135], 0); /* reset by the NORMAL claim */
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 5);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_priority_yield_requeue_claimable)
{
	struct rig r;

	prio_rig(&r, 10);
	pub(&r, 4, 0, MK_OP_STORE_U32, 1, 160, 0);
	pub(&r, 5, 0, MK_OP_STORE_U32, 2, 161, 0);
	pub(&r, 6, 0, MK_OP_STORE_U32, 3, 162, 0);
	r.ring[4 * 16] = MK_SLOT_YIELD;
	r.ring[5 * 16] = MK_SLOT_REQUEUE;
	r.ring[6 * 16] = MK_SLOT_FAULT;
	ck_assert_int_eq(prio_once(&r, 0), 1);
	ck_assert_uint_eq(st(&r, 4), MK_SLOT_DONE);
	ck_assert_uint_eq(st(&r, 5), MK_SLOT_DONE);
	ck_assert_uint_eq(st(&r, 6), MK_SLOT_FAULT);
	ck_assert_uint_eq(r.ctl[160], 1);
	ck_assert_uint_eq(r.ctl[161], 2);
	ck_assert_uint_eq(r.ctl[162], 0);
	/* the sharded variant only claims PUBLISHED */
	r.ring[4 * 16] = MK_SLOT_YIELD;
	ck_assert_int_eq(once(&r), 1);
	ck_assert_uint_eq(st(&r, 4), MK_SLOT_YIELD);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_priority_starvation_increment_and_reset)
{
	struct rig r;
	uint32_t i;

	prio_rig(&r, 10);
	for (i = 0; i < 4; i++)
		pub(&r, i, 0, MK_OP_NOP, 0, 0, 0); /* CRITICAL 0,1  HIGH 2,3 */
	ck_assert_int_eq(prio_once(&r, 0), 1);
	ck_assert_uint_eq(r.ctl[135], 2);
	ck_assert_int_eq(prio_once(&r, 0), 1);
	ck_assert_uint_eq(r.ctl[135], 4);
	ck_assert_uint_eq(r.ctl[136], 2);
	ck_assert_uint_eq(r.ctl[137], 2);
	/* at 16, CRITICAL/HIGH are skipped and lower work is served first */
	r.ctl[135] = 16;
	pub(&r, 0, 0, MK_OP_NOP, 0, 0, 0);
	pub(&r, 8, 0, MK_OP_NOP, 0, 0, 0); /* IDLE */
	ck_assert_int_eq(prio_once(&r, 0), 1);
	ck_assert_uint_eq(st(&r, 8), MK_SLOT_DONE);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(r.ctl[135], 0);
	ck_assert_uint_eq(r.ctl[140], 1);
	ck_assert_int_eq(prio_once(&r, 0), 1);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_DONE);
	ck_assert_uint_eq(r.ctl[135], 1);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_priority_permanent_starvation_and_fix)
{
	struct rig r;

	prio_rig(&r, 10);
	r.ctl[135] = 16;
	pub(&r, 0, 0, MK_OP_NOP, 0, 0, 0);
	ck_assert_int_eq(mk_model_run(&r.x, 10, MK_MODEL_PRIORITY, 0, 40, 0),
			 -ETIMEDOUT);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_PUBLISHED); /* never served */
	ck_assert_uint_eq(r.ctl[135], 16);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 0);
	/* the opt-in fix rescans partitions 0-1 in the same iteration */
	ck_assert_int_eq(prio_once(&r, 1), 1);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_DONE);
	ck_assert_uint_eq(r.ctl[135], 17);
	ck_assert_uint_eq(r.ctl[136], 1);
	/* with the fix, lower work still goes first: lane 1 takes IDLE 9 */
	pub(&r, 1, 0, MK_OP_NOP, 0, 0, 0);
	pub(&r, 9, 0, MK_OP_NOP, 0, 0, 0);
	ck_assert_int_eq(prio_once(&r, 1), 1);
	ck_assert_uint_eq(st(&r, 9), MK_SLOT_DONE);
	ck_assert_uint_eq(st(&r, 1), MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(r.ctl[135], 0);
	ck_assert_int_eq(prio_once(&r, 1), 1);
	ck_assert_uint_eq(st(&r, 1), MK_SLOT_DONE);
	ck_assert_uint_eq(r.ctl[135], 1);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_priority_mask_recheck_strands_claimed)
{
	struct rig r;

	prio_rig(&r, 10);
	/* tenant 0's mask word is the starvation counter (word 135) */
	r.ctl[MK_CTL_TENANT_BASE] = MK_CTL_PRIORITY_STARVATION;
	r.ctl[135] = 5;
	pub(&r, 4, 0, MK_OP_STORE_U32, 1, 160, 0); /* NORMAL: resets 135 */
	ck_assert_int_eq(prio_once(&r, 0), 1);
	ck_assert_uint_eq(st(&r, 4), MK_SLOT_CLAIMED); /* stuck (6.3 HAZARD) */
	ck_assert_uint_eq(r.ctl[160], 0);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 0);
	ck_assert_uint_eq(r.ctl[138], 1); /* accounted all the same */
	ck_assert_uint_eq(r.ctl[64], 1);
	ck_assert_uint_eq(r.ctl[97], 0);
	ck_assert_int_eq(prio_once(&r, 0), 1);
	ck_assert_uint_eq(st(&r, 4), MK_SLOT_CLAIMED);
	rig_fini(&r);
}
END_TEST

START_TEST(test_interp_priority_shutdown_and_persistent)
{
	struct rig r;

	prio_rig(&r, 5); /* partitions of one slot: only lane 0 probes */
	pub(&r, 0, 0, MK_OP_NOP, 0, 0, 0);
	pub(&r, 4, 0, MK_OP_SHUTDOWN, 0, 0, 0);
	/* pass 1: slot 0; pass 2: slot 4 shuts down; pass 3: lane 0 exits */
	ck_assert_int_eq(mk_model_run(&r.x, 5, MK_MODEL_PRIORITY, 0, 100, 0), 3);
	ck_assert_uint_eq(st(&r, 0), MK_SLOT_DONE);
	ck_assert_uint_eq(st(&r, 4), MK_SLOT_DONE);
	ck_assert_uint_eq(r.ctl[MK_CTL_SHUTDOWN], 1);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 2);
	rig_fini(&r);
}
END_TEST

/* ---- 0.3: out-of-range indices never crash ------------------------------ */

START_TEST(test_interp_out_of_range_never_crashes)
{
	uint32_t ctl[4] = { 0, 0, 3, 1 }, ring[16 * 3] = { 0 }, before[4];
	struct mk_exec x;
	uint32_t i;

	memset(&x, 0, sizeof(x));
	x.ctl = ctl;
	x.ring = ring;
	x.ctl_words = 4;   /* shorter than the 160-word control */
	x.ring_words = 40; /* slot 2 is partial: never touched */
	for (i = 0; i < 2; i++) {
		ring[16 * i] = MK_SLOT_PUBLISHED;
		ring[16 * i + 4] = 0xFFFFFFF0u;
		ring[16 * i + 5] = 0xFFFFFFFFu;
		ring[16 * i + 6] = 0xFFFFFFFFu;
	}
	ring[1] = MK_OP_LOAD_U32;   /* result at 160 + 2^32 - 1 = 159: OOB */
	ring[16 + 1] = MK_OP_PRINTF; /* no debug log bound */
	ring[32] = MK_SLOT_PUBLISHED;
	memcpy(before, ctl, sizeof(ctl));
	ck_assert_int_eq(mk_model_run(&x, 8, MK_MODEL_SHARDED, 1, 0, 0), 1);
	ck_assert_uint_eq(ctl[2], before[2]);
	ck_assert_uint_eq(ctl[3], before[3]);
	ck_assert_uint_eq(ring[0], MK_SLOT_DONE);
	ck_assert_uint_eq(ring[16], MK_SLOT_DONE);
	ck_assert_uint_eq(ring[32], MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(ctl[1], 2);
	ck_assert_uint_eq(ctl[0], 0);
	/* huge tenant ids and garbage priority offsets: all reads are 0 */
	ring[0] = MK_SLOT_PUBLISHED;
	ring[2] = 0xFFFFFFFFu;
	ck_assert_int_eq(mk_model_run(&x, 8, MK_MODEL_PRIORITY, 1, 0, 1), 1);
	ck_assert_uint_eq(ring[0], MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(ctl[1], 2);
}
END_TEST

START_TEST(test_interp_priority_garbage_offsets_finish)
{
	struct rig r;

	prio_rig(&r, 8);
	/* end < start: len wraps to nearly 2^32; nothing claimable */
	r.ctl[129] = 0;
	r.ctl[130] = 0xF0000000u;
	r.ctl[131] = 5;
	r.ctl[132] = 3;
	r.ring[2 * 16] = MK_SLOT_FAULT;
	ck_assert_int_eq(mk_model_run(&r.x, 8, MK_MODEL_PRIORITY, 0, 3, 1),
			 -ETIMEDOUT);
	ck_assert_uint_eq(r.ctl[MK_CTL_DONE_COUNT], 0);
	ck_assert_uint_eq(r.ctl[135], 0);
	rig_fini(&r);
}
END_TEST

static Suite *interp_suite(void)
{
	Suite *s = suite_create("interp");
	TCase *op = tcase_create("opcodes");
	TCase *pk = tcase_create("packed");
	TCase *sc = tcase_create("scheduling");

	tcase_add_test(op, test_interp_nop_counts_metric_and_done);
	tcase_add_test(op, test_interp_store_and_add_wrap);
	tcase_add_test(op, test_interp_load_u32_writes_observable_arg1);
	tcase_add_test(op, test_interp_load_u32_observable_wraps_to_shutdown);
	tcase_add_test(op, test_interp_compare_swap_result_at_arg0);
	tcase_add_test(op, test_interp_memcpy_forward_smear_and_oob);
	tcase_add_test(op, test_interp_memcpy_huge_count_finishes_and_wraps);
	tcase_add_test(op, test_interp_memcpy_wrapping_destination);
	tcase_add_test(op, test_interp_batch_fence_epoch_and_word_160);
	tcase_add_test(op, test_interp_batch_publish_runs_items_then_fence);
	tcase_add_test(op, test_interp_printf_record_layout);
	tcase_add_test(op, test_interp_printf_overflow_drops_records);
	tcase_add_test(op, test_interp_shutdown_stops_later_lanes);
	tcase_add_test(op, test_interp_encoded_shutdown_processes_nothing);
	tcase_add_test(op, test_interp_persistent_without_shutdown_times_out);
	tcase_add_test(op, test_interp_unknown_opcodes);
	tcase_add_test(op, test_interp_out_of_range_never_crashes);
	tcase_set_timeout(op, 10);
	tcase_add_test(pk, test_interp_packed_worked_example);
	tcase_add_test(pk, test_interp_packed_runs_at_most_four_ops);
	tcase_add_test(pk, test_interp_packed_six_ops_misread_metadata);
	tcase_add_test(pk, test_interp_packed_skips_op_past_payload);
	tcase_add_test(sc, test_interp_tenant_mask_zero_keeps_slot_published);
	tcase_add_test(sc, test_interp_tenant_table_pointer_moves_and_aliases);
	tcase_add_test(sc, test_interp_priority_needs_offsets);
	tcase_add_test(sc, test_interp_priority_partitions_and_fairness);
	tcase_add_test(sc, test_interp_priority_yield_requeue_claimable);
	tcase_add_test(sc, test_interp_priority_starvation_increment_and_reset);
	tcase_add_test(sc, test_interp_priority_permanent_starvation_and_fix);
	tcase_add_test(sc, test_interp_priority_mask_recheck_strands_claimed);
	tcase_add_test(sc, test_interp_priority_shutdown_and_persistent);
	tcase_add_test(sc, test_interp_priority_garbage_offsets_finish);
	tcase_set_timeout(sc, 10);
	suite_add_tcase(s, op);
	suite_add_tcase(s, pk);
	suite_add_tcase(s, sc);
	return s;
}

MK_CHECK_MAIN(interp_suite)
