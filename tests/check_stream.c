/* SPDX-License-Identifier: MIT */
/*
 * tests/check_stream.c - files streamed through the running megakernel
 * (io_uring reader -> SCAN_CHUNK slots -> merged counts and hits), checked
 * against a brute-force oracle in this file: matches straddling chunk
 * boundaries, overlapping matches, prefix/suffix patterns, bytes 0x00/0xFF,
 * empty and 1-byte files, sizes not a multiple of the chunk, files larger
 * than all staging buffers together, 1 and 1,000 patterns, binary DFAs
 * (carry-state streaming), truncation while streaming, cancel, concurrent
 * streams beside concurrent ring commands, and DFA_STEP. TCase "cpu" runs
 * them on the CPU backend; TCase "cuda" (tag gpu, added only when a CUDA
 * device is usable and gpu cases are not excluded) runs the same on cuda.
 *   build/release/tests/check_stream
 *   CK_INCLUDE_TAGS=gpu build/release/tests/check_stream   (GPU machine)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/stream.h"
#include "runtime/uring.h"
#include "runtime/wake.h"
#include "tests/mk_check.h"
#include "tests/t_scan.h"
#include "tests/t_cuda.h"
#include "tests/t_runtime.h"

struct pats {
	uint8_t p[1000][16];
	uint32_t len[1000];
	uint32_t n;
};

static struct mk_runtime *rt;
static struct mk_scan_pool *pool;
static char path[64];
static uint32_t nbufs; /* staging buffers of check_equal's streams; 0 = default */

static void setup_on(const char *backend)
{
	struct mk_err err;

	rt = t_rt_start(backend, 64, MK_SCHED_SHARDED, 0);
	ck_assert_int_eq(mk_scan_pool_create(rt, &pool, &err), 0);
	snprintf(path, sizeof(path), "/tmp/mk-stream.XXXXXX");
	close(mkstemp(path));
}

static void setup(void)
{
	setup_on("cpu");
}

static void setup_cuda(void)
{
	unsetenv("MEGAFS_CUDA_SCAN"); /* the default: the GPU scan is on */
	setup_on("cuda");
}

static void teardown(void)
{
	mk_scan_pool_destroy(pool);
	mk_runtime_destroy(rt);
	unlink(path);
}

