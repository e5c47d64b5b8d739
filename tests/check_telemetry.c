/* SPDX-License-Identifier: MIT */
/*
 * tests/check_telemetry.c - runtime/telemetry.c against PROTOCOL.md 9.4 and
 * checklist item 12: strict control snapshot, occupancy for statuses 0-7
 * plus unknown, runtime counters (queue_depth counts fault and unknown),
 * health_since, and splitmix64 Count-Min sketches with exact buckets.
 * Run: ./build/release/tests/check_telemetry
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "runtime/abi.h"
#include "runtime/proto.h"
#include "runtime/telemetry.h"
#include "tests/mk_check.h"

#define t_assert_err(rc, want, err, needle)                                  \
	do {                                                                 \
		ck_assert_int_eq((rc), (want));                              \
		ck_assert_int_eq((err)->code, (want));                       \
		t_assert_fix(mk_err_msg(err));                               \
		ck_assert_msg(strstr(mk_err_msg(err), (needle)) != NULL,     \
			      "'%s' lacks '%s'", mk_err_msg(err), (needle)); \
	} while (0)

/* Statuses of the 12-slot test ring: every bucket, unknown twice. */
static const uint32_t ring_status[12] = { 0, 1, 2, 3, 4, 5, 6, 7,
					  8, 0xFFFFFFFFu, 1, 3 };

static void fill_ring(uint32_t *ring)
{
	uint32_t s;

	memset(ring, 0, 12 * 64);
	for (s = 0; s < 12; s++) {
		ring[s * 16] = ring_status[s];
		ring[s * 16 + 1] = s < 6 ? 200u : MK_OP_NOP; /* opcode */
		ring[s * 16 + 2] = s % 3;		     /* tenant */
		ring[s * 16 + 4] = 0xA0 + s;
	}
}

static void fill_control(uint32_t *ctl)
{
	memset(ctl, 0, 640);
	ctl[MK_CTL_SHUTDOWN] = 7;
	ctl[MK_CTL_DONE_COUNT] = 41;
	ctl[MK_CTL_EPOCH] = 3;
	ctl[96 + 1] = 10;
	ctl[96 + 31] = 2;
	ctl[64 + 0] = 5;
	ctl[64 + 4] = 2;
	ctl[64 + 31] = 9;
	ctl[136 + 0] = 4;
	ctl[136 + 4] = 1;
}

START_TEST(test_telemetry_control_snapshot_is_strict)
{
	uint32_t ctl[161];
	struct mk_tel_control c;
	struct mk_err err;

	fill_control(ctl);
	ctl[160] = 0;
	mk_err_clear(&err);
	memset(&c, 0x5A, sizeof(c));
	t_assert_err(mk_tel_control_decode(ctl, 636, &c, &err), -EINVAL, &err,
		     "control snapshot has 636 bytes, expected at least 640 and 4-byte alignment");
	ck_assert_int_eq(c.shutdown, 0x5A5A5A5A); /* untouched */
	t_assert_err(mk_tel_control_decode(ctl, 642, &c, &err), -EINVAL, &err,
		     "642");
	/* the wgpu test's 101-word buffer is rejected (12 item 19) */
	t_assert_err(mk_tel_control_decode(ctl, 404, &c, &err), -EINVAL, &err,
		     "404");
	ck_assert_int_eq(mk_tel_control_decode(ctl, 640, &c, NULL), 0);
	ck_assert_int_eq(c.shutdown, 1);
	ck_assert_uint_eq(c.done_count, 41);
	ck_assert_uint_eq(c.epoch, 3);
	ck_assert_uint_eq(c.n_metrics, 2);
	ck_assert_uint_eq(c.metrics[0].opcode, 1);
	ck_assert_uint_eq(c.metrics[0].count, 10);
	ck_assert_uint_eq(c.metrics[1].opcode, 31);
	ck_assert_uint_eq(c.tenant_fairness[0], 5);
	ck_assert_uint_eq(c.tenant_fairness[1], 0);
	ck_assert_uint_eq(c.tenant_fairness[31], 9);
	ck_assert_uint_eq(c.priority_fairness[0], 4);
	ck_assert_uint_eq(c.priority_fairness[4], 1);
	ck_assert_int_eq(mk_tel_control_decode(ctl, 644, &c, NULL), 0);
}
END_TEST

