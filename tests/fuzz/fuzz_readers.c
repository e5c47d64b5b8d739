/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_readers.c - libFuzzer harness for the control-buffer and
 * debug-log readers of runtime/proto.c (PROTOCOL.md 8.3, 9.3): the strict
 * mk_proto_try_read_* family, the lenient readers, mk_proto_read_metrics
 * and both debug-log decoders, over the fuzz bytes taken as the buffer at
 * a fuzzed misalignment, with exactly-sized output arrays of fuzzed
 * capacity. Checks: success iff the documented preconditions hold; values
 * equal the buffer's words; the clamped decoder never reports more
 * records than the buffer or the caller's array holds, agrees with the
 * strict one where that succeeds and counts dropped records exactly; no
 * reader writes its input. Also the encoders (2.2, 2.3), with parameters
 * taken from the buffer bytes: an encoded control buffer reads back as
 * the documented defaults, failures leave the destination untouched, and
 * the default priority offsets partition [0, slots).
 * Run: scripts/fuzz.sh (seeds: tests/fuzz/corpus/readers/).
 * MK_FUZZ_SOURCES: runtime/proto.c runtime/err.c
 * MK_FUZZ_OPTIONS: -max_len=2200
 */
#include <errno.h>
#include <string.h>

#include "runtime/proto.h"
#include "tests/fuzz/mk_fuzz.h"

struct rd_buf {
	uint8_t *raw, *p, *copy;
	size_t len;
};

static uint32_t rd_word(const struct rd_buf *b, size_t i)
{
	uint32_t v;

	memcpy(&v, b->p + 4 * i, 4);
	return v;
}

static void rd_check_ctl_word(const struct rd_buf *b, uint64_t i, int rc,
			      uint32_t v, const struct mk_err *e)
{
	if (b->len % 4u || i >= b->len / 4u) {
		T_FUZZ_CHECK(rc == (b->len % 4u ? -EINVAL : -ENODATA),
			     "word %llu of %zu bytes -> %d",
			     (unsigned long long)i, b->len, rc);
		T_FUZZ_CHECK_ERR(rc, e);
		return;
	}
	T_FUZZ_CHECK(rc == 0 && v == rd_word(b, (size_t)i),
		     "word %llu -> %d, %u", (unsigned long long)i, rc, v);
}

static void rd_control(const struct rd_buf *b, struct t_in *in)
{
	uint32_t k = t_in_edge_u32(in), v = 0;
	struct mk_err e;
	int rc;

	mk_err_clear(&e);
	rc = mk_proto_try_read_done_count(b->p, b->len, &v, &e);
	rd_check_ctl_word(b, MK_CTL_DONE_COUNT, rc, v, &e);
	if (rc == 0)
		T_FUZZ_CHECK(mk_proto_read_done_count(b->p, b->len) == v,
			     "lenient done_count");
	mk_err_clear(&e);
	rc = mk_proto_try_read_epoch(b->p, b->len, &v, &e);
	rd_check_ctl_word(b, MK_CTL_EPOCH, rc, v, &e);
	if (rc == 0)
		T_FUZZ_CHECK(mk_proto_read_epoch(b->p, b->len) == v,
			     "lenient epoch");
	mk_err_clear(&e);
	rc = mk_proto_try_read_observable(b->p, b->len, k, &v, &e);
	if (k > UINT32_MAX - MK_CTL_OBSERVABLE_BASE) {
		T_FUZZ_CHECK(rc == -EOVERFLOW, "observable %u -> %d", k, rc);
		T_FUZZ_CHECK_ERR(rc, &e);
	} else {
		rd_check_ctl_word(b, (uint64_t)MK_CTL_OBSERVABLE_BASE + k, rc,
				  v, &e);
	}
	T_FUZZ_CHECK(mk_proto_read_observable(b->p, b->len, k) ==
			     (rc ? 0u : v),
		     "lenient observable %u", k);
}

static void rd_metrics(const struct rd_buf *b)
{
	struct mk_metric *m = t_fuzz_alloc(MK_CTL_METRICS_SLOTS * sizeof(*m));
	struct mk_metric *s = t_fuzz_alloc(MK_CTL_METRICS_SLOTS * sizeof(*s));
	size_t n = mk_proto_read_metrics(b->p, b->len, m), i, sn = 999;
	size_t words = b->len / 4u;
	uint32_t op, want = 0;
	struct mk_err e;
	int rc;

	for (op = 0; op < MK_CTL_METRICS_SLOTS; op++)
		if (MK_CTL_METRICS_BASE + op < words &&
		    rd_word(b, MK_CTL_METRICS_BASE + op))
			want++;
	T_FUZZ_CHECK(n == want, "read_metrics %zu, want %u", n, want);
	for (i = 0; i < n; i++) {
		T_FUZZ_CHECK(i == 0 || m[i].opcode > m[i - 1].opcode,
			     "metrics not ascending");
		T_FUZZ_CHECK(m[i].count &&
				     m[i].count == rd_word(b, MK_CTL_METRICS_BASE +
								      m[i].opcode),
			     "metric %u", m[i].opcode);
	}
	mk_err_clear(&e);
	rc = mk_proto_try_read_metrics(b->p, b->len, s, &sn, &e);
	if (b->len % 4u || words < MK_CTL_METRICS_BASE + MK_CTL_METRICS_SLOTS) {
		T_FUZZ_CHECK(rc == (b->len % 4u ? -EINVAL : -ENODATA),
			     "try_read_metrics(%zu bytes) -> %d", b->len, rc);
		T_FUZZ_CHECK_ERR(rc, &e);
	} else {
		T_FUZZ_CHECK(rc == 0 && sn == n &&
				     memcmp(s, m, n * sizeof(*m)) == 0,
			     "try_read_metrics -> %d, %zu", rc, sn);
	}
	free(s);
	free(m);
}