static void write_file(const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* Literals text of the pattern set, every byte escaped as \xHH. */
static struct mk_dfa *compile(const struct pats *ps)
{
	char *text = malloc(ps->n * (16 * 4 + 1) + 1), *t = text;
	struct mk_dfa *d = NULL;
	struct mk_err err;
	uint32_t i, j;

	for (i = 0; i < ps->n; i++) {
		for (j = 0; j < ps->len[i]; j++)
			t += sprintf(t, "\\x%02x", ps->p[i][j]);
		*t++ = '\n';
	}
	ck_assert_int_eq(mk_dfa_compile_literals(text, (size_t)(t - text), &d, &err), 0);
	free(text);
	return d;
}

/* Oracle: every (pattern, end) pair, sorted like the stream's hits. */
static uint64_t oracle(const struct pats *ps, const uint8_t *buf, size_t len,
		       struct mk_scan_hit *first, size_t cap, size_t *nfirst)
{
	uint64_t total = 0;
	size_t pos, n = 0;
	uint32_t i;

	for (pos = 1; pos <= len; pos++) /* in end-offset order */
		for (i = 0; i < ps->n; i++) {
			if (ps->len[i] > pos ||
			    memcmp(buf + pos - ps->len[i], ps->p[i], ps->len[i]))
				continue;
			total++;
			if (n < cap) {
				first[n].pattern = i;
				first[n].end_offset = pos;
				n++;
			}
		}
	*nfirst = n;
	return total;
}

/*
 * Wait until @s leaves state=running. Bounded (T_STREAM_WAIT_S, generous
 * enough for valgrind on a slow 2-core machine): a stream that never ends
 * fails the test with its progress instead of hanging the suite.
 */
#define T_STREAM_WAIT_S 300
static void wait_stream(struct mk_stream *s, struct mk_stream_progress *pr)
{
	int64_t deadline = mk_now_ns() + (int64_t)T_STREAM_WAIT_S * 1000000000;

	for (;;) {
		mk_stream_progress(s, pr);
		if (pr->state != MK_STREAM_RUNNING)
			return;
		ck_assert_msg(mk_now_ns() < deadline,
			      "stream still running after %d s: bytes=%llu of %llu",
			      T_STREAM_WAIT_S, (unsigned long long)pr->bytes,
			      (unsigned long long)pr->total);
		mk_runtime_wait_progress(rt, mk_runtime_progress(rt), 1000000);
	}
}

static struct mk_stream_progress run_stream(int set, size_t size, uint32_t chunk,
					    uint32_t max_hits)
{
	struct mk_stream_params p = { 0 };
	struct mk_stream_progress pr;
	struct mk_stream *s = NULL;
	struct mk_err err;
	uint64_t fsize;

	p.fd = mk_uring_open_source(path, &fsize, &err);
	ck_assert_int_ge(p.fd, 0);
	ck_assert_uint_eq(fsize, size);
	p.size = size;
	p.set = set;
	p.chunk_bytes = chunk;
	p.max_hits = max_hits;
	ck_assert_msg(mk_stream_start(pool, &p, &s, &err) == 0, "%s", err.msg);
	wait_stream(s, &pr);
	mk_stream_destroy(s);
	return pr;
}

/* Stream @buf and compare counts and every kept hit with the oracle. */
static void check_equal(const struct pats *ps, const uint8_t *buf, size_t len,
			uint32_t chunk, uint32_t max_hits)
{
	struct mk_scan_hit *want = calloc(max_hits + 1, sizeof(*want));
	struct mk_scan_hit *got = calloc(max_hits + 1, sizeof(*got));
	struct mk_stream_params p = { 0 };
	struct mk_stream_progress pr;
	struct mk_dfa *d = compile(ps);
	struct mk_stream *s = NULL;
	struct mk_err err;
	uint64_t total, dropped, fsize;
	size_t nwant, ngot, i;
	int set;

	write_file(buf, len);
	total = oracle(ps, buf, len, want, max_hits, &nwant);
	set = mk_scan_pool_add_set(pool, d, &err);
	ck_assert_int_ge(set, 0);
	p.fd = mk_uring_open_source(path, &fsize, &err);
	p.size = fsize;
	p.set = set;
	p.chunk_bytes = chunk;
	p.max_hits = max_hits;
	p.nbufs = nbufs;
	ck_assert_msg(mk_stream_start(pool, &p, &s, &err) == 0, "%s", err.msg);
	wait_stream(s, &pr);
	ck_assert_str_eq(mk_stream_state_name(pr.state), "done");
	ck_assert_uint_eq(pr.matches, total);
	ck_assert_uint_eq(pr.bytes, len);
	ngot = mk_stream_hits(s, got, max_hits, &dropped);
	ck_assert_uint_eq(ngot, nwant);
	ck_assert_uint_eq(dropped, total - nwant);
	for (i = 0; i < ngot; i++) {
		ck_assert_uint_eq(got[i].end_offset, want[i].end_offset);
		ck_assert_uint_eq(got[i].pattern, want[i].pattern);
	}
	mk_stream_destroy(s);
	ck_assert_int_eq(mk_scan_pool_remove_set(pool, set, &err), 0);
	mk_dfa_destroy(d);
	free(want);
	free(got);
}

static void add_pat(struct pats *ps, const char *s, size_t n)
{
	memcpy(ps->p[ps->n], s, n);
	ps->len[ps->n++] = (uint32_t)n;
}

START_TEST(test_stream_boundaries_overlaps_prefixes)
{
	static struct pats ps;
	size_t len = 4096 * 5 + 123, i;
	uint8_t *buf = malloc(len);

	ps.n = 0;
	add_pat(&ps, "needle", 6);
	add_pat(&ps, "need", 4);      /* prefix of another */
	add_pat(&ps, "dle", 3);       /* suffix of another */
	add_pat(&ps, "aaaa", 4);      /* overlapping */
	add_pat(&ps, "\x00\xff\x00", 3);
	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)"abcdaaaaane\x00\xff"[rand() % 13];
	for (i = 1; i < 5; i++) /* straddle every chunk boundary */
		memcpy(buf + i * 4096 - 3, "needle", 6);
	memcpy(buf + len - 6, "needle", 6);
	check_equal(&ps, buf, len, 4096, 1000);
	check_equal(&ps, buf, len, 4096, 7); /* most hits dropped */
	check_equal(&ps, buf, len, 8192, 0);
	nbufs = 1; /* one chunk at a time */
	check_equal(&ps, buf, len, 4096, 1000);
	nbufs = MK_STREAM_MAX_BUFS; /* more buffers than chunks */
	check_equal(&ps, buf, len, 4096, 1000);
	nbufs = 0;
	free(buf);
}
END_TEST

