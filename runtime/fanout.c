/* SPDX-License-Identifier: MIT */
/*
 * runtime/fanout.c - helper threads for the parts of one large host-side
 * job (runtime/fanout.h).
 *
 * Mailbox protocol, per helper: the caller writes fn/arg/part/parts while
 * the helper is idle (done == seq), then publishes them with a release
 * increment of seq and a futex wake; the helper acquires seq, runs the
 * part and stores done = seq with release. A helper spins a short while
 * for the next job (back-to-back writes of one writer) before it sleeps.
 */
#include "runtime/fanout.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "runtime/wake.h"

#define SPIN_NS 50000 /* a helper's wait before it sleeps on its futex */

struct mailbox {
	uint32_t seq;      /* futex: jobs given (caller) */
	uint32_t done;     /* jobs finished (helper) */
	uint32_t sleeping; /* 1 while the helper may be in futex_wait */
	mk_fanout_fn fn;
	void *arg;
	uint32_t part, parts;
	struct mk_fanout *f;
	pthread_t th;
	char pad[64];
};

struct mk_fanout {
	pthread_mutex_t mu; /* one job at a time */
	uint32_t helpers;
	uint32_t stop;
	struct mailbox box[MK_FANOUT_MAX];
};

/*
 * Wait until m->seq != seen: spin for SPIN_NS, then sleep. sleeping and
 * seq are both seq_cst on both sides (Dekker): either this thread sees the
 * new seq or the caller sees sleeping and wakes it; futex_wait itself
 * returns at once if seq moved in between.
 */
static void wait_job(struct mailbox *m, uint32_t seen)
{
	int64_t t0 = mk_now_ns();
	uint32_t n = 0;

	while (__atomic_load_n(&m->seq, __ATOMIC_ACQUIRE) == seen) {
		if (mk_now_ns() - t0 < SPIN_NS) {
			/* Give the core away now and then: it may be the caller's. */
			if (++n % 256u)
				mk_cpu_relax();
			else
				sched_yield();
			continue;
		}
		__atomic_store_n(&m->sleeping, 1u, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&m->seq, __ATOMIC_SEQ_CST) == seen)
			mk_futex_wait(&m->seq, seen, -1);
		__atomic_store_n(&m->sleeping, 0u, __ATOMIC_RELAXED);
	}
}

/* Give @m a new job (or the stop): wake it only if it may sleep. */
static void post_job(struct mailbox *m)
{
	/* Release: the helper's acquire of seq sees the fields set before. */
	__atomic_fetch_add(&m->seq, 1u, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&m->sleeping, __ATOMIC_SEQ_CST))
		mk_futex_wake(&m->seq, 1);
}

static void *helper_main(void *p)
{
	struct mailbox *m = p;
	uint32_t seen = 0;

	for (;;) {
		wait_job(m, seen);
		seen = __atomic_load_n(&m->seq, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&m->f->stop, __ATOMIC_ACQUIRE))
			break;
		m->fn(m->arg, m->part, m->parts);
		__atomic_store_n(&m->done, seen, __ATOMIC_RELEASE);
	}
	return NULL;
}

int mk_fanout_create(uint32_t helpers, struct mk_fanout **out)
{
	struct mk_fanout *f;
	uint32_t i;
	int rc = 0;

	*out = NULL;
	if (helpers == 0 || helpers > MK_FANOUT_MAX)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->mu, NULL);
	for (i = 0; i < helpers; i++) {
		f->box[i].f = f;
		rc = -pthread_create(&f->box[i].th, NULL, helper_main, &f->box[i]);
		if (rc)
			break;
		f->helpers = i + 1u;
	}
	if (rc) {
		mk_fanout_destroy(f);
		return rc;
	}
	*out = f;
	return 0;
}

void mk_fanout_destroy(struct mk_fanout *f)
{
	uint32_t i;

	if (!f)
		return;
	__atomic_store_n(&f->stop, 1u, __ATOMIC_RELEASE);
	for (i = 0; i < f->helpers; i++) {
		post_job(&f->box[i]);
		pthread_join(f->box[i].th, NULL);
	}
	pthread_mutex_destroy(&f->mu);
	free(f);
}

uint32_t mk_fanout_width(const struct mk_fanout *f)
{
	return f ? f->helpers + 1u : 1u;
}

int mk_fanout_run(struct mk_fanout *f, mk_fanout_fn fn, void *arg,
		  uint32_t parts)
{
	uint32_t i;

	if (parts < 2u || parts > f->helpers + 1u)
		return -EINVAL;
	if (pthread_mutex_trylock(&f->mu))
		return -EBUSY;
	for (i = 1; i < parts; i++) {
		struct mailbox *m = &f->box[i - 1u];

		m->fn = fn;
		m->arg = arg;
		m->part = i;
		m->parts = parts;
		post_job(m);
	}
	fn(arg, 0, parts);
	for (i = 1; i < parts; i++) {
		struct mailbox *m = &f->box[i - 1u];
		uint32_t want = __atomic_load_n(&m->seq, __ATOMIC_RELAXED), n = 0;

		/* Acquire: the part's stores are visible once done moved. */
		while (__atomic_load_n(&m->done, __ATOMIC_ACQUIRE) != want) {
			if (++n < 4096u)
				mk_cpu_relax();
			else
				sched_yield(); /* the helper may have no core */
		}
	}
	pthread_mutex_unlock(&f->mu);
	return 0;
}
