/* SPDX-License-Identifier: MIT */
/*
 * tests/check_wake.c - runtime/wake.c: the futex sleep/wake pair (timeout,
 * changed value, no lost wakeup) and the bounded MPMC queue (capacity
 * rounding, FIFO order, full and empty, exactly-once under 4 producers and
 * 4 consumers).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "runtime/wake.h"
#include "tests/mk_check.h"

START_TEST(test_wake_futex_timeout_and_value)
{
	uint32_t w = 5;
	int64_t t0 = mk_now_ns();

	ck_assert_int_eq(mk_futex_wait(&w, 5, 20000000), -ETIMEDOUT);
	ck_assert_int_ge(mk_now_ns() - t0, 20000000);
	/* A value already changed returns at once. */
	ck_assert_int_eq(mk_futex_wait(&w, 4, -1), 0);
	mk_futex_wake(&w, 1); /* nobody sleeps: harmless */
}
END_TEST

struct sleeper {
	uint32_t *word;
	uint32_t seen;
	int rc;
};

static void *sleep_main(void *arg)
{
	struct sleeper *s = arg;

	/* Re-check like the backends do: a spurious return loops. */
	while (__atomic_load_n(s->word, __ATOMIC_SEQ_CST) == s->seen)
		s->rc = mk_futex_wait(s->word, s->seen, 5000000000LL);
	return NULL;
}

/* A bump then a wake always ends the sleep, whatever the order. */
START_TEST(test_wake_futex_wakes_sleepers)
{
	struct sleeper s[3];
	pthread_t th[3];
	uint32_t w = 0;
	int i;

	for (i = 0; i < 3; i++) {
		s[i].word = &w;
		s[i].seen = 0;
		s[i].rc = 0;
		ck_assert_int_eq(pthread_create(&th[i], NULL, sleep_main, &s[i]), 0);
	}
	__atomic_fetch_add(&w, 1, __ATOMIC_SEQ_CST);
	mk_futex_wake(&w, INT32_MAX);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_int_ne(s[i].rc, -ETIMEDOUT);
	}
}
END_TEST

START_TEST(test_wake_mpmc_fifo_full_empty)
{
	struct mk_mpmc q;
	uint32_t v, i;

	ck_assert_int_eq(mk_mpmc_init(&q, 5), 0); /* rounds up to 8 */
	ck_assert_uint_eq(q.mask, 7);
	ck_assert_int_eq(mk_mpmc_pop(&q, &v), 0);
	ck_assert_int_eq(mk_mpmc_nonempty(&q), 0);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(mk_mpmc_push(&q, 100 + i), 0);
	ck_assert_int_eq(mk_mpmc_push(&q, 999), -ENOSPC);
	ck_assert_int_eq(mk_mpmc_nonempty(&q), 1);
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(mk_mpmc_pop(&q, &v), 1);
		ck_assert_uint_eq(v, 100 + i);
	}
	ck_assert_int_eq(mk_mpmc_pop(&q, &v), 0);
	/* Wraps around its cells. */
	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(mk_mpmc_push(&q, i), 0);
		ck_assert_int_eq(mk_mpmc_pop(&q, &v), 1);
		ck_assert_uint_eq(v, i);
	}
	mk_mpmc_fini(&q);
}
END_TEST

#define NPER 100000u /* values per producer */

struct mpmc_arg {
	struct mk_mpmc *q;
	uint32_t id;
	uint64_t sum;   /* consumers: sum of what they popped */
	uint32_t count; /* consumers: how many */
	uint32_t *left; /* values still to consume, all consumers */
};

static void *producer(void *arg)
{
	struct mpmc_arg *a = arg;
	uint32_t i;

	for (i = 0; i < NPER; i++)
		while (mk_mpmc_push(a->q, a->id * NPER + i))
			sched_yield();
	return NULL;
}

static void *consumer(void *arg)
{
	struct mpmc_arg *a = arg;
	uint32_t v;

	while (__atomic_load_n(a->left, __ATOMIC_ACQUIRE)) {
		if (!mk_mpmc_pop(a->q, &v)) {
			sched_yield();
			continue;
		}
		a->sum += v;
		a->count++;
		__atomic_fetch_sub(a->left, 1, __ATOMIC_ACQ_REL);
	}
	return NULL;
}

/* Every pushed value is popped exactly once (sum and count exact). */
START_TEST(test_wake_mpmc_exactly_once)
{
	struct mk_mpmc q;
	struct mpmc_arg a[8];
	pthread_t th[8];
	uint32_t left = 4 * NPER, count = 0;
	uint64_t sum = 0, n = 4ull * NPER;
	int i;

	ck_assert_int_eq(mk_mpmc_init(&q, 64), 0);
	for (i = 0; i < 8; i++) {
		a[i].q = &q;
		a[i].id = (uint32_t)(i % 4);
		a[i].sum = 0;
		a[i].count = 0;
		a[i].left = &left;
		ck_assert_int_eq(pthread_create(&th[i], NULL,
						i < 4 ? producer : consumer, &a[i]), 0);
	}
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	for (i = 4; i < 8; i++) {
		sum += a[i].sum;
		count += a[i].count;
	}
	ck_assert_uint_eq(count, n);
	ck_assert_uint_eq(sum, n * (n - 1) / 2);
	ck_assert_int_eq(mk_mpmc_pop(&q, &count), 0);
	mk_mpmc_fini(&q);
}
END_TEST

static Suite *wake_suite(void)
{
	Suite *s = suite_create("wake");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_wake_futex_timeout_and_value);
	tcase_add_test(tc, test_wake_futex_wakes_sleepers);
	tcase_add_test(tc, test_wake_mpmc_fifo_full_empty);
	tcase_add_test(tc, test_wake_mpmc_exactly_once);
	suite_add_tcase(s, tc);
	return s;
}

MK_CHECK_MAIN(wake_suite)
