/* SPDX-License-Identifier: MIT */
/*
 * runtime/runtime.h - the megafs runtime: one resident megakernel (CPU
 * threads or a CUDA kernel) behind an opaque handle. This is what fs/, the
 * benchmarks and the tests call; it knows nothing of FUSE.
 *
 * Threading: every function is safe to call from many threads at once,
 * except create/destroy. Publishing to one slot is serialised by a host
 * slot lock, so two writers never interleave a slot image; a second writer
 * gets -EBUSY. Errors return -errno and, when @err is not NULL, a message
 * with a "Fix:" hint. Pairs with runtime/runtime.c.
 */
#ifndef MK_RUNTIME_RUNTIME_H
#define MK_RUNTIME_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/abi.h"
#include "runtime/err.h"

struct mk_runtime;

enum mk_sched {
	MK_SCHED_SHARDED = 0, /* default: every published slot is claimable */
	MK_SCHED_PRIORITY = 1 /* partitions from control words 129..134 */
};

/* Config flags. */
#define MK_CFG_STARVATION_FIX 0x1u /* opt-in fix of PROTOCOL.md 6.4 hazard */
#define MK_CFG_PACKED_COMPAT 0x2u  /* accept packed slots the kernel mis-runs */
/*
 * Publishes reject (-EINVAL) a tenant outside the mask table (>= 29): its
 * "mask" would be whatever control word lies there, so the slot could wait
 * forever with no mask to enable. The protocol allows any tenant word; the
 * filesystem sets this flag.
 */
#define MK_CFG_TENANT_TABLE 0x4u

struct mk_config {
	const char *backend;    /* "auto" (default), "cpu" or "cuda" */
	uint32_t slots;         /* ring slots, default 1024, 1..1048576 */
	uint32_t observables;   /* observable words, default 256, 0..1048576 */
	uint32_t tenants;       /* tenants enabled at start, default 1 */
	uint32_t debug_records; /* PRINTF records, default 64, 0..1048576 */
	enum mk_sched scheduler;
	uint32_t workers; /* CPU worker threads; 0 = one per online core */
	uint32_t flags;   /* MK_CFG_* */
};

/* Fill @cfg with the defaults above. */
void mk_config_init(struct mk_config *cfg);

/*
 * Create a runtime: encode the control buffer (encode_control(false,
 * tenants, observables) plus the default priority offsets), an empty ring
 * and debug log, and pick the backend. The kernel is not started.
 * Returns 0, -EINVAL (bad config), -ENODEV (backend unavailable; "auto"
 * never fails this way, it falls back to cpu), -ENOMEM.
 */
int mk_runtime_create(const struct mk_config *cfg, struct mk_runtime **out,
		      struct mk_err *err);

/* Stop (if running) and free. NULL-tolerant. */
void mk_runtime_destroy(struct mk_runtime *rt);

/*
 * Start the resident megakernel: clears control word 0 and launches the
 * workers / kernel, which then run until mk_runtime_stop() or until control
 * word 0 becomes non-zero (the SHUTDOWN opcode, or a store by an opcode).
 * Slots left PUBLISHED while stopped are picked up. Returns 0 (also when
 * already running), -ENODEV, -ENOMEM, -EIO.
 */
int mk_runtime_start(struct mk_runtime *rt, struct mk_err *err);

/*
 * Stop: set control word 0 and wait for the kernel to leave. Published
 * slots stay PUBLISHED. Idempotent. Returns 0 or -EIO (kernel fault).
 */
int mk_runtime_stop(struct mk_runtime *rt);

/* 1 when the kernel is running (a SHUTDOWN opcode makes this 0). */
int mk_runtime_running(struct mk_runtime *rt);

/* ---- publishing ---------------------------------------------------------- */

/*
 * Publish one slot (PROTOCOL.md 8.5): checks, in order, slot index
 * (-ERANGE), arg count <= 12 (-E2BIG), publishable opcode (-EINVAL), slot
 * EMPTY or DONE (-EBUSY). Writes opcode, tenant, @priority, zero-filled
 * args, then status PUBLISHED with release ordering, then rings the
 * doorbell. Nothing changes on failure.
 */
int mk_runtime_publish(struct mk_runtime *rt, uint32_t slot, uint32_t tenant,
		       uint32_t opcode, const uint32_t *args, size_t nargs,
		       struct mk_err *err);

