/* SPDX-License-Identifier: MIT */
/*
 * tests/bench_gpu.c - the CUDA backend against plain CUDA launches, all
 * measured in this one run on the same GPU:
 *   1. round trip publish -> DONE visible through the runtime API (p50/p99;
 *      spinning on the slot status, and blocking in mk_runtime_wait) vs
 *      (a) launching a 1-thread kernel + cudaStreamSynchronize and
 *      (b) a CUDA Graph launch + sync;
 *   2. batched throughput (NOP and ATOMIC_ADD, one image batch = the whole
 *      ring per kick) vs back-to-back async kernel launches; plus single
 *      publishes from 4 host threads.
 * The peers run while the megakernel is stopped, so they get the GPU alone.
 * No thresholds: it prints numbers and ratios (docs/BENCH.md keeps them).
 * Without a CUDA device it prints "skipped: no CUDA device" and exits 0.
 *   build/release/tests/bench_gpu [round-trip-iterations]
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/megakernel.h"
#include "runtime/runtime.h"
#include "runtime/wake.h"

/* Present only when the CUDA backend is linked in (weak: CUDA=0 builds). */
#pragma weak mk_cuda_peer_launch_sync
#pragma weak mk_cuda_peer_graph_sync
#pragma weak mk_cuda_peer_launch_tput

#define RT_SLOTS 64u
#define BATCH_SLOTS 1048576u
#define BATCH_REPS 5
#define MT_THREADS 4
#define MT_PER_THREAD 200000u

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void pct(int64_t *v, uint32_t n, double *p50, double *p99)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	*p50 = (double)v[n / 2] / 1000.0;
	*p99 = (double)v[(n * 99u) / 100u] / 1000.0;
}

static struct mk_runtime *open_cuda(uint32_t slots, struct mk_err *err)
{
	struct mk_config cfg;
	struct mk_runtime *rt = NULL;

	mk_config_init(&cfg);
	cfg.backend = "cuda";
	cfg.slots = slots;
	if (mk_runtime_create(&cfg, &rt, err))
		return NULL;
	return rt;
}

/* ---- round trip ------------------------------------------------------------ */

/* publish -> DONE; @block: mk_runtime_wait, else spin on the status. */
static int round_trip(struct mk_runtime *rt, uint32_t op, uint32_t n, int block,
		      int64_t *ns)
{
	uint32_t args[2] = { 1, MK_CTL_OBSERVABLE_BASE }, i;

	for (i = 0; i < n + 1000u; i++) {
		uint32_t slot = i % RT_SLOTS;
		int64_t t0 = mk_now_ns();

		if (mk_runtime_publish(rt, slot, 0, op, args, 2, NULL))
			return -1;
		if (block) {
			if (mk_runtime_wait(rt, slot, 10000000000LL))
				return -1;
		} else {
			while (mk_runtime_slot_done(rt, slot) != 1)
				__builtin_ia32_pause();
		}
		if (i >= 1000u) /* the first 1000 warm up */
			ns[i - 1000u] = mk_now_ns() - t0;
	}
	return 0;
}

static void print_lat(const char *what, int64_t *ns, uint32_t n, double *p50_out)
{
	double p50, p99;

	pct(ns, n, &p50, &p99);
	printf("  %-44s p50 %8.2f us   p99 %8.2f us\n", what, p50, p99);
	if (p50_out)
		*p50_out = p50;
}

/* With MK_CUDA_TRACE=1 the backend's description carries stage timings. */
static void print_trace(struct mk_runtime *rt)
{
	struct mk_status st;

	if (!getenv("MK_CUDA_TRACE"))
		return;
	mk_runtime_status(rt, &st);
	printf("    %s\n", st.device);
}