static void rd_check_records(const struct rd_buf *b,
			     const struct mk_debug_record *r, size_t n)
{
	size_t i, w;

	for (i = 0; i < n; i++) {
		w = 1u + 4u * i;
		T_FUZZ_CHECK(r[i].fmt_id == rd_word(b, w) &&
				     r[i].args[0] == rd_word(b, w + 1) &&
				     r[i].args[1] == rd_word(b, w + 2) &&
				     r[i].args[2] == rd_word(b, w + 3),
			     "debug record %zu", i);
	}
}

static void rd_debug_log(const struct rd_buf *b, struct t_in *in)
{
	size_t cap = t_in_below(in, 72), n = 999, sn = 999, capw, used, want;
	struct mk_debug_record *r = t_fuzz_alloc(cap * sizeof(*r));
	struct mk_debug_record *s = t_fuzz_alloc(cap * sizeof(*s));
	uint32_t dropped = 0xdead, cursor;
	struct mk_err e, se;
	int rc, src;

	mk_err_clear(&e);
	mk_err_clear(&se);
	rc = mk_proto_read_debug_log_clamped(b->p, b->len, r, cap, &n, &dropped,
					     &e);
	src = mk_proto_try_read_debug_log(b->p, b->len, s, cap, &sn, &se);
	if (b->len % 4u || b->len < 4u) {
		T_FUZZ_CHECK(rc == (b->len % 4u ? -EINVAL : -ENODATA) &&
				     src == rc,
			     "debug log of %zu bytes -> %d/%d", b->len, rc,
			     src);
		T_FUZZ_CHECK_ERR(rc, &e);
		T_FUZZ_CHECK_ERR(src, &se);
		goto out_free;
	}
	cursor = rd_word(b, 0);
	capw = b->len / 4u - 1u;
	used = cursor < capw ? cursor : capw;
	want = used / 4u < cap ? used / 4u : cap;
	T_FUZZ_CHECK(rc == 0, "clamped -> %d", rc);
	T_FUZZ_CHECK(n <= cap && n <= capw / 4u && n == want,
		     "clamped: %zu records, cap %zu, capacity %zu, want %zu", n,
		     cap, capw / 4u, want);
	T_FUZZ_CHECK(dropped == (cursor > capw ? (cursor - capw) / 4u : 0u),
		     "dropped %u for cursor %u, capacity %zu words", dropped,
		     cursor, capw);
	rd_check_records(b, r, n);
	if (cursor > capw || cursor % 4u) {
		T_FUZZ_CHECK(src == -ENODATA, "strict, cursor %u -> %d", cursor,
			     src);
		T_FUZZ_CHECK_ERR(src, &se);
	} else {
		T_FUZZ_CHECK(src == 0 && sn == n && dropped == 0 &&
				     memcmp(s, r, n * sizeof(*r)) == 0,
			     "strict and clamped disagree");
	}
out_free:
	free(s);
	free(r);
}

static void rd_validators(size_t len, uint32_t slots)
{
	struct mk_err e;
	int rc;

	mk_err_clear(&e);
	rc = mk_proto_validate_control_bytes(len, &e);
	T_FUZZ_CHECK(!rc == (len >= 640u && len % 4u == 0), "control %zu", len);
	rc = mk_proto_validate_debug_log_bytes(len, &e);
	T_FUZZ_CHECK(!rc == (len == 1028u), "debug_log %zu", len);
	rc = mk_proto_validate_ring_bytes(len, slots, &e);
	T_FUZZ_CHECK(!rc == ((uint64_t)len == (uint64_t)slots * 64u),
		     "ring %zu for %u slots", len, slots);
}

