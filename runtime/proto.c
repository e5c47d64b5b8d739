/* SPDX-License-Identifier: MIT */
/*
 * runtime/proto.c - protocol encoders, decoders and publish validation over
 * plain byte buffers (PROTOCOL.md sections 1-3, 5.3, 5.9, 8.3-8.5, 9.3).
 * Pure data code: no threads, no backend. Validation order and the fix texts
 * follow the reference; only the Rust API names in them became C names.
 * Pairs with runtime/proto.h.
 */
#include "runtime/proto.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

MK_STATIC_ASSERT(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
		 "the wire format is little-endian and proto.c reads it natively");

/* ---- word access ---------------------------------------------------------- */

static int word_aligned(const void *buf, size_t i)
{
	return (((uintptr_t)buf + 4u * i) & 3u) == 0u;
}

uint32_t mk_proto_load_word(const void *buf, size_t i)
{
	uint32_t v;

	memcpy(&v, (const uint8_t *)buf + 4u * i, sizeof(v));
	return v;
}

void mk_proto_store_word(void *buf, size_t i, uint32_t v)
{
	memcpy((uint8_t *)buf + 4u * i, &v, sizeof(v));
}

uint32_t mk_proto_load_acquire(const void *buf, size_t i)
{
	uint32_t v;

	if (word_aligned(buf, i))
		return __atomic_load_n((const uint32_t *)buf + i,
				       __ATOMIC_ACQUIRE);
	v = mk_proto_load_word(buf, i);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return v;
}

