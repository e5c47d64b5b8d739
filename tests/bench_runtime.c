/* SPDX-License-Identifier: MIT */
/*
 * tests/bench_runtime.c - API benchmarks of a runtime backend, each beside a
 * peer measured in the same run:
 *   1. round trip publish -> DONE visible (p50/p99) vs a mutex+condvar
 *      hand-off to a worker thread and back (the classic thread-pool call);
 *   2. batched throughput (NOP and ATOMIC_ADD, 1024-slot image batches)
 *      vs the same commands executed inline by the calling thread through
 *      runtime/interp.h (the ceiling: no queue, no threads);
 *   3. the host half alone: publishing the whole ring as one image range
 *      with the kernel stopped (locks, validation, copy, status last) vs a
 *      memcpy of the same bytes between two host buffers (the floor).
 * Usage: bench_runtime [cpu|cuda] [iterations]. No timing thresholds: it
 * prints numbers and ratios; docs/BENCH.md records them.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/interp.h"
#include "runtime/runtime.h"
#include "runtime/wake.h"

#define BATCH 1024u
#define RING 16384u

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void pct(int64_t *v, int n, double *p50, double *p99)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_i64);
	*p50 = (double)v[n / 2] / 1000.0;
	*p99 = (double)v[(n * 99) / 100] / 1000.0;
}

/* ---- peer: condvar hand-off ------------------------------------------------ */
struct handoff {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int req, resp, quit;
};

static void *handoff_worker(void *p)
{
	struct handoff *h = p;

	pthread_mutex_lock(&h->mu);
	while (!h->quit) {
		while (!h->req && !h->quit)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->req) {
			h->req = 0;
			h->resp = 1;
			pthread_cond_broadcast(&h->cv);
		}
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static void bench_handoff(int n, double *p50, double *p99)
{
	struct handoff h = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0 };
	int64_t *lat = calloc((size_t)n, sizeof(*lat));
	pthread_t th;
	int i;

	pthread_create(&th, NULL, handoff_worker, &h);
	for (i = 0; i < n; i++) {
		int64_t t0 = mk_now_ns();

		pthread_mutex_lock(&h.mu);
		h.req = 1;
		pthread_cond_broadcast(&h.cv);
		while (!h.resp)
			pthread_cond_wait(&h.cv, &h.mu);
		h.resp = 0;
		pthread_mutex_unlock(&h.mu);
		lat[i] = mk_now_ns() - t0;
	}
	pthread_mutex_lock(&h.mu);
	h.quit = 1;
	pthread_cond_broadcast(&h.cv);
	pthread_mutex_unlock(&h.mu);
	pthread_join(th, NULL);
	pct(lat, n, p50, p99);
	free(lat);
}

/* ---- runtime round trip ---------------------------------------------------- */
static int bench_roundtrip(struct mk_runtime *rt, int n, double *p50, double *p99)
{
	int64_t *lat = calloc((size_t)n, sizeof(*lat));
	int i, rc = 0;

	for (i = 0; i < n && !rc; i++) {
		uint32_t slot = (uint32_t)i % 64u;
		int64_t t0 = mk_now_ns();

		rc = mk_runtime_publish(rt, slot, 0, MK_OP_NOP, NULL, 0, NULL);
		while (!rc && mk_runtime_slot_done(rt, slot) != 1)
			__builtin_ia32_pause();
		lat[i] = mk_now_ns() - t0;
	}
	if (!rc)
		pct(lat, n, p50, p99);
	free(lat);
	return rc;
}

/* ---- batched throughput ---------------------------------------------------- */
static double bench_batched(struct mk_runtime *rt, uint32_t op, uint64_t total)
{
	struct mk_slot *img = calloc(BATCH, sizeof(*img));
	uint64_t done = 0;
	uint32_t first = 0, i;
	int64_t t0;

	for (i = 0; i < BATCH; i++) {
		img[i].opcode = op;
		img[i].args[0] = 1;
		img[i].args[1] = MK_CTL_OBSERVABLE_BASE;
	}
	t0 = mk_now_ns();
	while (done < total) {
		/* The batch 8 batches back must be DONE before its slots are reused. */
		for (i = 0; i < BATCH; i++)
			while (mk_runtime_slot_done(rt, first + i) == 0 &&
			       done >= RING)
				__builtin_ia32_pause();
		if (mk_runtime_publish_images(rt, first, img, BATCH, NULL))
			break;
		done += BATCH;
		first = (first + BATCH) % RING;
	}
	for (i = 0; i < RING; i++)
		while (mk_runtime_slot_done(rt, i) == 0)
			__builtin_ia32_pause();
	free(img);
	return (double)done / ((double)(mk_now_ns() - t0) / 1e9);
}

