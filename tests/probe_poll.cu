/* SPDX-License-Identifier: MIT */
/*
 * tests/probe_poll.cu - the facts the megakernel's doorbell design rests on,
 * measured on the GPU machine (not part of the product; built and run by
 * scripts/gpu-check.sh, step "probe"):
 *
 *   rtt    latency of one 128-byte volatile read of mapped pinned host
 *          memory, for k polling warps reading at once: k = 1, 2, 4, 8
 *          warps in one SM or on k SMs, each its own 4 KiB page, or all in
 *          one page. Is a second read in flight free, and where not?
 *   pp     closed-loop ping-pong host -> GPU -> host with k polling warps
 *          on k SMs, each reading its own copy of the doorbell, staggered;
 *          the first to see a request claims it with a device-memory CAS,
 *          counts it (red + GPU fence, like a real completion) and posts
 *          the answer. p50/p99 round trip as the host sees it. Exits 1
 *          if any request was not answered exactly once.
 *
 * Build: nvcc -O3 -std=c++17 -arch=sm_90 tests/probe_poll.cu -o probe_poll
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <algorithm>
#include <vector>

#define CK(x)                                                                  \
	do {                                                                   \
		cudaError_t e_ = (x);                                          \
		if (e_ != cudaSuccess) {                                       \
			fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e_)); \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define PAGE_WORDS 512u /* 4 KiB of uint64_t */

static __device__ __forceinline__ unsigned long long gtime(void)
{
	unsigned long long t;

	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
	return t;
}

/*
 * rtt: warp w of the kernel polls page (same_page ? 0 : w), line w % 32
 * (same page) or 0; every warp @iters reads, starting @stagger cycles
 * after the previous warp. out[w] = {sum cycles, sum ns}.
 */
__global__ void rtt_kernel(const uint64_t *buf, int same_page, int per_sm,
			   int iters, long long stagger, unsigned long long *out,
			   unsigned int *sink)
{
	uint32_t w = blockIdx.x * per_sm + threadIdx.x / 32u, lane = threadIdx.x & 31u;
	const uint64_t *p = buf + (same_page ? (w % 32u) * 16u : w * PAGE_WORDS);
	long long c0 = clock64(), sc = 0;
	unsigned long long sn = 0, acc = 0;
	int i;

	while (clock64() - c0 < stagger * w)
		;
	for (i = 0; i < iters; i++) {
		long long t0 = clock64();
		unsigned long long n0 = gtime();
		uint64_t a = 0, b = 0;

		if (lane < 8u)
			asm volatile("ld.volatile.global.v2.u64 {%0,%1}, [%2];"
				     : "=l"(a), "=l"(b)
				     : "l"(p + 2u * lane)
				     : "memory");
		acc += a ^ b;
		acc = __shfl_sync(0xffffffffu, acc, 0);
		sc += clock64() - t0;
		sn += gtime() - n0;
	}
	if (lane == 0) {
		out[2 * w] = (unsigned long long)sc;
		out[2 * w + 1] = sn;
	}
	if (acc == 12345u)
		*sink = 1;
}

/*
 * pp: warp k (block k, one warp each) polls doorbell copy k (its own page,
 * u64 seq written by the host). The first warp that sees seq claims it
 * (atomicMax on a device word), adds to a device counter, fences and
 * stores seq to the host's answer word. Leaves when the host writes ~0.
 */
