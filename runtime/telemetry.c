/* SPDX-License-Identifier: MIT */
/*
 * runtime/telemetry.c - control/ring snapshots, runtime counters, health
 * and Count-Min sketches (PROTOCOL.md 9.4). Reads buffers through
 * runtime/proto.h's word helpers; writes nothing but its outputs. See
 * runtime/telemetry.h.
 */
#include "runtime/telemetry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MK_TEL_GOLDEN 0x9E3779B97F4A7C15ull

struct mk_tel_sketch {
	size_t depth;
	size_t width;
	uint64_t counters[]; /* depth * width, row-major */
};

/* ---- control snapshot ------------------------------------------------------ */

int mk_tel_control_decode(const void *ctl, size_t len,
			  struct mk_tel_control *out, struct mk_err *err)
{
	size_t i;

	if (len < 4u * MK_CONTROL_MIN_WORDS || len % 4u)
		return mk_err_setf(err, -EINVAL,
				   "pass a whole control buffer from mk_proto_encode_control",
				   "megakernel control snapshot has %zu bytes, expected at least 640 and 4-byte alignment",
				   len);
	memset(out, 0, sizeof(*out));
	out->shutdown = mk_proto_load_acquire(ctl, MK_CTL_SHUTDOWN) != 0u;
	out->done_count = mk_proto_load_acquire(ctl, MK_CTL_DONE_COUNT);
	out->epoch = mk_proto_load_acquire(ctl, MK_CTL_EPOCH);
	out->n_metrics = mk_proto_read_metrics(ctl, len, out->metrics);
	for (i = 0; i < MK_CTL_TENANT_FAIRNESS_SLOTS; i++)
		out->tenant_fairness[i] = mk_proto_load_acquire(
			ctl, MK_CTL_TENANT_FAIRNESS_BASE + i);
	for (i = 0; i < MK_CTL_PRIORITY_FAIRNESS_SLOTS; i++)
		out->priority_fairness[i] = mk_proto_load_acquire(
			ctl, MK_CTL_PRIORITY_FAIRNESS_BASE + i);
	return 0;
}

/* ---- ring occupancy --------------------------------------------------------- */

static int check_ring_view(size_t len, struct mk_err *err)
{
	if (len % MK_SLOT_BYTES)
		return mk_err_setf(err, -EINVAL,
				   "pass a whole ring from mk_proto_encode_empty_ring",
				   "megakernel ring snapshot has %zu bytes, not a multiple of slot size 64",
				   len);
	if (len / MK_SLOT_BYTES > UINT32_MAX)
		return mk_err_setf(err, -EOVERFLOW,
				   "snapshot at most u32::MAX slots",
				   "ring snapshot has %zu slots",
				   len / MK_SLOT_BYTES);
	return 0;
}

static void count_status(struct mk_tel_occupancy *o, uint32_t st)
{
	switch (st) {
	case MK_SLOT_EMPTY:
		o->empty++;
		break;
	case MK_SLOT_PUBLISHED:
		o->published++;
		break;
	case MK_SLOT_CLAIMED:
		o->claimed++;
		break;
	case MK_SLOT_DONE:
		o->done++;
		break;
	case MK_SLOT_WAIT_IO:
		o->wait_io++;
		break;
	case MK_SLOT_YIELD:
		o->yield_count++;
		break;
	case MK_SLOT_REQUEUE:
		o->requeue++;
		break;
	case MK_SLOT_FAULT:
		o->fault++;
		break;
	default:
		o->unknown++;
		break;
	}
}

int mk_tel_ring_occupancy(const void *ring, size_t len,
			  struct mk_tel_occupancy *out, struct mk_err *err)
{
	size_t s, n = len / MK_SLOT_BYTES;
	int rc = check_ring_view(len, err);

	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	for (s = 0; s < n; s++)
		count_status(out, mk_proto_load_acquire(ring, s * MK_SLOT_WORDS));
	return 0;
}

