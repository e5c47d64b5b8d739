/* SPDX-License-Identifier: MIT */
/*
 * fs/file_stream.c - streams/S: one file scanned for one pattern set
 * through the resident megakernel (runtime/stream.h does the scanning).
 *   source       rw  absolute path; opened at `start` as the user who
 *                    wrote it (fs/cred.c)
 *   patterns     rw  name of a set in patterns/
 *   chunk_bytes  rw  4096..16777216 (4 MiB)   max_hits rw 0..65536 (1000)
 *   ctl          w   start | cancel
 *   progress     r   state=... bytes=... total=... percent=... gbps=...
 *                    elapsed_s=...; poll(2) is readable unless running
 *   matches      r   every (pattern, end) pair counted
 *   hits         r   "pattern end_offset" lines, then "dropped K" if K > 0
 *   error        r   "" or the failure with its Fix:
 * Attributes are read at `start`; writing them later changes the next run.
 * A scan that ended is "settled" (its results copied here, the scan freed
 * so its staging buffers and pattern set go back) by the reaper or by the
 * next access, whichever comes first.
 */
#include "fs/obj.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/cmd.h"

static const char *const state_names[] = { "idle", "running", "done",
					   "failed", "cancelled" };

static void set_state(struct mk_fs_stream *st, enum mk_fs_st_state s)
{
	__atomic_store_n(&st->state, (int)s, __ATOMIC_RELEASE);
}

void mk_fs_stream_init(struct mk_fs_obj *o)
{
	struct mk_fs_stream *st = &o->u.st;

	st->chunk_bytes = MK_STREAM_DEFAULT_CHUNK;
	st->max_hits = MK_STREAM_DEFAULT_HITS;
	set_state(st, MK_FS_ST_IDLE);
}

/* The error file's text: "ENAME: message. Fix: ..." (-EIO if unknown). */
static void set_error(struct mk_fs_stream *st, int rc, const char *msg)
{
	const char *name = mk_errno_name(rc ? rc : -EIO);
	size_t n = strlen(name);

	if (strncmp(msg, name, n) == 0 && msg[n] == ':')
		snprintf(st->error, sizeof(st->error), "%s", msg);
	else
		snprintf(st->error, sizeof(st->error), "%s: %s", name, msg);
}

/* Forget the last run's results. */
static void clear_results(struct mk_fs_stream *st)
{
	free(st->hits);
	st->hits = NULL;
	st->nhits = 0;
	st->dropped = 0;
	memset(&st->fin, 0, sizeof(st->fin));
	st->error[0] = '\0';
}

/* If the scan ended: keep its results, free it. o->mu held. 1 = settled. */
static int settle_locked(struct mk_fs *fs, struct mk_fs_obj *o)
{
	struct mk_fs_stream *st = &o->u.st;
	struct mk_stream_progress p;

	if (!st->s)
		return 0;
	mk_stream_progress(st->s, &p);
	if (p.state == MK_STREAM_RUNNING)
		return 0;
	clear_results(st);
	st->fin = p;
	st->hits = calloc((size_t)st->run_hits + 1, sizeof(*st->hits));
	if (st->hits)
		st->nhits = mk_stream_hits(st->s, st->hits, st->run_hits,
					   &st->dropped);
	else
		st->dropped = p.matches; /* counted, none kept */
	mk_stream_destroy(st->s);
	st->s = NULL;
	if (p.state == MK_STREAM_FAILED)
		set_error(st, p.error_code,
			  p.error[0] ? p.error :
				       "the scan failed. Fix: see the daemon log");
	set_state(st, p.state == MK_STREAM_DONE     ? MK_FS_ST_DONE :
		      p.state == MK_STREAM_FAILED   ? MK_FS_ST_FAILED :
						      MK_FS_ST_CANCELLED);
	/* A removed stream keeps its count until the reaper unlists it. */
	if (!o->removed)
		__atomic_sub_fetch(&fs->streams_active, 1, __ATOMIC_ACQ_REL);
	return 1;
}

