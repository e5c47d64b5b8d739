/* SPDX-License-Identifier: MIT */
/*
 * tests/check_parity.c - CPU versus CUDA: the same command traces (seeded
 * random and adversarial: every opcode, out-of-range and u32-wrapping
 * indices, packed slots including the kernel's mis-sized metadata, PRINTF
 * overflow, tenant masks toggled, SHUTDOWN in the middle, both scheduler
 * variants) run on the cpu backend (the oracle, one worker) and the cuda
 * backend, and after every step the control, ring and debug buffers must be
 * byte-identical.
 *
 * Only deterministic points are compared: each step publishes, then waits
 * until every slot it published is DONE (or, where the protocol leaves a
 * slot PUBLISHED, until both backends are quiet). Interleavings the
 * protocol leaves open are kept out of the traces:
 *  - a multi-slot step holds only commutative commands (NOP, DFA_STEP,
 *    ATOMIC_ADD, unknown opcodes, packed ADD/NOP): order-dependent ones
 *    (STORE, LOAD, CAS, MEMCPY, BATCH_FENCE's observable store, PRINTF
 *    record order) run one slot per step;
 *  - no command may change control words 0 (shutdown), 2 (tenant table
 *    pointer) or the masks of tenants the trace uses, except in the steps
 *    that do so on purpose; a candidate is checked by running it through
 *    runtime/interp.h on a scratch copy of the current control words;
 *  - SHUTDOWN runs alone, so no other slot races with the flag;
 *  - priority traces publish each batch with one kick (one image batch),
 *    so the CPU worker sees the whole batch before its first pop, as the
 *    GPU front end does, and use only commutative commands.
 * MK_PARITY_STEPS shortens the random traces (compute-sanitizer runs).
 *   build/release/tests/check_parity       (exit 77 without a CUDA device)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/backend.h"
#include "runtime/interp.h"
#include "runtime/proto.h"
#include "tests/mk_check.h"
#include "tests/t_cuda.h"
#include "tests/t_runtime.h"

#define OBSERVABLES 256u
#define CTL_WORDS (MK_CONTROL_MIN_WORDS + OBSERVABLES)
#define NB 2 /* backends: 0 = cpu (oracle), 1 = cuda */

struct pair {
	struct mk_runtime *rt[NB];
	uint32_t slots;
	uint32_t cursor; /* next slot the trace uses */
	uint32_t rng;
};

#ifndef MK_PARITY_PEER /* -DMK_PARITY_PEER='"cpu"' checks the test itself */
#define MK_PARITY_PEER "cuda"
#endif
static const char *const backend_names[NB] = { "cpu", MK_PARITY_PEER };


static uint32_t rnd(struct pair *p)
{
	uint32_t x = p->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	p->rng = x;
	return x;
}

static void pair_open(struct pair *p, uint32_t slots, enum mk_sched sched,
		      uint32_t flags, uint32_t seed)
{
	struct mk_config cfg;
	struct mk_err err;
	int i, rc;

	memset(p, 0, sizeof(*p));
	p->slots = slots;
	p->rng = seed * 2654435761u + 1u;
	for (i = 0; i < NB; i++) {
		mk_config_init(&cfg);
		cfg.backend = backend_names[i];
		cfg.slots = slots;
		cfg.observables = OBSERVABLES;
		cfg.tenants = 4;
		cfg.scheduler = sched;
		cfg.flags = flags;
		cfg.workers = 1; /* the oracle runs slots in kick order */
		mk_err_clear(&err);
		rc = mk_runtime_create(&cfg, &p->rt[i], &err);
		ck_assert_msg(rc == 0, "%s create: %d %s", cfg.backend, rc, err.msg);
		rc = mk_runtime_start(p->rt[i], &err);
		ck_assert_msg(rc == 0, "%s start: %d %s", cfg.backend, rc, err.msg);
	}
}

static void pair_close(struct pair *p)
{
	int i;

	for (i = 0; i < NB; i++)
		mk_runtime_destroy(p->rt[i]);
}