void mk_proto_store_release(void *buf, size_t i, uint32_t v)
{
	if (word_aligned(buf, i)) {
		__atomic_store_n((uint32_t *)buf + i, v, __ATOMIC_RELEASE);
		return;
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	mk_proto_store_word(buf, i, v);
}

uint32_t mk_proto_cas_word(void *buf, size_t i, uint32_t expected,
			   uint32_t desired)
{
	uint32_t old;

	if (word_aligned(buf, i)) {
		__atomic_compare_exchange_n((uint32_t *)buf + i, &expected,
					    desired, 0, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE);
		return expected;
	}
	old = mk_proto_load_acquire(buf, i);
	if (old == expected)
		mk_proto_store_release(buf, i, desired);
	return old;
}

/* ---- the reference's ProtocolError shapes --------------------------------- */

static int err_misaligned(struct mk_err *err, const char *buffer, size_t len,
			  const char *fix)
{
	return mk_err_setf(err, -EINVAL, fix,
			   "%s has %zu bytes, not a whole number of u32 words",
			   buffer, len);
}

static int err_missing(struct mk_err *err, const char *buffer, uint64_t word,
		       size_t len, const char *fix)
{
	return mk_err_setf(err, -ENODATA, fix,
			   "%s is missing word %llu in %zu bytes", buffer,
			   (unsigned long long)word, len);
}

static int err_overflow(struct mk_err *err, const char *buffer,
			const char *fix)
{
	return mk_err_setf(err, -EOVERFLOW, fix, "%s byte length overflow",
			   buffer);
}

/* Strict read of word @i of a control buffer. */
static int try_read_control_word(const void *ctl, size_t len, uint64_t i,
				 uint32_t *out, struct mk_err *err)
{
	if (len % 4u)
		return err_misaligned(err, "control", len,
				      "rebuild the control buffer with mk_proto_encode_control");
	if (i >= len / 4u)
		return err_missing(err, "control", i, len,
				   "pass a control buffer from mk_proto_encode_control (at least 640 bytes)");
	*out = mk_proto_load_acquire(ctl, (size_t)i);
	return 0;
}

/* ---- byte lengths ---------------------------------------------------------- */

int mk_proto_control_byte_len(uint32_t observables, size_t *out)
{
	if (observables > MK_MAX_OBSERVABLE_SLOTS)
		return -EOVERFLOW;
	*out = 4u * ((size_t)MK_CONTROL_MIN_WORDS + observables);
	return 0;
}

int mk_proto_ring_byte_len(uint32_t slots, size_t *out)
{
	if (slots > MK_MAX_RING_SLOTS)
		return -EOVERFLOW;
	*out = (size_t)slots * MK_SLOT_BYTES;
	return 0;
}

int mk_proto_debug_log_byte_len(uint32_t records, size_t *out)
{
	if (records > MK_MAX_DEBUG_RECORDS)
		return -EOVERFLOW;
	*out = 4u * (1u + 4u * (size_t)records);
	return 0;
}

/* ---- encoders -------------------------------------------------------------- */

int mk_proto_encode_control_into(void *buf, size_t cap, int shutdown,
				 uint32_t tenants, uint32_t observables,
				 size_t *len, struct mk_err *err)
{
	size_t need, t;

	/* Both checks come before the destination is touched (2.2 step 1). */
	if (observables > MK_MAX_ENCODED_OBSERVABLE_SLOTS ||
	    mk_proto_control_byte_len(observables, &need))
		return err_overflow(err, "control",
				    "request at most 1048576 observable words");
	if (!buf || cap < need)
		return mk_err_setf(err, -EOVERFLOW,
				   "pass a buffer of at least mk_proto_control_byte_len() bytes",
				   "control destination holds %zu bytes, the encoding needs %zu",
				   buf ? cap : 0, need);
	memset(buf, 0, need);
	mk_proto_store_word(buf, MK_CTL_SHUTDOWN, shutdown ? 1u : 0u);
	mk_proto_store_word(buf, MK_CTL_TENANT_BASE, MK_CTL_TENANT_MASK_DEFAULT);
	for (t = 0; t < tenants && t < MK_CTL_TENANT_MASK_SLOTS; t++)
		mk_proto_store_word(buf, MK_CTL_TENANT_MASK_DEFAULT + t,
				    MK_TENANT_MASK_ALL);
	for (t = 0; t < tenants && t < MK_CTL_TENANT_QUOTA_SLOTS; t++)
		mk_proto_store_word(buf, MK_CTL_TENANT_QUOTA_BASE + t,
				    MK_TENANT_QUOTA_DEFAULT);
	*len = need;
	return 0;
}

/* calloc(max(n, 1)) so a zero-length encoding is still a valid pointer. */
static int alloc_zeroed(size_t n, uint8_t **out, const char *buffer,
			struct mk_err *err)
{
	*out = calloc(n ? n : 1u, 1u);
	if (!*out)
		return mk_err_setf(err, -ENOMEM,
				   "free memory or request a smaller buffer",
				   "cannot allocate %zu bytes for the %s", n,
				   buffer);
	return 0;
}

int mk_proto_encode_control(int shutdown, uint32_t tenants,
			    uint32_t observables, uint8_t **out, size_t *len,
			    struct mk_err *err)
{
	size_t need = 0;
	uint8_t *buf = NULL;
	int rc;

	*out = NULL;
	if (observables > MK_MAX_ENCODED_OBSERVABLE_SLOTS ||
	    mk_proto_control_byte_len(observables, &need))
		return err_overflow(err, "control",
				    "request at most 1048576 observable words");
	rc = alloc_zeroed(need, &buf, "control buffer", err);
	if (rc)
		return rc;
	rc = mk_proto_encode_control_into(buf, need, shutdown, tenants,
					  observables, len, err);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

int mk_proto_encode_empty_ring(uint32_t slots, uint8_t **out, size_t *len,
			       struct mk_err *err)
{
	size_t need = 0;
	int rc;

	*out = NULL;
	if (slots > MK_MAX_ENCODED_RING_SLOTS ||
	    mk_proto_ring_byte_len(slots, &need))
		return err_overflow(err, "ring",
				    "request at most 1048576 ring slots");
	rc = alloc_zeroed(need, out, "ring buffer", err);
	if (!rc)
		*len = need;
	return rc;
}

int mk_proto_encode_empty_debug_log(uint32_t records, uint8_t **out,
				    size_t *len, struct mk_err *err)
{
	size_t need = 0;
	int rc;

	*out = NULL;
	if (records > MK_MAX_ENCODED_DEBUG_RECORDS ||
	    mk_proto_debug_log_byte_len(records, &need))
		return err_overflow(err, "debug_log",
				    "request at most 1048576 debug records");
	rc = alloc_zeroed(need, out, "debug log", err);
	if (!rc)
		*len = need;
	return rc;
}

/* ---- priority offsets ------------------------------------------------------ */

void mk_proto_default_priority_offsets(uint32_t slots,
				       uint32_t out[MK_CTL_PRIORITY_OFFSETS_SLOTS])
{
	uint32_t base = slots / MK_PRIORITY_LEVELS;
	uint32_t rem = slots % MK_PRIORITY_LEVELS;

	/* NORMAL takes the remainder (2.3). */
	out[0] = 0;
	out[1] = base;
	out[2] = 2u * base;
	out[3] = 3u * base + rem;
	out[4] = 4u * base + rem;
	out[5] = 5u * base + rem;
}

int mk_proto_write_default_priority_offsets(void *ctl, size_t len,
					    uint32_t slots, struct mk_err *err)
{
	uint32_t off[MK_CTL_PRIORITY_OFFSETS_SLOTS];
	size_t i;

	if (len % 4u)
		return mk_err_setf(err, -EINVAL,
				   "control buffer byte length is not 4-byte aligned; rebuild it with mk_proto_encode_control",
				   "control has %zu bytes, not a whole number of u32 words",
				   len);
	/*
	 * Checked before the first store: unlike the reference (2.3 HAZARD),
	 * a 130..134-word buffer is left untouched.
	 */
	if (len / 4u < MK_CTL_PRIORITY_OFFSETS_BASE + MK_CTL_PRIORITY_OFFSETS_SLOTS)
		return mk_err_setf(err, -ENODATA,
				   "control buffer is too small for priority partition offsets; rebuild it with mk_proto_encode_control",
				   "control has %zu bytes, priority offsets need words 129..134",
				   len);
	mk_proto_default_priority_offsets(slots, off);
	for (i = 0; i < MK_CTL_PRIORITY_OFFSETS_SLOTS; i++)
		mk_proto_store_word(ctl, MK_CTL_PRIORITY_OFFSETS_BASE + i,
				    off[i]);
	return 0;
}

/* ---- readers --------------------------------------------------------------- */

int mk_proto_try_read_done_count(const void *ctl, size_t len, uint32_t *out,
				 struct mk_err *err)
{
	return try_read_control_word(ctl, len, MK_CTL_DONE_COUNT, out, err);
}

int mk_proto_try_read_epoch(const void *ctl, size_t len, uint32_t *out,
			    struct mk_err *err)
{
	return try_read_control_word(ctl, len, MK_CTL_EPOCH, out, err);
}

int mk_proto_try_read_observable(const void *ctl, size_t len, uint32_t k,
				 uint32_t *out, struct mk_err *err)
{
	if (k > UINT32_MAX - MK_CTL_OBSERVABLE_BASE)
		return mk_err_setf(err, -EOVERFLOW,
				   "observable index overflows the protocol word offset; use k < 4294967136",
				   "observable %u is past word 0xFFFFFFFF", k);
	return try_read_control_word(ctl, len,
				     (uint64_t)MK_CTL_OBSERVABLE_BASE + k, out,
				     err);
}

/* Rust panics here; a lenient C reader aborts (12.21). */
uint32_t mk_proto_read_done_count(const void *ctl, size_t len)
{
	uint32_t v = 0;

	if (mk_proto_try_read_done_count(ctl, len, &v, NULL))
		abort();
	return v;
}

uint32_t mk_proto_read_epoch(const void *ctl, size_t len)
{
	uint32_t v = 0;

	if (mk_proto_try_read_epoch(ctl, len, &v, NULL))
		abort();
	return v;
}

uint32_t mk_proto_read_observable(const void *ctl, size_t len, uint32_t k)
{
	uint32_t v = 0;

	if (mk_proto_try_read_observable(ctl, len, k, &v, NULL))
		return 0;
	return v;
}

size_t mk_proto_read_metrics(const void *ctl, size_t len,
			     struct mk_metric out[MK_CTL_METRICS_SLOTS])
{
	size_t words = len / 4u, n = 0;
	uint32_t op, v;

	for (op = 0; op < MK_CTL_METRICS_SLOTS; op++) {
		if (MK_CTL_METRICS_BASE + op >= words)
			break;
		v = mk_proto_load_acquire(ctl, MK_CTL_METRICS_BASE + op);
		if (v) {
			out[n].opcode = op;
			out[n].count = v;
			n++;
		}
	}
	return n;
}

int mk_proto_try_read_metrics(const void *ctl, size_t len,
			      struct mk_metric out[MK_CTL_METRICS_SLOTS],
			      size_t *n, struct mk_err *err)
{
	uint32_t last = MK_CTL_METRICS_BASE + MK_CTL_METRICS_SLOTS - 1u;

	if (len % 4u)
		return err_misaligned(err, "control", len,
				      "rebuild the control buffer with mk_proto_encode_control");
	if (len / 4u <= last)
		return err_missing(err, "control", last, len,
				   "metrics need control words 96..127; pass a full control buffer (at least 640 bytes)");
	*n = mk_proto_read_metrics(ctl, len, out);
	return 0;
}

/* Shared front of both debug-log decoders (9.3 steps 1-2). */
static int debug_log_cursor(const void *dbg, size_t len, uint32_t *cursor,
			    struct mk_err *err)
{
	if (len % 4u)
		return err_misaligned(err, "debug_log", len,
				      "rebuild the debug log with mk_proto_encode_empty_debug_log");
	if (len < 4u)
		return err_missing(err, "debug_log", MK_DEBUG_CURSOR_WORD, len,
				   "the debug log needs its cursor word; rebuild it with mk_proto_encode_empty_debug_log");
	*cursor = mk_proto_load_acquire(dbg, MK_DEBUG_CURSOR_WORD);
	return 0;
}

static size_t decode_records(const void *dbg, size_t records,
			     struct mk_debug_record *out, size_t cap)
{
	size_t i, n = records < cap ? records : cap;

	for (i = 0; i < n; i++) {
		size_t w = MK_DEBUG_RECORDS_BASE + MK_DEBUG_RECORD_WORDS * i;

		out[i].fmt_id = mk_proto_load_word(dbg, w);
		out[i].args[0] = mk_proto_load_word(dbg, w + 1u);
		out[i].args[1] = mk_proto_load_word(dbg, w + 2u);
		out[i].args[2] = mk_proto_load_word(dbg, w + 3u);
	}
	return n;
}

int mk_proto_try_read_debug_log(const void *dbg, size_t len,
				struct mk_debug_record *out, size_t cap,
				size_t *n, struct mk_err *err)
{
	uint32_t cursor = 0;
	size_t capacity_words;
	int rc;

	rc = debug_log_cursor(dbg, len, &cursor, err);
	if (rc)
		return rc;
	capacity_words = len / 4u - 1u;
	if (cursor > capacity_words)
		return err_missing(err, "debug_log", (uint64_t)cursor + 1u, len,
				   "debug-log cursor must stay within the encoded record capacity");
	if (cursor % MK_DEBUG_RECORD_WORDS)
		return err_missing(err, "debug_log", (uint64_t)cursor + 1u, len,
				   "debug-log cursor must advance in whole PRINTF records");
	*n = decode_records(dbg, cursor / MK_DEBUG_RECORD_WORDS, out, cap);
	return 0;
}

int mk_proto_read_debug_log_clamped(const void *dbg, size_t len,
				    struct mk_debug_record *out, size_t cap,
				    size_t *n, uint32_t *dropped,
				    struct mk_err *err)
{
	uint32_t cursor = 0;
	size_t capacity_words, used;
	int rc;

	rc = debug_log_cursor(dbg, len, &cursor, err);
	if (rc)
		return rc;
	capacity_words = len / 4u - 1u;
	used = cursor < capacity_words ? cursor : capacity_words;
	*dropped = cursor > capacity_words ?
			   (uint32_t)((cursor - capacity_words) /
				      MK_DEBUG_RECORD_WORDS) :
			   0u;
	*n = decode_records(dbg, used / MK_DEBUG_RECORD_WORDS, out, cap);
	return 0;
}

int mk_proto_try_count_done_ring_slots(const void *ring, size_t len,
				       uint32_t n, uint32_t *out,
				       struct mk_err *err)
{
	uint32_t i, done = 0;

	*out = 0;
	if (n == 0)
		return 0;
	if (len % 4u)
		return err_misaligned(err, "ring", len,
				      "rebuild the ring with mk_proto_encode_empty_ring");
	if ((uint64_t)len < (uint64_t)n * MK_SLOT_BYTES)
		return err_missing(err, "ring", (uint64_t)n * MK_SLOT_WORDS, len,
				   "count at most len/64 slots of this ring");
	for (i = 0; i < n; i++)
		if (mk_proto_load_acquire(ring, (size_t)i * MK_SLOT_WORDS) ==
		    MK_SLOT_DONE)
			done++;
	*out = done;
	return 0;
}

int64_t mk_proto_count_done_ring_slots(const void *ring, size_t len,
				       uint32_t n)
{
	uint32_t i, done = 0;

	if (n == 0 || (uint64_t)len < (uint64_t)n * MK_SLOT_BYTES)
		return -1;
	for (i = 0; i < n; i++)
		if (mk_proto_load_word(ring, (size_t)i * MK_SLOT_WORDS) ==
		    MK_SLOT_DONE)
			done++;
	return done;
}

/* ---- opcodes --------------------------------------------------------------- */

int mk_proto_is_system(uint32_t op)
{
	return (op & MK_OP_SYSTEM_MASK) != 0u ||
	       (op >= MK_OP_RESERVED_MAX_RANGE_MIN && op <= 0x0000FFFFu) ||
	       op <= MK_OP_BATCH_FENCE;
}

/* PROTOCOL.md 5.2: op <= 7, PACKED_SLOT, PRINTF, SHUTDOWN (opcodes.def). */
int mk_proto_is_builtin(uint32_t op)
{
	switch (op) {
#define MK_OPCODE(NAME, mnem, value, builtin) \
	case value:                           \
		return builtin;
#include "runtime/opcodes.def"
#undef MK_OPCODE
	default:
		return 0;
	}
}

int mk_proto_validate_user_opcode(uint32_t op, struct mk_err *err)
{
	if (!mk_proto_is_system(op))
		return 0;
	return mk_err_setf(err, -EINVAL,
			   "User opcode overlaps with reserved system range or uses the high bit. Use 0x8..0xFFEF or 0x10000..0x7FFFFFFF for user opcodes",
			   "opcode 0x%08X is reserved", op);
}

int mk_proto_validate_publish_opcode(uint32_t op, struct mk_err *err)
{
	if (mk_proto_is_builtin(op))
		return 0;
	return mk_proto_validate_user_opcode(op, err);
}

const char *mk_proto_op_name(uint32_t op)
{
	switch (op) {
#define MK_OPCODE(NAME, mnem, value, builtin) \
	case value:                           \
		return #NAME;
#include "runtime/opcodes.def"
#undef MK_OPCODE
	default:
		return "INVALID";
	}
}

const char *mk_proto_op_mnemonic(uint32_t op)
{
	switch (op) {
#define MK_OPCODE(NAME, mnem, value, builtin) \
	case value:                           \
		return #mnem;
#include "runtime/opcodes.def"
#undef MK_OPCODE
	default:
		return NULL;
	}
}

/* ---- publishing ------------------------------------------------------------ */

static const char *status_name(uint32_t st)
{
	static const char *const names[] = { "EMPTY",	"PUBLISHED", "CLAIMED",
					     "DONE",	"WAIT_IO",   "YIELD",
					     "REQUEUE", "FAULT" };

	return st < 8u ? names[st] : "unknown";
}

static int publishable_status(uint32_t st)
{
	return st == MK_SLOT_EMPTY || st == MK_SLOT_DONE;
}

static int err_busy(struct mk_err *err, uint32_t slot, uint32_t st)
{
	return mk_err_setf(err, -EBUSY,
			   "slot is not publishable; only EMPTY and DONE slots may be written by the host",
			   "slot %u has status %u (%s)", slot, st,
			   status_name(st));
}

static int err_too_many_args(struct mk_err *err, size_t nargs)
{
	return mk_err_setf(err, -E2BIG,
			   "too many args for one slot; 12 u32 args max per slot",
			   "%zu args given", nargs);
}

static int err_ring_len(struct mk_err *err, size_t len)
{
	return mk_err_setf(err, -EINVAL,
			   "ring buffer byte length is not an exact multiple of SLOT_WORDS * 4; rebuild it with mk_proto_encode_empty_ring",
			   "ring has %zu bytes, not a whole number of 64-byte slots",
			   len);
}

int mk_proto_check_publish(uint32_t slot_count, uint32_t slot, size_t nargs,
			   uint32_t opcode, uint32_t status,
			   struct mk_err *err)
{
	int rc;

	if (slot >= slot_count)
		return mk_err_setf(err, -ERANGE,
				   "slot_idx exceeds ring slot count; publish to a slot below the ring's slot count",
				   "slot %u is outside a ring of %u slots", slot,
				   slot_count);
	if (nargs > MK_ARGS_PER_SLOT)
		return err_too_many_args(err, nargs);
	rc = mk_proto_validate_publish_opcode(opcode, err);
	if (rc)
		return rc;
	if (!publishable_status(status))
		return err_busy(err, slot, status);
	return 0;
}

void mk_proto_fill_slot(uint32_t *slot_words, uint32_t tenant,
			uint32_t priority, uint32_t opcode,
			const uint32_t *args, size_t nargs)
{
	size_t i;

	slot_words[MK_OPCODE_WORD] = opcode;
	slot_words[MK_TENANT_WORD] = tenant;
	slot_words[MK_PRIORITY_WORD] = priority;
	/* Zero-fill first: stale args of the previous use never leak (3.4). */
	for (i = 0; i < MK_ARGS_PER_SLOT; i++)
		slot_words[MK_ARG0_WORD + i] = 0;
	for (i = 0; i < nargs && i < MK_ARGS_PER_SLOT; i++)
		slot_words[MK_ARG0_WORD + i] = args[i];
}

/* Write words 1..15, then status PUBLISHED with release ordering. */
static void write_slot(void *ring, uint32_t slot, uint32_t tenant,
		       uint32_t opcode, const uint32_t *args, size_t nargs)
{
	uint32_t w[MK_SLOT_WORDS];
	size_t base = (size_t)slot * MK_SLOT_WORDS, i;

	mk_proto_fill_slot(w, tenant, MK_PRIORITY_NORMAL, opcode, args, nargs);
	for (i = 1; i < MK_SLOT_WORDS; i++)
		mk_proto_store_word(ring, base + i, w[i]);
	/* Release: pairs with the kernel's status load before it reads args. */
	mk_proto_store_release(ring, base + MK_STATUS_WORD, MK_SLOT_PUBLISHED);
}

static uint32_t slot_status(const void *ring, uint32_t slot)
{
	return mk_proto_load_acquire(ring, (size_t)slot * MK_SLOT_WORDS);
}

/* Slot count of a ring length already checked to be a multiple of 64. */
static uint32_t ring_slots(size_t len)
{
	size_t n = len / MK_SLOT_BYTES;

	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

int mk_proto_publish_slot(void *ring, size_t len, uint32_t slot,
			  uint32_t tenant, uint32_t opcode,
			  const uint32_t *args, size_t nargs,
			  struct mk_err *err)
{
	uint32_t slots, st;
	int rc;

	if (len % MK_SLOT_BYTES)
		return err_ring_len(err, len);
	slots = ring_slots(len);
	st = slot < slots ? slot_status(ring, slot) : MK_SLOT_EMPTY;
	rc = mk_proto_check_publish(slots, slot, nargs, opcode, st, err);
	if (rc)
		return rc;
	write_slot(ring, slot, tenant, opcode, args, nargs);
	return 0;
}

/* Every target of [start, start + n) is EMPTY or DONE. */
static int check_targets(const void *ring, uint32_t start, uint32_t n,
			 struct mk_err *err)
{
	uint32_t i, st;

	for (i = 0; i < n; i++) {
		st = slot_status(ring, start + i);
		if (!publishable_status(st))
			return err_busy(err, start + i, st);
	}
	return 0;
}

/* Ring length, [start, start + count) overflow and capacity (8.5). */
static int check_span(size_t len, uint32_t start, uint64_t count,
		      const char *what, const char *range_fix,
		      struct mk_err *err)
{
	if (len % MK_SLOT_BYTES)
		return err_ring_len(err, len);
	if (count > UINT32_MAX || start + count > UINT32_MAX)
		return mk_err_setf(err, -EOVERFLOW,
				   "publish fewer slots or start lower; the slot range must fit u32",
				   "%s of %llu slots at %u overflows u32", what,
				   (unsigned long long)count, start);
	if (count > INT_MAX)
		return mk_err_setf(err, -EOVERFLOW,
				   "publish at most INT_MAX slots per call",
				   "%s of %llu slots does not fit the int result",
				   what, (unsigned long long)count);
	if (start + count > len / MK_SLOT_BYTES)
		return mk_err_setf(err, -ERANGE, range_fix,
				   "%s of slots %u..%llu runs past a ring of %zu slots",
				   what, start,
				   (unsigned long long)(start + count - 1u),
				   len / MK_SLOT_BYTES);
	return 0;
}

int mk_proto_batch_publish(void *ring, size_t len, uint32_t start,
			   uint32_t tenant, const struct mk_proto_item *items,
			   size_t n, uint32_t tag, struct mk_err *err)
{
	uint32_t fence[2];
	size_t i;
	int rc;

	if (n > UINT32_MAX)
		return mk_err_setf(err, -EOVERFLOW,
				   "split the batch; batch size exceeds u32::MAX slots",
				   "batch of %zu items", n);
	rc = check_span(len, start, (uint64_t)n + 1u, "batch publish",
			"batch publish exceeds ring slot count; publish fewer items or start lower",
			err);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		if (items[i].nargs > MK_ARGS_PER_SLOT)
			return err_too_many_args(err, items[i].nargs);
		rc = mk_proto_validate_publish_opcode(items[i].opcode, err);
		if (rc)
			return rc;
	}
	/* The fence payload is BATCH_FENCE with two args: always valid. */
	rc = check_targets(ring, start, (uint32_t)n + 1u, err);
	if (rc)
		return rc;
	for (i = 0; i < n; i++)
		write_slot(ring, start + (uint32_t)i, tenant, items[i].opcode,
			   items[i].args, items[i].nargs);
	fence[0] = (uint32_t)n;
	fence[1] = tag;
	write_slot(ring, start + (uint32_t)n, tenant, MK_OP_BATCH_FENCE, fence,
		   2);
	return (int)n + 1;
}

int mk_proto_publish_work_items(void *ring, size_t len, uint32_t start,
				uint32_t tenant,
				const struct mk_work_item *items, size_t n,
				struct mk_err *err)
{
	uint32_t args[3];
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		rc = mk_proto_validate_publish_opcode(items[i].op_handle, err);
		if (rc)
			return rc;
	}
	if (n > UINT32_MAX)
		return mk_err_setf(err, -EOVERFLOW,
				   "split the work items; at most u32::MAX per call",
				   "%zu work items", n);
	rc = check_span(len, start, n, "work item publish",
			"work item publish exceeds ring slot count; publish fewer items or start lower",
			err);
	if (rc)
		return rc;
	rc = check_targets(ring, start, (uint32_t)n, err);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		args[0] = items[i].input_handle;
		args[1] = items[i].output_handle;
		args[2] = items[i].param;
		write_slot(ring, start + (uint32_t)i, tenant,
			   items[i].op_handle, args, 3);
	}
	return (int)n;
}

