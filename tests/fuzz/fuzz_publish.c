/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_publish.c - libFuzzer harness for the publish paths of
 * runtime/proto.c over fuzzer-built rings (any length, any alignment, any
 * status words): mk_proto_check_publish, mk_proto_publish_slot,
 * mk_proto_batch_publish, mk_proto_publish_work_items,
 * mk_proto_publish_packed_slot, LOAD_MISS images and the DONE counters.
 * Checks: the errno equals an independent model of the reference order
 * (PROTOCOL.md 8.5); a failed publish leaves every ring byte unchanged; a
 * successful one writes exactly its slots, status last.
 * Run: scripts/fuzz.sh (seeds: tests/fuzz/corpus/publish/).
 * MK_FUZZ_SOURCES: runtime/proto.c runtime/err.c
 * MK_FUZZ_OPTIONS: -max_len=2048
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "runtime/proto.h"
#include "tests/fuzz/mk_fuzz.h"

#define PUB_MAX_SLOTS 9u
#define PUB_MAX_ITEMS 7u

/* A ring of fuzzed bytes at a fuzzed misalignment, plus its snapshot. */
struct pub_ring {
	uint8_t *raw;
	uint8_t *ring;
	uint8_t *before;
	size_t len;
	uint32_t slots; /* len / 64 */
};

/* Publishable per the protocol, written from PROTOCOL.md 5.3, not proto.c. */
static int pub_opcode_ok(uint32_t op)
{
	if (op <= MK_OP_BATCH_FENCE || op == MK_OP_PACKED_SLOT ||
	    op == MK_OP_PRINTF || op == MK_OP_SHUTDOWN)
		return 1;
	return !(op & 0x80000000u) && !(op >= 0xFFF0u && op <= 0xFFFFu);
}

static int pub_status_ok(uint32_t st)
{
	return st == MK_SLOT_EMPTY || st == MK_SLOT_DONE;
}

static uint32_t pub_word(const uint8_t *ring, size_t i)
{
	uint32_t v;

	memcpy(&v, ring + 4 * i, 4);
	return v;
}

static void pub_ring_init(struct pub_ring *r, struct t_in *in)
{
	size_t off = t_in_u8(in) & 3u, i;
	uint8_t shape = t_in_u8(in);

	r->len = (size_t)(shape % PUB_MAX_SLOTS) * MK_SLOT_BYTES;
	if (shape & 0x80u)
		r->len += 1u + t_in_below(in, 63); /* not whole slots */
	r->slots = (uint32_t)(r->len / MK_SLOT_BYTES);
	r->raw = t_fuzz_alloc(r->len + off);
	r->ring = r->raw + off;
	t_in_bytes(in, r->ring, r->len);
	/* Mostly small statuses so EMPTY/DONE targets are common. */
	for (i = 0; i < r->slots; i++) {
		uint32_t st = t_in_u8(in);

		if (st < 0xF0u)
			st %= 8u;
		else
			st = t_in_edge_u32(in);
		memcpy(r->ring + i * MK_SLOT_BYTES, &st, 4);
	}
	r->before = t_fuzz_alloc(r->len);
	memcpy(r->before, r->ring, r->len);
}

static void pub_ring_fini(struct pub_ring *r)
{
	free(r->before);
	free(r->raw);
}

/* A slot index: small (often in range) or an edge value. */
static uint32_t pub_slot_index(struct t_in *in)
{
	return (t_in_u8(in) & 1u) ? t_in_below(in, PUB_MAX_SLOTS + 2u) :
				    t_in_edge_u32(in);
}

/* Exactly-sized argument array, so ASan sees any read past @n. */
static uint32_t *pub_args(struct t_in *in, size_t n)
{
	uint32_t *a = t_fuzz_alloc(n * sizeof(*a));
	size_t i;

	for (i = 0; i < n; i++)
		a[i] = t_in_edge_u32(in);
	return a;
}

static void pub_check_unchanged(const struct pub_ring *r, int rc,
				const struct mk_err *e)
{
	T_FUZZ_CHECK_ERR(rc, e);
	T_FUZZ_CHECK(memcmp(r->ring, r->before, r->len) == 0,
		     "failed publish (%d) changed the ring", rc);
}

