/* SPDX-License-Identifier: MIT */
/*
 * tests/bench_fs.c - file-level benchmarks of a mounted megafs, each beside
 * a null FUSE server (tests/tool_nullfs.c) mounted and measured in the same
 * run, ratio printed:
 *   1. round trip on `call`: 64-byte binary write, read returns after DONE;
 *   2. round trip on a slot file: 64-byte write to ring/0, read until DONE;
 *      peer for both: a 64-byte pwrite + 64-byte pread on the null file;
 *   3. batched publish through ring/raw with 4 KiB, 64 KiB and 1 MiB
 *      pwrites, to completion (control/done_count), in slots/s;
 *      peer: pwrites of the same size to the null file;
 *   4. the host half of 3 alone: with the kernel stopped (control/shutdown)
 *      one lap of the ring is written with 1 MiB pwrites and timed, then
 *      the kernel restarts and drains it untimed; this is the ceiling the
 *      file path puts on 3 whatever the backend drains;
 *   5. 3 with 1 MiB pwrites from 2 and 4 writer threads at once, each on
 *      its own 1 MiB parts of the ring (a script running `dd`s side by
 *      side); peer: the same threads writing the null file.
 * Needs /dev/fuse and MEGAFS_BIN / MK_BUILD (scripts/bench.sh sets them).
 * Usage: bench_fs [backend] [iterations]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/abi.h"
#include "runtime/wake.h"

/*
 * A 4 MiB ring: four laps of the largest write, so the kernel drains one
 * region while the next write fills another (a ring of exactly one write
 * serialises FUSE copy and kernel drain, and retries whole writes on EBUSY).
 */
#define RAW_SLOTS 65536u

struct mount {
	char dir[64];
	pid_t pid;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double p50_us(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_i64);
	return (double)v[n / 2] / 1000.0;
}

static int start_mount(struct mount *m, const char *bin, const char *opts,
		       const char *probe)
{
	char path[128];
	int i;

	snprintf(m->dir, sizeof(m->dir), "/tmp/mk-bench.XXXXXX");
	if (!mkdtemp(m->dir))
		return -errno;
	m->pid = fork();
	if (m->pid == 0) {
		if (opts)
			execl(bin, bin, "-f", "-o", opts, m->dir, (char *)NULL);
		else
			execl(bin, bin, "-f", m->dir, (char *)NULL);
		_exit(127);
	}
	snprintf(path, sizeof(path), "%s/%s", m->dir, probe);
	for (i = 0; i < 200; i++) { /* readiness: the probe file appears */
		if (access(path, F_OK) == 0)
			return 0;
		usleep(25000);
	}
	return -ETIMEDOUT;
}

static void stop_mount(struct mount *m)
{
	if (m->pid > 0) {
		umount2(m->dir, MNT_DETACH);
		kill(m->pid, SIGTERM);
		waitpid(m->pid, NULL, 0);
	}
	rmdir(m->dir);
}

static int openat_mount(struct mount *m, const char *name, int flags)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", m->dir, name);
	return open(path, flags);
}

static double null_roundtrip(struct mount *m, int n)
{
	int64_t *lat = calloc((size_t)n, sizeof(*lat));
	char buf[64] = { 0 };
	int fd = openat_mount(m, "null", O_RDWR), i;
	double r;

	for (i = 0; i < n; i++) {
		int64_t t0 = mk_now_ns();

		if (pwrite(fd, buf, 64, 0) != 64 || pread(fd, buf, 64, 0) != 64)
			break;
		lat[i] = mk_now_ns() - t0;
	}
	close(fd);
	r = p50_us(lat, i);
	free(lat);
	return r;
}

static double call_roundtrip(struct mount *m, int n)
{
	int64_t *lat = calloc((size_t)n, sizeof(*lat));
	struct mk_slot img;
	char out[512];
	int fd = openat_mount(m, "call", O_RDWR), i;
	double r;

	memset(&img, 0, sizeof(img));
	img.opcode = MK_OP_NOP;
	for (i = 0; i < n; i++) {
		int64_t t0 = mk_now_ns();

		if (write(fd, &img, 64) != 64 || read(fd, out, sizeof(out)) <= 0)
			break;
		lat[i] = mk_now_ns() - t0;
	}
	close(fd);
	r = i ? p50_us(lat, i) : -1;
	free(lat);
	return r;
}

