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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/*
 * Resolve @path (absolute) one component at a time into @out: no ".",
 * "..", repeated "/" or (with @follow) symlink left, at most 40 of them
 * followed, with the calling thread's rights (lstat, readlink). Each
 * prefix is compared with @mnt (canonical: libfuse realpath()s it) before
 * it is looked at, so nothing inside the mount is ever touched: megafs
 * opening a file of its own mount from a request thread would wait on
 * itself (for good with -s). A prefix that does not exist ends the
 * symlink lookups; the open then fails on it, outside the mount.
 * Returns 0, -EINVAL when the path reaches @mnt, -ELOOP, -ENAMETOOLONG,
 * or readlink's -errno: anything not fully resolved is refused.
 * A bind mount of the mount elsewhere is not seen.
 */
int mk_fs_resolve_source(const char *mnt, const char *path, int follow,
			 char *out, size_t cap)
{
	char rest[2 * PATH_MAX], link[PATH_MAX];
	size_t n, cl = 0;
	int links = 0, gone = !follow, gone_err = 0;
	char *p = rest;

	if (cap < 2 || snprintf(rest, sizeof(rest), "%s", path) >= (int)sizeof(rest))
		return -ENAMETOOLONG;
	out[0] = '\0';
	for (;;) {
		struct stat st;
		ssize_t ln;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		n = strcspn(p, "/");
		if (n == 1 && p[0] == '.') {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			/* Back out of a prefix that could not be looked at:
			 * the kernel fails there, and so does this. */
			if (gone_err)
				return -gone_err;
			while (cl && out[--cl] != '/')
				;
			out[cl] = '\0';
			p += n;
			continue;
		}
		if (cl + 1 + n >= cap)
			return -ENAMETOOLONG;
		out[cl] = '/';
		memcpy(out + cl + 1, p, n);
		out[cl + 1 + n] = '\0';
		p += n;
		if (strcmp(out, mnt) == 0)
			return -EINVAL;
		/* Past a prefix that cannot be looked at, the open fails on
		 * that prefix too: the rest is taken as written. */
		if (!gone && lstat(out, &st)) {
			gone = 1;
			gone_err = errno;
		}
		if (gone || !S_ISLNK(st.st_mode)) {
			cl += 1 + n;
			continue;
		}
		if (++links > 40)
			return -ELOOP;
		ln = readlink(out, link, sizeof(link) - 1);
		if (ln <= 0)
			return ln < 0 ? -errno : -ENOENT;
		link[ln] = '\0';
		/* rest := target + what followed the link; a relative target
		 * resolves from the link's directory. */
		if ((size_t)ln + strlen(p) + 2 > sizeof(rest))
			return -ENAMETOOLONG;
		memmove(rest + ln + 1, p, strlen(p) + 1);
		memcpy(rest, link, (size_t)ln);
		rest[ln] = '/';
		p = rest;
		out[cl] = '\0';
		if (link[0] == '/')
			cl = 0, out[0] = '\0';
	}
	if (!cl)
		snprintf(out, cap, "/");
	return strcmp(out, mnt) == 0 ? -EINVAL : 0;
}

int mk_fs_inside_err(struct mk_err *err)
{
	return mk_err_set(err, -EINVAL, "the source lies inside this megafs mount",
			  "stream a file stored outside the mount");
}

/* Resolve @path (refusing this mount), then open exactly what was seen. */
static int open_outside(const char *mnt, const char *path, uint64_t *size,
			struct mk_err *err)
{
	char real[PATH_MAX];
	int rc;

	if (!mnt)
		return mk_uring_open_source(path, size, err);
	rc = mk_fs_resolve_source(mnt, path, 1, real, sizeof(real));
	if (rc == -EINVAL)
		return mk_fs_inside_err(err);
	if (rc)
		return mk_err_setf(err, rc,
				   "check the path: it must name an existing file, through at most 40 symbolic links and under 4096 bytes once they are resolved",
				   "cannot resolve the source %s: %s", path,
				   strerror(-rc));
	return mk_uring_open_resolved(real, size, err);
}

int mk_fs_open_as(const struct mk_fs_cred *c, const char *path,
		  const char *mnt, uint64_t *size, struct mk_err *err)
{
	struct saved s;
	int rc;

	/* The daemon's own user: nothing to switch (and a non-root daemon
	 * could not change its groups anyway). */
	if (c->uid == (uint32_t)geteuid() && c->gid == (uint32_t)getegid())
		return open_outside(mnt, path, size, err);
	rc = save(&s);
	if (rc) {
		free(s.groups);
		return mk_err_set(err, rc, "cannot read the thread's groups",
				  "free some memory and retry");
	}
	rc = become(&c[0]);
	if (rc == 0)
		rc = open_outside(mnt, path, size, err);
	else
		mk_err_setf(err, rc,
			    "run megafs as root to let other users stream their files, or stream from a mount of your own",
			    "megafs (uid %u) cannot open files as uid %u",
			    (unsigned)geteuid(), c->uid);
	restore(&s);
	free(s.groups);
	return rc;
}