/* Every word of a fresh control buffer, per PROTOCOL.md 2.2. */
static void rd_check_encoded(const uint32_t *w, size_t words, int shutdown,
			     uint32_t tenants)
{
	uint32_t i, want;

	for (i = 0; i < words; i++) {
		want = 0;
		if (i == MK_CTL_SHUTDOWN)
			want = shutdown ? 1u : 0u;
		else if (i == MK_CTL_TENANT_BASE)
			want = MK_CTL_TENANT_MASK_DEFAULT;
		else if (i >= MK_CTL_TENANT_MASK_DEFAULT &&
			 i < MK_CTL_TENANT_QUOTA_BASE &&
			 i - MK_CTL_TENANT_MASK_DEFAULT < tenants)
			want = MK_TENANT_MASK_ALL;
		else if (i >= MK_CTL_TENANT_QUOTA_BASE &&
			 i < MK_CTL_TENANT_FAIRNESS_BASE &&
			 i - MK_CTL_TENANT_QUOTA_BASE < tenants)
			want = MK_TENANT_QUOTA_DEFAULT;
		T_FUZZ_CHECK(w[i] == want, "encoded control word %u = %u, want %u",
			     i, w[i], want);
	}
}

static void rd_check_offsets(uint32_t *w, size_t len, uint32_t slots)
{
	const uint32_t *o = &w[MK_CTL_PRIORITY_OFFSETS_BASE];
	uint32_t p, size;
	struct mk_err e;
	int rc;

	mk_err_clear(&e);
	rc = mk_proto_write_default_priority_offsets(w, len, slots, &e);
	T_FUZZ_CHECK(rc == 0, "write offsets -> %d", rc);
	T_FUZZ_CHECK(o[0] == 0 && o[MK_PRIORITY_LEVELS] == slots,
		     "offsets span %u..%u for %u slots", o[0],
		     o[MK_PRIORITY_LEVELS], slots);
	for (p = 0; p < MK_PRIORITY_LEVELS; p++) {
		size = o[p + 1] - o[p];
		T_FUZZ_CHECK(o[p + 1] >= o[p] &&
				     size == slots / 5u +
						     (p == MK_PRIORITY_NORMAL ?
							      slots % 5u :
							      0u),
			     "partition %u has %u of %u slots", p, size, slots);
	}
}

/* Encoders driven by the buffer's own bytes. */
static void rd_encoders(const struct rd_buf *b)
{
	struct t_in in = { b->p, b->len };
	uint32_t obs = t_in_edge_u32(&in), tenants = t_in_edge_u32(&in);
	uint32_t slots = t_in_edge_u32(&in);
	int shutdown = t_in_u8(&in) & 1, rc;
	size_t need = 0, cap, len = 0;
	struct mk_err e;
	uint32_t *w;

	rc = mk_proto_control_byte_len(obs, &need);
	T_FUZZ_CHECK(rc == (obs > MK_MAX_OBSERVABLE_SLOTS ? -EOVERFLOW : 0) &&
			     (rc || need == 4u * (160u + (size_t)obs)),
		     "control_byte_len(%u) -> %d, %zu", obs, rc, need);
	if (rc || obs > 4096u)
		need = 4u * (160u + 4096u); /* a buffer of the cap's size */
	cap = need - 4u * (t_in_u8(&in) % 2u);
	w = t_fuzz_alloc(cap);
	memset(w, 0x5a, cap);
	mk_err_clear(&e);
	rc = mk_proto_encode_control_into(w, cap, shutdown, tenants, obs, &len,
					  &e);
	T_FUZZ_CHECK(rc == (obs > MK_MAX_ENCODED_OBSERVABLE_SLOTS ||
				    cap < 4u * (160u + (uint64_t)obs) ?
			    -EOVERFLOW :
			    0),
		     "encode_control(obs %u, cap %zu) -> %d", obs, cap, rc);
	if (rc) {
		T_FUZZ_CHECK_ERR(rc, &e);
		for (len = 0; len < cap / 4u; len++)
			T_FUZZ_CHECK(w[len] == 0x5a5a5a5au,
				     "failed encode wrote word %zu", len);
	} else {
		T_FUZZ_CHECK(len == need && cap >= need, "encoded %zu of %zu",
			     len, need);
		rd_check_encoded(w, len / 4u, shutdown, tenants);
		rd_check_offsets(w, len, slots);
	}
	free(w);
}

static void fuzz_readers_one(const uint8_t *data, size_t size)
{
	struct t_in in = { data, size };
	uint8_t head = t_in_u8(&in);
	struct t_in args;
	struct rd_buf b;

	/* 8 bytes of parameters, the rest is the buffer. */
	args = in;
	args.n = in.n < 8 ? in.n : 8;
	in.p += args.n;
	in.n -= args.n;
	b.len = in.n;
	b.raw = t_fuzz_alloc(b.len + 3u);
	b.p = b.raw + (head & 3u);
	memcpy(b.p, in.p, b.len);
	b.copy = t_fuzz_alloc(b.len);
	memcpy(b.copy, b.p, b.len);
	rd_control(&b, &args);
	rd_metrics(&b);
	rd_debug_log(&b, &args);
	rd_validators(b.len, t_in_edge_u32(&args));
	rd_encoders(&b);
	T_FUZZ_CHECK(memcmp(b.copy, b.p, b.len) == 0, "a reader wrote its input");
	free(b.copy);
	free(b.raw);
}

MK_FUZZ_ENTRY(fuzz_readers_one)
