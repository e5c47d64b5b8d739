/* SPDX-License-Identifier: MIT */
/*
 * runtime/uring.c - the chunked io_uring file reader; see runtime/uring.h.
 * The only file that includes <liburing.h> (liburing 2.3: no helper newer
 * than that is used). Shape follows liburing's examples/io_uring-cp.c: a
 * submit/reap loop over a fixed set of buffers, each buffer carrying at
 * most one read SQE at a time.
 *
 * Correlation: every read SQE carries user_data = chunk << 16 | buffer id,
 * and a completion is matched against that buffer's current chunk, never
 * by arrival order. Cancel SQEs carry UD_CANCEL | buffer id; their
 * completions are simply reaped (only reads touch the buffers, so only
 * reads are waited for).
 */
#include "runtime/uring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <liburing.h>

#define UD_BUF_BITS 16
#define UD_BUF_MASK ((1ull << UD_BUF_BITS) - 1)
#define UD_CANCEL (1ull << 62) /* completion of a cancel: ignored */
#define UD_NOP (1ull << 61)    /* a read turned into a NOP: ignored */
#define MAX_CHUNKS (1ull << 44) /* chunk << 16 stays below the tags */
/* One SQE never asks for more (the kernel caps a read near 2 GiB). */
#define MAX_PIECE ((size_t)1 << 30)
/* EINTR/EAGAIN completions resubmitted per buffer before giving up. */
#define MAX_RETRIES 8
#define NS_PER_S 1000000000ll

enum buf_state {
	BUF_FREE,    /* reader's, no chunk: release() sets it, start_chunk
			moves it to READING */
	BUF_READING, /* a chunk is being read; the CQE path moves it to
			READY (or FREE on cancel/failure) */
	BUF_READY,   /* chunk complete, not handed out; next() -> HELD */
	BUF_HELD,    /* the caller's; release() moves it to FREE */
};

struct rbuf {
	uint8_t *base;        /* caller's buffer, buf_cap bytes */
	enum buf_state state;
	int sqe_out;          /* a read SQE of this buffer is in the kernel */
	int retries;          /* EINTR/EAGAIN resubmissions of this chunk */
	uint64_t chunk;       /* chunk index while READING/READY/HELD */
	uint64_t start;       /* file offset of base[0] */
	size_t want;          /* bytes the chunk needs */
	size_t got;           /* bytes completed so far */
	size_t overlap;       /* bytes of base before chunk*chunk_bytes */
};

struct mk_uring_reader {
	struct io_uring ring;
	int ring_live;        /* ring set up, must be exited */
	int fd;               /* caller's fd (borrowed) */
	int dfd;              /* O_DIRECT reopen (owned), -1 if none */
	int fixed;            /* buffers registered: READ_FIXED */
	uint32_t flags;
	uint32_t nbuf;
	uint64_t size;        /* bytes to stream */
	uint64_t nchunks;
	uint64_t next_submit; /* next chunk to start */
	uint64_t next_deliver; /* MK_URING_ORDERED: next chunk to hand out */
	uint64_t delivered;   /* chunks handed out */
	size_t chunk;
	size_t overlap;       /* requested (direct: rounded up) */
	size_t buf_cap;
	size_t max_io;        /* per SQE, 0 = MAX_PIECE */
	uint32_t inflight;    /* read SQEs in the kernel */
	int failed;           /* sticky -errno of the stream, 0 if fine */
	int cancelled;
	struct rbuf *bufs;    /* nbuf */
	struct mk_err err;
	char status[256];
};

/* ---- small helpers ------------------------------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static size_t round_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

static int ring_init_error(struct mk_err *err, int rc, unsigned entries)
{
	/* Some kernels charge the rings themselves to RLIMIT_MEMLOCK. */
	const char *fix = "free memory, or raise RLIMIT_MEMLOCK (ulimit -l)";

	if (rc == -ENOSYS)
		fix = "run on Linux 5.6 or later (io_uring READ needs it), or "
		      "use a kernel built with CONFIG_IO_URING";
	else if (rc == -EPERM)
		fix = "allow io_uring: sysctl kernel.io_uring_disabled=0, or "
		      "lift the seccomp/container policy that blocks it";
	return mk_err_setf(err, rc, fix,
			   "io_uring_queue_init(%u) failed: %s (%s)", entries,
			   mk_errno_name(rc), strerror(-rc));
}

