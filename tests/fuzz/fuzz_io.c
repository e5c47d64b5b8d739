/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_io.c - libFuzzer harness for the IO queue of
 * runtime/io.c (PROTOCOL.md 7): a fuzzed sequence of operations on a
 * struct mk_io_queue and on a raw byte view (fuzzed length, alignment and
 * status words), checked against a shadow model of the status words.
 * Checks: every result equals the shadow's prediction; failures carry a
 * Fix: and change nothing (complete_batch is all-or-nothing); claims are
 * ascending, capped and never return a slot twice; poll never writes;
 * only STATUS words move, except publish, which writes its own slot.
 * Run: scripts/fuzz.sh (seeds: tests/fuzz/corpus/io/).
 * MK_FUZZ_SOURCES: runtime/io.c runtime/proto.c runtime/err.c
 * MK_FUZZ_OPTIONS: -max_len=4096
 */
#include <errno.h>
#include <string.h>

#include "runtime/io.h"
#include "tests/fuzz/mk_fuzz.h"

#define IO_MAX_VIEW_BYTES (MK_IO_QUEUE_BYTES + 3u * MK_IO_SLOT_BYTES)

/* A byte view plus the expected status of each whole slot. */
struct io_view {
	uint8_t *raw, *p, *before;
	size_t len;
	uint32_t slots; /* len / 32 when len is valid, else 0 */
	int valid;      /* passes mk_io_validate_queue_bytes */
};

static uint32_t io_get(const uint8_t *p, uint32_t slot, uint32_t w)
{
	uint32_t v;

	memcpy(&v, p + (size_t)slot * MK_IO_SLOT_BYTES + 4u * w, 4);
	return v;
}

static void io_set(uint8_t *p, uint32_t slot, uint32_t w, uint32_t v)
{
	memcpy(p + (size_t)slot * MK_IO_SLOT_BYTES + 4u * w, &v, 4);
}

static int io_ref_validate(size_t len)
{
	if (len % 4u || len % MK_IO_SLOT_BYTES)
		return -EINVAL;
	return len / MK_IO_SLOT_BYTES > MK_IO_SLOT_COUNT ? -EOVERFLOW : 0;
}

static uint32_t io_status_value(struct t_in *in)
{
	static const uint32_t st[] = { 0u, 1u, 2u, 3u, 4u, 0x10u, 0x11u, 7u };
	uint8_t tag = t_in_u8(in);

	return tag < 0xF0u ? st[tag % 8u] : t_in_edge_u32(in);
}

static void io_view_init(struct io_view *v, struct t_in *in)
{
	uint8_t shape = t_in_u8(in);
	uint32_t s;

	if (shape & 0x80u)
		v->len = t_in_below(in, IO_MAX_VIEW_BYTES + 1u);
	else
		v->len = (size_t)t_in_below(in, MK_IO_SLOT_COUNT + 2u) *
			 MK_IO_SLOT_BYTES;
	v->raw = t_fuzz_alloc(v->len + 3u);
	v->p = v->raw + (shape & 3u);
	t_in_bytes(in, v->p, v->len);
	v->valid = io_ref_validate(v->len) == 0;
	v->slots = v->valid ? (uint32_t)(v->len / MK_IO_SLOT_BYTES) : 0u;
	for (s = 0; s < v->slots; s++)
		io_set(v->p, s, MK_IO_STATUS, io_status_value(in));
	v->before = t_fuzz_alloc(v->len);
}

static void io_snap(struct io_view *v)
{
	memcpy(v->before, v->p, v->len);
}

static void io_check_same(const struct io_view *v, const char *what)
{
	T_FUZZ_CHECK(memcmp(v->before, v->p, v->len) == 0, "%s changed the view",
		     what);
}

/* Only the STATUS words of the listed slots differ from the snapshot. */
static void io_check_status_only(const struct io_view *v, const char *what)
{
	size_t i;

	for (i = 0; i + 4u <= v->len; i += 4u)
		if ((i / 4u) % MK_IO_SLOT_WORDS != MK_IO_STATUS)
			T_FUZZ_CHECK(memcmp(v->before + i, v->p + i, 4) == 0,
				     "%s wrote non-status byte %zu", what, i);
}

