/* SPDX-License-Identifier: MIT */
/*
 * tests/tool_fsx.c - fsx-style random exerciser of a mounted megafs with a
 * shadow model. P processes each own a band of slots, 64 observables and
 * a tenant, and run seeded random operations through ring/N (text
 * commands and binary 64-byte slot images), ring/raw batches, call,
 * observables/N, tenant masks and (process 0 only) control/shutdown;
 * after every operation the touched observables are compared with a model
 * built on the reference semantics, and at the end the global counters
 * (done_count, metrics) must equal the sum of what the processes executed.
 *
 * A process's 64 observables are its band (32 words at obs0) and the band's
 * COMPARE_SWAP result words (32 words at obs0 + 160): COMPARE_SWAP on
 * control word w stores the old value to control word 160 + w, i.e. to
 * observable w, so the CAS of band word k (control word 160 + obs0 + k)
 * reports to observable 160 + obs0 + k. Bands are laid out in blocks of
 * 320 observables (five bands, then their five result bands), so no
 * process's words meet another's for any P <= 16.
 *
 * On divergence every process stops, and the parent prints the seed, the
 * failing process and operation, the recent operations of every process
 * in the order they were issued, and the command that reruns it; exit 1.
 *   tool_fsx MOUNTPOINT [total_ops] [seed] [procs]
 * The mount must have slots >= 16*procs and observables >= need_obs(procs)
 * (288 for 4 processes; the tool says so when they are missing) and the
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
#define OBS_PER 32u            /* band words; as many result words follow */
#define RES OBS_PER            /* model index of result word 0 */
#define WORDS (2u * OBS_PER)   /* model words per process */
#define BLOCK_BANDS 5u         /* MK_CTL_OBSERVABLE_BASE / OBS_PER */
#define TRACE 32
#define MAXP 16

struct note_rec {
	uint64_t seq, op;        /* global issue order; the process's op number */
	uint32_t proc;
	char text[176];
};

struct shared {
	uint64_t done[MAXP];          /* slots each process saw complete */
	uint64_t metric[MAXP][8];     /* executions per builtin opcode */
	uint64_t seq;                 /* next note's global sequence number */
	struct note_rec trace[MAXP][TRACE];
	int failed;                   /* set once, by the first divergence */
	char why[320];                /* that divergence, in words */
};

struct proc {
	const char *mnt;
	uint32_t id, slot0, obs0, tenant;
	uint32_t model[WORDS];
	uint64_t rng, op;
	struct shared *sh;
};

/* One generated command: its text form, its slot image, what it touches. */
struct cmd {
	char text[128];          /* without tenant= */
	struct mk_slot img;      /* status, tenant and priority left 0 */
	uint32_t nargs;          /* args the opcode reads */
	uint32_t touch[2], ntouch;
};

static const char *const metric_names[6] = { "nop", "store_u32", "atomic_add",
					      "load_u32", "compare_swap", "memcpy" };

/* First observable of process i's band; its result words are 160 above. */
static uint32_t band_obs0(uint32_t i)
{
	return i / BLOCK_BANDS * 2u * MK_CTL_OBSERVABLE_BASE +
	       i % BLOCK_BANDS * OBS_PER;
}

/* Observables the mount needs for procs processes. */
static uint32_t need_obs(uint32_t procs)
{
	return band_obs0(procs - 1) + MK_CTL_OBSERVABLE_BASE + OBS_PER;
}

/* Observable index of model word k of p. */
static uint32_t word_obs(const struct proc *p, uint32_t k)
{
	return k < RES ? p->obs0 + k : p->obs0 + MK_CTL_OBSERVABLE_BASE + k - RES;
}

static uint32_t rnd(struct proc *p, uint32_t n)
{
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return n ? (uint32_t)(p->rng % n) : 0;
}

static void note(struct proc *p, const char *fmt, ...)
{
	struct note_rec *r = &p->sh->trace[p->id][p->op % TRACE];
	va_list ap;

	r->op = p->op;
	r->proc = p->id;
	r->seq = __atomic_fetch_add(&p->sh->seq, 1, __ATOMIC_RELAXED) + 1;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

/* Another process diverged: stop quietly, the parent reports. */
static void stop_if_failed(struct proc *p)
{
	if (__atomic_load_n(&p->sh->failed, __ATOMIC_ACQUIRE))
		_exit(2);
}

static void die(struct proc *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int zero = 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "fsx: proc %u op %" PRIu64 ": %s\n", p->id, p->op, msg);
	if (__atomic_compare_exchange_n(&p->sh->failed, &zero, -1, 0,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		snprintf(p->sh->why, sizeof(p->sh->why), "proc %u op %" PRIu64 ": %s",
			 p->id, p->op, msg);
		__atomic_store_n(&p->sh->failed, 1, __ATOMIC_RELEASE);
	}
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
		if (rc == -EBUSY) {
			stop_if_failed(p);
			usleep(50);
		}
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
		if (i > 100) {
			stop_if_failed(p);
			usleep(100);
		}
	}
}

