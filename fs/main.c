/* SPDX-License-Identifier: MIT */
/*
 * fs/main.c - the megafs program: parse options, create the runtime, mount,
 * start the kernel, serve requests, and on unmount stop it all cleanly.
 * Read top to bottom; the request handlers are in fs/ops.c.
 *
 *   megafs [FUSE options] [-o megafs options] [SOURCE] MOUNTPOINT
 *
 * SOURCE is accepted and ignored so that mount(8) / mount.fuse3 / fstab
 * ("mount -t fuse.megafs none MNT -o ...") work. Exit codes: 0 clean
 * unmount, 1 runtime or mount failure, 2 bad usage or invalid option.
 * Without -f the process forks; the parent waits until the child has
 * mounted and started the kernel and exits with its status, so errors
 * always reach the terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "fs/fs.h"
#include "runtime/cmd.h"

#define MEGAFS_VERSION "0.1.0"
#define EXIT_USAGE 2

struct options {
	char *backend, *slots, *observables, *tenants, *debug_records;
	char *scheduler, *workers;
	char *nonopt[3]; /* [SOURCE] MOUNTPOINT, one extra to detect misuse */
	int nnonopt;
	int help, version;
};

enum { KEY_HELP, KEY_VERSION };

#define OPT(t, f) { t, offsetof(struct options, f), 0 }
static const struct fuse_opt option_spec[] = {
	OPT("backend=%s", backend),
	OPT("slots=%s", slots),
	OPT("observables=%s", observables),
	OPT("tenants=%s", tenants),
	OPT("debug_records=%s", debug_records),
	OPT("scheduler=%s", scheduler),
	OPT("workers=%s", workers),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_END
};

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct options *o = data;

	(void)outargs;
	switch (key) {
	case KEY_HELP:
		o->help = 1;
		return 0;
	case KEY_VERSION:
		o->version = 1;
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		if (o->nnonopt < 3)
			o->nonopt[o->nnonopt] = strdup(arg);
		o->nnonopt++;
		return 0;
	default:
		return 1; /* FUSE's own option: keep it */
	}
}

