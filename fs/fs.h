/* SPDX-License-Identifier: MIT */
/*
 * fs/fs.h - what the files of fs/ share: the mount context, the per-open
 * handle, the text buffer, and each file kind's entry points. Private to
 * fs/ (runtime/ never includes it). The request handlers live in fs/ops.c,
 * the inode table in fs/tree.h, the reaper thread in fs/reaper.c.
 *
 * Error convention: every function returns 0 / a count or -errno and
 * fills a struct mk_err with a "Fix:" hint; only mk_fs_reply_err() turns
 * a -errno into fuse_reply_err(), and mk_fs_reject() also records it in
 * the `errors` file and the log.
 */
#ifndef MK_FS_FS_H
#define MK_FS_FS_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "fs/tree.h"
#include "runtime/runtime.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "megafs exposes little-endian slot images as host words"
#endif

#define MK_FS_ERRORS_KEEP 64u    /* lines kept by the `errors` file */
#define MK_FS_LOG_BURST 10u      /* rejections logged per second at most */
#define MK_FS_MAX_WRITE (1u << 20) /* 1 MiB = 16,384 slot images */
#define MK_FS_PAGE 4096u /* the kernel splits direct_io writes by pages */
#define MK_FS_PATH_MAX 96u   /* "streams/<48-byte name>/chunk_bytes" fits */

/* A growable text buffer for generated file contents. */
struct mk_fs_text {
	char *buf;
	size_t len;
	size_t cap;
	int oom; /* an append failed; the caller returns -ENOMEM */
};