/* ---- comparing ---------------------------------------------------------- */

static void diff_words(const char *what, const char *step, const uint32_t *a,
		       const uint32_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ck_assert_msg(a[i] == b[i],
			      "%s: %s word %zu differs: cpu %#x, cuda %#x", step,
			      what, i, a[i], b[i]);
}

static void pair_compare(struct pair *p, const char *step)
{
	static uint32_t ctl[NB][CTL_WORDS], dbg[NB][MK_DEBUG_BUFFER_WORDS];
	uint32_t *ring[NB];
	uint32_t s;
	int i;

	for (i = 0; i < NB; i++) {
		ring[i] = calloc(p->slots, MK_SLOT_BYTES);
		ck_assert_ptr_nonnull(ring[i]);
		ck_assert_int_eq(mk_runtime_read_ctl(p->rt[i], 0, CTL_WORDS, ctl[i]), 0);
		ck_assert_int_eq(mk_runtime_read_debug(p->rt[i], dbg[i],
						       MK_DEBUG_BUFFER_WORDS), 0);
		for (s = 0; s < p->slots; s++)
			ck_assert_int_eq(mk_runtime_read_slot(p->rt[i], s,
				(struct mk_slot *)&ring[i][s * MK_SLOT_WORDS]), 0);
	}
	diff_words("control", step, ctl[0], ctl[1], CTL_WORDS);
	diff_words("debug", step, dbg[0], dbg[1], MK_DEBUG_BUFFER_WORDS);
	diff_words("ring", step, ring[0], ring[1], (size_t)p->slots * MK_SLOT_WORDS);
	for (i = 0; i < NB; i++)
		free(ring[i]);
}

/* ---- publishing on both --------------------------------------------------- */

static void pair_publish(struct pair *p, uint32_t slot, uint32_t tenant,
			 uint32_t op, const uint32_t *args, size_t n)
{
	int rc[NB], i;

	for (i = 0; i < NB; i++)
		rc[i] = mk_runtime_publish(p->rt[i], slot, tenant, op, args, n, NULL);
	ck_assert_int_eq(rc[0], rc[1]);
}

static int pair_images(struct pair *p, uint32_t first, const struct mk_slot *img,
		       uint32_t count)
{
	int rc[NB], i;

	for (i = 0; i < NB; i++)
		rc[i] = mk_runtime_publish_images(p->rt[i], first, img, count, NULL);
	ck_assert_int_eq(rc[0], rc[1]);
	return rc[0];
}

static void pair_wait(struct pair *p, uint32_t slot)
{
	int i, rc;

	for (i = 0; i < NB; i++) {
		rc = mk_runtime_wait(p->rt[i], slot, T_WAIT_NS);
		ck_assert_msg(rc == 0, "%s: wait slot %u: %d", backend_names[i],
			      slot, rc);
	}
}

static uint32_t ctl_word(struct mk_runtime *rt, uint32_t idx)
{
	uint32_t v = 0;

	ck_assert_int_eq(mk_runtime_read_ctl(rt, idx, 1, &v), 0);
	return v;
}

/* Both quiet: CPU DONE_COUNT stable for 30 ms, then CUDA equal to it. */
static void pair_settle(struct pair *p)
{
	uint32_t prev = ~0u, now = ctl_word(p->rt[0], MK_CTL_DONE_COUNT);
	int i;

	while (now != prev) {
		prev = now;
		t_sleep_ms(30);
		now = ctl_word(p->rt[0], MK_CTL_DONE_COUNT);
	}
	for (i = 0; i < 1000 && ctl_word(p->rt[1], MK_CTL_DONE_COUNT) != now; i++)
		t_sleep_ms(5);
	t_sleep_ms(30);
}

/* Take @n consecutive slots (split in two when the ring wraps). */
static uint32_t take(struct pair *p, uint32_t n)
{
	uint32_t s = p->cursor;

	p->cursor = (p->cursor + n) % p->slots;
	return s;
}