START_TEST(test_telemetry_occupancy_every_status)
{
	uint32_t ring[12 * 16];
	struct mk_tel_occupancy o;
	struct mk_tel_slot sl;
	struct mk_err err;

	fill_ring(ring);
	ck_assert_int_eq(mk_tel_ring_occupancy(ring, sizeof(ring), &o, NULL), 0);
	ck_assert_uint_eq(o.empty, 1);
	ck_assert_uint_eq(o.published, 2);
	ck_assert_uint_eq(o.claimed, 1);
	ck_assert_uint_eq(o.done, 2);
	ck_assert_uint_eq(o.wait_io, 1);
	ck_assert_uint_eq(o.yield_count, 1);
	ck_assert_uint_eq(o.requeue, 1);
	ck_assert_uint_eq(o.fault, 1);
	ck_assert_uint_eq(o.unknown, 2);
	mk_err_clear(&err);
	t_assert_err(mk_tel_ring_occupancy(ring, 100, &o, &err), -EINVAL, &err,
		     "ring snapshot has 100 bytes, not a multiple of slot size 64");
	ck_assert_int_eq(mk_tel_ring_occupancy(ring, 0, &o, NULL), 0);
	ck_assert_uint_eq(o.empty + o.published + o.unknown, 0);
	ck_assert_int_eq(mk_tel_ring_slot(ring, sizeof(ring), 9, &sl), 0);
	ck_assert_uint_eq(sl.status, 0xFFFFFFFFu); /* unknown keeps raw */
	ck_assert_uint_eq(sl.slot_idx, 9);
	ck_assert_uint_eq(sl.opcode, MK_OP_NOP);
	ck_assert_uint_eq(sl.tenant_id, 0);
	ck_assert_uint_eq(sl.args_prefix[0], 0xA9);
	ck_assert_int_eq(mk_tel_ring_slot(ring, sizeof(ring), 12, &sl), -ERANGE);
	ck_assert_int_eq(mk_tel_ring_slot(ring, sizeof(ring) - 1, 11, &sl),
			 -ERANGE);
}
END_TEST

START_TEST(test_telemetry_runtime_counters_exact)
{
	uint32_t ring[12 * 16], ctl[160];
	struct mk_tel_priority_accounting pa;
	struct mk_tel_counters k;
	struct mk_tel_ring t;
	struct mk_err err;

	fill_ring(ring);
	fill_control(ctl);
	mk_err_clear(&err);
	/* control errors come first */
	t_assert_err(mk_tel_ring_decode(ctl, 636, ring, 100, &t, &err), -EINVAL,
		     &err, "control snapshot");
	t_assert_err(mk_tel_ring_decode(ctl, 640, ring, 100, &t, &err), -EINVAL,
		     &err, "ring snapshot");
	ck_assert_int_eq(mk_tel_ring_decode(ctl, 640, ring, sizeof(ring), &t,
					    NULL),
			 0);
	ck_assert_uint_eq(t.slots, 12);
	mk_tel_runtime_counters(&t, &k);
	ck_assert_uint_eq(k.total_slots, 12);
	ck_assert_uint_eq(k.queue_depth, 9); /* 2+1+1+1+1 + fault 1 + unknown 2 */
	ck_assert_uint_eq(k.gpu_idle_slots, 1);
	ck_assert_uint_eq(k.gpu_idle_ppm, 83333);
	ck_assert_uint_eq(k.frontier_density_bps, 7500);
	ck_assert_uint_eq(k.occupancy_proxy_bps, 9166);
	ck_assert_uint_eq(k.drained_slots, 41);
	ck_assert_uint_eq(k.unreclaimed_done_slots, 2);
	ck_assert_uint_eq(k.tenant_fairness_total, 16);
	ck_assert_uint_eq(k.priority_fairness_total, 5);
	ck_assert_uint_eq(k.tenant_fairness_skew, 7); /* 9 - 2, zeros ignored */
	ck_assert_uint_eq(k.requeue_slots, 1);
	ck_assert_uint_eq(k.fault_slots, 1);
	mk_tel_priority_accounting(&t, &pa);
	ck_assert_uint_eq(pa.requeue_count, 1);
	ck_assert_uint_eq(pa.aged_promotions, 0);
	ck_assert_uint_eq(pa.max_priority_age, 0);
	/* an empty ring and one tenant counter: no division, no skew */
	memset(ctl + 64, 0, 32 * 4);
	ctl[70] = 3;
	ck_assert_int_eq(mk_tel_ring_decode(ctl, 640, ring, 0, &t, NULL), 0);
	mk_tel_runtime_counters(&t, &k);
	ck_assert_uint_eq(k.total_slots, 0);
	ck_assert_uint_eq(k.gpu_idle_ppm, 0);
	ck_assert_uint_eq(k.frontier_density_bps, 0);
	ck_assert_uint_eq(k.occupancy_proxy_bps, 0);
	ck_assert_uint_eq(k.tenant_fairness_skew, 0);
	ck_assert_uint_eq(k.tenant_fairness_total, 3);
}
END_TEST

