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
	memset(fs, 0, sizeof(*fs));
	fs->rt = rt;
	fs->scheduler = sched;
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
	mk_fs_pset_reclaim(fs, 1);
	mk_scan_pool_destroy(fs->pool);
	fs->pool = NULL;
	pthread_mutex_destroy(&fs->obj_lock);
	free(fs->orphans);
	fs->orphans = NULL;
	pthread_cond_destroy(&fs->watch_cond);
	pthread_mutex_destroy(&fs->watch_lock);
	pthread_mutex_destroy(&fs->err_lock);
}