void mk_fs_streams_settle(struct mk_fs *fs)
{
	struct mk_fs_obj **v;
	size_t n, i;
	int gone;

	v = mk_fs_obj_snapshot(fs, MK_FS_OBJ_STREAM, &n);
	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&v[i]->mu);
		settle_locked(fs, v[i]);
		gone = v[i]->removed && !v[i]->u.st.s;
		pthread_mutex_unlock(&v[i]->mu);
		if (gone && mk_fs_obj_unlist(fs, v[i]))
			__atomic_sub_fetch(&fs->streams_active, 1,
					   __ATOMIC_ACQ_REL);
	}
	mk_fs_obj_put_all(fs, v, n);
}

int mk_fs_stream_remove(struct mk_fs *fs, struct mk_fs_obj *o)
{
	int keep = 0;

	pthread_mutex_lock(&o->mu);
	settle_locked(fs, o); /* before `removed`: see settle_locked */
	o->removed = 1;
	if (o->u.st.s) {
		mk_stream_cancel(o->u.st.s);
		keep = 1; /* the reaper frees it once its slots are done */
	}
	pthread_mutex_unlock(&o->mu);
	return keep;
}

void mk_fs_stream_fini(struct mk_fs *fs, struct mk_fs_obj *o)
{
	struct mk_fs_stream *st = &o->u.st;

	(void)fs;
	mk_stream_destroy(st->s); /* waits; the kernel is stopped by now */
	st->s = NULL;
	clear_results(st);
	free(st->source);
	st->source = NULL;
	mk_fs_cred_fini(&st->cred);
}

unsigned mk_fs_stream_revents(const struct mk_fs_handle *h)
{
	int s = __atomic_load_n(&h->obj->u.st.state, __ATOMIC_ACQUIRE);

	return s == MK_FS_ST_RUNNING ? 0u : (unsigned)(POLLIN | POLLRDNORM);
}

/* ---- reading ------------------------------------------------------------ */

static int progress_text(const struct mk_stream_progress *p, int state,
			 struct mk_fs_text *out)
{
	double pct = p->total ? 100.0 * (double)p->bytes / (double)p->total :
				(state == MK_FS_ST_DONE ? 100.0 : 0.0);
	double gbps = p->elapsed_s > 0 ?
			      (double)p->bytes / p->elapsed_s / 1e9 : 0.0;

	return mk_fs_text_printf(out,
				 "state=%s bytes=%llu total=%llu percent=%.1f gbps=%.3f elapsed_s=%.3f\n",
				 state_names[state],
				 (unsigned long long)p->bytes,
				 (unsigned long long)p->total, pct, gbps,
				 p->elapsed_s);
}

static int hits_text(const struct mk_scan_hit *hits, size_t n,
		     uint64_t dropped, struct mk_fs_text *out)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++)
		rc = mk_fs_text_printf(out, "%u %llu\n", hits[i].pattern,
				       (unsigned long long)hits[i].end_offset);
	if (rc == 0 && dropped)
		rc = mk_fs_text_printf(out, "dropped %llu\n",
				       (unsigned long long)dropped);
	return rc;
}

/* hits of the scan still running (o->mu held). */
static int live_hits_text(struct mk_fs_stream *st, struct mk_fs_text *out)
{
	struct mk_scan_hit *v = calloc((size_t)st->run_hits + 1, sizeof(*v));
	uint64_t dropped = 0;
	size_t n;
	int rc;

	if (!v)
		return -ENOMEM;
	n = mk_stream_hits(st->s, v, st->run_hits, &dropped);
	rc = hits_text(v, n, dropped, out);
	free(v);
	return rc;
}

static int results_text(struct mk_fs_stream *st, enum mk_fs_kind k,
			struct mk_fs_text *out)
{
	struct mk_stream_progress p = st->fin;
	int state = __atomic_load_n(&st->state, __ATOMIC_ACQUIRE);