START_TEST(test_telemetry_health_since)
{
	struct mk_tel_ring prev, now;
	struct mk_tel_health h;
	struct mk_err err;

	memset(&prev, 0, sizeof(prev));
	memset(&now, 0, sizeof(now));
	prev.control.done_count = 5;
	now.control.done_count = 8;
	now.occupancy.published = 2;
	ck_assert_int_eq(mk_tel_health_since(&now, &prev, &h, NULL), 0);
	ck_assert_uint_eq(h.done_delta, 3);
	ck_assert_uint_eq(h.queue_depth, 2);
	ck_assert_int_eq(h.suspected_stall, 0);
	now.control.done_count = 5;
	ck_assert_int_eq(mk_tel_health_since(&now, &prev, &h, NULL), 0);
	ck_assert_uint_eq(h.done_delta, 0);
	ck_assert_int_eq(h.suspected_stall, 1);
	now.occupancy.fault = 1; /* faults explain the stall */
	ck_assert_int_eq(mk_tel_health_since(&now, &prev, &h, NULL), 0);
	ck_assert_uint_eq(h.queue_depth, 3);
	ck_assert_int_eq(h.suspected_stall, 0);
	now.occupancy.fault = 0;
	now.occupancy.published = 0;
	now.occupancy.unknown = 1; /* unknown counts as queued */
	ck_assert_int_eq(mk_tel_health_since(&now, &prev, &h, NULL), 0);
	ck_assert_int_eq(h.suspected_stall, 1);
	now.occupancy.unknown = 0;
	now.occupancy.done = 4; /* idle, nothing queued */
	ck_assert_int_eq(mk_tel_health_since(&now, &prev, &h, NULL), 0);
	ck_assert_int_eq(h.suspected_stall, 0);
	now.control.done_count = 4;
	mk_err_clear(&err);
	t_assert_err(mk_tel_health_since(&now, &prev, &h, &err), -ERANGE, &err,
		     "went backwards from 5 to 4");
}
END_TEST

START_TEST(test_telemetry_splitmix64_and_buckets)
{
	ck_assert_uint_eq(mk_tel_splitmix64(0), 0xE220A8397B1DCDAFull);
	ck_assert_uint_eq(mk_tel_splitmix64(1234567), 6457827717110365317ull);
	ck_assert_uint_eq(mk_tel_splitmix64(1234567 + 0x9E3779B97F4A7C15ull),
			  3203168211198807973ull);
	/* splitmix64(key ^ row * golden) % width, computed independently */
	ck_assert_uint_eq(mk_tel_sketch_bucket(1024, 0, 42), 661);
	ck_assert_uint_eq(mk_tel_sketch_bucket(1024, 3, 42), 372);
	ck_assert_uint_eq(mk_tel_sketch_bucket(7, 1, UINT64_MAX), 0);
	ck_assert_uint_eq(mk_tel_sketch_bucket(1000, 2, 0), 679);
	ck_assert_uint_eq(mk_tel_sketch_bucket(1, 5, 99), 0);
}
END_TEST