START_TEST(test_stream_tiny_files)
{
	static struct pats ps;
	uint8_t one = 'x';

	ps.n = 0;
	add_pat(&ps, "x", 1);
	add_pat(&ps, "xy", 2);
	check_equal(&ps, &one, 0, 4096, 10);
	check_equal(&ps, &one, 1, 4096, 10);
}
END_TEST

/* 1 MiB through 4 x 4 KiB staging buffers, 1,000 random patterns. */
START_TEST(test_stream_large_file_many_patterns)
{
	static struct pats ps;
	size_t len = (1u << 20) + 77, i;
	uint8_t *buf = malloc(len);
	uint32_t k;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(rand() % 4); /* small alphabet: many matches */
	ps.n = 0;
	for (k = 0; k < 1000; k++) {
		ps.len[k] = 3 + (uint32_t)(rand() % 9);
		for (i = 0; i < ps.len[k]; i++)
			ps.p[k][i] = (uint8_t)(rand() % 4);
	}
	ps.n = 1000;
	check_equal(&ps, buf, len, 4096, 500);
	ps.n = 1;
	check_equal(&ps, buf, len, 65536, 100);
	free(buf);
}
END_TEST

/* A binary DFA (unknown longest match) streams in order, carrying state. */
START_TEST(test_stream_binary_dfa_carries_state)
{
	static struct pats ps;
	size_t len = 4096 * 3 + 5, i;
	uint8_t *buf = malloc(len);
	struct mk_dfa *lit, *bin = NULL;
	struct mk_stream_progress pr;
	struct mk_scan_hit dummy[1];
	struct mk_err err;
	size_t nf;
	int set;

	ps.n = 0;
	add_pat(&ps, "abcab", 5);
	add_pat(&ps, "bca", 3);
	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)"abc"[rand() % 3];
	memcpy(buf + 4096 - 2, "abcab", 5);
	write_file(buf, len);
	lit = compile(&ps);
	bin = t_binary_of(lit);
	set = mk_scan_pool_add_set(pool, bin, &err);
	pr = run_stream(set, len, 4096, 10);
	ck_assert_str_eq(mk_stream_state_name(pr.state), "done");
	ck_assert_uint_eq(pr.matches, oracle(&ps, buf, len, dummy, 0, &nf));
	mk_scan_pool_remove_set(pool, set, NULL);
	mk_dfa_destroy(bin);
	mk_dfa_destroy(lit);
	free(buf);
}
END_TEST

START_TEST(test_stream_errors)
{
	static struct pats ps;
	struct mk_stream_params p = { 0 };
	struct mk_stream *s = NULL;
	struct mk_err err;
	struct mk_dfa *d;
	uint64_t fsize;
	int set;

	ps.n = 0;
	add_pat(&ps, "z", 1);
	d = compile(&ps);
	set = mk_scan_pool_add_set(pool, d, &err);
	write_file((const uint8_t *)"zzz", 3);
	p.fd = mk_uring_open_source(path, &fsize, &err);
	p.size = fsize;
	p.set = set;
	p.chunk_bytes = 100; /* below the minimum */
	p.max_hits = 1;
	ck_assert_int_eq(mk_stream_start(pool, &p, &s, &err), -EINVAL);
	t_assert_fix(err.msg);
	p.chunk_bytes = 4096;
	p.set = set + 1; /* no such set */
	ck_assert_int_eq(mk_stream_start(pool, &p, &s, &err), -ENOENT);
	t_assert_fix(err.msg);
	p.set = set;
	p.max_hits = MK_SCAN_HITS_CAP + 1;
	ck_assert_int_eq(mk_stream_start(pool, &p, &s, &err), -EINVAL);
	t_assert_fix(err.msg);
	p.max_hits = 1;
	p.nbufs = MK_STREAM_MAX_BUFS + 1;
	ck_assert_int_eq(mk_stream_start(pool, &p, &s, &err), -EINVAL);
	t_assert_fix(err.msg);
	close(p.fd);
	ck_assert_int_lt(mk_uring_open_source("/tmp", &fsize, &err), 0);
	t_assert_fix(err.msg);
	ck_assert_int_lt(mk_uring_open_source("relative", &fsize, &err), 0);
	t_assert_fix(err.msg);
	mk_scan_pool_remove_set(pool, set, NULL);
	mk_dfa_destroy(d);
}
END_TEST

