/* SPDX-License-Identifier: MIT */
/*
 * tests/tool_load.c - exactly once under mixed load: one process mounts
 * megafs in-process (fs/ over a runtime it also drives directly), then
 *   8 writer processes go through the mounted files:
 *     0..3 `call` (text command, read the result line: synchronous),
 *     4..5 ring/N text commands over 32 private slots each,
 *     6..7 ring/raw binary writes of 64 slot images over 64 private slots;
 *   4 threads go through the runtime API at the same time:
 *     0..1 mk_runtime_publish over 256 private slots each,
 *     2..3 mk_runtime_publish_images, batches of 64 over 256 slots each.
 * Every command is ATOMIC_ADD 1 to the observable of its actor (12 actors),
 * so at the end each observable must equal its actor's command count, and
 * DONE_COUNT, the ATOMIC_ADD metric and control/done_count read through the
 * mount must all equal the total: a lost or doubled command shows up.
 * A rejected write (EBUSY: the slot is still in flight) published nothing
 * and is retried; the daemon's error log is counted, not printed.
 *
 *   tool_load BACKEND MOUNTDIR [TOTAL]   (TOTAL default 1000000)
 * Exit 0 exact, 1 mismatch or failure, 77 when /dev/fuse is missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/fs.h"
#include "runtime/wake.h"

#define WRITERS 8u
#define THREADS 4u
#define ACTORS (WRITERS + THREADS)
#define RING_SLOTS 4096u
#define TEXT_SLOTS 32u  /* per ring/N writer, from slot 0 up */
#define RAW_SLOTS 64u   /* per ring/raw writer, from slot 64 up */
#define API_SLOTS 256u  /* per API thread, from slot 1024 up */
#define API_BASE 1024u
#define BATCH 64u
#define WAIT_NS 5000000000LL

static uint64_t quota[ACTORS];
static unsigned long rejected; /* daemon log lines (EBUSY retries) */
static struct mk_runtime *rt;

static void count_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	(void)fmt;
	(void)ap;
	if (level <= FUSE_LOG_WARNING)
		__atomic_fetch_add(&rejected, 1, __ATOMIC_RELAXED);
}

static uint32_t obs_word(uint32_t actor)
{
	return MK_CTL_OBSERVABLE_BASE + actor;
}

static int open_in(const char *mnt, const char *name, int flags)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", mnt, name);
	return open(path, flags);
}

/* pwrite, retrying while the target slot is still in flight (EBUSY). */
static int write_retry(int fd, const void *buf, size_t len, off_t off)
{
	for (;;) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n == (ssize_t)len)
			return 0;
		if (n < 0 && errno == EBUSY) {
			sched_yield();
			continue;
		}
		fprintf(stderr, "tool_load: pwrite: %s\n",
			n < 0 ? strerror(errno) : "short");
		return -1;
	}
}

static int writer_call(const char *mnt, uint32_t w, uint64_t n)
{
	char cmd[64], res[512];
	int fd = open_in(mnt, "call", O_RDWR);
	int len = snprintf(cmd, sizeof(cmd), "atomic_add 1 %u\n", obs_word(w));
	uint64_t i;

	if (fd < 0)
		return 1;
	for (i = 0; i < n; i++) {
		if (write(fd, cmd, (size_t)len) != len || read(fd, res, sizeof(res)) <= 0) {
			perror("tool_load: call");
			return 1;
		}
	}
	close(fd);
	return 0;
}

static int writer_text(const char *mnt, uint32_t w, uint64_t n)
{
	int fd[TEXT_SLOTS];
	char cmd[64], name[32];
	int len = snprintf(cmd, sizeof(cmd), "atomic_add 1 %u", obs_word(w));
	uint32_t k, base = (w - 4u) * TEXT_SLOTS;
	uint64_t i;

	for (k = 0; k < TEXT_SLOTS; k++) {
		snprintf(name, sizeof(name), "ring/%u", base + k);
		fd[k] = open_in(mnt, name, O_RDWR);
		if (fd[k] < 0)
			return 1;
	}
	for (i = 0; i < n; i++)
		if (write_retry(fd[i % TEXT_SLOTS], cmd, (size_t)len, 0))
			return 1;
	for (k = 0; k < TEXT_SLOTS; k++)
		close(fd[k]);
	return 0;
}

static void fill_images(struct mk_slot *img, uint32_t n, uint32_t actor)
{
	uint32_t k;

	memset(img, 0, n * sizeof(*img));
	for (k = 0; k < n; k++) {
		img[k].status = MK_SLOT_PUBLISHED;
		img[k].opcode = MK_OP_ATOMIC_ADD;
		img[k].args[0] = 1;
		img[k].args[1] = obs_word(actor);
	}
}

