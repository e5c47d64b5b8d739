/* SPDX-License-Identifier: MIT */
/*
 * tests/check_uring.c - runtime/uring.[ch]: the chunked io_uring reader.
 * Sizes 0, 1, chunk-1, chunk, chunk+1 and larger than all buffers, every
 * byte checked against its file offset (overlaps included), out-of-order
 * release, short reads, O_DIRECT, cancel mid-stream, truncation while
 * streaming, read errors, bad fds, directories and FIFOs, permissions, the
 * RLIMIT_MEMLOCK fallback to plain READ, and exact DFA counts over chunks.
 * Exits 77 if io_uring_queue_init fails with ENOSYS/EPERM.
 * Run: ./build/release/tests/check_uring
 *      CK_FORK=no valgrind --leak-check=full ./build/release/tests/check_uring
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/dfa.h"
#include "runtime/fault.h"
#include "runtime/uring.h"
#include "tests/mk_check.h"

#define KIB ((size_t)1024)
#define MIB (1024 * KIB)
#define T_WAIT_NS (5ll * 1000000000ll)

static char t_dir[64];

/* ---- fixture and helpers ------------------------------------------------- */

static void t_setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(t_dir, sizeof(t_dir), "%s/mk-uring-XXXXXX",
		 base && strlen(base) < 40 ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(t_dir));
}

static void t_teardown(void)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", t_dir);
}

/* The byte every file holds at offset @off: a hash, so a misplaced chunk
 * or overlap never verifies by accident. */
static uint8_t t_byte_at(uint64_t off)
{
	uint64_t x = off * 0x9E3779B97F4A7C15ull;

	return (uint8_t)(x >> 56 ^ x >> 29);
}

static void t_path(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", t_dir, name);
}