/* Slot @s holds tenant/opcode/args, NORMAL priority, zero tail, PUBLISHED. */
static void pub_check_slot(const struct pub_ring *r, uint32_t s,
			   uint32_t tenant, uint32_t opcode,
			   const uint32_t *args, size_t nargs)
{
	size_t base = (size_t)s * MK_SLOT_WORDS, i;

	T_FUZZ_CHECK(pub_word(r->ring, base) == MK_SLOT_PUBLISHED,
		     "slot %u status %u", s, pub_word(r->ring, base));
	T_FUZZ_CHECK(pub_word(r->ring, base + 1) == opcode &&
			     pub_word(r->ring, base + 2) == tenant &&
			     pub_word(r->ring, base + 3) == MK_PRIORITY_NORMAL,
		     "slot %u header", s);
	for (i = 0; i < MK_ARGS_PER_SLOT; i++)
		T_FUZZ_CHECK(pub_word(r->ring, base + 4 + i) ==
				     (i < nargs ? args[i] : 0u),
			     "slot %u arg %zu", s, i);
}

/* Bytes outside slots [first, first + n) are those of the snapshot. */
static void pub_check_rest(const struct pub_ring *r, uint32_t first,
			   uint32_t n)
{
	size_t lo = (size_t)first * MK_SLOT_BYTES;
	size_t hi = lo + (size_t)n * MK_SLOT_BYTES;

	T_FUZZ_CHECK(memcmp(r->ring, r->before, lo) == 0 &&
			     memcmp(r->ring + hi, r->before + hi,
				    r->len - hi) == 0,
		     "publish wrote outside slots %u..%u", first,
		     first + n - 1);
}

static int pub_ref_check(uint32_t slots, uint32_t slot, size_t nargs,
			 uint32_t opcode, uint32_t status)
{
	if (slot >= slots)
		return -ERANGE;
	if (nargs > MK_ARGS_PER_SLOT)
		return -E2BIG;
	if (!pub_opcode_ok(opcode))
		return -EINVAL;
	return pub_status_ok(status) ? 0 : -EBUSY;
}

static void pub_check_publish_fn(struct t_in *in)
{
	uint32_t slots = t_in_edge_u32(in), slot = t_in_edge_u32(in);
	uint32_t op = t_in_edge_u32(in), st = t_in_edge_u32(in);
	size_t nargs = t_in_edge_u32(in);
	struct mk_err e;
	int rc, ref;

	mk_err_clear(&e);
	rc = mk_proto_check_publish(slots, slot, nargs, op, st, &e);
	ref = pub_ref_check(slots, slot, nargs, op, st);
	T_FUZZ_CHECK(rc == ref, "check_publish(%u, %u, %zu, 0x%x, %u) = %d, want %d",
		     slots, slot, nargs, op, st, rc, ref);
	if (rc)
		T_FUZZ_CHECK_ERR(rc, &e);
}

static void pub_one_slot(struct pub_ring *r, struct t_in *in)
{
	uint32_t slot = pub_slot_index(in), tenant = t_in_edge_u32(in);
	uint32_t op = t_in_edge_u32(in);
	size_t nargs = t_in_below(in, 16);
	uint32_t *args = pub_args(in, nargs);
	struct mk_err e;
	int rc, ref;

	if (r->len % MK_SLOT_BYTES)
		ref = -EINVAL;
	else
		ref = pub_ref_check(r->slots, slot, nargs, op,
				    slot < r->slots ?
					    pub_word(r->ring, (size_t)slot * 16) :
					    0u);
	mk_err_clear(&e);
	rc = mk_proto_publish_slot(r->ring, r->len, slot, tenant, op, args,
				   nargs, &e);
	T_FUZZ_CHECK(rc == ref, "publish_slot(slot %u, op 0x%x, %zu args) = %d, want %d",
		     slot, op, nargs, rc, ref);
	if (rc) {
		pub_check_unchanged(r, rc, &e);
	} else {
		pub_check_slot(r, slot, tenant, op, args, nargs);
		pub_check_rest(r, slot, 1);
	}
	free(args);
}

struct pub_batch {
	struct mk_proto_item items[PUB_MAX_ITEMS];
	uint32_t *args[PUB_MAX_ITEMS];
	size_t n;
};

static void pub_batch_init(struct pub_batch *b, struct t_in *in)
{
	size_t i;

	b->n = t_in_below(in, PUB_MAX_ITEMS + 1u);
	for (i = 0; i < b->n; i++) {
		b->items[i].opcode = t_in_edge_u32(in);
		b->items[i].nargs = t_in_below(in, 15);
		b->args[i] = pub_args(in, b->items[i].nargs);
		b->items[i].args = b->args[i];
	}
}

static void pub_batch_fini(struct pub_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->args[i]);
}

