/* SPDX-License-Identifier: MIT */
/*
 * tests/check_io.c - runtime/io.c against PROTOCOL.md section 7 and
 * checklist item 10: encoders and view validation, MegakernelIoQueue
 * (publish / completion / is_recycled), the poll -> claim -> complete pump
 * with its all-or-nothing batch, and the recycle helper of 12.18.
 * Run: ./build/release/tests/check_io
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "runtime/abi.h"
#include "runtime/io.h"
#include "runtime/proto.h"
#include "tests/mk_check.h"

#define t_assert_err(rc, want, err, needle)                                  \
	do {                                                                 \
		ck_assert_int_eq((rc), (want));                              \
		ck_assert_int_eq((err)->code, (want));                       \
		t_assert_fix(mk_err_msg(err));                               \
		ck_assert_msg(strstr(mk_err_msg(err), (needle)) != NULL,     \
			      "'%s' lacks '%s'", mk_err_msg(err), (needle)); \
	} while (0)

static uint32_t stw(const void *io, uint32_t slot)
{
	return mk_proto_load_word(io, (size_t)slot * 8u + MK_IO_STATUS);
}

static void set_stw(void *io, uint32_t slot, uint32_t v)
{
	mk_proto_store_word(io, (size_t)slot * 8u + MK_IO_STATUS, v);
}

/* What LOAD_MISS writes for a GPU-initiated read (5.11 step 4). */
static void gpu_request(void *io, uint32_t slot, uint32_t res, uint32_t lo,
			uint32_t hi, uint32_t bytes)
{
	size_t b = (size_t)slot * 8u;

	mk_proto_store_word(io, b + MK_IO_OP_TYPE, MK_IO_OP_READ);
	mk_proto_store_word(io, b + MK_IO_SRC_HANDLE, res);
	mk_proto_store_word(io, b + MK_IO_DST_HANDLE, res + 1u);
	mk_proto_store_word(io, b + MK_IO_OFFSET_LO, lo);
	mk_proto_store_word(io, b + MK_IO_OFFSET_HI, hi);
	mk_proto_store_word(io, b + MK_IO_BYTE_COUNT, bytes);
	mk_proto_store_word(io, b + MK_IO_TAG, res + 2u);
	set_stw(io, slot, MK_SLOT_PUBLISHED);
}

START_TEST(test_io_encode_empty_queue)
{
	uint8_t buf[2048 + 8], *q = NULL;
	struct mk_err err;
	size_t len = 0, i;

	mk_err_clear(&err);
	t_assert_err(mk_io_encode_empty_queue(0, &q, &len, &err), -EINVAL, &err,
		     "io_queue requires at least one slot");
	ck_assert_ptr_null(q);
	t_assert_err(mk_io_encode_empty_queue(65, &q, &len, &err), -EOVERFLOW,
		     &err, "compiled IO poll window of 64 slots");
	ck_assert_int_eq(mk_io_encode_empty_queue(64, &q, &len, NULL), 0);
	ck_assert_uint_eq(len, 2048);
	for (i = 0; i < len; i++)
		ck_assert_uint_eq(q[i], 0);
	free(q);
	memset(buf, 0xEE, sizeof(buf));
	t_assert_err(mk_io_encode_empty_queue_into(buf, 31, 1, &len, &err),
		     -ENOSPC, &err, "32");
	ck_assert_uint_eq(buf[0], 0xEE);
	ck_assert_int_eq(mk_io_encode_empty_queue_into(buf, sizeof(buf), 2, &len,
						       NULL),
			 0);
	ck_assert_uint_eq(len, 64);
	ck_assert_uint_eq(buf[63], 0);
	ck_assert_uint_eq(buf[64], 0xEE);
}
END_TEST

