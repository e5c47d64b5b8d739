/* SPDX-License-Identifier: MIT */
/*
 * tests/check_proto.c - runtime/proto.c against PROTOCOL.md section 13 items
 * 1-5, 8 and 11 (exact numbers), the publish error paths in the reference
 * order, the publishable opcode set, batch and packed publishing, priority
 * offsets and the readers.
 * Run: ./build/release/tests/check_proto
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/abi.h"
#include "runtime/proto.h"
#include "tests/mk_check.h"

#define rd mk_proto_load_word
#define wr mk_proto_store_word

static uint8_t *ring(uint32_t slots, size_t *len)
{
	uint8_t *r = NULL;

	ck_assert_int_eq(mk_proto_encode_empty_ring(slots, &r, len, NULL), 0);
	return r;
}

static uint8_t *control(int shutdown, uint32_t tenants, uint32_t obs,
			size_t *len)
{
	uint8_t *c = NULL;

	ck_assert_int_eq(mk_proto_encode_control(shutdown, tenants, obs, &c, len,
						 NULL),
			 0);
	return c;
}

/* Assert rc, the Fix: hint and a substring of the message. */
#define t_assert_err(rc, want, err, needle)                                  \
	do {                                                                 \
		ck_assert_int_eq((rc), (want));                              \
		ck_assert_int_eq((err)->code, (want));                       \
		t_assert_fix(mk_err_msg(err));                               \
		ck_assert_msg(strstr(mk_err_msg(err), (needle)) != NULL,     \
			      "'%s' lacks '%s'", mk_err_msg(err), (needle)); \
	} while (0)

/* ---- item 1 and 2: control encoder, byte lengths, caps --------------- */

START_TEST(test_proto_encode_control_defaults)
{
	size_t len = 0, i;
	uint8_t *c = control(0, 0, 0, &len);

	ck_assert_uint_eq(len, 640);
	for (i = 0; i < 160; i++)
		ck_assert_uint_eq(rd(c, i), i == 2 ? 3u : 0u);
	free(c);
	c = control(1, 100, 0, &len);
	ck_assert_uint_eq(rd(c, 0), 1);
	ck_assert_uint_eq(rd(c, 2), 3);
	for (i = 3; i < 32; i++)
		ck_assert_uint_eq(rd(c, i), 0xFFFFFFFFu);
	for (i = 32; i < 64; i++)
		ck_assert_uint_eq(rd(c, i), 1000000u);
	for (i = 64; i < 160; i++)
		ck_assert_uint_eq(rd(c, i), 0);
	free(c);
}
END_TEST

START_TEST(test_proto_encode_control_worked_example)
{
	size_t len = 0, i;
	uint8_t *c = control(0, 2, 4, &len);

	ck_assert_uint_eq(len, 656);
	for (i = 0; i < 164; i++) {
		uint32_t want = 0;

		if (i == 2)
			want = 3;
		else if (i == 3 || i == 4)
			want = 0xFFFFFFFFu;
		else if (i == 32 || i == 33)
			want = 1000000u;
		ck_assert_msg(rd(c, i) == want, "word %zu = %u, want %u", i,
			      rd(c, i), want);
	}
	free(c);
}
END_TEST

START_TEST(test_proto_encode_control_into_checks_before_clearing)
{
	uint8_t buf[700];
	struct mk_err err;
	size_t len = 0;
	int rc;

	memset(buf, 0xEE, sizeof(buf));
	mk_err_clear(&err);
	rc = mk_proto_encode_control_into(buf, sizeof(buf), 0, 1,
					  MK_MAX_ENCODED_OBSERVABLE_SLOTS + 1u,
					  &len, &err);
	t_assert_err(rc, -EOVERFLOW, &err, "byte length overflow");
	ck_assert_uint_eq(buf[0], 0xEE);
	/* too small a destination: untouched too */
	rc = mk_proto_encode_control_into(buf, 652, 0, 1, 4, &len, &err);
	t_assert_err(rc, -EOVERFLOW, &err, "656");
	ck_assert_uint_eq(buf[0], 0xEE);
	ck_assert_int_eq(mk_proto_encode_control_into(buf, sizeof(buf), 0, 1, 4,
						      &len, NULL),
			 0);
	ck_assert_uint_eq(len, 656);
	ck_assert_uint_eq(rd(buf, 3), 0xFFFFFFFFu);
	ck_assert_uint_eq(rd(buf, 163), 0);
	ck_assert_uint_eq(buf[656], 0xEE); /* nothing past the encoding */
}
END_TEST