int mk_tel_ring_slot(const void *ring, size_t len, uint32_t slot,
		     struct mk_tel_slot *out)
{
	size_t b = (size_t)slot * MK_SLOT_WORDS;

	if ((uint64_t)slot >= len / MK_SLOT_BYTES)
		return -ERANGE;
	out->slot_idx = slot;
	out->status = mk_proto_load_acquire(ring, b + MK_STATUS_WORD);
	out->tenant_id = mk_proto_load_word(ring, b + MK_TENANT_WORD);
	out->opcode = mk_proto_load_word(ring, b + MK_OPCODE_WORD);
	out->args_prefix[0] = mk_proto_load_word(ring, b + MK_ARG0_WORD);
	out->args_prefix[1] = mk_proto_load_word(ring, b + MK_ARG0_WORD + 1u);
	out->args_prefix[2] = mk_proto_load_word(ring, b + MK_ARG0_WORD + 2u);
	return 0;
}

int mk_tel_ring_decode(const void *ctl, size_t clen, const void *ring,
		       size_t rlen, struct mk_tel_ring *out,
		       struct mk_err *err)
{
	struct mk_tel_ring t;
	int rc;

	rc = mk_tel_control_decode(ctl, clen, &t.control, err);
	if (rc)
		return rc;
	rc = mk_tel_ring_occupancy(ring, rlen, &t.occupancy, err);
	if (rc)
		return rc;
	t.slots = (uint32_t)(rlen / MK_SLOT_BYTES);
	*out = t;
	return 0;
}

/* ---- runtime counters and health ---------------------------------------- */

static uint64_t queue_depth(const struct mk_tel_occupancy *o)
{
	return o->published + o->claimed + o->wait_io + o->yield_count +
	       o->requeue + o->fault + o->unknown;
}

static uint64_t total_slots(const struct mk_tel_occupancy *o)
{
	return o->empty + o->done + queue_depth(o);
}

/* a * k / total, 0 when total is 0; a <= total keeps a * k in range. */
static uint64_t ratio(uint64_t a, uint64_t k, uint64_t total)
{
	return total ? a * k / total : 0u;
}

static void fairness(const struct mk_tel_control *c, struct mk_tel_counters *o)
{
	uint32_t lo = UINT32_MAX, hi = 0, v;
	size_t i;

	for (i = 0; i < MK_CTL_TENANT_FAIRNESS_SLOTS; i++) {
		v = c->tenant_fairness[i];
		o->tenant_fairness_total += v;
		if (!v)
			continue;
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
	}
	o->tenant_fairness_skew = hi ? (uint64_t)(hi - lo) : 0u;
	for (i = 0; i < MK_CTL_PRIORITY_FAIRNESS_SLOTS; i++)
		o->priority_fairness_total += c->priority_fairness[i];
}

void mk_tel_runtime_counters(const struct mk_tel_ring *t,
			     struct mk_tel_counters *out)
{
	const struct mk_tel_occupancy *o = &t->occupancy;
	uint64_t total = total_slots(o), depth = queue_depth(o);

	memset(out, 0, sizeof(*out));
	out->total_slots = total;
	out->queue_depth = depth;
	out->gpu_idle_slots = o->empty;
	out->gpu_idle_ppm = ratio(o->empty, 1000000u, total);
	out->frontier_density_bps = ratio(depth, 10000u, total);
	out->occupancy_proxy_bps = ratio(total - o->empty, 10000u, total);
	out->drained_slots = t->control.done_count;
	out->unreclaimed_done_slots = o->done;
	out->requeue_slots = o->requeue;
	out->fault_slots = o->fault;
	fairness(&t->control, out);
}

void mk_tel_priority_accounting(const struct mk_tel_ring *t,
				struct mk_tel_priority_accounting *out)
{
	out->requeue_count = t->occupancy.requeue;
	out->aged_promotions = 0;
	out->max_priority_age = 0;
}

