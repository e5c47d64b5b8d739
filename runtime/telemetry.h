/* SPDX-License-Identifier: MIT */
/*
 * runtime/telemetry.h - structured snapshots of PROTOCOL.md 9.4: the
 * control snapshot, ring occupancy per status, runtime counters, health
 * between two snapshots, and splitmix64 Count-Min sketches (with the
 * per-ring sketch snapshot). Pure decoding of byte buffers: no threads, no
 * backend. Pairs with runtime/telemetry.c.
 *
 * Errors return -errno and fill @err with a "Fix:" message: -EINVAL
 * (buffer length/alignment, sketch shape), -EOVERFLOW (counter overflow,
 * sketch size), -ERANGE (done count went backwards), -ENOMEM.
 */
#ifndef MK_RUNTIME_TELEMETRY_H
#define MK_RUNTIME_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/abi.h"
#include "runtime/err.h"
#include "runtime/proto.h"

/* ---- control snapshot ------------------------------------------------------ */

struct mk_tel_control {
	int shutdown;	     /* word 0 != 0 */
	uint32_t done_count; /* word 1 */
	uint32_t epoch;	     /* word 128 */
	struct mk_metric metrics[MK_CTL_METRICS_SLOTS]; /* non-zero, ascending */
	size_t n_metrics;
	uint32_t tenant_fairness[MK_CTL_TENANT_FAIRNESS_SLOTS];	    /* 64..95 */
	uint32_t priority_fairness[MK_CTL_PRIORITY_FAIRNESS_SLOTS]; /* 136.. */
};

/*
 * Strict (12 item 19 [DECISION]): at least 640 bytes and a multiple of 4,
 * else -EINVAL; @out is untouched on error.
 */
int mk_tel_control_decode(const void *ctl, size_t len,
			  struct mk_tel_control *out, struct mk_err *err);

/* ---- ring occupancy --------------------------------------------------------- */

struct mk_tel_occupancy {
	uint64_t empty, published, claimed, done, wait_io, yield_count,
		requeue, fault;
	uint64_t unknown; /* any status word > 7 */
};

/* Ring length a multiple of 64 (-EINVAL) and at most u32::MAX slots. */
int mk_tel_ring_occupancy(const void *ring, size_t len,
			  struct mk_tel_occupancy *out, struct mk_err *err);

struct mk_tel_slot {
	uint32_t slot_idx;
	uint32_t status; /* raw value; > 7 is "unknown" */
	uint32_t tenant_id;
	uint32_t opcode;
	uint32_t args_prefix[3]; /* words 4, 5, 6 */
};
/* Slot @slot of a ring view; -ERANGE when it is not wholly inside. */
int mk_tel_ring_slot(const void *ring, size_t len, uint32_t slot,
		     struct mk_tel_slot *out);

/* RingTelemetry: a control snapshot plus the ring's occupancy. */
struct mk_tel_ring {
	struct mk_tel_control control;
	struct mk_tel_occupancy occupancy;
	uint32_t slots;
};
/* Control validated first (as mk_tel_control_decode), then the ring. */
int mk_tel_ring_decode(const void *ctl, size_t clen, const void *ring,
		       size_t rlen, struct mk_tel_ring *out,
		       struct mk_err *err);

/* ---- runtime counters and health ---------------------------------------- */

struct mk_tel_counters {
	uint64_t total_slots;	     /* sum of every occupancy bucket */
	uint64_t queue_depth;	     /* published+claimed+wait_io+yield+requeue+fault+unknown */
	uint64_t gpu_idle_slots;     /* empty */
	uint64_t gpu_idle_ppm;	     /* empty * 1e6 / total, 0 if total is 0 */
	uint64_t frontier_density_bps; /* queue_depth * 10000 / total */
	uint64_t occupancy_proxy_bps;  /* (total - empty) * 10000 / total */
	uint64_t drained_slots;	       /* control done_count */
	uint64_t unreclaimed_done_slots; /* occupancy.done */
	uint64_t tenant_fairness_total;
	uint64_t priority_fairness_total;
	uint64_t tenant_fairness_skew; /* max - min of non-zero counters */
	uint64_t requeue_slots;
	uint64_t fault_slots;
};
void mk_tel_runtime_counters(const struct mk_tel_ring *t,
			     struct mk_tel_counters *out);

