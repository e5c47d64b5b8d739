/* SPDX-License-Identifier: MIT */
/*
 * runtime/io.c - host side of the IO queue (PROTOCOL.md section 7): the
 * encoders and validators, struct mk_io_queue (MegakernelIoQueue), the
 * poll/claim/complete pump and the recycle helper of section 12 item 18.
 * Word access goes through runtime/proto.h's helpers, so unaligned byte
 * views work like the reference's. See runtime/io.h.
 */
#include "runtime/io.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/proto.h"

/* Word @w of IO slot @slot. */
static size_t io_word(uint32_t slot, uint32_t w)
{
	return (size_t)slot * MK_IO_SLOT_WORDS + w;
}

static int err_too_many_slots(struct mk_err *err, uint64_t n)
{
	return mk_err_setf(err, -EOVERFLOW,
			   "use at most 64 slots, the compiled IO poll window of 64 slots",
			   "io_queue has %llu slots", (unsigned long long)n);
}

/* ---- encoders and validation ---------------------------------------------- */

static int check_slot_count(uint32_t n, struct mk_err *err)
{
	if (n == 0)
		return mk_err_set(err, -EINVAL, "io_queue of 0 slots",
				  "io_queue requires at least one slot");
	if (n > MK_IO_SLOT_COUNT)
		return err_too_many_slots(err, n);
	return 0;
}

int mk_io_encode_empty_queue_into(void *buf, size_t cap, uint32_t n,
				  size_t *len, struct mk_err *err)
{
	size_t need = (size_t)n * MK_IO_SLOT_BYTES;
	int rc = check_slot_count(n, err);

	if (rc)
		return rc;
	if (!buf || cap < need)
		return mk_err_setf(err, -ENOSPC,
				   "pass a buffer of at least 32 bytes per IO slot",
				   "io_queue destination holds %zu bytes, %u slots need %zu",
				   buf ? cap : 0, n, need);
	memset(buf, 0, need);
	*len = need;
	return 0;
}

int mk_io_encode_empty_queue(uint32_t n, uint8_t **out, size_t *len,
			     struct mk_err *err)
{
	int rc = check_slot_count(n, err);

	*out = NULL;
	if (rc)
		return rc;
	*out = calloc(n, MK_IO_SLOT_BYTES);
	if (!*out)
		return mk_err_set(err, -ENOMEM, "cannot allocate the io_queue",
				  "free memory and retry");
	*len = (size_t)n * MK_IO_SLOT_BYTES;
	return 0;
}

int mk_io_validate_queue_bytes(size_t len, struct mk_err *err)
{
	if (len % 4u)
		return mk_err_setf(err, -EINVAL,
				   "build the io_queue with mk_io_encode_empty_queue",
				   "io_queue has %zu bytes, which is not 4-byte aligned",
				   len);
	if (len % MK_IO_SLOT_BYTES)
		return mk_err_setf(err, -EINVAL,
				   "build the io_queue with mk_io_encode_empty_queue",
				   "io_queue has %zu bytes, not a multiple of slot size 32",
				   len);
	if (len / MK_IO_SLOT_BYTES > MK_IO_SLOT_COUNT)
		return err_too_many_slots(err, len / MK_IO_SLOT_BYTES);
	return 0;
}

int mk_io_validate_dispatch_bytes(size_t len, struct mk_err *err)
{
	if (len == MK_IO_QUEUE_BYTES)
		return 0;
	return mk_err_setf(err, -EINVAL,
			   "dispatch with a full 64-slot io_queue (mk_io_encode_empty_queue(64))",
			   "megakernel io_queue has %zu bytes, expected exactly 2048 bytes for 64 slots",
			   len);
}

/* ---- MegakernelIoQueue ------------------------------------------------------ */

int mk_io_queue_init(struct mk_io_queue *q, uint32_t n, struct mk_err *err)
{
	int rc = check_slot_count(n, err);

	if (rc)
		return rc;
	memset(q, 0, sizeof(*q));
	q->slots = n;
	return 0;
}

void *mk_io_queue_bytes(struct mk_io_queue *q, size_t *len)
{
	*len = (size_t)q->slots * MK_IO_SLOT_BYTES;
	return q->words;
}

static uint32_t io_status(const void *io, uint32_t slot)
{
	return mk_proto_load_acquire(io, io_word(slot, MK_IO_STATUS));
}

