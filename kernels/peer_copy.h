/* SPDX-License-Identifier: MIT */
/*
 * kernels/peer_copy.h - the copy peer of tests/bench_scan.c (issue 5): how
 * fast plain CUDA moves pinned host memory to the device, measured in the
 * same process as the stream it is compared with. C types only; the body
 * is kernels/peer_copy.cu (nvcc), built into libmk.a only with CUDA.
 */
#ifndef MK_KERNELS_PEER_COPY_H
#define MK_KERNELS_PEER_COPY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Best of @reps timed cudaMemcpyAsync + cudaStreamSynchronize of @bytes
 * from pinned host memory (cudaMallocHost) to device memory on a
 * non-blocking stream of the current device, after one untimed warm-up
 * copy. Returns GB/s (1e9 bytes per second), or minus the cudaError_t
 * value when a CUDA call fails (nothing is leaked either way).
 */
double mk_cuda_peer_h2d_gbps(size_t bytes, uint32_t reps);

#ifdef __cplusplus
}
#endif

#endif /* MK_KERNELS_PEER_COPY_H */