/* Peer: the same commands executed inline through the shared semantics. */
static double bench_inline(uint32_t op, uint64_t total)
{
	uint32_t *ctl = calloc(MK_CONTROL_MIN_WORDS + 256, 4);
	uint32_t *ring = calloc(RING * MK_SLOT_WORDS, 4);
	struct mk_exec x;
	uint32_t w[MK_SLOT_WORDS] = { MK_SLOT_CLAIMED, op, 0, 2, 1,
				      MK_CTL_OBSERVABLE_BASE };
	uint64_t i;
	int64_t t0;

	memset(&x, 0, sizeof(x));
	x.ctl = ctl;
	x.ring = ring;
	x.ctl_words = MK_CONTROL_MIN_WORDS + 256;
	x.ring_words = RING * MK_SLOT_WORDS;
	t0 = mk_now_ns();
	for (i = 0; i < total; i++)
		mk_exec_claimed(&x, (uint32_t)(i % RING) * MK_SLOT_WORDS, w);
	t0 = mk_now_ns() - t0;
	free(ctl);
	free(ring);
	return (double)total / ((double)t0 / 1e9);
}

/*
 * Host publish of the whole ring, kernel stopped (nothing drains, so this
 * is the host path alone); the kernel then drains it before the next rep.
 * Best of 10, ns per slot. *@peer: memcpy of the images, ns per slot.
 */
static double bench_host_publish(struct mk_runtime *rt, double *peer)
{
	static struct mk_slot img[RING], copy[RING];
	double best = 1e30, pbest = 1e30;
	struct mk_err err;
	uint32_t i;
	int r;

	memset(img, 0, sizeof(img));
	for (r = 0; r < (int)RING; r++)
		img[r].opcode = MK_OP_NOP;
	for (r = 0; r < 10; r++) {
		int64_t t0;

		mk_runtime_stop(rt);
		t0 = mk_now_ns();
		if (mk_runtime_publish_images(rt, 0, img, RING, &err))
			return -1;
		best = fmin(best, (double)(mk_now_ns() - t0));
		t0 = mk_now_ns();
		memcpy(copy, img, sizeof(img));
		__asm__ volatile("" : : "r"(copy) : "memory"); /* keep the copy */
		pbest = fmin(pbest, (double)(mk_now_ns() - t0));
		if (mk_runtime_start(rt, &err))
			return -1;
		for (i = 0; i < RING; i++)
			if (mk_runtime_wait(rt, i, 10000000000LL))
				return -1;
	}
	*peer = pbest / RING;
	return best / RING;
}

int main(int argc, char **argv)
{
	const char *backend = argc > 1 ? argv[1] : "cpu";
	int n = argc > 2 ? atoi(argv[2]) : 20000;
	struct mk_config cfg;
	struct mk_runtime *rt = NULL;
	struct mk_status st;
	struct mk_err err;
	double r50, r99, h50, h99, thr, peer;
	uint64_t total = (uint64_t)n * 200u;

	mk_config_init(&cfg);
	cfg.backend = backend;
	cfg.slots = RING;
	if (mk_runtime_create(&cfg, &rt, &err) || mk_runtime_start(rt, &err)) {
		printf("skipped: backend %s: %s\n", backend, err.msg);
		mk_runtime_destroy(rt);
		return 0;
	}
	mk_runtime_status(rt, &st);
	printf("bench_runtime: backend=%s device=\"%s\" n=%d\n", st.backend,
	       st.device, n);
	if (bench_roundtrip(rt, n, &r50, &r99)) {
		printf("round trip failed\n");
		return 1;
	}
	bench_handoff(n, &h50, &h99);
	printf("%-44s p50 %8.2f us  p99 %8.2f us\n", "round trip publish->DONE (NOP)", r50, r99);
	printf("%-44s p50 %8.2f us  p99 %8.2f us\n", "peer: mutex+condvar hand-off", h50, h99);
	printf("%-44s %.2fx (p50)\n", "ratio peer/megafs", h50 / r50);
	thr = bench_batched(rt, MK_OP_NOP, total);
	peer = bench_inline(MK_OP_NOP, total);
	printf("%-44s %10.2f M slots/s  (inline peer %8.2f M/s, ratio %.2f)\n",
	       "batched NOP, 1024-slot images", thr / 1e6, peer / 1e6, thr / peer);
	thr = bench_batched(rt, MK_OP_ATOMIC_ADD, total);
	peer = bench_inline(MK_OP_ATOMIC_ADD, total);
	printf("%-44s %10.2f M slots/s  (inline peer %8.2f M/s, ratio %.2f)\n",
	       "batched ATOMIC_ADD, 1024-slot images", thr / 1e6, peer / 1e6,
	       thr / peer);
	thr = bench_host_publish(rt, &peer);
	if (thr < 0) {
		printf("host publish failed: %s\n", err.msg);
		return 1;
	}
	printf("%-44s %10.2f ns/slot = %8.2f M slots/s  (memcpy peer %.2f ns/slot, ratio %.2f)\n",
	       "host publish of 16384 images, kernel stopped", thr, 1e3 / thr,
	       peer, peer / thr);
	mk_runtime_destroy(rt);
	return 0;
}