static void bench_round_trip(struct mk_runtime *rt, uint32_t n, int64_t *ns,
			     double *mk_p50)
{
	printf("round trip publish -> DONE visible, %u ops each:\n", n);
	if (round_trip(rt, MK_OP_NOP, n, 0, ns) == 0)
		print_lat("megafs cuda NOP (spin on status)", ns, n, mk_p50);
	print_trace(rt);
	if (round_trip(rt, MK_OP_ATOMIC_ADD, n, 0, ns) == 0)
		print_lat("megafs cuda ATOMIC_ADD (spin on status)", ns, n, NULL);
	if (round_trip(rt, MK_OP_NOP, n / 4u, 1, ns) == 0)
		print_lat("megafs cuda NOP (mk_runtime_wait, futex)", ns, n / 4u, NULL);
	print_trace(rt);
}

static void bench_peers_latency(uint32_t n, int64_t *ns, double *l50, double *g50)
{
	int64_t total = 0;

	*l50 = *g50 = 0;
	if (!mk_cuda_peer_launch_sync) {
		printf("  (peers not built)\n");
		return;
	}
	if (mk_cuda_peer_launch_sync(n, ns, &total) == 0)
		print_lat("peer: 1-thread kernel launch + sync", ns, n, l50);
	if (mk_cuda_peer_graph_sync(n, ns, &total) == 0)
		print_lat("peer: CUDA Graph launch + sync", ns, n, g50);
}

/* ---- batched throughput ---------------------------------------------------- */

/* Wait until DONE_COUNT reaches @target; returns the time it happened. */
static int64_t wait_done_count(struct mk_runtime *rt, uint32_t target)
{
	uint32_t v = 0;
	int64_t t0 = mk_now_ns();

	for (;;) {
		if (mk_runtime_read_ctl(rt, MK_CTL_DONE_COUNT, 1, &v))
			return -1;
		if ((int32_t)(v - target) >= 0)
			return mk_now_ns();
		if (mk_now_ns() - t0 > 20000000000LL)
			return -1;
	}
}

/* One whole-ring image batch per rep; best GPU drain and end-to-end rates. */
static void bench_batch(struct mk_runtime *rt, uint32_t op, const char *name,
			struct mk_slot *img, double *best_drain)
{
	double drain = 0, e2e = 0;
	uint32_t i, done = 0;
	int rep;

	mk_runtime_read_ctl(rt, MK_CTL_DONE_COUNT, 1, &done);
	for (i = 0; i < BATCH_SLOTS; i++) {
		memset(&img[i], 0, sizeof(img[i]));
		img[i].opcode = op;
		img[i].priority = MK_PRIORITY_NORMAL;
		img[i].args[0] = 1;
		img[i].args[1] = MK_CTL_OBSERVABLE_BASE + (i % 256u);
	}
	for (rep = 0; rep < BATCH_REPS; rep++) {
		int64_t t0 = mk_now_ns(), t1, t2;

		if (mk_runtime_publish_images(rt, 0, img, BATCH_SLOTS, NULL))
			return;
		t1 = mk_now_ns(); /* the kick is the last thing publish does */
		done += BATCH_SLOTS;
		t2 = wait_done_count(rt, done);
		if (t2 < 0)
			return;
		if (BATCH_SLOTS / ((double)(t2 - t1) / 1e9) > drain)
			drain = BATCH_SLOTS / ((double)(t2 - t1) / 1e9);
		if (BATCH_SLOTS / ((double)(t2 - t0) / 1e9) > e2e)
			e2e = BATCH_SLOTS / ((double)(t2 - t0) / 1e9);
	}
	printf("  %-22s GPU drain after kick %9.1f M slots/s   publish+drain %7.1f M slots/s\n",
	       name, drain / 1e6, e2e / 1e6);
	if (best_drain)
		*best_drain = drain;
}

struct mt_arg {
	struct mk_runtime *rt;
	uint32_t id;
	int failed;
};