static uint32_t obs_file(struct proc *p, uint32_t k)
{
	char rel[32], buf[64];

	snprintf(rel, sizeof(rel), "observables/%u", word_obs(p, k));
	get(p, rel, buf, sizeof(buf));
	return (uint32_t)strtoul(buf, NULL, 10);
}

static void check_obs(struct proc *p, uint32_t k)
{
	uint32_t v = obs_file(p, k);

	if (v != p->model[k])
		die(p, "observable %u is %u, model says %u%s", word_obs(p, k), v,
		    p->model[k], k >= RES ? " (a compare_swap result word)" : "");
}

static void check_cmd(struct proc *p, const struct cmd *c)
{
	uint32_t i;

	for (i = 0; i < c->ntouch; i++)
		check_obs(p, c->touch[i]);
}

static void set_args(struct cmd *c, uint32_t n, uint32_t a0, uint32_t a1,
		     uint32_t a2)
{
	c->nargs = n;
	c->img.args[0] = a0;
	c->img.args[1] = a1;
	c->img.args[2] = a2;
}

/* The text form of c->img: mnemonic, then the args it reads. */
static void format_cmd(struct cmd *c)
{
	size_t off;
	uint32_t i;

	off = (size_t)snprintf(c->text, sizeof(c->text), "%s",
			       metric_names[c->img.opcode]);
	for (i = 0; i < c->nargs && off < sizeof(c->text); i++)
		off += (size_t)snprintf(c->text + off, sizeof(c->text) - off,
					i == 0 && c->img.opcode == MK_OP_ATOMIC_ADD ?
					" 0x%x" : " %u", c->img.args[i]);
}

/*
 * One random builtin over the process's own words; model applied.
 * COMPARE_SWAP stores the old value of its target (band word a, control
 * word base + a) to observable base + a, which is result word RES + a.
 */
static void make_cmd(struct proc *p, struct cmd *c)
{
	uint32_t a = rnd(p, OBS_PER), b = rnd(p, OBS_PER), v = rnd(p, 4) ? rnd(p, 1000)
								     : (uint32_t)p->rng;
	uint32_t base = MK_CTL_OBSERVABLE_BASE + p->obs0, n, i, old;

	memset(c, 0, sizeof(*c));
	c->img.opcode = rnd(p, 6);
	c->touch[0] = a;
	c->ntouch = 1;
	switch (c->img.opcode) {
	case MK_OP_NOP:
		break;
	case MK_OP_STORE_U32:
		set_args(c, 2, v, base + a, 0);
		p->model[a] = v;
		break;
	case MK_OP_ATOMIC_ADD:
		set_args(c, 2, v, base + a, 0);
		p->model[a] += v;
		break;
	case MK_OP_LOAD_U32: /* obs[arg1] := ctl[arg0] */
		set_args(c, 2, base + b, p->obs0 + a, 0);
		p->model[a] = p->model[b];
		break;
	case MK_OP_COMPARE_SWAP:
		old = rnd(p, 2) ? p->model[a] : p->model[a] + 1;
		set_args(c, 3, base + a, old, v);
		p->model[RES + a] = p->model[a];
		if (old == p->model[a])
			p->model[a] = v;
		c->touch[1] = RES + a;
		c->ntouch = 2;
		break;
	default: /* MEMCPY forward within the band */
		n = 1 + rnd(p, 4);
		a = rnd(p, OBS_PER - n);
		b = rnd(p, OBS_PER - n);
		set_args(c, 3, base + a, base + b, n);
		for (i = 0; i < n; i++)
			p->model[b + i] = p->model[a + i];
		c->touch[0] = b;
		break;
	}
	format_cmd(c);
}

/*
 * Encode c for ring/N, text or (one time in two) binary: a 64-byte image,
 * status 0 or 1 (both publish), a random priority (informational) and
 * random words in the args the opcode does not read. Returns the length.
 */
