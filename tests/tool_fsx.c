/* SPDX-License-Identifier: MIT */
/*
 * tests/tool_fsx.c - fsx-style random exerciser of a mounted megafs with a
 * shadow model. P processes each own a band of slots, observables and a
 * tenant, and run seeded random operations through ring/N (text and
 * binary), ring/raw batches, call, observables/N, tenant masks and (process
 * 0 only) control/shutdown; after every operation the touched observables
 * are compared with a model built on the reference semantics, and at the
 * end the global counters (done_count, metrics) must equal the sum of what
 * the processes executed. On divergence it prints the seed, the process,
 * the operation number and the last operations (the shortest trace it
 * has), and exits 1.
 *   tool_fsx MOUNTPOINT [total_ops] [seed] [procs]
 * The mount must have slots >= 16*procs, observables >= 32*procs and the
 * tenants 1..procs disabled or enabled (fsx sets their masks itself).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/abi.h"

#define SLOTS_PER 16u
#define OBS_PER 32u
#define TRACE 16
#define MAXP 16

struct shared {
	uint64_t done[MAXP];          /* slots each process saw complete */
	uint64_t metric[MAXP][8];     /* executions per builtin opcode */
	int failed;
};

struct proc {
	const char *mnt;
	uint32_t id, slot0, obs0, tenant;
	uint32_t model[OBS_PER];
	uint64_t rng, op;
	char trace[TRACE][160];
	struct shared *sh;
};

static uint32_t rnd(struct proc *p, uint32_t n)
{
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return n ? (uint32_t)(p->rng % n) : 0;
}

static void note(struct proc *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->trace[p->op % TRACE], sizeof(p->trace[0]), fmt, ap);
	va_end(ap);
}

static void die(struct proc *p, const char *fmt, ...)
{
	uint64_t i;
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fsx: proc %u op %" PRIu64 ": ", p->id, p->op);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nfsx: last operations of proc %u (oldest first):\n", p->id);
	for (i = p->op + 1 > TRACE ? p->op + 1 - TRACE : 0; i <= p->op; i++)
		fprintf(stderr, "  #%" PRIu64 " %s\n", i, p->trace[i % TRACE]);
	p->sh->failed = 1;
	exit(1);
}

/*
 * Write a file. EBUSY is the product's answer when another process's
 * `call` channel has reserved one of our slots for a moment: nothing was
 * changed, so retry (bounded).
 */
static int put_tries(struct proc *p, const char *rel, const void *buf, size_t n,
		     off_t off, int max_tries)
{
	char path[256];
	int fd, rc, tries = 0;

	snprintf(path, sizeof(path), "%s/%s", p->mnt, rel);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		die(p, "open %s: %s", rel, strerror(errno));
	do {
		rc = pwrite(fd, buf, n, off) == (ssize_t)n ? 0 : -errno;
		if (rc == -EBUSY)
			usleep(50);
	} while (rc == -EBUSY && ++tries < max_tries);
	close(fd);
	return rc;
}

static int put(struct proc *p, const char *rel, const void *buf, size_t n, off_t off)
{
	return put_tries(p, rel, buf, n, off, 100000);
}

static void get(struct proc *p, const char *rel, char *buf, size_t cap)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", p->mnt, rel);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die(p, "open %s: %s", rel, strerror(errno));
	n = pread(fd, buf, cap - 1, 0);
	close(fd);
	if (n < 0)
		die(p, "read %s: %s", rel, strerror(errno));
	buf[n] = '\0';
}

static uint32_t slot_status(struct proc *p, uint32_t slot)
{
	char rel[32], buf[512];

	snprintf(rel, sizeof(rel), "ring/%u", slot);
	get(p, rel, buf, sizeof(buf));
	return (uint32_t)strtoul(buf, NULL, 10);
}

static void wait_done(struct proc *p, uint32_t slot)
{
	int64_t i;

	for (i = 0; slot_status(p, slot) != MK_SLOT_DONE; i++) {
		if (i > 200000)
			die(p, "slot %u never completed", slot);
		if (i > 100)
			usleep(100);
	}
}

static uint32_t obs_file(struct proc *p, uint32_t k)
{
	char rel[32], buf[64];

	snprintf(rel, sizeof(rel), "observables/%u", p->obs0 + k);
	get(p, rel, buf, sizeof(buf));
	return (uint32_t)strtoul(buf, NULL, 10);
}

static void check_obs(struct proc *p, uint32_t k)
{
	uint32_t v = obs_file(p, k);

	if (v != p->model[k])
		die(p, "observable %u is %u, model says %u", p->obs0 + k, v,
		    p->model[k]);
}

