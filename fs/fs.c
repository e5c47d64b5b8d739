/* SPDX-License-Identifier: MIT */
/*
 * fs/fs.c - the mount context (struct mk_fs in fs/fs.h) and the growable
 * text buffer every generated file is printed into. No FUSE requests here.
 */
#include "fs/fs.h"
#include "fs/obj.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Grow @t to hold @need bytes; -ENOMEM (and t->oom) when it cannot. */
static int text_reserve(struct mk_fs_text *t, size_t need)
{
	size_t cap = t->cap ? t->cap : 256;
	char *nb;

	if (need <= t->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	nb = realloc(t->buf, cap);
	if (!nb) {
		t->oom = 1;
		return -ENOMEM;
	}
	t->buf = nb;
	t->cap = cap;
	return 0;
}

int mk_fs_text_printf(struct mk_fs_text *t, const char *fmt, ...)
{
	va_list ap;
	size_t need;
	int n;

	if (t->oom)
		return -ENOMEM;
	va_start(ap, fmt);
	n = vsnprintf(t->buf ? t->buf + t->len : NULL,
		      t->buf ? t->cap - t->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (t->buf && (size_t)n < t->cap - t->len) {
		t->len += (size_t)n;
		return 0;
	}
	need = t->len + (size_t)n + 1;
	if (text_reserve(t, need))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
	return 0;
}

int mk_fs_text_append(struct mk_fs_text *t, const void *p, size_t n)
{
	if (t->oom || text_reserve(t, t->len + n + 1))
		return -ENOMEM;
	if (n)
		memcpy(t->buf + t->len, p, n);
	t->len += n;
	t->buf[t->len] = '\0';
	return 0;
}

void mk_fs_text_fini(struct mk_fs_text *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

int mk_fs_init(struct mk_fs *fs, struct mk_runtime *rt, const char *sched)
{
	const char *sync;

	memset(fs, 0, sizeof(*fs));
	fs->rt = rt;
	fs->scheduler = sched;
	sync = getenv("MK_RAW_SYNC");
	fs->raw_late = sync && strcmp(sync, "1") == 0;
	fs->uid = (uint32_t)getuid();
	fs->gid = (uint32_t)getgid();
	clock_gettime(CLOCK_REALTIME, &fs->mounted);
	mk_fs_tree_init(&fs->tree, mk_runtime_slots(rt),
			mk_runtime_ctl_words(rt) - MK_CONTROL_MIN_WORDS);
	/* Every slot can be orphaned at most once: no growth later. */
	fs->orphans = calloc(mk_runtime_slots(rt), sizeof(uint32_t));
	if (!fs->orphans)
		return -ENOMEM;
	pthread_mutex_init(&fs->err_lock, NULL);
	pthread_mutex_init(&fs->watch_lock, NULL);
	pthread_mutex_init(&fs->obj_lock, NULL);
	pthread_mutex_init(&fs->open_lock, NULL);
	fs->open.onext = &fs->open;
	fs->open.oprev = &fs->open;
	pthread_cond_init(&fs->watch_cond, NULL);
	fs->watch.next = &fs->watch;
	fs->watch.prev = &fs->watch;
	/* Not fatal: patterns/ and streams/ still exist; `start` reports
	 * pool_err (e.g. -ENOTSUP on a backend that cannot scan). */
	if (mk_scan_pool_create(rt, &fs->pool, &fs->pool_err))
		fs->pool = NULL;
	return 0;
}

void mk_fs_fini(struct mk_fs *fs)
{
	if (!fs->orphans)
		return;
	/* No scan may run while its buffers and sets are freed. */
	mk_runtime_stop(fs->rt);
	mk_fs_obj_fini(fs);
	mk_scan_pool_destroy(fs->pool);
	fs->pool = NULL;
	pthread_mutex_destroy(&fs->obj_lock);
	pthread_mutex_destroy(&fs->open_lock);
	free(fs->orphans);
	fs->orphans = NULL;
	pthread_cond_destroy(&fs->watch_cond);
	pthread_mutex_destroy(&fs->watch_lock);
	pthread_mutex_destroy(&fs->err_lock);
}

int mk_fs_up(struct mk_fs *fs, struct fuse_session *se, struct mk_runtime *rt,
	     const char *mountpoint, const char *sched, struct mk_err *err)
{
	int rc;

	if (mk_fs_init(fs, rt, sched))
		return mk_err_set(err, -ENOMEM, "out of memory for the file tree",
				  "lower slots=");
	fs->se = se;
	fs->mountpoint = mountpoint;
	if (!fs->pool)
		fuse_log(FUSE_LOG_WARNING, "megafs: streams cannot start: %s\n",
			 mk_err_msg(&fs->pool_err));
	if (fuse_session_mount(se, mountpoint))
		return mk_err_setf(err, -EIO,
				   "check that it is an empty directory you own and /dev/fuse exists",
				   "cannot mount on %s", mountpoint);
	rc = mk_runtime_start(rt, err);
	if (rc)
		goto out_unmount;
	if (mk_fs_reaper_start(fs)) {
		rc = mk_err_set(err, -EAGAIN, "cannot start the reaper thread",
				"raise ulimit -u");
		goto out_unmount;
	}
	return 0;

out_unmount:
	fuse_session_unmount(se);
	return rc;
}

void mk_fs_down(struct mk_fs *fs)
{
	fuse_session_unmount(fs->se);
	mk_fs_reaper_stop(fs);
	/* Before fuse_session_destroy: a pending `call` read still gets its
	 * (failing) reply; before mk_fs_fini: they hold object references. */
	mk_fs_handles_fini(fs);
}