/* The file shrinks while streaming: state=failed with a Fix:, no hang. */
START_TEST(test_stream_truncated_while_streaming)
{
	static struct pats ps;
	size_t len = 64u << 20;
	struct mk_stream_params p = { 0 };
	struct mk_stream_progress pr;
	struct mk_stream *s = NULL;
	struct mk_err err;
	struct mk_dfa *d;
	uint64_t fsize;
	int fd;

	ps.n = 0;
	add_pat(&ps, "q", 1);
	d = compile(&ps);
	fd = open(path, O_WRONLY);
	ck_assert_int_eq(ftruncate(fd, (off_t)len), 0);
	p.fd = mk_uring_open_source(path, &fsize, &err);
	p.size = fsize;
	p.set = mk_scan_pool_add_set(pool, d, &err);
	p.chunk_bytes = 4096;
	ck_assert_int_eq(mk_stream_start(pool, &p, &s, &err), 0);
	ck_assert_int_eq(ftruncate(fd, 8192), 0);
	close(fd);
	wait_stream(s, &pr);
	/* A race: the stream may finish 64 MiB before the truncate lands. */
	if (pr.state != MK_STREAM_DONE) {
		ck_assert_str_eq(mk_stream_state_name(pr.state), "failed");
		t_assert_fix(pr.error);
	}
	mk_stream_destroy(s);
	mk_scan_pool_remove_set(pool, p.set, NULL);
	mk_dfa_destroy(d);
}
END_TEST

START_TEST(test_stream_cancel_and_concurrent_ring)
{
	static struct pats ps;
	size_t len = 32u << 20;
	struct mk_stream_params p[2];
	struct mk_stream_progress pr;
	struct mk_stream *s[2] = { NULL, NULL };
	uint32_t args[2] = { 1, MK_CTL_OBSERVABLE_BASE + 9 };
	struct mk_err err;
	struct mk_dfa *d;
	uint64_t fsize;
	int fd, i, k;

	ps.n = 0;
	add_pat(&ps, "\x00\x00", 2);
	d = compile(&ps);
	fd = open(path, O_WRONLY);
	ck_assert_int_eq(ftruncate(fd, (off_t)len), 0); /* zeros */
	close(fd);
	for (i = 0; i < 2; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].fd = mk_uring_open_source(path, &fsize, &err);
		p[i].size = fsize;
		p[i].set = i == 0 ? mk_scan_pool_add_set(pool, d, &err) : p[0].set;
		p[i].chunk_bytes = 1u << 20;
		p[i].max_hits = 3;
		ck_assert_int_eq(mk_stream_start(pool, &p[i], &s[i], &err), 0);
	}
	/*
	 * Ring commands keep flowing. Slots 0-3: streams reserve from the
	 * top of the ring, and a retry loop on a slot a stream holds would
	 * spin (its slot is DONE until the stream harvests it).
	 */
	for (k = 0; k < 2000; k++) {
		uint32_t slot = (uint32_t)k % 4;

		if (k >= 4) /* its previous command */
			ck_assert_int_eq(mk_runtime_wait(rt, slot, T_WAIT_NS), 0);
		ck_assert_int_eq(mk_runtime_publish(rt, slot, 0, MK_OP_ATOMIC_ADD,
						    args, 2, NULL), 0);
	}
	mk_stream_cancel(s[1]);
	wait_stream(s[0], &pr);
	ck_assert_str_eq(mk_stream_state_name(pr.state), "done");
	ck_assert_uint_eq(pr.matches, len - 1);
	mk_stream_destroy(s[1]); /* cancelled mid-stream: no leak, no hang */
	mk_stream_destroy(s[0]);
	for (k = 0; k < 4; k++)
		ck_assert_int_eq(mk_runtime_wait(rt, (uint32_t)k, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_OBSERVABLE_BASE + 9), 2000);
	mk_scan_pool_remove_set(pool, p[0].set, NULL);
	mk_dfa_destroy(d);
}
END_TEST

/*
 * Streams cancelled and destroyed while the kernel is stopped leave their
 * published chunks there, with buffers and slots reserved (orphans); once
 * the kernel ran them, the pool takes both back. Ten rounds of 8 buffers
 * would exhaust the 64-buffer pool (and the 64-slot ring) if it did not.
 */