/* One random builtin over the process's own observables; model applied. */
static void make_cmd(struct proc *p, char *cmd, size_t cap, uint32_t *op,
		     uint32_t *touch)
{
	uint32_t a = rnd(p, OBS_PER), b = rnd(p, OBS_PER), v = rnd(p, 4) ? rnd(p, 1000)
								     : (uint32_t)p->rng;
	uint32_t base = MK_CTL_OBSERVABLE_BASE + p->obs0, n, i, old;

	*op = rnd(p, 6);
	*touch = a;
	switch (*op) {
	case 0: /* NOP */
		snprintf(cmd, cap, "nop");
		break;
	case 1:
		snprintf(cmd, cap, "store_u32 %u %u", v, base + a);
		p->model[a] = v;
		break;
	case 2:
		snprintf(cmd, cap, "atomic_add 0x%x %u", v, base + a);
		p->model[a] += v;
		break;
	case 3: /* LOAD_U32: obs[arg1] := ctl[arg0] */
		snprintf(cmd, cap, "load_u32 %u %u", base + b, p->obs0 + a);
		p->model[a] = p->model[b];
		break;
	case 4: /* COMPARE_SWAP writes old to 160 + arg0: use a word whose
		 * result slot is its own observable pair: target = obs a is at
		 * word base+a; its result lands at 160+base+a (beyond our band),
		 * so CAS a word of the mask table region instead: our tenant. */
		old = rnd(p, 2) ? p->model[a] : p->model[a] + 1;
		snprintf(cmd, cap, "compare_swap %u %u %u", base + a, old, v);
		if (old == p->model[a])
			p->model[a] = v;
		*op = 4;
		break;
	default: /* MEMCPY forward within the band */
		n = 1 + rnd(p, 4);
		a = rnd(p, OBS_PER - n);
		b = rnd(p, OBS_PER - n);
		snprintf(cmd, cap, "memcpy %u %u %u", base + a, base + b, n);
		for (i = 0; i < n; i++)
			p->model[b + i] = p->model[a + i];
		*touch = b;
		break;
	}
}

static void count(struct proc *p, uint32_t op)
{
	p->sh->done[p->id]++;
	p->sh->metric[p->id][op]++;
}

static void op_ring_text(struct proc *p)
{
	uint32_t slot = p->slot0 + rnd(p, SLOTS_PER), op, touch;
	char cmd[128], line[160], rel[32];
	int rc;

	make_cmd(p, cmd, sizeof(cmd), &op, &touch);
	snprintf(line, sizeof(line), "%s tenant=%u\n", cmd, p->tenant);
	note(p, "ring/%u <- %s", slot, cmd);
	snprintf(rel, sizeof(rel), "ring/%u", slot);
	rc = put(p, rel, line, strlen(line), 0);
	if (rc)
		die(p, "write ring/%u: %s", slot, strerror(-rc));
	wait_done(p, slot);
	count(p, op);
	check_obs(p, touch);
}