	if (st->s)
		mk_stream_progress(st->s, &p);
	switch (k) {
	case MK_FS_ST_PROGRESS:
		return progress_text(&p, state, out);
	case MK_FS_ST_MATCHES:
		return mk_fs_text_printf(out, "%llu\n",
					 (unsigned long long)p.matches);
	case MK_FS_ST_HITS:
		return st->s ? live_hits_text(st, out) :
			       hits_text(st->hits, st->nhits, st->dropped, out);
	case MK_FS_ST_ERROR:
		return st->error[0] ? mk_fs_text_printf(out, "%s\n", st->error) :
				      0;
	default:
		return 0; /* ctl is write-only */
	}
}

int mk_fs_stream_text(struct mk_fs *fs, struct mk_fs_handle *h,
		      struct mk_fs_text *out)
{
	struct mk_fs_obj *o = h->obj;
	struct mk_fs_stream *st = &o->u.st;
	int rc;

	pthread_mutex_lock(&o->mu);
	if (o->removed) {
		rc = -ENOENT;
		goto out;
	}
	settle_locked(fs, o);
	switch (h->node.kind) {
	case MK_FS_ST_SOURCE:
		rc = st->source ? mk_fs_text_printf(out, "%s\n", st->source) : 0;
		break;
	case MK_FS_ST_PATTERNS:
		rc = st->pset[0] ? mk_fs_text_printf(out, "%s\n", st->pset) : 0;
		break;
	case MK_FS_ST_CHUNK:
		rc = mk_fs_text_printf(out, "%u\n", st->chunk_bytes);
		break;
	case MK_FS_ST_MAX_HITS:
		rc = mk_fs_text_printf(out, "%u\n", st->max_hits);
		break;
	default:
		rc = results_text(st, h->node.kind, out);
		break;
	}
out:
	pthread_mutex_unlock(&o->mu);
	return rc;
}

/* ---- writing ------------------------------------------------------------ */

/* @buf without one trailing "\n" (and, with @blanks, trailing blanks). */
static size_t trimmed(const char *buf, size_t size, int blanks)
{
	if (size && buf[size - 1] == '\n')
		size--;
	while (blanks && size &&
	       (buf[size - 1] == ' ' || buf[size - 1] == '\t' ||
		buf[size - 1] == '\n' || buf[size - 1] == '\r'))
		size--;
	return size;
}

/* EINVAL when @path, read as written (//, /./, ..), leads into this
 * mount; start resolves its symlinks too, as the writer (fs/cred.c). */
static int source_outside(struct mk_fs *fs, const char *path,
			  struct mk_err *err)
{
	char real[PATH_MAX];

	if (fs->mountpoint &&
	    mk_fs_resolve_source(fs->mountpoint, path, 0, real,
				 sizeof(real)) == -EINVAL)
		return mk_fs_inside_err(err);
	return 0;
}

static int check_source(struct mk_fs *fs, const char *buf, size_t len,
			struct mk_err *err)
{
	char path[MK_FS_SOURCE_MAX];

	if (len == 0 || buf[0] != '/')
		return mk_err_setf(err, -EINVAL,
				   "write an absolute path such as /data/f.bin",
				   "the source '%.*s' is not an absolute path",
				   (int)(len > 64 ? 64 : len), buf);
	if (memchr(buf, '\n', len) || memchr(buf, '\0', len))
		return mk_err_set(err, -EINVAL,
				  "the source path holds a newline or NUL byte",
				  "write one path on one line");
	if (len >= MK_FS_SOURCE_MAX)
		return mk_err_set(err, -ENAMETOOLONG, "the source path is too long",
				  "use a path shorter than 4096 bytes");
	memcpy(path, buf, len);
	path[len] = '\0';
	return source_outside(fs, path, err);
}