static int writer_raw(const char *mnt, uint32_t w, uint64_t n)
{
	static struct mk_slot img[RAW_SLOTS];
	uint32_t base = 64u + (w - 6u) * RAW_SLOTS;
	int fd = open_in(mnt, "ring/raw", O_RDWR);
	uint64_t sent = 0;

	if (fd < 0)
		return 1;
	fill_images(img, RAW_SLOTS, w);
	while (sent < n) {
		uint64_t k = n - sent < RAW_SLOTS ? n - sent : RAW_SLOTS;

		if (write_retry(fd, img, k * sizeof(*img),
				(off_t)base * MK_SLOT_BYTES))
			return 1;
		sent += k;
	}
	close(fd);
	return 0;
}

/* A writer process: wait for "go" on @go, run, exit 0 when all acked. */
static int writer_main(const char *mnt, uint32_t w, int go)
{
	char c;

	if (read(go, &c, 1) != 1)
		return 1;
	if (w < 4)
		return writer_call(mnt, w, quota[w]);
	if (w < 6)
		return writer_text(mnt, w, quota[w]);
	return writer_raw(mnt, w, quota[w]);
}

static void *api_main(void *arg)
{
	uint32_t t = (uint32_t)(uintptr_t)arg, actor = WRITERS + t;
	uint32_t base = API_BASE + t * API_SLOTS, args[2] = { 1, obs_word(actor) };
	static struct mk_slot img[THREADS][BATCH];
	uint64_t sent = 0, n = quota[actor];
	uint32_t k = 0;

	fill_images(img[t], BATCH, actor);
	while (sent < n) {
		uint32_t m = t < 2 ? 1u : (n - sent < BATCH ? (uint32_t)(n - sent) : BATCH);
		uint32_t s = base + (k % (API_SLOTS / BATCH)) * BATCH;
		int rc;

		if (t < 2) {
			s = base + k % API_SLOTS;
			rc = mk_runtime_publish(rt, s, 0, MK_OP_ATOMIC_ADD, args, 2, NULL);
		} else {
			rc = mk_runtime_publish_images(rt, s, img[t], m, NULL);
		}
		if (rc == -EBUSY) { /* still in flight: wait for its last slot */
			mk_runtime_wait(rt, s + m - 1u, WAIT_NS);
			continue;
		}
		if (rc)
			return (void *)1;
		sent += m;
		k++;
	}
	return NULL;
}

/* Wait (bounded) until DONE_COUNT reaches @want; returns what it saw. */
static uint32_t settle(uint64_t want)
{
	int64_t t0 = mk_now_ns();
	uint32_t done = 0;

	while (mk_now_ns() - t0 < 120000000000LL) {
		uint64_t seen = mk_runtime_progress(rt);

		mk_runtime_read_ctl(rt, MK_CTL_DONE_COUNT, 1, &done);
		if (done >= (uint32_t)want)
			break;
		mk_runtime_wait_progress(rt, seen, 100000000);
	}
	return done;
}