__global__ void pp_kernel(const uint64_t *bell, uint64_t *answer,
			  unsigned long long *claimed, unsigned int *count,
			  long long stagger)
{
	const uint64_t *p = bell + blockIdx.x * PAGE_WORDS;
	uint64_t last = 0;
	long long c0 = clock64();

	if (threadIdx.x != 0)
		return;
	while (clock64() - c0 < stagger * blockIdx.x)
		;
	for (;;) {
		uint64_t v = *(const volatile uint64_t *)p;

		if (v == ~0ull)
			break;
		if (v == last)
			continue;
		last = v;
		if (gridDim.x > 1 && atomicMax(claimed, v) >= v)
			continue; /* another poller took it */
		asm volatile("red.global.add.u32 [%0], 1;" ::"l"(count) : "memory");
		__threadfence();
		*(volatile uint64_t *)answer = v;
	}
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void rtt(const uint64_t *dbuf, int warps, int per_sm, int same_page,
		long long stagger, const char *what)
{
	unsigned long long *out, *hout;
	unsigned int *sink;
	int iters = 4000, blocks = warps / per_sm, w;
	double c = 0, n = 0;

	CK(cudaMalloc(&out, 16 * 64));
	CK(cudaMalloc(&sink, 4));
	hout = (unsigned long long *)malloc(16 * 64);
	rtt_kernel<<<blocks, 32 * per_sm>>>(dbuf, same_page, per_sm, iters,
					     stagger, out, sink);
	CK(cudaDeviceSynchronize());
	CK(cudaMemcpy(hout, out, 16 * (size_t)warps, cudaMemcpyDeviceToHost));
	for (w = 0; w < warps; w++) {
		c += (double)hout[2 * w] / iters;
		n += (double)hout[2 * w + 1] / iters;
	}
	printf("rtt  %-40s warps %d: %6.0f cycles  %6.0f ns per read\n", what,
	       warps, c / warps, n / warps);
	CK(cudaFree(out));
	CK(cudaFree(sink));
	free(hout);
}

/* Returns 1 unless every request was answered exactly once. */
static int pp(int k, long long stagger, int wc)
{
	uint64_t *bell, *dbell, *answer, *danswer;
	unsigned long long *claimed;
	unsigned int *count, hcount = 0;
	int n = 20000, i, j;
	std::vector<double> lat;

	CK(cudaHostAlloc(&bell, (size_t)k * PAGE_WORDS * 8,
			 cudaHostAllocMapped |
				 (wc ? cudaHostAllocWriteCombined : 0)));
	CK(cudaHostAlloc(&answer, 4096, cudaHostAllocMapped));
	memset(bell, 0, (size_t)k * PAGE_WORDS * 8);
	*(volatile uint64_t *)answer = 0;
	CK(cudaHostGetDevicePointer(&dbell, bell, 0));
	CK(cudaHostGetDevicePointer(&danswer, answer, 0));
	CK(cudaMalloc(&claimed, 8));
	CK(cudaMalloc(&count, 4));
	CK(cudaMemset(claimed, 0, 8));
	CK(cudaMemset(count, 0, 4));
	pp_kernel<<<k, 32>>>(dbell, danswer, claimed, count, stagger);
	CK(cudaGetLastError());
	for (i = 1; i <= n + 1000; i++) {
		int64_t t0 = now_ns();

		for (j = 0; j < k; j++)
			__atomic_store_n(&bell[j * PAGE_WORDS], (uint64_t)i,
					 __ATOMIC_RELEASE);
		__builtin_ia32_sfence();
		while (__atomic_load_n(&answer[0], __ATOMIC_ACQUIRE) != (uint64_t)i)
			__builtin_ia32_pause();
		if (i > 1000)
			lat.push_back((double)(now_ns() - t0));
	}
	for (j = 0; j < k; j++)
		__atomic_store_n(&bell[j * PAGE_WORDS], ~0ull, __ATOMIC_RELEASE);
	__builtin_ia32_sfence();
	CK(cudaDeviceSynchronize());
	CK(cudaMemcpy(&hcount, count, 4, cudaMemcpyDeviceToHost));
	std::sort(lat.begin(), lat.end());
	printf("pp   k=%d pollers on %d SMs, stagger %5lld cycles, %s: p50 %.2f us  p99 %.2f us  (count %u of %d: %s)\n",
	       k, k, stagger, wc ? "WC bell" : "cached bell",
	       lat[lat.size() / 2] / 1e3, lat[lat.size() * 99 / 100] / 1e3,
	       hcount, n + 1000, hcount == (unsigned)(n + 1000) ? "exact" : "WRONG");
	CK(cudaFreeHost(bell));
	CK(cudaFreeHost(answer));
	CK(cudaFree(claimed));
	CK(cudaFree(count));
	return hcount != (unsigned)(n + 1000);
}

int main(void)
{
	uint64_t *buf, *dbuf;
	int clk_khz = 0, bad = 0;

	CK(cudaSetDeviceFlags(cudaDeviceMapHost));
	CK(cudaDeviceGetAttribute(&clk_khz, cudaDevAttrClockRate, 0));
	printf("probe_poll: SM clock attribute %d MHz\n", clk_khz / 1000);
	CK(cudaHostAlloc(&buf, 64u * PAGE_WORDS * 8, cudaHostAllocMapped |
					       cudaHostAllocWriteCombined));
	memset(buf, 0, 64u * PAGE_WORDS * 8);
	CK(cudaHostGetDevicePointer(&dbuf, buf, 0));
	rtt(dbuf, 1, 1, 0, 0, "1 warp");
	rtt(dbuf, 2, 2, 0, 1300, "one SM, own pages, staggered");
	rtt(dbuf, 4, 4, 0, 650, "one SM, own pages, staggered");
	rtt(dbuf, 2, 1, 0, 1300, "own SMs, own pages, staggered");
	rtt(dbuf, 4, 1, 0, 650, "own SMs, own pages, staggered");
	rtt(dbuf, 8, 1, 0, 330, "own SMs, own pages, staggered");
	rtt(dbuf, 4, 1, 1, 650, "own SMs, one page, staggered");
	rtt(dbuf, 4, 1, 0, 0, "own SMs, own pages, together");
	bad |= pp(1, 0, 1);
	bad |= pp(1, 0, 0);
	bad |= pp(2, 1300, 1);
	bad |= pp(4, 650, 1);
	bad |= pp(4, 650, 0);
	bad |= pp(8, 330, 1);
	CK(cudaFreeHost(buf));
	return bad; /* a lost or doubled answer fails the gpu-check step */
}
