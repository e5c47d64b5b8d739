/* SPDX-License-Identifier: MIT */
/*
 * tests/check_backend_cpu.c - the resident CPU megakernel under concurrent
 * publishers: 4 threads x 100k mixed ATOMIC_ADD / STORE_U32 / PACKED
 * commands; every counter and DONE_COUNT exact, every command executed
 * exactly once (each adds a distinct value, so a loss or a duplicate
 * changes the sum). Also contention on one slot, shutdown/restart under
 * load, and both scheduler variants. With one worker: the priority
 * variant's partition order, starvation rule and fairness words
 * (PROTOCOL.md 6.3-6.4), and that idle workers sleep instead of spinning.
 *   build/release/tests/check_backend_cpu
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/proto.h"
#include "tests/mk_check.h"
#include "tests/t_runtime.h"

#define NTHREADS 4
#define PER_THREAD 100000u
#define SLOTS 1024u

struct pub_arg {
	struct mk_runtime *rt;
	uint32_t id;
	uint64_t adds, stores, packed;
	int failures;
};

/* Observables: 0..3 per-thread sums (ADD), 4..7 packed counts, 8..11 stores. */
static void *publisher(void *p)
{
	struct pub_arg *a = p;
	uint32_t per = SLOTS / NTHREADS, i;
	struct mk_err err;

	for (i = 0; i < PER_THREAD; i++) {
		uint32_t slot = a->id * per + i % per;
		uint32_t kind = i % 3;
		int rc;

		/* A slot is reusable once its previous command is DONE. */
		if (i >= per && mk_runtime_wait(a->rt, slot, T_WAIT_NS)) {
			a->failures++;
			return NULL;
		}
		if (kind == 0) {
			uint32_t args[2] = { i + 1, MK_CTL_OBSERVABLE_BASE + a->id };

			rc = mk_runtime_publish(a->rt, slot, 0, MK_OP_ATOMIC_ADD,
						args, 2, &err);
			a->adds++;
		} else if (kind == 1) {
			uint32_t args[2] = { i, MK_CTL_OBSERVABLE_BASE + 8 + a->id };

			rc = mk_runtime_publish(a->rt, slot, 0, MK_OP_STORE_U32,
						args, 2, &err);
			a->stores++;
		} else {
			struct mk_packed_op ops[2] = {
				{ MK_OP_ATOMIC_ADD, 2,
				  { 1, MK_CTL_OBSERVABLE_BASE + 4 + a->id } },
				{ MK_OP_ATOMIC_ADD, 2,
				  { i + 1, MK_CTL_OBSERVABLE_BASE + a->id } },
			};

			rc = mk_runtime_publish_packed(a->rt, slot, 0, ops, 2, &err);
			a->packed++;
		}
		if (rc) {
			a->failures++;
			return NULL;
		}
	}
	return NULL;
}

static uint32_t expected_sum(void)
{
	uint32_t s = 0, i;

	/* Kinds 0 and 2 both add i + 1 to the thread's sum word. */
	for (i = 0; i < PER_THREAD; i++)
		if (i % 3 != 1)
			s += i + 1;
	return s;
}

static void run_load(enum mk_sched sched)
{
	struct mk_runtime *rt = t_rt_start("cpu", SLOTS, sched,
					    sched == MK_SCHED_PRIORITY ? MK_CFG_STARVATION_FIX : 0);
	struct pub_arg args[NTHREADS];
	pthread_t th[NTHREADS];
	uint64_t adds = 0, stores = 0, packed = 0;
	uint32_t t, s;

	for (t = 0; t < NTHREADS; t++) {
		args[t] = (struct pub_arg){ .rt = rt, .id = t };
		ck_assert_int_eq(pthread_create(&th[t], NULL, publisher, &args[t]), 0);
	}
	for (t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		ck_assert_int_eq(args[t].failures, 0);
		adds += args[t].adds;
		stores += args[t].stores;
		packed += args[t].packed;
	}
	for (s = 0; s < SLOTS; s++)
		ck_assert_int_eq(mk_runtime_wait(rt, s, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_DONE_COUNT), NTHREADS * PER_THREAD);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_METRICS_BASE + MK_OP_STORE_U32), stores);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_METRICS_BASE + MK_OP_ATOMIC_ADD),
			  adds + 2 * packed);
	for (t = 0; t < NTHREADS; t++) {
		ck_assert_uint_eq(t_ctl(rt, MK_CTL_OBSERVABLE_BASE + t), expected_sum());
		ck_assert_uint_eq(t_ctl(rt, MK_CTL_OBSERVABLE_BASE + 4 + t),
				  args[t].packed);
	}
	mk_runtime_destroy(rt);
}

