/* SPDX-License-Identifier: MIT */
/*
 * kernels/ptx.cuh - the memory accesses of the resident megakernel, spelled
 * out in PTX where the scope and the ordering matter (PROTOCOL.md section
 * 10): volatile (system-scope relaxed) loads and stores of host-shared
 * memory, 16-byte and 2x8-byte vector loads whose elements are single-copy
 * atomic, GPU-scope acquire/release, and the clocks. Device code only,
 * included by kernels/megakernel.cu.
 */
#ifndef MK_KERNELS_PTX_CUH
#define MK_KERNELS_PTX_CUH

#include <stdint.h>

static __device__ __forceinline__ uint32_t ld_vol(const uint32_t *p)
{
	return *(const volatile uint32_t *)p;
}

static __device__ __forceinline__ void st_vol(uint32_t *p, uint32_t v)
{
	*(volatile uint32_t *)p = v;
}

static __device__ __forceinline__ uint64_t ld_vol64(const uint64_t *p)
{
	return *(const volatile uint64_t *)p;
}

static __device__ __forceinline__ void st_vol64(uint64_t *p, uint64_t v)
{
	*(volatile uint64_t *)p = v;
}

/* 16-byte volatile load of host-written memory: never cached stale. */
static __device__ __forceinline__ uint4 ld_vol_v4(const uint32_t *p)
{
	uint4 v;

	asm volatile("ld.volatile.global.v4.u32 {%0,%1,%2,%3}, [%4];"
		     : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
		     : "l"(p)
		     : "memory");
	return v;
}

/* Two 8-byte SQ units; each element is single-copy atomic. */
static __device__ __forceinline__ void ld_vol_u64x2(const uint64_t *p,
						    uint64_t *a, uint64_t *b)
{
	asm volatile("ld.volatile.global.v2.u64 {%0,%1}, [%2];"
		     : "=l"(*a), "=l"(*b)
		     : "l"(p)
		     : "memory");
}

static __device__ __forceinline__ uint32_t ld_acquire_gpu(const uint32_t *p)
{
	uint32_t v;

	asm volatile("ld.acquire.gpu.global.u32 %0, [%1];"
		     : "=r"(v)
		     : "l"(p)
		     : "memory");
	return v;
}

static __device__ __forceinline__ void st_release_gpu(uint32_t *p, uint32_t v)
{
	asm volatile("st.release.gpu.global.u32 [%0], %1;" ::"l"(p), "r"(v)
		     : "memory");
}

static __device__ __forceinline__ void st_release_gpu64(uint64_t *p, uint64_t v)
{
	asm volatile("st.release.gpu.global.u64 [%0], %1;" ::"l"(p), "l"(v)
		     : "memory");
}

/* Acquire at system scope: orders SQ reads before the ring reads after. */
static __device__ __forceinline__ void fence_acq_sys(void)
{
	asm volatile("fence.acq_rel.sys;" ::: "memory");
}

static __device__ __forceinline__ uint64_t now_ns(void)
{
	uint64_t t;

	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
	return t;
}

#endif /* MK_KERNELS_PTX_CUH */