int mk_tel_health_since(const struct mk_tel_ring *now,
			const struct mk_tel_ring *prev,
			struct mk_tel_health *out, struct mk_err *err)
{
	uint32_t a = prev->control.done_count, b = now->control.done_count;

	if (b < a)
		return mk_err_setf(err, -ERANGE,
				   "the control buffer was reset or its done count wrapped; take a new baseline snapshot",
				   "done count went backwards from %u to %u", a, b);
	out->done_delta = b - a;
	out->queue_depth = queue_depth(&now->occupancy);
	out->suspected_stall = out->queue_depth > 0u && out->done_delta == 0u &&
			       now->occupancy.fault == 0u;
	return 0;
}

/* ---- Count-Min sketches --------------------------------------------------- */

uint64_t mk_tel_splitmix64(uint64_t v)
{
	v += MK_TEL_GOLDEN;
	v = (v ^ (v >> 30)) * 0xBF58476D1CE4E5B9ull;
	v = (v ^ (v >> 27)) * 0x94D049BB133111EBull;
	return v ^ (v >> 31);
}

size_t mk_tel_sketch_bucket(size_t width, size_t row, uint64_t key)
{
	return (size_t)(mk_tel_splitmix64(key ^ ((uint64_t)row * MK_TEL_GOLDEN)) %
			width);
}

int mk_tel_sketch_create(size_t depth, size_t width,
			 struct mk_tel_sketch **out, struct mk_err *err)
{
	struct mk_tel_sketch *s;
	size_t n, bytes;

	*out = NULL;
	if (depth == 0 || width == 0)
		return mk_err_set(err, -EINVAL, "telemetry sketch of size 0",
				  "Count-Min sketch depth and width must be non-zero");
	if (__builtin_mul_overflow(depth, width, &n) ||
	    __builtin_mul_overflow(n, sizeof(uint64_t), &bytes) ||
	    __builtin_add_overflow(bytes, sizeof(*s), &bytes))
		return mk_err_setf(err, -EOVERFLOW,
				   "use a smaller Count-Min sketch depth or width",
				   "sketch of %zu x %zu counters overflows", depth,
				   width);
	s = calloc(1, bytes);
	if (!s)
		return mk_err_set(err, -ENOMEM, "cannot allocate the sketch",
				  "use a smaller Count-Min sketch or free memory");
	s->depth = depth;
	s->width = width;
	*out = s;
	return 0;
}

void mk_tel_sketch_destroy(struct mk_tel_sketch *s)
{
	free(s);
}

size_t mk_tel_sketch_depth(const struct mk_tel_sketch *s)
{
	return s->depth;
}

size_t mk_tel_sketch_width(const struct mk_tel_sketch *s)
{
	return s->width;
}

uint64_t mk_tel_sketch_counter(const struct mk_tel_sketch *s, size_t row,
			       size_t col)
{
	return row < s->depth && col < s->width ?
		       s->counters[row * s->width + col] :
		       0u;
}

static int err_counter_overflow(struct mk_err *err)
{
	return mk_err_set(err, -EOVERFLOW, "Count-Min sketch counter overflow",
			  "reset the sketch or add smaller counts");
}

int mk_tel_sketch_add(struct mk_tel_sketch *s, uint64_t key, uint64_t count,
		      struct mk_err *err)
{
	uint64_t *c;
	size_t r;

	for (r = 0; r < s->depth; r++) {
		c = &s->counters[r * s->width +
				 mk_tel_sketch_bucket(s->width, r, key)];
		if (*c > UINT64_MAX - count)
			return err_counter_overflow(err);
	}
	for (r = 0; r < s->depth; r++)
		s->counters[r * s->width +
			    mk_tel_sketch_bucket(s->width, r, key)] += count;
	return 0;
}

uint64_t mk_tel_sketch_estimate(const struct mk_tel_sketch *s, uint64_t key)
{
	uint64_t best = UINT64_MAX, v;
	size_t r;

	for (r = 0; r < s->depth; r++) {
		v = s->counters[r * s->width +
				mk_tel_sketch_bucket(s->width, r, key)];
		best = v < best ? v : best;
	}
	return best;
}