START_TEST(test_backend_cpu_exactly_once_sharded)
{
	run_load(MK_SCHED_SHARDED);
}
END_TEST

START_TEST(test_backend_cpu_exactly_once_priority)
{
	run_load(MK_SCHED_PRIORITY);
}
END_TEST

struct race_arg {
	struct mk_runtime *rt;
	uint32_t ok, busy;
};

static void *racer(void *p)
{
	struct race_arg *a = p;
	uint32_t args[2] = { 1, MK_CTL_OBSERVABLE_BASE + 20 };
	int i, rc;

	for (i = 0; i < 20000; i++) {
		rc = mk_runtime_publish(a->rt, 5, 0, MK_OP_ATOMIC_ADD, args, 2, NULL);
		if (rc == 0)
			a->ok++;
		else if (rc == -EBUSY)
			a->busy++;
	}
	return NULL;
}

/* Four threads hammer one slot: each success runs exactly once. */
START_TEST(test_backend_cpu_one_slot_contention)
{
	struct mk_runtime *rt = t_rt_start("cpu", 16, MK_SCHED_SHARDED, 0);
	struct race_arg a[NTHREADS];
	pthread_t th[NTHREADS];
	uint32_t ok = 0, t;

	for (t = 0; t < NTHREADS; t++) {
		a[t] = (struct race_arg){ .rt = rt };
		pthread_create(&th[t], NULL, racer, &a[t]);
	}
	for (t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		ok += a[t].ok;
		ck_assert_uint_eq(a[t].ok + a[t].busy, 20000);
	}
	ck_assert_int_eq(mk_runtime_wait(rt, 5, T_WAIT_NS), 0);
	ck_assert_uint_gt(ok, 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_OBSERVABLE_BASE + 20), ok);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_DONE_COUNT), ok);
	mk_runtime_destroy(rt);
}
END_TEST

/* Stop while publishing: nothing is lost, everything runs after restart. */
START_TEST(test_backend_cpu_stop_restart_loses_nothing)
{
	struct mk_runtime *rt = t_rt_start("cpu", 256, MK_SCHED_SHARDED, 0);
	uint32_t args[2] = { 1, MK_CTL_OBSERVABLE_BASE };
	uint32_t round, s, t, total = 0;

	for (round = 0; round < 20; round++) {
		for (s = 0; s < 256; s++) {
			if (round > 0)
				ck_assert_int_eq(mk_runtime_wait(rt, s, T_WAIT_NS), 0);
			if (mk_runtime_publish(rt, s, 0, MK_OP_ATOMIC_ADD, args, 2,
					       NULL) == 0)
				total++;
			if (s == 128) {
				/* Slots published after the stop must be free now. */
				for (t = 129; round > 0 && t < 256; t++)
					ck_assert_int_eq(mk_runtime_wait(rt, t, T_WAIT_NS), 0);
				ck_assert_int_eq(mk_runtime_stop(rt), 0);
			}
		}
		ck_assert_int_eq(mk_runtime_running(rt), 0);
		ck_assert_int_eq(mk_runtime_start(rt, NULL), 0);
	}
	for (s = 0; s < 256; s++)
		ck_assert_int_eq(mk_runtime_wait(rt, s, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_OBSERVABLE_BASE), total);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_DONE_COUNT), total);
	mk_runtime_destroy(rt);
}
END_TEST

/* ---- priority scheduling with one worker (PROTOCOL.md 6.3-6.4) ----------- */

#define PSLOTS 10u /* default partitions [0,2,4,6,8,10]: slot 2p is in p */
#define OBS(k) (MK_CTL_OBSERVABLE_BASE + (k))