/*
 * Would this slot image disturb the trace (words 0, 2, or the masks of
 * tenants 0 and 1)? Runs it through the shared semantics on a scratch copy
 * of the oracle's current control words.
 */
static int disturbs(struct pair *p, const struct mk_slot *img)
{
	static uint32_t now[CTL_WORDS], scratch[CTL_WORDS], dbg[MK_DEBUG_BUFFER_WORDS];
	uint32_t ring[MK_SLOT_WORDS];
	struct mk_exec x = { scratch, ring, dbg, CTL_WORDS, MK_SLOT_WORDS,
			     MK_DEBUG_BUFFER_WORDS, NULL, 0 };

	ck_assert_int_eq(mk_runtime_read_ctl(p->rt[0], 0, CTL_WORDS, now), 0);
	memcpy(scratch, now, sizeof(now));
	memset(dbg, 0, sizeof(dbg));
	memcpy(ring, img, sizeof(ring));
	mk_exec_claimed(&x, 0, ring);
	return scratch[MK_CTL_SHUTDOWN] != now[MK_CTL_SHUTDOWN] ||
	       scratch[MK_CTL_TENANT_BASE] != now[MK_CTL_TENANT_BASE] ||
	       scratch[MK_CTL_TENANT_MASK_DEFAULT] != now[MK_CTL_TENANT_MASK_DEFAULT] ||
	       scratch[MK_CTL_TENANT_MASK_DEFAULT + 1] != now[MK_CTL_TENANT_MASK_DEFAULT + 1];
}

/* ---- random commands -------------------------------------------------------- */

/* A word index: observables, low words, just past the end, or anything. */
static uint32_t rnd_index(struct pair *p)
{
	switch (rnd(p) % 6) {
	case 0:
		return MK_CTL_OBSERVABLE_BASE + rnd(p) % OBSERVABLES;
	case 1:
		return rnd(p) % MK_CONTROL_MIN_WORDS;
	case 2:
		return CTL_WORDS + rnd(p) % 8;
	case 3:
		return 0u - MK_CTL_OBSERVABLE_BASE + rnd(p) % 200; /* wraps */
	case 4:
		return rnd(p);
	default:
		return MK_CTL_OBSERVABLE_BASE + rnd(p) % 8;
	}
}

/* Packed payload with random inner ops (raw bytes, kernel rules apply). */
static void rnd_packed(struct pair *p, struct mk_slot *img, int commutative)
{
	static const uint8_t any[] = { 0, 1, 2, 3, 4, 5, 6, 7, 9, 200 };
	uint8_t *b = (uint8_t *)img->args;
	uint32_t i;

	img->opcode = MK_OP_PACKED_SLOT;
	for (i = 0; i < MK_ARGS_PER_SLOT; i++)
		img->args[i] = rnd_index(p);
	b[0] = (uint8_t)(rnd(p) % 8); /* n: up to 7, the kernel runs 4 */
	b[1] = (uint8_t)rnd(p);
	for (i = 0; i < b[0]; i++) {
		b[2 + 2 * i] = commutative ? (rnd(p) % 2 ? MK_OP_ATOMIC_ADD : MK_OP_NOP)
					   : any[rnd(p) % sizeof(any)];
		b[3 + 2 * i] = (uint8_t)(rnd(p) % 11);
	}
	for (i = 2u + 2u * b[0]; i < 4u * ((2u + 2u * b[0] + 3u) / 4u); i++)
		b[i] = 0;
}

