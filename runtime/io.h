/* SPDX-License-Identifier: MIT */
/*
 * runtime/io.h - the IO queue of PROTOCOL.md section 7 (binding 3): 1..64
 * slots of 8 little-endian u32 words (op_type, src, dst, offset_lo,
 * offset_hi, byte_count, status, tag). Host side only: encoders, the
 * validator, the MegakernelIoQueue equivalent (struct mk_io_queue), the
 * poll/claim/complete pump over raw bytes, and the C-only "recycle IO slot"
 * helper of section 12 item 18. No threads, no backend. Pairs with
 * runtime/io.c.
 *
 * Status words are read with acquire and written with release ordering
 * (atomics when 4-byte aligned), so the same calls work on a buffer the
 * kernel shares. Claims and recycles are CAS, so two host threads never
 * take the same request. Errors return -errno and fill @err with a "Fix:"
 * message: -EINVAL (misaligned length, not whole slots, 0 slots), -EOVERFLOW
 * (more than 64 slots; the reference's QueueFull), -ERANGE (slot index),
 * -EBUSY (wrong status for the operation), -ENOSPC (destination too small).
 */
#ifndef MK_RUNTIME_IO_H
#define MK_RUNTIME_IO_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/abi.h"
#include "runtime/err.h"

#define MK_IO_SLOT_BYTES (MK_IO_SLOT_WORDS * 4u) /* 32 */
#define MK_IO_QUEUE_BYTES (MK_IO_SLOT_COUNT * MK_IO_SLOT_BYTES) /* 2048 */

/* ---- encoders and validation (7.5) ---------------------------------------- */

/* @n zero slots into @buf (@cap bytes); @buf untouched on error. */
int mk_io_encode_empty_queue_into(void *buf, size_t cap, uint32_t n,
				  size_t *len, struct mk_err *err);
/* Allocating form: *out is malloc'd (free() it); -ENOMEM. */
int mk_io_encode_empty_queue(uint32_t n, uint8_t **out, size_t *len,
			     struct mk_err *err);
/*
 * Host-side view rule: a multiple of 4 (-EINVAL), of 32 (-EINVAL), at most
 * 64 slots (-EOVERFLOW). 0 bytes is accepted (dispatch needs exactly 64
 * slots: PROTOCOL.md 1 [DECISION]; see mk_io_validate_dispatch_bytes).
 */
int mk_io_validate_queue_bytes(size_t len, struct mk_err *err);
/* Dispatch rule: exactly 2048 bytes (64 slots), else -EINVAL. */
int mk_io_validate_dispatch_bytes(size_t len, struct mk_err *err);

/* ---- MegakernelIoQueue ----------------------------------------------------- */

/* Caller-owned queue with inline storage; words[] is the wire image. */
struct mk_io_queue {
	uint32_t slots; /* 1..64, set by mk_io_queue_init */
	uint32_t words[MK_IO_SLOT_COUNT * MK_IO_SLOT_WORDS]; /* status: atomic */
};

/* Zeroed queue of @n slots; n == 0 -EINVAL, n > 64 -EOVERFLOW. */
int mk_io_queue_init(struct mk_io_queue *q, uint32_t n, struct mk_err *err);
/* Wire bytes and their length (slots * 32). */
void *mk_io_queue_bytes(struct mk_io_queue *q, size_t *len);

/*
 * Flow B (7.3) host publish: OP_TYPE = READ, SRC = 0, DST = @mapped_slot,
 * offset 0, BYTE_COUNT, TAG, then release + STATUS = PUBLISHED. Slot index
 * >= slots -ERANGE ("valid slot id"); status != EMPTY -EBUSY ("still in
 * flight"). Nothing is written on error.
 */
int mk_io_queue_publish_slot(struct mk_io_queue *q, uint32_t slot,
			     uint32_t mapped_slot, uint32_t byte_count,
			     uint32_t tag, struct mk_err *err);
/* Same with SRC = @src and DST = @dst. */
int mk_io_queue_submit_dma_read(struct mk_io_queue *q, uint32_t slot,
				uint32_t src, uint32_t dst, uint32_t byte_count,
				uint32_t tag, struct mk_err *err);

struct mk_io_completion {
	uint32_t slot_idx;
	uint32_t mapped_slot; /* DST_HANDLE */
	uint32_t byte_count;
	uint32_t tag;
};
/*
 * 0 and *out unless the slot is out of range or EMPTY (-ENODATA). Reports
 * a slot even while it is still PUBLISHED, as the reference does.
 */
int mk_io_queue_completion(const struct mk_io_queue *q, uint32_t slot,
			   struct mk_io_completion *out);
/* 1 iff @slot is in range and EMPTY. */
int mk_io_queue_is_recycled(const struct mk_io_queue *q, uint32_t slot);

/* ---- poll / claim / complete over raw bytes (7.2) ------------------------- */

struct mk_io_request {
	uint32_t slot_idx;
	uint32_t op_type;
	uint32_t src_handle;
	uint32_t dst_handle;
	uint64_t offset; /* hi << 32 | lo */
	uint32_t byte_count;
	uint32_t tag;
};

/*
 * List the PUBLISHED slots in ascending order without changing them; at
 * most @cap are stored. Returns the number stored or -errno (view
 * validation as mk_io_validate_queue_bytes). Any byte address is accepted.
 */
int mk_io_poll_requests(const void *io, size_t len, struct mk_io_request *out,
			size_t cap, struct mk_err *err);
/*
 * Claim PUBLISHED slots (CAS -> CLAIMED) in ascending order and return
 * them, at most @cap; slots beyond @cap stay PUBLISHED for the next call,
 * so a request is never serviced twice nor lost. Returns the count.
 */
int mk_io_claim_requests(void *io, size_t len, struct mk_io_request *out,
			 size_t cap, struct mk_err *err);

struct mk_io_result {
	uint32_t slot;
	int success; /* non-zero: OK (0x10), zero: ERROR (0x11) */
};
/*
 * All-or-nothing completion: validates the view, then checks every entry
 * (slot >= view slots -ERANGE "complete a valid slot id"; status !=
 * CLAIMED -EBUSY "requires a CLAIMED request") before writing any STATUS
 * word. Only STATUS words are written, with release ordering.
 */
int mk_io_complete_batch(void *io, size_t len, const struct mk_io_result *res,
			 size_t n, struct mk_err *err);
/* One slot; same rules. */
int mk_io_complete(void *io, size_t len, uint32_t slot, int success,
		   struct mk_err *err);

/*
 * C-only addition (PROTOCOL.md 12 item 18): return a finished IO slot to
 * EMPTY so it can be published again. Finished means DONE (the GPU sidecar's
 * end state, which nothing else resets), OK or ERROR (Flow A; ERROR is
 * never cleared by the GPU). EMPTY is a no-op (returns 0). PUBLISHED and
 * CLAIMED are in flight: -EBUSY. Other values: -EINVAL. The status moves by
 * CAS from the value observed, so a racing claim is never overwritten;
 * the other words are left for the next publish to rewrite.
 */
int mk_io_recycle_slot(void *io, size_t len, uint32_t slot,
		       struct mk_err *err);
int mk_io_queue_recycle(struct mk_io_queue *q, uint32_t slot,
			struct mk_err *err);

#endif /* MK_RUNTIME_IO_H */