static double slot_roundtrip(struct mount *m, int n)
{
	int64_t *lat = calloc((size_t)n, sizeof(*lat));
	struct mk_slot img;
	char out[512];
	int fd = openat_mount(m, "ring/0", O_RDWR), i;
	double r;

	memset(&img, 0, sizeof(img));
	img.opcode = MK_OP_NOP;
	for (i = 0; i < n; i++) {
		int64_t t0 = mk_now_ns();

		if (pwrite(fd, &img, 64, 0) != 64)
			break;
		do { /* the slot line starts with its status word: 3 = DONE */
			if (pread(fd, out, sizeof(out), 0) <= 0)
				goto out;
		} while (out[0] != '3');
		lat[i] = mk_now_ns() - t0;
	}
out:
	close(fd);
	r = i ? p50_us(lat, i) : -1;
	free(lat);
	return r;
}

static uint64_t read_done(struct mount *m)
{
	char buf[64] = { 0 };
	int fd = openat_mount(m, "control/done_count", O_RDONLY);

	if (fd < 0 || pread(fd, buf, sizeof(buf) - 1, 0) <= 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	close(fd);
	return strtoull(buf, NULL, 10);
}

#define GIVE_UP_NS 60000000000LL /* a run that takes longer has failed */
#define PAR_MAX 4u                 /* writer threads of par_rate() */

/*
 * One writer of @bytes pwrites to @file: writer @id of @writers writes the
 * ring's parts id, id + writers, ... (a part is @bytes; the ring holds
 * RAW_SLOTS * 64 / @bytes of them), retrying EBUSY until @deadline.
 */
struct writer {
	struct mount *m;
	const char *file;
	size_t bytes;
	uint32_t id, writers;
	uint64_t goal, sent; /* slots */
	int64_t deadline;
	int fd;
	void *buf;
	int64_t write_ns; /* in pwrite()s that published */
	int64_t busy_ns;  /* in pwrite()s that failed EBUSY */
	uint64_t busy;    /* EBUSY retries */
};

/* Opens @w->file and zeroes a page-aligned buffer: 0 or -1. */
static int writer_open(struct writer *w)
{
	/*
	 * Page-aligned, like O_DIRECT: the kernel splits a direct_io write
	 * that spans more than max_pages (256) pages, and an unaligned 1 MiB
	 * buffer spans 257, which ring/raw would reject as unaligned.
	 */
	w->buf = NULL;
	w->fd = openat_mount(w->m, w->file, O_RDWR);
	if (w->fd < 0 || posix_memalign(&w->buf, 4096, w->bytes)) {
		if (w->fd >= 0)
			close(w->fd);
		w->buf = NULL;
		return -1;
	}
	memset(w->buf, 0, w->bytes);
	return 0;
}

static void writer_close(struct writer *w)
{
	close(w->fd);
	free(w->buf);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t parts = (uint64_t)RAW_SLOTS * 64 / w->bytes, k = w->id;

	while (w->sent < w->goal) {
		off_t off = (off_t)((k % parts) * w->bytes);
		int64_t w0 = mk_now_ns();

		if (pwrite(w->fd, w->buf, w->bytes, off) != (ssize_t)w->bytes) {
			/* EBUSY: this part's previous write is still running. */
			w->busy_ns += mk_now_ns() - w0;
			w->busy++;
			if (errno == EBUSY && mk_now_ns() < w->deadline)
				continue;
			break;
		}
		w->write_ns += mk_now_ns() - w0;
		w->sent += w->bytes / 64;
		k += w->writers;
	}
	return NULL;
}

/* Where the time of raw_rate() went: the writes, EBUSY retries, the drain. */
struct raw_diag {
	int64_t write_ns; /* in pwrite()s that published */
	int64_t busy_ns;  /* in pwrite()s that failed EBUSY */
	int64_t drain_ns; /* after the last write, until DONE_COUNT caught up */
	uint64_t busy;    /* EBUSY retries */
};

/* slots/s through ring/raw with @bytes per pwrite, to completion. */
static double raw_rate(struct mount *m, size_t bytes, uint64_t total_slots,
		       struct raw_diag *d)
{
	struct writer w = { .m = m, .file = "ring/raw", .bytes = bytes,
			    .writers = 1, .goal = total_slots };
	uint64_t base = read_done(m);
	int64_t t0, t1;

	memset(d, 0, sizeof(*d));
	if (writer_open(&w))
		return 0;
	t0 = mk_now_ns();
	w.deadline = t0 + GIVE_UP_NS;
	writer_main(&w);
	t1 = mk_now_ns();
	while (read_done(m) - base < w.sent && mk_now_ns() - t0 < GIVE_UP_NS)
		;
	d->drain_ns = mk_now_ns() - t1;
	t0 = mk_now_ns() - t0;
	d->write_ns = w.write_ns;
	d->busy_ns = w.busy_ns;
	d->busy = w.busy;
	writer_close(&w);
	return (double)w.sent / ((double)t0 / 1e9);
}

/*
 * slots/s of @writers (<= PAR_MAX) threads each sending @total_slots /
 * @writers in @bytes pwrites to @file at once; for ring/raw (@drain), to
 * completion. *@busy: the writers' EBUSY retries.
 */
static double par_rate(struct mount *m, const char *file, int drain,
		       size_t bytes, uint64_t total_slots, uint32_t writers,
		       uint64_t *busy)
{
	struct writer w[PAR_MAX];
	pthread_t tid[PAR_MAX];
	uint64_t base = drain ? read_done(m) : 0, sent = 0;
	uint32_t i, opened = 0, started = 0;
	int64_t t0;

	*busy = 0;
	for (i = 0; i < writers && i < PAR_MAX; i++, opened++) {
		w[i] = (struct writer){ .m = m, .file = file, .bytes = bytes,
				       .id = i, .writers = writers,
				       .goal = total_slots / writers };
		if (writer_open(&w[i]))
			break;
	}
	t0 = mk_now_ns();
	for (i = 0; i < opened; i++) {
		w[i].deadline = t0 + GIVE_UP_NS;
		if (pthread_create(&tid[i], NULL, writer_main, &w[i]))
			break;
		started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(tid[i], NULL);
		sent += w[i].sent;
		*busy += w[i].busy;
	}
	while (drain && read_done(m) - base < sent &&
	       mk_now_ns() - t0 < GIVE_UP_NS)
		;
	t0 = mk_now_ns() - t0;
	for (i = 0; i < opened; i++)
		writer_close(&w[i]);
	return started == writers ? (double)sent / ((double)t0 / 1e9) : 0;
}

static int write_file_text(struct mount *m, const char *name, const char *text)
{
	int fd = openat_mount(m, name, O_WRONLY), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		rc = -errno;
	close(fd);
	return rc;
}

/*
 * slots/s of ring/raw's host half: FUSE delivers @bytes-sized pwrites and
 * the runtime publishes them into a stopped kernel (nothing drains, so
 * nothing waits), one ring lap per round, best of @rounds.
 */
static double raw_host_rate(struct mount *m, size_t bytes, int rounds)
{
	uint64_t lap = (uint64_t)RAW_SLOTS * 64, off, base;
	struct mk_slot *img = NULL;
	int fd = openat_mount(m, "ring/raw", O_RDWR), r;
	double best = 0;

	if (fd < 0 || posix_memalign((void **)&img, 4096, bytes))
		goto out;
	memset(img, 0, bytes);
	for (r = 0; r < rounds; r++) {
		int64_t t0;

		base = read_done(m);
		if (write_file_text(m, "control/shutdown", "1"))
			break;
		t0 = mk_now_ns();
		for (off = 0; off < lap; off += bytes)
			if (pwrite(fd, img, bytes, (off_t)off) != (ssize_t)bytes)
				break;
		t0 = mk_now_ns() - t0;
		if (write_file_text(m, "control/shutdown", "0") || off < lap)
			break;
		if ((double)RAW_SLOTS / ((double)t0 / 1e9) > best)
			best = (double)RAW_SLOTS / ((double)t0 / 1e9);
		while (read_done(m) - base < RAW_SLOTS)
			usleep(1000);
	}
out:
	if (fd >= 0)
		close(fd);
	free(img);
	return best;
}

static double null_write_rate(struct mount *m, size_t bytes, uint64_t total_slots)
{
	char *buf = NULL;
	int fd = openat_mount(m, "null", O_RDWR);
	uint64_t sent = 0;
	int64_t t0;

	if (posix_memalign((void **)&buf, 4096, bytes))
		return 0;
	memset(buf, 0, bytes);
	t0 = mk_now_ns();
	while (sent < total_slots && pwrite(fd, buf, bytes, 0) == (ssize_t)bytes)
		sent += bytes / 64;
	t0 = mk_now_ns() - t0;
	close(fd);
	free(buf);
	return (double)sent / ((double)t0 / 1e9);
}

int main(int argc, char **argv)
{
	const char *backend = argc > 1 ? argv[1] : "cpu";
	int n = argc > 2 ? atoi(argv[2]) : 5000;
	const char *build = getenv("MK_BUILD");
	char megafs[256], nullfs[256], opts[128];
	struct mount mk = { .pid = -1 }, nl = { .pid = -1 };
	size_t sizes[3] = { 4096, 65536, 1048576 };
	struct raw_diag d;
	double a, b, c;
	int i;

	if (access("/dev/fuse", R_OK | W_OK) != 0) {
		printf("skipped: /dev/fuse is not usable\n");
		return 0;
	}
	snprintf(megafs, sizeof(megafs), "%s/megafs", build ? build : "build/release");
	snprintf(nullfs, sizeof(nullfs), "%s/tests/tool_nullfs",
		 build ? build : "build/release");
	snprintf(opts, sizeof(opts), "backend=%s,slots=%u", backend, RAW_SLOTS);
	if (start_mount(&mk, megafs, opts, "README") ||
	    start_mount(&nl, nullfs, NULL, "null")) {
		printf("bench_fs: cannot mount megafs or nullfs\n");
		stop_mount(&mk);
		stop_mount(&nl);
		return 1;
	}
	printf("bench_fs: backend=%s n=%d (p50 of per-op wall time)\n", backend, n);
	a = null_roundtrip(&nl, n);
	b = call_roundtrip(&mk, n);
	c = slot_roundtrip(&mk, n);
	printf("%-40s %8.2f us\n", "peer: null FUSE 64B pwrite+pread", a);
	printf("%-40s %8.2f us  ratio %.2fx of null\n", "call: 64B write + read (DONE)", b, b / a);
	printf("%-40s %8.2f us  ratio %.2fx of null\n", "ring/0: 64B write + read to DONE", c, c / a);
	for (i = 0; i < 3; i++) {
		uint64_t total = sizes[i] >= 65536 ? 2000000 : 400000;

		a = null_write_rate(&nl, sizes[i], total);
		b = raw_rate(&mk, sizes[i], total, &d);
		printf("ring/raw %7zu B writes: %8.2f M slots/s   null FUSE same writes: %8.2f M slots/s  ratio %.2f\n",
		       sizes[i], b / 1e6, a / 1e6, b / a);
		printf("    time in writes %.1f ms, EBUSY retries %llu (%.1f ms), drain after the last write %.2f ms\n",
		       (double)d.write_ns / 1e6, (unsigned long long)d.busy,
		       (double)d.busy_ns / 1e6, (double)d.drain_ns / 1e6);
	}
	for (i = 2; i <= 4; i += 2) {
		uint64_t busy;

		a = par_rate(&nl, "null", 0, sizes[2], 4000000, (uint32_t)i,
			     &busy);
		b = par_rate(&mk, "ring/raw", 1, sizes[2], 4000000, (uint32_t)i,
			     &busy);
		printf("ring/raw 1 MiB writes from %d writers: %8.2f M slots/s   null FUSE same writers: %8.2f M slots/s  ratio %.2f  (EBUSY retries %llu)\n",
		       i, b / 1e6, a / 1e6, b / a, (unsigned long long)busy);
	}
	a = null_write_rate(&nl, sizes[2], 2000000);
	b = raw_host_rate(&mk, sizes[2], 8);
	printf("ring/raw host half, 1 MiB writes into a stopped kernel: %8.2f M slots/s   null FUSE: %8.2f M slots/s  ratio %.2f\n",
	       b / 1e6, a / 1e6, b / a);
	stop_mount(&mk);
	stop_mount(&nl);
	return 0;
}
