/* SPDX-License-Identifier: MIT */
/*
 * runtime/runtime.c - the runtime handle: configuration, backend choice,
 * start and stop, completion waits and word access. Publishing is in
 * runtime/publish.c. See runtime/runtime.h.
 */
#include "runtime/runtime.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime/backend.h"
#include "runtime/fanout.h"
#include "runtime/proto.h"
#include "runtime/runtime_i.h"
#include "runtime/wake.h"


void mk_config_init(struct mk_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->backend = "auto";
	cfg->slots = 1024;
	cfg->observables = 256;
	cfg->tenants = 1;
	cfg->debug_records = 64;
	cfg->scheduler = MK_SCHED_SHARDED;
}

/* Backend hook: a slot completed or the kernel left. */
static void on_progress(void *arg)
{
	struct mk_runtime *rt = arg;

	/* seq_cst RMW then load: pairs with waiters++ / reload in waiters. */
	__atomic_fetch_add(&rt->progress, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&rt->waiters, __ATOMIC_SEQ_CST))
		mk_futex_wake(&rt->progress, INT32_MAX);
}

static int check_config(const struct mk_config *c, struct mk_err *err)
{
	if (c->slots == 0 || c->slots > MK_MAX_ENCODED_RING_SLOTS)
		return mk_err_setf(err, -EINVAL, "use slots=1..1048576",
				   "slots=%u is out of range", c->slots);
	if (c->observables > MK_MAX_ENCODED_OBSERVABLE_SLOTS)
		return mk_err_setf(err, -EINVAL, "use observables=0..1048576",
				   "observables=%u is out of range",
				   c->observables);
	if (c->debug_records > MK_MAX_ENCODED_DEBUG_RECORDS)
		return mk_err_setf(err, -EINVAL, "use debug_records=0..1048576",
				   "debug_records=%u is out of range",
				   c->debug_records);
	if (c->scheduler != MK_SCHED_SHARDED && c->scheduler != MK_SCHED_PRIORITY)
		return mk_err_set(err, -EINVAL, "unknown scheduler variant",
				  "use scheduler=sharded or scheduler=priority");
	return 0;
}

/* Resolve cfg->backend; "auto" = cuda when it probes fine, else cpu. */
static int pick_backend(struct mk_runtime *rt, struct mk_err *err)
{
	const char *name = rt->cfg.backend ? rt->cfg.backend : "auto";
	struct mk_err perr;
	const char *why, *fix;
	int rc;

	if (strcmp(name, "auto") == 0) {
		mk_err_clear(&perr);
		if (mk_backend_cuda_ops.probe(&perr) == 0) {
			rt->ops = &mk_backend_cuda_ops;
			return 0;
		}
		rt->ops = &mk_backend_cpu_ops;
		/* Why, without the probe's Fix: (it says to pick cpu). */
		why = mk_err_msg(&perr);
		fix = strstr(why, ". Fix:");
		snprintf(rt->note, sizeof(rt->note), "backend=auto chose cpu: %.*s",
			 fix ? (int)(fix - why) : (int)strlen(why), why);
		return 0;
	}
	rt->ops = mk_backend_find(name);
	if (!rt->ops)
		return mk_err_setf(err, -EINVAL, "use backend=auto, cpu or cuda",
				   "unknown backend '%s'", name);
	rc = rt->ops->probe(err);
	return rc;
}

/*
 * Helpers for big range publishes, as many as the backend asks for
 * (mk_buffers.fan_parts: CUDA on 8+ cores, 4 parts). MK_PUBLISH_PARTS=N
 * (1..9) overrides; 1 turns them off. Without helpers (or when they cannot
 * start) every publish runs on its caller.
 */
static void start_fanout(struct mk_runtime *rt, uint32_t parts)
{
	const char *v = getenv("MK_PUBLISH_PARTS");
	long n = parts;

	if (v && *v)
		n = strtol(v, NULL, 10);
	if (n >= 2 && n <= (long)MK_FANOUT_MAX + 1 &&
	    mk_fanout_create((uint32_t)n - 1u, &rt->fan))
		rt->fan = NULL;
}

