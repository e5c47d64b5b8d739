/* SPDX-License-Identifier: MIT */
/*
 * runtime/publish.c - host-side publishing with the protocol's validation
 * and status-last ordering: single slots, ranges of slot images (ring/raw,
 * batches, packed slots), call-channel reservations. See runtime/runtime.h.
 *
 * Publishers are serialised per slot by a host lock bit (held while a
 * publisher writes the slot, or while a call channel has it reserved), so
 * the ring itself only ever shows protocol transitions: EMPTY/DONE ->
 * PUBLISHED, written last.
 *
 * A range publish has two phases (mk_runtime_publish_begin/_end) so that
 * fs/ can answer a ring/raw write between them: begin locks and validates
 * the range, and after it nothing can fail; end writes the lines, unlocks
 * and wakes the backend. Between the two the range's settling bits are set,
 * and every host reader of those slots waits for them to clear
 * (mk_rt_settle), so no reader ordered after the answer sees a slot as it
 * was before. The kernel only learns of a range from end's kick.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "runtime/fanout.h"
#include "runtime/proto.h"
#include "runtime/runtime_i.h"
#include "runtime/wake.h"

/* ---- slot locks ----------------------------------------------------------- */

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

/* Set or clear the bits of [first, first + n) in @words (release). */
static void range_mark(uint64_t *words, uint32_t first, uint32_t n, int on)
{
	uint32_t w;

	for (w = first / 64u; n && w <= (first + n - 1u) / 64u; w++) {
		if (on)
			__atomic_fetch_or(&words[w], range_bits(w, first, n),
					  __ATOMIC_RELEASE);
		else
			__atomic_fetch_and(&words[w], ~range_bits(w, first, n),
					   __ATOMIC_RELEASE);
	}
}

static void unlock_range(struct mk_runtime *rt, uint32_t first, uint32_t n)
{
	range_mark(rt->lock, first, n, 0);
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

/* ---- settling -------------------------------------------------------------- */

void mk_rt_settle(struct mk_runtime *rt, uint32_t first, uint32_t n)
{
	uint32_t w, spins = 0;

	for (w = first / 64u; n && w <= (first + n - 1u) / 64u; w++) {
		uint64_t m = range_bits(w, first, n);

		/* A publisher between begin and end is running: its end is
		 * one line copy away (tens of microseconds for 1 MiB). */
		while (__atomic_load_n(&rt->pend[w], __ATOMIC_ACQUIRE) & m) {
			if (++spins < 1024u)
				mk_cpu_relax();
			else
				sched_yield();
		}
	}
}

/*
 * lock_slot()/lock_range() that wait out a publish between its begin and
 * end instead of failing on it: the caller then sees the slot PUBLISHED
 * (or later) and gets the protocol's own error, as it would have if the
 * earlier write had been answered after its end.
 */
static int lock_slot_settled(struct mk_runtime *rt, uint32_t slot)
{
	while (!lock_slot(rt, slot)) {
		if (!mk_rt_pending(rt, slot))
			return 0;
		mk_rt_settle(rt, slot, 1);
	}
	return 1;
}

static int64_t lock_range_settled(struct mk_runtime *rt, uint32_t first,
				  uint32_t n)
{
	int64_t held;

	while ((held = lock_range(rt, first, n)) >= 0 &&
	       mk_rt_pending(rt, (uint32_t)held))
		mk_rt_settle(rt, (uint32_t)held, 1);
	return held;
}

/* ---- publishing ------------------------------------------------------------ */

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
	if (!lock_slot_settled(rt, slot))
		return busy_err(err, slot);
	rc = mk_proto_check_publish(rt->slots, slot, nargs, opcode,
				    mk_rt_status(rt, slot), err);
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
		uint32_t st = mk_rt_status(rt, first + i);

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
 * Run one phase of a locked range's publish (check_images() or
 * write_images()), in parts on the fan-out helpers when the range is
 * large: each part's status reads (cache misses: the GPU wrote DONE into
 * those lines) and line writes run on their own core. When the helpers
 * are busy with another publish, the caller runs the phase alone.
 * Returns 0 or the check's error; the first failing part holds the first
 * bad image, so the error is the serial one.
 */
static int run_phase(struct mk_runtime *rt, struct fan_job *j,
		     struct mk_err *err)
{
	uint32_t parts = j->count / FAN_PART_MIN, i;

	if (parts > mk_fanout_width(rt->fan))
		parts = mk_fanout_width(rt->fan);
	if (parts < 2u || mk_fanout_run(rt->fan, fan_part, j, parts)) {
		if (!j->write)
			return check_images(rt, j->first, j->img, j->count, err);
		write_images(rt, j->first, j->img, j->count, j->stream);
		return 0;
	}
	for (i = 0; !j->write && i < parts; i++) {
		if (j->rc[i]) {
			if (err)
				*err = j->err[i];
			return j->rc[i];
		}
	}
	return 0;
}