START_TEST(test_io_validate_queue_bytes)
{
	struct mk_err err;

	mk_err_clear(&err);
	ck_assert_int_eq(mk_io_validate_queue_bytes(0, NULL), 0);
	ck_assert_int_eq(mk_io_validate_queue_bytes(32, NULL), 0);
	ck_assert_int_eq(mk_io_validate_queue_bytes(2048, NULL), 0);
	t_assert_err(mk_io_validate_queue_bytes(2, &err), -EINVAL, &err,
		     "io_queue has 2 bytes, which is not 4-byte aligned");
	t_assert_err(mk_io_validate_queue_bytes(36, &err), -EINVAL, &err,
		     "not a multiple of slot size 32");
	t_assert_err(mk_io_validate_queue_bytes(2080, &err), -EOVERFLOW, &err,
		     "64 slots");
	ck_assert_int_eq(mk_io_validate_dispatch_bytes(2048, NULL), 0);
	t_assert_err(mk_io_validate_dispatch_bytes(2016, &err), -EINVAL, &err,
		     "expected exactly 2048 bytes");
	t_assert_err(mk_io_validate_dispatch_bytes(0, &err), -EINVAL, &err,
		     "64 slots");
}
END_TEST

START_TEST(test_io_queue_init_bounds)
{
	struct mk_io_queue q;
	struct mk_err err;
	size_t len = 0;

	mk_err_clear(&err);
	t_assert_err(mk_io_queue_init(&q, 0, &err), -EINVAL, &err,
		     "at least one slot");
	t_assert_err(mk_io_queue_init(&q, 65, &err), -EOVERFLOW, &err,
		     "64 slots");
	ck_assert_int_eq(mk_io_queue_init(&q, 64, NULL), 0);
	ck_assert_ptr_eq(mk_io_queue_bytes(&q, &len), q.words);
	ck_assert_uint_eq(len, 2048);
	ck_assert_int_eq(mk_io_queue_init(&q, 3, NULL), 0);
	mk_io_queue_bytes(&q, &len);
	ck_assert_uint_eq(len, 96);
	ck_assert(mk_io_queue_is_recycled(&q, 2));
	ck_assert(!mk_io_queue_is_recycled(&q, 3));
}
END_TEST

