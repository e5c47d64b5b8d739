/* SPDX-License-Identifier: MIT */
/*
 * fs/file_pattern.c - patterns/P: a pattern set registered in the scan
 * pool (runtime/stream.h) under a fixed index from mkdir to rmdir.
 *   literals  rw  one pattern per line (runtime/dfa.h has the escapes);
 *                 the writes of one open accumulate and are compiled when
 *                 it is closed (flush), so `cat list > literals` works for
 *                 lists larger than one write; reading shows the text
 *   dfa       rw  the binary table: written like literals, read = export
 *   info      r   mk_dfa_info's line plus set=K (the DFA_STEP set number)
 * A set a running stream uses cannot be replaced or removed (EBUSY).
 * A replaced table may still be read by a DFA_STEP slot the kernel runs
 * now, so it is freed only once the ring has been seen idle.
 */
#include "fs/obj.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LITERALS_MAX (64u << 20)
#define DFA_MAX ((size_t)MK_DFA_MAX_STATES * MK_DFA_STATE_BYTES)

int mk_fs_pset_init(struct mk_fs *fs, struct mk_fs_obj *o, struct mk_err *err)
{
	struct mk_fs_pset *ps = &o->u.ps;
	int rc;

	ps->idx = -1;
	rc = mk_dfa_compile_literals("", 0, &ps->dfa, err); /* the empty set */
	if (rc)
		return rc;
	if (!fs->pool)
		return 0; /* no scanning here: the set still compiles */
	rc = mk_scan_pool_add_set(fs->pool, ps->dfa, err);
	if (rc < 0)
		return rc;
	ps->idx = rc;
	return 0;
}

int mk_fs_pset_remove(struct mk_fs *fs, struct mk_fs_obj *o,
		      struct mk_err *err)
{
	struct mk_fs_pset *ps = &o->u.ps;
	int rc = 0;

	pthread_mutex_lock(&o->mu);
	if (fs->pool && ps->idx >= 0)
		rc = mk_scan_pool_remove_set(fs->pool, ps->idx, err);
	if (rc == 0) {
		o->removed = 1;
		/* Removed under the sets' lock: no slot reads it now. */
		mk_dfa_destroy(ps->dfa);
		ps->idx = -1;
		ps->dfa = NULL;
	}
	pthread_mutex_unlock(&o->mu);
	return rc;
}

void mk_fs_pset_fini(struct mk_fs *fs, struct mk_fs_obj *o)
{
	struct mk_fs_pset *ps = &o->u.ps;

	/* Still registered: at unmount, or a mkdir that lost a race. */
	if (fs->pool && ps->idx >= 0)
		mk_scan_pool_remove_set(fs->pool, ps->idx, NULL);
	mk_dfa_destroy(ps->dfa);
	free(ps->text);
	ps->dfa = NULL;
	ps->text = NULL;
	ps->idx = -1;
}

/* The binary table into @out (grown in place: tables can be large). */
static int export_text(const struct mk_dfa *d, struct mk_fs_text *out)
{
	size_t n = mk_dfa_table_bytes(d);
	char *nb;

	if (out->cap < out->len + n + 1) {
		nb = realloc(out->buf, out->len + n + 1);
		if (!nb)
			return -ENOMEM;
		out->buf = nb;
		out->cap = out->len + n + 1;
	}
	if (mk_dfa_export(d, out->buf + out->len, n))
		return -EIO;
	out->len += n;
	return 0;
}

static int info_text(const struct mk_fs_pset *ps, struct mk_fs_text *out)
{
	char line[256];
	int n = mk_dfa_info(ps->dfa, line, sizeof(line));

	if (n > 0 && (size_t)n < sizeof(line) && line[n - 1] == '\n')
		line[n - 1] = '\0';
	if (ps->idx >= 0)
		return mk_fs_text_printf(out, "%s set=%d\n", line, ps->idx);
	return mk_fs_text_printf(out, "%s\n", line);
}

int mk_fs_pset_text(struct mk_fs *fs, struct mk_fs_handle *h,
		    struct mk_fs_text *out)
{
	struct mk_fs_obj *o = h->obj;
	struct mk_fs_pset *ps = &o->u.ps;
	int rc = 0;

