/* SPDX-License-Identifier: MIT */
/*
 * runtime/runtime.c - the runtime handle: configuration, backend choice,
 * host-side publishing with the protocol's validation and status-last
 * ordering, completion waits and word access. See runtime/runtime.h.
 *
 * Publishers are serialised per slot by a host lock byte (0 free,
 * 1 being written, 2 reserved by a `call` channel), so the ring itself only
 * ever shows protocol transitions: EMPTY/DONE -> PUBLISHED, written last.
 */
#include "runtime/runtime.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "runtime/backend.h"
#include "runtime/fanout.h"
#include "runtime/proto.h"
#include "runtime/wake.h"

struct mk_runtime {
	struct mk_config cfg;
	const struct mk_backend_ops *ops;
	struct mk_backend *be;
	uint32_t *ring;       /* backend's host-visible ring, slots*16 words */
	uint32_t stream_min;  /* mk_buffers.stream_min */
	struct mk_fanout *fan; /* big range publishes in parts (NULL: off) */
	uint32_t slots;
	uint32_t ctl_words;
	uint32_t dbg_words;
	/*
	 * Host slot locks, one bit per slot (atomic words): held while a
	 * publisher writes the slot, or while a call channel or stream has
	 * it reserved. A range publish takes 64 slots per atomic.
	 */
	uint64_t *lock;
	uint64_t published;   /* atomic: successful slot publishes */
	uint32_t progress;    /* atomic futex word: bumped per completion */
	uint32_t waiters;     /* atomic: threads blocked on progress */
	uint64_t done64;      /* DONE_COUNT extended past 2^32 (under life) */
	pthread_mutex_t life; /* serialises start/stop */
	int64_t created_ns;
	char note[320];
};

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
	if (!rt->lock) {
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

/* ---- publishing ---------------------------------------------------------- */

static int lock_slot(struct mk_runtime *rt, uint32_t slot)
{
	uint64_t bit = 1ull << (slot % 64u);

	return !(__atomic_fetch_or(&rt->lock[slot / 64u], bit,
				   __ATOMIC_ACQUIRE) & bit);
}

static void unlock_slot(struct mk_runtime *rt, uint32_t slot)
{
	__atomic_fetch_and(&rt->lock[slot / 64u], ~(1ull << (slot % 64u)),
			   __ATOMIC_RELEASE);
}

/* Bits of lock word @w that [first, first + n) covers. */
static uint64_t range_bits(uint32_t w, uint32_t first, uint32_t n)
{
	uint32_t lo = w * 64u > first ? w * 64u : first;
	uint32_t hi = (w + 1u) * 64u < first + n ? (w + 1u) * 64u : first + n;
	uint64_t m = hi - lo == 64u ? ~0ull : ((1ull << (hi - lo)) - 1u);

	return m << (lo % 64u);
}

static void unlock_range(struct mk_runtime *rt, uint32_t first, uint32_t n)
{
	uint32_t w;

	for (w = first / 64u; n && w <= (first + n - 1u) / 64u; w++)
		__atomic_fetch_and(&rt->lock[w], ~range_bits(w, first, n),
				   __ATOMIC_RELEASE);
}

/*
 * Lock [first, first + n) all or nothing. Returns -1 on success, else the
 * first slot found held by someone else (nothing is left locked).
 */
static int64_t lock_range(struct mk_runtime *rt, uint32_t first, uint32_t n)
{
	uint32_t w, w0 = first / 64u;

	for (w = w0; w <= (first + n - 1u) / 64u; w++) {
		uint64_t m = range_bits(w, first, n);
		uint64_t old = __atomic_fetch_or(&rt->lock[w], m,
						 __ATOMIC_ACQUIRE);

		if (old & m) {
			/* Give back only the bits this call set. */
			__atomic_fetch_and(&rt->lock[w], ~(m & ~old),
					   __ATOMIC_RELEASE);
			if (w > w0)
				unlock_range(rt, first, w * 64u - first);
			return (int64_t)w * 64 + __builtin_ctzll(old & m);
		}
	}
	return -1;
}

static uint32_t slot_status(struct mk_runtime *rt, uint32_t slot)
{
	/* Acquire pairs with the kernel's release store of DONE. */
	return __atomic_load_n(&rt->ring[slot * MK_SLOT_WORDS], __ATOMIC_ACQUIRE);
}

static int busy_err(struct mk_err *err, uint32_t slot)
{
	return mk_err_setf(err, -EBUSY,
			   "wait for the other writer or use another slot",
			   "slot %u is being written or is reserved by a call channel",
			   slot);
}

/* Write words 1..15 of @img into @slot, then status PUBLISHED last. */
static void write_image(struct mk_runtime *rt, uint32_t slot,
			const struct mk_slot *img)
{
	uint32_t *w = &rt->ring[slot * MK_SLOT_WORDS];

	mk_proto_fill_slot(w, img->tenant, img->priority, img->opcode,
			   img->args, MK_ARGS_PER_SLOT);
	/* Release: the kernel's acquire of PUBLISHED sees words 1..15. */
	__atomic_store_n(&w[MK_STATUS_WORD], (uint32_t)MK_SLOT_PUBLISHED,
			 __ATOMIC_RELEASE);
}

/* MK_CFG_TENANT_TABLE (runtime.h); after the reference's own checks. */
static int check_tenant(const struct mk_runtime *rt, uint32_t slot,
			uint32_t tenant, struct mk_err *err)
{
	if (!(rt->cfg.flags & MK_CFG_TENANT_TABLE) ||
	    tenant < MK_CTL_TENANT_MASK_SLOTS)
		return 0;
	return mk_err_setf(err, -EINVAL,
			   "use tenant=0..28 (enable one with control/tenants/T/mask)",
			   "slot %u: tenant %u is outside the tenant table 0..%u",
			   slot, tenant, MK_CTL_TENANT_MASK_SLOTS - 1u);
}

int mk_runtime_publish_prio(struct mk_runtime *rt, uint32_t slot,
			    uint32_t tenant, uint32_t priority, uint32_t opcode,
			    const uint32_t *args, size_t nargs,
			    struct mk_err *err)
{
	struct mk_slot img;
	int rc;

	/* Index, arg count and opcode first, in the reference order. */
	rc = mk_proto_check_publish(rt->slots, slot, nargs, opcode,
				    MK_SLOT_EMPTY, err);
	if (rc)
		return rc;
	if (!lock_slot(rt, slot))
		return busy_err(err, slot);
	rc = mk_proto_check_publish(rt->slots, slot, nargs, opcode,
				    slot_status(rt, slot), err);
	rc = rc ? rc : check_tenant(rt, slot, tenant, err);
	if (rc) {
		unlock_slot(rt, slot);
		return rc;
	}
	memset(&img, 0, sizeof(img));
	img.opcode = opcode;
	img.tenant = tenant;
	img.priority = priority;
	if (nargs)
		memcpy(img.args, args, nargs * sizeof(uint32_t));
	write_image(rt, slot, &img);
	unlock_slot(rt, slot);
	__atomic_fetch_add(&rt->published, 1, __ATOMIC_RELAXED);
	rt->ops->kick(rt->be, slot);
	return 0;
}

int mk_runtime_publish(struct mk_runtime *rt, uint32_t slot, uint32_t tenant,
		       uint32_t opcode, const uint32_t *args, size_t nargs,
		       struct mk_err *err)
{
	return mk_runtime_publish_prio(rt, slot, tenant, MK_PRIORITY_NORMAL,
				       opcode, args, nargs, err);
}

/* Validate every image against its target; slots already locked. */
static int check_images(struct mk_runtime *rt, uint32_t first,
			const struct mk_slot *img, uint32_t count,
			struct mk_err *err)
{
	uint32_t i, ok_op = 0;
	int rc, have_ok = 0;

	for (i = 0; i < count; i++) {
		uint32_t st = slot_status(rt, first + i);

		/*
		 * Batches are mostly one opcode: once it passed, an image with
		 * the same opcode, a status word of 0/1 and an EMPTY or DONE
		 * target passes too. Anything else takes the full check, so
		 * the first bad image gets the reference's error, as before.
		 */
		if (have_ok && img[i].opcode == ok_op &&
		    img[i].status <= MK_SLOT_PUBLISHED &&
		    img[i].tenant < MK_CTL_TENANT_MASK_SLOTS &&
		    (st == MK_SLOT_EMPTY || st == MK_SLOT_DONE))
			continue;
		if (img[i].status > MK_SLOT_PUBLISHED)
			return mk_err_setf(err, -EINVAL,
					   "set the status word of a slot image to 0 or 1",
					   "slot image %u has status word %u",
					   first + i, img[i].status);
		rc = mk_proto_check_publish(rt->slots, first + i, 0,
					    img[i].opcode, st, err);
		rc = rc ? rc : check_tenant(rt, first + i, img[i].tenant, err);
		if (rc)
			return rc;
		ok_op = img[i].opcode;
		have_ok = 1;
	}
	return 0;
}

/* The images are slot layout already: words 1..15, then status last. */
static void copy_images(uint32_t *ring, uint32_t first,
			const struct mk_slot *img, uint32_t count)
{
	uint32_t i;

	for (i = 0; i < count; i++) {
		uint32_t *w = &ring[(size_t)(first + i) * MK_SLOT_WORDS];

		memcpy(&w[MK_OPCODE_WORD], &img[i].opcode,
		       MK_SLOT_BYTES - sizeof(uint32_t));
		__atomic_store_n(&w[MK_STATUS_WORD], (uint32_t)MK_SLOT_PUBLISHED,
				 __ATOMIC_RELEASE);
	}
}

/*
 * copy_images() for a large range of a ring a device reads across PCIe
 * (CUDA with MK_NT_PUBLISH=1, mk_buffers.stream_min): each line is written
 * whole with streaming stores, status PUBLISHED included, so the device's
 * reads and its DONE stores find no dirty line in the CPU cache to snoop
 * while the host is still writing. Host-dependent (docs/BENCH.md run F):
 * 1 MiB ring/raw writes 41 -> 47 M slots/s on one H100 host, slower on
 * another, and slower at 64 KiB everywhere, so it is opt-in.
 * The device reads a range only after its doorbell entry, which the store
 * fence (each writing thread's) orders after every line; a host reader
 * (after unlock_range's release) sees whole lines.
 * Returns 0 where there are no streaming stores (the caller copies).
 */
static int stream_images(uint32_t *ring, uint32_t first,
			 const struct mk_slot *img, uint32_t count)
{
#if defined(__x86_64__)
	const __m128i keep = _mm_set_epi32(-1, -1, -1, 0);
	const __m128i pub = _mm_cvtsi32_si128((int)MK_SLOT_PUBLISHED);
	uint32_t i;

	for (i = 0; i < count; i++) {
		__m128i *d = (__m128i *)(void *)&ring[(size_t)(first + i) *
						      MK_SLOT_WORDS];
		const __m128i *s = (const __m128i *)(const void *)&img[i];
		__m128i h = _mm_loadu_si128(s);

		_mm_stream_si128(d + 1, _mm_loadu_si128(s + 1));
		_mm_stream_si128(d + 2, _mm_loadu_si128(s + 2));
		_mm_stream_si128(d + 3, _mm_loadu_si128(s + 3));
		_mm_stream_si128(d, _mm_or_si128(_mm_and_si128(h, keep), pub));
	}
	_mm_sfence();
	return 1;
#else
	(void)ring;
	(void)first;
	(void)img;
	(void)count;
	return 0;
#endif
}

/* Write validated images into the ring, streamed if @stream. */
static void write_images(struct mk_runtime *rt, uint32_t first,
			 const struct mk_slot *img, uint32_t count, int stream)
{
	if (!stream || !stream_images(rt->ring, first, img, count))
		copy_images(rt->ring, first, img, count);
}

#define FAN_PART_MIN 2048u /* slots per part of a fanned publish */

/* One range publish split into contiguous parts (runtime/fanout.h). */
struct fan_job {
	struct mk_runtime *rt;
	const struct mk_slot *img;
	uint32_t first, count;
	int write;  /* 0: check phase, 1: write phase */
	int stream; /* the whole range is large enough to stream */
	int rc[MK_FANOUT_MAX + 1];
	struct mk_err err[MK_FANOUT_MAX + 1];
};

static void fan_part(void *arg, uint32_t part, uint32_t parts)
{
	struct fan_job *j = arg;
	uint32_t per = j->count / parts, lo = part * per;
	uint32_t n = part + 1u == parts ? j->count - lo : per;

	if (j->write)
		write_images(j->rt, j->first + lo, j->img + lo, n, j->stream);
	else
		j->rc[part] = check_images(j->rt, j->first + lo, j->img + lo, n,
					   &j->err[part]);
}

/*
 * check_images() then write_images() of a locked range, in parts on the
 * fan-out helpers when it is large: each part's status reads (cache
 * misses: the GPU wrote DONE into those lines) and line writes run on
 * their own core. The first failing part holds the first bad image, so
 * the error is the serial one. Returns 0 or the check's error.
 */
static int check_and_write(struct mk_runtime *rt, uint32_t first,
			   const struct mk_slot *img, uint32_t count,
			   struct mk_err *err)
{
	struct fan_job j;
	uint32_t parts = count / FAN_PART_MIN, i;
	int rc;

	if (parts > mk_fanout_width(rt->fan))
		parts = mk_fanout_width(rt->fan);
	j.rt = rt;
	j.img = img;
	j.first = first;
	j.count = count;
	j.write = 0;
	j.stream = rt->stream_min && count >= rt->stream_min;
	if (parts < 2u || mk_fanout_run(rt->fan, fan_part, &j, parts)) {
		rc = check_images(rt, first, img, count, err);
		if (!rc)
			write_images(rt, first, img, count, j.stream);
		return rc;
	}
	for (i = 0; i < parts; i++) {
		if (j.rc[i]) {
			if (err)
				*err = j.err[i];
			return j.rc[i];
		}
	}
	j.write = 1;
	if (mk_fanout_run(rt->fan, fan_part, &j, parts))
		write_images(rt, first, img, count, j.stream);
	return 0;
}

int mk_runtime_publish_images(struct mk_runtime *rt, uint32_t first,
			      const struct mk_slot *images, uint32_t count,
			      struct mk_err *err)
{
	int64_t held;
	int rc;

	if (count == 0)
		return 0;
	if (first >= rt->slots || count > rt->slots - first)
		return mk_err_setf(err, -ERANGE,
				   "write inside the ring: offset/64 + count <= slots",
				   "slots %u..%u exceed the ring of %u slots",
				   first, first + count - 1, rt->slots);
	held = lock_range(rt, first, count);
	if (held >= 0)
		return busy_err(err, (uint32_t)held);
	rc = check_and_write(rt, first, images, count, err);
	unlock_range(rt, first, count);
	if (rc)
		return rc;
	__atomic_fetch_add(&rt->published, count, __ATOMIC_RELAXED);
	rt->ops->kick_range(rt->be, first, count);
	return 0;
}

int mk_runtime_batch_publish(struct mk_runtime *rt, uint32_t start,
			     uint32_t tenant, const struct mk_item *items,
			     uint32_t n, uint32_t tag, struct mk_err *err)
{
	struct mk_slot *img;
	uint32_t i;
	int rc;

	if (n >= rt->slots || start > rt->slots - n - 1)
		return mk_err_set(err, -ERANGE,
				  "batch publish exceeds ring slot count",
				  "publish fewer items or start at a lower slot");
	for (i = 0; i < n; i++) {
		rc = mk_proto_check_publish(rt->slots, start + i, items[i].nargs,
					    items[i].opcode, MK_SLOT_EMPTY, err);
		if (rc)
			return rc;
	}
	img = calloc((size_t)n + 1, sizeof(*img));
	if (!img)
		return mk_err_set(err, -ENOMEM, "cannot allocate the batch",
				  "publish a smaller batch");
	for (i = 0; i < n; i++) {
		img[i].opcode = items[i].opcode;
		img[i].tenant = tenant;
		img[i].priority = MK_PRIORITY_NORMAL;
		memcpy(img[i].args, items[i].args,
		       items[i].nargs * sizeof(uint32_t));
	}
	img[n].opcode = MK_OP_BATCH_FENCE;
	img[n].tenant = tenant;
	img[n].priority = MK_PRIORITY_NORMAL;
	img[n].args[0] = n;
	img[n].args[1] = tag;
	rc = mk_runtime_publish_images(rt, start, img, n + 1, err);
	free(img);
	return rc ? rc : (int)(n + 1);
}

int mk_runtime_publish_packed(struct mk_runtime *rt, uint32_t slot,
			      uint32_t tenant, const struct mk_packed_op *ops,
			      size_t n, struct mk_err *err)
{
	struct mk_proto_packed_op pops[256];
	uint32_t payload[MK_ARGS_PER_SLOT];
	size_t i, nwords = 0;
	unsigned flags = (rt->cfg.flags & MK_CFG_PACKED_COMPAT) ? 0 : MK_PACK_STRICT;
	int rc;

	if (n > 256)
		return mk_err_set(err, -EOVERFLOW, "too many packed ops",
				  "a packed slot holds at most 255 inner opcodes");
	for (i = 0; i < n; i++) {
		pops[i].opcode = ops[i].opcode;
		pops[i].args = ops[i].args;
		pops[i].nargs = ops[i].nargs;
	}
	rc = mk_proto_encode_packed(pops, n, flags, payload, &nwords, err);
	if (rc)
		return rc;
	return mk_runtime_publish(rt, slot, tenant, MK_OP_PACKED_SLOT, payload,
				  nwords, err);
}

/* ---- reservation (call channels) ----------------------------------------- */

/*
 * Reserved slots come from the top of the ring down, so call channels and
 * streams rarely meet scripts that address ring/N from 0 up.
 */
int mk_runtime_reserve(struct mk_runtime *rt, struct mk_err *err)
{
	uint32_t i;

	for (i = 0; i < rt->slots; i++) {
		uint32_t s = rt->slots - 1 - i;
		uint32_t st;

		if (!lock_slot(rt, s))
			continue;
		st = slot_status(rt, s);
		if (st == MK_SLOT_EMPTY || st == MK_SLOT_DONE)
			return (int)s;
		unlock_slot(rt, s);
	}
	return mk_err_set(err, -EAGAIN, "every ring slot is busy or reserved",
			  "read the results of pending calls, or mount with more slots=");
}

int mk_runtime_publish_reserved(struct mk_runtime *rt, uint32_t slot,
				const struct mk_slot *image, struct mk_err *err)
{
	int rc;

	if (image->status > MK_SLOT_PUBLISHED)
		return mk_err_setf(err, -EINVAL,
				   "set the status word of a slot image to 0 or 1",
				   "slot image has status word %u", image->status);
	rc = mk_proto_check_publish(rt->slots, slot, 0, image->opcode,
				    slot < rt->slots ? slot_status(rt, slot) : 0,
				    err);
	rc = rc ? rc : check_tenant(rt, slot, image->tenant, err);
	if (rc)
		return rc;
	write_image(rt, slot, image);
	__atomic_fetch_add(&rt->published, 1, __ATOMIC_RELAXED);
	rt->ops->kick(rt->be, slot);
	return 0;
}

void mk_runtime_release(struct mk_runtime *rt, uint32_t slot)
{
	if (slot < rt->slots)
		unlock_slot(rt, slot);
}

/* ---- completion ---------------------------------------------------------- */

int mk_runtime_slot_status(struct mk_runtime *rt, uint32_t slot)
{
	if (slot >= rt->slots)
		return -ERANGE;
	return (int)slot_status(rt, slot);
}

int mk_runtime_slot_done(struct mk_runtime *rt, uint32_t slot)
{
	if (slot >= rt->slots)
		return -ERANGE;
	return slot_status(rt, slot) == MK_SLOT_DONE;
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
	/* Register first, then check: no completion can slip between. */
	__atomic_fetch_add(&rt->waiters, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		uint32_t seen = __atomic_load_n(&rt->progress, __ATOMIC_SEQ_CST);
		int64_t left;

		if (slot_status(rt, slot) == MK_SLOT_DONE) {
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
	w = &rt->ring[slot * MK_SLOT_WORDS];
	out->status = slot_status(rt, slot);
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
	/* Extend the wrapping u32 counter: it only moves forward. */
	pthread_mutex_lock(&rt->life);
	if (done < (uint32_t)rt->done64)
		rt->done64 += 1ull << 32;
	rt->done64 = (rt->done64 & ~0xFFFFFFFFull) | done;
	st->done = rt->done64;
	pthread_mutex_unlock(&rt->life);
	/* A status read, not a per-command path: a pass over the statuses. */
	for (i = 0; i < rt->slots; i++) {
		uint32_t s = slot_status(rt, i);

		pending += s == MK_SLOT_PUBLISHED || s == MK_SLOT_CLAIMED;
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
