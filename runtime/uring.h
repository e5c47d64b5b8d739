/* SPDX-License-Identifier: MIT */
/*
 * runtime/uring.h - a chunked io_uring file reader for streaming: reads a
 * regular file into a pool of caller-owned staging buffers, several chunks
 * in flight, each chunk preceded by an overlap of the previous bytes so
 * chunks can be scanned independently (runtime/dfa.h, mk_dfa_overlap).
 * Not a general io_uring wrapper: it knows files, chunks and buffers, and
 * nothing of the megakernel, the ring or FUSE. runtime/uring.c is the only
 * file that includes <liburing.h>. Pairs with runtime/uring.c.
 *
 * Chunk k (0-based) covers the file bytes
 *     [max(k*chunk_bytes - overlap_bytes, 0), min((k+1)*chunk_bytes, size))
 * so chunk_count = ceil(size / chunk_bytes) (0 for an empty file), chunk 0
 * has no overlap, and the bytes new in chunk k start at data + overlap.
 * With O_DIRECT the overlap is rounded up so reads start aligned; struct
 * mk_chunk says how much was actually included.
 *
 * Lifecycle, one consumer thread (the reader is not thread-safe; callers
 * serialise every call on one reader):
 *     mk_uring_reader_create()   registers buffers, submits the first reads
 *     loop: mk_uring_reader_next()     a completed chunk (buffer now HELD)
 *           ... scan it ...
 *           mk_uring_reader_release()  buffer back; its next read goes out
 *     mk_uring_reader_cancel()   optional: stop early, drain reads
 *     mk_uring_reader_destroy()  cancels + drains, then frees; afterwards
 *                                no read is in flight into any buffer
 * Back-pressure: at most nbuf chunks exist at once (reading, completed or
 * held); reading stops while the caller holds every buffer.
 */
#ifndef MK_RUNTIME_URING_H
#define MK_RUNTIME_URING_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/err.h"

/* Most staging buffers per reader (user_data carries a 16-bit id). */
#define MK_URING_MAX_BUFS 1024u
/* O_DIRECT alignment of file offsets, lengths and buffer addresses. */
#define MK_URING_DIRECT_ALIGN 4096u

/* ---- reader flags (struct mk_uring_params.flags) --------------------- */
/* Deliver chunks in file order (chunk 0, 1, 2, ...). Without it chunks are
 * delivered in completion order (lowest index first among those done),
 * which is fine whenever chunks are scanned independently with overlap;
 * the carry-state scan of a binary DFA needs file order. */
#define MK_URING_ORDERED (1u << 0)
/* Read with O_DIRECT when everything is aligned: chunk_bytes and
 * max_io_bytes multiples of MK_URING_DIRECT_ALIGN, every buffer address
 * aligned, buf_cap >= chunk_bytes + overlap_bytes rounded up to the
 * alignment, and the file system accepts O_DIRECT (the fd is reopened
 * through /proc/self/fd). Otherwise buffered reads are used; the status
 * string says which and why. */
#define MK_URING_TRY_DIRECT (1u << 1)
/* Hand every read to io_uring's worker threads (IOSQE_ASYNC). A buffered
 * read of page-cached data otherwise completes inline in the submitting
 * thread, so all buffers are filled one after another by one core (about
 * 6.6 GB/s on the H100 host, the rate of one read() loop); punted, the
 * copies of the nbuf buffers in flight run on as many workers at once. */
#define MK_URING_ASYNC (1u << 2)

/* What the caller fills in for mk_uring_reader_create. */
struct mk_uring_params {
	int fd;               /* regular file, open for reading, without
				 O_NONBLOCK; borrowed: keep it open until
				 destroy */
	uint64_t file_size;   /* bytes to stream, <= the file's size now;
				 later growth is ignored, shrinking fails the
				 stream with -EIO */
	size_t chunk_bytes;   /* > 0: new bytes per chunk */
	size_t overlap_bytes; /* bytes re-read before each chunk (0 = none);
				 typically mk_dfa_overlap() */
	uint8_t *const *bufs; /* nbuf staging buffers, caller-owned; they
				 must stay valid until destroy returns */
	uint32_t nbuf;        /* 1..MK_URING_MAX_BUFS */
	size_t buf_cap;       /* capacity of each buffer, >= chunk_bytes +
				 overlap_bytes */
	uint32_t flags;       /* MK_URING_* above */
	size_t max_io_bytes;  /* 0: one read per chunk; else split a chunk
				 into reads of at most this many bytes (they
				 complete like kernel short reads) */
};

/* One completed chunk, as handed out by mk_uring_reader_next. */
struct mk_chunk {
	uint64_t index;   /* chunk number k */
	uint64_t offset;  /* file offset of data[0] */
	uint8_t *data;    /* == bufs[buf_id]; valid until released */
	size_t len;       /* bytes at data, overlap included */
	size_t overlap;   /* bytes before k*chunk_bytes; the chunk's own
			     bytes are data[overlap..len) */
	uint32_t buf_id;  /* pass to mk_uring_reader_release */
};

struct mk_uring_reader; /* opaque */

/*
 * Check that io_uring works here (a 2-entry ring is set up and torn down).
 * Returns 0, or the -errno of io_uring_queue_init (-ENOSYS: no io_uring in
 * this kernel; -EPERM: disabled by sysctl kernel.io_uring_disabled or a
 * seccomp policy; -ENOMEM) with a Fix: hint in @err.
 */