static size_t encode(struct proc *p, struct cmd *c, uint32_t slot, void *buf,
		     size_t cap)
{
	struct mk_slot *s = buf;
	uint32_t i;

	if (rnd(p, 2)) {
		note(p, "ring/%u <- %s tenant=%u", slot, c->text, p->tenant);
		return (size_t)snprintf(buf, cap, "%s tenant=%u\n", c->text, p->tenant);
	}
	*s = c->img;
	s->status = rnd(p, 2);
	s->tenant = p->tenant;
	s->priority = rnd(p, MK_PRIORITY_LEVELS);
	for (i = c->nargs; i < MK_ARGS_PER_SLOT; i++) {
		uint32_t shift = rnd(p, 32);

		s->args[i] = (uint32_t)(p->rng >> shift);
	}
	note(p, "ring/%u <- image{status %u tenant %u priority %u} %s", slot,
	     s->status, s->tenant, s->priority, c->text);
	return MK_SLOT_BYTES;
}

static void count(struct proc *p, uint32_t op)
{
	p->sh->done[p->id]++;
	p->sh->metric[p->id][op]++;
}

static void op_ring(struct proc *p)
{
	uint32_t slot = p->slot0 + rnd(p, SLOTS_PER);
	union { char text[192]; struct mk_slot img; } buf;
	struct cmd c;
	char rel[32];
	size_t len;
	int rc;

	make_cmd(p, &c);
	len = encode(p, &c, slot, &buf, sizeof(buf));
	snprintf(rel, sizeof(rel), "ring/%u", slot);
	rc = put(p, rel, &buf, len, 0);
	if (rc)
		die(p, "write ring/%u: %s", slot, strerror(-rc));
	wait_done(p, slot);
	count(p, c.img.opcode);
	check_cmd(p, &c);
}