START_TEST(test_stream_cancel_while_stopped_reclaims)
{
	static struct pats ps;
	size_t len = 32u << 20;
	struct mk_stream_params p;
	struct mk_stream_progress pr;
	struct mk_stream *s = NULL;
	struct mk_err err;
	struct mk_dfa *d;
	uint64_t fsize;
	uint32_t orphans = 0;
	int64_t deadline;
	int fd, set, round;

	ps.n = 0;
	add_pat(&ps, "\x00\x00", 2);
	d = compile(&ps);
	set = mk_scan_pool_add_set(pool, d, &err);
	ck_assert_int_ge(set, 0);
	fd = open(path, O_WRONLY);
	ck_assert_int_eq(ftruncate(fd, (off_t)len), 0); /* zeros */
	close(fd);
	for (round = 0; round < 10; round++) {
		memset(&p, 0, sizeof(p));
		p.fd = mk_uring_open_source(path, &fsize, &err);
		p.size = fsize;
		p.set = set;
		p.chunk_bytes = 1u << 20;
		ck_assert_msg(mk_stream_start(pool, &p, &s, &err) == 0,
			      "round %d: %s", round, err.msg);
		do
			mk_stream_progress(s, &pr);
		while (pr.bytes == 0 && pr.state == MK_STREAM_RUNNING);
		ck_assert_int_eq(mk_runtime_stop(rt), 0);
		mk_stream_cancel(s);
		mk_stream_destroy(s);
		orphans += mk_scan_pool_orphans(pool);
		ck_assert_int_eq(mk_runtime_start(rt, NULL), 0);
	}
	ck_assert_uint_gt(orphans, 0); /* the path under test was taken */
	deadline = mk_now_ns() + (int64_t)T_STREAM_WAIT_S * 1000000000;
	while (mk_scan_pool_reap(pool) > 0) {
		ck_assert(mk_now_ns() < deadline);
		mk_runtime_wait_progress(rt, mk_runtime_progress(rt), 1000000);
	}
	pr = run_stream(set, len, 1u << 20, 0);
	ck_assert_str_eq(mk_stream_state_name(pr.state), "done");
	ck_assert_uint_eq(pr.matches, len - 1);
	ck_assert_int_eq(mk_scan_pool_remove_set(pool, set, NULL), 0);
	mk_dfa_destroy(d);
}
END_TEST

/* DFA_STEP: observable a2 := next[a0 * 256 + (a1 & 0xFF)] of set a3. */
START_TEST(test_stream_dfa_step_opcode)
{
	static struct pats ps;
	struct mk_dfa_view v;
	struct mk_dfa *d;
	uint32_t a[4];
	int set;

	ps.n = 0;
	add_pat(&ps, "ab", 2);
	d = compile(&ps);
	set = mk_scan_pool_add_set(pool, d, NULL);
	v = mk_dfa_view(d);
	a[0] = 0; a[1] = 0x100 + 'a'; a[2] = 3; a[3] = (uint32_t)set;
	t_run(rt, 0, MK_OP_DFA_STEP, a, 4);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_OBSERVABLE_BASE + 3), v.next['a']);
	ck_assert_uint_ne(v.next['a'], 0);
	a[0] = v.next['a']; a[1] = 'b'; a[2] = 4;
	t_run(rt, 1, MK_OP_DFA_STEP, a, 4);
	ck_assert_uint_eq(v.accept[t_ctl(rt, MK_CTL_OBSERVABLE_BASE + 4)], 1);
	a[3] = 63; a[2] = 5; /* no such set: the reference's metered no-op */
	t_run(rt, 2, MK_OP_DFA_STEP, a, 4);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_OBSERVABLE_BASE + 5), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_METRICS_BASE + MK_OP_DFA_STEP), 3);
	mk_scan_pool_remove_set(pool, set, NULL);
	mk_dfa_destroy(d);
}
END_TEST

/* ---- DFA_STEP while its set is replaced ------------------------------------ */

#define STEP_BATCH 32u /* slots per batch of DFA_STEP commands */
#define SWAPS 2000     /* replacements of the set while they run */

struct stepper {
	uint32_t set, state; /* the last state of the large set */
	int stop;            /* atomic */
	uint64_t ran;        /* commands published and seen DONE */
};