static void op_call(struct proc *p)
{
	uint32_t op, touch, i;
	char cmd[128], path[256], buf[512];
	ssize_t n;
	int fd;

	make_cmd(p, cmd, sizeof(cmd), &op, &touch);
	note(p, "call <- %s", cmd);
	snprintf(path, sizeof(path), "%s/call", p->mnt);
	fd = open(path, O_RDWR);
	if (fd < 0 || write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		die(p, "call write: %s", strerror(errno));
	for (i = 0; (n = read(fd, buf, sizeof(buf) - 1)) < 0; i++) {
		/* The kernel may be stopped by proc 0: the command waits. */
		if (errno != ESHUTDOWN || i > 100000)
			die(p, "call read: %s", strerror(errno));
		usleep(200);
	}
	buf[n] = '\0';
	close(fd);
	if (strtoul(buf, NULL, 10) != MK_SLOT_DONE)
		die(p, "call returned a slot that is not DONE: %s", buf);
	count(p, op);
	check_obs(p, touch);
}

/* ring/raw: 1..4 ATOMIC_ADDs (commutative, any order) in one pwrite. */
static void op_raw(struct proc *p)
{
	struct mk_slot img[4];
	uint32_t k = 1 + rnd(p, 4), first = p->slot0 + rnd(p, SLOTS_PER - k + 1), i;
	int rc;

	memset(img, 0, sizeof(img));
	for (i = 0; i < k; i++) {
		uint32_t a = rnd(p, OBS_PER), v = rnd(p, 100000);

		img[i].status = 1;
		img[i].opcode = MK_OP_ATOMIC_ADD;
		img[i].tenant = p->tenant;
		img[i].args[0] = v;
		img[i].args[1] = MK_CTL_OBSERVABLE_BASE + p->obs0 + a;
		p->model[a] += v;
	}
	note(p, "ring/raw <- %u ATOMIC_ADD images at slot %u", k, first);
	rc = put(p, "ring/raw", img, k * 64u, (off_t)first * 64);
	if (rc)
		die(p, "ring/raw: %s", strerror(-rc));
	for (i = 0; i < k; i++) {
		wait_done(p, first + i);
		count(p, MK_OP_ATOMIC_ADD);
	}
	for (i = 0; i < k; i++) /* the model holds all k adds */
		check_obs(p, img[i].args[1] - MK_CTL_OBSERVABLE_BASE - p->obs0);
}

static void op_obs_write(struct proc *p)
{
	uint32_t a = rnd(p, OBS_PER), v = (uint32_t)p->rng;
	char rel[32], val[32];
	int rc;

	note(p, "observables/%u <- %u", p->obs0 + a, v);
	snprintf(rel, sizeof(rel), "observables/%u", p->obs0 + a);
	snprintf(val, sizeof(val), "%u\n", v);
	rc = put(p, rel, val, strlen(val), 0);
	if (rc)
		die(p, "write observable: %s", strerror(-rc));
	p->model[a] = v;
	check_obs(p, a);
}

static void set_mask(struct proc *p, uint32_t v)
{
	char rel[64], val[16];
	int rc;

	snprintf(rel, sizeof(rel), "control/tenants/%u/mask", p->tenant);
	snprintf(val, sizeof(val), "%u", v);
	rc = put(p, rel, val, strlen(val), 0);
	if (rc)
		die(p, "write %s: %s", rel, strerror(-rc));
}

/* Mask 0: the slot stays PUBLISHED; enabling the tenant runs it. */
static void op_tenant(struct proc *p)
{
	uint32_t slot = p->slot0 + rnd(p, SLOTS_PER), a = rnd(p, OBS_PER);
	char line[96], rel[32];
	int i;

	note(p, "tenant %u masked, atomic_add 1 obs %u via ring/%u, unmask",
	     p->tenant, p->obs0 + a, slot);
	set_mask(p, 0);
	snprintf(line, sizeof(line), "atomic_add 1 %u tenant=%u",
		 MK_CTL_OBSERVABLE_BASE + p->obs0 + a, p->tenant);
	snprintf(rel, sizeof(rel), "ring/%u", slot);
	if (put(p, rel, line, strlen(line), 0))
		die(p, "write ring/%u failed", slot);
	for (i = 0; i < 3; i++)
		if (slot_status(p, slot) != MK_SLOT_PUBLISHED)
			die(p, "slot %u of a disabled tenant left PUBLISHED", slot);
	p->model[a] += 1;
	set_mask(p, 1);
	wait_done(p, slot);
	count(p, MK_OP_ATOMIC_ADD);
	check_obs(p, a);
}

/* Stop the kernel, publish (it must stay PUBLISHED), restart, check. */
static void op_shutdown(struct proc *p)
{
	uint32_t slot = p->slot0 + rnd(p, SLOTS_PER), op, touch;
	char cmd[128], rel[32];
	int i;

	make_cmd(p, cmd, sizeof(cmd), &op, &touch);
	note(p, "control/shutdown <- 1; ring/%u <- %s; control/shutdown <- 0",
	     slot, cmd);
	if (put(p, "control/shutdown", "1", 1, 0))
		die(p, "control/shutdown 1 failed");
	/*
	 * While stopped, another process's call may hold one of our slots
	 * until the restart: try each of our slots once, else skip.
	 */
	for (i = 0; i < (int)SLOTS_PER; i++) {
		slot = p->slot0 + (slot - p->slot0 + 1) % SLOTS_PER;
		snprintf(rel, sizeof(rel), "ring/%u", slot);
		if (put_tries(p, rel, cmd, strlen(cmd), 0, 1) == 0)
			break;
	}
	if (i == (int)SLOTS_PER) {
		put(p, "control/shutdown", "0", 1, 0);
		die(p, "every slot of the band was busy while stopped");
	}
	for (i = 0; i < 3; i++)
		if (slot_status(p, slot) != MK_SLOT_PUBLISHED)
			die(p, "slot %u ran while the kernel was stopped", slot);
	if (put(p, "control/shutdown", "0", 1, 0))
		die(p, "control/shutdown 0 failed");
	wait_done(p, slot);
	count(p, op);
	check_obs(p, touch);
}

static void run_proc(struct proc *p, uint64_t ops)
{
	uint32_t k;

	set_mask(p, 1);
	for (k = 0; k < OBS_PER; k++) { /* start from a known band */
		p->op = 0;
		p->model[k] = obs_file(p, k);
	}
	for (p->op = 1; p->op <= ops; p->op++) {
		uint32_t r = rnd(p, 100);

		if (r < 40)
			op_ring_text(p);
		else if (r < 65)
			op_call(p);
		else if (r < 80)
			op_raw(p);
		else if (r < 90)
			op_obs_write(p);
		else if (r < 99 || p->id != 0)
			op_tenant(p);
		else
			op_shutdown(p);
		if (p->op % 4096 == 0)
			for (k = 0; k < OBS_PER; k++)
				check_obs(p, k);
	}
}

static const char *const metric_names[6] = { "nop", "store_u32", "atomic_add",
					      "load_u32", "compare_swap", "memcpy" };

/* Read "name value" from control/metrics (done_count too). */
static uint64_t metric(const char *mnt, const char *name)
{
	char path[256], line[128];
	uint64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/control/metrics", mnt);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(name);

		if (strncmp(line, name, n) == 0 && line[n] == ' ')
			v = strtoull(line + n + 1, NULL, 10);
	}
	fclose(f);
	return v;
}