int mk_uring_probe(struct mk_err *err)
{
	struct io_uring ring;
	int rc = io_uring_queue_init(2, &ring, 0);

	if (rc < 0)
		return ring_init_error(err, rc, 2);
	io_uring_queue_exit(&ring);
	return 0;
}

static int not_regular(struct mk_err *err, const char *what, mode_t mode)
{
	const char *kind = S_ISDIR(mode)    ? "a directory"
			   : S_ISFIFO(mode) ? "a FIFO"
			   : S_ISSOCK(mode) ? "a socket"
			   : S_ISCHR(mode)  ? "a character device"
			   : S_ISBLK(mode)  ? "a block device"
					    : "not a regular file";

	return mk_err_setf(err, S_ISDIR(mode) ? -EISDIR : -EINVAL,
			   "name a regular file; directories, FIFOs, "
			   "sockets and devices cannot be streamed",
			   "%s is not a regular file (%s)", what, kind);
}

static int open_error(struct mk_err *err, int rc, const char *path)
{
	const char *fix = "check the path and that the calling user may "
			  "read the file";

	if (rc == -EACCES || rc == -EPERM)
		fix = "grant the calling user read permission on the file and "
		      "search (x) permission on every parent directory";
	else if (rc == -ENOENT || rc == -ENOTDIR)
		fix = "check the path: it must name an existing file";
	return mk_err_setf(err, rc, fix, "cannot open %s: %s", path,
			   strerror(-rc));
}

/*
 * open(2) of @path, or with @nosym an openat2(2) that follows no symlink
 * at all (a path resolved already must still be that path: a component
 * swapped for a symlink since then gives ELOOP). Kernels before 5.6 have
 * no openat2: O_NOFOLLOW then guards the last component only.
 */
static int open_flags(const char *path, int flags, int nosym)
{
	struct open_how how;
	long fd;

	if (!nosym)
		return open(path, flags);
	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)flags;
	how.resolve = RESOLVE_NO_SYMLINKS;
	fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = open(path, flags | O_NOFOLLOW);
	return (int)fd;
}

static int open_source(const char *path, int nosym, uint64_t *size,
		       struct mk_err *err)
{
	struct stat st;
	int fd, rc, fl;