int mk_fs_text_printf(struct mk_fs_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append @n raw bytes. 0 or -ENOMEM. */
int mk_fs_text_append(struct mk_fs_text *t, const void *p, size_t n);
void mk_fs_text_fini(struct mk_fs_text *t);

struct mk_fs_error_rec {
	struct timespec when;
	char path[MK_FS_PATH_MAX];
	int code; /* negative errno */
	char msg[MK_ERR_MSG_MAX];
};

struct mk_fs_chan; /* a `call` channel, fs/file_call.c */
struct mk_fs_obj;  /* patterns/P or streams/S, fs/obj.h */
struct mk_scan_pool;
struct mk_dfa;

/* One open file (fi->fh). */
struct mk_fs_handle {
	struct mk_fs_node node;
	pthread_mutex_t lock;   /* guards snap */
	struct mk_fs_text snap; /* text served at offset > 0; rebuilt at 0 */
	/* fields below are guarded by mk_fs.watch_lock */
	struct mk_fs_chan *chan;     /* `call` channel, else NULL */
	struct fuse_pollhandle *ph;  /* armed poll, else NULL */
	struct mk_fs_handle *next;   /* watch list (call handles, armed polls) */
	struct mk_fs_handle *prev;
	int linked;
	/* object files (patterns/P/..., streams/S/...), else NULL / empty */
	struct mk_fs_obj *obj;  /* reference held until release */
	struct mk_fs_text wbuf; /* literals/dfa bytes written (under lock) */
	int wdirty;             /* wbuf not compiled yet (under lock) */
	struct mk_dfa *wdfa;    /* wbuf compiled already (checked at write) */
	/* Opened with O_APPEND ("echo ... >> file"): the kernel's offset is
	 * its cached size, so this handle's own count stands in for it. */
	int append;
	uint64_t wrote; /* text bytes taken through an append handle (atomic) */
	size_t wseed;   /* literals: bytes of the set's text an append began with */
	/* every open handle, until its release (mk_fs.open_lock) */
	struct mk_fs_handle *onext, *oprev;
};

/* The mount: one per process, fuse_req_userdata() of every request. */
struct mk_fs {
	struct mk_runtime *rt;
	struct mk_fs_tree tree;
	struct fuse_session *se;
	uint32_t uid, gid;       /* owner of every node */
	struct timespec mounted; /* times of every node */
	const char *scheduler;   /* "sharded" or "priority" */
	int raw_late;            /* MK_RAW_SYNC=1: answer ring/raw after end */
	/* the `errors` ring, guarded by err_lock (taken after watch_lock) */
	pthread_mutex_t err_lock;
	struct mk_fs_error_rec errs[MK_FS_ERRORS_KEEP];
	uint64_t err_total;
	/* log rate limit (under err_lock): a burst per second, then a count */
	int64_t log_sec;
	uint32_t log_burst;
	uint64_t log_dropped;
	/* reaper state, guarded by watch_lock */
	pthread_mutex_t watch_lock;
	pthread_cond_t watch_cond;   /* signalled when the reaper has work */
	struct mk_fs_handle watch;   /* list head */
	uint32_t *orphans;           /* reserved slots of closed channels */
	size_t norphans;
	size_t nreaders;             /* blocked `call` reads */
	size_t npolls;               /* armed poll handles */
	int reaper_stop;
	int reaper_started;
	pthread_t reaper;
	/* objects (fs/obj.c); obj_lock is a leaf: nothing else is taken
	 * while it is held, except the runtime's own locks */
	pthread_mutex_t obj_lock;
	struct mk_fs_obj *objs;        /* every object, ascending id */
	uint64_t next_obj;             /* id of the next mkdir */
	uint32_t npsets, nstreams;     /* listed objects per kind */
	int streams_active;            /* atomic: streams the reaper settles */
	struct mk_scan_pool *pool;     /* NULL: pool_err says why */
	struct mk_err pool_err;
	const char *mountpoint;        /* sources below it are refused */
	/* open handles: a close just before unmount may never see its
	 * RELEASE; mk_fs_fini frees what is left. open_lock is a leaf. */
	pthread_mutex_t open_lock;
	struct mk_fs_handle open; /* list head */
};

/* ---- fs/ops.c --------------------------------------------------------- */
const struct fuse_lowlevel_ops *mk_fs_ops(void);
/* Free the handles whose RELEASE never came: after the session loop, before
 * fuse_session_destroy (mk_fs_down calls it). */
void mk_fs_handles_fini(struct mk_fs *fs);

/* ---- fs/fs.c: the context ------------------------------------------------ */
/* Set up @fs over a created runtime (not started) and create its scan
 * pool (a backend that cannot scan leaves pool NULL, pool_err set).
 * 0 or -ENOMEM. */
int mk_fs_init(struct mk_fs *fs, struct mk_runtime *rt, const char *sched);
/* Free what mk_fs_init allocated, streams and pattern sets included; the
 * reaper must be stopped. Stops the kernel first. */
void mk_fs_fini(struct mk_fs *fs);
/*
 * Bring a mount up: mk_fs_init over @rt, mount @se on @mountpoint, start
 * the kernel and the reaper. 0, or -errno with a Fix: hint in @err and
 * nothing mounted or started (@fs may be initialised: the caller destroys
 * the session, then calls mk_fs_fini, as after a clean run). Used by
 * fs/main.c and by in-process tests that also drive the runtime API.
 */
int mk_fs_up(struct mk_fs *fs, struct fuse_session *se, struct mk_runtime *rt,
	     const char *mountpoint, const char *sched, struct mk_err *err);
/* After the session loop: unmount, stop the reaper, free leftover handles. */
void mk_fs_down(struct mk_fs *fs);

/* ---- fs/file_errors.c: the one error reply path ------------------------ */
/* The only fuse_reply_err() call; @rc is a negative errno. */
void mk_fs_reply_err(fuse_req_t req, int rc);
/* Record (errors file + fuse_log) and reply @rc to @req. */
void mk_fs_reject(struct mk_fs *fs, fuse_req_t req,
		  const struct mk_fs_node *n, int rc, const struct mk_err *err);
/* Record only (no request to answer, e.g. release). */
void mk_fs_record(struct mk_fs *fs, const struct mk_fs_node *n, int rc,
		  const struct mk_err *err);
int mk_fs_errors_text(struct mk_fs *fs, struct mk_fs_text *out);

/* ---- fs/file_readme.c --------------------------------------------------- */
int mk_fs_readme_text(struct mk_fs *fs, struct mk_fs_text *out);

/* ---- fs/file_ring.c ------------------------------------------------------ */
/* Text command or exactly 64 bytes of slot image -> @img. -EINVAL/-E2BIG. */
int mk_fs_decode_write(const char *buf, size_t size, struct mk_slot *img,
		       struct mk_err *err);
int mk_fs_slot_text(struct mk_fs *fs, uint32_t slot, struct mk_fs_text *out);
int mk_fs_slot_write(struct mk_fs *fs, uint32_t slot, const char *buf,
		     size_t size, struct mk_err *err);
/* ring/raw: bytes [off, off+size) of the ring into @dst; returns count. */
int mk_fs_ring_raw_read(struct mk_fs *fs, uint64_t off, size_t size,
			char *dst);
/* A ring/raw write between its check and its line writes. */
struct mk_fs_raw {
	struct mk_publish pub;
	struct mk_slot *copy; /* the images, when @buf was not 4-aligned */
};
/*
 * ring/raw: check and claim whole images (mk_runtime_publish_begin);
 * returns bytes taken (short for a split piece) or -errno. After a
 * positive return the caller answers the write, then must call
 * mk_fs_ring_raw_finish() with @buf still valid.
 */
int mk_fs_ring_raw_write(struct mk_fs *fs, const char *buf, size_t size,
			 uint64_t off, struct mk_fs_raw *raw,
			 struct mk_err *err);
/* Write the lines and wake the kernel (mk_runtime_publish_end). */
void mk_fs_ring_raw_finish(struct mk_fs *fs, struct mk_fs_raw *raw);
/* poll revents of ring/N now (POLLIN when DONE). */
unsigned mk_fs_slot_revents(struct mk_fs *fs, uint32_t slot);

/* ---- fs/file_ctl.c -------------------------------------------------------- */
int mk_fs_ctl_text(struct mk_fs *fs, const struct mk_fs_node *n,
		   struct mk_fs_text *out);
int mk_fs_ctl_write(struct mk_fs *fs, const struct mk_fs_node *n,
		    const char *buf, size_t size, struct mk_err *err);
int mk_fs_ctl_raw_read(struct mk_fs *fs, uint64_t off, size_t size,
		       char *dst);
int mk_fs_ctl_raw_write(struct mk_fs *fs, const char *buf, size_t size,
			uint64_t off, struct mk_err *err);

/* ---- fs/file_obs.c: observables and debug/log ----------------------------- */
int mk_fs_obs_text(struct mk_fs *fs, uint32_t k, struct mk_fs_text *out);
int mk_fs_obs_write(struct mk_fs *fs, uint32_t k, const char *buf,
		    size_t size, struct mk_err *err);
int mk_fs_debug_text(struct mk_fs *fs, struct mk_fs_text *out);

/* ---- fs/file_call.c: `call` channels -------------------------------------- */
int mk_fs_call_open(struct mk_fs *fs, struct mk_fs_handle *h);
void mk_fs_call_release(struct mk_fs *fs, struct mk_fs_handle *h);
void mk_fs_call_read(struct mk_fs *fs, fuse_req_t req, struct mk_fs_handle *h,
		     size_t size, int flags);
void mk_fs_call_write(struct mk_fs *fs, fuse_req_t req,
		      struct mk_fs_handle *h, const char *buf, size_t size);
/* Reaper side, watch_lock held: answer blocked reads that can proceed. */
void mk_fs_call_service_locked(struct mk_fs *fs, struct mk_fs_handle *h);
unsigned mk_fs_call_revents_locked(struct mk_fs *fs, struct mk_fs_handle *h);

/* ---- fs/reaper.c: completions, poll, orphans ------------------------------- */
int mk_fs_reaper_start(struct mk_fs *fs);
void mk_fs_reaper_stop(struct mk_fs *fs);
/* Link/unlink @h on the watch list; watch_lock held. */
void mk_fs_watch_link_locked(struct mk_fs *fs, struct mk_fs_handle *h);
void mk_fs_watch_unlink_locked(struct mk_fs *fs, struct mk_fs_handle *h);
/* Wake the reaper after adding work; watch_lock held. */
void mk_fs_watch_kick_locked(struct mk_fs *fs);
/* poll() on any handle: reply revents, arm @ph when not yet readable. */
void mk_fs_poll(struct mk_fs *fs, fuse_req_t req, struct mk_fs_handle *h,
		struct fuse_pollhandle *ph);
/* Drop @h's armed poll and unlink it (release of a non-call handle). */
void mk_fs_watch_release(struct mk_fs *fs, struct mk_fs_handle *h);

#endif /* MK_FS_FS_H */
