/* SPDX-License-Identifier: MIT */
/*
 * runtime/proto.h - protocol encoders, decoders and publish validation over
 * plain byte buffers (PROTOCOL.md sections 1, 2, 3, 5.3, 5.9, 8.3-8.5, 9.3).
 * Pure: no threads, no backend, no FUSE. The runtime uses the same checks
 * (mk_proto_check_publish, mk_proto_fill_slot, mk_proto_encode_packed) so
 * the reference's validation order and messages hold everywhere.
 *
 * Buffers are little-endian u32 words given as (void *, byte length);
 * lengths that are not whole words are rejected where the reference
 * rejects them. Error codes: -EOVERFLOW (byte-length overflow / encoder
 * caps; the reference's ByteLengthOverflow/QueueFull), -EINVAL
 * (misaligned or malformed), -ENODATA (missing word), -ERANGE (index), -E2BIG
 * (too many args), -EBUSY (slot not EMPTY/DONE). Every message has "Fix:".
 * Pairs with runtime/proto.c.
 */
#ifndef MK_RUNTIME_PROTO_H
#define MK_RUNTIME_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/abi.h"
#include "runtime/err.h"

/*
 * ---- word access -----------------------------------------------------------
 * Word @i of a little-endian u32 buffer at byte 4*i. The plain forms accept
 * any address (memcpy). The acquire/release/CAS forms use real atomics when
 * the word is 4-byte aligned (every buffer megafs allocates is) and fall back
 * to fenced plain accesses otherwise, as the reference does on byte slices.
 * Callers check the bounds.
 */
uint32_t mk_proto_load_word(const void *buf, size_t i);
void mk_proto_store_word(void *buf, size_t i, uint32_t v);
uint32_t mk_proto_load_acquire(const void *buf, size_t i);
void mk_proto_store_release(void *buf, size_t i, uint32_t v);
/* Returns the old value; stores @desired only if it equalled @expected. */
uint32_t mk_proto_cas_word(void *buf, size_t i, uint32_t expected,
			   uint32_t desired);

/* ---- byte lengths (PROTOCOL.md 1); -EOVERFLOW when absent --------------- */
int mk_proto_control_byte_len(uint32_t observables, size_t *out);
int mk_proto_ring_byte_len(uint32_t slots, size_t *out);
int mk_proto_debug_log_byte_len(uint32_t records, size_t *out);

/*
 * ---- encoders (2.2, 8.3). _into leaves @buf untouched on error ----------
 * Caps (> 1,048,576) and a too-small _into destination: -EOVERFLOW (the
 * reference's QueueFull). Allocating forms: -ENOMEM when malloc fails (the
 * reference folds that into QueueFull too). A 0-slot ring is a valid
 * 1-byte allocation with *len = 0.
 */
int mk_proto_encode_control_into(void *buf, size_t cap, int shutdown,
				 uint32_t tenants, uint32_t observables,
				 size_t *len, struct mk_err *err);
/* Allocating forms: *out is malloc'd, free() it. */
int mk_proto_encode_control(int shutdown, uint32_t tenants,
			    uint32_t observables, uint8_t **out, size_t *len,
			    struct mk_err *err);
int mk_proto_encode_empty_ring(uint32_t slots, uint8_t **out, size_t *len,
			       struct mk_err *err);
int mk_proto_encode_empty_debug_log(uint32_t records, uint8_t **out,
				    size_t *len, struct mk_err *err);

/* ---- priority offsets (2.3) ---------------------------------------------- */
/* [0, b, 2b, 3b+r, 4b+r, 5b+r] with b = S/5, r = S%5. */
void mk_proto_default_priority_offsets(uint32_t slots,
				       uint32_t out[MK_CTL_PRIORITY_OFFSETS_SLOTS]);
/*
 * Store them at words 129..134; -EINVAL misaligned, -ENODATA too short.
 * Checked before the first store: unlike the reference (2.3 HAZARD), a
 * short buffer is never left partially written.
 */
int mk_proto_write_default_priority_offsets(void *ctl, size_t len,
					    uint32_t slots, struct mk_err *err);

/* ---- readers (8.3, 9.3) --------------------------------------------------- */
/* Lenient readers abort() where the reference panics (PROTOCOL.md 12.21). */
uint32_t mk_proto_read_done_count(const void *ctl, size_t len);
uint32_t mk_proto_read_epoch(const void *ctl, size_t len);
/* Returns 0 on any error, never fails. */
uint32_t mk_proto_read_observable(const void *ctl, size_t len, uint32_t k);

int mk_proto_try_read_done_count(const void *ctl, size_t len, uint32_t *out,
				 struct mk_err *err);
int mk_proto_try_read_epoch(const void *ctl, size_t len, uint32_t *out,
			    struct mk_err *err);
/* -EOVERFLOW when 160 + k overflows u32. */
int mk_proto_try_read_observable(const void *ctl, size_t len, uint32_t k,
				 uint32_t *out, struct mk_err *err);

struct mk_metric {
	uint32_t opcode;
	uint32_t count;
};
/* Non-zero metric words 96..127 ascending; lenient; returns the count. */
size_t mk_proto_read_metrics(const void *ctl, size_t len,
			     struct mk_metric out[MK_CTL_METRICS_SLOTS]);
/* Strict: misaligned -EINVAL, fewer than 128 words -ENODATA. */
int mk_proto_try_read_metrics(const void *ctl, size_t len,
			      struct mk_metric out[MK_CTL_METRICS_SLOTS],
			      size_t *n, struct mk_err *err);

