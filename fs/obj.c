/* SPDX-License-Identifier: MIT */
/*
 * fs/obj.c - the registry of the objects that mkdir creates under
 * patterns/ and streams/ (see fs/obj.h): names, owners, inode numbers,
 * lookup, readdir, mkdir and rmdir. What the objects do is in
 * fs/file_pattern.c and fs/file_stream.c.
 *
 * Object k owns inodes tree.end + 16k (its directory) and the next ones
 * (its files, in the order of the tables below). Ids only grow, so an
 * inode never names two different objects while mounted.
 */
#include "fs/obj.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DIR_MODE (S_IFDIR | 0555)
#define RW_MODE (S_IFREG | 0644)
#define RO_MODE (S_IFREG | 0444)
#define WO_MODE (S_IFREG | 0200)
/* A stream's files are its owner's: its results describe a file that only
 * the owner may have been allowed to read. */
#define ST_DIR_MODE (S_IFDIR | 0500)
#define ST_RW_MODE (S_IFREG | 0600)
#define ST_RO_MODE (S_IFREG | 0400)

struct file_tab {
	const char *name;
	enum mk_fs_kind kind;
	uint32_t mode;
};

static const struct file_tab pset_tab[] = {
	{ "literals", MK_FS_PSET_LITERALS, RW_MODE },
	{ "dfa", MK_FS_PSET_DFA, RW_MODE },
	{ "info", MK_FS_PSET_INFO, RO_MODE },
};

static const struct file_tab st_tab[] = {
	{ "source", MK_FS_ST_SOURCE, ST_RW_MODE },
	{ "patterns", MK_FS_ST_PATTERNS, ST_RW_MODE },
	{ "chunk_bytes", MK_FS_ST_CHUNK, ST_RW_MODE },
	{ "max_hits", MK_FS_ST_MAX_HITS, ST_RW_MODE },
	{ "ctl", MK_FS_ST_CTL, WO_MODE },
	{ "progress", MK_FS_ST_PROGRESS, ST_RO_MODE },
	{ "matches", MK_FS_ST_MATCHES, ST_RO_MODE },
	{ "hits", MK_FS_ST_HITS, ST_RO_MODE },
	{ "error", MK_FS_ST_ERROR, ST_RO_MODE },
};

_Static_assert(sizeof(st_tab) / sizeof(st_tab[0]) < MK_FS_OBJ_INOS,
	       "a stream's files fit its inode range");

static const struct file_tab *tab_of(enum mk_fs_obj_type t, uint32_t *n)
{
	if (t == MK_FS_OBJ_PSET) {
		*n = sizeof(pset_tab) / sizeof(pset_tab[0]);
		return pset_tab;
	}
	*n = sizeof(st_tab) / sizeof(st_tab[0]);
	return st_tab;
}

static const char *root_name(enum mk_fs_obj_type t)
{
	return t == MK_FS_OBJ_PSET ? "patterns" : "streams";
}

static int root_type(uint64_t ino, enum mk_fs_obj_type *t)
{
	if (ino == MK_FS_INO_PATTERNS)
		*t = MK_FS_OBJ_PSET;
	else if (ino == MK_FS_INO_STREAMS)
		*t = MK_FS_OBJ_STREAM;
	else
		return 0;
	return 1;
}

int mk_fs_obj_ino(const struct mk_fs *fs, uint64_t ino)
{
	return ino >= fs->tree.end;
}

int mk_fs_obj_dir(const struct mk_fs *fs, uint64_t ino)
{
	return ino == MK_FS_INO_PATTERNS || ino == MK_FS_INO_STREAMS ||
	       (ino >= fs->tree.end &&
		(ino - fs->tree.end) % MK_FS_OBJ_INOS == 0);
}

/* Listed object @id (hidden ones only with @hidden). obj_lock held. */
static struct mk_fs_obj *by_id_locked(struct mk_fs *fs, uint64_t id,
				      int hidden)
{
	struct mk_fs_obj *o;

	for (o = fs->objs; o; o = o->next)
		if (o->id == id)
			return (!o->hidden || hidden) ? o : NULL;
	return NULL;
}