/* Create file @name of @size bytes; return an O_RDONLY fd to it. */
static int t_file(const char *name, uint64_t size)
{
	uint8_t *blk = malloc(MIB);
	char path[128];
	uint64_t off = 0;
	size_t i, n;
	int fd;

	ck_assert_ptr_nonnull(blk);
	t_path(path, sizeof(path), name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	while (off < size) {
		n = size - off < MIB ? (size_t)(size - off) : MIB;
		for (i = 0; i < n; i++)
			blk[i] = t_byte_at(off + i);
		ck_assert_int_eq(write(fd, blk, n), (ssize_t)n);
		off += n;
	}
	close(fd);
	free(blk);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

struct t_pool {
	uint8_t *buf[16];
	uint32_t n;
	size_t cap;
};

static void t_pool_init(struct t_pool *pl, uint32_t n, size_t cap)
{
	uint32_t i;

	ck_assert_uint_le(n, 16);
	pl->n = n;
	pl->cap = cap;
	for (i = 0; i < n; i++) {
		void *p = NULL;

		ck_assert_int_eq(posix_memalign(&p, MK_URING_DIRECT_ALIGN,
						cap ? cap : 1), 0);
		memset(p, 0, cap); /* valgrind does not see kernel writes */
		pl->buf[i] = p;
	}
}

static void t_pool_fini(struct t_pool *pl)
{
	uint32_t i;

	for (i = 0; i < pl->n; i++)
		free(pl->buf[i]);
}

static struct mk_uring_params t_params(int fd, uint64_t size, size_t chunk,
				       size_t overlap, struct t_pool *pl)
{
	struct mk_uring_params p;

	memset(&p, 0, sizeof(p));
	p.fd = fd;
	p.file_size = size;
	p.chunk_bytes = chunk;
	p.overlap_bytes = overlap;
	p.bufs = pl->buf;
	p.nbuf = pl->n;
	p.buf_cap = pl->cap;
	return p;
}

static struct mk_uring_reader *t_reader(const struct mk_uring_params *p)
{
	struct mk_uring_reader *r = NULL;
	struct mk_err err;
	int rc = mk_uring_reader_create(p, &r, &err);

	ck_assert_msg(rc == 0, "create: %d %s", rc, mk_err_msg(&err));
	return r;
}

/* Check chunk @c against the geometry of @p (overlap at least @min_ov,
 * exactly it unless O_DIRECT rounded it) and the file contents. */
static void t_verify_chunk(const struct mk_uring_params *p,
			   const struct mk_chunk *c, int exact_overlap)
{
	uint64_t own = c->index * p->chunk_bytes;
	uint64_t end = own + p->chunk_bytes < p->file_size
			       ? own + p->chunk_bytes
			       : p->file_size;
	size_t want_ov = own < p->overlap_bytes ? (size_t)own
						: p->overlap_bytes;
	size_t i;

	ck_assert_uint_lt(c->index, (p->file_size + p->chunk_bytes - 1) /
					    p->chunk_bytes);
	ck_assert_uint_lt(c->buf_id, p->nbuf);
	ck_assert_ptr_eq(c->data, p->bufs[c->buf_id]);
	if (exact_overlap)
		ck_assert_uint_eq(c->overlap, want_ov);
	else
		ck_assert_uint_ge(c->overlap, want_ov);
	ck_assert_uint_le(c->overlap, own);
	ck_assert_uint_eq(c->offset, own - c->overlap);
	ck_assert_uint_eq(c->offset + c->len, end);
	ck_assert_uint_le(c->len, p->buf_cap);
	for (i = 0; i < c->len; i++)
		if (c->data[i] != t_byte_at(c->offset + i))
			ck_abort_msg("chunk %llu byte %zu (file %llu) wrong",
				     (unsigned long long)c->index, i,
				     (unsigned long long)(c->offset + i));
}

/*
 * Stream everything, verifying each chunk. @hold: chunks kept before
 * releasing them all in reverse order (1 = release at once). Returns the
 * chunk count; asserts every chunk came exactly once (and in order when
 * MK_URING_ORDERED).
 */
static uint64_t t_stream_all(const struct mk_uring_params *p, uint32_t hold)
{
	struct mk_uring_reader *r = t_reader(p);
	uint64_t n = mk_uring_reader_chunks(r), got = 0, k;
	uint8_t *seen = calloc(n + 1, 1);
	uint32_t held[16], nheld = 0;
	struct mk_chunk c;
	int rc;

	ck_assert_ptr_nonnull(seen);
	while ((rc = mk_uring_reader_next(r, &c, T_WAIT_NS)) == 1) {
		t_verify_chunk(p, &c, !(p->flags & MK_URING_TRY_DIRECT));
		ck_assert_msg(!seen[c.index], "chunk %llu twice",
			      (unsigned long long)c.index);
		if (p->flags & MK_URING_ORDERED)
			ck_assert_uint_eq(c.index, got);
		seen[c.index] = 1;
		got++;
		held[nheld++] = c.buf_id;
		if (nheld < hold && nheld < p->nbuf)
			continue;
		while (nheld)
			ck_assert_int_eq(mk_uring_reader_release(r,
							held[--nheld]), 0);
	}
	ck_assert_msg(rc == 0, "next: %d %s", rc,
		      mk_err_msg(mk_uring_reader_err(r)));
	for (k = 0; k < n; k++)
		ck_assert(seen[k]);
	ck_assert_uint_eq(got, n);
	while (nheld)
		ck_assert_int_eq(mk_uring_reader_release(r, held[--nheld]), 0);
	ck_assert_int_eq(mk_uring_reader_next(r, &c, 0), 0); /* still 0 */
	mk_uring_reader_destroy(r);
	free(seen);
	return n;
}

static void t_expect_create_error(const struct mk_uring_params *p, int code,
				  const char *needle)
{
	struct mk_uring_reader *r = NULL;
	struct mk_err err;

	mk_err_clear(&err);
	ck_assert_int_eq(mk_uring_reader_create(p, &r, &err), code);
	ck_assert_ptr_null(r);
	t_assert_fix(mk_err_msg(&err));
	ck_assert_msg(strstr(mk_err_msg(&err), needle), "'%s' lacks '%s'",
		      mk_err_msg(&err), needle);
}

/* ---- streaming ----------------------------------------------------------- */

#define T_CHUNK (64 * KIB)

static const uint64_t t_sizes[] = { 0, 1, T_CHUNK - 1, T_CHUNK, T_CHUNK + 1,
				    3 * T_CHUNK + 17 };

START_TEST(test_uring_streams_every_size)
{
	uint64_t size = t_sizes[_i];
	struct t_pool pl;
	struct mk_uring_params p;
	int fd = t_file("f", size);

	t_pool_init(&pl, 4, T_CHUNK + 100);
	p = t_params(fd, size, T_CHUNK, 100, &pl);
	ck_assert_uint_eq(t_stream_all(&p, 1), (size + T_CHUNK - 1) / T_CHUNK);
	p.flags = MK_URING_ORDERED;
	t_stream_all(&p, 1);
	p.flags = MK_URING_ASYNC; /* the same chunks through io-wq workers */
	ck_assert_uint_eq(t_stream_all(&p, 1), (size + T_CHUNK - 1) / T_CHUNK);
	p.flags = MK_URING_ASYNC | MK_URING_ORDERED;
	t_stream_all(&p, 2);
	close(fd);
	t_pool_fini(&pl);
}
END_TEST

START_TEST(test_uring_streams_file_larger_than_all_buffers)
{
	struct t_pool pl;
	struct mk_uring_params p;
	int fd = t_file("big", 8 * MIB + 5);
	struct mk_uring_reader *r;

	/* 4 x 256 KiB buffers: chunk + overlap fill each exactly. */
	t_pool_init(&pl, 4, 256 * KIB);
	p = t_params(fd, 8 * MIB + 5, 256 * KIB - 1023, 1023, &pl);
	ck_assert_uint_eq(t_stream_all(&p, 1), 33);
	p.flags = MK_URING_ORDERED;
	ck_assert_uint_eq(t_stream_all(&p, 2), 33);
	p.flags = MK_URING_ORDERED | MK_URING_ASYNC;
	ck_assert_uint_eq(t_stream_all(&p, 3), 33);
	r = t_reader(&p);
	ck_assert_ptr_nonnull(strstr(mk_uring_reader_status(r), "io-wq reads"));
	mk_uring_reader_destroy(r);
	p.flags = MK_URING_ORDERED;
	r = t_reader(&p);
	ck_assert_ptr_null(strstr(mk_uring_reader_status(r), "io-wq"));
	/* root has CAP_IPC_LOCK, so registration cannot hit a limit */
	ck_assert_ptr_nonnull(strstr(mk_uring_reader_status(r),
				     geteuid() == 0 ? "READ_FIXED" : "READ"));
	mk_uring_reader_destroy(r);
	close(fd);
	t_pool_fini(&pl);
}
END_TEST

START_TEST(test_uring_releases_out_of_order)
{
	struct t_pool pl;
	struct mk_uring_params p;
	int fd = t_file("ooo", 3 * MIB + 333);

	t_pool_init(&pl, 4, 128 * KIB + 64);
	p = t_params(fd, 3 * MIB + 333, 128 * KIB, 64, &pl);
	t_stream_all(&p, 3); /* hold 3, release newest first */
	t_stream_all(&p, 4); /* hold all 4 */
	p.flags = MK_URING_ORDERED;
	t_stream_all(&p, 4);
	close(fd);
	t_pool_fini(&pl);
}
END_TEST

START_TEST(test_uring_resubmits_short_reads)
{
	struct t_pool pl;
	struct mk_uring_params p;
	int fd = t_file("short", MIB + 99);

	t_pool_init(&pl, 3, 100 * KIB + 10);
	p = t_params(fd, MIB + 99, 100 * KIB, 10, &pl);
	p.max_io_bytes = 4096 + 7; /* every chunk completes in pieces */
	t_stream_all(&p, 2);
	p.flags = MK_URING_ASYNC;
	t_stream_all(&p, 2);
	p.flags = 0;
	p.max_io_bytes = 1;
	p.file_size = 3000;
	t_stream_all(&p, 1);
	close(fd);
	t_pool_fini(&pl);
}
END_TEST

START_TEST(test_uring_uses_o_direct_when_aligned)
{
	struct t_pool pl;
	struct mk_uring_params p;
	struct mk_uring_reader *r;
	int fd = t_file("direct", 2 * MIB + 1234);

	t_pool_init(&pl, 4, 256 * KIB + 4096);
	p = t_params(fd, 2 * MIB + 1234, 256 * KIB, 100, &pl);
	p.flags = MK_URING_TRY_DIRECT;
	r = t_reader(&p);
	/* Aligned, so O_DIRECT is tried; a file system that refuses it
	 * falls back with "reopen failed" (ext4, xfs and tmpfs take it). */
	ck_assert_msg(!strstr(mk_uring_reader_status(r), "skipped"), "%s",
		      mk_uring_reader_status(r));
	if (strstr(mk_uring_reader_status(r), "reopen failed"))
		fprintf(stderr, "note: %s\n", mk_uring_reader_status(r));
	else
		ck_assert_ptr_nonnull(strstr(mk_uring_reader_status(r),
					     ", O_DIRECT"));
	mk_uring_reader_destroy(r);
	t_stream_all(&p, 2);
	p.max_io_bytes = 8192;
	t_stream_all(&p, 1);
	/* unaligned chunk: buffered, said so */
	p.chunk_bytes = 256 * KIB - 1;
	p.max_io_bytes = 0;
	r = t_reader(&p);
	ck_assert_ptr_nonnull(strstr(mk_uring_reader_status(r), "skipped"));
	mk_uring_reader_destroy(r);
	t_stream_all(&p, 1);
	close(fd);
	t_pool_fini(&pl);
}
END_TEST

/* ---- flow control, cancel, errors ---------------------------------------- */

START_TEST(test_uring_enobufs_when_caller_holds_every_buffer)
{
	struct t_pool pl;
	struct mk_uring_params p;
	struct mk_uring_reader *r;
	struct mk_chunk c[3];
	int fd = t_file("hold", MIB);

	t_pool_init(&pl, 2, 64 * KIB);
	p = t_params(fd, MIB, 64 * KIB, 0, &pl);
	r = t_reader(&p);
	ck_assert_int_eq(mk_uring_reader_next(r, &c[0], T_WAIT_NS), 1);
	ck_assert_int_eq(mk_uring_reader_next(r, &c[1], T_WAIT_NS), 1);
	ck_assert_int_eq(mk_uring_reader_next(r, &c[2], 0), -ENOBUFS);
	t_assert_fix(mk_err_msg(mk_uring_reader_err(r)));
	ck_assert_int_eq(mk_uring_reader_release(r, c[1].buf_id), 0);
	ck_assert_int_eq(mk_uring_reader_next(r, &c[2], T_WAIT_NS), 1);
	ck_assert_uint_eq(c[2].index, 2);
	ck_assert_uint_eq(c[2].buf_id, c[1].buf_id);
	/* releasing a buffer twice, or one never handed out */
	ck_assert_int_eq(mk_uring_reader_release(r, c[2].buf_id), 0);
	ck_assert_int_eq(mk_uring_reader_release(r, c[1].buf_id), -EINVAL);
	t_assert_fix(mk_err_msg(mk_uring_reader_err(r)));
	ck_assert_int_eq(mk_uring_reader_release(r, 7), -EINVAL);
	ck_assert_int_eq(mk_uring_reader_next(r, &c[2], -1), -EINVAL);
	mk_uring_reader_destroy(r); /* with c[0] still held */
	close(fd);
	t_pool_fini(&pl);
}
END_TEST

START_TEST(test_uring_cancels_mid_stream)
{
	struct t_pool pl;
	struct mk_uring_params p;
	struct mk_uring_reader *r;
	struct mk_chunk c, d;
	int fd = t_file("cancel", 8 * MIB);

	t_pool_init(&pl, 4, 256 * KIB);
	p = t_params(fd, 8 * MIB, 256 * KIB, 0, &pl);
	p.flags = _i ? MK_URING_ASYNC : 0; /* 1: reads still in io-wq */
	r = t_reader(&p);
	ck_assert_int_eq(mk_uring_reader_next(r, &c, T_WAIT_NS), 1);
	ck_assert_int_eq(mk_uring_reader_release(r, c.buf_id), 0);
	ck_assert_int_eq(mk_uring_reader_next(r, &c, T_WAIT_NS), 1);
	ck_assert_int_eq(mk_uring_reader_next(r, &d, T_WAIT_NS), 1);
	ck_assert_int_eq(mk_uring_reader_release(r, d.buf_id), 0);
	ck_assert_int_eq(mk_uring_reader_cancel(r), 0);
	ck_assert_int_eq(mk_uring_reader_next(r, &d, T_WAIT_NS), -ECANCELED);
	t_assert_fix(mk_err_msg(mk_uring_reader_err(r)));
	t_verify_chunk(&p, &c, 1); /* a held chunk stays intact */
	ck_assert_int_eq(mk_uring_reader_cancel(r), 0); /* idempotent */
	ck_assert_int_eq(mk_uring_reader_release(r, c.buf_id), 0);
	mk_uring_reader_destroy(r);
	/* destroy alone, right after create, with every read in flight */
	r = t_reader(&p);
	mk_uring_reader_destroy(r);
	mk_uring_reader_destroy(NULL);
	close(fd);
	t_pool_fini(&pl);
}
END_TEST

/* The other fd the mid-stream actions use. */
static int t_other_fd = -1;

/* Stream, calling @mid(fd) after the first chunk; return the final rc. */
static int t_stream_with(const struct mk_uring_params *p, void (*mid)(int),
			 struct mk_uring_reader **rp)
{
	struct mk_uring_reader *r = t_reader(p);
	struct mk_chunk c;
	int rc, first = 1;

	while ((rc = mk_uring_reader_next(r, &c, T_WAIT_NS)) == 1) {
		if (first)
			mid(p->fd);
		first = 0;
		rc = mk_uring_reader_release(r, c.buf_id);
		if (rc < 0)
			break;
	}
	*rp = r;
	return rc;
}

static void t_truncate(int fd)
{
	(void)fd;
	ck_assert_int_eq(ftruncate(t_other_fd, 300 * KIB), 0);
}

START_TEST(test_uring_fails_when_file_truncated_while_streaming)
{
	struct t_pool pl;
	struct mk_uring_params p;
	struct mk_uring_reader *r;
	struct mk_chunk c;
	char path[128];
	int fd = t_file("trunc", 8 * MIB), rc;

	t_path(path, sizeof(path), "trunc");
	t_other_fd = open(path, O_WRONLY);
	ck_assert_int_ge(t_other_fd, 0);
	t_pool_init(&pl, 4, 256 * KIB + 16);
	p = t_params(fd, 8 * MIB, 256 * KIB, 16, &pl);
	rc = t_stream_with(&p, t_truncate, &r);
	ck_assert_int_eq(rc, -EIO);
	ck_assert_ptr_nonnull(strstr(mk_err_msg(mk_uring_reader_err(r)),
				     "truncated while streaming"));
	t_assert_fix(mk_err_msg(mk_uring_reader_err(r)));
	/* sticky */
	ck_assert_int_eq(mk_uring_reader_next(r, &c, 0), -EIO);
	mk_uring_reader_destroy(r);
	/* already shorter than file_size at create */
	t_expect_create_error(&p, -EIO, "fewer than");
	close(t_other_fd);
	close(fd);
	t_pool_fini(&pl);
}
END_TEST

static void t_make_unreadable(int fd)
{
	/* Same fd number, now a write-only description: reads get EBADF. */
	ck_assert_int_eq(dup2(t_other_fd, fd), fd);
}

START_TEST(test_uring_read_error_fails_the_stream)
{
	struct t_pool pl;
	struct mk_uring_params p;
	struct mk_uring_reader *r;
	char path[128];
	int fd = t_file("ebadf", 8 * MIB), rc;

	t_path(path, sizeof(path), "ebadf");
	t_other_fd = open(path, O_WRONLY);
	ck_assert_int_ge(t_other_fd, 0);
	t_pool_init(&pl, 4, 256 * KIB);
	p = t_params(fd, 8 * MIB, 256 * KIB, 0, &pl);
	rc = t_stream_with(&p, t_make_unreadable, &r);
	ck_assert_int_eq(rc, -EBADF);
	ck_assert_ptr_nonnull(strstr(mk_err_msg(mk_uring_reader_err(r)),
				     "failed: EBADF"));
	t_assert_fix(mk_err_msg(mk_uring_reader_err(r)));
	mk_uring_reader_destroy(r);
	/* a write-only fd is refused up front */
	p.fd = t_other_fd;
	t_expect_create_error(&p, -EBADF, "not open for reading");
	close(t_other_fd);
	close(fd);
	t_pool_fini(&pl);
}
END_TEST

START_TEST(test_uring_rejects_bad_fds_and_params)
{
	struct t_pool pl;
	struct mk_uring_params p;
	int fd = t_file("p", 1000), nb;
	char path[128];

	t_pool_init(&pl, 2, 4096);
	p = t_params(-1, 1000, 1000, 0, &pl);
	t_expect_create_error(&p, -EBADF, "not an open file");
	p.fd = 1000; /* not open */
	t_expect_create_error(&p, -EBADF, "not an open file");
	p.fd = fd;
	p.chunk_bytes = 0;
	t_expect_create_error(&p, -EINVAL, "chunk_bytes");
	p.chunk_bytes = 4000;
	p.overlap_bytes = 97;
	t_expect_create_error(&p, -EINVAL, "capacity");
	p.overlap_bytes = 0;
	p.nbuf = 0;
	t_expect_create_error(&p, -EINVAL, "staging buffers");
	p.nbuf = MK_URING_MAX_BUFS + 1;
	t_expect_create_error(&p, -EINVAL, "staging buffers");
	p.nbuf = 2;
	p.flags = 0x80;
	t_expect_create_error(&p, -EINVAL, "flags");
	p.flags = 0;
	t_path(path, sizeof(path), "p");
	nb = open(path, O_RDONLY | O_NONBLOCK);
	p.fd = nb;
	t_expect_create_error(&p, -EINVAL, "O_NONBLOCK");
	close(nb);
	ck_assert_int_eq(mk_uring_reader_create(NULL, NULL, NULL), -EINVAL);
	close(fd);
	t_pool_fini(&pl);
}
END_TEST

START_TEST(test_uring_rejects_directories_and_fifos)
{
	struct t_pool pl;
	struct mk_uring_params p;
	struct mk_err err;
	char path[128];
	uint64_t size;
	int fd;

	t_pool_init(&pl, 1, 4096);
	fd = open(t_dir, O_RDONLY | O_DIRECTORY);
	p = t_params(fd, 0, 4096, 0, &pl);
	t_expect_create_error(&p, -EISDIR, "not a regular file");
	close(fd);
	t_path(path, sizeof(path), "fifo");
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	fd = open(path, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(fd, 0);
	p.fd = fd;
	t_expect_create_error(&p, -EINVAL, "not a regular file (a FIFO)");
	close(fd);
	/* the opener refuses them too, without blocking on the FIFO */
	ck_assert_int_eq(mk_uring_open_source(path, &size, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(mk_err_msg(&err), "not a regular file"));
	t_assert_fix(mk_err_msg(&err));
	ck_assert_int_eq(mk_uring_open_source(t_dir, &size, &err), -EISDIR);
	t_assert_fix(mk_err_msg(&err));
	ck_assert_int_eq(mk_uring_open_source("rel/path", &size, &err),
			 -EINVAL);
	t_assert_fix(mk_err_msg(&err));
	t_path(path, sizeof(path), "missing");
	ck_assert_int_eq(mk_uring_open_source(path, &size, &err), -ENOENT);
	t_assert_fix(mk_err_msg(&err));
	t_pool_fini(&pl);
}
END_TEST

START_TEST(test_uring_open_source_opens_regular_files)
{
	struct t_pool pl;
	struct mk_uring_params p;
	char path[128];
	uint64_t size = 0;
	int fd = t_file("src", 200 * KIB + 3), sfd;

	close(fd);
	t_path(path, sizeof(path), "src");
	sfd = mk_uring_open_source(path, &size, NULL);
	ck_assert_int_ge(sfd, 0);
	ck_assert_uint_eq(size, 200 * KIB + 3);
	ck_assert_int_eq(fcntl(sfd, F_GETFL) & O_NONBLOCK, 0);
	t_pool_init(&pl, 2, 64 * KIB + 1);
	p = t_params(sfd, size, 64 * KIB, 1, &pl);
	ck_assert_uint_eq(t_stream_all(&p, 1), 4);
	close(sfd);
	t_pool_fini(&pl);
}
END_TEST

/*
 * Child of a fork: drop root (if root) to nobody so permissions and
 * RLIMIT_MEMLOCK apply, then run @fn. Returns fn's result, or 99 when
 * dropping privileges fails. The result travels through a pipe, not the
 * exit status, which valgrind replaces when it finds the parent's
 * allocations unreachable in the child. No Check asserts in the child.
 */
static int t_in_unprivileged_child(int (*fn)(void *), void *arg)
{
	int pfd[2], st = 0;
	uint8_t res = 98;
	pid_t pid;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		res = 99;
		if (geteuid() != 0 ||
		    (setgroups(0, NULL) == 0 && setgid(65534) == 0 &&
		     setuid(65534) == 0))
			res = (uint8_t)fn(arg);
		if (write(pfd[1], &res, 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	ck_assert_int_eq(read(pfd[0], &res, 1), 1);
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return res;
}

static int t_child_open_denied(void *arg)
{
	struct mk_err err;
	uint64_t size;
	int rc = mk_uring_open_source(arg, &size, &err);

	if (rc != -EACCES)
		return 1;
	if (!strstr(mk_err_msg(&err), "Fix:") ||
	    !strstr(mk_err_msg(&err), "permission"))
		return 2;
	return 0;
}

START_TEST(test_uring_open_source_reports_permission_denied)
{
	char path[128];
	int fd = t_file("secret", 10);

	close(fd);
	t_path(path, sizeof(path), "secret");
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_eq(chmod(t_dir, 0755), 0);
	if (geteuid() != 0)
		ck_assert_int_eq(chmod(path, 0), 0);
	ck_assert_int_eq(t_in_unprivileged_child(t_child_open_denied, path),
			 0);
}
END_TEST

struct t_memlock_arg {
	struct mk_uring_params p;
};

static int t_child_memlock(void *arg)
{
	struct t_memlock_arg *a = arg;
	/* Room for the rings (some kernels charge them), not for 1 MiB of
	 * registered buffers. */
	struct rlimit rl = { 64 * KIB, 64 * KIB };
	struct mk_uring_reader *r = NULL;
	struct mk_chunk c;
	uint64_t n = 0;
	size_t i;
	int rc;

	if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		return 1;
	if (mk_uring_reader_create(&a->p, &r, NULL) < 0)
		return 2;
	if (!strstr(mk_uring_reader_status(r), "plain READ"))
		return 3;
	while ((rc = mk_uring_reader_next(r, &c, T_WAIT_NS)) == 1) {
		for (i = 0; i < c.len; i++)
			if (c.data[i] != t_byte_at(c.offset + i))
				return 4;
		n++;
		mk_uring_reader_release(r, c.buf_id);
	}
	mk_uring_reader_destroy(r);
	return rc == 0 && n == 8 ? 0 : 5;
}

START_TEST(test_uring_falls_back_to_plain_read_without_memlock)
{
	struct t_memlock_arg a;
	struct t_pool pl;
	int fd = t_file("memlock", 2 * MIB);

	/* fd opened before the privilege drop: the child keeps it. */
	t_pool_init(&pl, 4, 256 * KIB + 5);
	a.p = t_params(fd, 2 * MIB, 256 * KIB, 5, &pl);
	ck_assert_int_eq(t_in_unprivileged_child(t_child_memlock, &a), 0);
	close(fd);
	t_pool_fini(&pl);
}
END_TEST

/* Fault build (make check-fault) only: every allocation of create fails
 * in turn, transiently (_i = 0) and persistently (_i = 1). */
START_TEST(test_uring_create_reports_allocation_failure)
{
	struct t_pool pl;
	struct mk_uring_params p;
	struct mk_uring_reader *r;
	struct mk_err err;
	int fd = t_file("alloc", 100 * KIB), rc;
	long n, hit;

	if (!mk_fault_available())
		goto out_close;
	t_pool_init(&pl, 2, 32 * KIB);
	p = t_params(fd, 100 * KIB, 32 * KIB, 0, &pl);
	for (n = 1; n < 64; n++) {
		r = NULL;
		mk_err_clear(&err);
		mk_fault_arm(n, _i);
		rc = mk_uring_reader_create(&p, &r, &err);
		hit = mk_fault_hits();
		mk_fault_arm(0, 0);
		if (!hit) {
			ck_assert_int_eq(rc, 0);
			mk_uring_reader_destroy(r);
			break;
		}
		ck_assert_int_eq(rc, -ENOMEM);
		ck_assert_ptr_null(r);
		t_assert_fix(mk_err_msg(&err));
	}
	ck_assert_int_gt(n, 1);
	t_pool_fini(&pl);
out_close:
	close(fd);
}
END_TEST

/* ---- end to end with the DFA --------------------------------------------- */

static uint64_t t_scan_file(const struct mk_dfa *d, struct mk_uring_params *p)
{
	struct mk_uring_reader *r = t_reader(p);
	struct mk_chunk c;
	uint64_t n = 0;
	uint32_t st = 0;
	int rc;

	while ((rc = mk_uring_reader_next(r, &c, T_WAIT_NS)) == 1) {
		uint32_t s0 = 0;

		if (p->flags & MK_URING_ORDERED) /* carry form: new bytes */
			n += mk_dfa_scan_count(d, c.data + c.overlap,
					       c.len - c.overlap, 0, &st);
		else /* overlap form: independent chunks */
			n += mk_dfa_scan_count(d, c.data, c.len, c.overlap,
					       &s0);
		ck_assert_int_eq(mk_uring_reader_release(r, c.buf_id), 0);
	}
	ck_assert_int_eq(rc, 0);
	mk_uring_reader_destroy(r);
	return n;
}

/* Write @len bytes of @buf to file @name; return an O_RDONLY fd. */
static int t_file_from(const char *name, const uint8_t *buf, size_t len)
{
	char path[128];
	int fd;

	t_path(path, sizeof(path), name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static struct mk_dfa *t_as_binary(const struct mk_dfa *d)
{
	size_t n = mk_dfa_table_bytes(d);
	uint8_t *bin = malloc(n);
	struct mk_dfa *b = NULL;

	ck_assert_ptr_nonnull(bin);
	ck_assert_int_eq(mk_dfa_export(d, bin, n), 0);
	ck_assert_int_eq(mk_dfa_load_binary(bin, n, &b, NULL), 0);
	free(bin);
	return b;
}

START_TEST(test_uring_chunked_scan_counts_are_exact)
{
	static const char lits[] = "\\x00\\x00\\x00\n\\xff\\x00\nabc\n"
				   "bca\naaaa\n"
				   "\\x01\\x02\\x03\\x04\\x05\\x06\\x07\n";
	static const uint8_t seq[] = { 1, 2, 3, 4, 5, 6, 7 };
	size_t size = 3 * MIB + 11, chunk = 64 * KIB, i, ov;
	uint8_t *text = malloc(size);
	struct mk_dfa *d = NULL, *b;
	struct mk_uring_params p;
	struct t_pool pl;
	uint64_t want;
	uint32_t st = 0;
	int fd;

	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(mk_dfa_compile_literals(lits, strlen(lits), &d, NULL),
			 0);
	/* Hash bytes, with matches planted across every chunk boundary (the
	 * 7-byte sequence, a run of 'a' and "\0\0\0") and in between. */
	for (i = 0; i < size; i++)
		text[i] = t_byte_at(i);
	for (i = chunk; i + 16 < size; i += chunk) {
		memcpy(text + i - 3, seq, sizeof(seq));
		memset(text + i + 7, 'a', 6);
		memset(text + i - 12, 0, 5);
		memcpy(text + i - chunk / 2, "xabcabcax", 9);
	}
	fd = t_file_from("scan", text, size);
	want = mk_dfa_scan_count(d, text, size, 0, &st);
	ck_assert_uint_gt(want, 8 * (size / chunk));
	ov = mk_dfa_overlap(d);
	t_pool_init(&pl, 3, chunk + ov);
	p = t_params(fd, size, chunk, ov, &pl);
	ck_assert_uint_eq(t_scan_file(d, &p), want);
	p.flags = MK_URING_ORDERED;
	ck_assert_uint_eq(t_scan_file(d, &p), want);
	/* binary DFA: overlap unknown, so no overlap and the carry form */
	b = t_as_binary(d);
	p.overlap_bytes = 0;
	ck_assert_uint_eq(t_scan_file(b, &p), want);
	mk_dfa_destroy(b);
	mk_dfa_destroy(d);
	free(text);
	close(fd);
	t_pool_fini(&pl);
}
END_TEST

static Suite *uring_suite(void)
{
	Suite *s = suite_create("uring");
	TCase *tc = tcase_create("uring");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_uring_streams_every_size, 0,
			    sizeof(t_sizes) / sizeof(t_sizes[0]));
	tcase_add_test(tc, test_uring_streams_file_larger_than_all_buffers);
	tcase_add_test(tc, test_uring_releases_out_of_order);
	tcase_add_test(tc, test_uring_resubmits_short_reads);
	tcase_add_test(tc, test_uring_uses_o_direct_when_aligned);
	tcase_add_test(tc, test_uring_enobufs_when_caller_holds_every_buffer);
	tcase_add_loop_test(tc, test_uring_cancels_mid_stream, 0, 2);
	tcase_add_test(tc,
		       test_uring_fails_when_file_truncated_while_streaming);
	tcase_add_test(tc, test_uring_read_error_fails_the_stream);
	tcase_add_test(tc, test_uring_rejects_bad_fds_and_params);
	tcase_add_test(tc, test_uring_rejects_directories_and_fifos);
	tcase_add_test(tc, test_uring_open_source_opens_regular_files);
	tcase_add_test(tc, test_uring_open_source_reports_permission_denied);
	tcase_add_test(tc, test_uring_falls_back_to_plain_read_without_memlock);
	tcase_add_test(tc, test_uring_chunked_scan_counts_are_exact);
	tcase_add_loop_test(tc, test_uring_create_reports_allocation_failure, 0,
			    2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	struct mk_err err;
	int rc = mk_uring_probe(&err);

	if (rc == -ENOSYS || rc == -EPERM) {
		printf("check_uring: skipped: %s\n", mk_err_msg(&err));
		return 77;
	}
	return t_run_suite(uring_suite());
}
