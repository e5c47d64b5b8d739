/* SPDX-License-Identifier: MIT */
/*
 * runtime/backend_cpu.c - the CPU reference backend: a resident megakernel
 * on host threads. From start to stop, N worker threads discover published
 * slots, claim them with CAS, execute them through runtime/interp.h (the
 * semantics the CUDA kernel compiles too) and complete them, while other
 * threads keep publishing.
 *
 * Discovery never scans the ring: the runtime knows which slot it just
 * published and kick() pushes that index into a bounded MPMC doorbell
 * queue (one per priority partition in the priority variant). Idle workers
 * spin briefly, then sleep on a futex; kick wakes one. A slot whose tenant
 * mask is 0 is parked (it stays PUBLISHED) and re-examined when the host
 * writes a control word, and every millisecond while any slot is parked,
 * which also catches masks changed by opcodes.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/backend.h"
#include "runtime/interp.h"
#include "runtime/scan.h"
#include "runtime/stream.h"
#include "runtime/wake.h"

#define NQUEUES MK_PRIORITY_LEVELS
#define SPIN_ROUNDS 4000
#define PARK_RECHECK_NS 1000000

struct mk_backend {
	struct mk_backend_params p;
	struct mk_exec x; /* ctl, ring, dbg: host memory owned here */
	struct mk_mpmc q[NQUEUES];
	pthread_t *threads;
	uint32_t nthreads;  /* threads started and not yet joined */
	uint32_t live;      /* atomic: workers inside the loop */
	uint32_t bell;      /* atomic futex word: bumped by every kick */
	uint32_t sleepers;  /* atomic: workers blocked on bell */
	uint32_t park_gen;  /* atomic: bumped by host control writes */
	struct mk_scan_env *scan; /* atomic pointer: SCAN_CHUNK tables or NULL */
	pthread_mutex_t park_mu;
	uint32_t *parked;   /* slots left PUBLISHED for a disabled tenant */
	uint32_t nparked;   /* under park_mu; read racily as a hint */
};

static void ring_bell(struct mk_backend *b, int all)
{
	/* seq_cst RMW then load: pairs with the sleeper's sleepers++/reload. */
	__atomic_fetch_add(&b->bell, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&b->sleepers, __ATOMIC_SEQ_CST))
		mk_futex_wake(&b->bell, all ? INT32_MAX : 1);
}

/* The slot's queue: its partition now (priority), NQUEUES if none. */
static uint32_t queue_of(struct mk_backend *b, uint32_t slot)
{
	if (!b->p.priority)
		return 0;
	return mk_prio_partition(&b->x, slot);
}

static void park(struct mk_backend *b, uint32_t slot)
{
	pthread_mutex_lock(&b->park_mu);
	b->parked[b->nparked] = slot;
	__atomic_store_n(&b->nparked, b->nparked + 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&b->park_mu);
}

/* Queue @slot on queue @qi (< NQUEUES); the caller rings the bell. */
static void enqueue_q(struct mk_backend *b, uint32_t slot, uint32_t qi)
{
	struct mk_mpmc *q = &b->q[qi];
	unsigned spins = 0;

	/*
	 * A slot is queued at most once and capacity is 2 * slots, so "full"
	 * only means a consumer is between taking a cell and freeing it:
	 * retry, never drop a doorbell. That consumer may be preempted (or,
	 * under valgrind, waiting for the one thread that runs): yield to it.
	 */
	while (mk_mpmc_push(q, slot)) {
		if (++spins % 64u == 0)
			sched_yield();
		else
			mk_cpu_relax();
	}
}

/*
 * Queue a kicked slot. Priority variant: a slot outside every partition
 * stays PUBLISHED, parked, until the offsets cover it (the reference
 * re-reads them every iteration: PROTOCOL.md 6.3).
 */
static void enqueue(struct mk_backend *b, uint32_t slot)
{
	uint32_t qi = queue_of(b, slot);

	if (qi >= NQUEUES)
		park(b, slot);
	else
		enqueue_q(b, slot, qi);
}

/*
 * Requeue parked slots whose tenant became enabled and (priority) that a
 * partition covers now; drop stale ones.
 */
static void run_sharded(struct mk_backend *b, uint32_t slot);

#define RUN_NOW_MAX 64u /* released slots a rescan runs itself (sharded) */