/* Batches of DFA_STEP on @st->set, a0 = a state only the large set has. */
static void *stepper_main(void *arg)
{
	struct stepper *st = arg;
	struct mk_slot img[STEP_BATCH];
	uint32_t i;

	memset(img, 0, sizeof(img));
	for (i = 0; i < STEP_BATCH; i++) {
		img[i].status = MK_SLOT_PUBLISHED;
		img[i].opcode = MK_OP_DFA_STEP;
		img[i].priority = MK_PRIORITY_NORMAL;
		img[i].args[0] = st->state;
		img[i].args[1] = 'a';
		img[i].args[2] = 6;
		img[i].args[3] = st->set;
	}
	while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE)) {
		ck_assert_int_eq(mk_runtime_publish_images(rt, 0, img, STEP_BATCH,
							   NULL), 0);
		ck_assert_int_eq(mk_runtime_wait(rt, STEP_BATCH - 1, T_WAIT_NS), 0);
		for (i = 0; i < STEP_BATCH; i++)
			ck_assert_int_eq(mk_runtime_wait(rt, i, T_WAIT_NS), 0);
		st->ran += STEP_BATCH;
	}
	return NULL;
}

/* A set of @n 8-byte patterns (about 8n states); n = 1: "ab". */
static struct mk_dfa *set_of(uint32_t n)
{
	static struct pats ps;
	uint32_t i, j;

	ps.n = 0;
	if (n == 1)
		add_pat(&ps, "ab", 2);
	for (i = 0; n > 1 && i < n; i++) {
		char p[8];

		for (j = 0; j < 8; j++)
			p[j] = (char)('a' + (i * 7 + j * 13) % 26);
		add_pat(&ps, p, 8);
	}
	return compile(&ps);
}

/*
 * The set a stream of DFA_STEP commands names is replaced, large and small
 * in turn, and each replaced table freed at once (as megafs does): a step
 * must never pair one table with another's state count, nor read a freed
 * one (ASan, TSan and valgrind run this), and every command runs once.
 */
START_TEST(test_stream_dfa_step_while_replaced)
{
	struct stepper st = { 0 };
	struct mk_dfa *cur = set_of(40), *next;
	pthread_t th;
	int i, set;

	set = mk_scan_pool_add_set(pool, cur, NULL);
	ck_assert_int_ge(set, 0);
	st.set = (uint32_t)set;
	st.state = mk_dfa_states(cur) - 1;
	ck_assert_uint_gt(st.state, 100);
	ck_assert_int_eq(pthread_create(&th, NULL, stepper_main, &st), 0);
	for (i = 0; i < SWAPS; i++) {
		next = set_of(i % 2 ? 40 : 1);
		ck_assert_int_eq(mk_scan_pool_replace_set(pool, set, next, NULL), 0);
		mk_dfa_destroy(cur);
		cur = next;
	}
	__atomic_store_n(&st.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	ck_assert_uint_gt(st.ran, 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_METRICS_BASE + MK_OP_DFA_STEP), st.ran);
	/* The last step's result: a state of the large set (its own next
	 * state) or 0 (the small set: a0 past its table), nothing else. */
	ck_assert_uint_le(t_ctl(rt, MK_CTL_OBSERVABLE_BASE + 6), st.state);
	mk_scan_pool_remove_set(pool, set, NULL);
	mk_dfa_destroy(cur);
}
END_TEST

static void add_tests(TCase *tc)
{
	tcase_add_test(tc, test_stream_boundaries_overlaps_prefixes);
	tcase_add_test(tc, test_stream_tiny_files);
	tcase_add_test(tc, test_stream_large_file_many_patterns);
	tcase_add_test(tc, test_stream_binary_dfa_carries_state);
	tcase_add_test(tc, test_stream_errors);
	tcase_add_test(tc, test_stream_truncated_while_streaming);
	tcase_add_test(tc, test_stream_cancel_and_concurrent_ring);
	tcase_add_test(tc, test_stream_cancel_while_stopped_reclaims);
	tcase_add_test(tc, test_stream_dfa_step_opcode);
	tcase_add_test(tc, test_stream_dfa_step_while_replaced);
}

/* The cuda TCase only where it can run: a usable device, gpu not excluded. */
static int want_cuda(void)
{
	const char *ex = getenv("CK_EXCLUDE_TAGS");

	return !(ex && strstr(ex, "gpu")) && t_cuda_present();
}

static Suite *stream_suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("cpu");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	add_tests(tc);
	suite_add_tcase(s, tc);
	if (!want_cuda())
		return s;
	tc = tcase_create("cuda");
	tcase_set_tags(tc, "gpu");
	tcase_add_checked_fixture(tc, setup_cuda, teardown);
	tcase_set_timeout(tc, 300);
	add_tests(tc);
	suite_add_tcase(s, tc);
	return s;
}

MK_CHECK_MAIN(stream_suite)
