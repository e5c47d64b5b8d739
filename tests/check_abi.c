/* SPDX-License-Identifier: MIT */
/*
 * tests/check_abi.c - the layout contracts of the vyre seed test
 * (../shared/spec/seed-layout-contracts.rs), one Check test per Rust test
 * and named after it, against runtime/abi.h and runtime/proto.h; plus
 * sizeof/offsetof pins of struct mk_slot.
 * Run: ./build/release/tests/check_abi
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "runtime/abi.h"
#include "runtime/proto.h"
#include "tests/mk_check.h"

static uint32_t rd(const uint8_t *b, size_t i)
{
	return mk_proto_load_word(b, i);
}

static void wr(uint8_t *b, size_t i, uint32_t v)
{
	mk_proto_store_word(b, i, v);
}

static uint8_t *control(uint32_t tenants, uint32_t obs, size_t *len)
{
	uint8_t *c = NULL;

	ck_assert_int_eq(mk_proto_encode_control(0, tenants, obs, &c, len, NULL),
			 0);
	return c;
}

static uint8_t *ring(uint32_t slots, size_t *len)
{
	uint8_t *r = NULL;

	ck_assert_int_eq(mk_proto_encode_empty_ring(slots, &r, len, NULL), 0);
	return r;
}

/* ---- 1. priority offsets / fairness non-overlap -------------------------- */

START_TEST(test_abi_priority_offsets_do_not_overlap_tenant_fairness)
{
	uint32_t end = MK_CTL_TENANT_FAIRNESS_BASE + MK_CTL_TENANT_FAIRNESS_SLOTS;

	ck_assert_uint_ge(MK_CTL_PRIORITY_OFFSETS_BASE, end);
}
END_TEST

START_TEST(test_abi_priority_offsets_do_not_overlap_metrics)
{
	uint32_t end = MK_CTL_METRICS_BASE + MK_CTL_METRICS_SLOTS;

	ck_assert_uint_ge(MK_CTL_PRIORITY_OFFSETS_BASE, end);
}
END_TEST

START_TEST(test_abi_priority_starvation_counter_is_after_offsets)
{
	ck_assert_uint_eq(MK_CTL_PRIORITY_STARVATION,
			  MK_CTL_PRIORITY_OFFSETS_BASE +
				  MK_CTL_PRIORITY_OFFSETS_SLOTS);
	ck_assert_uint_eq(MK_CTL_PRIORITY_STARVATION, 135);
}
END_TEST

START_TEST(test_abi_priority_fairness_base_is_after_starvation_counter)
{
	ck_assert_uint_eq(MK_CTL_PRIORITY_FAIRNESS_BASE,
			  MK_CTL_PRIORITY_STARVATION + 1u);
	ck_assert_uint_eq(MK_CTL_PRIORITY_FAIRNESS_BASE, 136);
}
END_TEST

START_TEST(test_abi_priority_fairness_does_not_overlap_observable_base)
{
	uint32_t end =
		MK_CTL_PRIORITY_FAIRNESS_BASE + MK_CTL_PRIORITY_FAIRNESS_SLOTS;

	ck_assert_uint_ge(MK_CTL_OBSERVABLE_BASE, end);
}
END_TEST

START_TEST(test_abi_priority_offsets_slots_equals_levels_plus_sentinel)
{
	ck_assert_uint_eq(MK_CTL_PRIORITY_OFFSETS_SLOTS, MK_PRIORITY_LEVELS + 1u);
	ck_assert_uint_eq(MK_PRIORITY_LEVELS, 5);
}
END_TEST

START_TEST(test_abi_write_default_priority_offsets_preserves_epoch_word)
{
	size_t len = 0;
	uint8_t *c = control(1, 0, &len);

	wr(c, MK_CTL_EPOCH, 0xABCD1234u);
	ck_assert_int_eq(mk_proto_write_default_priority_offsets(c, len, 64, NULL),
			 0);
	ck_assert_uint_eq(rd(c, MK_CTL_EPOCH), 0xABCD1234u);
	/* and the offsets really were written: 64 = 5*12 + 4 */
	ck_assert_uint_eq(rd(c, MK_CTL_PRIORITY_OFFSETS_BASE + 3u), 40);
	ck_assert_uint_eq(rd(c, MK_CTL_PRIORITY_OFFSETS_BASE + 5u), 64);
	free(c);
}
END_TEST