int mk_uring_probe(struct mk_err *err);

/*
 * Open the absolute @path for streaming with the calling thread's
 * credentials: O_RDONLY | O_CLOEXEC, never blocking on a FIFO, and only if
 * it is a regular file. On success returns the fd (>= 0, O_NONBLOCK
 * cleared) and stores its size in *@size. Errors with a Fix: hint:
 *   -EINVAL  @path is not absolute, or not a regular file (FIFO, socket,
 *            device); -EISDIR for a directory
 *   -EACCES / -EPERM  permission denied; -ENOENT  no such file;
 *   any other -errno of open(2)/fstat(2)
 */
int mk_uring_open_source(const char *path, uint64_t *size,
			 struct mk_err *err);
/* The same for a path with every symlink resolved already: no symlink is
 * followed (one swapped in since gives -ELOOP). */
int mk_uring_open_resolved(const char *path, uint64_t *size,
			   struct mk_err *err);

/*
 * Create a reader and submit the first min(nbuf, chunk_count) reads. The
 * buffers are registered with io_uring_register_buffers and read with
 * READ_FIXED; if registration fails (RLIMIT_MEMLOCK, memory that cannot be
 * pinned) plain READ is used and the status string says so. On success
 * *@out is the reader and 0 is returned. Errors with a Fix: hint, *@out
 * untouched and nothing left in flight:
 *   -EBADF   fd not open, or not open for reading
 *   -EISDIR / -EINVAL  fd is a directory / not a regular file
 *   -EINVAL  bad parameters (zero chunk, no or too many buffers, NULL
 *            buffer, buf_cap too small, unknown flag, O_NONBLOCK fd)
 *   -EIO     file_size exceeds the file's current size
 *   -EOVERFLOW  more than 2^44 chunks
 *   -ENOSYS / -EPERM / -ENOMEM  io_uring_queue_init failed (as probe)
 *   other -errno of a failing first submission
 */
int mk_uring_reader_create(const struct mk_uring_params *p,
			   struct mk_uring_reader **out, struct mk_err *err);

/*
 * Wait at most @timeout_ns (0: do not wait) for the next completed chunk
 * (order: see MK_URING_ORDERED) and hand it out in *@out; its buffer is
 * then HELD by the caller until mk_uring_reader_release. Returns:
 *   1           a chunk is in *@out
 *   0           end of stream: every chunk has been handed out
 *   -ETIMEDOUT  nothing completed in time; the stream is fine, call again
 *   -ENOBUFS    the caller holds every buffer; release one first
 *   -ECANCELED  the reader was cancelled
 *   -EINVAL     @timeout_ns < 0
 *   other -errno  the stream failed, for good (every later call returns
 *               it): -EIO when the file got shorter than file_size while
 *               streaming, or a read's own error (cqe->res: -EIO, -EBADF,
 *               ...). The text is in mk_uring_reader_err().
 * Short reads are resubmitted for the remainder internally; they are never
 * visible here.
 */
int mk_uring_reader_next(struct mk_uring_reader *r, struct mk_chunk *out,
			 int64_t timeout_ns);

/*
 * Give buffer @buf_id (from a chunk handed out by next) back, in any
 * order. If chunks remain, the next chunk's read goes out into it at once.
 * Returns 0; -EINVAL (with a Fix: hint) if @buf_id is not currently held;
 * or the -errno of a failed submission, which also fails the stream. After
 * a failure or cancel the buffer is just taken back.
 */
int mk_uring_reader_release(struct mk_uring_reader *r, uint32_t buf_id);

/*
 * Stop the stream: cancel every read in flight (io_uring_prep_cancel64 per
 * read) and reap completions until none is left, dropping undelivered
 * chunks. Buffers the caller holds stay valid until released or destroy.
 * Later next() calls return -ECANCELED (or the stream's failure, if it
 * had failed before). Returns 0; -ETIMEDOUT if reads are still in flight
 * after MK_URING_DRAIN_MS (destroy keeps waiting); or the -errno of a
 * failing io_uring wait. Idempotent.
 */
int mk_uring_reader_cancel(struct mk_uring_reader *r);
#define MK_URING_DRAIN_MS 10000

/*
 * Cancel (as above), wait until no read is in flight, tear the ring down
 * (unregistering the buffers), close the O_DIRECT reopen if any, free the
 * reader. NULL is fine. After it returns the kernel no longer writes into
 * any buffer, so the caller may free them. It waits (in bounded steps,
 * re-issuing cancels) for as long as reads of the regular file are
 * outstanding; only if io_uring's wait itself fails does it tear the ring
 * down with reads outstanding and leave their cancellation to the kernel.
 */
void mk_uring_reader_destroy(struct mk_uring_reader *r);

/* How the reader reads, for logs and the progress file: e.g.
 * "READ_FIXED, 4 registered buffers, buffered I/O" or "plain READ
 * (register_buffers: ENOMEM ...), O_DIRECT". */
const char *mk_uring_reader_status(const struct mk_uring_reader *r);

/* The last error (failure of the stream, -ENOBUFS, a bad release); its
 * code is 0 and its message "" while there was none. */
const struct mk_err *mk_uring_reader_err(const struct mk_uring_reader *r);

/* Number of chunks of the stream: ceil(file_size / chunk_bytes). */
uint64_t mk_uring_reader_chunks(const struct mk_uring_reader *r);

#endif /* MK_RUNTIME_URING_H */
