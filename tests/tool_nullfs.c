/* SPDX-License-Identifier: MIT */
/*
 * tests/tool_nullfs.c - the peer of the file benchmarks: a null FUSE server
 * (libfuse3 low-level API, like megafs) with one direct_io file "null" that
 * accepts any write and answers any read with zeros. It does no work, so
 * the difference to megafs is megafs's own cost.
 *   tool_nullfs [-f] MOUNTPOINT
 */
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NULL_INO 2

static char zeros[1 << 20];

static void fill(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0666;
		st->st_nlink = 1;
	}
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	if (parent != FUSE_ROOT_ID || strcmp(name, "null") != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = NULL_INO;
	e.attr_timeout = 1.0;
	e.entry_timeout = 1.0;
	fill(NULL_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID && ino != NULL_INO) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill(ino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	(void)off;
	(void)fi;
	fuse_reply_buf(req, zeros, size < sizeof(zeros) ? size : sizeof(zeros));
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	(void)buf;
	(void)off;
	(void)fi;
	fuse_reply_write(req, size);
}

static const struct fuse_lowlevel_ops null_ops = {
	.lookup = op_lookup,
	.getattr = op_getattr,
	.open = op_open,
	.read = op_read,
	.write = op_write,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct fuse_session *se;
	int rc = 1;

	if (fuse_parse_cmdline(&args, &opts) != 0 || !opts.mountpoint) {
		fprintf(stderr, "usage: %s [-f] MOUNTPOINT\n", argv[0]);
		return 1;
	}
	se = fuse_session_new(&args, &null_ops, sizeof(null_ops), NULL);
	if (!se)
		goto out_free;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_destroy;
	fuse_daemonize(opts.foreground);
	fuse_set_signal_handlers(se);
	/* The same loop megafs runs (fs/main.c), so only the work differs. */
	rc = fuse_session_loop_mt(se, NULL);
	fuse_remove_signal_handlers(se);
	fuse_session_unmount(se);
out_destroy:
	fuse_session_destroy(se);
out_free:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return rc ? 1 : 0;
}