START_TEST(test_abi_write_default_priority_offsets_preserves_done_count)
{
	size_t len = 0;
	uint8_t *c = control(1, 0, &len);

	wr(c, MK_CTL_DONE_COUNT, 99);
	ck_assert_int_eq(mk_proto_write_default_priority_offsets(c, len, 64, NULL),
			 0);
	ck_assert_uint_eq(rd(c, MK_CTL_DONE_COUNT), 99);
	ck_assert_uint_eq(rd(c, MK_CTL_PRIORITY_OFFSETS_BASE + 1u), 12);
	free(c);
}
END_TEST

START_TEST(test_abi_control_regions_are_strictly_ordered)
{
	ck_assert_uint_lt(MK_CTL_SHUTDOWN, MK_CTL_DONE_COUNT);
	ck_assert_uint_lt(MK_CTL_DONE_COUNT, MK_CTL_TENANT_BASE);
	ck_assert_uint_lt(MK_CTL_TENANT_BASE, MK_CTL_TENANT_QUOTA_BASE);
	ck_assert_uint_lt(MK_CTL_TENANT_QUOTA_BASE, MK_CTL_TENANT_FAIRNESS_BASE);
	ck_assert_uint_lt(MK_CTL_TENANT_FAIRNESS_BASE, MK_CTL_METRICS_BASE);
	ck_assert_uint_lt(MK_CTL_METRICS_BASE, MK_CTL_EPOCH);
	ck_assert_uint_lt(MK_CTL_EPOCH, MK_CTL_PRIORITY_OFFSETS_BASE);
	ck_assert_uint_lt(MK_CTL_PRIORITY_OFFSETS_BASE, MK_CTL_PRIORITY_STARVATION);
	ck_assert_uint_lt(MK_CTL_PRIORITY_STARVATION,
			  MK_CTL_PRIORITY_FAIRNESS_BASE);
	ck_assert_uint_lt(MK_CTL_PRIORITY_FAIRNESS_BASE, MK_CTL_OBSERVABLE_BASE);
}
END_TEST

/* ---- 2. control min words ---------------------------------------------- */

START_TEST(test_abi_control_min_words_covers_all_fixed_regions)
{
	ck_assert_uint_ge(MK_CONTROL_MIN_WORDS, MK_CTL_OBSERVABLE_BASE);
}
END_TEST

START_TEST(test_abi_encode_control_zero_observables_equals_control_min_words_in_bytes)
{
	size_t len = 0;
	uint8_t *c = control(0, 0, &len);

	ck_assert_uint_eq(len, MK_CONTROL_MIN_WORDS * 4u);
	free(c);
}
END_TEST

START_TEST(test_abi_encode_control_huge_tenant_count_saturates_fixed_tables)
{
	size_t len = 0;
	uint8_t *c = control(UINT32_MAX, 0, &len);

	ck_assert_uint_eq(len, MK_CONTROL_MIN_WORDS * 4u);
	ck_assert_uint_eq(rd(c, MK_CTL_TENANT_QUOTA_BASE), 1000000);
	ck_assert_uint_eq(rd(c, MK_CTL_TENANT_FAIRNESS_BASE - 1u), 1000000);
	/* saturated, not spilled: fairness and metrics stay zero */
	ck_assert_uint_eq(rd(c, MK_CTL_TENANT_FAIRNESS_BASE), 0);
	ck_assert_uint_eq(rd(c, MK_CTL_METRICS_BASE), 0);
	free(c);
}
END_TEST

