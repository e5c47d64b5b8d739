/* SPDX-License-Identifier: MIT */
/*
 * fs/file_call.c - the `call` file: every open handle is a private
 * channel. A write reserves any free slot, publishes the command into it
 * and queues the slot; a read returns the head command's slot line once
 * it is DONE (then frees the slot), or parks the request for the reaper
 * (fs/reaper.c) without holding a FUSE worker. Closing with commands in
 * flight hands their slots to the orphan list, freed when DONE.
 *
 * Locking: every channel field is guarded by mk_fs.watch_lock. Replies
 * may be sent with it held (they take only libfuse's session lock).
 */
#include "fs/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cmd.h"

struct pending_read {
	fuse_req_t req;
	size_t size;
	struct pending_read *next;
};

struct mk_fs_chan {
	uint32_t *fifo;   /* reserved slots in write order (a ring) */
	size_t head;
	size_t count;
	size_t cap;
	char line[MK_CMD_SLOT_LINE_MAX]; /* result being read */
	size_t line_len;
	size_t line_off;
	struct pending_read *rq_head;   /* parked reads, FIFO */
	struct pending_read *rq_tail;
};

int mk_fs_call_open(struct mk_fs *fs, struct mk_fs_handle *h)
{
	h->chan = calloc(1, sizeof(*h->chan));
	if (!h->chan)
		return -ENOMEM;
	pthread_mutex_lock(&fs->watch_lock);
	mk_fs_watch_link_locked(fs, h);
	pthread_mutex_unlock(&fs->watch_lock);
	return 0;
}

void mk_fs_call_release(struct mk_fs *fs, struct mk_fs_handle *h)
{
	struct mk_fs_chan *c = h->chan;
	struct pending_read *p;
	size_t i;

	pthread_mutex_lock(&fs->watch_lock);
	mk_fs_watch_unlink_locked(fs, h);
	for (i = 0; i < c->count; i++) {
		uint32_t slot = c->fifo[(c->head + i) % c->cap];

		/* Still running: the reaper frees it once DONE. */
		if (mk_runtime_slot_done(fs->rt, slot) == 1)
			mk_runtime_release(fs->rt, slot);
		else
			fs->orphans[fs->norphans++] = slot;
	}
	while ((p = c->rq_head)) { /* the kernel sends no release while reads wait */
		c->rq_head = p->next;
		fs->nreaders--;
		mk_fs_reply_err(p->req, -EBADF);
		free(p);
	}
	if (h->ph) {
		fuse_pollhandle_destroy(h->ph);
		h->ph = NULL;
		fs->npolls--;
	}
	if (fs->norphans)
		mk_fs_watch_kick_locked(fs);
	pthread_mutex_unlock(&fs->watch_lock);
	free(c->fifo);
	free(c);
	h->chan = NULL;
}

/* Serve @req from the channel if that needs no waiting: 1 replied, 0 not. */
static int try_serve_locked(struct mk_fs *fs, struct mk_fs_chan *c,
			    fuse_req_t req, size_t size)
{
	struct mk_slot s;
	uint32_t slot;
	size_t n;
	int len;

	if (c->line_off >= c->line_len) {
		if (c->count == 0) {
			fuse_reply_buf(req, NULL, 0); /* nothing in flight: EOF */
			return 1;
		}
		slot = c->fifo[c->head];
		if (mk_runtime_slot_done(fs->rt, slot) != 1)
			return 0;
		mk_runtime_read_slot(fs->rt, slot, &s);
		len = mk_cmd_format_slot(&s, c->line, sizeof(c->line));
		c->line_len = len > 0 ? (size_t)len : 0;
		c->line_off = 0;
		mk_runtime_release(fs->rt, slot);
		c->head = (c->head + 1) % c->cap;
		c->count--;
	}
	n = c->line_len - c->line_off;
	if (n > size)
		n = size;
	fuse_reply_buf(req, c->line + c->line_off, n);
	c->line_off += n;
	return 1;
}

static void shutdown_err(struct mk_err *err)
{
	mk_err_set(err, -ESHUTDOWN,
		   "the kernel is stopped, so the command cannot complete (it stays queued)",
		   "echo 0 > control/shutdown to start the kernel, then read again");
}

void mk_fs_call_service_locked(struct mk_fs *fs, struct mk_fs_handle *h)
{
	struct mk_fs_chan *c = h->chan;
	struct pending_read *p;
	struct mk_err err;

	while ((p = c->rq_head)) {
		if (!try_serve_locked(fs, c, p->req, p->size)) {
			if (mk_runtime_running(fs->rt))
				return;
			mk_err_clear(&err);
			shutdown_err(&err);
			mk_fs_reject(fs, p->req, &h->node, -ESHUTDOWN, &err);
		}
		c->rq_head = p->next;
		if (!c->rq_head)
			c->rq_tail = NULL;
		fs->nreaders--;
		free(p);
	}
}

unsigned mk_fs_call_revents_locked(struct mk_fs *fs, struct mk_fs_handle *h)
{
	struct mk_fs_chan *c = h->chan;
	unsigned rev = POLLOUT | POLLWRNORM;

	if (c->line_off < c->line_len || c->count == 0 ||
	    mk_runtime_slot_done(fs->rt, c->fifo[c->head]) == 1 ||
	    !mk_runtime_running(fs->rt))
		rev |= POLLIN | POLLRDNORM;
	return rev;
}