	(void)fs;
	pthread_mutex_lock(&o->mu);
	if (o->removed)
		rc = -ENOENT;
	else if (h->node.kind == MK_FS_PSET_LITERALS)
		rc = ps->text ? mk_fs_text_append(out, ps->text, ps->text_len) : 0;
	else if (h->node.kind == MK_FS_PSET_DFA)
		rc = export_text(ps->dfa, out);
	else
		rc = info_text(ps, out);
	pthread_mutex_unlock(&o->mu);
	return rc;
}

/* Is @o's set in use by a running scan? Replacing the table by itself
 * answers it without changing anything. o->mu held. */
static int busy_locked(struct mk_fs *fs, struct mk_fs_obj *o,
		       struct mk_err *err)
{
	if (o->removed)
		return mk_err_set(err, -ENOENT, "the pattern set was removed",
				  "mkdir it again");
	if (!fs->pool || o->u.ps.idx < 0)
		return 0;
	return mk_scan_pool_replace_set(fs->pool, o->u.ps.idx, o->u.ps.dfa,
					err);
}

/*
 * A first write that holds whole lines (echo, printf) is compiled at once,
 * so a bad escape or a set in use fails that write, which shell builtins
 * report; their close(2) errors are lost. The table is kept for the flush.
 * Anything written later is compiled at close.
 */
static int check_now(struct mk_fs *fs, struct mk_fs_handle *h,
		     struct mk_err *err)
{
	int rc;

	mk_dfa_destroy(h->wdfa);
	h->wdfa = NULL;
	rc = mk_dfa_compile_literals(h->wbuf.buf, h->wbuf.len, &h->wdfa, err);
	if (rc == 0) {
		mk_fs_streams_settle(fs);
		pthread_mutex_lock(&h->obj->mu);
		rc = busy_locked(fs, h->obj, err);
		pthread_mutex_unlock(&h->obj->mu);
	}
	if (rc) {
		mk_dfa_destroy(h->wdfa);
		h->wdfa = NULL;
	}
	return rc;
}

int mk_fs_pset_seed(struct mk_fs *fs, struct mk_fs_handle *h)
{
	struct mk_fs_pset *ps = &h->obj->u.ps;
	int rc = 0;

	(void)fs;
	pthread_mutex_lock(&h->obj->mu);
	/* As on a regular file: the bytes go after the text as it is. */
	if (ps->text_len)
		rc = mk_fs_text_append(&h->wbuf, ps->text, ps->text_len);
	h->wseed = h->wbuf.len;
	pthread_mutex_unlock(&h->obj->mu);
	return rc ? -ENOMEM : 0;
}

int mk_fs_pset_write(struct mk_fs *fs, struct mk_fs_handle *h,
		     const char *buf, size_t size, uint64_t off,
		     struct mk_err *err)
{
	int lit = h->node.kind == MK_FS_PSET_LITERALS;
	size_t max = lit ? LITERALS_MAX : DFA_MAX;
	int rc = 0;