START_TEST(test_abi_encode_control_nonzero_observables_exceeds_min_words)
{
	size_t len = 0;
	uint8_t *c = control(0, 8, &len);

	ck_assert_uint_eq(len, (MK_CTL_OBSERVABLE_BASE + 8u) * 4u);
	ck_assert_uint_gt(len, MK_CONTROL_MIN_WORDS * 4u);
	free(c);
}
END_TEST

START_TEST(test_abi_control_byte_len_observable_zero_returns_min_words)
{
	size_t n = 0;

	ck_assert_int_eq(mk_proto_control_byte_len(0, &n), 0);
	ck_assert_uint_eq(n, MK_CONTROL_MIN_WORDS * 4u);
}
END_TEST

START_TEST(test_abi_control_byte_len_rejects_observable_count_above_protocol_cap)
{
	size_t n = 7;

	ck_assert_int_eq(mk_proto_control_byte_len(MK_MAX_OBSERVABLE_SLOTS + 1u,
						   &n),
			 -EOVERFLOW);
	ck_assert_uint_eq(n, 7); /* untouched */
	ck_assert_int_eq(mk_proto_control_byte_len(MK_MAX_OBSERVABLE_SLOTS, &n),
			 0);
	ck_assert_uint_eq(n, 4ull * 0xFFFFFFFFull);
}
END_TEST

START_TEST(test_abi_ring_byte_len_rejects_slot_count_above_protocol_cap)
{
	size_t n = 0;

	ck_assert_int_eq(mk_proto_ring_byte_len(MK_MAX_RING_SLOTS + 1u, &n),
			 -EOVERFLOW);
	ck_assert_int_eq(mk_proto_ring_byte_len(MK_MAX_RING_SLOTS, &n), 0);
	ck_assert_uint_eq(n, 64ull * MK_MAX_RING_SLOTS);
}
END_TEST

START_TEST(test_abi_debug_log_byte_len_rejects_record_count_above_protocol_cap)
{
	size_t n = 0;

	ck_assert_int_eq(mk_proto_debug_log_byte_len(MK_MAX_DEBUG_RECORDS + 1u,
						     &n),
			 -EOVERFLOW);
	ck_assert_int_eq(mk_proto_debug_log_byte_len(MK_MAX_DEBUG_RECORDS, &n),
			 0);
	ck_assert_uint_eq(n, 4ull * (1ull + 4ull * MK_MAX_DEBUG_RECORDS));
}
END_TEST

START_TEST(test_abi_strict_metrics_reader_rejects_less_than_full_metrics_window)
{
	uint8_t *shortc = calloc(MK_CTL_METRICS_BASE, 4);
	struct mk_metric m[MK_CTL_METRICS_SLOTS];
	struct mk_err err;
	size_t n = 0;

	ck_assert_ptr_nonnull(shortc);
	mk_err_clear(&err);
	ck_assert_int_lt(mk_proto_try_read_metrics(shortc, MK_CTL_METRICS_BASE * 4u,
						   m, &n, &err),
			 0);
	t_assert_fix(mk_err_msg(&err));
	free(shortc);
}
END_TEST

/* ---- 3. observable base ----------------------------------------------- */

START_TEST(test_abi_observable_base_is_at_word_160)
{
	ck_assert_uint_eq(MK_CTL_OBSERVABLE_BASE, 160);
}
END_TEST

START_TEST(test_abi_observable_base_matches_control_min_words)
{
	ck_assert_uint_eq(MK_CTL_OBSERVABLE_BASE, 160);
	ck_assert_uint_eq(MK_CONTROL_MIN_WORDS, 160);
	ck_assert_uint_eq(MK_CTL_OBSERVABLE_BASE, MK_CONTROL_MIN_WORDS);
}
END_TEST