	if (!path || path[0] != '/')
		return mk_err_set(err, -EINVAL,
				  "the source path is not absolute",
				  "write an absolute path such as /data/f.bin");
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	fd = open_flags(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
			nosym);
	if (fd < 0)
		return open_error(err, -errno, path);
	if (fstat(fd, &st) < 0) {
		rc = open_error(err, -errno, path);
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = not_regular(err, path, st.st_mode);
		goto out_close;
	}
	/* io_uring honours O_NONBLOCK on regular files (a page-cache miss
	 * would complete with -EAGAIN), so clear it now. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		rc = open_error(err, -errno, path);
		goto out_close;
	}
	*size = (uint64_t)st.st_size;
	return fd;
out_close:
	close(fd);
	return rc;
}

int mk_uring_open_source(const char *path, uint64_t *size,
			 struct mk_err *err)
{
	return open_source(path, 0, size, err);
}

int mk_uring_open_resolved(const char *path, uint64_t *size,
			   struct mk_err *err)
{
	return open_source(path, 1, size, err);
}

/* ---- parameter checks ---------------------------------------------------- */

static int check_fd(const struct mk_uring_params *p, struct mk_err *err)
{
	char what[32];
	struct stat st;
	int fl;

	snprintf(what, sizeof(what), "fd %d", p->fd);
	if (p->fd < 0 || fstat(p->fd, &st) < 0 ||
	    (fl = fcntl(p->fd, F_GETFL)) < 0)
		return mk_err_setf(err, -EBADF,
				   "open the source (mk_uring_open_source) "
				   "and keep it open until the reader is "
				   "destroyed",
				   "fd %d is not an open file", p->fd);
	if (!S_ISREG(st.st_mode))
		return not_regular(err, what, st.st_mode);
	if ((fl & O_ACCMODE) == O_WRONLY)
		return mk_err_setf(err, -EBADF, "open the source with O_RDONLY",
				   "fd %d is not open for reading", p->fd);
	if (fl & O_NONBLOCK)
		return mk_err_setf(err, -EINVAL,
				   "clear O_NONBLOCK (io_uring would fail "
				   "page-cache misses with EAGAIN)",
				   "fd %d is O_NONBLOCK", p->fd);
	if (p->file_size > (uint64_t)st.st_size)
		return mk_err_setf(err, -EIO,
				   "stat the file again and restart the "
				   "stream; do not truncate it while it "
				   "streams",
				   "the file has %lld bytes, fewer than the "
				   "%llu to stream",
				   (long long)st.st_size,
				   (unsigned long long)p->file_size);
	return 0;
}

static int check_params(const struct mk_uring_params *p, struct mk_err *err)
{
	size_t need;
	uint32_t i;

	if (!p->chunk_bytes)
		return mk_err_set(err, -EINVAL, "chunk_bytes is 0",
				  "use a chunk size such as 4 MiB");
	if (!p->nbuf || p->nbuf > MK_URING_MAX_BUFS || !p->bufs)
		return mk_err_setf(err, -EINVAL,
				   "pass 1 to 1024 staging buffers",
				   "%u staging buffers given", p->nbuf);
	for (i = 0; i < p->nbuf; i++)
		if (!p->bufs[i])
			return mk_err_setf(err, -EINVAL,
					   "pass an allocated buffer for "
					   "every id",
					   "staging buffer %u is NULL", i);
	if (__builtin_add_overflow(p->chunk_bytes, p->overlap_bytes, &need) ||
	    p->buf_cap < need)
		return mk_err_setf(err, -EINVAL,
				   "allocate buffers of at least chunk_bytes "
				   "+ overlap_bytes",
				   "buffer capacity %zu < chunk %zu + overlap "
				   "%zu",
				   p->buf_cap, p->chunk_bytes,
				   p->overlap_bytes);
	if (p->flags & ~(MK_URING_ORDERED | MK_URING_TRY_DIRECT | MK_URING_ASYNC))
		return mk_err_setf(err, -EINVAL, "use only MK_URING_* flags",
				   "unknown reader flags 0x%x", p->flags);
	if (p->file_size / p->chunk_bytes >= MAX_CHUNKS)
		return mk_err_set(err, -EOVERFLOW,
				  "the file has more than 2^44 chunks",
				  "raise chunk_bytes");
	return 0;
}

/* ---- setup --------------------------------------------------------------- */

static int direct_aligned(const struct mk_uring_params *p)
{
	size_t a = MK_URING_DIRECT_ALIGN, need;
	uint32_t i;

	if (p->chunk_bytes % a || p->max_io_bytes % a)
		return 0;
	if (__builtin_add_overflow(p->chunk_bytes,
				   round_up(p->overlap_bytes, a), &need) ||
	    p->buf_cap < need)
		return 0;
	for (i = 0; i < p->nbuf; i++)
		if ((uintptr_t)p->bufs[i] % a)
			return 0;
	return 1;
}

/* Decide O_DIRECT; writes the I/O mode part of the status into @mode. */
static void setup_direct(struct mk_uring_reader *r,
			 const struct mk_uring_params *p, char *mode,
			 size_t cap)
{
	struct stat a, b;
	char path[64];

	snprintf(mode, cap, "buffered I/O");
	if (!(p->flags & MK_URING_TRY_DIRECT))
		return;
	if (!direct_aligned(p)) {
		snprintf(mode, cap, "buffered I/O (O_DIRECT skipped: "
			 "unaligned chunk, buffers or capacity)");
		return;
	}
	/* A fresh open file description, so the caller's fd keeps its flags. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p->fd);
	r->dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (r->dfd < 0 || fstat(r->dfd, &a) < 0 || fstat(p->fd, &b) < 0 ||
	    a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
		snprintf(mode, cap, "buffered I/O (O_DIRECT reopen failed: %s)",
			 r->dfd < 0 ? mk_errno_name(errno) : "other inode");
		if (r->dfd >= 0)
			close(r->dfd);
		r->dfd = -1;
		return;
	}
	r->overlap = round_up(p->overlap_bytes, MK_URING_DIRECT_ALIGN);
	snprintf(mode, cap, "O_DIRECT");
}

static int setup_ring(struct mk_uring_reader *r,
		      const struct mk_uring_params *p, struct mk_err *err)
{
	/* One read and one cancel per buffer at most; the CQ is twice that. */
	unsigned entries = 2 * p->nbuf;
	const char *async = p->flags & MK_URING_ASYNC ? ", io-wq reads" : "";
	struct iovec *iov;
	char mode[120];
	uint32_t i;
	int rc;

	rc = io_uring_queue_init(entries, &r->ring, 0);
	if (rc < 0)
		return ring_init_error(err, rc, entries);
	r->ring_live = 1;
	setup_direct(r, p, mode, sizeof(mode));
	iov = calloc(p->nbuf, sizeof(*iov));
	if (!iov)
		return mk_err_set(err, -ENOMEM, "out of memory for iovecs",
				  "free memory or use fewer buffers");
	for (i = 0; i < p->nbuf; i++) {
		iov[i].iov_base = p->bufs[i];
		iov[i].iov_len = p->buf_cap;
	}
	rc = io_uring_register_buffers(&r->ring, iov, p->nbuf);
	free(iov);
	r->fixed = rc == 0;
	if (r->fixed)
		snprintf(r->status, sizeof(r->status),
			 "READ_FIXED, %u registered buffers, %s%s", p->nbuf,
			 mode, async);
	else
		/* Not fatal: plain READ works on any memory. */
		snprintf(r->status, sizeof(r->status),
			 "plain READ (io_uring_register_buffers: %s; "
			 "READ_FIXED needs pinnable memory within "
			 "RLIMIT_MEMLOCK, ulimit -l), %s%s",
			 mk_errno_name(rc), mode, async);
	return 0;
}

/* ---- submission ---------------------------------------------------------- */

static int fail_stream(struct mk_uring_reader *r, int code, const char *fix,
		       const char *what)
{
	if (!r->failed)
		r->failed = mk_err_set(&r->err, code, what, fix);
	return r->failed;
}

/* An error of one call that leaves the stream usable: recorded unless the
 * stream already failed, whose message must stay readable. */
static int soft_error(struct mk_uring_reader *r, int code, const char *what,
		      const char *fix)
{
	if (!r->failed)
		mk_err_set(&r->err, code, what, fix);
	return code;
}

static int submit_now(struct mk_uring_reader *r)
{
	char what[96];
	int rc, tries;

	for (tries = 0; tries < 16; tries++) {
		rc = io_uring_submit(&r->ring);
		if (rc >= 0)
			return 0;
		if (rc != -EINTR)
			break;
	}
	snprintf(what, sizeof(what), "io_uring_submit failed: %s (%s)",
		 mk_errno_name(rc), strerror(-rc));
	return fail_stream(r, rc, "check memory and io_uring limits, then "
			   "restart the stream", what);
}

/* Queue the read of the rest of buffer @b's chunk and submit it. */
static int submit_piece(struct mk_uring_reader *r, struct rbuf *b)
{
	uint32_t bid = (uint32_t)(b - r->bufs);
	size_t len = b->want - b->got, cap = r->max_io ? r->max_io : MAX_PIECE;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
	int fd = r->dfd >= 0 ? r->dfd : r->fd;

	if (r->dfd >= 0) /* got is aligned; the tail may read past EOF */
		len = round_up(len, MK_URING_DIRECT_ALIGN);
	if (len > cap)
		len = cap;
	if (!sqe) /* cannot happen: entries >= 2 reads+cancels per buffer */
		return fail_stream(r, -EBUSY, "report a megafs bug",
				   "io_uring submission queue full");
	if (r->fixed)
		io_uring_prep_read_fixed(sqe, fd, b->base + b->got,
					 (unsigned)len, b->start + b->got,
					 (int)bid);
	else
		io_uring_prep_read(sqe, fd, b->base + b->got, (unsigned)len,
				   b->start + b->got);
	if (r->flags & MK_URING_ASYNC)
		io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
	io_uring_sqe_set_data64(sqe, b->chunk << UD_BUF_BITS | bid);
	b->sqe_out = 1;
	r->inflight++;
	if (submit_now(r) == 0)
		return 0;
	/* io_uring_enter failed, so the kernel consumed no SQE and this one
	 * is still parked in the SQ. Any later submit (the cancel path)
	 * would send it, so turn it into a NOP while it is still ours. */
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, UD_NOP);
	b->sqe_out = 0;
	r->inflight--;
	b->state = BUF_FREE;
	return r->failed;
}

