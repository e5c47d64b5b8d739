/* SPDX-License-Identifier: MIT */
/*
 * tests/check_backend_cpu.c - the resident CPU megakernel under concurrent
 * publishers: 4 threads x 100k mixed ATOMIC_ADD / STORE_U32 / PACKED
 * commands; every counter and DONE_COUNT exact, every command executed
 * exactly once (each adds a distinct value, so a loss or a duplicate
 * changes the sum). Also contention on one slot, shutdown/restart under
 * load, and both scheduler variants.
 *   build/release/tests/check_backend_cpu
 */
#include <errno.h>
#include <pthread.h>

#include "runtime/proto.h"
#include "tests/mk_check.h"
#include "tests/t_runtime.h"

#define NTHREADS 4
#define PER_THREAD 100000u
#define SLOTS 1024u

struct pub_arg {
	struct mk_runtime *rt;
	uint32_t id;
	uint64_t adds, stores, packed;
	int failures;
};

/* Observables: 0..3 per-thread sums (ADD), 4..7 packed counts, 8..11 stores. */
static void *publisher(void *p)
{
	struct pub_arg *a = p;
	uint32_t per = SLOTS / NTHREADS, i;
	struct mk_err err;

	for (i = 0; i < PER_THREAD; i++) {
		uint32_t slot = a->id * per + i % per;
		uint32_t kind = i % 3;
		int rc;

		/* A slot is reusable once its previous command is DONE. */
		if (i >= per && mk_runtime_wait(a->rt, slot, T_WAIT_NS)) {
			a->failures++;
			return NULL;
		}
		if (kind == 0) {
			uint32_t args[2] = { i + 1, MK_CTL_OBSERVABLE_BASE + a->id };

			rc = mk_runtime_publish(a->rt, slot, 0, MK_OP_ATOMIC_ADD,
						args, 2, &err);
			a->adds++;
		} else if (kind == 1) {
			uint32_t args[2] = { i, MK_CTL_OBSERVABLE_BASE + 8 + a->id };

			rc = mk_runtime_publish(a->rt, slot, 0, MK_OP_STORE_U32,
						args, 2, &err);
			a->stores++;
		} else {
			struct mk_packed_op ops[2] = {
				{ MK_OP_ATOMIC_ADD, 2,
				  { 1, MK_CTL_OBSERVABLE_BASE + 4 + a->id } },
				{ MK_OP_ATOMIC_ADD, 2,
				  { i + 1, MK_CTL_OBSERVABLE_BASE + a->id } },
			};

			rc = mk_runtime_publish_packed(a->rt, slot, 0, ops, 2, &err);
			a->packed++;
		}
		if (rc) {
			a->failures++;
			return NULL;
		}
	}
	return NULL;
}

static uint32_t expected_sum(void)
{
	uint32_t s = 0, i;

	/* Kinds 0 and 2 both add i + 1 to the thread's sum word. */
	for (i = 0; i < PER_THREAD; i++)
		if (i % 3 != 1)
			s += i + 1;
	return s;
}

static void run_load(enum mk_sched sched)
{
	struct mk_runtime *rt = t_rt_start("cpu", SLOTS, sched,
					    sched == MK_SCHED_PRIORITY ? MK_CFG_STARVATION_FIX : 0);
	struct pub_arg args[NTHREADS];
	pthread_t th[NTHREADS];
	uint64_t adds = 0, stores = 0, packed = 0;
	uint32_t t, s;

	for (t = 0; t < NTHREADS; t++) {
		args[t] = (struct pub_arg){ .rt = rt, .id = t };
		ck_assert_int_eq(pthread_create(&th[t], NULL, publisher, &args[t]), 0);
	}
	for (t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		ck_assert_int_eq(args[t].failures, 0);
		adds += args[t].adds;
		stores += args[t].stores;
		packed += args[t].packed;
	}
	for (s = 0; s < SLOTS; s++)
		ck_assert_int_eq(mk_runtime_wait(rt, s, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_DONE_COUNT), NTHREADS * PER_THREAD);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_METRICS_BASE + MK_OP_STORE_U32), stores);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_METRICS_BASE + MK_OP_ATOMIC_ADD),
			  adds + 2 * packed);
	for (t = 0; t < NTHREADS; t++) {
		ck_assert_uint_eq(t_ctl(rt, MK_CTL_OBSERVABLE_BASE + t), expected_sum());
		ck_assert_uint_eq(t_ctl(rt, MK_CTL_OBSERVABLE_BASE + 4 + t),
				  args[t].packed);
	}
	mk_runtime_destroy(rt);
}