START_TEST(test_abi_read_observable_uses_correct_byte_offset)
{
	size_t len = 0;
	uint8_t *c = control(0, 4, &len);

	wr(c, MK_CTL_OBSERVABLE_BASE, 0x11111111u);
	wr(c, MK_CTL_OBSERVABLE_BASE + 1u, 0x22222222u);
	wr(c, MK_CTL_OBSERVABLE_BASE + 3u, 0x44444444u);
	ck_assert_uint_eq(mk_proto_read_observable(c, len, 0), 0x11111111u);
	ck_assert_uint_eq(mk_proto_read_observable(c, len, 1), 0x22222222u);
	ck_assert_uint_eq(mk_proto_read_observable(c, len, 3), 0x44444444u);
	free(c);
}
END_TEST

START_TEST(test_abi_strict_observable_rejects_index_at_exact_buffer_end)
{
	size_t len = 0;
	uint8_t *c = control(0, 2, &len);
	struct mk_err err;
	uint32_t v = 0;

	mk_err_clear(&err);
	ck_assert_int_eq(mk_proto_try_read_observable(c, len, 2, &v, &err),
			 -ENODATA);
	t_assert_fix(mk_err_msg(&err));
	free(c);
}
END_TEST

START_TEST(test_abi_strict_observable_accepts_last_valid_index)
{
	size_t len = 0;
	uint8_t *c = control(0, 2, &len);
	uint32_t v = 0;

	wr(c, MK_CTL_OBSERVABLE_BASE + 1u, 0xBEEF);
	ck_assert_int_eq(mk_proto_try_read_observable(c, len, 1, &v, NULL), 0);
	ck_assert_uint_eq(v, 0xBEEF);
	free(c);
}
END_TEST

START_TEST(test_abi_observable_does_not_alias_metrics_region)
{
	ck_assert_uint_ge(MK_CTL_OBSERVABLE_BASE,
			  MK_CTL_METRICS_BASE + MK_CTL_METRICS_SLOTS);
}
END_TEST

START_TEST(test_abi_observable_does_not_alias_epoch_word)
{
	ck_assert_uint_ne(MK_CTL_OBSERVABLE_BASE, MK_CTL_EPOCH);
	ck_assert_uint_gt(MK_CTL_OBSERVABLE_BASE, MK_CTL_EPOCH);
}
END_TEST

START_TEST(test_abi_observable_does_not_alias_priority_regions)
{
	ck_assert_uint_ge(MK_CTL_OBSERVABLE_BASE,
			  MK_CTL_PRIORITY_FAIRNESS_BASE +
				  MK_CTL_PRIORITY_FAIRNESS_SLOTS);
}
END_TEST

/* ---- 4. slot publish / read bounds ------------------------------------ */

START_TEST(test_abi_slot_publish_first_slot_is_index_zero)
{
	size_t len = 0;
	uint8_t *r = ring(4, &len);

	ck_assert_int_eq(mk_proto_publish_slot(r, len, 0, 0, MK_OP_NOP, NULL, 0,
					       NULL),
			 0);
	ck_assert_uint_eq(rd(r, 0), MK_SLOT_PUBLISHED);
	free(r);
}
END_TEST

START_TEST(test_abi_slot_publish_last_slot_is_count_minus_one)
{
	size_t len = 0;
	uint8_t *r = ring(8, &len);

	ck_assert_int_eq(mk_proto_publish_slot(r, len, 7, 0, MK_OP_NOP, NULL, 0,
					       NULL),
			 0);
	ck_assert_uint_eq(rd(r, 7u * MK_SLOT_WORDS), MK_SLOT_PUBLISHED);
	free(r);
}
END_TEST

START_TEST(test_abi_slot_publish_at_count_is_rejected)
{
	size_t len = 0;
	uint8_t *r = ring(8, &len);
	struct mk_err err;

	mk_err_clear(&err);
	ck_assert_int_eq(mk_proto_publish_slot(r, len, 8, 0, MK_OP_NOP, NULL, 0,
					       &err),
			 -ERANGE);
	t_assert_fix(mk_err_msg(&err));
	free(r);
}
END_TEST