static int start_chunk(struct mk_uring_reader *r, struct rbuf *b, uint64_t k)
{
	uint64_t own = k * r->chunk, end = own + r->chunk;

	if (end > r->size)
		end = r->size;
	b->chunk = k;
	b->start = own > r->overlap ? own - r->overlap : 0;
	b->overlap = (size_t)(own - b->start);
	b->want = (size_t)(end - b->start);
	b->got = 0;
	b->retries = 0;
	b->state = BUF_READING;
	return submit_piece(r, b);
}

/* ---- completions --------------------------------------------------------- */

static const char *read_error_fix(int res, int direct)
{
	switch (res) {
	case -EIO:
		return "the device reported an I/O error; check dmesg and the "
		       "disk, then restart the stream";
	case -EBADF:
		return "keep the source open for reading until the stream ends";
	case -EINVAL:
		return direct ? "O_DIRECT was refused; stream without "
				"MK_URING_TRY_DIRECT"
			      : "check that the source is a readable regular "
				"file, then restart the stream";
	case -EACCES:
	case -EPERM:
		return "grant the calling user read permission, then restart "
		       "the stream";
	default:
		return "check the file and its device, then restart the stream";
	}
}

static void read_failed(struct mk_uring_reader *r, const struct rbuf *b,
			int res)
{
	char what[160];

	snprintf(what, sizeof(what),
		 "read of chunk %llu at file offset %llu failed: %s (%s)",
		 (unsigned long long)b->chunk,
		 (unsigned long long)(b->start + b->got), mk_errno_name(res),
		 strerror(-res));
	fail_stream(r, res, read_error_fix(res, r->dfd >= 0), what);
}

