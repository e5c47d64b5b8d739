/* SPDX-License-Identifier: MIT */
/*
 * fs/cred.c - open a stream's source as the user who named it. The daemon
 * may run as root and serve other users (-o allow_other); a user must
 * never read through megafs what that user could not read directly. So
 * the FUSE thread that opens the source takes on the requester's fsuid,
 * fsgid and supplementary groups for the open(2) alone, with the raw
 * syscalls: they change the calling thread only (glibc's setgroups()
 * would change every thread of the daemon), and fsuid/fsgid are what the
 * kernel checks file access against. The fd, once open, carries the
 * user's access check; io_uring reads through it.
 *
 * When the daemon cannot take on the user (a non-root daemon serving
 * another uid), the open is refused instead of done with the daemon's
 * rights.
 */
#include "fs/obj.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/uring.h"

#define GROUPS_FIRST 64

int mk_fs_cred_of(fuse_req_t req, struct mk_fs_cred *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t first[GROUPS_FIRST], *list = first;
	int n, cap = GROUPS_FIRST, i, rc = 0;

	memset(c, 0, sizeof(*c));
	c->uid = (uint32_t)ctx->uid;
	c->gid = (uint32_t)ctx->gid;
	n = fuse_req_getgroups(req, cap, first);
	if (n > cap) {
		cap = n;
		list = calloc((size_t)cap, sizeof(*list));
		if (!list)
			return -ENOMEM;
		n = fuse_req_getgroups(req, cap, list);
	}
	/* Unknown groups (no /proc, the process gone): none, never more. */
	if (n > cap)
		n = cap;
	if (n > 0) {
		c->groups = calloc((size_t)n, sizeof(*c->groups));
		if (c->groups) {
			for (i = 0; i < n; i++)
				c->groups[i] = (uint32_t)list[i];
			c->ngroups = (uint32_t)n;
		} else {
			rc = -ENOMEM;
		}
	}
	if (list != first)
		free(list);
	return rc;
}

void mk_fs_cred_fini(struct mk_fs_cred *c)
{
	free(c->groups);
	memset(c, 0, sizeof(*c));
}

/* The thread's fs identity, to put back afterwards. */
struct saved {
	long fsuid, fsgid;
	int ngroups;
	gid_t *groups;
};

static int save(struct saved *s)
{
	s->fsuid = syscall(SYS_setfsuid, -1); /* -1 only reads it */
	s->fsgid = syscall(SYS_setfsgid, -1);
	s->ngroups = (int)syscall(SYS_getgroups, 0, NULL);
	s->groups = NULL;
	if (s->ngroups < 0)
		return -errno;
	s->groups = calloc((size_t)s->ngroups + 1, sizeof(gid_t));
	if (!s->groups)
		return -ENOMEM;
	s->ngroups = (int)syscall(SYS_getgroups, s->ngroups, s->groups);
	return s->ngroups < 0 ? -errno : 0;
}

static void restore(const struct saved *s)
{
	/* fsuid first: back to root brings the file capabilities back. */
	syscall(SYS_setfsuid, (uid_t)s->fsuid);
	syscall(SYS_setfsgid, (gid_t)s->fsgid);
	if (syscall(SYS_setgroups, (size_t)s->ngroups, s->groups) &&
	    s->ngroups)
		fuse_log(FUSE_LOG_ERR,
			 "megafs: cannot restore the groups of a worker thread\n");
}

/* Take on @c; 0, or -EPERM when the kernel would not let us. */
static int become(const struct mk_fs_cred *c)
{
	gid_t *g = NULL;
	uint32_t i;
	long rc;

	if (c->ngroups) {
		g = calloc(c->ngroups, sizeof(*g));
		if (!g)
			return -ENOMEM;
		for (i = 0; i < c->ngroups; i++)
			g[i] = (gid_t)c->groups[i];
	}
	/* Groups before the ids: setgroups needs CAP_SETGID, which a
	 * non-root fsuid does not remove, but be strict about the order. */
	rc = syscall(SYS_setgroups, (size_t)c->ngroups, g);
	free(g);
	if (rc)
		return -EPERM;
	syscall(SYS_setfsgid, (gid_t)c->gid);
	if (syscall(SYS_setfsgid, -1) != (long)c->gid)
		return -EPERM;
	syscall(SYS_setfsuid, (uid_t)c->uid);
	if (syscall(SYS_setfsuid, -1) != (long)c->uid)
		return -EPERM;
	return 0;
}

int mk_fs_open_as(const struct mk_fs_cred *c, const char *path,
		  uint64_t *size, struct mk_err *err)
{
	struct saved s;
	int rc;

	/* The daemon's own user: nothing to switch (and a non-root daemon
	 * could not change its groups anyway). */
	if (c->uid == (uint32_t)geteuid() && c->gid == (uint32_t)getegid())
		return mk_uring_open_source(path, size, err);
	rc = save(&s);
	if (rc) {
		free(s.groups);
		return mk_err_set(err, rc, "cannot read the thread's groups",
				  "free some memory and retry");
	}
	rc = become(&c[0]);
	if (rc == 0)
		rc = mk_uring_open_source(path, size, err);
	else
		mk_err_setf(err, rc,
			    "run megafs as root to let other users stream their files, or stream from a mount of your own",
			    "megafs (uid %u) cannot open files as uid %u",
			    (unsigned)geteuid(), c->uid);
	restore(&s);
	free(s.groups);
	return rc;
}