static void rescan_parked(struct mk_backend *b)
{
	uint32_t i = 0, woke = 0, now[RUN_NOW_MAX], nnow = 0;

	pthread_mutex_lock(&b->park_mu);
	while (i < b->nparked) {
		uint32_t s = b->parked[i];
		uint32_t *st = &b->x.ring[s * MK_SLOT_WORDS];
		uint32_t v = MK_ALOAD(st), qi = queue_of(b, s);
		int keep = (v == MK_SLOT_PUBLISHED ||
			    (b->p.priority && mk_prio_schedulable(v))) &&
			   (qi >= NQUEUES ||
			    !mk_tenant_enabled(&b->x,
					       b->x.ring[s * MK_SLOT_WORDS +
							 MK_TENANT_WORD]));

		if (keep) {
			i++;
			continue;
		}
		__atomic_store_n(&b->nparked, b->nparked - 1, __ATOMIC_RELAXED);
		b->parked[i] = b->parked[b->nparked];
		/*
		 * Sharded: run it here, not at the back of a queue that may
		 * hold the whole ring (a GPU lane would find it on its next
		 * poll). Priority: its partition's queue keeps the order.
		 */
		if (!b->p.priority && v == MK_SLOT_PUBLISHED &&
		    nnow < RUN_NOW_MAX) {
			now[nnow++] = s;
		} else if (mk_prio_schedulable(v)) {
			enqueue_q(b, s, qi);
			woke++;
		}
	}
	pthread_mutex_unlock(&b->park_mu);
	if (woke)
		ring_bell(b, 1);
	/* PROTOCOL.md 4.3 step 1 before each claim: after a stop (or a
	 * SHUTDOWN among them) the rest wait in the queue, PUBLISHED. */
	for (i = 0; i < nnow; i++) {
		if (MK_ALOAD(&b->x.ctl[MK_CTL_SHUTDOWN]))
			enqueue_q(b, now[i], 0);
		else
			run_sharded(b, now[i]);
	}
}

static void complete(struct mk_backend *b, uint32_t slot)
{
	uint32_t w[MK_SLOT_WORDS];
	uint32_t base = slot * MK_SLOT_WORDS, op;
	struct mk_scan_env *env;

	memcpy(w, &b->x.ring[base], sizeof(w));
	op = w[MK_OPCODE_WORD];
	env = __atomic_load_n(&b->scan, __ATOMIC_ACQUIRE);
	if (op == MK_OP_SCAN_CHUNK && env)
		mk_scan_exec_host(env, w);
	/* DFA_STEP (alone or packed) reads the sets: no change meanwhile. */
	if (env && (op == MK_OP_DFA_STEP || op == MK_OP_PACKED_SLOT)) {
		mk_scan_sets_hold(env);
		mk_exec_claimed(&b->x, base, w);
		mk_scan_sets_release(env);
	} else {
		mk_exec_claimed(&b->x, base, w);
	}
	b->p.progress(b->p.progress_arg);
}

/* Sharded variant: claim the popped slot unless stale or masked. */
static void run_sharded(struct mk_backend *b, uint32_t slot)
{
	uint32_t base = slot * MK_SLOT_WORDS;
	uint32_t *st = &b->x.ring[base];

	if (MK_ALOAD(st) != MK_SLOT_PUBLISHED)
		return;
	if (!mk_tenant_enabled(&b->x, b->x.ring[base + MK_TENANT_WORD])) {
		park(b, slot);
		return;
	}
	if (MK_ACAS(st, MK_SLOT_PUBLISHED, MK_SLOT_CLAIMED) != MK_SLOT_PUBLISHED)
		return;
	complete(b, slot);
}

/* Priority variant: pick a partition queue per PROTOCOL.md 6.3-6.4. */
static int pop_priority(struct mk_backend *b, uint32_t *slot, uint32_t *prio)
{
	uint32_t starv = mk_ctl_load(&b->x, MK_CTL_PRIORITY_STARVATION);
	int force_lower = starv >= MK_STARVATION_THRESHOLD;
	uint32_t p;

	for (p = 0; p < MK_PRIORITY_LEVELS; p++) {
		if (force_lower && p <= MK_PRIORITY_HIGH)
			continue;
		if (mk_mpmc_pop(&b->q[p], slot)) {
			*prio = p;
			return 1;
		}
	}
	if (!force_lower || !b->p.starvation_fix)
		return 0;
	/* Opt-in fix: forced-lower found nothing, serve CRITICAL/HIGH. */
	for (p = 0; p <= MK_PRIORITY_HIGH; p++) {
		if (mk_mpmc_pop(&b->q[p], slot)) {
			*prio = p;
			return 1;
		}
	}
	return 0;
}