static void truncated(struct mk_uring_reader *r, const struct rbuf *b,
		      uint64_t eof)
{
	char what[160];

	snprintf(what, sizeof(what),
		 "the file ended at byte %llu but chunk %llu needs bytes up "
		 "to %llu: it was truncated while streaming",
		 (unsigned long long)eof, (unsigned long long)b->chunk,
		 (unsigned long long)(b->start + b->want));
	fail_stream(r, -EIO, "do not truncate or rewrite the source while "
		    "it streams; restart the stream", what);
}

/* Account @res bytes for @b; resubmit the remainder or mark it READY. */
static void read_progress(struct mk_uring_reader *r, struct rbuf *b, int res)
{
	int direct = r->dfd >= 0;

	if (res == 0) {
		truncated(r, b, b->start + b->got);
		b->state = BUF_FREE;
		return;
	}
	/* An O_DIRECT read that stops off-alignment stopped at EOF. */
	if (direct && b->got + (size_t)res < b->want &&
	    res % MK_URING_DIRECT_ALIGN) {
		truncated(r, b, b->start + b->got + (size_t)res);
		b->state = BUF_FREE;
		return;
	}
	b->got += (size_t)res;
	if (b->got >= b->want) {
		b->got = b->want; /* O_DIRECT may read past the chunk end */
		b->state = BUF_READY;
		return;
	}
	submit_piece(r, b); /* short read: the rest, from where it stopped */
}

static void handle_cqe(struct mk_uring_reader *r, uint64_t ud, int res)
{
	uint32_t bid = (uint32_t)(ud & UD_BUF_MASK);
	struct rbuf *b = bid < r->nbuf ? &r->bufs[bid] : NULL;
	char what[96];

	if (ud & (UD_CANCEL | UD_NOP))
		return;
	if (!b || !b->sqe_out || b->chunk != ud >> UD_BUF_BITS) {
		snprintf(what, sizeof(what),
			 "completion for an unknown read (user_data 0x%llx)",
			 (unsigned long long)ud);
		fail_stream(r, -EIO, "report a megafs bug; restart the stream",
			    what);
		return;
	}
	b->sqe_out = 0;
	r->inflight--;
	if (r->failed || r->cancelled) {
		b->state = BUF_FREE; /* nobody will take this chunk */
		return;
	}
	if ((res == -EINTR || res == -EAGAIN) && b->retries++ < MAX_RETRIES) {
		submit_piece(r, b);
		return;
	}
	if (res < 0) {
		read_failed(r, b, res);
		b->state = BUF_FREE;
		return;
	}
	read_progress(r, b, res);
}

/* Handle every completion already posted; never blocks. */
static void reap(struct mk_uring_reader *r)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&r->ring, &cqe) == 0) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&r->ring, cqe);
		handle_cqe(r, ud, res);
	}
}