static int create_backend(struct mk_runtime *rt, struct mk_err *err)
{
	struct mk_backend_params p;
	struct mk_buffers bufs;
	uint8_t *ctl = NULL;
	size_t len = 0;
	int rc;

	rc = mk_proto_encode_control(0, rt->cfg.tenants, rt->cfg.observables,
				     &ctl, &len, err);
	if (rc)
		return rc;
	/* Like the reference's resident mirror: offsets for the priority scan. */
	rc = mk_proto_write_default_priority_offsets(ctl, len, rt->slots, err);
	if (rc)
		goto out_free_ctl;
	memset(&p, 0, sizeof(p));
	p.slots = rt->slots;
	p.ctl_words = rt->ctl_words;
	p.dbg_words = rt->dbg_words;
	p.priority = rt->cfg.scheduler == MK_SCHED_PRIORITY;
	p.starvation_fix = !!(rt->cfg.flags & MK_CFG_STARVATION_FIX);
	p.workers = rt->cfg.workers;
	p.progress = on_progress;
	p.progress_arg = rt;
	p.waiters = &rt->waiters;
	memset(&bufs, 0, sizeof(bufs));
	rc = rt->ops->create(&p, (const uint32_t *)ctl, &rt->be, &bufs, err);
	if (rc)
		goto out_free_ctl;
	rt->ring = bufs.ring;
	rt->stream_min = bufs.stream_min;
	start_fanout(rt, bufs.fan_parts);
out_free_ctl:
	free(ctl);
	return rc;
}

int mk_runtime_create(const struct mk_config *cfg, struct mk_runtime **out,
		      struct mk_err *err)
{
	struct mk_runtime *rt;
	int rc;

	*out = NULL;
	rc = check_config(cfg, err);
	if (rc)
		return rc;
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return mk_err_set(err, -ENOMEM, "cannot allocate the runtime",
				  "free some memory and retry");
	rt->cfg = *cfg;
	rt->slots = cfg->slots;
	rt->ctl_words = MK_CONTROL_MIN_WORDS + cfg->observables;
	rt->dbg_words = 1u + MK_DEBUG_RECORD_WORDS * cfg->debug_records;
	rt->created_ns = mk_now_ns();
	pthread_mutex_init(&rt->life, NULL);
	rt->lock = calloc((rt->slots + 63u) / 64u, sizeof(uint64_t));
	rt->pend = calloc((rt->slots + 63u) / 64u, sizeof(uint64_t));
	if (!rt->lock || !rt->pend) {
		rc = mk_err_set(err, -ENOMEM, "cannot allocate slot locks",
				"lower slots=");
		goto out_free;
	}
	rc = pick_backend(rt, err);
	if (rc)
		goto out_free;
	rc = create_backend(rt, err);
	if (rc)
		goto out_free;
	*out = rt;
	return 0;

out_free:
	free(rt->pend);
	free(rt->lock);
	pthread_mutex_destroy(&rt->life);
	free(rt);
	return rc;
}

void mk_runtime_destroy(struct mk_runtime *rt)
{
	if (!rt)
		return;
	mk_runtime_stop(rt);
	mk_fanout_destroy(rt->fan);
	rt->ops->destroy(rt->be);
	free(rt->pend);
	free(rt->lock);
	pthread_mutex_destroy(&rt->life);
	free(rt);
}

int mk_runtime_start(struct mk_runtime *rt, struct mk_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&rt->life);
	if (!rt->ops->running(rt->be)) {
		rt->ops->stop(rt->be); /* reap a loop that left by SHUTDOWN */
		rt->ops->write_ctl(rt->be, MK_CTL_SHUTDOWN, 0);
		rc = rt->ops->start(rt->be, err);
	}
	pthread_mutex_unlock(&rt->life);
	return rc;
}

int mk_runtime_stop(struct mk_runtime *rt)
{
	int rc;

	pthread_mutex_lock(&rt->life);
	rc = rt->ops->stop(rt->be);
	pthread_mutex_unlock(&rt->life);
	on_progress(rt); /* waiters re-check and see the kernel stopped */
	return rc;
}

int mk_runtime_running(struct mk_runtime *rt)
{
	return rt->ops->running(rt->be);
}

/* ---- completion ---------------------------------------------------------- */

int mk_runtime_slot_status(struct mk_runtime *rt, uint32_t slot)
{
	if (slot >= rt->slots)
		return -ERANGE;
	mk_rt_settle(rt, slot, 1);
	return (int)mk_rt_status(rt, slot);
}

int mk_runtime_slot_done(struct mk_runtime *rt, uint32_t slot)
{
	if (slot >= rt->slots)
		return -ERANGE;
	mk_rt_settle(rt, slot, 1);
	return mk_rt_status(rt, slot) == MK_SLOT_DONE;
}

uint64_t mk_runtime_progress(struct mk_runtime *rt)
{
	return __atomic_load_n(&rt->progress, __ATOMIC_SEQ_CST);
}

static int64_t remaining(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - mk_now_ns();
	return left > 0 ? left : 0;
}