/* ---- packed slots (5.9) ---------------------------------------------------- */

static uint32_t packed_meta_words(size_t n)
{
	return (uint32_t)((2u + 2u * n + 3u) / 4u);
}

static void set_payload_byte(uint32_t *payload, uint32_t b, uint32_t v)
{
	payload[b / 4u] |= (v & 0xFFu) << (8u * (b % 4u));
}

/* MK_PACK_STRICT: refuse what the kernel would drop or misread. */
static int check_packed_strict(const struct mk_proto_packed_op *ops, size_t n,
			       uint32_t meta, struct mk_err *err)
{
	size_t i, off = 0;

	if (n > MK_PACKED_MAX_INNER_OPS)
		return mk_err_setf(err, -EINVAL,
				   "the kernel runs at most 4 inner ops per packed slot; split the ops over several slots",
				   "packed slot has %zu inner ops", n);
	for (i = 0; i < n; i++) {
		if (meta + off + 3u > MK_ARGS_PER_SLOT)
			return mk_err_setf(err, -EINVAL,
					   "the kernel needs 3 arg words after each inner op's offset inside the 12-word payload; move the op earlier or publish it alone",
					   "packed op %zu (opcode %u) would start at payload word %zu and be skipped by the kernel",
					   i, ops[i].opcode, meta + off);
		off += ops[i].nargs;
	}
	return 0;
}