START_TEST(test_telemetry_sketch_add_estimate)
{
	struct mk_tel_sketch *s = NULL, *one = NULL;
	struct mk_err err;
	size_t r, c;

	mk_err_clear(&err);
	t_assert_err(mk_tel_sketch_create(0, 8, &s, &err), -EINVAL, &err,
		     "Count-Min sketch depth and width must be non-zero");
	t_assert_err(mk_tel_sketch_create(4, 0, &s, &err), -EINVAL, &err,
		     "must be non-zero");
	t_assert_err(mk_tel_sketch_create(SIZE_MAX / 2, 4, &s, &err),
		     -EOVERFLOW, &err, "smaller");
	ck_assert_ptr_null(s);
	ck_assert_int_eq(mk_tel_sketch_create(4, 1024, &s, NULL), 0);
	ck_assert_uint_eq(mk_tel_sketch_depth(s), 4);
	ck_assert_uint_eq(mk_tel_sketch_width(s), 1024);
	ck_assert_int_eq(mk_tel_sketch_add(s, 42, 3, NULL), 0);
	ck_assert_uint_eq(mk_tel_sketch_counter(s, 0, 661), 3);
	ck_assert_uint_eq(mk_tel_sketch_counter(s, 3, 372), 3);
	for (r = 0; r < 4; r++) {
		uint64_t sum = 0;

		for (c = 0; c < 1024; c++)
			sum += mk_tel_sketch_counter(s, r, c);
		ck_assert_uint_eq(sum, 3); /* exactly one bucket per row */
	}
	ck_assert_uint_eq(mk_tel_sketch_estimate(s, 42), 3);
	ck_assert_uint_eq(mk_tel_sketch_estimate(s, 43), 0);
	/* width 1: every key collides, the estimate is the total */
	ck_assert_int_eq(mk_tel_sketch_create(2, 1, &one, NULL), 0);
	ck_assert_int_eq(mk_tel_sketch_add(one, 1, 2, NULL), 0);
	ck_assert_int_eq(mk_tel_sketch_add(one, 2, 5, NULL), 0);
	ck_assert_uint_eq(mk_tel_sketch_estimate(one, 3), 7);
	ck_assert_int_eq(mk_tel_sketch_add(one, 9, UINT64_MAX - 7, NULL), 0);
	t_assert_err(mk_tel_sketch_add(one, 9, 1, &err), -EOVERFLOW, &err,
		     "overflow");
	ck_assert_uint_eq(mk_tel_sketch_estimate(one, 9), UINT64_MAX);
	mk_tel_sketch_destroy(one);
	mk_tel_sketch_destroy(s);
	mk_tel_sketch_destroy(NULL);
}
END_TEST

START_TEST(test_telemetry_sketch_merge)
{
	struct mk_tel_sketch *a = NULL, *b = NULL, *c = NULL;
	struct mk_err err;

	ck_assert_int_eq(mk_tel_sketch_create(3, 64, &a, NULL), 0);
	ck_assert_int_eq(mk_tel_sketch_create(3, 64, &b, NULL), 0);
	ck_assert_int_eq(mk_tel_sketch_create(3, 65, &c, NULL), 0);
	ck_assert_int_eq(mk_tel_sketch_add(a, 7, 2, NULL), 0);
	ck_assert_int_eq(mk_tel_sketch_add(b, 7, 5, NULL), 0);
	ck_assert_int_eq(mk_tel_sketch_add(b, 8, 1, NULL), 0);
	mk_err_clear(&err);
	t_assert_err(mk_tel_sketch_merge(a, c, &err), -EINVAL, &err,
		     "equal depth and width");
	ck_assert_int_eq(mk_tel_sketch_merge(a, b, NULL), 0);
	ck_assert_uint_ge(mk_tel_sketch_estimate(a, 7), 7);
	ck_assert_uint_ge(mk_tel_sketch_estimate(a, 8), 1);
	ck_assert_uint_eq(mk_tel_sketch_estimate(b, 7), 5); /* src unchanged */
	ck_assert_int_eq(mk_tel_sketch_add(b, 7, UINT64_MAX - 10, NULL), 0);
	t_assert_err(mk_tel_sketch_merge(a, b, &err), -EOVERFLOW, &err,
		     "overflow");
	ck_assert_uint_ge(mk_tel_sketch_estimate(a, 7), 7);
	ck_assert_uint_lt(mk_tel_sketch_estimate(a, 7), 100); /* unchanged */
	mk_tel_sketch_destroy(a);
	mk_tel_sketch_destroy(b);
	mk_tel_sketch_destroy(c);
}
END_TEST

