/* SPDX-License-Identifier: MIT */
/*
 * fs/ops.c - the FUSE low-level request handlers and the one static const
 * fuse_lowlevel_ops table (hello_ll.c shape). Handlers translate a
 * request into a tree lookup (fs/tree.c, or fs/obj.c for what mkdir
 * created) plus one fs/file_*.c call and reply; every error reply goes
 * through mk_fs_reply_err() / mk_fs_reject().
 */
#include "fs/fs.h"
#include "fs/obj.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Nodes never change while they exist; mkdir/rmdir go through the
 * kernel, which updates its own dentries. */
#define ATTR_TIMEOUT 60.0

static struct mk_fs *ctx(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct mk_fs_handle *handle_of(struct fuse_file_info *fi)
{
	return (struct mk_fs_handle *)(uintptr_t)fi->fh;
}

static int node_get(struct mk_fs *fs, uint64_t ino, struct mk_fs_node *n)
{
	if (mk_fs_obj_ino(fs, ino))
		return mk_fs_obj_node(fs, ino, n, NULL);
	return mk_fs_tree_get(&fs->tree, ino, n);
}

static int is_pset_file(enum mk_fs_kind k)
{
	return k >= MK_FS_PSET_LITERALS && k <= MK_FS_PSET_INFO;
}

static int is_stream_file(enum mk_fs_kind k)
{
	return k >= MK_FS_ST_SOURCE && k <= MK_FS_ST_ERROR;
}

static off_t size_of(struct mk_fs *fs, const struct mk_fs_node *n)
{
	struct mk_fs_text t = { 0 };
	off_t len;

	switch (n->kind) {
	case MK_FS_README:
		mk_fs_readme_text(fs, &t);
		len = (off_t)t.len;
		mk_fs_text_fini(&t);
		return len;
	case MK_FS_RING_RAW:
		return (off_t)mk_runtime_slots(fs->rt) * MK_SLOT_BYTES;
	case MK_FS_CTL_RAW:
		return (off_t)mk_runtime_ctl_words(fs->rt) * 4;
	default:
		return 0; /* generated on read (direct_io) */
	}
}

static void fill_attr(struct mk_fs *fs, const struct mk_fs_node *n,
		      struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = n->mode;
	st->st_nlink = S_ISDIR(n->mode) ? 2 : 1;
	st->st_uid = mk_fs_obj_ino(fs, n->ino) ? n->uid : fs->uid;
	st->st_gid = mk_fs_obj_ino(fs, n->ino) ? n->gid : fs->gid;
	st->st_size = size_of(fs, n);
	st->st_blksize = 4096;
	st->st_atim = fs->mounted;
	st->st_mtim = fs->mounted;
	st->st_ctim = fs->mounted;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* ring/raw takes up to 16,384 slot images per write. */
	conn->max_write = MK_FS_MAX_WRITE;
	/* One request per read: generated text stays one consistent snapshot. */
	conn->want &= ~FUSE_CAP_ASYNC_DIO;
}

static void op_destroy(void *userdata)
{
	struct mk_fs *fs = userdata;

	/* Unmount stops the kernel; published slots stay PUBLISHED. */
	mk_runtime_stop(fs->rt);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mk_fs *fs = ctx(req);
	struct fuse_entry_param e;
	struct mk_fs_node n;
	int rc;

	if (mk_fs_obj_dir(fs, parent))
		rc = mk_fs_obj_lookup(fs, parent, name, &n);
	else
		rc = mk_fs_tree_lookup(&fs->tree, parent, name, &n);
	if (rc) {
		mk_fs_reply_err(req, rc);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = n.ino;
	e.attr_timeout = ATTR_TIMEOUT;
	e.entry_timeout = ATTR_TIMEOUT;
	fill_attr(fs, &n, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct mk_fs *fs = ctx(req);
	struct mk_fs_node n;
	struct stat st;

	(void)fi;
	if (node_get(fs, ino, &n)) {
		mk_fs_reply_err(req, -ENOENT);
		return;
	}
	fill_attr(fs, &n, &st);
	fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

/* Only truncation (O_TRUNC, "echo x > file") and times: both ignored. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct mk_fs *fs = ctx(req);
	struct mk_fs_node n;
	struct mk_err err;
	struct stat st;

	(void)attr;
	(void)fi;
	if (node_get(fs, ino, &n)) {
		mk_fs_reply_err(req, -ENOENT);
		return;
	}
	mk_err_clear(&err);
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
		      FUSE_SET_ATTR_GID)) {
		mk_err_set(&err, -EPERM, "megafs nodes have fixed modes and owners",
			   "use the -o allow_other mount option to share the mount");
		mk_fs_reject(fs, req, &n, -EPERM, &err);
		return;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && !mk_fs_node_writable(&n)) {
		mk_err_set(&err, -EACCES, "the file is read-only (mode 0444)",
			   "open it for reading; see README for the writable files");
		mk_fs_reject(fs, req, &n, -EACCES, &err);
		return;
	}
	fill_attr(fs, &n, &st);
	fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

/* Entry at cookie *@pos of @dir; *@pos becomes the next cookie. */
static int child_at(struct mk_fs *fs, uint64_t dir, uint64_t *pos,
		    struct mk_fs_node *n, char *name, size_t cap)
{
	int rc;

	if (mk_fs_obj_dir(fs, dir))
		return mk_fs_obj_child(fs, dir, pos, n, name, cap);
	rc = mk_fs_tree_child(&fs->tree, dir, *pos, n, name, cap);
	if (rc == 0)
		*pos += 1;
	return rc;
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	struct mk_fs *fs = ctx(req);
	struct mk_fs_node n;
	size_t used = 0, len;
	char name[MK_FS_NAME_MAX + 16];
	struct stat st;
	uint64_t i, next;
	char *buf;

	(void)fi;
	buf = malloc(size ? size : 1);
	if (!buf) {
		mk_fs_reply_err(req, -ENOMEM);
		return;
	}
	memset(&st, 0, sizeof(st));
	/* Cookies: 1 after ".", 2 after "..", then 2 + the child cookie. */
	for (i = (uint64_t)off;; i = next) {
		if (i == 0 || i == 1) {
			snprintf(name, sizeof(name), i ? ".." : ".");
			n.ino = i ? mk_fs_obj_parent(fs, ino) : ino;
			n.mode = S_IFDIR;
			next = i + 1;
		} else {
			next = i - 2;
			if (child_at(fs, ino, &next, &n, name, sizeof(name)))
				break;
			next += 2;
		}
		st.st_ino = n.ino;
		st.st_mode = n.mode;
		len = fuse_add_direntry(req, buf + used, size - used, name, &st,
					(off_t)next);
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void open_link(struct mk_fs *fs, struct mk_fs_handle *h)
{
	pthread_mutex_lock(&fs->open_lock);
	h->onext = fs->open.onext;
	h->oprev = &fs->open;
	fs->open.onext->oprev = h;
	fs->open.onext = h;
	pthread_mutex_unlock(&fs->open_lock);
}

static void free_handle(struct mk_fs *fs, struct mk_fs_handle *h)
{
	if (h->onext) {
		pthread_mutex_lock(&fs->open_lock);
		h->onext->oprev = h->oprev;
		h->oprev->onext = h->onext;
		pthread_mutex_unlock(&fs->open_lock);
	}
	if (h->chan)
		mk_fs_call_release(fs, h);
	else
		mk_fs_watch_release(fs, h);
	mk_fs_obj_put(fs, h->obj);
	mk_dfa_destroy(h->wdfa);
	mk_fs_text_fini(&h->wbuf);
	mk_fs_text_fini(&h->snap);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mk_fs *fs = ctx(req);
	struct mk_fs_obj *obj = NULL;
	struct mk_fs_handle *h;
	struct mk_fs_node n;
	struct mk_err err;
	int rc;

	mk_err_clear(&err);
	if (mk_fs_obj_ino(fs, ino))
		rc = mk_fs_obj_node(fs, ino, &n, &obj);
	else
		rc = mk_fs_tree_get(&fs->tree, ino, &n);
	if (rc || S_ISDIR(n.mode)) {
		mk_fs_obj_put(fs, obj);
		mk_fs_reply_err(req, rc ? -ENOENT : -EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY && !mk_fs_node_writable(&n)) {
		/* Also for root, whom default_permissions lets through. */
		mk_err_set(&err, -EACCES, "the file is read-only (mode 0444)",
			   "open it for reading; see README for the writable files");
		mk_fs_obj_put(fs, obj);
		mk_fs_reject(fs, req, &n, -EACCES, &err);
		return;
	}
	if ((fi->flags & O_APPEND) && n.kind == MK_FS_PSET_DFA) {
		mk_err_set(&err, -EINVAL, "a dfa table cannot be appended to",
			   "replace it whole: cat TABLE > dfa (or append patterns with >> literals)");
		mk_fs_obj_put(fs, obj);
		mk_fs_reject(fs, req, &n, -EINVAL, &err);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		mk_fs_obj_put(fs, obj);
		mk_fs_reply_err(req, -ENOMEM);
		return;
	}
	pthread_mutex_init(&h->lock, NULL);
	h->node = n;
	h->obj = obj;
	h->append = (fi->flags & O_APPEND) != 0;
	if ((h->append && obj && n.kind == MK_FS_PSET_LITERALS &&
	     mk_fs_pset_seed(fs, h)) ||
	    (n.kind == MK_FS_CALL && mk_fs_call_open(fs, h))) {
		free_handle(fs, h);
		mk_err_set(&err, -ENOMEM, "cannot set up the open file",
			   "free some memory (or close other megafs files) and open it again");
		mk_fs_reject(fs, req, &n, -ENOMEM, &err);
		return;
	}
	/* Reads are live, sizes read as 0. `call` ignores offsets but stays
	 * seekable: head(1) and bash's read seek on the descriptors they get. */
	if (n.kind == MK_FS_README)
		fi->keep_cache = 1;
	else
		fi->direct_io = 1;
	/* Only literals/dfa act on close; spare the others a FLUSH. */
	fi->noflush = n.kind != MK_FS_PSET_LITERALS &&
		      n.kind != MK_FS_PSET_DFA;
	fi->fh = (uint64_t)(uintptr_t)h;
	open_link(fs, h);
	if (fuse_reply_open(req, fi) != 0)
		free_handle(fs, h); /* the opener was interrupted */
}

/* close(2): compile what was written into literals/dfa; the error, if
 * any, is what close returns. */
/* Compile what a pattern-set handle collected; 0 for other handles. */
static int commit_handle(struct mk_fs *fs, struct mk_fs_handle *h,
			 struct mk_err *err)
{
	mk_err_clear(err);
	if (h->obj && is_pset_file(h->node.kind))
		return mk_fs_pset_commit(fs, h, err);
	return 0;
}

static void op_flush(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi)
{
	struct mk_fs_handle *h = handle_of(fi);
	struct mk_fs *fs = ctx(req);
	struct mk_err err;
	int rc;

	(void)ino;
	rc = commit_handle(fs, h, &err);
	if (rc)
		mk_fs_reject(fs, req, &h->node, rc, &err);
	else
		mk_fs_reply_err(req, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct mk_fs_handle *h = handle_of(fi);
	struct mk_fs *fs = ctx(req);
	struct mk_err err;
	int rc;

	(void)ino;
	/* Written after the last flush (rare): nobody left to tell. */
	rc = commit_handle(fs, h, &err);
	if (rc)
		mk_fs_record(fs, &h->node, rc, &err);
	free_handle(fs, h);
	mk_fs_reply_err(req, 0);
}

static int gen_text(struct mk_fs *fs, struct mk_fs_handle *h,
		    struct mk_fs_text *t)
{
	const struct mk_fs_node *n = &h->node;

	if (h->obj)
		return is_pset_file(n->kind) ? mk_fs_pset_text(fs, h, t) :
					       mk_fs_stream_text(fs, h, t);
	switch (n->kind) {
	case MK_FS_README:
		return mk_fs_readme_text(fs, t);
	case MK_FS_RING_SLOT:
		return mk_fs_slot_text(fs, n->index, t);
	case MK_FS_OBSERVABLE:
		return mk_fs_obs_text(fs, n->index, t);
	case MK_FS_DEBUG_LOG:
		return mk_fs_debug_text(fs, t);
	case MK_FS_ERRORS:
		return mk_fs_errors_text(fs, t);
	default:
		return mk_fs_ctl_text(fs, n, t);
	}
}

/*
 * Text files: rebuilt at offset 0, later offsets read the same snapshot.
 * The reply goes out after the unlock, from a copy: once a request is
 * answered the kernel may release the file, and release frees @h.
 */
static void read_text(struct mk_fs *fs, fuse_req_t req,
		      struct mk_fs_handle *h, size_t size, off_t off)
{
	char *out = NULL;
	size_t n = 0;
	int rc = 0;

	pthread_mutex_lock(&h->lock);
	if (off == 0 || !h->snap.buf) {
		h->snap.len = 0;
		h->snap.oom = 0;
		rc = gen_text(fs, h, &h->snap);
	}
	if (rc == 0 && (uint64_t)off < h->snap.len) {
		n = h->snap.len - (size_t)off < size ? h->snap.len - (size_t)off :
						      size;
		out = malloc(n);
		if (out)
			memcpy(out, h->snap.buf + off, n);
		else
			rc = -ENOMEM;
	}
	pthread_mutex_unlock(&h->lock);
	if (rc)
		mk_fs_reply_err(req, rc);
	else
		fuse_reply_buf(req, out, n);
	free(out);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct mk_fs_handle *h = handle_of(fi);
	struct mk_fs *fs = ctx(req);
	char *buf;
	int rc;

	(void)ino;
	if (h->node.kind == MK_FS_CALL) {
		mk_fs_call_read(fs, req, h, size, fi->flags);
		return;
	}
	if (h->node.kind != MK_FS_RING_RAW && h->node.kind != MK_FS_CTL_RAW) {
		read_text(fs, req, h, size, off);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		mk_fs_reply_err(req, -ENOMEM);
		return;
	}
	if (h->node.kind == MK_FS_RING_RAW)
		rc = mk_fs_ring_raw_read(fs, (uint64_t)off, size, buf);
	else
		rc = mk_fs_ctl_raw_read(fs, (uint64_t)off, size, buf);
	if (rc < 0)
		mk_fs_reply_err(req, rc);
	else
		fuse_reply_buf(req, buf, (size_t)rc);
	free(buf);
}

/* Only blanks and line ends: what a tool's trailing newline writes alone. */
static int blank_text(const char *buf, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++)
		if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' &&
		    buf[i] != '\r')
			return 0;
	return 1;
}

/*
 * A text write is one whole command at offset 0. A later write through
 * the same open file that holds only blanks (printf 'nop\n\n' writes its
 * last newline apart) is taken and changes nothing; anything else there
 * is the tail of a command cut in two, which is refused.
 */
static int write_at_zero(struct mk_fs *fs, const struct mk_fs_node *n,
			 const char *buf, size_t size, off_t off,
			 struct mk_err *err)
{
	if (off != 0 && blank_text(buf, size))
		return 0;
	if (off != 0)
		return mk_err_setf(err, -EINVAL,
				   "send each command in one write(2) of at most 4096 bytes at offset 0: reopen the file (echo ... > file) or use pwrite(fd, buf, n, 0)",
				   "write at offset %lld continues an earlier write through this open file (a command cut in two)",
				   (long long)off);
	switch (n->kind) {
	case MK_FS_RING_SLOT:
		return mk_fs_slot_write(fs, n->index, buf, size, err);
	case MK_FS_OBSERVABLE:
		return mk_fs_obs_write(fs, n->index, buf, size, err);
	default:
		return mk_fs_ctl_write(fs, n, buf, size, err);
	}
}

/* Text files whose append handles count their own offset (pattern
 * files keep theirs in wbuf; the binary windows have real sizes). */
static int own_offset(const struct mk_fs_handle *h)
{
	return !is_pset_file(h->node.kind) && h->node.kind != MK_FS_RING_RAW &&
	       h->node.kind != MK_FS_CTL_RAW;
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct mk_fs_handle *h = handle_of(fi);
	struct mk_fs *fs = ctx(req);
	struct mk_err err;
	int rc;

	(void)ino;
	mk_err_clear(&err);
	if (h->node.kind == MK_FS_CALL) {
		mk_fs_call_write(fs, req, h, buf, size);
		return;
	}
	if (h->append && own_offset(h))
		off = (off_t)__atomic_load_n(&h->wrote, __ATOMIC_RELAXED);
	if (!mk_fs_node_writable(&h->node))
		rc = mk_err_set(&err, -EBADF, "the file is read-only",
				"write to a mode 0644 file");
	else if (h->obj && is_pset_file(h->node.kind))
		rc = mk_fs_pset_write(fs, h, buf, size, (uint64_t)off, &err);
	else if (h->obj && is_stream_file(h->node.kind) && off != 0)
		rc = write_at_zero(fs, &h->node, buf, size, off, &err);
	else if (h->obj && is_stream_file(h->node.kind))
		rc = mk_fs_stream_write(fs, req, h, buf, size, &err);
	else if (h->node.kind == MK_FS_RING_RAW) {
		struct mk_fs_raw raw;

		rc = mk_fs_ring_raw_write(fs, buf, size, (uint64_t)off, &raw,
					  &err);
		if (rc > 0) {
			/* Short only for a split piece. Answer, then write the
			 * lines (fs/file_ring.c). */
			fuse_reply_write(req, (size_t)rc);
			mk_fs_ring_raw_finish(fs, &raw);
			return;
		}
	}
	else if (h->node.kind == MK_FS_CTL_RAW)
		rc = mk_fs_ctl_raw_write(fs, buf, size, (uint64_t)off, &err);
	else
		rc = write_at_zero(fs, &h->node, buf, size, off, &err);
	if (rc < 0) {
		mk_fs_reject(fs, req, &h->node, rc, &err);
		return;
	}
	if (h->append && own_offset(h))
		__atomic_add_fetch(&h->wrote, size, __ATOMIC_RELAXED);
	fuse_reply_write(req, size);
}

/* The node that a directory operation's error is recorded under. */
static void dir_node(struct mk_fs *fs, uint64_t ino, struct mk_fs_node *n)
{
	if (node_get(fs, ino, n))
		mk_fs_tree_get(&fs->tree, 1, n);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct mk_fs *fs = ctx(req);
	struct fuse_entry_param e;
	struct mk_fs_node n;
	struct mk_err err;
	int rc;

	(void)mode; /* objects have fixed modes, like every megafs node */
	mk_err_clear(&err);
	rc = mk_fs_obj_mkdir(fs, parent, name, (uint32_t)c->uid,
			     (uint32_t)c->gid, &n, &err);
	if (rc) {
		dir_node(fs, parent, &n);
		mk_fs_reject(fs, req, &n, rc, &err);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = n.ino;
	e.attr_timeout = ATTR_TIMEOUT;
	e.entry_timeout = ATTR_TIMEOUT;
	fill_attr(fs, &n, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mk_fs *fs = ctx(req);
	struct mk_fs_node n;
	struct mk_err err;
	int rc;

	mk_err_clear(&err);
	rc = mk_fs_obj_rmdir(fs, parent, name, &err);
	if (rc) {
		dir_node(fs, parent, &n);
		mk_fs_reject(fs, req, &n, rc, &err);
		return;
	}
	mk_fs_reply_err(req, 0);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mk_fs *fs = ctx(req);
	struct mk_fs_node n;
	struct mk_err err;

	mk_err_setf(&err, -EPERM,
		    "rmdir patterns/NAME or streams/NAME removes an object with its files",
		    "megafs files cannot be removed ('%s')", name);
	dir_node(fs, parent, &n);
	mk_fs_reject(fs, req, &n, -EPERM, &err);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct mk_fs *fs = ctx(req);
	struct mk_fs_node n;
	struct mk_err err;

	int rc;

	(void)mode;
	(void)rdev;
	/* echo ... > ring/N past the ring: open(O_CREAT) of a missing slot. */
	rc = mk_fs_tree_beyond(&fs->tree, parent, name, &err);
	if (!rc)
		rc = mk_err_setf(&err, -EPERM,
				 "mkdir patterns/NAME or streams/NAME creates an object and its files",
				 "megafs creates no files ('%s')", name);
	dir_node(fs, parent, &n);
	mk_fs_reject(fs, req, &n, rc, &err);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct mk_fs *fs = ctx(req);
	struct mk_fs_node n;
	struct mk_err err;

	(void)newparent;
	(void)flags;
	mk_err_setf(&err, -EPERM,
		    "names are fixed: copy the contents instead (cat ring/0 > FILE), or rmdir and mkdir an object under its new name",
		    "megafs nodes cannot be renamed ('%s' to '%s')", name,
		    newname);
	dir_node(fs, parent, &n);
	mk_fs_reject(fs, req, &n, -EPERM, &err);
}

/* link(2) and symlink(2): a new name in @parent. */
static void reject_link(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mk_fs *fs = ctx(req);
	struct mk_fs_node n;
	struct mk_err err;

	mk_err_setf(&err, -EPERM,
		    "make the link outside the mount (ln -s MOUNT/ring/0 ~/slot0)",
		    "megafs holds no links ('%s')", name);
	dir_node(fs, parent, &n);
	mk_fs_reject(fs, req, &n, -EPERM, &err);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	(void)ino;
	reject_link(req, newparent, newname);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	(void)link;
	reject_link(req, parent, name);
}

static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	(void)ino;
	mk_fs_poll(ctx(req), req, handle_of(fi), ph);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.destroy = op_destroy,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readdir = op_readdir,
	.mkdir = op_mkdir,
	.rmdir = op_rmdir,
	.unlink = op_unlink,
	.mknod = op_mknod,
	.rename = op_rename,
	.link = op_link,
	.symlink = op_symlink,
	.open = op_open,
	.flush = op_flush,
	.release = op_release,
	.read = op_read,
	.write = op_write,
	.poll = op_poll,
};

void mk_fs_handles_fini(struct mk_fs *fs)
{
	/* No request runs any more: fuse_session_loop_mt joined its workers. */
	while (fs->open.onext != &fs->open)
		free_handle(fs, fs->open.onext);
}

const struct fuse_lowlevel_ops *mk_fs_ops(void)
{
	return &ops;
}
