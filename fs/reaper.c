/* SPDX-License-Identifier: MIT */
/*
 * fs/reaper.c - the one thread that answers what waits on completions:
 * parked `call` reads, armed poll handles (ring/N, call, streams/S/
 * progress), slots of closed call channels, and streams whose scan ended
 * (settled: results kept, the scan freed, poll notified). It sleeps on a
 * condition variable while nothing waits, and on
 * mk_runtime_wait_progress() while something does, so no FUSE worker ever
 * blocks on the kernel.
 *
 * Lost-wakeup rule: waiters check and register under watch_lock; the
 * reaper reads the progress counter before it scans, so a completion
 * after a scan always ends the next wait.
 */
#include "fs/fs.h"
#include "fs/obj.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#define REAPER_WAIT_NS 100000000LL /* 100 ms: also notices a stop */
/* While scans run: a scan's end is not a ring completion of its own, so
 * this bounds how late a poll on progress hears of it. */
#define REAPER_STREAM_NS 10000000LL

void mk_fs_watch_link_locked(struct mk_fs *fs, struct mk_fs_handle *h)
{
	if (h->linked)
		return;
	h->next = &fs->watch;
	h->prev = fs->watch.prev;
	fs->watch.prev->next = h;
	fs->watch.prev = h;
	h->linked = 1;
}

void mk_fs_watch_unlink_locked(struct mk_fs *fs, struct mk_fs_handle *h)
{
	(void)fs;
	if (!h->linked)
		return;
	h->prev->next = h->next;
	h->next->prev = h->prev;
	h->next = h->prev = NULL;
	h->linked = 0;
}

void mk_fs_watch_kick_locked(struct mk_fs *fs)
{
	pthread_cond_signal(&fs->watch_cond);
}

static unsigned revents_locked(struct mk_fs *fs, struct mk_fs_handle *h)
{
	if (h->chan)
		return mk_fs_call_revents_locked(fs, h);
	if (h->node.kind == MK_FS_RING_SLOT)
		return mk_fs_slot_revents(fs, h->node.index);
	if (h->obj && h->node.kind == MK_FS_ST_PROGRESS)
		return mk_fs_stream_revents(h);
	return POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;
}

void mk_fs_poll(struct mk_fs *fs, fuse_req_t req, struct mk_fs_handle *h,
		struct fuse_pollhandle *ph)
{
	unsigned rev;

	pthread_mutex_lock(&fs->watch_lock);
	rev = revents_locked(fs, h);
	if (ph && !(rev & POLLIN)) {
		/* One armed handle per open file; the newest wins. */
		if (h->ph)
			fuse_pollhandle_destroy(h->ph);
		else
			fs->npolls++;
		h->ph = ph;
		ph = NULL;
		mk_fs_watch_link_locked(fs, h);
		mk_fs_watch_kick_locked(fs);
	}
	pthread_mutex_unlock(&fs->watch_lock);
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, rev);
}

void mk_fs_watch_release(struct mk_fs *fs, struct mk_fs_handle *h)
{
	pthread_mutex_lock(&fs->watch_lock);
	if (h->ph) {
		fuse_pollhandle_destroy(h->ph);
		h->ph = NULL;
		fs->npolls--;
	}
	mk_fs_watch_unlink_locked(fs, h);
	pthread_mutex_unlock(&fs->watch_lock);
}

/* Free the slots of closed channels once their commands are DONE. */
static void orphans_service_locked(struct mk_fs *fs)
{
	size_t i = 0;

	while (i < fs->norphans) {
		uint32_t slot = fs->orphans[i];

		if (mk_runtime_slot_done(fs->rt, slot) == 1) {
			mk_runtime_release(fs->rt, slot);
			fs->orphans[i] = fs->orphans[--fs->norphans];
		} else {
			i++;
		}
	}
}

static void scan(struct mk_fs *fs)
{
	struct mk_fs_handle *h, *next;

	pthread_mutex_lock(&fs->watch_lock);
	for (h = fs->watch.next; h != &fs->watch; h = next) {
		next = h->next;
		if (h->chan)
			mk_fs_call_service_locked(fs, h);
		if (h->ph && (revents_locked(fs, h) & POLLIN)) {
			fuse_lowlevel_notify_poll(h->ph);
			fuse_pollhandle_destroy(h->ph);
			h->ph = NULL;
			fs->npolls--;
			if (!h->chan)
				mk_fs_watch_unlink_locked(fs, h);
		}
	}
	orphans_service_locked(fs);
	pthread_mutex_unlock(&fs->watch_lock);
}

/* Sleep until something waits on a completion (or stop). 1 = stop. */
static int wait_for_work(struct mk_fs *fs)
{
	int stop;

	pthread_mutex_lock(&fs->watch_lock);
	while (!fs->reaper_stop && !fs->nreaders && !fs->npolls &&
	       !fs->norphans && !mk_scan_pool_orphans(fs->pool) &&
	       !__atomic_load_n(&fs->streams_active, __ATOMIC_ACQUIRE))
		pthread_cond_wait(&fs->watch_cond, &fs->watch_lock);
	stop = fs->reaper_stop;
	pthread_mutex_unlock(&fs->watch_lock);
	return stop;
}

static void *reaper_main(void *arg)
{
	struct mk_fs *fs = arg;

	while (!wait_for_work(fs)) {
		/* Read progress before scanning: see the file comment. */
		uint64_t seen = mk_runtime_progress(fs->rt);
		int streams = __atomic_load_n(&fs->streams_active,
					      __ATOMIC_ACQUIRE) != 0;

		if (streams)
			mk_fs_streams_settle(fs);
		/* Chunks of cancelled streams that ran after a restart. */
		if (mk_scan_pool_orphans(fs->pool))
			mk_scan_pool_reap(fs->pool);
		scan(fs);
		mk_runtime_wait_progress(fs->rt, seen,
					 streams ? REAPER_STREAM_NS :
						   REAPER_WAIT_NS);
	}
	return NULL;
}

int mk_fs_reaper_start(struct mk_fs *fs)
{
	int rc = pthread_create(&fs->reaper, NULL, reaper_main, fs);

	if (rc)
		return -rc;
	fs->reaper_started = 1;
	return 0;
}

void mk_fs_reaper_stop(struct mk_fs *fs)
{
	struct mk_fs_handle *h;

	if (!fs->reaper_started)
		return;
	pthread_mutex_lock(&fs->watch_lock);
	fs->reaper_stop = 1;
	pthread_cond_signal(&fs->watch_cond);
	pthread_mutex_unlock(&fs->watch_lock);
	pthread_join(fs->reaper, NULL);
	fs->reaper_started = 0;
	/* The session is over: drop armed polls and orphaned reservations. */
	pthread_mutex_lock(&fs->watch_lock);
	for (h = fs->watch.next; h != &fs->watch; h = h->next) {
		if (h->ph)
			fuse_pollhandle_destroy(h->ph);
		h->ph = NULL;
	}
	fs->npolls = 0;
	while (fs->norphans)
		mk_runtime_release(fs->rt, fs->orphans[--fs->norphans]);
	pthread_mutex_unlock(&fs->watch_lock);
}