START_TEST(test_telemetry_sketch_snapshot)
{
	uint32_t ring[12 * 16], ctl[160];
	struct mk_tel_sketches sk;
	struct mk_err err;

	fill_ring(ring);
	fill_control(ctl);
	ck_assert_int_eq(mk_tel_sketch_snapshot(ctl, 640, ring, sizeof(ring), 4,
						1024, &sk, NULL),
			 0);
	ck_assert_uint_eq(sk.total_slots, 12);
	ck_assert_uint_eq(sk.active_slots, 6); /* 1,2,4,5,6 and the 2nd 1 */
	ck_assert_uint_eq(mk_tel_sketch_estimate(sk.ring_opcode, 200), 6);
	ck_assert_uint_eq(mk_tel_sketch_estimate(sk.ring_opcode, MK_OP_NOP), 6);
	ck_assert_uint_eq(mk_tel_sketch_estimate(sk.tenant, 0), 4);
	ck_assert_uint_eq(mk_tel_sketch_estimate(sk.status, 1), 2);
	ck_assert_uint_eq(mk_tel_sketch_estimate(sk.status, 0xFFFFFFFFu), 1);
	/* active: slots 1,2,4,5 (opcode 200) and 6,10 (NOP) */
	ck_assert_uint_eq(mk_tel_sketch_estimate(sk.active_opcode, 200), 4);
	ck_assert_uint_eq(mk_tel_sketch_estimate(sk.active_opcode, MK_OP_NOP),
			  2);
	ck_assert_uint_eq(mk_tel_sketch_estimate(sk.dispatch_metrics, 1), 10);
	ck_assert_uint_eq(mk_tel_sketch_estimate(sk.dispatch_metrics, 31), 2);
	mk_tel_sketches_fini(&sk);
	ck_assert_ptr_null(sk.ring_opcode);
	mk_err_clear(&err);
	t_assert_err(mk_tel_sketch_snapshot(ctl, 640, ring, sizeof(ring), 0, 8,
					    &sk, &err),
		     -EINVAL, &err, "non-zero");
	t_assert_err(mk_tel_sketch_snapshot(ctl, 600, ring, sizeof(ring), 2, 8,
					    &sk, &err),
		     -EINVAL, &err, "control snapshot");
}
END_TEST

static Suite *telemetry_suite(void)
{
	Suite *s = suite_create("telemetry");
	TCase *tc = tcase_create("snapshot");
	TCase *sk = tcase_create("sketch");

	tcase_add_test(tc, test_telemetry_control_snapshot_is_strict);
	tcase_add_test(tc, test_telemetry_occupancy_every_status);
	tcase_add_test(tc, test_telemetry_runtime_counters_exact);
	tcase_add_test(tc, test_telemetry_health_since);
	tcase_add_test(sk, test_telemetry_splitmix64_and_buckets);
	tcase_add_test(sk, test_telemetry_sketch_add_estimate);
	tcase_add_test(sk, test_telemetry_sketch_merge);
	tcase_add_test(sk, test_telemetry_sketch_snapshot);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, sk);
	return s;
}

MK_CHECK_MAIN(telemetry_suite)