static void run_priority(struct mk_backend *b, uint32_t slot, uint32_t prio)
{
	uint32_t base = slot * MK_SLOT_WORDS;
	uint32_t *st = &b->x.ring[base];
	uint32_t s = MK_ALOAD(st);
	uint32_t tenant = b->x.ring[base + MK_TENANT_WORD], now;

	if (!mk_prio_schedulable(s))
		return;
	/* The offsets changed since the kick: it belongs elsewhere now. */
	now = mk_prio_partition(&b->x, slot);
	if (now != prio) {
		if (now >= NQUEUES) {
			park(b, slot);
		} else {
			enqueue_q(b, slot, now);
			ring_bell(b, 0);
		}
		return;
	}
	if (!mk_tenant_enabled(&b->x, tenant)) {
		park(b, slot);
		return;
	}
	if (MK_ACAS(st, s, MK_SLOT_CLAIMED) != s)
		return;
	mk_prio_account(&b->x, prio, tenant);
	/* Reference hazard 6.3 step 6: a mask flipped to 0 now strands it. */
	if (!mk_tenant_enabled(&b->x, tenant))
		return;
	complete(b, slot);
}

static int try_one(struct mk_backend *b)
{
	uint32_t slot, prio;

	if (b->p.priority) {
		if (!pop_priority(b, &slot, &prio))
			return 0;
		run_priority(b, slot, prio);
		return 1;
	}
	if (!mk_mpmc_pop(&b->q[0], &slot))
		return 0;
	run_sharded(b, slot);
	return 1;
}

/*
 * Sleep until the bell moves past @seen, which the caller read BEFORE it
 * found the queues empty: a kick between that check and our sleep changes
 * the bell, so the futex wait returns at once (no lost doorbell).
 * @quiet is set when a timed parked re-check timed out: the next wait
 * skips the spin, which only shortens a kick's latency and would
 * otherwise burn ~4000 pauses every millisecond a slot stays parked.
 */
static void idle_wait(struct mk_backend *b, uint32_t seen, uint32_t *park_seen,
		      int *quiet)
{
	uint32_t gen = __atomic_load_n(&b->park_gen, __ATOMIC_ACQUIRE);
	int64_t timeout = -1;
	int i;

	if (gen != *park_seen) {
		*park_seen = gen;
		rescan_parked(b);
	}
	for (i = 0; !*quiet && i < SPIN_ROUNDS; i++) {
		if (__atomic_load_n(&b->bell, __ATOMIC_ACQUIRE) != seen ||
		    MK_ALOAD(&b->x.ctl[MK_CTL_SHUTDOWN]))
			return;
		mk_cpu_relax();
	}
	if (__atomic_load_n(&b->nparked, __ATOMIC_RELAXED)) {
		rescan_parked(b);
		timeout = PARK_RECHECK_NS;
	}
	*quiet = 0;
	__atomic_fetch_add(&b->sleepers, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&b->bell, __ATOMIC_SEQ_CST) == seen &&
	    !MK_ALOAD(&b->x.ctl[MK_CTL_SHUTDOWN]))
		*quiet = mk_futex_wait(&b->bell, seen, timeout) == -ETIMEDOUT;
	__atomic_fetch_sub(&b->sleepers, 1, __ATOMIC_SEQ_CST);
}

/*
 * The parked re-checks of idle_wait() for a worker that never runs dry:
 * after a host control write (park_gen) at once, and every
 * PARK_RECHECK_NS (a mask an opcode set) while slots are parked, the
 * clock read every 16 commands then: a busy worker with nothing parked
 * pays two loads per command.
 */
static void busy_recheck(struct mk_backend *b, uint32_t *park_seen,
			 uint32_t *ran, int64_t *due)
{
	uint32_t gen = __atomic_load_n(&b->park_gen, __ATOMIC_ACQUIRE);
	int64_t now;

	if (gen != *park_seen) {
		*park_seen = gen;
		rescan_parked(b);
		return;
	}
	if (!__atomic_load_n(&b->nparked, __ATOMIC_RELAXED) || (++*ran & 15u))
		return;
	now = mk_now_ns();
	if (now < *due)
		return;
	*due = now + PARK_RECHECK_NS;
	rescan_parked(b);
}