struct mk_debug_record {
	uint32_t fmt_id;
	uint32_t args[3]; /* arg1, arg2, slot_base (word offset 16*slot) */
};
/*
 * Strict decoder (9.3): misaligned -EINVAL; empty -ENODATA; cursor beyond
 * capacity or not a multiple of 4 -ENODATA ("cursor must stay within" /
 * "whole PRINTF records"). Writes min(records, @cap) records and sets *n
 * to that number.
 */
int mk_proto_try_read_debug_log(const void *dbg, size_t len,
				struct mk_debug_record *out, size_t cap,
				size_t *n, struct mk_err *err);
/*
 * Clamping decoder (megafs addition): never fails on a long cursor; decodes
 * min(cursor, capacity) words of records and reports *dropped =
 * (cursor - capacity_words) / 4 records lost to overflow.
 */
int mk_proto_read_debug_log_clamped(const void *dbg, size_t len,
				    struct mk_debug_record *out, size_t cap,
				    size_t *n, uint32_t *dropped,
				    struct mk_err *err);

/* DONE slots among the first n; n = 0 -> 0; short -ENODATA. */
int mk_proto_try_count_done_ring_slots(const void *ring, size_t len,
				       uint32_t n, uint32_t *out,
				       struct mk_err *err);
/* Lenient: -1 ("absent") for n = 0 or a short buffer. */
int64_t mk_proto_count_done_ring_slots(const void *ring, size_t len,
				       uint32_t n);

/* ---- opcodes (5.3) -------------------------------------------------------- */
int mk_proto_is_system(uint32_t op);
int mk_proto_is_builtin(uint32_t op);
int mk_proto_validate_user_opcode(uint32_t op, struct mk_err *err);
int mk_proto_validate_publish_opcode(uint32_t op, struct mk_err *err);
/* "STORE_U32", ..., or "INVALID" for values not in opcodes.def. */
const char *mk_proto_op_name(uint32_t op);
/* Lower-case mnemonic from opcodes.def, or NULL. */
const char *mk_proto_op_mnemonic(uint32_t op);

/* ---- publishing (8.5) ----------------------------------------------------- */
/*
 * Validation shared by every publish path, in the reference order:
 * slot index (-ERANGE), nargs <= 12 (-E2BIG), opcode (-EINVAL), status
 * EMPTY/DONE (-EBUSY).
 */
int mk_proto_check_publish(uint32_t slot_count, uint32_t slot, size_t nargs,
			   uint32_t opcode, uint32_t status,
			   struct mk_err *err);
/* Write words 1..15 of a slot (zero-filled args); not the status. */
void mk_proto_fill_slot(uint32_t *slot_words, uint32_t tenant,
			uint32_t priority, uint32_t opcode,
			const uint32_t *args, size_t nargs);

int mk_proto_publish_slot(void *ring, size_t len, uint32_t slot,
			  uint32_t tenant, uint32_t opcode,
			  const uint32_t *args, size_t nargs,
			  struct mk_err *err);

struct mk_proto_item {
	uint32_t opcode;
	const uint32_t *args;
	size_t nargs;
};
/* Returns n + 1 slots consumed, or -errno with nothing written. */
int mk_proto_batch_publish(void *ring, size_t len, uint32_t start,
			   uint32_t tenant, const struct mk_proto_item *items,
			   size_t n, uint32_t tag, struct mk_err *err);

struct mk_work_item {
	uint32_t op_handle, input_handle, output_handle, param;
};
int mk_proto_publish_work_items(void *ring, size_t len, uint32_t start,
				uint32_t tenant,
				const struct mk_work_item *items, size_t n,
				struct mk_err *err);

struct mk_proto_packed_op {
	uint8_t opcode;
	const uint32_t *args;
	size_t nargs;
};
#define MK_PACK_STRICT 0x1u /* reject what the kernel would mis-execute */
/*
 * Encode a packed payload (5.9) into @payload (12 words, zero-filled);
 * *nwords = metadata words + total args. Errors in the reference order:
 * n > 255, metadata > 12 words, payload > 12 words (all -EOVERFLOW); with
 * MK_PACK_STRICT also n > 4 and an op with metadata + off + 3 > 12
 * (-EINVAL).
 */
int mk_proto_encode_packed(const struct mk_proto_packed_op *ops, size_t n,
			   unsigned flags,
			   uint32_t payload[MK_ARGS_PER_SLOT], size_t *nwords,
			   struct mk_err *err);
int mk_proto_publish_packed_slot(void *ring, size_t len, uint32_t slot,
				 uint32_t tenant,
				 const struct mk_proto_packed_op *ops, size_t n,
				 unsigned flags, struct mk_err *err);

/* encode_load_miss (8.3): 64-byte image, status PUBLISHED, opcode 0xFFFD. */
void mk_proto_encode_load_miss(uint32_t resource, int prefetch,
			       struct mk_slot *out);
/* 0 and outputs when slot's opcode is LOAD_MISS; -ENODATA otherwise. */
int mk_proto_decode_load_miss(const void *ring, size_t len, uint32_t slot,
			      uint32_t *resource, int *prefetch);

/* ---- dispatch-time validators (8.4) -------------------------------------- */
int mk_proto_validate_control_bytes(size_t len, struct mk_err *err);
int mk_proto_validate_debug_log_bytes(size_t len, struct mk_err *err);
int mk_proto_validate_ring_bytes(size_t len, uint32_t slots,
				 struct mk_err *err);

#endif /* MK_RUNTIME_PROTO_H */