static void io_view_poll_claim(struct io_view *v, struct t_in *in, int claim)
{
	size_t cap = t_in_below(in, MK_IO_SLOT_COUNT + 2u), n = 0;
	struct mk_io_request *r = t_fuzz_alloc(cap * sizeof(*r));
	struct mk_err e;
	uint32_t s;
	int rc, i;

	io_snap(v);
	mk_err_clear(&e);
	rc = claim ? mk_io_claim_requests(v->p, v->len, r, cap, &e) :
		     mk_io_poll_requests(v->p, v->len, r, cap, &e);
	if (!v->valid) {
		T_FUZZ_CHECK(rc == io_ref_validate(v->len), "poll/claim -> %d",
			     rc);
		T_FUZZ_CHECK_ERR(rc, &e);
		io_check_same(v, "a failed poll/claim");
		goto out_free;
	}
	for (s = 0; s < v->slots && n < cap; s++)
		if (io_get(v->before, s, MK_IO_STATUS) == MK_SLOT_PUBLISHED)
			n++;
	T_FUZZ_CHECK(rc == (int)n, "poll/claim -> %d, want %zu", rc, n);
	for (i = 0; i < rc; i++) {
		s = r[i].slot_idx;
		T_FUZZ_CHECK((i == 0 || s > r[i - 1].slot_idx) && s < v->slots,
			     "request %d slot %u", i, s);
		T_FUZZ_CHECK(io_get(v->before, s, MK_IO_STATUS) ==
				     MK_SLOT_PUBLISHED &&
			     r[i].tag == io_get(v->before, s, MK_IO_TAG) &&
			     r[i].byte_count ==
				     io_get(v->before, s, MK_IO_BYTE_COUNT),
		     "request %d does not match slot %u", i, s);
		if (claim)
			io_set(v->before, s, MK_IO_STATUS, MK_SLOT_CLAIMED);
	}
	io_check_same(v, claim ? "claim (beyond its claims)" : "poll");
out_free:
	free(r);
}

static void io_view_complete(struct io_view *v, struct t_in *in)
{
	size_t n = t_in_below(in, 6), i;
	struct mk_io_result *res = t_fuzz_alloc(n * sizeof(*res));
	struct mk_err e;
	int rc, ref = io_ref_validate(v->len);

	for (i = 0; i < n; i++) {
		res[i].slot = (t_in_u8(in) & 1u) ? t_in_below(in, 70) :
						   t_in_edge_u32(in);
		res[i].success = t_in_u8(in) & 1u;
	}
	for (i = 0; !ref && i < n; i++) {
		if (res[i].slot >= v->slots)
			ref = -ERANGE;
		else if (io_get(v->p, res[i].slot, MK_IO_STATUS) !=
			 MK_SLOT_CLAIMED)
			ref = -EBUSY;
	}
	io_snap(v);
	mk_err_clear(&e);
	rc = n == 1 && (t_in_u8(in) & 1u) ?
		     mk_io_complete(v->p, v->len, res[0].slot, res[0].success,
				    &e) :
		     mk_io_complete_batch(v->p, v->len, res, n, &e);
	T_FUZZ_CHECK(rc == ref, "complete(%zu) -> %d, want %d", n, rc, ref);
	if (rc) {
		T_FUZZ_CHECK_ERR(rc, &e);
		io_check_same(v, "a failed completion");
	} else {
		for (i = 0; i < n; i++)
			io_set(v->before, res[i].slot, MK_IO_STATUS,
			       res[i].success ? MK_IO_STATUS_OK :
						MK_IO_STATUS_ERROR);
		io_check_same(v, "completion (beyond its statuses)");
	}
	free(res);
}

static void io_view_recycle(struct io_view *v, struct t_in *in)
{
	uint32_t slot = (t_in_u8(in) & 1u) ? t_in_below(in, 70) :
					     t_in_edge_u32(in), st = 0;
	struct mk_err e;
	int rc, ref = io_ref_validate(v->len);

	if (!ref && slot >= v->len / MK_IO_SLOT_BYTES)
		ref = -ERANGE;
	if (!ref) {
		st = io_get(v->p, slot, MK_IO_STATUS);
		if (st == MK_SLOT_PUBLISHED || st == MK_SLOT_CLAIMED)
			ref = -EBUSY;
		else if (st != MK_SLOT_EMPTY && st != MK_SLOT_DONE &&
			 st != MK_IO_STATUS_OK && st != MK_IO_STATUS_ERROR)
			ref = -EINVAL;
	}
	io_snap(v);
	mk_err_clear(&e);
	rc = mk_io_recycle_slot(v->p, v->len, slot, &e);
	T_FUZZ_CHECK(rc == ref, "recycle(%u, status 0x%x) -> %d, want %d", slot,
		     st, rc, ref);
	if (rc) {
		T_FUZZ_CHECK_ERR(rc, &e);
		io_check_same(v, "a failed recycle");
		return;
	}
	io_check_status_only(v, "recycle");
	T_FUZZ_CHECK(io_get(v->p, slot, MK_IO_STATUS) == MK_SLOT_EMPTY,
		     "recycled slot %u not EMPTY", slot);
}

static void io_view_ops(struct t_in *in)
{
	struct io_view v;
	uint32_t k, nops = 1u + t_in_below(in, 12);
	struct mk_err e;

	io_view_init(&v, in);
	mk_err_clear(&e);
	T_FUZZ_CHECK(mk_io_validate_queue_bytes(v.len, &e) ==
			     io_ref_validate(v.len),
		     "validate %zu", v.len);
	T_FUZZ_CHECK(!mk_io_validate_dispatch_bytes(v.len, &e) ==
			     (v.len == MK_IO_QUEUE_BYTES),
		     "validate dispatch %zu", v.len);
	for (k = 0; k < nops; k++) {
		switch (t_in_u8(in) % 4u) {
		case 0:
			io_view_poll_claim(&v, in, 0);
			break;
		case 1:
			io_view_poll_claim(&v, in, 1);
			break;
		case 2:
			io_view_complete(&v, in);
			break;
		default:
			io_view_recycle(&v, in);
			break;
		}
	}
	free(v.before);
	free(v.raw);
}

