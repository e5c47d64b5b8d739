/* SPDX-License-Identifier: MIT */
/*
 * fs/tree.c - the inode table of megafs; see fs/tree.h. Named nodes come
 * from one static table; numbered ones (ring/N, observables/K,
 * control/tenants/T/...) are computed from the inode number.
 */
#include "fs/tree.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define DIR_MODE (S_IFDIR | 0555)
#define RW_MODE (S_IFREG | 0644)
#define RO_MODE (S_IFREG | 0444)
/* Like /tmp: anyone who can reach the mount may mkdir, only the creator
 * (or root) may rmdir (the kernel enforces the sticky bit). */
#define OBJ_ROOT_MODE (S_IFDIR | S_ISVTX | 0777)

enum {
	INO_ROOT = 1,
	INO_RING = 3,
	INO_TENANTS = 15,
	INO_OBS = 20
};

struct fixed {
	uint64_t parent;
	const char *name;
	const char *path;
	enum mk_fs_kind kind;
	uint32_t mode;
};

/* Entry i is inode i + 1; children list in this order. */
static const struct fixed fixed[] = {
	{ 1, "", "", MK_FS_DIR, DIR_MODE },
	{ 1, "README", "README", MK_FS_README, RO_MODE },
	{ 1, "ring", "ring", MK_FS_DIR, DIR_MODE },
	{ 3, "raw", "ring/raw", MK_FS_RING_RAW, RW_MODE },
	{ 1, "call", "call", MK_FS_CALL, RW_MODE },
	{ 1, "control", "control", MK_FS_DIR, DIR_MODE },
	{ 6, "metrics", "control/metrics", MK_FS_CTL_METRICS, RO_MODE },
	{ 6, "metrics.prom", "control/metrics.prom", MK_FS_CTL_PROM, RO_MODE },
	{ 6, "shutdown", "control/shutdown", MK_FS_CTL_SHUTDOWN, RW_MODE },
	{ 6, "done_count", "control/done_count", MK_FS_CTL_DONE_COUNT,
	  RO_MODE },
	{ 6, "epoch", "control/epoch", MK_FS_CTL_EPOCH, RO_MODE },
	{ 6, "status", "control/status", MK_FS_CTL_STATUS, RO_MODE },
	{ 6, "words", "control/words", MK_FS_CTL_WORDS, RO_MODE },
	{ 6, "raw", "control/raw", MK_FS_CTL_RAW, RW_MODE },
	{ 6, "tenants", "control/tenants", MK_FS_DIR, DIR_MODE },
	{ 6, "priority", "control/priority", MK_FS_DIR, DIR_MODE },
	{ 16, "offsets", "control/priority/offsets", MK_FS_PRIO_OFFSETS,
	  RW_MODE },
	{ 16, "starvation", "control/priority/starvation",
	  MK_FS_PRIO_STARVATION, RO_MODE },
	{ 16, "fairness", "control/priority/fairness", MK_FS_PRIO_FAIRNESS,
	  RO_MODE },
	{ 1, "observables", "observables", MK_FS_DIR, DIR_MODE },
	{ 1, "debug", "debug", MK_FS_DIR, DIR_MODE },
	{ 21, "log", "debug/log", MK_FS_DEBUG_LOG, RO_MODE },
	{ 1, "errors", "errors", MK_FS_ERRORS, RO_MODE },
	{ 1, "patterns", "patterns", MK_FS_DIR, OBJ_ROOT_MODE },
	{ 1, "streams", "streams", MK_FS_DIR, OBJ_ROOT_MODE },
};

#define N_FIXED (sizeof(fixed) / sizeof(fixed[0]))

static const char *const tenant_files[3] = { "mask", "quota", "fairness" };
static const enum mk_fs_kind tenant_kinds[3] = {
	MK_FS_TENANT_MASK, MK_FS_TENANT_QUOTA, MK_FS_TENANT_FAIRNESS
};

_Static_assert(N_FIXED <= MK_FS_FIXED_INOS, "fixed inodes fit");
_Static_assert(INO_RING <= N_FIXED && INO_TENANTS <= N_FIXED &&
		       INO_OBS <= N_FIXED && MK_FS_INO_PATTERNS <= N_FIXED &&
		       MK_FS_INO_STREAMS <= N_FIXED,
	       "directory inodes are in the table");