int mk_proto_encode_packed(const struct mk_proto_packed_op *ops, size_t n,
			   unsigned flags,
			   uint32_t payload[MK_ARGS_PER_SLOT], size_t *nwords,
			   struct mk_err *err)
{
	uint32_t meta, w;
	size_t i, j, total = 0;

	if (n > 255u)
		return mk_err_setf(err, -EOVERFLOW,
				   "packed slot supports at most 255 inner opcodes",
				   "packed slot has %zu inner ops", n);
	meta = packed_meta_words(n);
	if (meta > MK_ARGS_PER_SLOT)
		return mk_err_setf(err, -EOVERFLOW,
				   "packed slot metadata exceeds the 12-word slot argument budget; pack at most 23 ops",
				   "%zu ops need %u metadata words", n, meta);
	for (i = 0; i < n; i++) {
		if (ops[i].nargs > MK_ARGS_PER_SLOT - meta - total)
			return mk_err_setf(err, -EOVERFLOW,
					   "packed slot payload exceeds the 12-word slot argument budget; move args to another slot",
					   "op %zu brings the payload past 12 words", i);
		total += ops[i].nargs;
	}
	if (flags & MK_PACK_STRICT) {
		int rc = check_packed_strict(ops, n, meta, err);

		if (rc)
			return rc;
	}
	memset(payload, 0, MK_ARGS_PER_SLOT * sizeof(payload[0]));
	set_payload_byte(payload, 0, (uint32_t)n);
	set_payload_byte(payload, 1, (uint32_t)total);
	w = meta;
	for (i = 0; i < n; i++) {
		set_payload_byte(payload, 2u + 2u * (uint32_t)i, ops[i].opcode);
		set_payload_byte(payload, 3u + 2u * (uint32_t)i, w - meta);
		for (j = 0; j < ops[i].nargs; j++)
			payload[w++] = ops[i].args[j];
	}
	*nwords = w;
	return 0;
}

