/* SPDX-License-Identifier: MIT */
/*
 * fs/tree.h - the fixed inode table of megafs's synthetic files: inode
 * number <-> (kind, index, mode, path). Computed, not stored, so a ring of
 * 1M slots costs no memory. FUSE-free; pairs with fs/tree.c. The tree is
 * the contract of issue 3 and docs/megafs.1.
 *
 * Inode layout: 1..MK_FS_FIXED_INOS named nodes (root = 1), then ring
 * slots, then observables, then 4 per tenant (dir, mask, quota, fairness),
 * then (from tree.end) the objects that mkdir creates below patterns/ and
 * streams/: object k owns the MK_FS_OBJ_INOS inodes from end + k *
 * MK_FS_OBJ_INOS (its directory, then its files). Those are resolved by
 * fs/obj.c, not here; object numbers are never reused while mounted.
 */
#ifndef MK_FS_TREE_H
#define MK_FS_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/err.h"

/* Tenant directories control/tenants/0..28: every tenant with its own mask
 * word at the default table pointer (PROTOCOL.md 2.4). */
#define MK_FS_TENANTS 29u
#define MK_FS_FIXED_INOS 63u
/* The two directories where mkdir creates objects (fixed inodes). */
#define MK_FS_INO_PATTERNS 24u
#define MK_FS_INO_STREAMS 25u
#define MK_FS_OBJ_INOS 16u /* inodes per object: directory + files */

enum mk_fs_kind {
	MK_FS_DIR,            /* a directory; index = unused */
	MK_FS_TENANT_DIR,     /* control/tenants/T; index = T */
	MK_FS_README,
	MK_FS_RING_SLOT,      /* ring/N; index = N */
	MK_FS_RING_RAW,
	MK_FS_CALL,
	MK_FS_CTL_METRICS,
	MK_FS_CTL_PROM,
	MK_FS_CTL_SHUTDOWN,
	MK_FS_CTL_DONE_COUNT,
	MK_FS_CTL_EPOCH,
	MK_FS_CTL_STATUS,
	MK_FS_CTL_WORDS,
	MK_FS_CTL_RAW,
	MK_FS_TENANT_MASK,    /* index = T */
	MK_FS_TENANT_QUOTA,   /* index = T */
	MK_FS_TENANT_FAIRNESS, /* index = T */
	MK_FS_PRIO_OFFSETS,
	MK_FS_PRIO_STARVATION,
	MK_FS_PRIO_FAIRNESS,
	MK_FS_OBSERVABLE,     /* observables/K; index = K */
	MK_FS_DEBUG_LOG,
	MK_FS_ERRORS,
	/* ---- object nodes (inode >= tree.end), resolved by fs/obj.c ---- */
	MK_FS_PSET_DIR,       /* patterns/P */
	MK_FS_PSET_LITERALS,
	MK_FS_PSET_DFA,
	MK_FS_PSET_INFO,
	MK_FS_STREAM_DIR,     /* streams/S */
	MK_FS_ST_SOURCE,
	MK_FS_ST_PATTERNS,
	MK_FS_ST_CHUNK,
	MK_FS_ST_MAX_HITS,
	MK_FS_ST_CTL,
	MK_FS_ST_PROGRESS,
	MK_FS_ST_MATCHES,
	MK_FS_ST_HITS,
	MK_FS_ST_ERROR
};

struct mk_fs_node {
	uint64_t ino;
	enum mk_fs_kind kind;
	uint32_t index; /* slot, observable or tenant number */
	uint32_t mode;  /* S_IFDIR|0555, S_IFREG|0644 (rw) or 0444 (r);
			   patterns/ and streams/ are S_IFDIR|01777 */
	uint32_t uid, gid; /* owner of an object node (creator); 0 otherwise */
};

struct mk_fs_tree {
	uint32_t slots;
	uint32_t observables;
	uint64_t ring_base; /* ino of ring/0 */
	uint64_t obs_base;  /* ino of observables/0 */
	uint64_t ten_base;  /* ino of control/tenants/0 */
	uint64_t end;       /* one past the last ino */
};

/* Lay out a tree for @slots ring slots and @observables observables. */
void mk_fs_tree_init(struct mk_fs_tree *t, uint32_t slots,
		     uint32_t observables);

/* Node of @ino. Returns 0 or -ENOENT. */
int mk_fs_tree_get(const struct mk_fs_tree *t, uint64_t ino,
		   struct mk_fs_node *out);

/* Child @name of directory @parent. 0, -ENOENT or -ENOTDIR. */
int mk_fs_tree_lookup(const struct mk_fs_tree *t, uint64_t parent,
		      const char *name, struct mk_fs_node *out);

/*
 * Why @name, absent from directory @parent, is absent when it names a
 * number past the end of ring/, observables/ or control/tenants/:
 * -ERANGE with the range in @err. 0 when it is no such number.
 */
int mk_fs_tree_beyond(const struct mk_fs_tree *t, uint64_t parent,
		      const char *name, struct mk_err *err);

/*
 * Child number @idx (0-based, "." and ".." excluded) of directory @dir,
 * with its name in @name (@cap >= 16). 0, -ENOENT past the end, -ENOTDIR.
 */
int mk_fs_tree_child(const struct mk_fs_tree *t, uint64_t dir, uint64_t idx,
		     struct mk_fs_node *out, char *name, size_t cap);

/* Inode of the parent of directory @dir (root is its own parent). */
uint64_t mk_fs_tree_parent(const struct mk_fs_tree *t, uint64_t dir);

/* Path below the mountpoint ("ring/3", "" for the root) into @buf. */
void mk_fs_tree_path(const struct mk_fs_tree *t, const struct mk_fs_node *n,
		     char *buf, size_t cap);

/* 1 when the node is a regular file users may write. */
int mk_fs_node_writable(const struct mk_fs_node *n);

#endif /* MK_FS_TREE_H */