/* One random command; @commutative restricts it to order-free ones. */
static void rnd_command(struct pair *p, struct mk_slot *img, int commutative)
{
	static const uint32_t ordered[] = {
		MK_OP_STORE_U32, MK_OP_LOAD_U32, MK_OP_COMPARE_SWAP, MK_OP_MEMCPY,
		MK_OP_BATCH_FENCE, MK_OP_PRINTF, MK_OP_ATOMIC_ADD, MK_OP_DFA_STEP,
	};
	static const uint32_t comm[] = {
		MK_OP_NOP, MK_OP_ATOMIC_ADD, MK_OP_DFA_STEP, 0xABCDu, 0x40000000u,
		0x12345u, MK_OP_ATOMIC_ADD,
	};
	uint32_t k = rnd(p) % 10;

	memset(img, 0, sizeof(*img));
	img->priority = MK_PRIORITY_NORMAL;
	if (k == 0) {
		rnd_packed(p, img, commutative);
		return;
	}
	img->opcode = commutative ? comm[rnd(p) % (sizeof(comm) / sizeof(comm[0]))]
				  : ordered[rnd(p) % (sizeof(ordered) / sizeof(ordered[0]))];
	img->args[0] = rnd(p) % 4 ? rnd(p) % 1000 : rnd(p);
	img->args[1] = rnd_index(p);
	img->args[2] = rnd(p) % 4;
	if (img->opcode == MK_OP_LOAD_U32 || img->opcode == MK_OP_COMPARE_SWAP)
		img->args[0] = rnd_index(p);
	if (img->opcode == MK_OP_MEMCPY) {
		img->args[0] = rnd_index(p);
		img->args[2] = rnd(p) % 8 ? rnd(p) % 40 : rnd(p); /* huge: wraps */
	}
}

/* A command that passes disturbs(), retried a bounded number of times. */
static void safe_command(struct pair *p, struct mk_slot *img, int commutative)
{
	int tries;

	for (tries = 0; tries < 64; tries++) {
		rnd_command(p, img, commutative);
		if (!disturbs(p, img))
			return;
	}
	memset(img, 0, sizeof(*img)); /* a NOP */
	img->priority = MK_PRIORITY_NORMAL;
}

/* ---- steps ---------------------------------------------------------------- */

/* Up to 40 commutative commands, one kick each or as one image batch. */
static void step_batch(struct pair *p)
{
	struct mk_slot img[40];
	uint32_t n = 1 + rnd(p) % 40, i, first = take(p, n);
	int single = rnd(p) % 2;

	for (i = 0; i < n; i++)
		safe_command(p, &img[i], 1);
	if (single) {
		for (i = 0; i < n; i++)
			pair_publish(p, (first + i) % p->slots, 0, img[i].opcode,
				     img[i].args, MK_ARGS_PER_SLOT);
	} else if (first + n <= p->slots) {
		pair_images(p, first, img, n);
	} else { /* wraps around the ring end */
		pair_images(p, first, img, p->slots - first);
		pair_images(p, 0, img + (p->slots - first), n - (p->slots - first));
	}
	for (i = 0; i < n; i++)
		pair_wait(p, (first + i) % p->slots);
}

static void step_single(struct pair *p)
{
	struct mk_slot img;
	uint32_t s = take(p, 1);

	safe_command(p, &img, 0);
	if (rnd(p) % 2)
		pair_images(p, s, &img, 1);
	else
		pair_publish(p, s, 0, img.opcode, img.args, MK_ARGS_PER_SLOT);
	pair_wait(p, s);
}

/* Tenant 1 disabled: its slots stay PUBLISHED; enabled: they run. */
static void step_mask(struct pair *p)
{
	uint32_t mask1 = MK_CTL_TENANT_MASK_DEFAULT + 1, n = 1 + rnd(p) % 5, i;
	uint32_t first = take(p, n), args[2] = { 1, MK_CTL_OBSERVABLE_BASE + 7 };
	uint32_t on = rnd(p) | 1u;
	int b;

	for (b = 0; b < NB; b++)
		ck_assert_int_eq(mk_runtime_write_ctl(p->rt[b], mask1, 0, NULL), 0);
	for (i = 0; i < n; i++)
		pair_publish(p, (first + i) % p->slots, 1, MK_OP_ATOMIC_ADD, args, 2);
	t_sleep_ms(30);
	pair_compare(p, "mask off");
	for (b = 0; b < NB; b++)
		ck_assert_int_eq(mk_runtime_write_ctl(p->rt[b], mask1, on, NULL), 0);
	for (i = 0; i < n; i++)
		pair_wait(p, (first + i) % p->slots);
}

