/* SPDX-License-Identifier: MIT */
/*
 * fs/obj.h - the objects that mkdir creates, configfs style: pattern sets
 * (patterns/P, fs/file_pattern.c) and streams (streams/S,
 * fs/file_stream.c), their registry and inodes (fs/obj.c), and the
 * credentials a stream opens its source with (fs/cred.c). Private to fs/;
 * the scanning itself is runtime/stream.h.
 *
 * Lifetime: the registry holds one reference per listed object, every
 * open handle (and every short-lived lookup) one more; the last put frees.
 * rmdir unlists a pattern set at once; a stream whose scan still runs is
 * cancelled and stays listed (hidden) until the reaper has settled it.
 *
 * Locks, in order: a stream's mu, then a pattern set's mu, then
 * fs->watch_lock, then fs->obj_lock (a leaf). The reaper reads a stream's
 * state through an atomic, never its mu, so poll never waits on a scan.
 */
#ifndef MK_FS_OBJ_H
#define MK_FS_OBJ_H

#include "fs/fs.h"
#include "runtime/stream.h"

#define MK_FS_NAME_MAX 48u      /* bytes of an object name */
#define MK_FS_MAX_STREAMS 1024u /* listed streams per mount */
#define MK_FS_SOURCE_MAX 4096u  /* bytes of a source path, NUL included */

enum mk_fs_obj_type { MK_FS_OBJ_PSET, MK_FS_OBJ_STREAM };

/* Who wrote streams/S/source: the source is opened as this user. */
struct mk_fs_cred {
	uint32_t uid, gid;
	uint32_t ngroups;
	uint32_t *groups; /* supplementary groups, malloc'd */
};

struct mk_fs_pset {
	int idx;            /* scan pool set index; -1 without a pool */
	struct mk_dfa *dfa; /* the current table; never NULL */
	char *text;         /* literals it was compiled from; NULL if binary */
	size_t text_len;
};

enum mk_fs_st_state {
	MK_FS_ST_IDLE,
	MK_FS_ST_RUNNING,
	MK_FS_ST_DONE,
	MK_FS_ST_FAILED,
	MK_FS_ST_CANCELLED
};

struct mk_fs_stream {
	char *source;          /* absolute path; NULL until written */
	struct mk_fs_cred cred; /* of the process that wrote source */
	char pset[MK_FS_NAME_MAX + 1];
	uint32_t chunk_bytes, max_hits;
	int state;             /* enum mk_fs_st_state; atomic for poll */
	struct mk_stream *s;   /* the scan while running / not yet settled */
	uint32_t run_hits;     /* max_hits of the current run */
	struct mk_stream_progress fin; /* the settled result */
	struct mk_scan_hit *hits;      /* settled hits (run_hits entries) */
	size_t nhits;
	uint64_t dropped;
	char error[MK_ERR_MSG_MAX + 16]; /* "" or the failure with Fix: */
};

struct mk_fs_obj {
	uint64_t id;           /* inodes from tree.end + id * MK_FS_OBJ_INOS */
	enum mk_fs_obj_type type;
	char name[MK_FS_NAME_MAX + 1];
	uint32_t uid, gid;     /* the creator */
	int refs;              /* under fs->obj_lock */
	int listed;            /* in fs->objs (under fs->obj_lock) */
	int hidden;            /* rmdir'd: no longer found (under obj_lock) */
	int removed;           /* rmdir'd: its files answer ENOENT (under mu) */
	struct mk_fs_obj *next;
	pthread_mutex_t mu;    /* guards u and removed */
	union {
		struct mk_fs_pset ps;
		struct mk_fs_stream st;
	} u;
};

/* ---- fs/obj.c: registry and inodes ---------------------------------------- */
/* 1 when @ino is one of the objects' directories or files. */
int mk_fs_obj_ino(const struct mk_fs *fs, uint64_t ino);
/* 1 when directory @ino lists objects or object files (not fs/tree.c). */
int mk_fs_obj_dir(const struct mk_fs *fs, uint64_t ino);
/* Node of object inode @ino; with @o, a new reference too. 0 / -ENOENT. */
int mk_fs_obj_node(struct mk_fs *fs, uint64_t ino, struct mk_fs_node *n,
		   struct mk_fs_obj **o);
int mk_fs_obj_lookup(struct mk_fs *fs, uint64_t parent, const char *name,
		     struct mk_fs_node *n);
/* Entry at readdir cookie *@pos of object dir @dir; *@pos becomes the
 * next cookie. 0, or -ENOENT past the end. */
int mk_fs_obj_child(struct mk_fs *fs, uint64_t dir, uint64_t *pos,
		    struct mk_fs_node *n, char *name, size_t cap);
uint64_t mk_fs_obj_parent(struct mk_fs *fs, uint64_t dir);
void mk_fs_obj_path(struct mk_fs *fs, const struct mk_fs_node *n, char *buf,
		    size_t cap);