/* The reference order of batch_publish (8.5), item checks in item order. */
static int pub_ref_batch(const struct pub_ring *r, uint32_t start,
			 const struct pub_batch *b)
{
	uint64_t count = b->n + 1u;
	size_t i;

	if (r->len % MK_SLOT_BYTES)
		return -EINVAL;
	if ((uint64_t)start + count > UINT32_MAX)
		return -EOVERFLOW;
	if ((uint64_t)start + count > r->slots)
		return -ERANGE;
	for (i = 0; i < b->n; i++) {
		if (b->items[i].nargs > MK_ARGS_PER_SLOT)
			return -E2BIG;
		if (!pub_opcode_ok(b->items[i].opcode))
			return -EINVAL;
	}
	for (i = 0; i < count; i++)
		if (!pub_status_ok(pub_word(r->ring, (start + i) * 16)))
			return -EBUSY;
	return (int)count;
}

static void pub_batch(struct pub_ring *r, struct t_in *in)
{
	uint32_t start = pub_slot_index(in), tenant = t_in_edge_u32(in);
	uint32_t tag = t_in_edge_u32(in), fence[2];
	struct pub_batch b;
	struct mk_err e;
	size_t i;
	int rc, ref;

	pub_batch_init(&b, in);
	ref = pub_ref_batch(r, start, &b);
	mk_err_clear(&e);
	rc = mk_proto_batch_publish(r->ring, r->len, start, tenant, b.items,
				    b.n, tag, &e);
	T_FUZZ_CHECK(rc == ref, "batch_publish(start %u, %zu items) = %d, want %d",
		     start, b.n, rc, ref);
	if (rc < 0) {
		pub_check_unchanged(r, rc, &e);
	} else {
		for (i = 0; i < b.n; i++)
			pub_check_slot(r, start + (uint32_t)i, tenant,
				       b.items[i].opcode, b.items[i].args,
				       b.items[i].nargs);
		fence[0] = (uint32_t)b.n;
		fence[1] = tag;
		pub_check_slot(r, start + (uint32_t)b.n, tenant,
			       MK_OP_BATCH_FENCE, fence, 2);
		pub_check_rest(r, start, (uint32_t)b.n + 1u);
	}
	pub_batch_fini(&b);
}

static void pub_work_items(struct pub_ring *r, struct t_in *in)
{
	struct mk_work_item items[PUB_MAX_ITEMS];
	uint32_t start = pub_slot_index(in), tenant = t_in_edge_u32(in);
	size_t n = t_in_below(in, PUB_MAX_ITEMS + 1u), i;
	uint32_t args[3];
	struct mk_err e;
	int rc, ref = 0;

	for (i = 0; i < n; i++) {
		items[i].op_handle = t_in_edge_u32(in);
		items[i].input_handle = t_in_edge_u32(in);
		items[i].output_handle = t_in_edge_u32(in);
		items[i].param = t_in_edge_u32(in);
		if (!ref && !pub_opcode_ok(items[i].op_handle))
			ref = -EINVAL; /* opcodes first (8.5) */
	}
	if (!ref && r->len % MK_SLOT_BYTES)
		ref = -EINVAL;
	else if (!ref && (uint64_t)start + n > UINT32_MAX)
		ref = -EOVERFLOW;
	else if (!ref && (uint64_t)start + n > r->slots)
		ref = -ERANGE;
	for (i = 0; !ref && i < n; i++)
		if (!pub_status_ok(pub_word(r->ring, (start + i) * 16)))
			ref = -EBUSY;
	if (!ref)
		ref = (int)n;
	mk_err_clear(&e);
	rc = mk_proto_publish_work_items(r->ring, r->len, start, tenant, items,
					 n, &e);
	T_FUZZ_CHECK(rc == ref, "publish_work_items(start %u, %zu) = %d, want %d",
		     start, n, rc, ref);
	if (rc < 0) {
		pub_check_unchanged(r, rc, &e);
		return;
	}
	for (i = 0; i < n; i++) {
		args[0] = items[i].input_handle;
		args[1] = items[i].output_handle;
		args[2] = items[i].param;
		pub_check_slot(r, start + (uint32_t)i, tenant,
			       items[i].op_handle, args, 3);
	}
	if (n)
		pub_check_rest(r, start, (uint32_t)n);
}