static int write_source(struct mk_fs *fs, fuse_req_t req, struct mk_fs_obj *o,
			const char *buf, size_t size, struct mk_err *err)
{
	size_t len = trimmed(buf, size, 0);
	struct mk_fs_cred cred;
	char *path;
	int rc;

	rc = check_source(fs, buf, len, err);
	if (rc)
		return rc;
	path = strndup(buf, len);
	if (!path || mk_fs_cred_of(req, &cred)) {
		free(path);
		return mk_err_set(err, -ENOMEM, "cannot store the source",
				  "free some memory");
	}
	pthread_mutex_lock(&o->mu);
	free(o->u.st.source);
	o->u.st.source = path;
	mk_fs_cred_fini(&o->u.st.cred);
	o->u.st.cred = cred;
	pthread_mutex_unlock(&o->mu);
	return 0;
}

static int write_patterns(struct mk_fs *fs, struct mk_fs_obj *o,
			  const char *buf, size_t size, struct mk_err *err)
{
	size_t len = trimmed(buf, size, 1);
	char name[MK_FS_NAME_MAX + 1];
	struct mk_fs_obj *ps;
	int rc;

	rc = mk_fs_obj_name_ok(buf, len, err);
	if (rc < 0)
		return rc;
	memcpy(name, buf, len);
	name[len] = '\0';
	ps = mk_fs_obj_find(fs, MK_FS_OBJ_PSET, name);
	if (!ps)
		return mk_err_setf(err, -ENOENT,
				   "mkdir patterns/NAME first, or name an existing set (ls patterns)",
				   "no pattern set '%s'", name);
	mk_fs_obj_put(fs, ps);
	pthread_mutex_lock(&o->mu);
	memcpy(o->u.st.pset, name, len + 1);
	pthread_mutex_unlock(&o->mu);
	return 0;
}

static int write_number(struct mk_fs_obj *o, enum mk_fs_kind k,
			const char *buf, size_t size, struct mk_err *err)
{
	int chunk = k == MK_FS_ST_CHUNK;
	uint32_t lo = chunk ? MK_STREAM_MIN_CHUNK : 0;
	uint32_t hi = chunk ? MK_STREAM_MAX_CHUNK : MK_SCAN_HITS_CAP;
	uint32_t v;
	int rc;

	rc = mk_cmd_parse_numbers(buf, size, &v, 1, err);
	if (rc < 0) {
		err->code = -EINVAL;
		return -EINVAL;
	}
	if (v < lo || v > hi)
		return mk_err_setf(err, -EINVAL,
				   chunk ? "use chunk_bytes between 4096 and 16777216" :
					   "use max_hits between 0 and 65536",
				   "%s=%u is out of range",
				   chunk ? "chunk_bytes" : "max_hits", v);
	pthread_mutex_lock(&o->mu);
	if (chunk)
		o->u.st.chunk_bytes = v;
	else
		o->u.st.max_hits = v;
	pthread_mutex_unlock(&o->mu);
	return 0;
}

/* A failure of the source itself: the run ends as failed. o->mu held. */
static int fail_locked(struct mk_fs_stream *st, int rc,
		       const struct mk_err *err)
{
	clear_results(st);
	set_error(st, rc, err->msg);
	set_state(st, MK_FS_ST_FAILED);
	return rc;
}

/* What must hold before the source is opened: nothing changes if not. */
static int start_checks(struct mk_fs *fs, struct mk_fs_obj *o,
			struct mk_err *err)
{
	struct mk_fs_stream *st = &o->u.st;
	struct mk_fs_obj *ps;