void mk_fs_tree_init(struct mk_fs_tree *t, uint32_t slots,
		     uint32_t observables)
{
	t->slots = slots;
	t->observables = observables;
	t->ring_base = MK_FS_FIXED_INOS + 1u;
	t->obs_base = t->ring_base + slots;
	t->ten_base = t->obs_base + observables;
	t->end = t->ten_base + 4u * MK_FS_TENANTS;
}

static void set_node(struct mk_fs_node *n, uint64_t ino, enum mk_fs_kind k,
		     uint32_t index, uint32_t mode)
{
	n->ino = ino;
	n->kind = k;
	n->index = index;
	n->mode = mode;
	n->uid = 0;
	n->gid = 0;
}

int mk_fs_tree_get(const struct mk_fs_tree *t, uint64_t ino,
		   struct mk_fs_node *out)
{
	uint64_t rel;

	if (ino >= 1 && ino <= N_FIXED) {
		const struct fixed *f = &fixed[ino - 1];

		set_node(out, ino, f->kind, 0, f->mode);
		return 0;
	}
	if (ino >= t->ring_base && ino < t->obs_base) {
		set_node(out, ino, MK_FS_RING_SLOT,
			 (uint32_t)(ino - t->ring_base), RW_MODE);
		return 0;
	}
	if (ino >= t->obs_base && ino < t->ten_base) {
		set_node(out, ino, MK_FS_OBSERVABLE,
			 (uint32_t)(ino - t->obs_base), RW_MODE);
		return 0;
	}
	if (ino >= t->ten_base && ino < t->end) {
		rel = ino - t->ten_base;
		if (rel % 4u == 0)
			set_node(out, ino, MK_FS_TENANT_DIR,
				 (uint32_t)(rel / 4u), DIR_MODE);
		else
			set_node(out, ino, tenant_kinds[rel % 4u - 1u],
				 (uint32_t)(rel / 4u),
				 rel % 4u == 3u ? RO_MODE : RW_MODE);
		return 0;
	}
	return -ENOENT;
}

/* Canonical decimal below @limit ("0", "17"; not "017", "+1", "1 "). */
static int parse_index(const char *name, uint32_t limit, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!name[0] || (name[0] == '0' && name[1]))
		return -ENOENT;
	for (i = 0; name[i]; i++) {
		if (name[i] < '0' || name[i] > '9' || i >= 10)
			return -ENOENT;
		v = v * 10u + (uint64_t)(name[i] - '0');
	}
	if (v >= limit)
		return -ENOENT;
	*out = (uint32_t)v;
	return 0;
}

static int lookup_numbered(const struct mk_fs_tree *t, uint64_t parent,
			   const char *name, struct mk_fs_node *out)
{
	uint32_t i;

	if (parent == INO_RING && parse_index(name, t->slots, &i) == 0)
		return mk_fs_tree_get(t, t->ring_base + i, out);
	if (parent == INO_OBS && parse_index(name, t->observables, &i) == 0)
		return mk_fs_tree_get(t, t->obs_base + i, out);
	if (parent == INO_TENANTS && parse_index(name, MK_FS_TENANTS, &i) == 0)
		return mk_fs_tree_get(t, t->ten_base + 4u * i, out);
	return -ENOENT;
}

/* A canonical decimal of any length (all digits, no leading 0). */
static int is_number(const char *name)
{
	size_t i;

	if (!name[0] || (name[0] == '0' && name[1]))
		return 0;
	for (i = 0; name[i]; i++)
		if (name[i] < '0' || name[i] > '9')
			return 0;
	return 1;
}

int mk_fs_tree_beyond(const struct mk_fs_tree *t, uint64_t parent,
		      const char *name, struct mk_err *err)
{
	/* Missing and a number: past the end (lookup found the others). */
	if (!is_number(name))
		return 0;
	if (parent == INO_RING)
		return mk_err_setf(err, -ERANGE,
				   "use ring/0..ring/N-1 for the N slots control/status shows, or mount with -o slots= (up to 1048576)",
				   "ring/%s is outside the ring of %u slots",
				   name, t->slots);
	if (parent == INO_OBS)
		return mk_err_setf(err, -ERANGE,
				   "use observables/0..K-1 for the K observables control/status shows, or mount with -o observables=",
				   "observables/%s is outside the %u observables",
				   name, t->observables);
	if (parent == INO_TENANTS)
		return mk_err_setf(err, -ERANGE,
				   "use control/tenants/0..28",
				   "control/tenants/%s is outside the tenant table 0..%u",
				   name, MK_FS_TENANTS - 1u);
	return 0;
}