START_TEST(test_io_queue_publish_and_completion)
{
	struct mk_io_completion c;
	struct mk_io_queue q;
	struct mk_err err;
	uint32_t *w;

	ck_assert_int_eq(mk_io_queue_init(&q, 4, NULL), 0);
	mk_err_clear(&err);
	ck_assert_int_eq(mk_io_queue_completion(&q, 1, &c), -ENODATA);
	ck_assert_int_eq(mk_io_queue_publish_slot(&q, 1, 17, 4096, 0xAB, NULL),
			 0);
	w = &q.words[8];
	ck_assert_uint_eq(w[MK_IO_OP_TYPE], MK_IO_OP_READ);
	ck_assert_uint_eq(w[MK_IO_SRC_HANDLE], 0);
	ck_assert_uint_eq(w[MK_IO_DST_HANDLE], 17);
	ck_assert_uint_eq(w[MK_IO_OFFSET_LO], 0);
	ck_assert_uint_eq(w[MK_IO_OFFSET_HI], 0);
	ck_assert_uint_eq(w[MK_IO_BYTE_COUNT], 4096);
	ck_assert_uint_eq(w[MK_IO_STATUS], MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(w[MK_IO_TAG], 0xAB);
	ck_assert(!mk_io_queue_is_recycled(&q, 1));
	/* completion reports the slot even while it is still PUBLISHED */
	ck_assert_int_eq(mk_io_queue_completion(&q, 1, &c), 0);
	ck_assert_uint_eq(c.slot_idx, 1);
	ck_assert_uint_eq(c.mapped_slot, 17);
	ck_assert_uint_eq(c.byte_count, 4096);
	ck_assert_uint_eq(c.tag, 0xAB);
	ck_assert_int_eq(mk_io_queue_completion(&q, 4, &c), -ENODATA);
	t_assert_err(mk_io_queue_publish_slot(&q, 1, 18, 1, 1, &err), -EBUSY,
		     &err, "still in flight");
	ck_assert_uint_eq(w[MK_IO_DST_HANDLE], 17);
	t_assert_err(mk_io_queue_publish_slot(&q, 4, 18, 1, 1, &err), -ERANGE,
		     &err, "valid slot id");
	ck_assert_int_eq(mk_io_queue_submit_dma_read(&q, 2, 5, 6, 7, 8, NULL),
			 0);
	ck_assert_uint_eq(q.words[16 + MK_IO_SRC_HANDLE], 5);
	ck_assert_uint_eq(q.words[16 + MK_IO_DST_HANDLE], 6);
	ck_assert_uint_eq(q.words[16 + MK_IO_BYTE_COUNT], 7);
	ck_assert_uint_eq(q.words[16 + MK_IO_TAG], 8);
	t_assert_err(mk_io_queue_submit_dma_read(&q, 2, 5, 6, 7, 8, &err),
		     -EBUSY, &err, "still in flight");
}
END_TEST

START_TEST(test_io_poll_claim_complete_flow)
{
	struct mk_io_request req[64];
	struct mk_io_result ok[2] = { { 3, 1 }, { 9, 0 } };
	uint8_t io[2048] = { 0 };
	struct mk_err err;

	gpu_request(io, 3, 100, 0x10, 0x2, 512);
	gpu_request(io, 9, 200, 0, 0, 64);
	/* poll lists without changing */
	ck_assert_int_eq(mk_io_poll_requests(io, sizeof(io), req, 64, NULL), 2);
	ck_assert_uint_eq(req[0].slot_idx, 3);
	ck_assert_uint_eq(req[0].op_type, MK_IO_OP_READ);
	ck_assert_uint_eq(req[0].src_handle, 100);
	ck_assert_uint_eq(req[0].dst_handle, 101);
	ck_assert_uint_eq(req[0].offset, 0x200000010ull);
	ck_assert_uint_eq(req[0].byte_count, 512);
	ck_assert_uint_eq(req[0].tag, 102);
	ck_assert_uint_eq(req[1].slot_idx, 9);
	ck_assert_uint_eq(stw(io, 3), MK_SLOT_PUBLISHED);
	/* completing before claiming is refused */
	mk_err_clear(&err);
	t_assert_err(mk_io_complete(io, sizeof(io), 3, 1, &err), -EBUSY, &err,
		     "requires a CLAIMED request");
	/* claim takes each request once */
	ck_assert_int_eq(mk_io_claim_requests(io, sizeof(io), req, 64, NULL), 2);
	ck_assert_uint_eq(stw(io, 3), MK_SLOT_CLAIMED);
	ck_assert_uint_eq(stw(io, 9), MK_SLOT_CLAIMED);
	ck_assert_int_eq(mk_io_claim_requests(io, sizeof(io), req, 64, NULL), 0);
	ck_assert_int_eq(mk_io_poll_requests(io, sizeof(io), req, 64, NULL), 0);
	ck_assert_int_eq(mk_io_complete_batch(io, sizeof(io), ok, 2, NULL), 0);
	ck_assert_uint_eq(stw(io, 3), MK_IO_STATUS_OK);
	ck_assert_uint_eq(stw(io, 9), MK_IO_STATUS_ERROR);
	/* only STATUS words were written */
	ck_assert_uint_eq(mk_proto_load_word(io, 3 * 8 + MK_IO_TAG), 102);
	ck_assert_uint_eq(mk_proto_load_word(io, 9 * 8 + MK_IO_BYTE_COUNT), 64);
	t_assert_err(mk_io_complete(io, sizeof(io), 3, 1, &err), -EBUSY, &err,
		     "CLAIMED");
}
END_TEST

START_TEST(test_io_complete_batch_is_all_or_nothing)
{
	struct mk_io_result bad_status[2] = { { 0, 1 }, { 1, 1 } };
	struct mk_io_result bad_slot[2] = { { 0, 1 }, { 4, 1 } };
	uint8_t io[4 * 32] = { 0 };
	struct mk_err err;

	set_stw(io, 0, MK_SLOT_CLAIMED);
	set_stw(io, 1, MK_SLOT_PUBLISHED);
	mk_err_clear(&err);
	t_assert_err(mk_io_complete_batch(io, sizeof(io), bad_status, 2, &err),
		     -EBUSY, &err, "requires a CLAIMED request");
	ck_assert_uint_eq(stw(io, 0), MK_SLOT_CLAIMED);
	t_assert_err(mk_io_complete_batch(io, sizeof(io), bad_slot, 2, &err),
		     -ERANGE, &err, "complete a valid slot id");
	ck_assert_uint_eq(stw(io, 0), MK_SLOT_CLAIMED);
	t_assert_err(mk_io_complete_batch(io, sizeof(io) - 4, bad_slot, 1,
					  &err),
		     -EINVAL, &err, "multiple of slot size 32");
	t_assert_err(mk_io_complete_batch(io, sizeof(io) + 2, bad_slot, 1,
					  &err),
		     -EINVAL, &err, "4-byte aligned");
	ck_assert_uint_eq(stw(io, 0), MK_SLOT_CLAIMED);
	ck_assert_int_eq(mk_io_complete_batch(io, sizeof(io), bad_slot, 0, NULL),
			 0);
	ck_assert_int_eq(mk_io_complete_batch(io, sizeof(io), bad_slot, 1, NULL),
			 0);
	ck_assert_uint_eq(stw(io, 0), MK_IO_STATUS_OK);
}
END_TEST

START_TEST(test_io_claim_respects_capacity_and_views)
{
	struct mk_io_request req[2];
	uint8_t raw[3 * 32 + 1] = { 0 }, *io = raw + 1; /* unaligned view */
	struct mk_err err;

	gpu_request(io, 0, 1, 0, 0, 1);
	gpu_request(io, 1, 2, 0, 0, 1);
	gpu_request(io, 2, 3, 0, 0, 1);
	ck_assert_int_eq(mk_io_claim_requests(io, 96, req, 2, NULL), 2);
	ck_assert_uint_eq(req[1].slot_idx, 1);
	ck_assert_uint_eq(stw(io, 2), MK_SLOT_PUBLISHED); /* left for later */
	ck_assert_int_eq(mk_io_claim_requests(io, 96, req, 2, NULL), 1);
	ck_assert_uint_eq(req[0].slot_idx, 2);
	ck_assert_uint_eq(req[0].src_handle, 3);
	ck_assert_int_eq(mk_io_complete(io, 96, 2, 0, NULL), 0);
	ck_assert_uint_eq(stw(io, 2), MK_IO_STATUS_ERROR);
	/* a view shorter than the queue only sees its own slots */
	set_stw(io, 2, MK_SLOT_PUBLISHED);
	ck_assert_int_eq(mk_io_poll_requests(io, 64, req, 2, NULL), 0);
	mk_err_clear(&err);
	t_assert_err(mk_io_poll_requests(io, 65, req, 2, &err), -EINVAL, &err,
		     "4-byte aligned");
	t_assert_err(mk_io_claim_requests(io, 65 * 32, req, 2, &err),
		     -EOVERFLOW, &err, "64 slots");
	ck_assert_int_eq(mk_io_poll_requests(io, 0, req, 2, NULL), 0);
}
END_TEST

START_TEST(test_io_recycle_slot)
{
	uint8_t io[4 * 32] = { 0 };
	struct mk_err err;

	mk_err_clear(&err);
	set_stw(io, 0, MK_SLOT_DONE);
	set_stw(io, 1, MK_IO_STATUS_OK);
	set_stw(io, 2, MK_IO_STATUS_ERROR);
	mk_proto_store_word(io, MK_IO_TAG, 0x5A);
	ck_assert_int_eq(mk_io_recycle_slot(io, sizeof(io), 0, NULL), 0);
	ck_assert_int_eq(mk_io_recycle_slot(io, sizeof(io), 1, NULL), 0);
	ck_assert_int_eq(mk_io_recycle_slot(io, sizeof(io), 2, NULL), 0);
	ck_assert_uint_eq(stw(io, 0), MK_SLOT_EMPTY);
	ck_assert_uint_eq(stw(io, 1), MK_SLOT_EMPTY);
	ck_assert_uint_eq(stw(io, 2), MK_SLOT_EMPTY);
	ck_assert_uint_eq(mk_proto_load_word(io, MK_IO_TAG), 0x5A);
	ck_assert_int_eq(mk_io_recycle_slot(io, sizeof(io), 3, NULL), 0);
	set_stw(io, 0, MK_SLOT_PUBLISHED);
	set_stw(io, 1, MK_SLOT_CLAIMED);
	set_stw(io, 2, MK_SLOT_FAULT);
	t_assert_err(mk_io_recycle_slot(io, sizeof(io), 0, &err), -EBUSY, &err,
		     "in flight");
	t_assert_err(mk_io_recycle_slot(io, sizeof(io), 1, &err), -EBUSY, &err,
		     "in flight");
	t_assert_err(mk_io_recycle_slot(io, sizeof(io), 2, &err), -EINVAL, &err,
		     "can be recycled");
	t_assert_err(mk_io_recycle_slot(io, sizeof(io), 4, &err), -ERANGE, &err,
		     "valid slot id");
	ck_assert_uint_eq(stw(io, 0), MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(stw(io, 1), MK_SLOT_CLAIMED);
	ck_assert_uint_eq(stw(io, 2), MK_SLOT_FAULT);
}
END_TEST

START_TEST(test_io_flow_b_sidecar_cycle)
{
	struct mk_io_completion c;
	struct mk_io_queue q;
	struct mk_err err;
	uint32_t *st;

	ck_assert_int_eq(mk_io_queue_init(&q, 64, NULL), 0);
	st = &q.words[5 * 8 + MK_IO_STATUS];
	ck_assert_int_eq(mk_io_queue_publish_slot(&q, 5, 3, 128, 9, NULL), 0);
	/* what the GPU sidecar does (7.4): CAS to CLAIMED, load, DONE */
	ck_assert_uint_eq(mk_proto_cas_word(q.words, 5 * 8 + MK_IO_STATUS,
					    MK_SLOT_PUBLISHED, MK_SLOT_CLAIMED),
			  MK_SLOT_PUBLISHED);
	*st = MK_SLOT_DONE;
	ck_assert(!mk_io_queue_is_recycled(&q, 5));
	ck_assert_int_eq(mk_io_queue_completion(&q, 5, &c), 0);
	ck_assert_uint_eq(c.mapped_slot, 3);
	mk_err_clear(&err);
	t_assert_err(mk_io_queue_publish_slot(&q, 5, 4, 1, 1, &err), -EBUSY,
		     &err, "recycle");
	ck_assert_int_eq(mk_io_queue_recycle(&q, 5, NULL), 0);
	ck_assert(mk_io_queue_is_recycled(&q, 5));
	ck_assert_int_eq(mk_io_queue_completion(&q, 5, &c), -ENODATA);
	ck_assert_int_eq(mk_io_queue_publish_slot(&q, 5, 4, 256, 10, NULL), 0);
	ck_assert_uint_eq(*st, MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(q.words[5 * 8 + MK_IO_BYTE_COUNT], 256);
}
END_TEST

static Suite *io_suite(void)
{
	Suite *s = suite_create("io");
	TCase *tc = tcase_create("queue");

	tcase_add_test(tc, test_io_encode_empty_queue);
	tcase_add_test(tc, test_io_validate_queue_bytes);
	tcase_add_test(tc, test_io_queue_init_bounds);
	tcase_add_test(tc, test_io_queue_publish_and_completion);
	tcase_add_test(tc, test_io_poll_claim_complete_flow);
	tcase_add_test(tc, test_io_complete_batch_is_all_or_nothing);
	tcase_add_test(tc, test_io_claim_respects_capacity_and_views);
	tcase_add_test(tc, test_io_recycle_slot);
	tcase_add_test(tc, test_io_flow_b_sidecar_cycle);
	suite_add_tcase(s, tc);
	return s;
}

MK_CHECK_MAIN(io_suite)