	if (o->removed)
		return mk_err_set(err, -ENOENT, "the stream was removed",
				  "mkdir it again");
	if (st->s)
		return mk_err_set(err, -EBUSY, "the stream is running",
				  "wait for state=done in progress, or echo cancel > ctl first");
	if (!fs->pool) {
		*err = fs->pool_err;
		return fs->pool_err.code ? fs->pool_err.code : -ENOTSUP;
	}
	if (!st->source)
		return mk_err_set(err, -EINVAL, "the stream has no source",
				  "echo /absolute/path > streams/S/source first");
	if (!st->pset[0])
		return mk_err_set(err, -EINVAL, "the stream has no pattern set",
				  "echo NAME > streams/S/patterns first");
	ps = mk_fs_obj_find(fs, MK_FS_OBJ_PSET, st->pset);
	if (!ps)
		return mk_err_setf(err, -ENOENT,
				   "mkdir patterns/NAME, or write another name into patterns",
				   "no pattern set '%s'", st->pset);
	mk_fs_obj_put(fs, ps);
	return 0;
}

static int start(struct mk_fs *fs, struct mk_fs_obj *o, struct mk_err *err)
{
	struct mk_fs_stream *st = &o->u.st;
	struct mk_stream_params p;
	struct mk_stream *s = NULL;
	int rc, fd;

	/* Finished scans of other streams give their staging buffers back. */
	mk_fs_streams_settle(fs);
	pthread_mutex_lock(&o->mu);
	settle_locked(fs, o);
	rc = start_checks(fs, o, err);
	if (rc)
		goto out;
	memset(&p, 0, sizeof(p));
	fd = mk_fs_open_as(&st->cred, st->source, fs->mountpoint, &p.size, err);
	if (fd < 0) {
		rc = fail_locked(st, fd, err);
		goto out;
	}
	p.fd = fd;
	p.chunk_bytes = st->chunk_bytes;
	p.max_hits = st->max_hits;
	rc = mk_fs_pset_start(fs, st->pset, &p, &s, err); /* owns fd */
	if (rc) {
		rc = fail_locked(st, rc, err);
		goto out;
	}
	clear_results(st);
	st->s = s;
	st->run_hits = p.max_hits;
	set_state(st, MK_FS_ST_RUNNING);
	__atomic_add_fetch(&fs->streams_active, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&fs->watch_lock);
	mk_fs_watch_kick_locked(fs); /* the reaper settles and notifies */
	pthread_mutex_unlock(&fs->watch_lock);
out:
	pthread_mutex_unlock(&o->mu);
	return rc;
}

static int write_ctl(struct mk_fs *fs, struct mk_fs_obj *o, const char *buf,
		     size_t size, struct mk_err *err)
{
	size_t len = trimmed(buf, size, 1);

	if (len == 5 && memcmp(buf, "start", 5) == 0)
		return start(fs, o, err);
	if (len == 6 && memcmp(buf, "cancel", 6) == 0) {
		/* Idempotent; the state turns cancelled once the chunks in
		 * the kernel are done. */
		pthread_mutex_lock(&o->mu);
		if (o->u.st.s)
			mk_stream_cancel(o->u.st.s);
		pthread_mutex_unlock(&o->mu);
		return 0;
	}
	return mk_err_setf(err, -EINVAL, "write start or cancel",
			   "unknown stream command '%.*s'",
			   (int)(len > 32 ? 32 : len), buf);
}

int mk_fs_stream_write(struct mk_fs *fs, fuse_req_t req,
		       struct mk_fs_handle *h, const char *buf, size_t size,
		       struct mk_err *err)
{
	struct mk_fs_obj *o = h->obj;

	switch (h->node.kind) {
	case MK_FS_ST_SOURCE:
		return write_source(fs, req, o, buf, size, err);
	case MK_FS_ST_PATTERNS:
		return write_patterns(fs, o, buf, size, err);
	case MK_FS_ST_CHUNK:
	case MK_FS_ST_MAX_HITS:
		return write_number(o, h->node.kind, buf, size, err);
	case MK_FS_ST_CTL:
		return write_ctl(fs, o, buf, size, err);
	default:
		return mk_err_set(err, -EBADF, "this file is read-only",
				  "write to a file with mode 0644 or 0200");
	}
}