/* Create (not start) a CPU runtime with @workers worker threads. */
static struct mk_runtime *rt_create(enum mk_sched sched, uint32_t flags,
				    uint32_t workers)
{
	struct mk_config cfg;
	struct mk_runtime *rt = NULL;
	struct mk_err err;
	int rc;

	mk_config_init(&cfg);
	cfg.backend = "cpu";
	cfg.slots = PSLOTS;
	cfg.scheduler = sched;
	cfg.flags = flags;
	cfg.workers = workers;
	cfg.tenants = 4;
	rc = mk_runtime_create(&cfg, &rt, &err);
	ck_assert_msg(rc == 0, "create: %d %s", rc, err.msg);
	return rt;
}

/*
 * A probe in partition @p (slot 2p + @idx): when it runs it copies
 * DONE_COUNT (how many slots ran before it) to OBS(k) and the starvation
 * word (already updated by its own claim) to OBS(8 + k).
 */
static void probe(struct mk_runtime *rt, uint32_t p, uint32_t idx,
		  uint32_t tenant, uint32_t k)
{
	struct mk_packed_op ops[2] = {
		{ MK_OP_LOAD_U32, 2, { MK_CTL_DONE_COUNT, k } },
		{ MK_OP_LOAD_U32, 2, { MK_CTL_PRIORITY_STARVATION, 8 + k } },
	};
	struct mk_err err;
	int rc;

	rc = mk_runtime_publish_packed(rt, 2 * p + idx, tenant, ops, 2, &err);
	ck_assert_msg(rc == 0, "publish: %d %s", rc, err.msg);
}

static void start(struct mk_runtime *rt)
{
	ck_assert_int_eq(mk_runtime_start(rt, NULL), 0);
}

/* Queued IDLE..CRITICAL (in that order) run CRITICAL first. */
START_TEST(test_backend_cpu_priority_partition_order)
{
	struct mk_runtime *rt = rt_create(MK_SCHED_PRIORITY, 0, 1);
	static const uint32_t starv[5] = { 1, 2, 0, 0, 0 };
	uint32_t p;

	for (p = 0; p <= 5; p++)
		ck_assert_uint_eq(t_ctl(rt, MK_CTL_PRIORITY_OFFSETS_BASE + p),
				  2 * p);
	for (p = 5; p-- > 0;)
		probe(rt, p, 0, p % 4, p);
	start(rt);
	for (p = 0; p < 5; p++)
		ck_assert_int_eq(mk_runtime_wait(rt, 2 * p, T_WAIT_NS), 0);
	for (p = 0; p < 5; p++) {
		ck_assert_msg(t_ctl(rt, OBS(p)) == p, "partition %u ran %u-th",
			      p, t_ctl(rt, OBS(p)));
		/* CRITICAL/HIGH claims add 1, lower ones reset to 0. */
		ck_assert_uint_eq(t_ctl(rt, OBS(8 + p)), starv[p]);
		ck_assert_uint_eq(t_ctl(rt, MK_CTL_PRIORITY_FAIRNESS_BASE + p), 1);
	}
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_PRIORITY_STARVATION), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_TENANT_FAIRNESS_BASE + 0), 2);
	for (p = 1; p < 4; p++)
		ck_assert_uint_eq(t_ctl(rt, MK_CTL_TENANT_FAIRNESS_BASE + p), 1);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_TENANT_FAIRNESS_BASE + 4), 0);
	mk_runtime_destroy(rt);
}
END_TEST

static void set_offsets(struct mk_runtime *rt, const uint32_t *off)
{
	uint32_t p;

	for (p = 0; p <= MK_PRIORITY_LEVELS; p++)
		ck_assert_int_eq(mk_runtime_write_ctl(rt, MK_CTL_PRIORITY_OFFSETS_BASE + p,
						      off[p], NULL), 0);
}

/*
 * The offsets are read when a slot is claimed (PROTOCOL.md 6.3), not when
 * it was published: a slot outside every partition waits, PUBLISHED, and
 * runs once the offsets cover it again; a slot whose partition changed
 * before it ran is claimed and counted in the new one.
 */