/* Shared body of publish_slot / submit_dma_read (7.3 step 1). */
static int queue_publish(struct mk_io_queue *q, uint32_t slot, uint32_t src,
			 uint32_t dst, uint32_t byte_count, uint32_t tag,
			 struct mk_err *err)
{
	uint32_t *w;
	uint32_t st;

	if (slot >= q->slots)
		return mk_err_setf(err, -ERANGE,
				   "use a valid slot id below the queue's slot count",
				   "io slot %u is outside a queue of %u slots",
				   slot, q->slots);
	st = io_status(q->words, slot);
	if (st != MK_SLOT_EMPTY)
		return mk_err_setf(err, -EBUSY,
				   "io slot is still in flight; wait for it and recycle it (mk_io_queue_recycle) first",
				   "io slot %u has status 0x%X", slot, st);
	w = &q->words[io_word(slot, 0)];
	w[MK_IO_OP_TYPE] = MK_IO_OP_READ;
	w[MK_IO_SRC_HANDLE] = src;
	w[MK_IO_DST_HANDLE] = dst;
	w[MK_IO_OFFSET_LO] = 0;
	w[MK_IO_OFFSET_HI] = 0;
	w[MK_IO_BYTE_COUNT] = byte_count;
	w[MK_IO_TAG] = tag;
	/* Release: pairs with the sidecar's CAS before it reads the fields. */
	mk_proto_store_release(q->words, io_word(slot, MK_IO_STATUS),
			       MK_SLOT_PUBLISHED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return 0;
}

int mk_io_queue_publish_slot(struct mk_io_queue *q, uint32_t slot,
			     uint32_t mapped_slot, uint32_t byte_count,
			     uint32_t tag, struct mk_err *err)
{
	return queue_publish(q, slot, 0, mapped_slot, byte_count, tag, err);
}

int mk_io_queue_submit_dma_read(struct mk_io_queue *q, uint32_t slot,
				uint32_t src, uint32_t dst, uint32_t byte_count,
				uint32_t tag, struct mk_err *err)
{
	return queue_publish(q, slot, src, dst, byte_count, tag, err);
}

int mk_io_queue_completion(const struct mk_io_queue *q, uint32_t slot,
			   struct mk_io_completion *out)
{
	if (slot >= q->slots || io_status(q->words, slot) == MK_SLOT_EMPTY)
		return -ENODATA;
	out->slot_idx = slot;
	out->mapped_slot = q->words[io_word(slot, MK_IO_DST_HANDLE)];
	out->byte_count = q->words[io_word(slot, MK_IO_BYTE_COUNT)];
	out->tag = q->words[io_word(slot, MK_IO_TAG)];
	return 0;
}

int mk_io_queue_is_recycled(const struct mk_io_queue *q, uint32_t slot)
{
	return slot < q->slots && io_status(q->words, slot) == MK_SLOT_EMPTY;
}

/* ---- poll / claim / complete ------------------------------------------------ */

static void read_request(const void *io, uint32_t slot,
			 struct mk_io_request *r)
{
	r->slot_idx = slot;
	r->op_type = mk_proto_load_word(io, io_word(slot, MK_IO_OP_TYPE));
	r->src_handle = mk_proto_load_word(io, io_word(slot, MK_IO_SRC_HANDLE));
	r->dst_handle = mk_proto_load_word(io, io_word(slot, MK_IO_DST_HANDLE));
	r->offset = (uint64_t)mk_proto_load_word(io, io_word(slot,
							     MK_IO_OFFSET_HI))
			    << 32 |
		    mk_proto_load_word(io, io_word(slot, MK_IO_OFFSET_LO));
	r->byte_count = mk_proto_load_word(io, io_word(slot, MK_IO_BYTE_COUNT));
	r->tag = mk_proto_load_word(io, io_word(slot, MK_IO_TAG));
}

/* Poll (claim = 0) or claim (claim = 1) the PUBLISHED slots of a view. */
static int scan_requests(void *io, size_t len, int claim,
			 struct mk_io_request *out, size_t cap,
			 struct mk_err *err)
{
	uint32_t slots, s;
	size_t n = 0;
	int rc = mk_io_validate_queue_bytes(len, err);