START_TEST(test_backend_cpu_exactly_once_sharded)
{
	run_load(MK_SCHED_SHARDED);
}
END_TEST

START_TEST(test_backend_cpu_exactly_once_priority)
{
	run_load(MK_SCHED_PRIORITY);
}
END_TEST

struct race_arg {
	struct mk_runtime *rt;
	uint32_t ok, busy;
};

static void *racer(void *p)
{
	struct race_arg *a = p;
	uint32_t args[2] = { 1, MK_CTL_OBSERVABLE_BASE + 20 };
	int i, rc;

	for (i = 0; i < 20000; i++) {
		rc = mk_runtime_publish(a->rt, 5, 0, MK_OP_ATOMIC_ADD, args, 2, NULL);
		if (rc == 0)
			a->ok++;
		else if (rc == -EBUSY)
			a->busy++;
	}
	return NULL;
}

/* Four threads hammer one slot: each success runs exactly once. */
START_TEST(test_backend_cpu_one_slot_contention)
{
	struct mk_runtime *rt = t_rt_start("cpu", 16, MK_SCHED_SHARDED, 0);
	struct race_arg a[NTHREADS];
	pthread_t th[NTHREADS];
	uint32_t ok = 0, t;

	for (t = 0; t < NTHREADS; t++) {
		a[t] = (struct race_arg){ .rt = rt };
		pthread_create(&th[t], NULL, racer, &a[t]);
	}
	for (t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		ok += a[t].ok;
		ck_assert_uint_eq(a[t].ok + a[t].busy, 20000);
	}
	ck_assert_int_eq(mk_runtime_wait(rt, 5, T_WAIT_NS), 0);
	ck_assert_uint_gt(ok, 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_OBSERVABLE_BASE + 20), ok);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_DONE_COUNT), ok);
	mk_runtime_destroy(rt);
}
END_TEST

/* Stop while publishing: nothing is lost, everything runs after restart. */
START_TEST(test_backend_cpu_stop_restart_loses_nothing)
{
	struct mk_runtime *rt = t_rt_start("cpu", 256, MK_SCHED_SHARDED, 0);
	uint32_t args[2] = { 1, MK_CTL_OBSERVABLE_BASE };
	uint32_t round, s, t, total = 0;

	for (round = 0; round < 20; round++) {
		for (s = 0; s < 256; s++) {
			if (round > 0)
				ck_assert_int_eq(mk_runtime_wait(rt, s, T_WAIT_NS), 0);
			if (mk_runtime_publish(rt, s, 0, MK_OP_ATOMIC_ADD, args, 2,
					       NULL) == 0)
				total++;
			if (s == 128) {
				/* Slots published after the stop must be free now. */
				for (t = 129; round > 0 && t < 256; t++)
					ck_assert_int_eq(mk_runtime_wait(rt, t, T_WAIT_NS), 0);
				ck_assert_int_eq(mk_runtime_stop(rt), 0);
			}
		}
		ck_assert_int_eq(mk_runtime_running(rt), 0);
		ck_assert_int_eq(mk_runtime_start(rt, NULL), 0);
	}
	for (s = 0; s < 256; s++)
		ck_assert_int_eq(mk_runtime_wait(rt, s, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_OBSERVABLE_BASE), total);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_DONE_COUNT), total);
	mk_runtime_destroy(rt);
}
END_TEST

static Suite *backend_cpu_suite(void)
{
	Suite *s = suite_create("backend_cpu");
	TCase *tc = tcase_create("load");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_backend_cpu_exactly_once_sharded);
	tcase_add_test(tc, test_backend_cpu_exactly_once_priority);
	tcase_add_test(tc, test_backend_cpu_one_slot_contention);
	tcase_add_test(tc, test_backend_cpu_stop_restart_loses_nothing);
	suite_add_tcase(s, tc);
	return s;
}

MK_CHECK_MAIN(backend_cpu_suite)