static void *mt_publisher(void *p)
{
	struct mt_arg *a = p;
	uint32_t per = RT_SLOTS / MT_THREADS, i, args[2] = { 1, MK_CTL_OBSERVABLE_BASE };

	for (i = 0; i < MT_PER_THREAD && !a->failed; i++) {
		uint32_t slot = a->id * per + i % per;

		while (i >= per && mk_runtime_slot_done(a->rt, slot) != 1)
			__builtin_ia32_pause();
		a->failed = mk_runtime_publish(a->rt, slot, 0, MK_OP_ATOMIC_ADD,
					       args, 2, NULL) != 0;
	}
	return NULL;
}

static void bench_mt(struct mk_runtime *rt)
{
	struct mt_arg a[MT_THREADS];
	pthread_t th[MT_THREADS];
	int64_t t0 = mk_now_ns();
	uint32_t t, s;

	for (t = 0; t < MT_THREADS; t++) {
		a[t] = (struct mt_arg){ .rt = rt, .id = t };
		pthread_create(&th[t], NULL, mt_publisher, &a[t]);
	}
	for (t = 0; t < MT_THREADS; t++)
		pthread_join(th[t], NULL);
	for (s = 0; s < RT_SLOTS; s++)
		mk_runtime_wait(rt, s, 10000000000LL);
	printf("  %-22s %d threads x single publishes: %.2f M slots/s\n",
	       "megafs ATOMIC_ADD", MT_THREADS,
	       MT_THREADS * (double)MT_PER_THREAD / ((double)(mk_now_ns() - t0) / 1e3));
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 20000u;
	double mk50 = 0, l50 = 0, g50 = 0, drain = 0;
	struct mk_runtime *rt, *big;
	struct mk_status st;
	struct mk_slot *img;
	int64_t *ns, total = 0;
	struct mk_err err;

	mk_err_clear(&err);
	if (n < 100)
		n = 100;
	rt = open_cuda(RT_SLOTS, &err);
	if (!rt) {
		printf("bench_gpu: skipped: no CUDA device (%s)\n", err.msg);
		return 0;
	}
	ns = calloc(n + 1000u, sizeof(*ns));
	img = calloc(BATCH_SLOTS, sizeof(*img));
	if (!ns || !img)
		return 1;
	mk_runtime_status(rt, &st);
	printf("== bench_gpu: %s\n", st.device);
	bench_peers_latency(n, ns, &l50, &g50);
	if (mk_runtime_start(rt, &err)) {
		printf("bench_gpu: start failed: %s\n", err.msg);
		return 1;
	}
	bench_round_trip(rt, n, ns, &mk50);
	bench_mt(rt);
	mk_runtime_destroy(rt);
	if (getenv("MK_BENCH_QUICK"))
		return 0; /* round trips only (tuning runs) */
	if (mk50 > 0 && l50 > 0)
		printf("  ratio: launch+sync / megafs = %.1fx, graph+sync / megafs = %.1fx\n",
		       l50 / mk50, g50 / mk50);

	printf("batched throughput, %u slots per kick (best of %d):\n", BATCH_SLOTS,
	       BATCH_REPS);
	big = open_cuda(BATCH_SLOTS, &err);
	if (big && mk_runtime_start(big, &err) == 0) {
		bench_batch(big, MK_OP_NOP, "megafs NOP", img, &drain);
		bench_batch(big, MK_OP_ATOMIC_ADD, "megafs ATOMIC_ADD", img, NULL);
	} else {
		printf("  megafs: %s\n", err.msg);
	}
	mk_runtime_destroy(big);
	if (mk_cuda_peer_launch_tput && mk_cuda_peer_launch_tput(100000, &total) == 0 &&
	    total > 0) {
		double lps = 100000.0 / ((double)total / 1e9);

		printf("  %-22s %9.3f M launches/s\n", "peer: async launches", lps / 1e6);
		if (drain > 0)
			printf("  ratio: megafs NOP drain / launches = %.0fx\n", drain / lps);
	}
	free(img);
	free(ns);
	return 0;
}