int mk_tel_sketch_merge(struct mk_tel_sketch *dst,
			const struct mk_tel_sketch *src, struct mk_err *err)
{
	size_t i, n;

	if (dst->depth != src->depth || dst->width != src->width)
		return mk_err_setf(err, -EINVAL,
				   "merge Count-Min sketches of equal depth and width only",
				   "sketch %zu x %zu cannot merge %zu x %zu",
				   dst->depth, dst->width, src->depth,
				   src->width);
	n = dst->depth * dst->width;
	for (i = 0; i < n; i++)
		if (dst->counters[i] > UINT64_MAX - src->counters[i])
			return err_counter_overflow(err);
	for (i = 0; i < n; i++)
		dst->counters[i] += src->counters[i];
	return 0;
}

/* ---- sketch snapshot ------------------------------------------------------- */

static int active_status(uint32_t st)
{
	return st == MK_SLOT_PUBLISHED || st == MK_SLOT_CLAIMED ||
	       st == MK_SLOT_WAIT_IO || st == MK_SLOT_YIELD ||
	       st == MK_SLOT_REQUEUE;
}

void mk_tel_sketches_fini(struct mk_tel_sketches *s)
{
	if (!s)
		return;
	mk_tel_sketch_destroy(s->ring_opcode);
	mk_tel_sketch_destroy(s->tenant);
	mk_tel_sketch_destroy(s->status);
	mk_tel_sketch_destroy(s->active_opcode);
	mk_tel_sketch_destroy(s->dispatch_metrics);
	memset(s, 0, sizeof(*s));
}

/* One slot into the four per-slot sketches. */
static int sketch_slot(struct mk_tel_sketches *o, const struct mk_tel_slot *t,
		       struct mk_err *err)
{
	int rc;

	rc = mk_tel_sketch_add(o->ring_opcode, t->opcode, 1, err);
	if (!rc)
		rc = mk_tel_sketch_add(o->tenant, t->tenant_id, 1, err);
	if (!rc)
		rc = mk_tel_sketch_add(o->status, t->status, 1, err);
	if (!rc && active_status(t->status)) {
		rc = mk_tel_sketch_add(o->active_opcode, t->opcode, 1, err);
		o->active_slots++;
	}
	o->total_slots++;
	return rc;
}

int mk_tel_sketch_snapshot(const void *ctl, size_t clen, const void *ring,
			   size_t rlen, size_t depth, size_t width,
			   struct mk_tel_sketches *out, struct mk_err *err)
{
	struct mk_tel_sketches o;
	struct mk_tel_ring t;
	struct mk_tel_slot slot;
	uint32_t s;
	size_t i;
	int rc;

	memset(&o, 0, sizeof(o));
	rc = mk_tel_ring_decode(ctl, clen, ring, rlen, &t, err);
	if (!rc)
		rc = mk_tel_sketch_create(depth, width, &o.ring_opcode, err);
	if (!rc)
		rc = mk_tel_sketch_create(depth, width, &o.tenant, err);
	if (!rc)
		rc = mk_tel_sketch_create(depth, width, &o.status, err);
	if (!rc)
		rc = mk_tel_sketch_create(depth, width, &o.active_opcode, err);
	if (!rc)
		rc = mk_tel_sketch_create(depth, width, &o.dispatch_metrics,
					  err);
	for (s = 0; !rc && s < t.slots; s++) {
		mk_tel_ring_slot(ring, rlen, s, &slot);
		rc = sketch_slot(&o, &slot, err);
	}
	for (i = 0; !rc && i < t.control.n_metrics; i++)
		rc = mk_tel_sketch_add(o.dispatch_metrics,
				       t.control.metrics[i].opcode,
				       t.control.metrics[i].count, err);
	if (rc)
		goto out_free_sketches;
	*out = o;
	return 0;

out_free_sketches:
	mk_tel_sketches_fini(&o);
	return rc;
}