START_TEST(test_backend_cpu_priority_offsets_live)
{
	static const uint32_t none[6] = { 0, 0, 0, 0, 0, 0 };
	static const uint32_t dflt[6] = { 0, 2, 4, 6, 8, 10 };
	static const uint32_t normal[6] = { 0, 0, 0, 10, 10, 10 };
	struct mk_runtime *rt = rt_create(MK_SCHED_PRIORITY, 0, 1);

	start(rt);
	set_offsets(rt, none);
	probe(rt, 1, 1, 0, 0); /* slot 3: HIGH by default, now in none */
	ck_assert_int_eq(mk_runtime_wait(rt, 3, 100000000), -ETIMEDOUT);
	ck_assert_int_eq(mk_runtime_slot_status(rt, 3), MK_SLOT_PUBLISHED);
	set_offsets(rt, dflt);
	ck_assert_int_eq(mk_runtime_wait(rt, 3, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_PRIORITY_FAIRNESS_BASE + 1), 1);
	ck_assert_uint_eq(t_ctl(rt, OBS(8 + 0)), 1); /* a HIGH claim: +1 */
	mk_runtime_destroy(rt);

	rt = rt_create(MK_SCHED_PRIORITY, 0, 1);
	probe(rt, 1, 0, 0, 0); /* slot 2, queued as HIGH (not started) */
	set_offsets(rt, normal);
	start(rt);
	ck_assert_int_eq(mk_runtime_wait(rt, 2, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_PRIORITY_FAIRNESS_BASE + 1), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_PRIORITY_FAIRNESS_BASE + 2), 1);
	ck_assert_uint_eq(t_ctl(rt, OBS(8 + 0)), 0); /* NORMAL resets it */
	mk_runtime_destroy(rt);
}
END_TEST

/*
 * Hazard 6.4 as the reference has it: with the counter at 16 and no
 * lower work, CRITICAL is never served; a LOW slot resets the counter.
 */
START_TEST(test_backend_cpu_priority_starvation_hazard)
{
	struct mk_runtime *rt = rt_create(MK_SCHED_PRIORITY, 0, 1);

	start(rt);
	ck_assert_int_eq(mk_runtime_write_ctl(rt, MK_CTL_PRIORITY_STARVATION,
					      16, NULL), 0);
	probe(rt, 0, 0, 1, 0);
	ck_assert_int_eq(mk_runtime_wait(rt, 0, 100000000), -ETIMEDOUT);
	ck_assert_int_eq(mk_runtime_slot_status(rt, 0), MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_PRIORITY_STARVATION), 16);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_PRIORITY_FAIRNESS_BASE + 0), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_TENANT_FAIRNESS_BASE + 1), 0);
	probe(rt, 3, 0, 2, 3); /* LOW */
	ck_assert_int_eq(mk_runtime_wait(rt, 0, T_WAIT_NS), 0);
	ck_assert_int_eq(mk_runtime_wait(rt, 6, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, OBS(3)), 0);     /* LOW ran first, */
	ck_assert_uint_eq(t_ctl(rt, OBS(8 + 3)), 0); /* reset the counter, */
	ck_assert_uint_eq(t_ctl(rt, OBS(0)), 1);     /* then CRITICAL: +1 */
	ck_assert_uint_eq(t_ctl(rt, OBS(8 + 0)), 1);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_PRIORITY_STARVATION), 1);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_PRIORITY_FAIRNESS_BASE + 0), 1);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_PRIORITY_FAIRNESS_BASE + 3), 1);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_TENANT_FAIRNESS_BASE + 1), 1);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_TENANT_FAIRNESS_BASE + 2), 1);
	mk_runtime_destroy(rt);
}
END_TEST

/*
 * MK_CFG_STARVATION_FIX: forced-lower that finds nothing serves
 * CRITICAL/HIGH in the same iteration, but lower work still goes first
 * while the counter is >= 16.
 */