	if (!lit && h->node.kind != MK_FS_PSET_DFA)
		return mk_err_set(err, -EBADF, "this file is read-only",
				  "write literals or dfa");
	pthread_mutex_lock(&h->lock);
	if (h->append) /* after the text it was seeded with, and its own */
		off = h->wbuf.len;
	if (off != 0 && off != h->wbuf.len)
		rc = mk_err_setf(err, -EINVAL,
				 "write the whole text in order from offset 0 through one open file",
				 "write at offset %llu, expected %zu",
				 (unsigned long long)off, h->wbuf.len);
	else if (size > max - (off ? h->wbuf.len : 0))
		rc = mk_err_setf(err, -E2BIG,
				 "split the patterns into several sets",
				 "the %s would exceed %zu bytes",
				 lit ? "literals text" : "dfa table", max);
	if (rc)
		goto out;
	if (off == 0)
		h->wbuf.len = 0; /* a rewrite from the start */
	mk_dfa_destroy(h->wdfa);
	h->wdfa = NULL;
	if (mk_fs_text_append(&h->wbuf, buf, size)) {
		rc = mk_err_set(err, -ENOMEM, "cannot buffer the write",
				"free some memory");
		goto out;
	}
	h->wdirty = 1;
	/* The first write (after the seed of an append) that ends a line. */
	if (lit && off == (h->append ? h->wseed : 0) && size &&
	    buf[size - 1] == '\n') {
		rc = check_now(fs, h, err);
		if (rc) { /* rejected: nothing written */
			h->wbuf.len = h->append ? h->wseed : 0;
			h->wdirty = 0;
		}
	}
out:
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* Put @d (and its @text, taken over) in place of @o's table. */
static int install(struct mk_fs *fs, struct mk_fs_obj *o, struct mk_dfa *d,
		   char *text, size_t len, struct mk_err *err)
{
	struct mk_fs_pset *ps = &o->u.ps;
	int rc = 0;

	/* Finished scans count as users of the set until settled. */
	mk_fs_streams_settle(fs);
	pthread_mutex_lock(&o->mu);
	if (o->removed)
		rc = mk_err_set(err, -ENOENT, "the pattern set was removed",
				"mkdir it again");
	else if (fs->pool && ps->idx >= 0)
		rc = mk_scan_pool_replace_set(fs->pool, ps->idx, d, err);
	if (rc == 0) {
		/* Replaced under the sets' lock (mk_scan_sets_hold): no slot
		 * that runs from now on can reach the old table. */
		mk_dfa_destroy(ps->dfa);
		ps->dfa = d;
		free(ps->text);
		ps->text = text;
		ps->text_len = len;
	}
	pthread_mutex_unlock(&o->mu);
	return rc;
}

int mk_fs_pset_commit(struct mk_fs *fs, struct mk_fs_handle *h,
		      struct mk_err *err)
{
	struct mk_dfa *d = NULL;
	char *text = NULL;
	int rc;

	pthread_mutex_lock(&h->lock);
	if (!h->wdirty) {
		pthread_mutex_unlock(&h->lock);
		return 0;
	}
	h->wdirty = 0; /* reported once, at the flush that failed */
	if (h->wdfa) {
		d = h->wdfa; /* compiled by the write already */
		h->wdfa = NULL;
		rc = 0;
	} else if (h->node.kind == MK_FS_PSET_LITERALS) {
		rc = mk_dfa_compile_literals(h->wbuf.buf ? h->wbuf.buf : "",
					     h->wbuf.len, &d, err);
	} else {
		rc = mk_dfa_load_binary(h->wbuf.buf, h->wbuf.len, &d, err);
	}
	if (rc == 0 && h->node.kind == MK_FS_PSET_LITERALS) {
		text = malloc(h->wbuf.len + 1);
		if (text)
			memcpy(text, h->wbuf.buf ? h->wbuf.buf : "", h->wbuf.len);
		else
			rc = mk_err_set(err, -ENOMEM, "cannot keep the text",
					"free some memory");
	}
	if (rc == 0)
		rc = install(fs, h->obj, d, text, text ? h->wbuf.len : 0, err);
	pthread_mutex_unlock(&h->lock);
	if (rc) {
		mk_dfa_destroy(d);
		free(text);
	}
	return rc;
}

int mk_fs_pset_start(struct mk_fs *fs, const char *name,
		     struct mk_stream_params *p, struct mk_stream **out,
		     struct mk_err *err)
{
	struct mk_fs_obj *o = mk_fs_obj_find(fs, MK_FS_OBJ_PSET, name);
	int rc;

	if (!o) {
		close(p->fd); /* like mk_stream_start: the fd is ours now */
		return mk_err_setf(err, -ENOENT,
				   "mkdir patterns/NAME and write its literals, or name an existing set",
				   "no pattern set '%s'", name);
	}
	pthread_mutex_lock(&o->mu);
	if (o->removed || o->u.ps.idx < 0) {
		close(p->fd);
		rc = mk_err_setf(err, -ENOENT, "mkdir it again",
				 "pattern set '%s' was removed", name);
	} else {
		p->set = o->u.ps.idx;
		rc = mk_stream_start(fs->pool, p, out, err);
	}
	pthread_mutex_unlock(&o->mu);
	mk_fs_obj_put(fs, o);
	return rc;
}