/* Global counters equal the sum of what every process executed. */
static int check_totals(const char *mnt, const struct shared *sh, uint32_t procs,
			const uint64_t *base)
{
	uint64_t done = 0, m[6] = { 0 };
	uint32_t i, k;
	int bad = 0;

	for (i = 0; i < procs; i++) {
		done += sh->done[i];
		for (k = 0; k < 6; k++)
			m[k] += sh->metric[i][k];
	}
	/* MK_FSX_SHARED=1: other traffic (stream scans) also completes slots. */
	if (!getenv("MK_FSX_SHARED") && metric(mnt, "done_count") - base[6] != done) {
		fprintf(stderr, "fsx: done_count moved by %" PRIu64 ", expected %" PRIu64 "\n",
			metric(mnt, "done_count") - base[6], done);
		bad = 1;
	}
	for (k = 0; k < 6; k++) {
		uint64_t got = metric(mnt, metric_names[k]) - base[k];

		if (got != m[k]) {
			fprintf(stderr, "fsx: metric %s moved by %" PRIu64 ", expected %" PRIu64 "\n",
				metric_names[k], got, m[k]);
			bad = 1;
		}
	}
	if (!bad)
		printf("fsx: ok: %" PRIu64 " slots completed, counters exact\n", done);
	return bad;
}

int main(int argc, char **argv)
{
	const char *mnt = argc > 1 ? argv[1] : NULL;
	uint64_t total = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
	uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : (uint64_t)time(NULL);
	uint32_t procs = argc > 4 ? (uint32_t)atoi(argv[4]) : 4, i;
	struct shared *sh;
	uint64_t base[7];
	int status, bad = 0;

	if (!mnt || procs == 0 || procs > MAXP) {
		fprintf(stderr, "usage: tool_fsx MOUNTPOINT [ops] [seed] [procs<=16]\n");
		return 2;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	for (i = 0; i < 6; i++)
		base[i] = metric(mnt, metric_names[i]);
	base[6] = metric(mnt, "done_count");
	printf("fsx: %" PRIu64 " operations, %u processes, seed %" PRIu64 "\n",
	       total, procs, seed);
	fflush(stdout);
	for (i = 0; i < procs; i++) {
		if (fork() == 0) {
			struct proc p;

			memset(&p, 0, sizeof(p));
			p.mnt = mnt;
			p.id = i;
			p.slot0 = i * SLOTS_PER;
			p.obs0 = i * OBS_PER;
			p.tenant = i + 1;
			p.sh = sh;
			p.rng = seed * 0x9E3779B97F4A7C15ull + i + 1;
			run_proc(&p, total / procs);
			_exit(0);
		}
	}
	for (i = 0; i < procs; i++) {
		wait(&status);
		bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	if (bad || sh->failed) {
		fprintf(stderr, "fsx: FAILED with seed %" PRIu64 " (rerun: tool_fsx %s %" PRIu64
			" %" PRIu64 " %u)\n", seed, mnt, total, seed, procs);
		return 1;
	}
	return check_totals(mnt, sh, procs, base);
}