/* Same with an explicit priority word (informational; 2 = NORMAL). */
int mk_runtime_publish_prio(struct mk_runtime *rt, uint32_t slot,
			    uint32_t tenant, uint32_t priority, uint32_t opcode,
			    const uint32_t *args, size_t nargs,
			    struct mk_err *err);

/*
 * Publish @count consecutive 64-byte slot images starting at @first
 * (ring/raw, binary slot files). Each image's status word must be 0 or 1
 * (-EINVAL); opcode validation and the EMPTY/DONE rule apply to every
 * target. All-or-nothing. Returns 0 or -errno.
 */
int mk_runtime_publish_images(struct mk_runtime *rt, uint32_t first,
			      const struct mk_slot *images, uint32_t count,
			      struct mk_err *err);

/*
 * The same publish in two phases, for a caller that answers its own client
 * between them (fs/ answers a ring/raw write after begin, so the writer's
 * next write travels while this one's lines are written).
 * begin: every check of publish_images, all-or-nothing, same errors; on 0
 * the range is locked and the publish can no longer fail. Until end, a
 * host read of those slots (read_slot, slot_status, slot_done, wait)
 * waits for end, so it never sees them as they were before; status counts
 * them as published and pending. The thread between the two phases must
 * not read those slots itself.
 * end: writes the lines (status last), unlocks and wakes the kernel; call
 * it exactly once after each successful begin, with @images still valid.
 */
struct mk_publish {
	uint32_t first, count;
	const struct mk_slot *images;
};
int mk_runtime_publish_begin(struct mk_runtime *rt, uint32_t first,
			     const struct mk_slot *images, uint32_t count,
			     struct mk_publish *pub, struct mk_err *err);
void mk_runtime_publish_end(struct mk_runtime *rt, struct mk_publish *pub);

/* One item of a batch: opcode and up to 12 args. */
struct mk_item {
	uint32_t opcode;
	uint32_t nargs;
	uint32_t args[MK_ARGS_PER_SLOT];
};

/*
 * batch_publish (PROTOCOL.md 8.5): items at start..start+n-1 and a
 * BATCH_FENCE with args [n, tag] at start+n; all-or-nothing. Returns n+1.
 */
int mk_runtime_batch_publish(struct mk_runtime *rt, uint32_t start,
			     uint32_t tenant, const struct mk_item *items,
			     uint32_t n, uint32_t tag, struct mk_err *err);

/* One inner op of a packed slot (opcode is a u8 by protocol). */
struct mk_packed_op {
	uint8_t opcode;
	uint8_t nargs;
	uint32_t args[MK_ARGS_PER_SLOT];
};

/*
 * Publish a PACKED_SLOT (PROTOCOL.md 5.9). Strict by default: rejects more
 * than 4 ops and ops whose args run past the payload (-EINVAL), which the
 * kernel would drop; MK_CFG_PACKED_COMPAT restores the reference rules.
 */
int mk_runtime_publish_packed(struct mk_runtime *rt, uint32_t slot,
			      uint32_t tenant, const struct mk_packed_op *ops,
			      size_t n, struct mk_err *err);

/* ---- slot reservation (the `call` file) --------------------------------- */

/*
 * Reserve any EMPTY/DONE slot for the caller, searching from the top of the
 * ring down: no other publisher can use it until mk_runtime_release().
 * Returns the slot index, or -EAGAIN when every slot is busy or reserved.
 */
int mk_runtime_reserve(struct mk_runtime *rt, struct mk_err *err);

/*
 * The checks of a slot image that need no slot (status word 0/1, opcode
 * not reserved, tenant in the table): a caller that reserves a slot for
 * it (call channels) refuses bad input before it takes one. 0 or -EINVAL.
 */
int mk_runtime_check_image(struct mk_runtime *rt, const struct mk_slot *image,
			   struct mk_err *err);

/* Publish into a slot the caller reserved (same checks as publish). */
int mk_runtime_publish_reserved(struct mk_runtime *rt, uint32_t slot,
				const struct mk_slot *image,
				struct mk_err *err);

/* Give a reserved slot back. */
void mk_runtime_release(struct mk_runtime *rt, uint32_t slot);

/* ---- completion ---------------------------------------------------------- */

/* The slot's status word (acquire), or -ERANGE. */
int mk_runtime_slot_status(struct mk_runtime *rt, uint32_t slot);

/* 1 if slot is DONE, 0 if not, -ERANGE for a bad index. Non-blocking. */
int mk_runtime_slot_done(struct mk_runtime *rt, uint32_t slot);