static void *worker_main(void *arg)
{
	struct mk_backend *b = arg;
	uint32_t park_seen = __atomic_load_n(&b->park_gen, __ATOMIC_ACQUIRE);
	uint32_t ran = 0;
	int64_t due = 0;
	int quiet = 0;

	/* PROTOCOL.md 4.3 step 1: the shutdown word ends the resident loop. */
	while (!MK_ALOAD(&b->x.ctl[MK_CTL_SHUTDOWN])) {
		uint32_t seen = __atomic_load_n(&b->bell, __ATOMIC_SEQ_CST);

		if (try_one(b)) {
			quiet = 0;
			busy_recheck(b, &park_seen, &ran, &due);
		} else {
			idle_wait(b, seen, &park_seen, &quiet);
		}
	}
	/* Whoever leaves first wakes the others so they see the flag too. */
	ring_bell(b, 1);
	if (__atomic_sub_fetch(&b->live, 1, __ATOMIC_SEQ_CST) == 0)
		b->p.progress(b->p.progress_arg);
	return NULL;
}

static int cpu_probe(struct mk_err *err)
{
	(void)err;
	return 0;
}

static void cpu_destroy(struct mk_backend *b);

static int cpu_create(const struct mk_backend_params *p,
		      const uint32_t *init_ctl, struct mk_backend **out,
		      struct mk_buffers *bufs, struct mk_err *err)
{
	struct mk_backend *b;
	const char *nt;
	uint32_t i;

	b = calloc(1, sizeof(*b));
	if (!b)
		goto out_nomem;
	b->p = *p;
	pthread_mutex_init(&b->park_mu, NULL);
	b->x.ctl_words = p->ctl_words;
	b->x.ring_words = p->slots * MK_SLOT_WORDS;
	b->x.dbg_words = p->dbg_words;
	b->x.ctl = calloc(p->ctl_words ? p->ctl_words : 1, sizeof(uint32_t));
	b->x.ring = aligned_alloc(64, (size_t)b->x.ring_words * 4u);
	b->x.dbg = calloc(p->dbg_words ? p->dbg_words : 1, sizeof(uint32_t));
	b->parked = calloc(p->slots ? p->slots : 1, sizeof(uint32_t));
	if (!b->x.ctl || !b->x.ring || !b->x.dbg || !b->parked)
		goto out_free;
	memcpy(b->x.ctl, init_ctl, (size_t)p->ctl_words * 4u);
	memset(b->x.ring, 0, (size_t)b->x.ring_words * 4u);
	for (i = 0; i < NQUEUES; i++)
		if (mk_mpmc_init(&b->q[i], 2 * p->slots))
			goto out_free;
	bufs->ring = b->x.ring;
	bufs->ring_words = b->x.ring_words;
	bufs->ctl_words = p->ctl_words;
	bufs->dbg_words = p->dbg_words;
	/*
	 * Off: the ring stays in this CPU's cache. The tests force them on
	 * (MK_NT_PUBLISH=1, MK_PUBLISH_PARTS in runtime.c).
	 */
	nt = getenv("MK_NT_PUBLISH");
	bufs->stream_min = nt && strcmp(nt, "1") == 0;
	*out = b;
	return 0;

out_free:
	cpu_destroy(b);
out_nomem:
	return mk_err_set(err, -ENOMEM, "cannot allocate the CPU backend buffers",
			  "lower slots=, observables= or debug_records=");
}

static int cpu_stop(struct mk_backend *b);

static void cpu_destroy(struct mk_backend *b)
{
	uint32_t i;

	if (!b)
		return;
	if (b->nthreads) /* also reaps a loop that left through SHUTDOWN */
		cpu_stop(b);
	for (i = 0; i < NQUEUES; i++)
		mk_mpmc_fini(&b->q[i]);
	pthread_mutex_destroy(&b->park_mu);
	free(b->x.ctl);
	free(b->x.ring);
	free(b->x.dbg);
	free(b->parked);
	free(b);
}