/* Wait for one completion until @deadline (monotonic ns): 0 when one may
 * be there (or a signal interrupted the wait), -ETIMEDOUT when the
 * deadline passed, another -errno when io_uring_enter itself fails. */
static int wait_cqe(struct mk_uring_reader *r, int64_t deadline)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int64_t left = deadline - now_ns();
	int rc;

	if (left <= 0)
		return -ETIMEDOUT;
	ts.tv_sec = left / NS_PER_S;
	ts.tv_nsec = left % NS_PER_S;
	rc = io_uring_wait_cqe_timeout(&r->ring, &cqe, &ts);
	if (rc == -ETIME)
		return -ETIMEDOUT;
	if (rc == 0 || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY)
		return 0;
	return rc;
}

static int wait_failed(struct mk_uring_reader *r, int rc)
{
	char what[96];

	snprintf(what, sizeof(what), "waiting for io_uring completions "
		 "failed: %s (%s)", mk_errno_name(rc), strerror(-rc));
	return fail_stream(r, rc, "check io_uring limits and dmesg, then "
			   "restart the stream", what);
}

/* ---- public API ---------------------------------------------------------- */

int mk_uring_reader_create(const struct mk_uring_params *p,
			   struct mk_uring_reader **out, struct mk_err *err)
{
	struct mk_uring_reader *r = NULL;
	uint32_t i;
	int rc;

	if (!p || !out)
		return mk_err_set(err, -EINVAL, "no parameters or result",
				  "pass a filled struct mk_uring_params");
	rc = check_fd(p, err);
	if (rc == 0)
		rc = check_params(p, err);
	if (rc < 0)
		return rc;
	r = calloc(1, sizeof(*r));
	if (r) {
		r->dfd = -1; /* before any path can reach destroy */
		r->bufs = calloc(p->nbuf, sizeof(*r->bufs));
	}
	if (!r || !r->bufs) {
		rc = mk_err_set(err, -ENOMEM, "out of memory for a reader",
				"free memory and retry");
		goto out_destroy;
	}
	r->fd = p->fd;
	r->flags = p->flags;
	r->nbuf = p->nbuf;
	r->size = p->file_size;
	r->chunk = p->chunk_bytes;
	r->overlap = p->overlap_bytes;
	r->buf_cap = p->buf_cap;
	r->max_io = p->max_io_bytes;
	r->nchunks = (r->size + r->chunk - 1) / r->chunk;
	for (i = 0; i < p->nbuf; i++)
		r->bufs[i].base = p->bufs[i];
	rc = setup_ring(r, p, err);
	if (rc < 0)
		goto out_destroy;
	for (i = 0; i < r->nbuf && r->next_submit < r->nchunks; i++) {
		rc = start_chunk(r, &r->bufs[i], r->next_submit++);
		if (rc < 0) {
			if (err)
				*err = r->err;
			goto out_destroy;
		}
	}
	*out = r;
	return 0;
out_destroy:
	mk_uring_reader_destroy(r);
	return rc;
}

/* The chunk to hand out next, or NULL. */
static struct rbuf *pick_ready(struct mk_uring_reader *r)
{
	struct rbuf *best = NULL;
	uint32_t i;

	for (i = 0; i < r->nbuf; i++) {
		struct rbuf *b = &r->bufs[i];

		if (b->state != BUF_READY)
			continue;
		if (r->flags & MK_URING_ORDERED) {
			if (b->chunk == r->next_deliver)
				return b;
		} else if (!best || b->chunk < best->chunk) {
			best = b;
		}
	}
	return best;
}

static void hand_out(struct mk_uring_reader *r, struct rbuf *b,
		     struct mk_chunk *out)
{
	out->index = b->chunk;
	out->offset = b->start;
	out->data = b->base;
	out->len = b->want;
	out->overlap = b->overlap;
	out->buf_id = (uint32_t)(b - r->bufs);
	b->state = BUF_HELD;
	r->delivered++;
	if (b->chunk == r->next_deliver)
		r->next_deliver++;
}