/*
 * Block until @slot is DONE or @timeout_ns passes (0 = check once, negative
 * = forever). Returns 0, -ETIMEDOUT, -ESHUTDOWN (kernel stopped while the
 * slot was still pending), -ERANGE.
 */
int mk_runtime_wait(struct mk_runtime *rt, uint32_t slot, int64_t timeout_ns);

/*
 * Progress counter: changes whenever some slot completes or the kernel
 * stops. mk_runtime_wait_progress() blocks until it differs from @seen or
 * the timeout passes, and returns the current value.
 */
uint64_t mk_runtime_progress(struct mk_runtime *rt);
uint64_t mk_runtime_wait_progress(struct mk_runtime *rt, uint64_t seen,
				  int64_t timeout_ns);

/* ---- reading and writing words ------------------------------------------ */

/* Copy slot @slot's 16 words (live). Returns 0 or -ERANGE. */
int mk_runtime_read_slot(struct mk_runtime *rt, uint32_t slot,
			 struct mk_slot *out);

/* Copy control words [first, first+n). Returns 0 or -ERANGE. */
int mk_runtime_read_ctl(struct mk_runtime *rt, uint32_t first, uint32_t n,
			uint32_t *out);

/*
 * Host write of control word @idx. Host-owned words only: tenant base,
 * mask and quota tables, priority offsets, starvation counter and
 * observables. Word 0 is driven by start/stop, and kernel-owned counters
 * (done count, metrics, epoch, fairness) are the kernel's: both give
 * -EPERM. Returns 0, -ERANGE, -EPERM.
 */
int mk_runtime_write_ctl(struct mk_runtime *rt, uint32_t idx, uint32_t value,
			 struct mk_err *err);

/* 1 if the host may write control word @idx through mk_runtime_write_ctl. */
int mk_runtime_ctl_host_writable(uint32_t idx);

/*
 * Tenant @t's mask: control word ctl[2] + t (u32 wrap, as the kernel reads
 * it). Read: the word, 0 when it lies past the buffer. Write: -ERANGE past
 * the buffer, -EPERM when the base makes it word 0 or a kernel-owned word
 * (the message names the base), else as mk_runtime_write_ctl.
 */
uint32_t mk_runtime_tenant_mask(struct mk_runtime *rt, uint32_t t);
int mk_runtime_set_tenant_mask(struct mk_runtime *rt, uint32_t t,
			       uint32_t value, struct mk_err *err);

/* Words in the control buffer (160 + observables) and ring slots. */
uint32_t mk_runtime_ctl_words(struct mk_runtime *rt);
uint32_t mk_runtime_slots(struct mk_runtime *rt);

/* Copy the debug log words (1 + 4 * records) into @out (cap words). */
int mk_runtime_read_debug(struct mk_runtime *rt, uint32_t *out, size_t cap);
uint32_t mk_runtime_debug_words(struct mk_runtime *rt);

/* ---- extension support (runtime/stream.c) -------------------------------- */

struct mk_scan_env;
/* Zeroed memory the kernel can read (mapped pinned for CUDA); NULL on
 * failure. Free with mk_runtime_free_shared. */
void *mk_runtime_alloc_shared(struct mk_runtime *rt, size_t bytes);
void mk_runtime_free_shared(struct mk_runtime *rt, void *p);
/* Hand the scan tables to the backend (NULL clears). -ENOTSUP + Fix: when
 * the backend cannot run SCAN_CHUNK. */
int mk_runtime_set_scan(struct mk_runtime *rt, struct mk_scan_env *env,
			struct mk_err *err);
/* The backend's name ("cpu" or "cuda"). */
const char *mk_runtime_backend(struct mk_runtime *rt);

/* ---- status -------------------------------------------------------------- */

struct mk_status {
	const char *backend; /* "cpu" or "cuda" */
	char device[128];    /* "host (2 threads)" or the GPU name */
	int running;
	enum mk_sched scheduler;
	uint32_t slots, observables, tenants, debug_records;
	uint64_t published; /* successful slot publishes since create */
	uint64_t done;      /* DONE_COUNT extended to 64 bits (monotonic while
			     * status is read at least once per 2^32) */
	uint64_t pending;   /* published - done, as seen now */
	double uptime_s;    /* since create */
	char note[320];     /* e.g. why "auto" fell back to cpu; "" if none */
};

int mk_runtime_status(struct mk_runtime *rt, struct mk_status *st);

#endif /* MK_RUNTIME_RUNTIME_H */