/* ---- struct mk_io_queue against a shadow of its status words ------------ */

static void io_queue_publish(struct mk_io_queue *q, struct t_in *in)
{
	struct mk_io_queue before = *q;
	uint32_t slot = t_in_below(in, 70), src = t_in_edge_u32(in);
	uint32_t dst = t_in_edge_u32(in), cnt = t_in_edge_u32(in);
	uint32_t tag = t_in_edge_u32(in), *w;
	int dma = t_in_u8(in) & 1u, rc, ref = 0;
	struct mk_err e;

	if (slot >= q->slots)
		ref = -ERANGE;
	else if (q->words[slot * MK_IO_SLOT_WORDS + MK_IO_STATUS])
		ref = -EBUSY;
	mk_err_clear(&e);
	rc = dma ? mk_io_queue_submit_dma_read(q, slot, src, dst, cnt, tag, &e) :
		   mk_io_queue_publish_slot(q, slot, dst, cnt, tag, &e);
	T_FUZZ_CHECK(rc == ref, "queue publish(%u) -> %d, want %d", slot, rc,
		     ref);
	if (rc) {
		T_FUZZ_CHECK_ERR(rc, &e);
		T_FUZZ_CHECK(memcmp(&before, q, sizeof(*q)) == 0,
			     "failed publish changed the queue");
		return;
	}
	w = &q->words[slot * MK_IO_SLOT_WORDS];
	T_FUZZ_CHECK(w[MK_IO_OP_TYPE] == MK_IO_OP_READ &&
			     w[MK_IO_SRC_HANDLE] == (dma ? src : 0u) &&
			     w[MK_IO_DST_HANDLE] == dst && !w[MK_IO_OFFSET_LO] &&
			     !w[MK_IO_OFFSET_HI] && w[MK_IO_BYTE_COUNT] == cnt &&
			     w[MK_IO_TAG] == tag &&
			     w[MK_IO_STATUS] == MK_SLOT_PUBLISHED,
		     "published slot %u", slot);
	memcpy(&before.words[slot * MK_IO_SLOT_WORDS], w, MK_IO_SLOT_BYTES);
	T_FUZZ_CHECK(memcmp(&before, q, sizeof(*q)) == 0,
		     "publish wrote outside slot %u", slot);
}

static void io_queue_ops(struct t_in *in)
{
	struct mk_io_queue *q = t_fuzz_alloc(sizeof(*q));
	struct mk_io_completion c;
	uint32_t n = t_in_below(in, MK_IO_SLOT_COUNT + 2u), k, slot;
	uint32_t nops = t_in_below(in, 24);
	uint8_t *enc = NULL;
	size_t len = 0, cap;
	struct mk_err e;
	void *bytes;
	int rc;

	mk_err_clear(&e);
	rc = mk_io_queue_init(q, n, &e);
	T_FUZZ_CHECK(rc == (n == 0 ? -EINVAL : n > 64 ? -EOVERFLOW : 0),
		     "queue_init(%u) -> %d", n, rc);
	if (rc) {
		T_FUZZ_CHECK_ERR(rc, &e);
		free(q);
		return;
	}
	rc = mk_io_encode_empty_queue(n, &enc, &len, &e);
	T_FUZZ_CHECK(rc == 0 && len == (size_t)n * 32u, "encode %u", n);
	cap = t_in_below(in, 2100);
	bytes = t_fuzz_alloc(cap);
	rc = mk_io_encode_empty_queue_into(bytes, cap, n, &len, &e);
	T_FUZZ_CHECK(rc == (cap < (size_t)n * 32u ? -ENOSPC : 0),
		     "encode_into(%zu) for %u slots -> %d", cap, n, rc);
	free(bytes);
	free(enc);
	for (k = 0; k < nops; k++) {
		slot = t_in_below(in, 70);
		switch (t_in_u8(in) % 5u) {
		case 0:
		case 1:
			io_queue_publish(q, in);
			break;
		case 2:
			rc = mk_io_queue_completion(q, slot, &c);
			T_FUZZ_CHECK(!rc == (slot < q->slots &&
					     !mk_io_queue_is_recycled(q, slot)),
				     "completion(%u) -> %d", slot, rc);
			break;
		case 3:
			bytes = mk_io_queue_bytes(q, &len);
			rc = mk_io_claim_requests(bytes, len, NULL, 0, &e);
			T_FUZZ_CHECK(rc == 0, "claim with cap 0 -> %d", rc);
			break;
		default:
			rc = mk_io_queue_recycle(q, slot, &e);
			T_FUZZ_CHECK(rc == 0 || rc == -EBUSY || rc == -ERANGE,
				     "queue_recycle(%u) -> %d", slot, rc);
			break;
		}
	}
	free(q);
}

static void fuzz_io_one(const uint8_t *data, size_t size)
{
	struct t_in in = { data, size };

	if (t_in_u8(&in) & 1u)
		io_queue_ops(&in);
	else
		io_view_ops(&in);
}

MK_FUZZ_ENTRY(fuzz_io_one)
