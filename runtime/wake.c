/* SPDX-License-Identifier: MIT */
/*
 * runtime/wake.c - futex sleep/wake and the bounded MPMC queue; see
 * runtime/wake.h. The queue is Dmitry Vyukov's bounded MPMC design: each
 * cell carries a sequence number that says whose turn it is.
 */
#include "runtime/wake.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int64_t mk_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int mk_futex_wait(uint32_t *word, uint32_t seen, int64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;
	long rc;

	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	rc = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, tsp, NULL, 0);
	if (rc < 0 && errno == ETIMEDOUT)
		return -ETIMEDOUT;
	return 0;
}

void mk_futex_wake(uint32_t *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

int mk_mpmc_init(struct mk_mpmc *q, uint32_t min_cap)
{
	uint32_t cap = 2, i;

	while (cap < min_cap && cap < (1u << 30))
		cap <<= 1;
	q->cells = calloc(cap, sizeof(*q->cells));
	if (!q->cells)
		return -ENOMEM;
	for (i = 0; i < cap; i++)
		q->cells[i].seq = i;
	q->mask = cap - 1;
	q->head = 0;
	q->tail = 0;
	return 0;
}

void mk_mpmc_fini(struct mk_mpmc *q)
{
	if (!q)
		return;
	free(q->cells);
	q->cells = NULL;
}

int mk_mpmc_push(struct mk_mpmc *q, uint32_t v)
{
	uint32_t pos = __atomic_load_n(&q->tail, __ATOMIC_RELAXED);
	struct mk_mpmc_cell *c;

	for (;;) {
		int32_t dif;

		c = &q->cells[pos & q->mask];
		/* Acquire pairs with the consumer's release of this cell. */
		dif = (int32_t)(__atomic_load_n(&c->seq, __ATOMIC_ACQUIRE) - pos);
		if (dif == 0) {
			if (__atomic_compare_exchange_n(&q->tail, &pos, pos + 1, 1,
							__ATOMIC_RELAXED,
							__ATOMIC_RELAXED))
				break;
		} else if (dif < 0) {
			return -ENOSPC;
		} else {
			pos = __atomic_load_n(&q->tail, __ATOMIC_RELAXED);
		}
	}
	c->val = v;
	/* Release pairs with the consumer's acquire of seq: val is visible. */
	__atomic_store_n(&c->seq, pos + 1, __ATOMIC_RELEASE);
	return 0;
}

int mk_mpmc_pop(struct mk_mpmc *q, uint32_t *v)
{
	uint32_t pos = __atomic_load_n(&q->head, __ATOMIC_RELAXED);
	struct mk_mpmc_cell *c;

	for (;;) {
		int32_t dif;

		c = &q->cells[pos & q->mask];
		dif = (int32_t)(__atomic_load_n(&c->seq, __ATOMIC_ACQUIRE) -
				(pos + 1));
		if (dif == 0) {
			if (__atomic_compare_exchange_n(&q->head, &pos, pos + 1, 1,
							__ATOMIC_RELAXED,
							__ATOMIC_RELAXED))
				break;
		} else if (dif < 0) {
			return 0;
		} else {
			pos = __atomic_load_n(&q->head, __ATOMIC_RELAXED);
		}
	}
	*v = c->val;
	/* Release pairs with the producer's acquire: the cell is free again. */
	__atomic_store_n(&c->seq, pos + q->mask + 1, __ATOMIC_RELEASE);
	return 1;
}

int mk_mpmc_nonempty(struct mk_mpmc *q)
{
	uint32_t pos = __atomic_load_n(&q->head, __ATOMIC_RELAXED);
	struct mk_mpmc_cell *c = &q->cells[pos & q->mask];

	return __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE) == pos + 1;
}