	if (rc)
		return rc;
	slots = (uint32_t)(len / MK_IO_SLOT_BYTES);
	for (s = 0; s < slots && n < cap; s++) {
		/* Acquire: pairs with the publisher's release of STATUS. */
		if (io_status(io, s) != MK_SLOT_PUBLISHED)
			continue;
		if (claim && mk_proto_cas_word(io, io_word(s, MK_IO_STATUS),
					       MK_SLOT_PUBLISHED,
					       MK_SLOT_CLAIMED) !=
				     MK_SLOT_PUBLISHED)
			continue; /* another host thread won it */
		read_request(io, s, &out[n++]);
	}
	return (int)n;
}

int mk_io_poll_requests(const void *io, size_t len, struct mk_io_request *out,
			size_t cap, struct mk_err *err)
{
	/* scan_requests only writes when claiming. */
	return scan_requests((void *)(uintptr_t)io, len, 0, out, cap, err);
}

int mk_io_claim_requests(void *io, size_t len, struct mk_io_request *out,
			 size_t cap, struct mk_err *err)
{
	return scan_requests(io, len, 1, out, cap, err);
}

int mk_io_complete_batch(void *io, size_t len, const struct mk_io_result *res,
			 size_t n, struct mk_err *err)
{
	uint32_t slots, st;
	size_t i;
	int rc = mk_io_validate_queue_bytes(len, err);

	if (rc)
		return rc;
	slots = (uint32_t)(len / MK_IO_SLOT_BYTES);
	for (i = 0; i < n; i++) {
		if (res[i].slot >= slots)
			return mk_err_setf(err, -ERANGE,
					   "complete a valid slot id below the queue's slot count",
					   "io slot %u is outside a queue of %u slots",
					   res[i].slot, slots);
		st = io_status(io, res[i].slot);
		if (st != MK_SLOT_CLAIMED)
			return mk_err_setf(err, -EBUSY,
					   "io completion requires a CLAIMED request; claim it with mk_io_claim_requests first",
					   "io slot %u has status 0x%X", res[i].slot,
					   st);
	}
	for (i = 0; i < n; i++)
		mk_proto_store_release(io, io_word(res[i].slot, MK_IO_STATUS),
				       res[i].success ? MK_IO_STATUS_OK :
							MK_IO_STATUS_ERROR);
	/* Release: the waiting lane must see every completion's status. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return 0;
}

int mk_io_complete(void *io, size_t len, uint32_t slot, int success,
		   struct mk_err *err)
{
	struct mk_io_result r = { slot, success };

	return mk_io_complete_batch(io, len, &r, 1, err);
}

/* ---- recycle (12.18) --------------------------------------------------------- */

static int recyclable(uint32_t st)
{
	return st == MK_SLOT_DONE || st == MK_IO_STATUS_OK ||
	       st == MK_IO_STATUS_ERROR;
}

int mk_io_recycle_slot(void *io, size_t len, uint32_t slot,
		       struct mk_err *err)
{
	uint32_t st, old;
	int rc = mk_io_validate_queue_bytes(len, err);

	if (rc)
		return rc;
	if (slot >= len / MK_IO_SLOT_BYTES)
		return mk_err_setf(err, -ERANGE,
				   "recycle a valid slot id below the queue's slot count",
				   "io slot %u is outside a queue of %zu slots",
				   slot, len / MK_IO_SLOT_BYTES);
	st = io_status(io, slot);
	for (;;) {
		if (st == MK_SLOT_EMPTY)
			return 0;
		if (st == MK_SLOT_PUBLISHED || st == MK_SLOT_CLAIMED)
			return mk_err_setf(err, -EBUSY,
					   "the io request is in flight; complete it before recycling",
					   "io slot %u has status 0x%X", slot, st);
		if (!recyclable(st))
			return mk_err_setf(err, -EINVAL,
					   "only DONE, OK (0x10) and ERROR (0x11) io slots can be recycled; rewrite the status by hand if you own the slot",
					   "io slot %u has unexpected status 0x%X",
					   slot, st);
		old = mk_proto_cas_word(io, io_word(slot, MK_IO_STATUS), st,
					MK_SLOT_EMPTY);
		if (old == st)
			return 0;
		st = old; /* it moved under us: judge the new value */
	}
}

int mk_io_queue_recycle(struct mk_io_queue *q, uint32_t slot,
			struct mk_err *err)
{
	size_t len = 0;
	void *io = mk_io_queue_bytes(q, &len);

	return mk_io_recycle_slot(io, len, slot, err);
}