int mk_uring_reader_next(struct mk_uring_reader *r, struct mk_chunk *out,
			 int64_t timeout_ns)
{
	int64_t deadline;
	struct rbuf *b;
	int rc;

	if (timeout_ns < 0)
		return soft_error(r, -EINVAL, "negative timeout",
				  "pass 0 to poll or a bound in nanoseconds");
	deadline = now_ns() + timeout_ns;
	for (;;) {
		if (r->failed)
			return r->failed;
		if (r->cancelled)
			return -ECANCELED;
		reap(r);
		if (r->failed)
			continue;
		b = pick_ready(r);
		if (b) {
			hand_out(r, b, out);
			return 1;
		}
		if (r->delivered == r->nchunks)
			return 0;
		if (!r->inflight)
			return soft_error(r, -ENOBUFS,
					  "every staging buffer is held by "
					  "the caller",
					  "release a chunk's buffer before "
					  "asking for the next chunk");
		rc = wait_cqe(r, deadline);
		if (rc == -ETIMEDOUT)
			return rc;
		if (rc < 0)
			return wait_failed(r, rc);
	}
}

int mk_uring_reader_release(struct mk_uring_reader *r, uint32_t buf_id)
{
	struct rbuf *b;

	if (buf_id >= r->nbuf || r->bufs[buf_id].state != BUF_HELD)
		return soft_error(r, -EINVAL,
				  "the buffer id is not held by the caller",
				  "release each buf_id from "
				  "mk_uring_reader_next exactly once");
	b = &r->bufs[buf_id];
	b->state = BUF_FREE;
	if (r->failed || r->cancelled || r->next_submit >= r->nchunks)
		return 0;
	return start_chunk(r, b, r->next_submit++);
}

/* Reap until no read is in the kernel, for at most @ms. Returns 0,
 * -ETIMEDOUT, or the -errno of a failing wait. */
static int drain(struct mk_uring_reader *r, int64_t ms)
{
	int64_t deadline = now_ns() + ms * 1000000;
	int rc;

	for (;;) {
		reap(r);
		if (!r->inflight)
			return 0;
		rc = wait_cqe(r, deadline);
		if (rc < 0)
			return rc;
	}
}

static void queue_cancels(struct mk_uring_reader *r)
{
	struct io_uring_sqe *sqe;
	uint32_t i;

	for (i = 0; i < r->nbuf; i++) {
		struct rbuf *b = &r->bufs[i];

		if (!b->sqe_out)
			continue;
		sqe = io_uring_get_sqe(&r->ring);
		if (!sqe)
			break; /* then we just wait for the reads */
		io_uring_prep_cancel64(sqe, b->chunk << UD_BUF_BITS | i, 0);
		io_uring_sqe_set_data64(sqe, UD_CANCEL | i);
	}
	/* Best effort: reads of regular files usually run to completion
	 * anyway (-EALREADY); drain() waits for them either way. */
	io_uring_submit(&r->ring);
}

int mk_uring_reader_cancel(struct mk_uring_reader *r)
{
	uint32_t i;
	int rc;

	if (!r->ring_live)
		return 0;
	r->cancelled = 1;
	soft_error(r, -ECANCELED, "the stream was cancelled",
		   "start a new stream to read the file again");
	queue_cancels(r);
	rc = drain(r, MK_URING_DRAIN_MS);
	for (i = 0; i < r->nbuf; i++)
		if (r->bufs[i].state == BUF_READY)
			r->bufs[i].state = BUF_FREE;
	if (rc < 0)
		return soft_error(r, rc, "reads still in flight after cancel",
				  "check the device (dmesg); destroy waits "
				  "for them");
	return 0;
}

void mk_uring_reader_destroy(struct mk_uring_reader *r)
{
	if (!r)
		return;
	if (r->ring_live) {
		/* Buffers are the caller's: the ring may only go once the
		 * kernel has finished with every read into them, so keep
		 * waiting while reads are merely slow. Only if waiting itself
		 * fails is the ring torn down with reads outstanding (ring
		 * exit then cancels them in the kernel). */
		while (mk_uring_reader_cancel(r) == -ETIMEDOUT)
			;
		io_uring_queue_exit(&r->ring); /* also unregisters buffers */
	}
	if (r->dfd >= 0)
		close(r->dfd);
	free(r->bufs);
	free(r);
}

const char *mk_uring_reader_status(const struct mk_uring_reader *r)
{
	return r->status;
}

const struct mk_err *mk_uring_reader_err(const struct mk_uring_reader *r)
{
	return &r->err;
}

uint64_t mk_uring_reader_chunks(const struct mk_uring_reader *r)
{
	return r->nchunks;
}