/* SHUTDOWN alone; publish while stopped; restart. */
static void step_shutdown(struct pair *p)
{
	uint32_t s = take(p, 1), t = take(p, 1);
	int b, i;

	pair_publish(p, s, 0, MK_OP_SHUTDOWN, NULL, 0);
	pair_wait(p, s);
	for (b = 0; b < NB; b++) {
		for (i = 0; i < 1000 && mk_runtime_running(p->rt[b]); i++)
			t_sleep_ms(5);
		ck_assert_int_eq(mk_runtime_running(p->rt[b]), 0);
	}
	pair_publish(p, t, 0, MK_OP_ATOMIC_ADD,
		     (uint32_t[]){ 3, MK_CTL_OBSERVABLE_BASE + 9 }, 2);
	pair_compare(p, "stopped");
	for (b = 0; b < NB; b++)
		ck_assert_int_eq(mk_runtime_start(p->rt[b], NULL), 0);
	pair_wait(p, t);
}

static uint32_t trace_steps(void)
{
	const char *v = getenv("MK_PARITY_STEPS");

	return v && atoi(v) > 0 ? (uint32_t)atoi(v) : 150u;
}

START_TEST(test_parity_random_sharded)
{
	struct pair p;
	uint32_t i, n = trace_steps();
	char step[64];

	pair_open(&p, 256, MK_SCHED_SHARDED, MK_CFG_PACKED_COMPAT, (uint32_t)_i + 1);
	for (i = 0; i < n; i++) {
		uint32_t k = rnd(&p) % 100;

		if (k < 40)
			step_batch(&p);
		else if (k < 92)
			step_single(&p);
		else if (k < 97)
			step_mask(&p);
		else
			step_shutdown(&p);
		snprintf(step, sizeof(step), "seed %d step %u kind %u", _i + 1, i, k);
		pair_compare(&p, step);
	}
	pair_close(&p);
}
END_TEST

/* ---- adversarial, fixed traces --------------------------------------------- */

/* Raw packed image: @n inner ops (byte 0), then @bytes from byte 2 on. */
static void packed_image(struct mk_slot *img, uint8_t n, const uint8_t *bytes,
			 size_t nbytes, const uint32_t *words, size_t nwords,
			 size_t word0)
{
	uint8_t *b = (uint8_t *)img->args;

	memset(img, 0, sizeof(*img));
	img->opcode = MK_OP_PACKED_SLOT;
	img->priority = MK_PRIORITY_NORMAL;
	memcpy(&img->args[word0], words, nwords * 4u);
	b[0] = n;
	memcpy(b + 2, bytes, nbytes);
}

static void run_one(struct pair *p, const struct mk_slot *img, const char *what)
{
	uint32_t s = take(p, 1);

	ck_assert_msg(!disturbs(p, img), "%s disturbs the trace", what);
	pair_images(p, s, img, 1);
	pair_wait(p, s);
	pair_compare(p, what);
}

static void run_op(struct pair *p, uint32_t op, uint32_t a0, uint32_t a1,
		   uint32_t a2, const char *what)
{
	struct mk_slot img;

	memset(&img, 0, sizeof(img));
	img.opcode = op;
	img.priority = MK_PRIORITY_NORMAL;
	img.args[0] = a0;
	img.args[1] = a1;
	img.args[2] = a2;
	run_one(p, &img, what);
}