/* A job for run_phase(); rc[] and err[] are written by the parts. */
static void fan_job_init(struct fan_job *j, struct mk_runtime *rt,
			 const struct mk_publish *pub, int write)
{
	j->rt = rt;
	j->img = pub->images;
	j->first = pub->first;
	j->count = pub->count;
	j->write = write;
	j->stream = write && rt->stream_min && pub->count >= rt->stream_min;
}

int mk_runtime_publish_begin(struct mk_runtime *rt, uint32_t first,
			     const struct mk_slot *images, uint32_t count,
			     struct mk_publish *pub, struct mk_err *err)
{
	struct fan_job j;
	int64_t held;
	int rc;

	memset(pub, 0, sizeof(*pub));
	if (count == 0)
		return 0;
	if (first >= rt->slots || count > rt->slots - first)
		return mk_err_setf(err, -ERANGE,
				   "write inside the ring: offset/64 + count <= slots",
				   "slots %u..%u exceed the ring of %u slots",
				   first, first + count - 1, rt->slots);
	held = lock_range_settled(rt, first, count);
	if (held >= 0)
		return busy_err(err, (uint32_t)held);
	pub->first = first;
	pub->count = count;
	pub->images = images;
	fan_job_init(&j, rt, pub, 0);
	rc = run_phase(rt, &j, err);
	if (rc) {
		unlock_range(rt, first, count);
		pub->count = 0;
		return rc;
	}
	range_mark(rt->pend, first, count, 1);
	__atomic_fetch_add(&rt->published, count, __ATOMIC_RELAXED);
	return 0;
}

void mk_runtime_publish_end(struct mk_runtime *rt, struct mk_publish *pub)
{
	struct fan_job j;

	if (pub->count == 0)
		return;
	fan_job_init(&j, rt, pub, 1);
	run_phase(rt, &j, NULL);
	/* Unlock first: a publisher that waited on the settling bits then
	 * takes the lock and sees the lines. */
	unlock_range(rt, pub->first, pub->count);
	range_mark(rt->pend, pub->first, pub->count, 0);
	rt->ops->kick_range(rt->be, pub->first, pub->count);
	pub->count = 0;
}

int mk_runtime_publish_images(struct mk_runtime *rt, uint32_t first,
			      const struct mk_slot *images, uint32_t count,
			      struct mk_err *err)
{
	struct mk_publish pub;
	int rc;

	rc = mk_runtime_publish_begin(rt, first, images, count, &pub, err);
	if (!rc)
		mk_runtime_publish_end(rt, &pub);
	return rc;
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
		st = mk_rt_status(rt, s);
		if (st == MK_SLOT_EMPTY || st == MK_SLOT_DONE)
			return (int)s;
		unlock_slot(rt, s);
	}
	return mk_err_set(err, -EAGAIN, "every ring slot is busy or reserved",
			  "read the results of pending calls, or mount with more slots=");
}

int mk_runtime_check_image(struct mk_runtime *rt, const struct mk_slot *image,
			   struct mk_err *err)
{
	int rc;

	if (image->status > MK_SLOT_PUBLISHED)
		return mk_err_setf(err, -EINVAL,
				   "set the status word of a slot image to 0 or 1",
				   "slot image has status word %u", image->status);
	/* Slot 0 as an EMPTY target: only the opcode is judged here. */
	rc = mk_proto_check_publish(rt->slots, 0, 0, image->opcode,
				    MK_SLOT_EMPTY, err);
	if (rc || !(rt->cfg.flags & MK_CFG_TENANT_TABLE) ||
	    image->tenant < MK_CTL_TENANT_MASK_SLOTS)
		return rc;
	return mk_err_setf(err, -EINVAL,
			   "use tenant=0..28 (enable one with control/tenants/T/mask)",
			   "tenant %u is outside the tenant table 0..%u",
			   image->tenant, MK_CTL_TENANT_MASK_SLOTS - 1u);
}

int mk_runtime_publish_reserved(struct mk_runtime *rt, uint32_t slot,
				const struct mk_slot *image, struct mk_err *err)
{
	int rc;

	/* The image's own checks, then its target's (index, status). */
	rc = mk_runtime_check_image(rt, image, err);
	rc = rc ? rc : mk_proto_check_publish(rt->slots, slot, 0, image->opcode,
					      slot < rt->slots ?
						      mk_rt_status(rt, slot) : 0,
					      err);
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