uint64_t mk_runtime_wait_progress(struct mk_runtime *rt, uint64_t seen,
				  int64_t timeout_ns)
{
	uint32_t now;

	__atomic_fetch_add(&rt->waiters, 1, __ATOMIC_SEQ_CST);
	now = __atomic_load_n(&rt->progress, __ATOMIC_SEQ_CST);
	if (now == (uint32_t)seen && timeout_ns != 0)
		mk_futex_wait(&rt->progress, now, timeout_ns);
	__atomic_fetch_sub(&rt->waiters, 1, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&rt->progress, __ATOMIC_SEQ_CST);
}

int mk_runtime_wait(struct mk_runtime *rt, uint32_t slot, int64_t timeout_ns)
{
	int64_t deadline = timeout_ns < 0 ? -1 : mk_now_ns() + timeout_ns;
	int rc;

	if (slot >= rt->slots)
		return -ERANGE;
	mk_rt_settle(rt, slot, 1);
	/* Register first, then check: no completion can slip between. */
	__atomic_fetch_add(&rt->waiters, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		uint32_t seen = __atomic_load_n(&rt->progress, __ATOMIC_SEQ_CST);
		int64_t left;

		if (mk_rt_status(rt, slot) == MK_SLOT_DONE) {
			rc = 0;
			break;
		}
		if (!rt->ops->running(rt->be)) {
			rc = -ESHUTDOWN;
			break;
		}
		left = remaining(deadline);
		if (left == 0) {
			rc = -ETIMEDOUT;
			break;
		}
		mk_futex_wait(&rt->progress, seen, left);
	}
	__atomic_fetch_sub(&rt->waiters, 1, __ATOMIC_SEQ_CST);
	return rc;
}

/* ---- words ---------------------------------------------------------------- */

int mk_runtime_read_slot(struct mk_runtime *rt, uint32_t slot,
			 struct mk_slot *out)
{
	uint32_t *w, i;

	if (slot >= rt->slots)
		return -ERANGE;
	mk_rt_settle(rt, slot, 1);
	w = &rt->ring[slot * MK_SLOT_WORDS];
	out->status = mk_rt_status(rt, slot);
	for (i = 1; i < MK_SLOT_WORDS; i++)
		((uint32_t *)out)[i] = __atomic_load_n(&w[i], __ATOMIC_RELAXED);
	return 0;
}

int mk_runtime_read_ctl(struct mk_runtime *rt, uint32_t first, uint32_t n,
			uint32_t *out)
{
	if (first > rt->ctl_words || n > rt->ctl_words - first)
		return -ERANGE;
	return rt->ops->read_ctl(rt->be, first, n, out);
}

static int kernel_owned(uint32_t idx)
{
	return idx == MK_CTL_DONE_COUNT || idx == MK_CTL_EPOCH ||
	       (idx >= MK_CTL_TENANT_FAIRNESS_BASE &&
		idx < MK_CTL_METRICS_BASE + MK_CTL_METRICS_SLOTS) ||
	       (idx >= MK_CTL_PRIORITY_FAIRNESS_BASE &&
		idx < MK_CTL_PRIORITY_FAIRNESS_BASE +
			      MK_CTL_PRIORITY_FAIRNESS_SLOTS);
}

int mk_runtime_ctl_host_writable(uint32_t idx)
{
	return idx != MK_CTL_SHUTDOWN && !kernel_owned(idx);
}

int mk_runtime_write_ctl(struct mk_runtime *rt, uint32_t idx, uint32_t value,
			 struct mk_err *err)
{
	if (idx >= rt->ctl_words)
		return mk_err_setf(err, -ERANGE,
				   "write a word below 160 + observables",
				   "control word %u is beyond the %u-word buffer",
				   idx, rt->ctl_words);
	if (idx == MK_CTL_SHUTDOWN)
		return mk_err_set(err, -EPERM,
				  "control word 0 (shutdown) is driven by start/stop",
				  "write 1 or 0 to control/shutdown instead");
	if (kernel_owned(idx))
		return mk_err_setf(err, -EPERM,
				   "only the kernel writes counters (done count, metrics, epoch, fairness)",
				   "control word %u is kernel-owned", idx);
	return rt->ops->write_ctl(rt->be, idx, value);
}

/* Word of tenant @t's mask per the base in control word 2. */
static uint32_t mask_word(struct mk_runtime *rt, uint32_t t, uint32_t *base)
{
	*base = 0;
	rt->ops->read_ctl(rt->be, MK_CTL_TENANT_BASE, 1, base);
	return *base + t; /* u32 wrap, as the kernel */
}

uint32_t mk_runtime_tenant_mask(struct mk_runtime *rt, uint32_t t)
{
	uint32_t base, idx = mask_word(rt, t, &base), v = 0;

	if (idx < rt->ctl_words)
		rt->ops->read_ctl(rt->be, idx, 1, &v);
	return v;
}