START_TEST(test_parity_adversarial)
{
	struct pair p;
	struct mk_slot img;
	struct mk_item items[5];
	uint32_t i, w;
	int rc[NB], b;

	pair_open(&p, 128, MK_SCHED_SHARDED, MK_CFG_PACKED_COMPAT, 7);
	run_op(&p, MK_OP_STORE_U32, 0xDEAD, 0xFFFFFFFFu, 0, "store far out of range");
	run_op(&p, MK_OP_STORE_U32, 5, CTL_WORDS, 0, "store one past the end");
	run_op(&p, MK_OP_ATOMIC_ADD, 0xFFFFFFFFu, 200, 0, "add wraps the value");
	run_op(&p, MK_OP_LOAD_U32, 200, 0u - 160u + 50u, 0, "load result wraps to word 50");
	run_op(&p, MK_OP_LOAD_U32, 0xFFFFFFFFu, 3, 0, "load from out of range reads 0");
	run_op(&p, MK_OP_COMPARE_SWAP, 200, 0xFFFFFFFFu, 9, "cas hit");
	run_op(&p, MK_OP_COMPARE_SWAP, 200, 1, 10, "cas miss");
	run_op(&p, MK_OP_COMPARE_SWAP, CTL_WORDS - 160 + 5, 0, 1, "cas result past the end");
	run_op(&p, MK_OP_MEMCPY, 161, 162, 30, "memcpy smears forward");
	run_op(&p, MK_OP_MEMCPY, 300, 300, 0xFFFFFFFFu, "memcpy onto itself, wraps through 0");
	run_op(&p, MK_OP_MEMCPY, 0xFFFFFFF0u, 170, 40, "memcpy source wraps");
	run_op(&p, MK_OP_BATCH_FENCE, 99, 0x5A5A, 0, "fence");
	run_op(&p, MK_OP_DFA_STEP, 1, 2, 3, "dfa without tables");
	run_op(&p, 0xABCD, 1, 2, 3, "unknown opcode");
	/*
	 * Packed (kernel rules): n = 0; n = 5..7 run 4 ops with 3 metadata
	 * words whatever n says; an op whose base + 3 > 12 is skipped. Every
	 * payload word is an observable index, so any window of it is harmless.
	 */
	packed_image(&img, 0, NULL, 0, NULL, 0, 0);
	run_one(&p, &img, "packed n=0");
	for (w = 5; w <= 7; w++) {
		const uint8_t ops[8] = { MK_OP_ATOMIC_ADD, 0, MK_OP_ATOMIC_ADD, 3,
					 MK_OP_STORE_U32, 6, MK_OP_LOAD_U32, 8 };
		uint32_t words[9];

		for (i = 0; i < 9; i++)
			words[i] = 170 + i + w;
		packed_image(&img, (uint8_t)w, ops, sizeof(ops), words, 9, 3);
		run_one(&p, &img, "packed n=5..7");
	}
	{
		const uint8_t ops[4] = { MK_OP_ATOMIC_ADD, 0, MK_OP_ATOMIC_ADD, 9 };
		uint32_t words[10] = { 1, 180, 0, 0, 0, 0, 0, 0, 0, 1 };

		packed_image(&img, 2, ops, sizeof(ops), words, 10, 2);
		run_one(&p, &img, "packed op past the payload");
	}
	packed_image(&img, 255,
		     (const uint8_t[]){ MK_OP_ATOMIC_ADD, 0, MK_OP_ATOMIC_ADD, 0 }, 4,
		     (const uint32_t[]){ 1, 190, 0 }, 3, 3);
	run_one(&p, &img, "packed n=255 runs 4");
	/* batch_publish: items and the fence at start + n (no shared words). */
	for (i = 0; i < 5; i++)
		items[i] = (struct mk_item){ MK_OP_ATOMIC_ADD, 2, { i, 230 } };
	for (b = 0; b < NB; b++)
		rc[b] = mk_runtime_batch_publish(p.rt[b], 100, 0, items, 5, 0x77, NULL);
	ck_assert_int_eq(rc[0], rc[1]);
	for (i = 100; i < 106; i++)
		pair_wait(&p, i);
	pair_compare(&p, "batch_publish + fence");
	/* PRINTF overflow: 70 records into a 64-record log. */
	for (i = 0; i < 70; i++)
		run_op(&p, MK_OP_PRINTF, i, ~i, i * 3, "printf");
	pair_close(&p);
}
END_TEST

/* ---- priority variant ------------------------------------------------------- */

/*
 * New partition offsets for both, kernels stopped (a word at a time while
 * running would let each backend act on different half-written tables):
 * every 12th change the defaults, else 6 sorted random bounds in 0..20,
 * which may leave partitions empty and slots outside every partition.
 */