struct mk_tel_priority_accounting {
	uint64_t requeue_count; /* occupancy.requeue */
	uint64_t aged_promotions; /* always 0 in the reference */
	uint64_t max_priority_age; /* always 0 in the reference */
};
void mk_tel_priority_accounting(const struct mk_tel_ring *t,
				struct mk_tel_priority_accounting *out);

struct mk_tel_health {
	uint32_t done_delta;
	uint64_t queue_depth;
	int suspected_stall; /* queue_depth > 0, no progress, no faults */
};
/*
 * Progress from @prev to @now. Where the reference panics on a done count
 * that went backwards (wrap or reset), this returns -ERANGE.
 */
int mk_tel_health_since(const struct mk_tel_ring *now,
			const struct mk_tel_ring *prev,
			struct mk_tel_health *out, struct mk_err *err);

/* ---- Count-Min sketches --------------------------------------------------- */

/* splitmix64 finaliser of 9.4 (all arithmetic mod 2^64). */
uint64_t mk_tel_splitmix64(uint64_t v);
/* splitmix64(key ^ (row * 0x9E3779B97F4A7C15)) % width; width > 0. */
size_t mk_tel_sketch_bucket(size_t width, size_t row, uint64_t key);

struct mk_tel_sketch; /* opaque: depth x width u64 counters, row-major */

/* depth or width 0 -EINVAL ("must be non-zero"); size overflow -EOVERFLOW. */
int mk_tel_sketch_create(size_t depth, size_t width,
			 struct mk_tel_sketch **out, struct mk_err *err);
void mk_tel_sketch_destroy(struct mk_tel_sketch *s); /* NULL-tolerant */
size_t mk_tel_sketch_depth(const struct mk_tel_sketch *s);
size_t mk_tel_sketch_width(const struct mk_tel_sketch *s);
/* Counter of (row, column); the row-major storage, for inspection. */
uint64_t mk_tel_sketch_counter(const struct mk_tel_sketch *s, size_t row,
			       size_t col);
/* Add @count to one bucket per row; -EOVERFLOW with nothing changed. */
int mk_tel_sketch_add(struct mk_tel_sketch *s, uint64_t key, uint64_t count,
		      struct mk_err *err);
/* Minimum over the rows. */
uint64_t mk_tel_sketch_estimate(const struct mk_tel_sketch *s, uint64_t key);
/* dst += src; shapes must match (-EINVAL); -EOVERFLOW with dst unchanged. */
int mk_tel_sketch_merge(struct mk_tel_sketch *dst,
			const struct mk_tel_sketch *src, struct mk_err *err);

/* RingTelemetry::sketch: five sketches of one shape over a ring. */
struct mk_tel_sketches {
	struct mk_tel_sketch *ring_opcode;   /* +1 per slot, key opcode */
	struct mk_tel_sketch *tenant;	     /* +1 per slot, key tenant id */
	struct mk_tel_sketch *status;	     /* +1 per slot, key raw status */
	struct mk_tel_sketch *active_opcode; /* +1 per active slot */
	struct mk_tel_sketch *dispatch_metrics; /* +count per non-zero metric */
	uint64_t total_slots;
	uint64_t active_slots; /* PUBLISHED, CLAIMED, WAIT_IO, YIELD, REQUEUE */
};
int mk_tel_sketch_snapshot(const void *ctl, size_t clen, const void *ring,
			   size_t rlen, size_t depth, size_t width,
			   struct mk_tel_sketches *out, struct mk_err *err);
void mk_tel_sketches_fini(struct mk_tel_sketches *s); /* NULL-tolerant */

#endif /* MK_RUNTIME_TELEMETRY_H */