static struct mk_fs_obj *by_name_locked(struct mk_fs *fs,
					enum mk_fs_obj_type t,
					const char *name)
{
	struct mk_fs_obj *o;

	for (o = fs->objs; o; o = o->next)
		if (o->type == t && !o->hidden &&
		    strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

/* File @f of @o (0 = its directory) as a node; @f must be valid. */
static void obj_node(struct mk_fs *fs, const struct mk_fs_obj *o, uint32_t f,
		     struct mk_fs_node *n)
{
	uint32_t nt;
	const struct file_tab *tab = tab_of(o->type, &nt);

	n->ino = fs->tree.end + o->id * MK_FS_OBJ_INOS + f;
	n->index = 0;
	n->uid = o->uid;
	n->gid = o->gid;
	if (f == 0) {
		n->kind = o->type == MK_FS_OBJ_PSET ? MK_FS_PSET_DIR :
						      MK_FS_STREAM_DIR;
		n->mode = o->type == MK_FS_OBJ_PSET ? DIR_MODE : ST_DIR_MODE;
	} else {
		n->kind = tab[f - 1].kind;
		n->mode = tab[f - 1].mode;
	}
}

int mk_fs_obj_node(struct mk_fs *fs, uint64_t ino, struct mk_fs_node *n,
		   struct mk_fs_obj **out)
{
	uint64_t rel = ino - fs->tree.end;
	uint32_t f = (uint32_t)(rel % MK_FS_OBJ_INOS), nt;
	struct mk_fs_obj *o;
	int rc = -ENOENT;

	if (ino < fs->tree.end)
		return -ENOENT;
	pthread_mutex_lock(&fs->obj_lock);
	o = by_id_locked(fs, rel / MK_FS_OBJ_INOS, 0);
	if (o && (tab_of(o->type, &nt), f <= nt)) {
		obj_node(fs, o, f, n);
		if (out) {
			o->refs++;
			*out = o;
		}
		rc = 0;
	}
	pthread_mutex_unlock(&fs->obj_lock);
	return rc;
}

int mk_fs_obj_lookup(struct mk_fs *fs, uint64_t parent, const char *name,
		     struct mk_fs_node *n)
{
	enum mk_fs_obj_type t;
	const struct file_tab *tab;
	struct mk_fs_obj *o;
	uint32_t nt, i;
	int rc = -ENOENT;

	pthread_mutex_lock(&fs->obj_lock);
	if (root_type(parent, &t)) {
		o = by_name_locked(fs, t, name);
		if (o) {
			obj_node(fs, o, 0, n);
			rc = 0;
		}
	} else if (mk_fs_obj_dir(fs, parent)) {
		o = by_id_locked(fs, (parent - fs->tree.end) / MK_FS_OBJ_INOS, 0);
		tab = o ? tab_of(o->type, &nt) : NULL;
		for (i = 0; tab && i < nt && rc; i++)
			if (strcmp(tab[i].name, name) == 0) {
				obj_node(fs, o, i + 1, n);
				rc = 0;
			}
	} else {
		rc = -ENOTDIR;
	}
	pthread_mutex_unlock(&fs->obj_lock);
	return rc;
}

int mk_fs_obj_child(struct mk_fs *fs, uint64_t dir, uint64_t *pos,
		    struct mk_fs_node *n, char *name, size_t cap)
{
	enum mk_fs_obj_type t;
	struct mk_fs_obj *o, *best = NULL;
	const struct file_tab *tab;
	uint32_t nt;
	int rc = -ENOENT;

	pthread_mutex_lock(&fs->obj_lock);
	if (root_type(dir, &t)) {
		/* The cookie is an object id: removals never shift entries. */
		for (o = fs->objs; o; o = o->next)
			if (o->type == t && !o->hidden && o->id >= *pos &&
			    (!best || o->id < best->id))
				best = o;
		if (best) {
			obj_node(fs, best, 0, n);
			snprintf(name, cap, "%s", best->name);
			*pos = best->id + 1;
			rc = 0;
		}
	} else {
		o = by_id_locked(fs, (dir - fs->tree.end) / MK_FS_OBJ_INOS, 0);
		tab = o ? tab_of(o->type, &nt) : NULL;
		if (tab && *pos < nt) {
			obj_node(fs, o, (uint32_t)*pos + 1, n);
			snprintf(name, cap, "%s", tab[*pos].name);
			*pos += 1;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&fs->obj_lock);
	return rc;
}

uint64_t mk_fs_obj_parent(struct mk_fs *fs, uint64_t dir)
{
	struct mk_fs_obj *o;
	uint64_t p = 1;

	if (dir < fs->tree.end)
		return mk_fs_tree_parent(&fs->tree, dir);
	pthread_mutex_lock(&fs->obj_lock);
	o = by_id_locked(fs, (dir - fs->tree.end) / MK_FS_OBJ_INOS, 1);
	if (o)
		p = o->type == MK_FS_OBJ_PSET ? MK_FS_INO_PATTERNS :
						MK_FS_INO_STREAMS;
	pthread_mutex_unlock(&fs->obj_lock);
	return p;
}

void mk_fs_obj_path(struct mk_fs *fs, const struct mk_fs_node *n, char *buf,
		    size_t cap)
{
	uint64_t rel = n->ino - fs->tree.end;
	uint32_t f = (uint32_t)(rel % MK_FS_OBJ_INOS), nt;
	const struct file_tab *tab;
	struct mk_fs_obj *o;

	if (n->ino < fs->tree.end) {
		mk_fs_tree_path(&fs->tree, n, buf, cap);
		return;
	}
	snprintf(buf, cap, "?");
	pthread_mutex_lock(&fs->obj_lock);
	o = by_id_locked(fs, rel / MK_FS_OBJ_INOS, 1);
	if (o) {
		tab = tab_of(o->type, &nt);
		if (f == 0)
			snprintf(buf, cap, "%s/%s", root_name(o->type), o->name);
		else if (f <= nt)
			snprintf(buf, cap, "%s/%s/%s", root_name(o->type),
				 o->name, tab[f - 1].name);
	}
	pthread_mutex_unlock(&fs->obj_lock);
}

int mk_fs_obj_name_ok(const char *name, size_t len, struct mk_err *err)
{
	size_t i;

	if (len == 0 || len > MK_FS_NAME_MAX || name[0] == '.')
		goto bad;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			goto bad;
	}
	return 1;
bad:
	return mk_err_setf(err, -EINVAL,
			   "use 1 to 48 letters, digits, '_', '-' or '.', not starting with '.'",
			   "invalid object name '%.*s'",
			   (int)(len > 64 ? 64 : len), name);
}

static void obj_free(struct mk_fs *fs, struct mk_fs_obj *o)
{
	if (o->type == MK_FS_OBJ_PSET)
		mk_fs_pset_fini(fs, o);
	else
		mk_fs_stream_fini(fs, o);
	pthread_mutex_destroy(&o->mu);
	free(o);
}

void mk_fs_obj_put(struct mk_fs *fs, struct mk_fs_obj *o)
{
	int last;

	if (!o)
		return;
	pthread_mutex_lock(&fs->obj_lock);
	last = --o->refs == 0;
	pthread_mutex_unlock(&fs->obj_lock);
	if (last)
		obj_free(fs, o);
}

void mk_fs_obj_put_all(struct mk_fs *fs, struct mk_fs_obj **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		mk_fs_obj_put(fs, v[i]);
	free(v);
}

int mk_fs_obj_unlist(struct mk_fs *fs, struct mk_fs_obj *o)
{
	struct mk_fs_obj **pp;
	int last = 0, found = 0;

	pthread_mutex_lock(&fs->obj_lock);
	for (pp = &fs->objs; *pp; pp = &(*pp)->next) {
		if (*pp != o)
			continue;
		*pp = o->next;
		o->listed = 0;
		if (o->type == MK_FS_OBJ_PSET)
			fs->npsets--;
		else
			fs->nstreams--;
		last = --o->refs == 0;
		found = 1;
		break;
	}
	pthread_mutex_unlock(&fs->obj_lock);
	if (last)
		obj_free(fs, o);
	return found;
}

struct mk_fs_obj *mk_fs_obj_find(struct mk_fs *fs, enum mk_fs_obj_type type,
				 const char *name)
{
	struct mk_fs_obj *o;

	pthread_mutex_lock(&fs->obj_lock);
	o = by_name_locked(fs, type, name);
	if (o)
		o->refs++;
	pthread_mutex_unlock(&fs->obj_lock);
	return o;
}

struct mk_fs_obj **mk_fs_obj_snapshot(struct mk_fs *fs,
				      enum mk_fs_obj_type type, size_t *n)
{
	struct mk_fs_obj **v, *o;
	size_t cap;

	*n = 0;
	pthread_mutex_lock(&fs->obj_lock);
	cap = type == MK_FS_OBJ_PSET ? fs->npsets : fs->nstreams;
	v = cap ? malloc(cap * sizeof(*v)) : NULL;
	for (o = fs->objs; v && o; o = o->next) {
		if (o->type != type || *n == cap)
			continue;
		o->refs++;
		v[(*n)++] = o;
	}
	pthread_mutex_unlock(&fs->obj_lock);
	return v;
}

/* Append @o (new id) unless the name is taken or the kind is full. */
static int insert(struct mk_fs *fs, struct mk_fs_obj *o, struct mk_err *err)
{
	uint32_t *count = o->type == MK_FS_OBJ_PSET ? &fs->npsets :
						       &fs->nstreams;
	uint32_t limit = o->type == MK_FS_OBJ_PSET ? MK_SCAN_MAX_SETS :
						      MK_FS_MAX_STREAMS;
	struct mk_fs_obj **pp;
	int rc = 0;

	pthread_mutex_lock(&fs->obj_lock);
	if (by_name_locked(fs, o->type, o->name)) {
		rc = mk_err_setf(err, -EEXIST, "pick another name",
				 "%s/%s exists", root_name(o->type), o->name);
	} else if (*count >= limit) {
		rc = mk_err_setf(err, -ENOSPC, "rmdir objects you no longer need",
				 "%s/ holds %u objects, the most it can",
				 root_name(o->type), limit);
	} else {
		o->id = fs->next_obj++;
		for (pp = &fs->objs; *pp; pp = &(*pp)->next)
			;
		*pp = o;
		o->listed = 1;
		o->refs = 1;
		(*count)++;
	}
	pthread_mutex_unlock(&fs->obj_lock);
	return rc;
}

int mk_fs_obj_mkdir(struct mk_fs *fs, uint64_t parent, const char *name,
		    uint32_t uid, uint32_t gid, struct mk_fs_node *n,
		    struct mk_err *err)
{
	enum mk_fs_obj_type t;
	struct mk_fs_obj *o;
	int rc;

	if (!root_type(parent, &t))
		return mk_err_set(err, -EPERM, "this directory takes no mkdir",
				  "mkdir patterns/NAME or streams/NAME");
	rc = mk_fs_obj_name_ok(name, strlen(name), err);
	if (rc < 0)
		return rc;
	o = calloc(1, sizeof(*o));
	if (!o)
		return mk_err_set(err, -ENOMEM, "cannot allocate the object",
				  "free some memory");
	o->type = t;
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->uid = uid;
	o->gid = gid;
	pthread_mutex_init(&o->mu, NULL);
	if (t == MK_FS_OBJ_PSET) {
		rc = mk_fs_pset_init(fs, o, err);
	} else {
		mk_fs_stream_init(o);
		rc = 0;
	}
	rc = rc ? rc : insert(fs, o, err);
	if (rc) {
		obj_free(fs, o);
		return rc;
	}
	obj_node(fs, o, 0, n);
	return 0;
}

int mk_fs_obj_rmdir(struct mk_fs *fs, uint64_t parent, const char *name,
		    struct mk_err *err)
{
	enum mk_fs_obj_type t;
	struct mk_fs_obj *o;
	int rc = 0, keep = 0;

	if (!root_type(parent, &t))
		return mk_err_set(err, -EPERM, "only objects can be removed",
				  "rmdir patterns/NAME or streams/NAME");
	o = mk_fs_obj_find(fs, t, name);
	if (!o)
		return mk_err_setf(err, -ENOENT, "check the name with ls",
				   "%s/%s does not exist", root_name(t), name);
	if (t == MK_FS_OBJ_PSET) {
		/* Finished scans still count as users until settled. */
		mk_fs_streams_settle(fs);
		rc = mk_fs_pset_remove(fs, o, err);
	} else {
		keep = mk_fs_stream_remove(fs, o);
	}
	if (rc == 0) {
		pthread_mutex_lock(&fs->obj_lock);
		o->hidden = 1;
		pthread_mutex_unlock(&fs->obj_lock);
		if (!keep)
			mk_fs_obj_unlist(fs, o);
	}
	mk_fs_obj_put(fs, o);
	return rc;
}

void mk_fs_obj_fini(struct mk_fs *fs)
{
	struct mk_fs_obj *o, *next;

	/* Streams first: their scans hold pattern sets. Open handles may
	 * still reference objects; the session is over, so free them all. */
	for (o = fs->objs; o; o = o->next)
		if (o->type == MK_FS_OBJ_STREAM)
			mk_fs_stream_fini(fs, o);
	for (o = fs->objs; o; o = next) {
		next = o->next;
		if (o->type == MK_FS_OBJ_PSET)
			mk_fs_pset_fini(fs, o);
		pthread_mutex_destroy(&o->mu);
		free(o);
	}
	fs->objs = NULL;
}