int mk_fs_obj_mkdir(struct mk_fs *fs, uint64_t parent, const char *name,
		    uint32_t uid, uint32_t gid, struct mk_fs_node *n,
		    struct mk_err *err);
int mk_fs_obj_rmdir(struct mk_fs *fs, uint64_t parent, const char *name,
		    struct mk_err *err);
/* Listed object of @type named @name, referenced; NULL if none. */
struct mk_fs_obj *mk_fs_obj_find(struct mk_fs *fs, enum mk_fs_obj_type type,
				 const char *name);
void mk_fs_obj_put(struct mk_fs *fs, struct mk_fs_obj *o);
/* Take @o off the list (drops the registry's reference). 1 if it was
 * listed, 0 if someone else took it off first. */
int mk_fs_obj_unlist(struct mk_fs *fs, struct mk_fs_obj *o);
/* Referenced array of every object of @type (hidden ones too); *@n set.
 * NULL with *@n = 0 when there are none or memory is short. */
struct mk_fs_obj **mk_fs_obj_snapshot(struct mk_fs *fs,
				      enum mk_fs_obj_type type, size_t *n);
void mk_fs_obj_put_all(struct mk_fs *fs, struct mk_fs_obj **v, size_t n);
/* Teardown: free every object whatever its references (fs/fs.c). */
void mk_fs_obj_fini(struct mk_fs *fs);
/* 1 when @name is a valid object name; else -EINVAL with a Fix:. */
int mk_fs_obj_name_ok(const char *name, size_t len, struct mk_err *err);

/* ---- fs/file_pattern.c: patterns/P ---------------------------------------- */
int mk_fs_pset_init(struct mk_fs *fs, struct mk_fs_obj *o, struct mk_err *err);
int mk_fs_pset_remove(struct mk_fs *fs, struct mk_fs_obj *o,
		      struct mk_err *err);
void mk_fs_pset_fini(struct mk_fs *fs, struct mk_fs_obj *o);
int mk_fs_pset_text(struct mk_fs *fs, struct mk_fs_handle *h,
		    struct mk_fs_text *out);
/* literals/dfa: accumulate a write at @off (0 restarts, else the end). */
int mk_fs_pset_write(struct mk_fs *fs, struct mk_fs_handle *h,
		     const char *buf, size_t size, uint64_t off,
		     struct mk_err *err);
/* Compile what @h accumulated (flush/release); 0 when nothing pending. */
/* An O_APPEND open of literals starts from the set's current text. */
int mk_fs_pset_seed(struct mk_fs *fs, struct mk_fs_handle *h);
int mk_fs_pset_commit(struct mk_fs *fs, struct mk_fs_handle *h,
		      struct mk_err *err);
/* Start a scan of set @name: fills p->set and calls mk_stream_start with
 * the set held, so it cannot be replaced or removed meanwhile. */
int mk_fs_pset_start(struct mk_fs *fs, const char *name,
		     struct mk_stream_params *p, struct mk_stream **out,
		     struct mk_err *err);

/* ---- fs/file_stream.c: streams/S ------------------------------------------ */
void mk_fs_stream_init(struct mk_fs_obj *o);
/* rmdir: cancel a running scan. Returns 1 when it must stay listed until
 * settled, 0 when it can go now. */
int mk_fs_stream_remove(struct mk_fs *fs, struct mk_fs_obj *o);
void mk_fs_stream_fini(struct mk_fs *fs, struct mk_fs_obj *o);
int mk_fs_stream_text(struct mk_fs *fs, struct mk_fs_handle *h,
		      struct mk_fs_text *out);
int mk_fs_stream_write(struct mk_fs *fs, fuse_req_t req,
		       struct mk_fs_handle *h, const char *buf, size_t size,
		       struct mk_err *err);
/* Finish streams whose scan ended: keep the results, free the scan (its
 * staging buffers and pattern set go back). The reaper calls it. */
void mk_fs_streams_settle(struct mk_fs *fs);
/* poll: POLLIN unless the stream of @h is running. */
unsigned mk_fs_stream_revents(const struct mk_fs_handle *h);

/* ---- fs/cred.c ----------------------------------------------------------- */
/* The requester's uid, gid and supplementary groups. 0 or -ENOMEM. */
int mk_fs_cred_of(fuse_req_t req, struct mk_fs_cred *c);
void mk_fs_cred_fini(struct mk_fs_cred *c);
/* Open source @path with the calling thread's fsuid, fsgid and groups
 * switched to @c for the open only: resolved first (mk_fs_resolve_source,
 * refusing a path into @mnt when @mnt is set), then opened with no
 * symlink followed. fd or -errno with a Fix:. */
int mk_fs_open_as(const struct mk_fs_cred *c, const char *path,
		  const char *mnt, uint64_t *size, struct mk_err *err);
int mk_fs_resolve_source(const char *mnt, const char *path, int follow,
			 char *out, size_t cap);
/* -EINVAL "the source lies inside this megafs mount" with its Fix:. */
int mk_fs_inside_err(struct mk_err *err);

#endif /* MK_FS_OBJ_H */