START_TEST(test_backend_cpu_priority_starvation_fix)
{
	struct mk_runtime *rt = rt_create(MK_SCHED_PRIORITY,
					  MK_CFG_STARVATION_FIX, 1);

	start(rt);
	ck_assert_int_eq(mk_runtime_write_ctl(rt, MK_CTL_PRIORITY_STARVATION,
					      16, NULL), 0);
	probe(rt, 0, 0, 0, 0);
	ck_assert_int_eq(mk_runtime_wait(rt, 0, T_WAIT_NS), 0);
	probe(rt, 1, 0, 0, 1);
	ck_assert_int_eq(mk_runtime_wait(rt, 2, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, OBS(8 + 0)), 17);
	ck_assert_uint_eq(t_ctl(rt, OBS(8 + 1)), 18);
	ck_assert_int_eq(mk_runtime_stop(rt), 0);
	probe(rt, 0, 1, 0, 4); /* CRITICAL queued before NORMAL */
	probe(rt, 2, 0, 0, 2);
	start(rt);
	ck_assert_int_eq(mk_runtime_wait(rt, 1, T_WAIT_NS), 0);
	ck_assert_int_eq(mk_runtime_wait(rt, 4, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, OBS(2)), 2); /* NORMAL third */
	ck_assert_uint_eq(t_ctl(rt, OBS(8 + 2)), 0);
	ck_assert_uint_eq(t_ctl(rt, OBS(4)), 3); /* then CRITICAL */
	ck_assert_uint_eq(t_ctl(rt, OBS(8 + 4)), 1);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_PRIORITY_FAIRNESS_BASE + 0), 2);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_PRIORITY_FAIRNESS_BASE + 1), 1);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_PRIORITY_FAIRNESS_BASE + 2), 1);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_TENANT_FAIRNESS_BASE + 0), 4);
	mk_runtime_destroy(rt);
}
END_TEST

/* ---- idle workers sleep --------------------------------------------------- */

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Process CPU time / wall time over @ms of sleeping in this thread. */
static double cpu_share(long ms)
{
	struct timespec d = { ms / 1000, (ms % 1000) * 1000000 };
	int64_t c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID), w0 = now_ns(CLOCK_MONOTONIC);

	while (nanosleep(&d, &d) && errno == EINTR)
		;
	return (double)(now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) /
	       (double)(now_ns(CLOCK_MONOTONIC) - w0);
}

/*
 * A started runtime with no work, and one with a parked (tenant-masked)
 * slot, must not spin: two workers together burn under a quarter of one
 * core (they measure ~0.1% and ~2%). Not a speed threshold: spinning
 * workers take about one core each.
 */
START_TEST(test_backend_cpu_idle_workers_sleep)
{
	struct mk_runtime *rt;
	uint32_t args[2] = { 1, OBS(0) };
	double idle, parked;
	const char *pre = getenv("LD_PRELOAD");

	if (pre && strstr(pre, "vgpreload"))
		return; /* valgrind: its scheduler's CPU time says nothing */
	rt = rt_create(MK_SCHED_SHARDED, 0, 2);
	start(rt);
	cpu_share(20); /* let the workers finish their first spin */
	idle = cpu_share(300);
	ck_assert_int_eq(mk_runtime_write_ctl(rt, MK_CTL_TENANT_MASK_DEFAULT + 2,
					      0, NULL), 0);
	ck_assert_int_eq(mk_runtime_publish(rt, 3, 2, MK_OP_ATOMIC_ADD, args, 2,
					    NULL), 0);
	cpu_share(20);
	parked = cpu_share(300);
	ck_assert_msg(idle < 0.25, "idle runtime used %.0f%% CPU", idle * 100);
	ck_assert_msg(parked < 0.25, "with a parked slot: %.0f%% CPU",
		      parked * 100);
	ck_assert_int_eq(mk_runtime_slot_status(rt, 3), MK_SLOT_PUBLISHED);
	mk_runtime_destroy(rt);
}
END_TEST

/* ---- busy workers still release parked slots ----------------------------- */

#define BSLOTS 32768u /* busy ring: slot 0 parked, then BSLOTS - 1 memcpys */
#define BWORDS 4096u  /* words per memcpy: ~1-2 us of work per command */
#define BPROBE (2u * BWORDS) /* observable the probe writes */