int mk_proto_publish_packed_slot(void *ring, size_t len, uint32_t slot,
				 uint32_t tenant,
				 const struct mk_proto_packed_op *ops, size_t n,
				 unsigned flags, struct mk_err *err)
{
	uint32_t payload[MK_ARGS_PER_SLOT];
	size_t nwords = 0;
	int rc;

	/* Packing errors win over ring errors (5.9). */
	rc = mk_proto_encode_packed(ops, n, flags, payload, &nwords, err);
	if (rc)
		return rc;
	return mk_proto_publish_slot(ring, len, slot, tenant,
				     MK_OP_PACKED_SLOT, payload, nwords, err);
}

/* ---- LOAD_MISS images (8.3) ------------------------------------------------ */

void mk_proto_encode_load_miss(uint32_t resource, int prefetch,
			       struct mk_slot *out)
{
	memset(out, 0, sizeof(*out));
	out->status = MK_SLOT_PUBLISHED;
	out->opcode = MK_OP_LOAD_MISS;
	out->tenant = 0;
	out->priority = 0;
	out->args[0] = resource;
	out->args[1] = prefetch ? 1u : 0u;
}

int mk_proto_decode_load_miss(const void *ring, size_t len, uint32_t slot,
			      uint32_t *resource, int *prefetch)
{
	size_t base = (size_t)slot * MK_SLOT_WORDS;

	/* The status is deliberately not checked (8.3). */
	if ((uint64_t)len < ((uint64_t)slot + 1u) * MK_SLOT_BYTES ||
	    mk_proto_load_word(ring, base + MK_OPCODE_WORD) != MK_OP_LOAD_MISS)
		return -ENODATA;
	*resource = mk_proto_load_word(ring, base + MK_ARG0_WORD);
	*prefetch = mk_proto_load_word(ring, base + MK_ARG0_WORD + 1u) != 0u;
	return 0;
}