static void usage(const char *prog)
{
	printf("usage: %s [options] [none] MOUNTPOINT\n\n"
	       "megafs options (-o name=value):\n"
	       "    -o backend=auto|cpu|cuda  where the megakernel runs (auto: CUDA\n"
	       "                              when a GPU is usable, else CPU)\n"
	       "    -o slots=N                ring slots, 1..1048576 (1024)\n"
	       "    -o observables=N          observable words, 0..1048576 (256)\n"
	       "    -o tenants=N              tenants enabled at start, 0..29 (1)\n"
	       "    -o debug_records=N        PRINTF records, 0..1048576 (64)\n"
	       "    -o scheduler=sharded|priority  scheduler variant (sharded)\n"
	       "    -o workers=N              CPU backend threads, 0 = one per core\n"
	       "\n"
	       "The mount is private (add -o allow_other to share it) and uses\n"
	       "default_permissions. Unmount with fusermount3 -u MOUNTPOINT.\n"
	       "Files and command grammar: cat MOUNTPOINT/README, man megafs.\n\n",
	       prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/* Parse "name=value" as u32 in [lo, hi]; message with Fix: on error. */
static int parse_opt_u32(const char *name, const char *val, uint32_t lo,
			 uint32_t hi, uint32_t *out, struct mk_err *err)
{
	char fix[64];
	uint32_t v;

	if (!val)
		return 0;
	snprintf(fix, sizeof(fix), "use %s=N with N in %u..%u", name, lo, hi);
	if (mk_cmd_parse_u32(val, strlen(val), &v) || v < lo || v > hi)
		return mk_err_setf(err, -EINVAL, fix, "invalid option %s=%s",
				   name, val);
	*out = v;
	return 0;
}

static int build_config(const struct options *o, struct mk_config *cfg,
			struct mk_err *err)
{
	int rc;

	mk_config_init(cfg);
	/* tenant=T beyond control/tenants/ would wait forever: refuse it. */
	cfg->flags |= MK_CFG_TENANT_TABLE;
	if (o->backend && strcmp(o->backend, "auto") &&
	    strcmp(o->backend, "cpu") && strcmp(o->backend, "cuda"))
		return mk_err_setf(err, -EINVAL, "use backend=auto, cpu or cuda",
				   "invalid option backend=%s", o->backend);
	if (o->backend)
		cfg->backend = o->backend;
	if (o->scheduler && strcmp(o->scheduler, "sharded") == 0)
		cfg->scheduler = MK_SCHED_SHARDED;
	else if (o->scheduler && strcmp(o->scheduler, "priority") == 0)
		cfg->scheduler = MK_SCHED_PRIORITY;
	else if (o->scheduler)
		return mk_err_setf(err, -EINVAL,
				   "use scheduler=sharded or scheduler=priority",
				   "invalid option scheduler=%s", o->scheduler);
	rc = parse_opt_u32("slots", o->slots, 1, MK_MAX_ENCODED_RING_SLOTS,
			   &cfg->slots, err);
	rc = rc ? rc : parse_opt_u32("observables", o->observables, 0,
				     MK_MAX_ENCODED_OBSERVABLE_SLOTS,
				     &cfg->observables, err);
	rc = rc ? rc : parse_opt_u32("tenants", o->tenants, 0, MK_FS_TENANTS,
				     &cfg->tenants, err);
	rc = rc ? rc : parse_opt_u32("debug_records", o->debug_records, 0,
				     MK_MAX_ENCODED_DEBUG_RECORDS,
				     &cfg->debug_records, err);
	rc = rc ? rc : parse_opt_u32("workers", o->workers, 0, 1024,
				     &cfg->workers, err);
	return rc;
}

static void free_options(struct options *o)
{
	int i;

	free(o->backend);
	free(o->slots);
	free(o->observables);
	free(o->tenants);
	free(o->debug_records);
	free(o->scheduler);
	free(o->workers);
	for (i = 0; i < 3 && i < o->nnonopt; i++)
		free(o->nonopt[i]);
}

static void log_to_syslog(enum fuse_log_level level, const char *fmt,
			  va_list ap)
{
	vsyslog((int)level, fmt, ap);
}

/* Background mode: fork; the parent exits with the child's ready status. */
static int daemonize_wait(int *ready_fd)
{
	int pfd[2];
	char st = 1;
	pid_t pid;

	if (pipe(pfd))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(pfd[1]);
		if (read(pfd[0], &st, 1) != 1)
			st = 1;
		_exit(st);
	}
	close(pfd[0]);
	setsid();
	*ready_fd = pfd[1];
	return 0;
}

/* Tell a waiting parent our exit status (0 = mounted and running). */
static void tell_parent(int *ready_fd, char status)
{
	if (*ready_fd < 0)
		return;
	if (write(*ready_fd, &status, 1) != 1)
		fuse_log(FUSE_LOG_WARNING, "megafs: parent gone\n");
	close(*ready_fd);
	*ready_fd = -1;
}

/* The child is mounted and running: release the parent and the tty. */
static void detach(int *ready_fd)
{
	int null;

	if (*ready_fd < 0)
		return;
	null = open("/dev/null", O_RDWR);
	openlog("megafs", LOG_PID, LOG_DAEMON);
	fuse_set_log_func(log_to_syslog);
	if (chdir("/"))
		fuse_log(FUSE_LOG_WARNING, "megafs: chdir /: %s\n",
			 strerror(errno));
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	tell_parent(ready_fd, 0);
}

static void print_backend(struct mk_runtime *rt)
{
	struct mk_status st;

	mk_runtime_status(rt, &st);
	fprintf(stderr, "megafs: backend %s: %s\n", st.backend, st.device);
	if (st.note[0])
		fprintf(stderr, "megafs: %s\n", st.note);
}

static int serve(struct fuse_session *se, const struct fuse_cmdline_opts *cl)
{
	struct fuse_loop_config lc;

	if (cl->singlethread)
		return fuse_session_loop(se);
	/* libfuse 3.14 logs a bogus warning for the "unset" idle value. */
	if (!cl->clone_fd && cl->max_idle_threads == UINT_MAX)
		return fuse_session_loop_mt(se, NULL);
	lc.clone_fd = cl->clone_fd;
	lc.max_idle_threads = cl->max_idle_threads;
	return fuse_session_loop_mt(se, &lc);
}

/* Create, mount, start, serve, tear down. Returns the exit status. */
static int run(struct fuse_args *args, const struct fuse_cmdline_opts *cl,
	       const struct mk_config *cfg, const char *sched, int *ready_fd)
{
	struct fuse_session *se = NULL;
	struct mk_runtime *rt = NULL;
	struct mk_err err;
	struct mk_fs fs;
	int rc, status = 1;

	mk_err_clear(&err);
	memset(&fs, 0, sizeof(fs));
	/* First, so an unknown -o option fails before anything starts. */
	se = fuse_session_new(args, mk_fs_ops(), sizeof(struct fuse_lowlevel_ops),
			      &fs);
	if (!se) {
		fprintf(stderr, "megafs: invalid FUSE option. Fix: see megafs --help\n");
		return EXIT_USAGE;
	}
	rc = mk_runtime_create(cfg, &rt, &err);
	if (rc) {
		fprintf(stderr, "megafs: %s\n", mk_err_msg(&err));
		fuse_session_destroy(se);
		return rc == -EINVAL ? EXIT_USAGE : 1;
	}
	print_backend(rt);
	if (fuse_set_signal_handlers(se))
		goto out_fini;
	if (mk_fs_up(&fs, se, rt, cl->mountpoint, sched, &err)) {
		fprintf(stderr, "megafs: %s\n", mk_err_msg(&err));
		goto out_signals;
	}
	detach(ready_fd);
	status = serve(se, cl) < 0 ? 1 : 0;
	mk_fs_down(&fs);
out_signals:
	fuse_remove_signal_handlers(se);
out_fini:
	/* Calls op_destroy (stops the kernel) when the session had started. */
	fuse_session_destroy(se);
	mk_fs_fini(&fs);
	mk_runtime_destroy(rt);
	return status;
}

/* [SOURCE] MOUNTPOINT -> the mount point, or NULL with a message. */
static const char *pick_mountpoint(const struct options *o)
{
	if (o->nnonopt == 1)
		return o->nonopt[0];
	if (o->nnonopt == 2)
		return o->nonopt[1]; /* "none" or any source from mount(8) */
	if (o->nnonopt == 0)
		fprintf(stderr, "megafs: no mount point given. Fix: megafs [-o options] MOUNTPOINT\n");
	else
		fprintf(stderr, "megafs: too many arguments. Fix: megafs [-o options] [none] MOUNTPOINT\n");
	return NULL;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cl;
	struct options o;
	struct mk_config cfg;
	struct mk_err err;
	const char *mnt;
	int status = EXIT_USAGE, ready_fd = -1;

	memset(&o, 0, sizeof(o));
	memset(&cl, 0, sizeof(cl));
	mk_err_clear(&err);
	/*
	 * A long-running daemon with many short-lived threads (FUSE workers,
	 * stream readers): a fixed mmap threshold gives large blocks back on
	 * free (glibc's dynamic one moves them into arenas, which keep them),
	 * and few arenas bound what those keep.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_ARENA_MAX, 4);
	if (fuse_opt_parse(&args, &o, option_spec, opt_proc) == -1) {
		fprintf(stderr, "megafs: cannot parse the options. Fix: see megafs --help\n");
		goto out_free;
	}
	if (o.help || o.version) {
		if (o.help)
			usage(argv[0]);
		else
			printf("megafs %s\nFUSE library version %s\n",
			       MEGAFS_VERSION, fuse_pkgversion());
		if (o.version)
			fuse_lowlevel_version();
		status = 0;
		goto out_free;
	}
	if (build_config(&o, &cfg, &err)) {
		fprintf(stderr, "megafs: %s\n", mk_err_msg(&err));
		goto out_free;
	}
	mnt = pick_mountpoint(&o);
	if (!mnt)
		goto out_free;
	/* Ours first, so a user's -o fsname=... later on the line wins. */
	if (fuse_opt_insert_arg(&args, 1, "-odefault_permissions,fsname=megafs,subtype=megafs") ||
	    fuse_opt_add_arg(&args, mnt) || fuse_parse_cmdline(&args, &cl)) {
		fprintf(stderr, "megafs: invalid arguments. Fix: see megafs --help\n");
		goto out_free;
	}
	if (!cl.foreground && daemonize_wait(&ready_fd)) {
		fprintf(stderr, "megafs: cannot fork: %s. Fix: raise the process limit (ulimit -u) or run in the foreground with -f\n",
			strerror(errno));
		status = 1;
		goto out_free;
	}
	status = run(&args, &cl, &cfg,
		     cfg.scheduler == MK_SCHED_PRIORITY ? "priority" : "sharded",
		     &ready_fd);
	tell_parent(&ready_fd, (char)status); /* failed before detaching */
out_free:
	free(cl.mountpoint);
	free_options(&o);
	fuse_opt_free_args(&args);
	return status;
}