static void pair_offsets(struct pair *p, uint32_t change)
{
	uint32_t off[MK_PRIORITY_LEVELS + 1u], i, j, t;
	int b;

	for (i = 0; i <= MK_PRIORITY_LEVELS; i++)
		off[i] = change % 2 ? 4u * i : rnd(p) % 21u;
	for (i = 1; i <= MK_PRIORITY_LEVELS; i++)
		for (j = i; j > 0 && off[j - 1] > off[j]; j--) {
			t = off[j];
			off[j] = off[j - 1];
			off[j - 1] = t;
		}
	for (b = 0; b < NB; b++) {
		ck_assert_int_eq(mk_runtime_stop(p->rt[b]), 0);
		for (i = 0; i <= MK_PRIORITY_LEVELS; i++)
			ck_assert_int_eq(mk_runtime_write_ctl(p->rt[b],
							      MK_CTL_PRIORITY_OFFSETS_BASE + i,
							      off[i], NULL), 0);
	}
	for (b = 0; b < NB; b++)
		ck_assert_int_eq(mk_runtime_start(p->rt[b], NULL), 0);
}

/*
 * Batches of commutative commands over random partitions (20 slots:
 * partitions [0,4,8,12,16,20]), one kick per batch. Starved CRITICAL/HIGH
 * slots stay PUBLISHED on both until lower-priority work resets the counter
 * (or, with the fix, run anyway); fairness counters must match too. Every
 * 6th round the offsets change (pair_offsets): queued slots are claimed in
 * their new partition, slots outside every partition wait PUBLISHED.
 */
START_TEST(test_parity_priority)
{
	struct pair p;
	struct mk_slot img[20];
	uint32_t round, i, rounds = trace_steps() / 3 + 5;
	int fix = _i;
	char step[64];

	pair_open(&p, 20, MK_SCHED_PRIORITY, fix ? MK_CFG_STARVATION_FIX : 0, 3);
	for (round = 0; round < rounds; round++) {
		uint32_t first = rnd(&p) % 20, n = 1 + rnd(&p) % (20 - first);
		struct mk_slot st;

		/* Critical-heavy rounds drive the starvation counter. */
		if (round % 4 != 3) {
			first = rnd(&p) % 8;
			n = 1 + rnd(&p) % (8 - first);
		}
		for (i = 0; i < n; i++) {
			ck_assert_int_eq(mk_runtime_read_slot(p.rt[0], first + i, &st), 0);
			if (st.status != MK_SLOT_EMPTY && st.status != MK_SLOT_DONE)
				break; /* keep the batch publishable */
			memset(&img[i], 0, sizeof(img[i]));
			img[i].opcode = rnd(&p) % 2 ? MK_OP_NOP : MK_OP_ATOMIC_ADD;
			img[i].tenant = rnd(&p) % 4;
			img[i].priority = MK_PRIORITY_NORMAL;
			img[i].args[0] = 1;
			img[i].args[1] = MK_CTL_OBSERVABLE_BASE + first + i;
		}
		if (i > 0)
			pair_images(&p, first, img, i);
		pair_settle(&p);
		if (round % 6 == 5) {
			pair_offsets(&p, round / 6);
			pair_settle(&p);
		}
		snprintf(step, sizeof(step), "priority fix=%d round %u", fix, round);
		pair_compare(&p, step);
	}
	pair_close(&p);
}
END_TEST

static Suite *parity_suite(void)
{
	Suite *s = suite_create("parity");
	TCase *tc = tcase_create("gpu");

	tcase_set_tags(tc, "gpu");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_parity_random_sharded, 0, 3);
	tcase_add_test(tc, test_parity_adversarial);
	tcase_add_loop_test(tc, test_parity_priority, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (strcmp(MK_PARITY_PEER, "cuda") == 0 && !t_cuda_present()) {
		printf("check_parity: no usable CUDA device, skipped\n");
		return 77;
	}
	return t_run_suite(parity_suite());
}
