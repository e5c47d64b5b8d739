/* SPDX-License-Identifier: MIT */
/*
 * kernels/peer_copy.cu - the pinned host-to-device copy that
 * tests/bench_scan.c compares the raw streaming rate with (issue 5: the
 * stream should reach >= 75% of it). Host code only. It is its own object
 * in libmk.a, pulled in by the bench's plain (not weak) reference in CUDA
 * builds; nothing in the runtime depends on it. Prototype and contract in
 * kernels/peer_copy.h.
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <time.h>

#include "kernels/peer_copy.h"

static int64_t copy_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One timed copy; 0 or a cudaError_t value. */
static cudaError_t copy_once(void *d, const void *h, size_t bytes,
			     cudaStream_t s, int64_t *ns)
{
	int64_t t0 = copy_now_ns();
	cudaError_t rc;

	rc = cudaMemcpyAsync(d, h, bytes, cudaMemcpyHostToDevice, s);
	if (rc == cudaSuccess)
		rc = cudaStreamSynchronize(s);
	*ns = copy_now_ns() - t0;
	return rc;
}

extern "C" double mk_cuda_peer_h2d_gbps(size_t bytes, uint32_t reps)
{
	void *h = NULL, *d = NULL;
	cudaStream_t s = NULL;
	double best = 0;
	int64_t ns = 0;
	cudaError_t rc;
	uint32_t i;

	rc = cudaMallocHost(&h, bytes);
	if (rc == cudaSuccess)
		rc = cudaMalloc(&d, bytes);
	if (rc == cudaSuccess)
		rc = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
	if (rc == cudaSuccess)
		rc = copy_once(d, h, bytes, s, &ns); /* warm-up */
	for (i = 0; i < reps && rc == cudaSuccess; i++) {
		rc = copy_once(d, h, bytes, s, &ns);
		if (rc == cudaSuccess && ns > 0 && (double)bytes / (double)ns > best)
			best = (double)bytes / (double)ns; /* bytes/ns = GB/s */
	}
	if (s)
		cudaStreamDestroy(s);
	if (d)
		cudaFree(d);
	if (h)
		cudaFreeHost(h);
	return rc == cudaSuccess ? best : -(double)rc;
}