static void op_call(struct proc *p)
{
	char path[256], buf[512];
	struct cmd c;
	ssize_t n;
	uint32_t i;
	int fd;

	make_cmd(p, &c);
	note(p, "call <- %s", c.text);
	snprintf(path, sizeof(path), "%s/call", p->mnt);
	fd = open(path, O_RDWR);
	if (fd < 0 || write(fd, c.text, strlen(c.text)) != (ssize_t)strlen(c.text))
		die(p, "call write: %s", strerror(errno));
	for (i = 0; (n = read(fd, buf, sizeof(buf) - 1)) < 0; i++) {
		/* The kernel may be stopped by proc 0: the command waits. */
		if (errno != ESHUTDOWN || i > 100000)
			die(p, "call read: %s", strerror(errno));
		stop_if_failed(p);
		usleep(200);
	}
	buf[n] = '\0';
	close(fd);
	if (strtoul(buf, NULL, 10) != MK_SLOT_DONE)
		die(p, "call returned a slot that is not DONE: %s", buf);
	count(p, c.img.opcode);
	check_cmd(p, &c);
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

/* Any of the process's words, result words included. */
static void op_obs_write(struct proc *p)
{
	uint32_t k = rnd(p, WORDS), v = (uint32_t)p->rng;
	char rel[32], val[32];
	int rc;

	note(p, "observables/%u <- %u", word_obs(p, k), v);
	snprintf(rel, sizeof(rel), "observables/%u", word_obs(p, k));
	snprintf(val, sizeof(val), "%u\n", v);
	rc = put(p, rel, val, strlen(val), 0);
	if (rc)
		die(p, "write observable: %s", strerror(-rc));
	p->model[k] = v;
	check_obs(p, k);
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
	uint32_t slot = p->slot0 + rnd(p, SLOTS_PER);
	union { char text[192]; struct mk_slot img; } buf;
	struct cmd c;
	char rel[32];
	size_t len;
	int i;

	make_cmd(p, &c);
	len = encode(p, &c, slot, &buf, sizeof(buf));
	note(p, "control/shutdown <- 1; ring/%u (or the band's next free slot) "
	     "<- %s%s; control/shutdown <- 0", slot,
	     len == MK_SLOT_BYTES ? "image " : "", c.text);
	if (put(p, "control/shutdown", "1", 1, 0))
		die(p, "control/shutdown 1 failed");
	/*
	 * While stopped, another process's call may hold one of our slots
	 * until the restart: try each of our slots once, else skip.
	 */
	for (i = 0; i < (int)SLOTS_PER; i++) {
		snprintf(rel, sizeof(rel), "ring/%u", slot);
		if (put_tries(p, rel, &buf, len, 0, 1) == 0)
			break;
		slot = p->slot0 + (slot - p->slot0 + 1) % SLOTS_PER;
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
	count(p, c.img.opcode);
	check_cmd(p, &c);
}

static void run_proc(struct proc *p, uint64_t ops)
{
	uint32_t k;

	set_mask(p, 1);
	for (k = 0; k < WORDS; k++) { /* start from a known band */
		p->op = 0;
		p->model[k] = obs_file(p, k);
	}
	for (p->op = 1; p->op <= ops; p->op++) {
		uint32_t r = rnd(p, 100);

		stop_if_failed(p);
		if (r < 40)
			op_ring(p);
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
			for (k = 0; k < WORDS; k++)
				check_obs(p, k);
	}
}

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

static int by_seq(const void *a, const void *b)
{
	const struct note_rec *x = *(const struct note_rec *const *)a;
	const struct note_rec *y = *(const struct note_rec *const *)b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Every process's last TRACE operations, merged in the order issued. */
static void print_traces(const struct shared *sh, uint32_t procs)
{
	static const struct note_rec *all[MAXP * TRACE];
	uint32_t i, k, n = 0;

	for (i = 0; i < procs; i++)
		for (k = 0; k < TRACE; k++)
			if (sh->trace[i][k].seq)
				all[n++] = &sh->trace[i][k];
	qsort(all, n, sizeof(all[0]), by_seq);
	fprintf(stderr, "fsx: the last %d operations of each of the %u processes, "
		"in the order issued (seq, proc, op):\n", TRACE, procs);
	for (k = 0; k < n; k++)
		fprintf(stderr, "  %8" PRIu64 " p%u #%-8" PRIu64 " %s\n", all[k]->seq,
			all[k]->proc, all[k]->op,
			all[k]->text);
}

static void print_rerun(const char *mnt, uint64_t total, uint64_t seed, uint32_t procs)
{
	fprintf(stderr,
		"fsx: FAILED with seed %" PRIu64 ". Rerun (the same operations per "
		"process; the interleaving varies):\n"
		"  MK_FSX_SEED=%" PRIu64 " MK_FSX_OPS=%" PRIu64 " MK_FSX_PROCS=%u "
		"tests/sh/test_fsx.sh\n"
		"  or on a fresh mount with slots>=%u,observables>=%u: "
		"tool_fsx %s %" PRIu64 " %" PRIu64 " %u\n",
		seed, seed, total, procs, procs * SLOTS_PER, need_obs(procs), mnt,
		total, seed, procs);
}

/* The mount holds every slot and observable the processes will touch. */
static int check_mount(const char *mnt, uint32_t procs)
{
	char ring[256], obs[256];

	snprintf(ring, sizeof(ring), "%s/ring/%u", mnt, procs * SLOTS_PER - 1);
	snprintf(obs, sizeof(obs), "%s/observables/%u", mnt, need_obs(procs) - 1);
	if (access(ring, F_OK) == 0 && access(obs, F_OK) == 0)
		return 0;
	fprintf(stderr, "fsx: %s lacks %s or %s. Fix: mount with -o slots=%u,"
		"observables=%u or more for %u processes\n", mnt, ring, obs,
		procs * SLOTS_PER, need_obs(procs), procs);
	return 2;
}

static void child(const char *mnt, struct shared *sh, uint32_t i, uint64_t seed,
		  uint64_t ops)
{
	struct proc p;

	memset(&p, 0, sizeof(p));
	p.mnt = mnt;
	p.id = i;
	p.slot0 = i * SLOTS_PER;
	p.obs0 = band_obs0(i);
	p.tenant = i + 1;
	p.sh = sh;
	p.rng = seed * 0x9E3779B97F4A7C15ull + i + 1;
	run_proc(&p, ops);
	_exit(0);
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
	if (check_mount(mnt, procs))
		return 2;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	for (i = 0; i < 6; i++)
		base[i] = metric(mnt, metric_names[i]);
	base[6] = metric(mnt, "done_count");
	printf("fsx: %" PRIu64 " operations, %u processes, seed %" PRIu64 "\n",
	       total, procs, seed);
	fflush(stdout);
	for (i = 0; i < procs; i++)
		if (fork() == 0)
			child(mnt, sh, i, seed, total / procs);
	for (i = 0; i < procs; i++) {
		wait(&status);
		bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	if (bad || sh->failed) {
		fprintf(stderr, "fsx: first divergence: %s\n",
			sh->failed > 0 ? sh->why : "none recorded (a process crashed)");
		print_traces(sh, procs);
		print_rerun(mnt, total, seed, procs);
		return 1;
	}
	bad = check_totals(mnt, sh, procs, base);
	if (bad)
		print_rerun(mnt, total, seed, procs);
	return bad;
}