int mk_fs_tree_lookup(const struct mk_fs_tree *t, uint64_t parent,
		      const char *name, struct mk_fs_node *out)
{
	struct mk_fs_node p;
	size_t i;

	if (mk_fs_tree_get(t, parent, &p))
		return -ENOENT;
	if (p.kind == MK_FS_TENANT_DIR) {
		for (i = 0; i < 3; i++)
			if (strcmp(name, tenant_files[i]) == 0)
				return mk_fs_tree_get(t, parent + 1u + i, out);
		return -ENOENT;
	}
	if (p.kind != MK_FS_DIR)
		return -ENOTDIR;
	for (i = 1; i < N_FIXED; i++)
		if (fixed[i].parent == parent &&
		    strcmp(fixed[i].name, name) == 0)
			return mk_fs_tree_get(t, i + 1u, out);
	return lookup_numbered(t, parent, name, out);
}

/* Numbered children of @dir: count and inode of the first. */
static uint64_t numbered_children(const struct mk_fs_tree *t, uint64_t dir,
				  uint64_t *first, uint64_t *stride)
{
	*stride = 1;
	if (dir == INO_RING) {
		*first = t->ring_base;
		return t->slots;
	}
	if (dir == INO_OBS) {
		*first = t->obs_base;
		return t->observables;
	}
	if (dir == INO_TENANTS) {
		*first = t->ten_base;
		*stride = 4;
		return MK_FS_TENANTS;
	}
	*first = 0;
	return 0;
}

static int tenant_child(const struct mk_fs_tree *t, uint64_t dir,
			uint64_t idx, struct mk_fs_node *out, char *name,
			size_t cap)
{
	if (idx >= 3)
		return -ENOENT;
	snprintf(name, cap, "%s", tenant_files[idx]);
	return mk_fs_tree_get(t, dir + 1u + idx, out);
}

int mk_fs_tree_child(const struct mk_fs_tree *t, uint64_t dir, uint64_t idx,
		     struct mk_fs_node *out, char *name, size_t cap)
{
	uint64_t first, stride, n;
	struct mk_fs_node d;
	size_t i;

	if (mk_fs_tree_get(t, dir, &d))
		return -ENOENT;
	if (d.kind == MK_FS_TENANT_DIR)
		return tenant_child(t, dir, idx, out, name, cap);
	if (d.kind != MK_FS_DIR)
		return -ENOTDIR;
	for (i = 1; i < N_FIXED; i++) {
		if (fixed[i].parent != dir)
			continue;
		if (idx == 0) {
			snprintf(name, cap, "%s", fixed[i].name);
			return mk_fs_tree_get(t, i + 1u, out);
		}
		idx--;
	}
	n = numbered_children(t, dir, &first, &stride);
	if (idx >= n)
		return -ENOENT;
	snprintf(name, cap, "%llu", (unsigned long long)idx);
	return mk_fs_tree_get(t, first + idx * stride, out);
}

uint64_t mk_fs_tree_parent(const struct mk_fs_tree *t, uint64_t dir)
{
	if (dir >= 1 && dir <= N_FIXED)
		return fixed[dir - 1].parent;
	if (dir >= t->ten_base && dir < t->end)
		return INO_TENANTS;
	return INO_ROOT;
}

void mk_fs_tree_path(const struct mk_fs_tree *t, const struct mk_fs_node *n,
		     char *buf, size_t cap)
{
	(void)t;
	switch (n->kind) {
	case MK_FS_RING_SLOT:
		snprintf(buf, cap, "ring/%u", n->index);
		return;
	case MK_FS_OBSERVABLE:
		snprintf(buf, cap, "observables/%u", n->index);
		return;
	case MK_FS_TENANT_DIR:
		snprintf(buf, cap, "control/tenants/%u", n->index);
		return;
	case MK_FS_TENANT_MASK:
	case MK_FS_TENANT_QUOTA:
	case MK_FS_TENANT_FAIRNESS:
		snprintf(buf, cap, "control/tenants/%u/%s", n->index,
			 tenant_files[n->kind - MK_FS_TENANT_MASK]);
		return;
	default:
		break;
	}
	if (n->ino >= 1 && n->ino <= N_FIXED)
		snprintf(buf, cap, "%s", fixed[n->ino - 1].path);
	else
		snprintf(buf, cap, "?");
}

int mk_fs_node_writable(const struct mk_fs_node *n)
{
	return S_ISREG(n->mode) && (n->mode & 0200);
}
