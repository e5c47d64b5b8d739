/* SPDX-License-Identifier: MIT */
/*
 * fs/file_errors.c - the `errors` file and the one error reply path.
 * A reader can only get an errno back, so every rejection is also kept
 * here (the last 64: time, path, errno name, message with "Fix:") and
 * sent to fuse_log (stderr in the foreground, syslog otherwise), at most
 * MK_FS_LOG_BURST lines a second.
 */
#include "fs/fs.h"
#include "fs/obj.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void mk_fs_reply_err(fuse_req_t req, int rc)
{
	/* FUSE wants a positive errno; we carry negative ones. */
	fuse_reply_err(req, rc < 0 ? -rc : rc);
}

/* Message of @err, or a generic one that still has a Fix: hint. */
static const char *message_of(const struct mk_err *err, int rc, char *buf,
			      size_t cap)
{
	if (err && err->msg[0])
		return err->msg;
	snprintf(buf, cap, "%s. Fix: see megafs(1) for what this file accepts",
		 strerror(-rc));
	return buf;
}

/*
 * Keep the rejection in the `errors` ring. Returns whether it may go to the
 * log too: at most MK_FS_LOG_BURST lines a second, so a script retrying a
 * busy slot cannot flood syslog; *dropped is then the count held back since
 * the last logged line (the ring keeps them all).
 */
static int record(struct mk_fs *fs, const char *path, int rc,
		  const char *msg, uint64_t *dropped)
{
	struct mk_fs_error_rec *r;
	int log;

	pthread_mutex_lock(&fs->err_lock);
	r = &fs->errs[fs->err_total % MK_FS_ERRORS_KEEP];
	clock_gettime(CLOCK_REALTIME, &r->when);
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->code = rc;
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
	fs->err_total++;
	if (r->when.tv_sec != fs->log_sec) {
		fs->log_sec = r->when.tv_sec;
		fs->log_burst = 0;
	}
	log = fs->log_burst < MK_FS_LOG_BURST;
	if (log) {
		fs->log_burst++;
		*dropped = fs->log_dropped;
		fs->log_dropped = 0;
	} else {
		fs->log_dropped++;
	}
	pthread_mutex_unlock(&fs->err_lock);
	return log;
}

void mk_fs_record(struct mk_fs *fs, const struct mk_fs_node *n, int rc,
		  const struct mk_err *err)
{
	char path[MK_FS_PATH_MAX], fallback[MK_ERR_MSG_MAX];
	const char *msg = message_of(err, rc, fallback, sizeof(fallback));
	uint64_t dropped = 0;

	mk_fs_obj_path(fs, n, path, sizeof(path));
	if (!record(fs, path, rc, msg, &dropped))
		return;
	if (dropped)
		fuse_log(FUSE_LOG_ERR, "megafs: %llu more rejections not logged "
			 "(over %u a second; the errors file keeps the last %u)\n",
			 (unsigned long long)dropped, MK_FS_LOG_BURST,
			 MK_FS_ERRORS_KEEP);
	fuse_log(FUSE_LOG_ERR, "megafs: %s: %s: %s\n", path,
		 mk_errno_name(rc), msg);
}

void mk_fs_reject(struct mk_fs *fs, fuse_req_t req,
		  const struct mk_fs_node *n, int rc, const struct mk_err *err)
{
	mk_fs_record(fs, n, rc, err);
	mk_fs_reply_err(req, rc);
}

/* One line per kept rejection, oldest first, newlines flattened. */
int mk_fs_errors_text(struct mk_fs *fs, struct mk_fs_text *out)
{
	uint64_t i, first;
	int rc = 0;

	pthread_mutex_lock(&fs->err_lock);
	first = fs->err_total > MK_FS_ERRORS_KEEP ?
			fs->err_total - MK_FS_ERRORS_KEEP : 0;
	for (i = first; i < fs->err_total && rc == 0; i++) {
		const struct mk_fs_error_rec *r =
			&fs->errs[i % MK_FS_ERRORS_KEEP];
		char stamp[32], msg[MK_ERR_MSG_MAX];
		struct tm tm;
		char *p;

		gmtime_r(&r->when.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(msg, sizeof(msg), "%s", r->msg);
		for (p = msg; *p; p++)
			if (*p == '\n')
				*p = ' ';
		rc = mk_fs_text_printf(out, "%s.%03ldZ %s %s %s\n", stamp,
				       r->when.tv_nsec / 1000000L, r->path,
				       mk_errno_name(r->code), msg);
	}
	pthread_mutex_unlock(&fs->err_lock);
	return rc;
}