static void join_workers(struct mk_backend *b)
{
	uint32_t i;

	for (i = 0; i < b->nthreads; i++)
		pthread_join(b->threads[i], NULL);
	free(b->threads);
	b->threads = NULL;
	b->nthreads = 0;
}

static int cpu_start(struct mk_backend *b, struct mk_err *err)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint32_t n = b->p.workers ? b->p.workers : (ncpu > 0 ? (uint32_t)ncpu : 1);
	uint32_t i;

	join_workers(b); /* threads that left through a SHUTDOWN opcode */
	b->threads = calloc(n, sizeof(*b->threads));
	if (!b->threads)
		return mk_err_set(err, -ENOMEM, "cannot allocate worker threads",
				  "free memory or set fewer workers");
	__atomic_store_n(&b->live, n, __ATOMIC_SEQ_CST);
	for (i = 0; i < n; i++) {
		if (pthread_create(&b->threads[i], NULL, worker_main, b))
			break;
		b->nthreads++;
	}
	if (i < n) {
		__atomic_sub_fetch(&b->live, n - i, __ATOMIC_SEQ_CST);
		MK_AXCHG(&b->x.ctl[MK_CTL_SHUTDOWN], 1u);
		ring_bell(b, 1);
		join_workers(b);
		return mk_err_set(err, -EAGAIN, "cannot start worker threads",
				  "raise the thread limit (ulimit -u)");
	}
	return 0;
}

static int cpu_stop(struct mk_backend *b)
{
	MK_AXCHG(&b->x.ctl[MK_CTL_SHUTDOWN], 1u);
	ring_bell(b, 1);
	join_workers(b);
	return 0;
}

static int cpu_running(struct mk_backend *b)
{
	return __atomic_load_n(&b->live, __ATOMIC_SEQ_CST) > 0;
}

static void cpu_kick(struct mk_backend *b, uint32_t slot)
{
	enqueue(b, slot);
	ring_bell(b, 0);
}

static void cpu_kick_range(struct mk_backend *b, uint32_t first, uint32_t count)
{
	uint32_t i;

	for (i = 0; i < count; i++)
		enqueue(b, first + i);
	ring_bell(b, count > 1);
}

static int cpu_read_ctl(struct mk_backend *b, uint32_t first, uint32_t n,
			uint32_t *out)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		out[i] = mk_ctl_load(&b->x, first + i);
	return 0;
}

static int cpu_write_ctl(struct mk_backend *b, uint32_t idx, uint32_t v)
{
	mk_ctl_xchg(&b->x, idx, v);
	/* A mask may have changed: parked slots get another look. */
	__atomic_fetch_add(&b->park_gen, 1, __ATOMIC_RELEASE);
	ring_bell(b, 1);
	return 0;
}

static int cpu_read_dbg(struct mk_backend *b, uint32_t *out, size_t cap)
{
	size_t i;

	for (i = 0; i < cap && i < b->x.dbg_words; i++)
		out[i] = MK_ALOAD(&b->x.dbg[i]);
	return 0;
}

static void cpu_describe(struct mk_backend *b, char *buf, size_t len)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint32_t n = b->p.workers ? b->p.workers : (ncpu > 0 ? (uint32_t)ncpu : 1);

	snprintf(buf, len, "host (%u worker threads)", n);
}

static int cpu_set_scan(struct mk_backend *b, struct mk_scan_env *env,
			struct mk_err *err)
{
	(void)err;
	/* DFA_STEP reads env->sets; a free set has next == NULL. */
	if (b->x.sets != (env ? env->sets : NULL)) { /* set once per env */
		b->x.sets = env ? env->sets : NULL;
		b->x.nsets = env ? MK_SCAN_MAX_SETS : 0;
	}
	__atomic_store_n(&b->scan, env, __ATOMIC_RELEASE);
	return 0;
}

const struct mk_backend_ops mk_backend_cpu_ops = {
	.name = "cpu",
	.probe = cpu_probe,
	.create = cpu_create,
	.destroy = cpu_destroy,
	.start = cpu_start,
	.stop = cpu_stop,
	.running = cpu_running,
	.kick = cpu_kick,
	.kick_range = cpu_kick_range,
	.read_ctl = cpu_read_ctl,
	.write_ctl = cpu_write_ctl,
	.read_dbg = cpu_read_dbg,
	.describe = cpu_describe,
	.set_scan = cpu_set_scan,
};