static void pub_packed(struct pub_ring *r, struct t_in *in)
{
	struct mk_proto_packed_op ops[8];
	uint32_t *args[8], payload[MK_ARGS_PER_SLOT];
	uint32_t slot = pub_slot_index(in), tenant = t_in_edge_u32(in);
	size_t n = t_in_below(in, 9), nwords = 0, i;
	unsigned flags = t_in_u8(in);
	struct mk_err e, pe;
	int rc, ref;

	for (i = 0; i < n; i++) {
		ops[i].opcode = t_in_u8(in);
		ops[i].nargs = t_in_below(in, 6);
		args[i] = pub_args(in, ops[i].nargs);
		ops[i].args = args[i];
	}
	/* Packing errors win over ring errors (5.9). */
	ref = mk_proto_encode_packed(ops, n, flags, payload, &nwords, &pe);
	if (!ref && r->len % MK_SLOT_BYTES)
		ref = -EINVAL;
	else if (!ref)
		ref = pub_ref_check(r->slots, slot, nwords, MK_OP_PACKED_SLOT,
				    slot < r->slots ?
					    pub_word(r->ring, (size_t)slot * 16) :
					    0u);
	mk_err_clear(&e);
	rc = mk_proto_publish_packed_slot(r->ring, r->len, slot, tenant, ops, n,
					  flags, &e);
	T_FUZZ_CHECK(rc == ref, "publish_packed_slot = %d, want %d", rc, ref);
	if (rc) {
		pub_check_unchanged(r, rc, &e);
	} else {
		pub_check_slot(r, slot, tenant, MK_OP_PACKED_SLOT, payload,
			       nwords);
		pub_check_rest(r, slot, 1);
	}
	for (i = 0; i < n; i++)
		free(args[i]);
}

/* Readers that must never write: DONE counters and LOAD_MISS decoding. */
static void pub_readers(const struct pub_ring *r, struct t_in *in)
{
	uint32_t n = t_in_edge_u32(in), done = 0, i, res = 0, want = 0;
	int64_t lenient = mk_proto_count_done_ring_slots(r->ring, r->len, n);
	int prefetch = 0, rc;
	struct mk_err e;

	mk_err_clear(&e);
	rc = mk_proto_try_count_done_ring_slots(r->ring, r->len, n, &done, &e);
	if ((uint64_t)n * MK_SLOT_BYTES > r->len)
		T_FUZZ_CHECK(lenient == -1 && (n == 0 ? rc == 0 : rc < 0),
			     "count_done(%u) past the ring", n);
	if (n && (uint64_t)n * MK_SLOT_BYTES <= r->len) {
		for (i = 0; i < n; i++)
			want += pub_word(r->ring, (size_t)i * 16) ==
				MK_SLOT_DONE;
		T_FUZZ_CHECK(lenient == want, "lenient count %lld, want %u",
			     (long long)lenient, want);
		if (r->len % 4u == 0)
			T_FUZZ_CHECK(rc == 0 && done == want,
				     "strict count %d/%u, want %u", rc, done,
				     want);
	}
	i = pub_slot_index(in);
	rc = mk_proto_decode_load_miss(r->ring, r->len, i, &res, &prefetch);
	if (rc == 0)
		T_FUZZ_CHECK((uint64_t)i * 64 + 64 <= r->len &&
				     pub_word(r->ring, (size_t)i * 16 + 1) ==
					     MK_OP_LOAD_MISS &&
				     res == pub_word(r->ring, (size_t)i * 16 + 4),
			     "decode_load_miss(%u)", i);
	T_FUZZ_CHECK(memcmp(r->ring, r->before, r->len) == 0,
		     "a reader wrote the ring");
}

static void pub_load_miss_image(struct t_in *in)
{
	uint32_t resource = t_in_edge_u32(in), res = 0;
	int prefetch = t_in_u8(in) & 1, back = -1;
	struct mk_slot s;

	mk_proto_encode_load_miss(resource, prefetch, &s);
	T_FUZZ_CHECK(mk_proto_decode_load_miss(&s, sizeof(s), 0, &res, &back) ==
				     0 &&
			     res == resource && back == prefetch,
		     "LOAD_MISS image does not decode");
}

static void fuzz_publish_one(const uint8_t *data, size_t size)
{
	struct t_in in = { data, size };
	struct pub_ring r;
	uint8_t mode = t_in_u8(&in);

	pub_check_publish_fn(&in);
	pub_ring_init(&r, &in);
	switch (mode % 5u) {
	case 0:
		pub_one_slot(&r, &in);
		break;
	case 1:
		pub_batch(&r, &in);
		break;
	case 2:
		pub_work_items(&r, &in);
		break;
	case 3:
		pub_packed(&r, &in);
		break;
	default:
		pub_readers(&r, &in);
		pub_load_miss_image(&in);
		break;
	}
	pub_ring_fini(&r);
}

MK_FUZZ_ENTRY(fuzz_publish_one)