static int read_file_u64(const char *mnt, const char *name, uint64_t *v)
{
	char buf[64];
	int fd = open_in(mnt, name, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	*v = strtoull(buf, NULL, 10);
	return 0;
}

/* Compare every counter with what was sent; 0 when all exact. */
static int verify(const char *mnt, uint64_t total)
{
	uint32_t ctl[ACTORS], done = settle(total), metric = 0;
	uint64_t file_done = 0;
	int bad = 0;
	uint32_t a;

	mk_runtime_read_ctl(rt, MK_CTL_OBSERVABLE_BASE, ACTORS, ctl);
	mk_runtime_read_ctl(rt, MK_CTL_METRICS_BASE + MK_OP_ATOMIC_ADD, 1, &metric);
	for (a = 0; a < ACTORS; a++) {
		if (ctl[a] != (uint32_t)quota[a]) {
			printf("MISMATCH actor %u: observable %u, sent %llu\n", a,
			       ctl[a], (unsigned long long)quota[a]);
			bad = 1;
		}
	}
	if (read_file_u64(mnt, "control/done_count", &file_done))
		bad = 1;
	printf("load: done_count %u (file %llu), atomic_add metric %u, sent %llu\n",
	       done, (unsigned long long)file_done, metric,
	       (unsigned long long)total);
	if (done != (uint32_t)total || file_done != total ||
	    metric != (uint32_t)total)
		bad = 1;
	return bad;
}

static int spawn_writers(const char *mnt, pid_t *pid, int *go_w)
{
	int go[2];
	uint32_t w;

	if (pipe(go))
		return -1;
	for (w = 0; w < WRITERS; w++) {
		pid[w] = fork();
		if (pid[w] < 0)
			return -1;
		if (pid[w] == 0) {
			close(go[1]);
			_exit(writer_main(mnt, w, go[0]));
		}
	}
	close(go[0]);
	*go_w = go[1];
	return 0;
}

static void *loop_main(void *arg)
{
	fuse_session_loop_mt(arg, NULL);
	return NULL;
}

/* Run the writers and the API threads against the mount; 0 when exact. */
static int drive(const char *mnt, pid_t *pid, int go, uint64_t total)
{
	pthread_t th[THREADS];
	int64_t t0 = mk_now_ns();
	int bad = 0, st;
	uint32_t t, w;
	void *ret;

	if (write(go, "gggggggg", WRITERS) != WRITERS)
		bad = 1;
	close(go);
	for (t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, api_main, (void *)(uintptr_t)t);
	for (t = 0; t < THREADS; t++) {
		pthread_join(th[t], &ret);
		bad |= ret != NULL;
	}
	for (w = 0; w < WRITERS; w++) {
		if (waitpid(pid[w], &st, 0) != pid[w] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0) {
			printf("writer %u failed\n", w);
			bad = 1;
		}
	}
	bad |= verify(mnt, total);
	printf("load: %llu commands (8 writer processes, 4 API threads) in %.2f s, %lu rejected writes retried: %s\n",
	       (unsigned long long)total, (double)(mk_now_ns() - t0) / 1e9,
	       __atomic_load_n(&rejected, __ATOMIC_RELAXED),
	       bad ? "MISMATCH" : "exact");
	return bad;
}

static void unmount_like_a_user(const char *mnt)
{
	char cmd[600];

	if (umount2(mnt, 0) == 0)
		return;
	snprintf(cmd, sizeof(cmd), "fusermount3 -u '%s'", mnt);
	if (system(cmd) != 0)
		fprintf(stderr, "tool_load: cannot unmount %s\n", mnt);
}

static int setup_rt(const char *backend, struct mk_err *err)
{
	struct mk_config cfg;

	mk_config_init(&cfg);
	cfg.backend = backend;
	cfg.slots = RING_SLOTS;
	return mk_runtime_create(&cfg, &rt, err);
}

int main(int argc, char **argv)
{
	char *fargv[] = { argv[0], "-odefault_permissions,fsname=megafs", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(2, fargv);
	uint64_t total = argc > 3 ? strtoull(argv[3], NULL, 10) : 1000000;
	struct fuse_session *se = NULL;
	pid_t pid[WRITERS];
	struct mk_err err;
	struct mk_fs fs;
	pthread_t loop;
	int go = -1, bad = 1;
	uint32_t a;

	if (argc < 3) {
		fprintf(stderr, "usage: tool_load BACKEND MOUNTDIR [TOTAL]\n");
		return 1;
	}
	if (access("/dev/fuse", R_OK | W_OK))
		return 77;
	for (a = 0; a < ACTORS; a++) /* half through files, half the API */
		quota[a] = a < WRITERS ? total / 2 / WRITERS
				       : (total - total / 2) / THREADS;
	quota[0] += total / 2 % WRITERS;
	quota[WRITERS] += (total - total / 2) % THREADS;
	memset(&fs, 0, sizeof(fs));
	fuse_set_log_func(count_log);
	if (spawn_writers(argv[2], pid, &go))
		return 1;
	if (setup_rt(argv[1], &err)) {
		fprintf(stderr, "tool_load: %s\n", mk_err_msg(&err));
		goto out_kill;
	}
	se = fuse_session_new(&args, mk_fs_ops(), sizeof(struct fuse_lowlevel_ops), &fs);
	if (!se) {
		fprintf(stderr, "tool_load: fuse_session_new failed\n");
		mk_runtime_destroy(rt);
		goto out_kill;
	}
	if (mk_fs_up(&fs, se, rt, argv[2], "sharded", &err)) {
		fprintf(stderr, "tool_load: %s\n", mk_err_msg(&err));
		goto out_destroy;
	}
	if (pthread_create(&loop, NULL, loop_main, se) == 0) {
		bad = drive(argv[2], pid, go, total);
		go = -1;
		unmount_like_a_user(argv[2]); /* the loop ends on ENODEV */
		pthread_join(loop, NULL);
		mk_fs_down(&fs);
	} else {
		mk_fs_down(&fs);
	}
out_destroy:
	fuse_session_destroy(se);
	mk_fs_fini(&fs);
	mk_runtime_destroy(rt);
out_kill:
	if (go >= 0) { /* writers never started: let them exit */
		close(go);
		for (a = 0; a < WRITERS; a++)
			waitpid(pid[a], NULL, 0);
	}
	fuse_opt_free_args(&args);
	return bad;
}