/*
 * Slot 0, tenant 2 (masked off), copies DONE_COUNT to OBS(BPROBE) when it
 * runs; slots 1.. keep both workers busy until the ring drains. When
 * @by_opcode, slot 1000 enables tenant 2 (an opcode's store: found by the
 * timed re-check); else the host does, once 1000 slots ran (park_gen).
 * Either way slot 0 must run long before the ring drains, not only when a
 * worker finds the queues empty. Returns how many slots ran before it.
 */
static uint32_t busy_release(int by_opcode)
{
	struct mk_slot *img = calloc(BSLOTS, sizeof(*img));
	uint32_t probe[2] = { MK_CTL_DONE_COUNT, BPROBE }, i, ran;
	struct mk_runtime *rt = NULL;
	struct mk_config cfg;
	struct mk_err err;

	ck_assert_ptr_nonnull(img);
	mk_config_init(&cfg);
	cfg.backend = "cpu";
	cfg.slots = BSLOTS;
	cfg.observables = BPROBE + 1;
	cfg.tenants = 2; /* tenants 0 and 1 enabled, 2 not */
	cfg.workers = 2;
	ck_assert_int_eq(mk_runtime_create(&cfg, &rt, &err), 0);
	ck_assert_int_eq(mk_runtime_publish(rt, 0, 2, MK_OP_LOAD_U32, probe, 2,
					    &err), 0);
	for (i = 1; i < BSLOTS; i++) {
		img[i].status = MK_SLOT_PUBLISHED;
		img[i].opcode = MK_OP_MEMCPY;
		img[i].priority = MK_PRIORITY_NORMAL;
		img[i].args[0] = OBS(0);
		img[i].args[1] = OBS(BWORDS);
		img[i].args[2] = BWORDS;
	}
	if (by_opcode) {
		img[1000].opcode = MK_OP_STORE_U32;
		img[1000].args[0] = 1;
		img[1000].args[1] = MK_CTL_TENANT_MASK_DEFAULT + 2;
	}
	ck_assert_int_eq(mk_runtime_publish_images(rt, 1, img + 1, BSLOTS - 1,
						   &err), 0);
	start(rt);
	if (!by_opcode) {
		while (t_ctl(rt, MK_CTL_DONE_COUNT) < 1000)
			;
		ck_assert_int_eq(mk_runtime_write_ctl(rt, MK_CTL_TENANT_MASK_DEFAULT + 2,
						      1, NULL), 0);
	}
	ck_assert_int_eq(mk_runtime_wait(rt, 0, T_WAIT_NS), 0);
	ran = t_ctl(rt, OBS(BPROBE));
	mk_runtime_destroy(rt);
	free(img);
	return ran;
}

START_TEST(test_backend_cpu_busy_workers_release_parked)
{
	uint32_t host = busy_release(0), op = busy_release(1);

	ck_assert_msg(host < BSLOTS / 2,
		      "host-enabled tenant: parked slot ran after %u of %u", host,
		      BSLOTS - 1);
	ck_assert_msg(op < BSLOTS / 2,
		      "opcode-enabled tenant: parked slot ran after %u of %u", op,
		      BSLOTS - 1);
}
END_TEST

static Suite *backend_cpu_suite(void)
{
	Suite *s = suite_create("backend_cpu");
	TCase *tc = tcase_create("load");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_backend_cpu_exactly_once_sharded);
	tcase_add_test(tc, test_backend_cpu_exactly_once_priority);
	tcase_add_test(tc, test_backend_cpu_one_slot_contention);
	tcase_add_test(tc, test_backend_cpu_stop_restart_loses_nothing);
	suite_add_tcase(s, tc);
	tc = tcase_create("one_worker");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_backend_cpu_priority_partition_order);
	tcase_add_test(tc, test_backend_cpu_priority_offsets_live);
	tcase_add_test(tc, test_backend_cpu_priority_starvation_hazard);
	tcase_add_test(tc, test_backend_cpu_priority_starvation_fix);
	tcase_add_test(tc, test_backend_cpu_idle_workers_sleep);
	tcase_add_test(tc, test_backend_cpu_busy_workers_release_parked);
	suite_add_tcase(s, tc);
	return s;
}

MK_CHECK_MAIN(backend_cpu_suite)