START_TEST(test_abi_slot_publish_rejects_malformed_ring_not_multiple_of_slot_bytes)
{
	uint8_t *r = calloc(MK_SLOT_BYTES + 1u, 1);
	struct mk_err err;

	ck_assert_ptr_nonnull(r);
	mk_err_clear(&err);
	ck_assert_int_eq(mk_proto_publish_slot(r, MK_SLOT_BYTES + 1u, 0, 0,
					       MK_OP_NOP, NULL, 0, &err),
			 -EINVAL);
	t_assert_fix(mk_err_msg(&err));
	ck_assert_uint_eq(rd(r, 0), 0);
	free(r);
}
END_TEST

START_TEST(test_abi_ring_byte_len_exactly_slots_times_slot_words_times_four)
{
	static const uint32_t counts[] = { 0, 1, 4, 16, 256 };
	size_t i, n;

	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		ck_assert_int_eq(mk_proto_ring_byte_len(counts[i], &n), 0);
		ck_assert_uint_eq(n, (size_t)counts[i] * MK_SLOT_WORDS * 4u);
	}
}
END_TEST

START_TEST(test_abi_encode_empty_ring_produces_exact_byte_length)
{
	static const uint32_t counts[] = { 0, 1, 4, 16 };
	size_t i, len, want;

	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		uint8_t *r = ring(counts[i], &len);

		ck_assert_int_eq(mk_proto_ring_byte_len(counts[i], &want), 0);
		ck_assert_uint_eq(len, want);
		free(r);
	}
}
END_TEST

START_TEST(test_abi_publish_slot_args_exactly_at_budget_succeeds)
{
	uint32_t args[MK_ARGS_PER_SLOT] = { 0 };
	size_t len = 0;
	uint8_t *r = ring(1, &len);

	args[11] = 0x5A5A;
	ck_assert_int_eq(mk_proto_publish_slot(r, len, 0, 0, MK_OP_NOP, args,
					       MK_ARGS_PER_SLOT, NULL),
			 0);
	ck_assert_uint_eq(rd(r, 15), 0x5A5A);
	free(r);
}
END_TEST

START_TEST(test_abi_publish_slot_args_one_over_budget_fails)
{
	uint32_t args[MK_ARGS_PER_SLOT + 1u] = { 0 };
	size_t len = 0;
	uint8_t *r = ring(1, &len);
	struct mk_err err;

	mk_err_clear(&err);
	ck_assert_int_eq(mk_proto_publish_slot(r, len, 0, 0, MK_OP_NOP, args,
					       MK_ARGS_PER_SLOT + 1u, &err),
			 -E2BIG);
	t_assert_fix(mk_err_msg(&err));
	ck_assert_uint_eq(rd(r, 0), MK_SLOT_EMPTY);
	free(r);
}
END_TEST

START_TEST(test_abi_slot_word_layout_status_is_word_0)
{
	size_t len = 0;
	uint8_t *r = ring(1, &len);

	ck_assert_int_eq(mk_proto_publish_slot(r, len, 0, 0, MK_OP_NOP, NULL, 0,
					       NULL),
			 0);
	ck_assert_uint_eq(rd(r, 0), MK_SLOT_PUBLISHED);
	free(r);
}
END_TEST

START_TEST(test_abi_slot_word_layout_opcode_is_word_1)
{
	uint32_t args[2] = { 1, 2 };
	size_t len = 0;
	uint8_t *r = ring(1, &len);

	ck_assert_int_eq(mk_proto_publish_slot(r, len, 0, 0, MK_OP_STORE_U32,
					       args, 2, NULL),
			 0);
	ck_assert_uint_eq(rd(r, 1), MK_OP_STORE_U32);
	free(r);
}
END_TEST

START_TEST(test_abi_slot_word_layout_tenant_is_word_2)
{
	size_t len = 0;
	uint8_t *r = ring(1, &len);

	ck_assert_int_eq(mk_proto_publish_slot(r, len, 0, 7, MK_OP_NOP, NULL, 0,
					       NULL),
			 0);
	ck_assert_uint_eq(rd(r, 2), 7);
	free(r);
}
END_TEST