/* ---- dispatch-time validators (8.4) --------------------------------------- */

int mk_proto_validate_control_bytes(size_t len, struct mk_err *err)
{
	if (len >= 4u * MK_CONTROL_MIN_WORDS && len % 4u == 0)
		return 0;
	return mk_err_setf(err, -EINVAL,
			   "encode the control buffer with mk_proto_encode_control",
			   "megakernel control buffer has %zu bytes, expected at least 640 bytes and 4-byte alignment",
			   len);
}

int mk_proto_validate_debug_log_bytes(size_t len, struct mk_err *err)
{
	if (len == 4u * MK_DEBUG_BUFFER_WORDS)
		return 0;
	return mk_err_setf(err, -EINVAL,
			   "encode the debug log with mk_proto_encode_empty_debug_log(64)",
			   "megakernel debug_log buffer has %zu bytes, expected exactly 1028 bytes for 64 PRINTF records",
			   len);
}

int mk_proto_validate_ring_bytes(size_t len, uint32_t slots,
				 struct mk_err *err)
{
	if ((uint64_t)len == (uint64_t)slots * MK_SLOT_BYTES)
		return 0;
	return mk_err_setf(err, -EINVAL,
			   "encode the ring with mk_proto_encode_empty_ring(slot_count)",
			   "megakernel ring buffer has %zu bytes, expected %llu for %u slots",
			   len, (unsigned long long)slots * MK_SLOT_BYTES,
			   slots);
}
