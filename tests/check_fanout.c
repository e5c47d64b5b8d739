/* SPDX-License-Identifier: MIT */
/*
 * tests/check_fanout.c - runtime/fanout.c: argument errors, every part of
 * every job runs exactly once and its stores are visible when run returns
 * (back-to-back jobs, and jobs after the helpers went to sleep), a second
 * caller gets -EBUSY instead of sharing the helpers, destroy joins idle
 * and sleeping helpers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "runtime/fanout.h"
#include "tests/mk_check.h"

#define CELLS 4096u

struct job {
	uint32_t round;
	uint32_t cell[CELLS];
	uint32_t calls[MK_FANOUT_MAX + 1]; /* per part, atomic */
	int slow;                          /* part 0 waits for @gate */
	uint32_t gate;
};

/* Part p of n writes @round into its share of the cells. */
static void fill(void *arg, uint32_t part, uint32_t parts)
{
	struct job *j = arg;
	uint32_t per = CELLS / parts, lo = part * per, i;
	uint32_t hi = part + 1u == parts ? CELLS : lo + per;

	__atomic_fetch_add(&j->calls[part], 1u, __ATOMIC_RELAXED);
	while (part == 0 && j->slow && !__atomic_load_n(&j->gate, __ATOMIC_ACQUIRE))
		usleep(100);
	for (i = lo; i < hi; i++)
		j->cell[i] = j->round; /* plain stores: run() must publish them */
}

static void assert_round(const struct job *j, uint32_t round)
{
	uint32_t i, bad = 0;

	for (i = 0; i < CELLS; i++)
		bad += j->cell[i] != round;
	ck_assert_uint_eq(bad, 0);
}

START_TEST(test_fanout_arguments)
{
	struct mk_fanout *f = NULL;
	static struct job j;

	ck_assert_int_eq(mk_fanout_create(0, &f), -EINVAL);
	ck_assert_ptr_null(f);
	ck_assert_int_eq(mk_fanout_create(MK_FANOUT_MAX + 1u, &f), -EINVAL);
	ck_assert_uint_eq(mk_fanout_width(NULL), 1);
	ck_assert_int_eq(mk_fanout_create(2, &f), 0);
	ck_assert_uint_eq(mk_fanout_width(f), 3);
	ck_assert_int_eq(mk_fanout_run(f, fill, &j, 1), -EINVAL);
	ck_assert_int_eq(mk_fanout_run(f, fill, &j, 4), -EINVAL);
	ck_assert_uint_eq(j.calls[0], 0);
	mk_fanout_destroy(f);
	mk_fanout_destroy(NULL);
}
END_TEST

START_TEST(test_fanout_every_part_once)
{
	struct mk_fanout *f;
	static struct job j;
	uint32_t r, p, parts;

	ck_assert_int_eq(mk_fanout_create(3, &f), 0);
	for (r = 1; r <= 300; r++) {
		parts = 2u + r % 3u; /* 2, 3, 4: idle helpers stay out */
		j.round = r;
		ck_assert_int_eq(mk_fanout_run(f, fill, &j, parts), 0);
		assert_round(&j, r);
		if (r == 150)
			usleep(200000); /* helpers go to sleep: futex path */
	}
	/* r = 1..300: r % 3 == 1 -> 3 parts, == 2 -> 4 parts (100 each) */
	ck_assert_uint_eq(j.calls[0], 300);
	ck_assert_uint_eq(j.calls[1], 300);
	ck_assert_uint_eq(j.calls[2], 200);
	ck_assert_uint_eq(j.calls[3], 100);
	for (p = 4; p <= MK_FANOUT_MAX; p++)
		ck_assert_uint_eq(j.calls[p], 0);
	mk_fanout_destroy(f);
}
END_TEST

struct caller {
	struct mk_fanout *f;
	struct job *j;
	int rc;
};

static void *second_caller(void *arg)
{
	struct caller *c = arg;

	c->rc = mk_fanout_run(c->f, fill, c->j, 2);
	return NULL;
}

START_TEST(test_fanout_second_caller_busy)
{
	struct mk_fanout *f;
	static struct job a, b;
	struct caller ca = { NULL, &a, 1 }, cb = { NULL, &b, 1 };
	pthread_t ta, tb;

	ck_assert_int_eq(mk_fanout_create(1, &f), 0);
	ca.f = cb.f = f;
	a.round = 7;
	a.slow = 1; /* a's part 0 holds the helpers until the gate opens */
	b.round = 9;
	ck_assert_int_eq(pthread_create(&ta, NULL, second_caller, &ca), 0);
	while (!__atomic_load_n(&a.calls[0], __ATOMIC_ACQUIRE))
		usleep(100);
	ck_assert_int_eq(pthread_create(&tb, NULL, second_caller, &cb), 0);
	ck_assert_int_eq(pthread_join(tb, NULL), 0);
	ck_assert_int_eq(cb.rc, -EBUSY); /* the helpers are a's */
	ck_assert_uint_eq(b.calls[0] + b.calls[1], 0); /* b ran nothing */
	__atomic_store_n(&a.gate, 1u, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_join(ta, NULL), 0);
	ck_assert_int_eq(ca.rc, 0);
	assert_round(&a, 7);
	/* Free again: b runs now. */
	ck_assert_int_eq(mk_fanout_run(f, fill, &b, 2), 0);
	assert_round(&b, 9);
	mk_fanout_destroy(f);
}
END_TEST

static Suite *fanout_suite(void)
{
	Suite *s = suite_create("fanout");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_fanout_arguments);
	tcase_add_test(tc, test_fanout_every_part_once);
	tcase_add_test(tc, test_fanout_second_caller_busy);
	suite_add_tcase(s, tc);
	return s;
}

MK_CHECK_MAIN(fanout_suite)