START_TEST(test_abi_slot_word_layout_priority_is_word_3)
{
	size_t len = 0;
	uint8_t *r = ring(1, &len);

	ck_assert_int_eq(mk_proto_publish_slot(r, len, 0, 0, MK_OP_NOP, NULL, 0,
					       NULL),
			 0);
	ck_assert_uint_eq(rd(r, 3), MK_PRIORITY_NORMAL);
	free(r);
}
END_TEST

/* ---- megafs pins of struct mk_slot ------------------------------------- */

START_TEST(test_abi_slot_struct_size_and_offsets)
{
	ck_assert_uint_eq(sizeof(struct mk_slot), 64);
	ck_assert_uint_eq(offsetof(struct mk_slot, status), 4u * MK_STATUS_WORD);
	ck_assert_uint_eq(offsetof(struct mk_slot, opcode), 4u * MK_OPCODE_WORD);
	ck_assert_uint_eq(offsetof(struct mk_slot, tenant), 4u * MK_TENANT_WORD);
	ck_assert_uint_eq(offsetof(struct mk_slot, priority),
			  4u * MK_PRIORITY_WORD);
	ck_assert_uint_eq(offsetof(struct mk_slot, args), 4u * MK_ARG0_WORD);
	ck_assert_uint_eq(sizeof(((struct mk_slot *)0)->args), 48);
	ck_assert_uint_eq(MK_STATUS_WORD, 0);
	ck_assert_uint_eq(MK_OPCODE_WORD, 1);
	ck_assert_uint_eq(MK_TENANT_WORD, 2);
	ck_assert_uint_eq(MK_PRIORITY_WORD, 3);
	ck_assert_uint_eq(MK_ARG0_WORD, 4);
}
END_TEST