int mk_runtime_set_tenant_mask(struct mk_runtime *rt, uint32_t t,
			       uint32_t value, struct mk_err *err)
{
	uint32_t base, idx = mask_word(rt, t, &base);

	if (idx < rt->ctl_words &&
	    (idx == MK_CTL_SHUTDOWN || kernel_owned(idx)))
		return mk_err_setf(err, -EPERM,
				   "point control word 2 back at the mask table: write 3 there (control/raw offset 8)",
				   "tenant %u's mask would be control word %u (base %u in control word 2 + %u), which the host may not write",
				   t, idx, base, t);
	return mk_runtime_write_ctl(rt, idx, value, err);
}

uint32_t mk_runtime_ctl_words(struct mk_runtime *rt)
{
	return rt->ctl_words;
}

uint32_t mk_runtime_slots(struct mk_runtime *rt)
{
	return rt->slots;
}

uint32_t mk_runtime_debug_words(struct mk_runtime *rt)
{
	return rt->dbg_words;
}

int mk_runtime_read_debug(struct mk_runtime *rt, uint32_t *out, size_t cap)
{
	return rt->ops->read_dbg(rt->be, out, cap);
}

int mk_runtime_status(struct mk_runtime *rt, struct mk_status *st)
{
	uint32_t done = 0, i;
	uint64_t pending = 0;

	memset(st, 0, sizeof(*st));
	st->backend = rt->ops->name;
	rt->ops->describe(rt->be, st->device, sizeof(st->device));
	st->running = rt->ops->running(rt->be);
	st->scheduler = rt->cfg.scheduler;
	st->slots = rt->slots;
	st->observables = rt->cfg.observables;
	st->tenants = rt->cfg.tenants;
	st->debug_records = rt->cfg.debug_records;
	st->published = __atomic_load_n(&rt->published, __ATOMIC_RELAXED);
	rt->ops->read_ctl(rt->be, MK_CTL_DONE_COUNT, 1, &done);
	/*
	 * Extend the wrapping u32 counter. The kernel only adds to it, but
	 * any opcode may store into word 1: a step back of less than 2^31
	 * is such a store (taken as written), not a wrap past 2^32.
	 */
	pthread_mutex_lock(&rt->life);
	if ((uint32_t)(done - (uint32_t)rt->done64) < 0x80000000u)
		rt->done64 += (uint32_t)(done - (uint32_t)rt->done64);
	else
		rt->done64 = (rt->done64 & ~0xFFFFFFFFull) | done;
	st->done = rt->done64;
	pthread_mutex_unlock(&rt->life);
	/* A status read, not a per-command path: a pass over the statuses. */
	for (i = 0; i < rt->slots; i++) {
		uint32_t s = mk_rt_status(rt, i);

		/* A publish between begin and end counts as published. */
		pending += s == MK_SLOT_PUBLISHED || s == MK_SLOT_CLAIMED ||
			   mk_rt_pending(rt, i);
	}
	st->pending = pending;
	st->uptime_s = (double)(mk_now_ns() - rt->created_ns) / 1e9;
	snprintf(st->note, sizeof(st->note), "%s", rt->note);
	return 0;
}

/* ---- extension support ---------------------------------------------------- */

/*
 * Host backends: anonymous mappings (zeroed, page-aligned, and given back
 * to the kernel on free, so the daemon's RSS follows the running streams
 * instead of malloc's arenas). One header page keeps the length.
 */
void *mk_runtime_alloc_shared(struct mk_runtime *rt, size_t bytes)
{
	size_t len = ((bytes + 4095) & ~(size_t)4095) + 4096;
	uint8_t *p;

	if (rt->ops->alloc_shared)
		return rt->ops->alloc_shared(rt->be, bytes);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, &len, sizeof(len));
	return p + 4096;
}

void mk_runtime_free_shared(struct mk_runtime *rt, void *p)
{
	size_t len;

	if (!p)
		return;
	if (rt->ops->free_shared) {
		rt->ops->free_shared(rt->be, p);
		return;
	}
	memcpy(&len, (uint8_t *)p - 4096, sizeof(len));
	munmap((uint8_t *)p - 4096, len);
}

int mk_runtime_set_scan(struct mk_runtime *rt, struct mk_scan_env *env,
			struct mk_err *err)
{
	if (!rt->ops->set_scan)
		return mk_err_setf(err, -ENOTSUP,
				   "mount with -o backend=cpu to stream files",
				   "the %s backend cannot run SCAN_CHUNK yet",
				   rt->ops->name);
	return rt->ops->set_scan(rt->be, env, err);
}

const char *mk_runtime_backend(struct mk_runtime *rt)
{
	return rt->ops->name;
}