START_TEST(test_proto_byte_lengths)
{
	size_t n = 0;

	ck_assert_int_eq(mk_proto_control_byte_len(0, &n), 0);
	ck_assert_uint_eq(n, 640);
	ck_assert_int_eq(mk_proto_control_byte_len(3, &n), 0);
	ck_assert_uint_eq(n, 652);
	ck_assert_int_eq(mk_proto_control_byte_len(4, &n), 0);
	ck_assert_uint_eq(n, 656);
	ck_assert_int_eq(mk_proto_control_byte_len(UINT32_MAX, &n), -EOVERFLOW);
	ck_assert_int_eq(mk_proto_ring_byte_len(4, &n), 0);
	ck_assert_uint_eq(n, 256);
	ck_assert_int_eq(mk_proto_ring_byte_len(0, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(mk_proto_debug_log_byte_len(0, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(mk_proto_debug_log_byte_len(64, &n), 0);
	ck_assert_uint_eq(n, 1028);
}
END_TEST

START_TEST(test_proto_encoder_caps)
{
	const uint32_t cap = 1048576u;
	struct mk_err err;
	uint8_t *b = NULL;
	size_t len = 0;

	mk_err_clear(&err);
	ck_assert_int_eq(mk_proto_encode_control(0, 0, cap, &b, &len, NULL), 0);
	ck_assert_uint_eq(len, 4u * (160u + cap));
	free(b);
	t_assert_err(mk_proto_encode_control(0, 0, cap + 1u, &b, &len, &err),
		     -EOVERFLOW, &err, "control");
	ck_assert_ptr_null(b);
	ck_assert_int_eq(mk_proto_encode_empty_ring(cap, &b, &len, NULL), 0);
	ck_assert_uint_eq(len, 64u * cap);
	free(b);
	t_assert_err(mk_proto_encode_empty_ring(cap + 1u, &b, &len, &err),
		     -EOVERFLOW, &err, "ring");
	ck_assert_ptr_null(b);
	ck_assert_int_eq(mk_proto_encode_empty_debug_log(cap, &b, &len, NULL),
			 0);
	ck_assert_uint_eq(len, 4u * (1u + 4u * cap));
	free(b);
	t_assert_err(mk_proto_encode_empty_debug_log(cap + 1u, &b, &len, &err),
		     -EOVERFLOW, &err, "debug_log");
	ck_assert_int_eq(mk_proto_encode_empty_ring(0, &b, &len, NULL), 0);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(len, 0);
	free(b);
	ck_assert_int_eq(mk_proto_encode_empty_debug_log(0, &b, &len, NULL), 0);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(rd(b, 0), 0);
	free(b);
}
END_TEST

/* ---- item 3: publish_slot ---------------------------------------------- */

START_TEST(test_proto_publish_writes_slot_status_last_fields)
{
	uint32_t args[3] = { 10, 11, 12 };
	size_t len = 0, i;
	uint8_t *r = ring(2, &len);

	ck_assert_int_eq(mk_proto_publish_slot(r, len, 1, 5, MK_OP_STORE_U32,
					       args, 3, NULL),
			 0);
	ck_assert_uint_eq(rd(r, 16), MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(rd(r, 17), MK_OP_STORE_U32);
	ck_assert_uint_eq(rd(r, 18), 5);
	ck_assert_uint_eq(rd(r, 19), 2);
	ck_assert_uint_eq(rd(r, 20), 10);
	ck_assert_uint_eq(rd(r, 22), 12);
	for (i = 23; i < 32; i++)
		ck_assert_uint_eq(rd(r, i), 0);
	for (i = 0; i < 16; i++)
		ck_assert_uint_eq(rd(r, i), 0); /* slot 0 untouched */
	free(r);
}
END_TEST

START_TEST(test_proto_publish_error_order)
{
	uint32_t args[13] = { 0 };
	uint8_t *r = calloc(4 * 64 + 4, 1), before[4 * 64 + 4];
	struct mk_err err;
	size_t len = 4 * 64;

	ck_assert_ptr_nonnull(r);
	mk_err_clear(&err);
	wr(r, 2 * 16, MK_SLOT_PUBLISHED); /* slot 2 busy */
	memcpy(before, r, sizeof(before));
	/* 1. ring length beats everything */
	t_assert_err(mk_proto_publish_slot(r, len + 4, 9, 0, 0xFFFF, args, 13,
					   &err),
		     -EINVAL, &err,
		     "ring buffer byte length is not an exact multiple of SLOT_WORDS * 4");
	/* 2. slot index beats args, opcode */
	t_assert_err(mk_proto_publish_slot(r, len, 4, 0, 0xFFFF, args, 13, &err),
		     -ERANGE, &err, "slot_idx exceeds ring slot count");
	/* 3. args beat opcode and status */
	t_assert_err(mk_proto_publish_slot(r, len, 2, 0, 0xFFFF, args, 13, &err),
		     -E2BIG, &err, "12 u32 args max per slot");
	/* 4. opcode beats status */
	t_assert_err(mk_proto_publish_slot(r, len, 2, 0, 0xFFFF, args, 12, &err),
		     -EINVAL, &err, "reserved");
	/* 5. status */
	t_assert_err(mk_proto_publish_slot(r, len, 2, 0, MK_OP_NOP, args, 12,
					   &err),
		     -EBUSY, &err,
		     "slot is not publishable; only EMPTY and DONE slots may be written by the host");
	ck_assert_mem_eq(r, before, sizeof(before));
	/* an empty ring rejects every index */
	t_assert_err(mk_proto_publish_slot(r, 0, 0, 0, MK_OP_NOP, NULL, 0, &err),
		     -ERANGE, &err, "slot_idx");
	free(r);
}
END_TEST

START_TEST(test_proto_publish_rejects_every_busy_status)
{
	static const uint32_t busy[] = { 1, 2, 4, 5, 6, 7, 8, 0x10, 0xFFFFFFFFu };
	struct mk_err err;
	size_t len = 0, i;
	uint8_t *r = ring(1, &len);

	for (i = 0; i < sizeof(busy) / sizeof(busy[0]); i++) {
		wr(r, 0, busy[i]);
		wr(r, 4, 0x77);
		mk_err_clear(&err);
		t_assert_err(mk_proto_publish_slot(r, len, 0, 0, MK_OP_NOP, NULL,
						   0, &err),
			     -EBUSY, &err, "only EMPTY and DONE");
		ck_assert_uint_eq(rd(r, 0), busy[i]);
		ck_assert_uint_eq(rd(r, 4), 0x77);
	}
	free(r);
}
END_TEST

START_TEST(test_proto_publish_recycles_done_and_zeroes_stale_args)
{
	uint32_t full[12], one = 42;
	size_t len = 0, i;
	uint8_t *r = ring(1, &len);

	for (i = 0; i < 12; i++)
		full[i] = 0x100u + (uint32_t)i;
	ck_assert_int_eq(mk_proto_publish_slot(r, len, 0, 3, 200, full, 12,
					       NULL),
			 0);
	wr(r, 0, MK_SLOT_DONE);
	wr(r, 3, 0); /* the next publish rewrites the priority word too */
	ck_assert_int_eq(mk_proto_publish_slot(r, len, 0, 4, MK_OP_NOP, &one, 1,
					       NULL),
			 0);
	ck_assert_uint_eq(rd(r, 0), MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(rd(r, 1), MK_OP_NOP);
	ck_assert_uint_eq(rd(r, 2), 4);
	ck_assert_uint_eq(rd(r, 3), 2);
	ck_assert_uint_eq(rd(r, 4), 42);
	for (i = 5; i < 16; i++)
		ck_assert_uint_eq(rd(r, i), 0);
	free(r);
}
END_TEST

START_TEST(test_proto_reserved_and_custom_opcodes)
{
	static const uint32_t bad[] = { 0x80000000u, 0xFFF0, 0xFFF1, 0xFFFD,
					0xFFFF, 0x80000002u, 0xFFFFFFFEu,
					0xC0000000u };
	static const uint32_t good[] = { 0x40000000u, 200, 0xABCD, 8, 0xFFEF,
					 0x10000, 0x7FFFFFFFu };
	struct mk_err err;
	size_t len = 0, i;
	uint8_t *r = ring(1, &len);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mk_err_clear(&err);
		t_assert_err(mk_proto_publish_slot(r, len, 0, 0, bad[i], NULL, 0,
						   &err),
			     -EINVAL, &err,
			     "overlaps with reserved system range");
		ck_assert_uint_eq(rd(r, 0), 0);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		wr(r, 0, MK_SLOT_DONE);
		ck_assert_int_eq(mk_proto_publish_slot(r, len, 0, 0, good[i], NULL,
						       0, NULL),
				 0);
		ck_assert_uint_eq(rd(r, 1), good[i]);
	}
	free(r);
}
END_TEST

/* The publishable set (5.2) and opcodes.def: is_builtin, names, publishing. */
START_TEST(test_proto_publishable_set_boundaries_and_names)
{
	static const struct {
		const char *name, *mnem;
		uint32_t value;
		int builtin;
	} def[] = {
#define MK_OPCODE(NAME, mnem, value, builtin) { #NAME, #mnem, value, builtin },
#include "runtime/opcodes.def"
#undef MK_OPCODE
	};
	/* Windows around every table value: nothing else may be builtin. */
	static const uint32_t win[][2] = { { 0, 0x20000 },
					   { 0x7FFF0000u, 0x80010000u },
					   { 0xFFFF0000u, 0xFFFFFFFFu } };
	uint32_t op, nbuiltin = 0, seen = 0;
	uint64_t w;
	size_t i;

	ck_assert_uint_eq(sizeof(def) / sizeof(def[0]), 12);
	for (i = 0; i < sizeof(def) / sizeof(def[0]); i++) {
		uint32_t v = def[i].value;

		ck_assert_msg(!!mk_proto_is_builtin(v) == def[i].builtin, "%s",
			      def[i].name);
		ck_assert(mk_proto_is_system(v));
		ck_assert_int_eq(mk_proto_validate_user_opcode(v, NULL), -EINVAL);
		ck_assert_int_eq(mk_proto_validate_publish_opcode(v, NULL),
				 def[i].builtin ? 0 : -EINVAL);
		ck_assert_str_eq(mk_proto_op_name(v), def[i].name);
		ck_assert_str_eq(mk_proto_op_mnemonic(v), def[i].mnem);
		nbuiltin += (uint32_t)def[i].builtin;
	}
	ck_assert_uint_eq(nbuiltin, 11); /* all but LOAD_MISS */
	for (i = 0; i < 3; i++)
		for (w = win[i][0]; w <= win[i][1]; w++)
			seen += (uint32_t)!!mk_proto_is_builtin((uint32_t)w);
	ck_assert_uint_eq(seen, nbuiltin);
	for (op = 0xFFF0; op <= 0xFFFF; op++)
		ck_assert_int_eq(mk_proto_validate_publish_opcode(op, NULL),
				 op == MK_OP_PRINTF ? 0 : -EINVAL);
	ck_assert_int_eq(mk_proto_validate_user_opcode(MK_OP_SCAN_CHUNK, NULL),
			 0);
	ck_assert_str_eq(mk_proto_op_name(0xABCD), "INVALID");
	ck_assert_ptr_null(mk_proto_op_mnemonic(8));
}
END_TEST

START_TEST(test_proto_check_publish_and_fill_slot)
{
	uint32_t w[16], args[2] = { 5, 6 };
	struct mk_err err;
	size_t i;

	mk_err_clear(&err);
	t_assert_err(mk_proto_check_publish(4, 4, 0, 0, 0, &err), -ERANGE, &err,
		     "slot_idx");
	t_assert_err(mk_proto_check_publish(4, 3, 13, 0xFFFF, 2, &err), -E2BIG,
		     &err, "12 u32 args");
	t_assert_err(mk_proto_check_publish(4, 3, 1, 0xFFFF, 2, &err), -EINVAL,
		     &err, "reserved");
	t_assert_err(mk_proto_check_publish(4, 3, 1, 0, 2, &err), -EBUSY, &err,
		     "only EMPTY and DONE");
	ck_assert_int_eq(mk_proto_check_publish(4, 3, 12, 0, 3, NULL), 0);
	memset(w, 0xEE, sizeof(w));
	mk_proto_fill_slot(w, 9, 4, 200, args, 2);
	ck_assert_uint_eq(w[0], 0xEEEEEEEEu); /* status is the caller's */
	ck_assert_uint_eq(w[1], 200);
	ck_assert_uint_eq(w[2], 9);
	ck_assert_uint_eq(w[3], 4);
	ck_assert_uint_eq(w[4], 5);
	ck_assert_uint_eq(w[5], 6);
	for (i = 6; i < 16; i++)
		ck_assert_uint_eq(w[i], 0);
}
END_TEST

/* ---- item 4: batch_publish and work items ---------------------------- */

START_TEST(test_proto_batch_publish_three_items_consumes_four)
{
	uint32_t a0[1] = { 1 }, a1[2] = { 2, 3 };
	struct mk_proto_item items[3] = { { MK_OP_NOP, NULL, 0 },
					  { MK_OP_STORE_U32, a1, 2 },
					  { 200, a0, 1 } };
	size_t len = 0;
	uint8_t *r = ring(8, &len);

	ck_assert_int_eq(mk_proto_batch_publish(r, len, 2, 6, items, 3, 0xBEEF,
						NULL),
			 4);
	ck_assert_uint_eq(rd(r, 2 * 16 + 1), MK_OP_NOP);
	ck_assert_uint_eq(rd(r, 3 * 16 + 1), MK_OP_STORE_U32);
	ck_assert_uint_eq(rd(r, 3 * 16 + 5), 3);
	ck_assert_uint_eq(rd(r, 4 * 16 + 1), 200);
	ck_assert_uint_eq(rd(r, 5 * 16 + 0), MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(rd(r, 5 * 16 + 1), MK_OP_BATCH_FENCE);
	ck_assert_uint_eq(rd(r, 5 * 16 + 2), 6);
	ck_assert_uint_eq(rd(r, 5 * 16 + 4), 3);
	ck_assert_uint_eq(rd(r, 5 * 16 + 5), 0xBEEF);
	ck_assert_uint_eq(rd(r, 5 * 16 + 6), 0);
	ck_assert_uint_eq(rd(r, 6 * 16), MK_SLOT_EMPTY);
	ck_assert_uint_eq(rd(r, 1 * 16), MK_SLOT_EMPTY);
	free(r);
}
END_TEST

START_TEST(test_proto_batch_publish_is_all_or_nothing)
{
	uint32_t args[13] = { 0 };
	struct mk_proto_item items[3] = { { MK_OP_NOP, NULL, 0 },
					  { MK_OP_NOP, NULL, 0 },
					  { MK_OP_NOP, NULL, 0 } };
	struct mk_err err;
	size_t len = 0;
	uint8_t *r = ring(4, &len), before[256];

	mk_err_clear(&err);
	wr(r, 3 * 16, MK_SLOT_CLAIMED); /* the fence's slot collides */
	memcpy(before, r, len);
	t_assert_err(mk_proto_batch_publish(r, len, 0, 0, items, 3, 1, &err),
		     -EBUSY, &err, "only EMPTY and DONE");
	ck_assert_mem_eq(r, before, len);
	t_assert_err(mk_proto_batch_publish(r, len, 1, 0, items, 3, 1, &err),
		     -ERANGE, &err, "batch publish exceeds ring slot count");
	t_assert_err(mk_proto_batch_publish(r, len, UINT32_MAX - 2u, 0, items,
					    3, 1, &err),
		     -EOVERFLOW, &err, "u32");
	t_assert_err(mk_proto_batch_publish(r, len + 8, 0, 0, items, 3, 1, &err),
		     -EINVAL, &err, "SLOT_WORDS * 4");
	items[1].args = args;
	items[1].nargs = 13;
	t_assert_err(mk_proto_batch_publish(r, len, 0, 0, items, 2, 1, &err),
		     -E2BIG, &err, "12 u32 args");
	items[1].nargs = 0;
	items[2].opcode = 0xFFF0;
	t_assert_err(mk_proto_batch_publish(r, len, 0, 0, items, 3, 1, &err),
		     -EINVAL, &err, "reserved");
	ck_assert_mem_eq(r, before, len);
	/* DONE targets are recyclable; an empty batch is just the fence */
	wr(r, 3 * 16, MK_SLOT_DONE);
	ck_assert_int_eq(mk_proto_batch_publish(r, len, 3, 0, items, 0, 7, NULL),
			 1);
	ck_assert_uint_eq(rd(r, 3 * 16 + 4), 0);
	ck_assert_uint_eq(rd(r, 3 * 16 + 5), 7);
	free(r);
}
END_TEST

START_TEST(test_proto_publish_work_items)
{
	struct mk_work_item it[2] = { { 200, 1, 2, 3 }, { MK_OP_NOP, 4, 5, 6 } };
	struct mk_err err;
	size_t len = 0;
	uint8_t *r = ring(3, &len);

	mk_err_clear(&err);
	ck_assert_int_eq(mk_proto_publish_work_items(r, len, 1, 8, it, 2, NULL),
			 2);
	ck_assert_uint_eq(rd(r, 16 + 1), 200);
	ck_assert_uint_eq(rd(r, 16 + 2), 8);
	ck_assert_uint_eq(rd(r, 16 + 3), 2);
	ck_assert_uint_eq(rd(r, 16 + 4), 1);
	ck_assert_uint_eq(rd(r, 16 + 6), 3);
	ck_assert_uint_eq(rd(r, 32 + 5), 5);
	ck_assert_uint_eq(rd(r, 0), MK_SLOT_EMPTY);
	t_assert_err(mk_proto_publish_work_items(r, len, 2, 8, it, 2, &err),
		     -ERANGE, &err, "work item publish exceeds ring slot count");
	t_assert_err(mk_proto_publish_work_items(r, len, 0, 8, it, 2, &err),
		     -EBUSY, &err, "only EMPTY and DONE");
	ck_assert_uint_eq(rd(r, 0), MK_SLOT_EMPTY);
	it[0].op_handle = 0x80000000u;
	t_assert_err(mk_proto_publish_work_items(r, len + 1, 0, 8, it, 2, &err),
		     -EINVAL, &err, "reserved"); /* opcodes first */
	free(r);
}
END_TEST

/* ---- item 5: packed slots ----------------------------------------------- */

START_TEST(test_proto_packed_worked_example_bytes)
{
	uint32_t a0[2] = { 7, 160 }, a1[2] = { 5, 161 }, p[12];
	struct mk_proto_packed_op ops[3] = { { 1, a0, 2 }, { 2, a1, 2 },
					     { 0, NULL, 0 } };
	size_t len = 0, n = 0, i;
	uint8_t *r = ring(1, &len);

	ck_assert_int_eq(mk_proto_encode_packed(ops, 3, 0, p, &n, NULL), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_uint_eq(p[0], 0x00010403u);
	ck_assert_uint_eq(p[1], 0x04000202u);
	ck_assert_uint_eq(p[2], 7);
	ck_assert_uint_eq(p[3], 160);
	ck_assert_uint_eq(p[4], 5);
	ck_assert_uint_eq(p[5], 161);
	for (i = 6; i < 12; i++)
		ck_assert_uint_eq(p[i], 0);
	ck_assert_int_eq(mk_proto_publish_packed_slot(r, len, 0, 0, ops, 3,
						      MK_PACK_STRICT, NULL),
			 0);
	ck_assert_uint_eq(rd(r, 0), MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(rd(r, 1), MK_OP_PACKED_SLOT);
	ck_assert_uint_eq(rd(r, 4), 0x00010403u);
	ck_assert_uint_eq(rd(r, 5), 0x04000202u);
	ck_assert_uint_eq(rd(r, 9), 161);
	free(r);
}
END_TEST

START_TEST(test_proto_packed_limits)
{
	struct mk_proto_packed_op ops[256];
	uint32_t args[12] = { 0 }, p[12];
	struct mk_err err;
	size_t n = 0;

	memset(ops, 0, sizeof(ops));
	mk_err_clear(&err);
	ck_assert_int_eq(mk_proto_encode_packed(ops, 0, 0, p, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(p[0], 0);
	ck_assert_int_eq(mk_proto_encode_packed(ops, 23, 0, p, &n, NULL), 0);
	ck_assert_uint_eq(n, 12);
	ck_assert_uint_eq(p[0] & 0xFF, 23);
	t_assert_err(mk_proto_encode_packed(ops, 24, 0, p, &n, &err),
		     -EOVERFLOW, &err,
		     "packed slot metadata exceeds the 12-word slot argument budget");
	t_assert_err(mk_proto_encode_packed(ops, 256, 0, p, &n, &err),
		     -EOVERFLOW, &err, "255");
	ops[0].args = args;
	ops[0].nargs = 11;
	ck_assert_int_eq(mk_proto_encode_packed(ops, 1, 0, p, &n, NULL), 0);
	ck_assert_uint_eq(n, 12);
	ops[0].nargs = 12;
	t_assert_err(mk_proto_encode_packed(ops, 1, 0, p, &n, &err), -EOVERFLOW,
		     &err,
		     "packed slot payload exceeds the 12-word slot argument budget");
	ops[0].nargs = 5;
	ops[1].args = args;
	ops[1].nargs = 5;
	ck_assert_int_eq(mk_proto_encode_packed(ops, 2, 0, p, &n, NULL), 0);
	ck_assert_uint_eq(n, 12);
	ck_assert_uint_eq((p[0] >> 8) & 0xFF, 10);     /* total args */
	ck_assert_uint_eq((p[0] >> 24) & 0xFF, 0);     /* op0 offset */
	ck_assert_uint_eq((p[1] >> 8) & 0xFF, 5);      /* op1 offset */
	ops[1].nargs = 6;
	t_assert_err(mk_proto_encode_packed(ops, 2, 0, p, &n, &err), -EOVERFLOW,
		     &err, "payload exceeds");
}
END_TEST

START_TEST(test_proto_packed_strict_rejections)
{
	struct mk_proto_packed_op ops[5];
	uint32_t args[12] = { 0 }, p[12];
	struct mk_err err;
	size_t n = 0;

	memset(ops, 0, sizeof(ops));
	mk_err_clear(&err);
	/* five empty ops: fine for the reference, dropped by the kernel */
	ck_assert_int_eq(mk_proto_encode_packed(ops, 5, 0, p, &n, NULL), 0);
	t_assert_err(mk_proto_encode_packed(ops, 5, MK_PACK_STRICT, p, &n, &err),
		     -EINVAL, &err, "at most 4");
	/* 8 + 2 args: op1 at base 10, 10 + 3 > 12, skipped by the kernel */
	ops[0].args = args;
	ops[0].nargs = 8;
	ops[1].args = args;
	ops[1].nargs = 2;
	ck_assert_int_eq(mk_proto_encode_packed(ops, 2, 0, p, &n, NULL), 0);
	ck_assert_uint_eq(n, 12);
	t_assert_err(mk_proto_encode_packed(ops, 2, MK_PACK_STRICT, p, &n, &err),
		     -EINVAL, &err, "3 arg words");
	/* 4 ops, the last at base 3 + 6 = 9: 12 <= 12 is accepted */
	ops[0].nargs = 3;
	ops[1].nargs = 3;
	ops[2].nargs = 0;
	ops[3].nargs = 0;
	ck_assert_int_eq(mk_proto_encode_packed(ops, 4, MK_PACK_STRICT, p, &n,
						NULL),
			 0);
	ck_assert_uint_eq(n, 9);
	/* strict errors come after the reference's */
	t_assert_err(mk_proto_encode_packed(ops, 24, MK_PACK_STRICT, p, &n,
					    &err),
		     -EOVERFLOW, &err, "metadata");
}
END_TEST

START_TEST(test_proto_packed_errors_win_over_ring_errors)
{
	struct mk_proto_packed_op ops[24];
	struct mk_err err;
	size_t len = 0;
	uint8_t *r = ring(1, &len);

	memset(ops, 0, sizeof(ops));
	mk_err_clear(&err);
	t_assert_err(mk_proto_publish_packed_slot(r, len + 3, 5, 0, ops, 24, 0,
						  &err),
		     -EOVERFLOW, &err, "metadata");
	t_assert_err(mk_proto_publish_packed_slot(r, len, 5, 0, ops, 2, 0, &err),
		     -ERANGE, &err, "slot_idx");
	wr(r, 0, MK_SLOT_PUBLISHED);
	t_assert_err(mk_proto_publish_packed_slot(r, len, 0, 0, ops, 2, 0, &err),
		     -EBUSY, &err, "only EMPTY and DONE");
	free(r);
}
END_TEST

/* ---- item 9 (host part): priority offsets ------------------------------ */

START_TEST(test_proto_default_priority_offsets)
{
	static const uint32_t s[7] = { 0, 4, 5, 7, 10, 256, 1000 };
	static const uint32_t want[7][6] = {
		{ 0, 0, 0, 0, 0, 0 },	      { 0, 0, 0, 4, 4, 4 },
		{ 0, 1, 2, 3, 4, 5 },	      { 0, 1, 2, 5, 6, 7 },
		{ 0, 2, 4, 6, 8, 10 },	      { 0, 51, 102, 154, 205, 256 },
		{ 0, 200, 400, 600, 800, 1000 }
	};
	uint32_t out[6];
	size_t i;

	for (i = 0; i < 7; i++) {
		mk_proto_default_priority_offsets(s[i], out);
		ck_assert_mem_eq(out, want[i], sizeof(out));
	}
}
END_TEST

START_TEST(test_proto_write_default_priority_offsets)
{
	uint8_t *c = NULL, shortc[134 * 4];
	struct mk_err err;
	size_t len = 0, i;

	c = control(0, 1, 0, &len);
	wr(c, MK_CTL_EPOCH, 0x1234);
	wr(c, MK_CTL_DONE_COUNT, 77);
	wr(c, MK_CTL_PRIORITY_STARVATION, 9);
	ck_assert_int_eq(mk_proto_write_default_priority_offsets(c, len, 256,
								 NULL),
			 0);
	ck_assert_uint_eq(rd(c, 129), 0);
	ck_assert_uint_eq(rd(c, 131), 102);
	ck_assert_uint_eq(rd(c, 132), 154);
	ck_assert_uint_eq(rd(c, 134), 256);
	ck_assert_uint_eq(rd(c, MK_CTL_EPOCH), 0x1234);
	ck_assert_uint_eq(rd(c, MK_CTL_DONE_COUNT), 77);
	ck_assert_uint_eq(rd(c, MK_CTL_PRIORITY_STARVATION), 9);
	mk_err_clear(&err);
	t_assert_err(mk_proto_write_default_priority_offsets(c, len - 2, 5,
							     &err),
		     -EINVAL, &err, "not 4-byte aligned");
	memset(shortc, 0xAB, sizeof(shortc));
	t_assert_err(mk_proto_write_default_priority_offsets(shortc,
							     sizeof(shortc), 5,
							     &err),
		     -ENODATA, &err, "too small for priority partition offsets");
	for (i = 0; i < sizeof(shortc); i++)
		ck_assert_uint_eq(shortc[i], 0xAB); /* no partial write */
	free(c);
}
END_TEST

/* ---- readers ------------------------------------------------------------- */

START_TEST(test_proto_strict_readers)
{
	uint8_t c[640] = { 0 };
	struct mk_err err;
	uint32_t v = 0;

	wr(c, 1, 5);
	wr(c, 128, 9);
	mk_err_clear(&err);
	ck_assert_int_eq(mk_proto_try_read_done_count(c, 8, &v, NULL), 0);
	ck_assert_uint_eq(v, 5);
	t_assert_err(mk_proto_try_read_done_count(c, 7, &v, &err), -EINVAL,
		     &err, "not a whole number of u32 words");
	t_assert_err(mk_proto_try_read_done_count(c, 4, &v, &err), -ENODATA,
		     &err, "missing word 1 in 4 bytes");
	ck_assert_int_eq(mk_proto_try_read_epoch(c, 516, &v, NULL), 0);
	ck_assert_uint_eq(v, 9);
	t_assert_err(mk_proto_try_read_epoch(c, 512, &v, &err), -ENODATA, &err,
		     "missing word 128");
	ck_assert_uint_eq(mk_proto_read_done_count(c, 640), 5);
	ck_assert_uint_eq(mk_proto_read_epoch(c, 640), 9);
	t_assert_err(mk_proto_try_read_observable(c, 640, UINT32_MAX - 159u, &v,
						  &err),
		     -EOVERFLOW, &err,
		     "observable index overflows the protocol word offset");
	ck_assert_uint_eq(mk_proto_read_observable(c, 640, UINT32_MAX), 0);
	ck_assert_uint_eq(mk_proto_read_observable(c, 640, 0), 0);
	ck_assert_uint_eq(mk_proto_read_observable(c, 641, 0), 0);
}
END_TEST

/* Lenient readers abort like the reference panics: run them in a child. */
static int aborts(uint32_t (*fn)(const void *, size_t), const void *b,
		  size_t len)
{
	int st = 0;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fn(b, len);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

START_TEST(test_proto_lenient_readers_abort_on_malformed)
{
	uint8_t c[640] = { 0 };

	ck_assert(aborts(mk_proto_read_done_count, c, 6));
	ck_assert(aborts(mk_proto_read_done_count, c, 4));
	ck_assert(aborts(mk_proto_read_epoch, c, 512));
	ck_assert(!aborts(mk_proto_read_epoch, c, 640));
}
END_TEST

START_TEST(test_proto_metrics_readers)
{
	uint8_t c[644] = { 0 };
	struct mk_metric m[32];
	struct mk_err err;
	size_t n = 0;

	wr(c, 96, 3);
	wr(c, 96 + 7, 1);
	wr(c, 127, 2);
	n = mk_proto_read_metrics(c, 640, m);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(m[0].opcode, 0);
	ck_assert_uint_eq(m[0].count, 3);
	ck_assert_uint_eq(m[1].opcode, 7);
	ck_assert_uint_eq(m[2].opcode, 31);
	ck_assert_uint_eq(m[2].count, 2);
	/* lenient: unaligned and short lengths use the words present */
	ck_assert_uint_eq(mk_proto_read_metrics(c, 511, m), 2);
	ck_assert_uint_eq(mk_proto_read_metrics(c, 100, m), 0);
	mk_err_clear(&err);
	ck_assert_int_eq(mk_proto_try_read_metrics(c, 512, m, &n, NULL), 0);
	ck_assert_uint_eq(n, 3);
	t_assert_err(mk_proto_try_read_metrics(c, 510, m, &n, &err), -EINVAL,
		     &err, "whole number");
	t_assert_err(mk_proto_try_read_metrics(c, 508, m, &n, &err), -ENODATA,
		     &err, "missing word 127");
}
END_TEST

/* ---- item 8: debug-log decoding ------------------------------------------ */

START_TEST(test_proto_debug_log_decode)
{
	uint32_t d[257] = { 0 };
	struct mk_debug_record rec[64];
	struct mk_err err;
	uint32_t dropped = 0;
	size_t n = 0;

	d[0] = 8;
	d[1] = 0xF0;
	d[2] = 1;
	d[3] = 2;
	d[4] = 16;
	d[5] = 0xF1;
	d[8] = 32;
	ck_assert_int_eq(mk_proto_try_read_debug_log(d, sizeof(d), rec, 64, &n,
						     NULL),
			 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(rec[0].fmt_id, 0xF0);
	ck_assert_uint_eq(rec[0].args[0], 1);
	ck_assert_uint_eq(rec[0].args[1], 2);
	ck_assert_uint_eq(rec[0].args[2], 16);
	ck_assert_uint_eq(rec[1].fmt_id, 0xF1);
	ck_assert_uint_eq(rec[1].args[2], 32);
	ck_assert_int_eq(mk_proto_try_read_debug_log(d, sizeof(d), rec, 1, &n,
						     NULL),
			 0);
	ck_assert_uint_eq(n, 1); /* capped by @cap */
	mk_err_clear(&err);
	d[0] = 260;
	t_assert_err(mk_proto_try_read_debug_log(d, sizeof(d), rec, 64, &n,
						 &err),
		     -ENODATA, &err, "cursor must stay within");
	ck_assert_int_eq(mk_proto_read_debug_log_clamped(d, sizeof(d), rec, 64,
							 &n, &dropped, NULL),
			 0);
	ck_assert_uint_eq(n, 64);
	ck_assert_uint_eq(dropped, 1);
	d[0] = 256;
	ck_assert_int_eq(mk_proto_try_read_debug_log(d, sizeof(d), rec, 64, &n,
						     NULL),
			 0);
	ck_assert_uint_eq(n, 64);
	d[0] = 6;
	t_assert_err(mk_proto_try_read_debug_log(d, sizeof(d), rec, 64, &n,
						 &err),
		     -ENODATA, &err, "whole PRINTF records");
	t_assert_err(mk_proto_try_read_debug_log(d, 1027, rec, 64, &n, &err),
		     -EINVAL, &err, "whole number of u32 words");
	t_assert_err(mk_proto_try_read_debug_log(d, 0, rec, 64, &n, &err),
		     -ENODATA, &err, "missing word 0");
	d[0] = 0;
	ck_assert_int_eq(mk_proto_try_read_debug_log(d, 4, rec, 64, &n, NULL),
			 0);
	ck_assert_uint_eq(n, 0);
	d[0] = 4;
	t_assert_err(mk_proto_try_read_debug_log(d, 4, rec, 64, &n, &err),
		     -ENODATA, &err, "cursor must stay within");
}
END_TEST

/* ---- ring counters, LOAD_MISS images ------------------------------------ */

START_TEST(test_proto_count_done_ring_slots)
{
	struct mk_err err;
	size_t len = 0;
	uint8_t *r = ring(4, &len);
	uint32_t v = 9;

	wr(r, 0, MK_SLOT_DONE);
	wr(r, 32, MK_SLOT_DONE);
	wr(r, 48, MK_SLOT_PUBLISHED);
	ck_assert_int_eq(mk_proto_try_count_done_ring_slots(r, len, 4, &v, NULL),
			 0);
	ck_assert_uint_eq(v, 2);
	ck_assert_int_eq(mk_proto_try_count_done_ring_slots(r, len, 0, &v, NULL),
			 0);
	ck_assert_uint_eq(v, 0);
	mk_err_clear(&err);
	t_assert_err(mk_proto_try_count_done_ring_slots(r, len, 5, &v, &err),
		     -ENODATA, &err, "missing word 80");
	t_assert_err(mk_proto_try_count_done_ring_slots(r, 254, 1, &v, &err),
		     -EINVAL, &err, "whole number");
	ck_assert_int_eq(mk_proto_count_done_ring_slots(r, len, 1), 1);
	ck_assert_int_eq(mk_proto_count_done_ring_slots(r, 255, 3), 2);
	ck_assert_int_eq(mk_proto_count_done_ring_slots(r, len, 0), -1);
	ck_assert_int_eq(mk_proto_count_done_ring_slots(r, len, 5), -1);
	free(r);
}
END_TEST

START_TEST(test_proto_load_miss_image)
{
	struct mk_slot s;
	uint32_t res = 0;
	int pf = -1;
	size_t len = 0;
	uint8_t *r = ring(2, &len);

	mk_proto_encode_load_miss(0xCAFE, 5, &s);
	ck_assert_uint_eq(s.status, MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(s.opcode, 0xFFFD);
	ck_assert_uint_eq(s.tenant, 0);
	ck_assert_uint_eq(s.priority, 0);
	ck_assert_uint_eq(s.args[0], 0xCAFE);
	ck_assert_uint_eq(s.args[1], 1);
	ck_assert_uint_eq(s.args[2], 0);
	ck_assert_int_eq(mk_proto_decode_load_miss(r, len, 1, &res, &pf),
			 -ENODATA);
	s.status = MK_SLOT_DONE; /* status is not checked */
	memcpy(r + 64, &s, sizeof(s));
	ck_assert_int_eq(mk_proto_decode_load_miss(r, len, 1, &res, &pf), 0);
	ck_assert_uint_eq(res, 0xCAFE);
	ck_assert_int_eq(pf, 1);
	ck_assert_int_eq(mk_proto_decode_load_miss(r, len - 1, 1, &res, &pf),
			 -ENODATA);
	mk_proto_encode_load_miss(3, 0, &s);
	ck_assert_uint_eq(s.args[1], 0);
	free(r);
}
END_TEST

/* ---- item 11: readback validation sizes --------------------------------- */

START_TEST(test_proto_dispatch_validators)
{
	struct mk_err err;

	mk_err_clear(&err);
	ck_assert_int_eq(mk_proto_validate_control_bytes(640, NULL), 0);
	ck_assert_int_eq(mk_proto_validate_control_bytes(644, NULL), 0);
	t_assert_err(mk_proto_validate_control_bytes(636, &err), -EINVAL, &err,
		     "has 636 bytes, expected at least 640 bytes and 4-byte alignment");
	t_assert_err(mk_proto_validate_control_bytes(642, &err), -EINVAL, &err,
		     "642");
	ck_assert_int_eq(mk_proto_validate_debug_log_bytes(1028, NULL), 0);
	t_assert_err(mk_proto_validate_debug_log_bytes(1024, &err), -EINVAL,
		     &err, "expected exactly 1028 bytes for 64 PRINTF records");
	t_assert_err(mk_proto_validate_debug_log_bytes(1032, &err), -EINVAL,
		     &err, "1032");
	ck_assert_int_eq(mk_proto_validate_ring_bytes(256, 4, NULL), 0);
	ck_assert_int_eq(mk_proto_validate_ring_bytes(0, 0, NULL), 0);
	t_assert_err(mk_proto_validate_ring_bytes(192, 4, &err), -EINVAL, &err,
		     "ring buffer has 192 bytes, expected 256 for 4 slots");
	t_assert_err(mk_proto_validate_ring_bytes(320, 4, &err), -EINVAL, &err,
		     "320");
}
END_TEST

START_TEST(test_proto_word_helpers_handle_unaligned_buffers)
{
	uint8_t b[16] = { 0 };

	mk_proto_store_release(b + 1, 1, 0x11223344u);
	ck_assert_uint_eq(b[5], 0x44);
	ck_assert_uint_eq(b[8], 0x11);
	ck_assert_uint_eq(mk_proto_load_acquire(b + 1, 1), 0x11223344u);
	ck_assert_uint_eq(mk_proto_cas_word(b + 1, 1, 1, 2), 0x11223344u);
	ck_assert_uint_eq(mk_proto_load_word(b + 1, 1), 0x11223344u);
	ck_assert_uint_eq(mk_proto_cas_word(b + 1, 1, 0x11223344u, 2),
			  0x11223344u);
	ck_assert_uint_eq(mk_proto_load_word(b + 1, 1), 2);
	ck_assert_uint_eq(mk_proto_cas_word(b, 2, 0, 9), 0);
	ck_assert_uint_eq(mk_proto_load_word(b, 2), 9);
}
END_TEST

static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *enc = tcase_create("encode");
	TCase *pub = tcase_create("publish");
	TCase *rdr = tcase_create("read");

	tcase_add_test(enc, test_proto_encode_control_defaults);
	tcase_add_test(enc, test_proto_encode_control_worked_example);
	tcase_add_test(enc, test_proto_encode_control_into_checks_before_clearing);
	tcase_add_test(enc, test_proto_byte_lengths);
	tcase_add_test(enc, test_proto_encoder_caps);
	tcase_add_test(enc, test_proto_default_priority_offsets);
	tcase_add_test(enc, test_proto_write_default_priority_offsets);
	tcase_add_test(enc, test_proto_load_miss_image);
	tcase_add_test(enc, test_proto_word_helpers_handle_unaligned_buffers);
	tcase_add_test(pub, test_proto_publish_writes_slot_status_last_fields);
	tcase_add_test(pub, test_proto_publish_error_order);
	tcase_add_test(pub, test_proto_publish_rejects_every_busy_status);
	tcase_add_test(pub, test_proto_publish_recycles_done_and_zeroes_stale_args);
	tcase_add_test(pub, test_proto_reserved_and_custom_opcodes);
	tcase_add_test(pub, test_proto_publishable_set_boundaries_and_names);
	tcase_add_test(pub, test_proto_check_publish_and_fill_slot);
	tcase_add_test(pub, test_proto_batch_publish_three_items_consumes_four);
	tcase_add_test(pub, test_proto_batch_publish_is_all_or_nothing);
	tcase_add_test(pub, test_proto_publish_work_items);
	tcase_add_test(pub, test_proto_packed_worked_example_bytes);
	tcase_add_test(pub, test_proto_packed_limits);
	tcase_add_test(pub, test_proto_packed_strict_rejections);
	tcase_add_test(pub, test_proto_packed_errors_win_over_ring_errors);
	tcase_add_test(rdr, test_proto_strict_readers);
	tcase_add_test(rdr, test_proto_lenient_readers_abort_on_malformed);
	tcase_add_test(rdr, test_proto_metrics_readers);
	tcase_add_test(rdr, test_proto_debug_log_decode);
	tcase_add_test(rdr, test_proto_count_done_ring_slots);
	tcase_add_test(rdr, test_proto_dispatch_validators);
	suite_add_tcase(s, enc);
	suite_add_tcase(s, pub);
	suite_add_tcase(s, rdr);
	return s;
}

MK_CHECK_MAIN(proto_suite)