/* Interrupt (signal in the reader): drop the parked read, reply EINTR. */
static void on_interrupt(fuse_req_t req, void *data)
{
	struct mk_fs *fs = data;
	struct mk_fs_handle *h;

	pthread_mutex_lock(&fs->watch_lock);
	for (h = fs->watch.next; h != &fs->watch; h = h->next) {
		struct pending_read **pp;

		if (!h->chan)
			continue;
		for (pp = &h->chan->rq_head; *pp; pp = &(*pp)->next) {
			struct pending_read *p = *pp;

			if (p->req != req)
				continue;
			*pp = p->next;
			if (h->chan->rq_tail == p) {
				struct pending_read *t = h->chan->rq_head;

				while (t && t->next)
					t = t->next;
				h->chan->rq_tail = t;
			}
			fs->nreaders--;
			mk_fs_reply_err(req, -EINTR);
			free(p);
			pthread_mutex_unlock(&fs->watch_lock);
			return;
		}
	}
	pthread_mutex_unlock(&fs->watch_lock);
}

/* May @req wait for the head command? 0, or why not. */
static int park_check_locked(struct mk_fs *fs, fuse_req_t req, int flags,
			     int have_mem, struct mk_err *err)
{
	if (flags & O_NONBLOCK)
		return mk_err_set(err, -EAGAIN, "the command is not done yet",
				  "poll() for POLLIN or read again later");
	if (!mk_runtime_running(fs->rt)) {
		shutdown_err(err);
		return -ESHUTDOWN;
	}
	if (!have_mem)
		return mk_err_set(err, -ENOMEM, "cannot park the read",
				  "free some memory and read again");
	if (fuse_req_interrupted(req))
		return -EINTR;
	return 0;
}

void mk_fs_call_read(struct mk_fs *fs, fuse_req_t req, struct mk_fs_handle *h,
		     size_t size, int flags)
{
	struct mk_fs_chan *c = h->chan;
	struct pending_read *p;
	struct mk_err err;
	int rc = 0;

	mk_err_clear(&err);
	/* Before the lock: an already-interrupted req calls back at once. */
	fuse_req_interrupt_func(req, on_interrupt, fs);
	p = malloc(sizeof(*p));
	pthread_mutex_lock(&fs->watch_lock);
	if (!c->rq_head && try_serve_locked(fs, c, req, size)) {
		pthread_mutex_unlock(&fs->watch_lock);
		free(p);
		return;
	}
	rc = park_check_locked(fs, req, flags, p != NULL, &err);
	if (rc == 0) {
		/* Checked and parked under one lock: no completion is lost. */
		p->req = req;
		p->size = size;
		p->next = NULL;
		if (c->rq_tail)
			c->rq_tail->next = p;
		else
			c->rq_head = p;
		c->rq_tail = p;
		fs->nreaders++;
		mk_fs_watch_kick_locked(fs);
		p = NULL;
	}
	pthread_mutex_unlock(&fs->watch_lock);
	free(p);
	if (rc == -EINTR || rc == -EAGAIN)
		mk_fs_reply_err(req, rc); /* normal flow, not a rejection */
	else if (rc)
		mk_fs_reject(fs, req, &h->node, rc, &err);
}

/* Make room for one more queued slot; watch_lock held. */
static int grow_locked(struct mk_fs_chan *c)
{
	size_t cap = c->cap ? c->cap * 2 : 16, i;
	uint32_t *nf;

	if (c->count < c->cap)
		return 0;
	nf = malloc(cap * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	for (i = 0; i < c->count; i++)
		nf[i] = c->fifo[(c->head + i) % c->cap];
	free(c->fifo);
	c->fifo = nf;
	c->head = 0;
	c->cap = cap;
	return 0;
}

void mk_fs_call_write(struct mk_fs *fs, fuse_req_t req,
		      struct mk_fs_handle *h, const char *buf, size_t size)
{
	struct mk_fs_chan *c = h->chan;
	struct mk_slot img;
	struct mk_err err;
	int rc, slot;

	mk_err_clear(&err);
	rc = mk_fs_decode_write(buf, size, &img, &err);
	rc = rc ? rc : mk_runtime_check_image(fs->rt, &img, &err);
	if (rc) /* bad input first, before a slot is taken */
		goto out_reject;
	slot = mk_runtime_reserve(fs->rt, &err);
	if (slot < 0) {
		rc = slot;
		goto out_reject;
	}
	pthread_mutex_lock(&fs->watch_lock);
	rc = grow_locked(c);
	if (rc)
		mk_err_set(&err, rc, "cannot queue the command",
			   "read pending results first");
	else
		rc = mk_runtime_publish_reserved(fs->rt, (uint32_t)slot, &img,
						 &err);
	if (rc == 0) {
		c->fifo[(c->head + c->count) % c->cap] = (uint32_t)slot;
		c->count++;
	}
	pthread_mutex_unlock(&fs->watch_lock);
	if (rc) {
		mk_runtime_release(fs->rt, (uint32_t)slot);
		goto out_reject;
	}
	fuse_reply_write(req, size);
	return;

out_reject:
	mk_fs_reject(fs, req, &h->node, rc, &err);
}