START_TEST(test_abi_slot_struct_matches_published_bytes)
{
	uint32_t args[3] = { 0xA0, 0xA1, 0xA2 };
	struct mk_slot s;
	size_t len = 0;
	uint8_t *r = ring(2, &len);

	ck_assert_int_eq(mk_proto_publish_slot(r, len, 1, 9, MK_OP_MEMCPY, args,
					       3, NULL),
			 0);
	memcpy(&s, r + MK_SLOT_BYTES, sizeof(s));
	ck_assert_uint_eq(s.status, MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(s.opcode, MK_OP_MEMCPY);
	ck_assert_uint_eq(s.tenant, 9);
	ck_assert_uint_eq(s.priority, MK_PRIORITY_NORMAL);
	ck_assert_uint_eq(s.args[0], 0xA0);
	ck_assert_uint_eq(s.args[2], 0xA2);
	ck_assert_uint_eq(s.args[3], 0);
	free(r);
}
END_TEST

START_TEST(test_abi_status_and_priority_values)
{
	ck_assert_int_eq(MK_SLOT_EMPTY, 0);
	ck_assert_int_eq(MK_SLOT_PUBLISHED, 1);
	ck_assert_int_eq(MK_SLOT_CLAIMED, 2);
	ck_assert_int_eq(MK_SLOT_DONE, 3);
	ck_assert_int_eq(MK_SLOT_WAIT_IO, 4);
	ck_assert_int_eq(MK_SLOT_YIELD, 5);
	ck_assert_int_eq(MK_SLOT_REQUEUE, 6);
	ck_assert_int_eq(MK_SLOT_FAULT, 7);
	ck_assert_int_eq(MK_PRIORITY_CRITICAL, 0);
	ck_assert_int_eq(MK_PRIORITY_IDLE, 4);
	ck_assert_uint_eq(MK_DEBUG_BUFFER_WORDS * 4u, 1028);
	ck_assert_uint_eq(MK_IO_SLOT_COUNT * MK_IO_SLOT_WORDS * 4u, 2048);
}
END_TEST

static Suite *abi_suite(void)
{
	Suite *s = suite_create("abi");
	TCase *tc = tcase_create("layout");

	tcase_add_test(tc, test_abi_priority_offsets_do_not_overlap_tenant_fairness);
	tcase_add_test(tc, test_abi_priority_offsets_do_not_overlap_metrics);
	tcase_add_test(tc, test_abi_priority_starvation_counter_is_after_offsets);
	tcase_add_test(tc, test_abi_priority_fairness_base_is_after_starvation_counter);
	tcase_add_test(tc, test_abi_priority_fairness_does_not_overlap_observable_base);
	tcase_add_test(tc, test_abi_priority_offsets_slots_equals_levels_plus_sentinel);
	tcase_add_test(tc, test_abi_write_default_priority_offsets_preserves_epoch_word);
	tcase_add_test(tc, test_abi_write_default_priority_offsets_preserves_done_count);
	tcase_add_test(tc, test_abi_control_regions_are_strictly_ordered);
	tcase_add_test(tc, test_abi_control_min_words_covers_all_fixed_regions);
	tcase_add_test(tc, test_abi_encode_control_zero_observables_equals_control_min_words_in_bytes);
	tcase_add_test(tc, test_abi_encode_control_huge_tenant_count_saturates_fixed_tables);
	tcase_add_test(tc, test_abi_encode_control_nonzero_observables_exceeds_min_words);
	tcase_add_test(tc, test_abi_control_byte_len_observable_zero_returns_min_words);
	tcase_add_test(tc, test_abi_control_byte_len_rejects_observable_count_above_protocol_cap);
	tcase_add_test(tc, test_abi_ring_byte_len_rejects_slot_count_above_protocol_cap);
	tcase_add_test(tc, test_abi_debug_log_byte_len_rejects_record_count_above_protocol_cap);
	tcase_add_test(tc, test_abi_strict_metrics_reader_rejects_less_than_full_metrics_window);
	tcase_add_test(tc, test_abi_observable_base_is_at_word_160);
	tcase_add_test(tc, test_abi_observable_base_matches_control_min_words);
	tcase_add_test(tc, test_abi_read_observable_uses_correct_byte_offset);
	tcase_add_test(tc, test_abi_strict_observable_rejects_index_at_exact_buffer_end);
	tcase_add_test(tc, test_abi_strict_observable_accepts_last_valid_index);
	tcase_add_test(tc, test_abi_observable_does_not_alias_metrics_region);
	tcase_add_test(tc, test_abi_observable_does_not_alias_epoch_word);
	tcase_add_test(tc, test_abi_observable_does_not_alias_priority_regions);
	tcase_add_test(tc, test_abi_slot_publish_first_slot_is_index_zero);
	tcase_add_test(tc, test_abi_slot_publish_last_slot_is_count_minus_one);
	tcase_add_test(tc, test_abi_slot_publish_at_count_is_rejected);
	tcase_add_test(tc, test_abi_slot_publish_rejects_malformed_ring_not_multiple_of_slot_bytes);
	tcase_add_test(tc, test_abi_ring_byte_len_exactly_slots_times_slot_words_times_four);
	tcase_add_test(tc, test_abi_encode_empty_ring_produces_exact_byte_length);
	tcase_add_test(tc, test_abi_publish_slot_args_exactly_at_budget_succeeds);
	tcase_add_test(tc, test_abi_publish_slot_args_one_over_budget_fails);
	tcase_add_test(tc, test_abi_slot_word_layout_status_is_word_0);
	tcase_add_test(tc, test_abi_slot_word_layout_opcode_is_word_1);
	tcase_add_test(tc, test_abi_slot_word_layout_tenant_is_word_2);
	tcase_add_test(tc, test_abi_slot_word_layout_priority_is_word_3);
	tcase_add_test(tc, test_abi_slot_struct_size_and_offsets);
	tcase_add_test(tc, test_abi_slot_struct_matches_published_bytes);
	tcase_add_test(tc, test_abi_status_and_priority_values);
	suite_add_tcase(s, tc);
	return s;
}

MK_CHECK_MAIN(abi_suite)
