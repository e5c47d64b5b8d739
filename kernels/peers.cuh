/* SPDX-License-Identifier: MIT */
/*
 * kernels/peers.cuh - the plain-CUDA peers tests/bench_gpu.c measures the
 * megakernel against, in the same process and on the same GPU: a 1-thread
 * kernel launched and synchronised per operation, the same through a CUDA
 * Graph, and back-to-back async launches. Host code, textually part of
 * kernels/megakernel.cu (so the bench's weak references find it in the
 * object the backend already pulls in). Prototypes in kernels/megakernel.h.
 */
#ifndef MK_KERNELS_PEERS_CUH
#define MK_KERNELS_PEERS_CUH

/* A 1-thread kernel: the peer of tests/bench_gpu.c. */
__global__ void mk_peer_kernel(uint32_t *p)
{
	if (p)
		*p += 1u;
}

static int64_t host_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define PEER_TRY(call)                     \
	do {                               \
		rc = (call);               \
		if (rc != cudaSuccess)     \
			goto out;          \
	} while (0)

extern "C" int mk_cuda_peer_launch_sync(uint32_t n, int64_t *ns,
					int64_t *total_ns)
{
	cudaStream_t s = NULL;
	cudaError_t rc;
	int64_t t0, t;
	uint32_t i;

	PEER_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	for (i = 0; i < 16u; i++) /* warm up */
		mk_peer_kernel<<<1, 1, 0, s>>>(NULL);
	PEER_TRY(cudaStreamSynchronize(s));
	t0 = host_ns();
	for (i = 0; i < n; i++) {
		t = host_ns();
		mk_peer_kernel<<<1, 1, 0, s>>>(NULL);
		PEER_TRY(cudaStreamSynchronize(s));
		ns[i] = host_ns() - t;
	}
	*total_ns = host_ns() - t0;
	rc = cudaGetLastError();
out:
	if (s)
		cudaStreamDestroy(s);
	return (int)rc;
}

extern "C" int mk_cuda_peer_graph_sync(uint32_t n, int64_t *ns,
				       int64_t *total_ns)
{
	cudaStream_t s = NULL;
	cudaGraph_t g = NULL;
	cudaGraphExec_t ge = NULL;
	cudaError_t rc;
	int64_t t0, t;
	uint32_t i;

	PEER_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	PEER_TRY(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
	mk_peer_kernel<<<1, 1, 0, s>>>(NULL);
	PEER_TRY(cudaStreamEndCapture(s, &g));
	PEER_TRY(cudaGraphInstantiate(&ge, g, 0));
	for (i = 0; i < 16u; i++)
		PEER_TRY(cudaGraphLaunch(ge, s));
	PEER_TRY(cudaStreamSynchronize(s));
	t0 = host_ns();
	for (i = 0; i < n; i++) {
		t = host_ns();
		PEER_TRY(cudaGraphLaunch(ge, s));
		PEER_TRY(cudaStreamSynchronize(s));
		ns[i] = host_ns() - t;
	}
	*total_ns = host_ns() - t0;
out:
	if (ge)
		cudaGraphExecDestroy(ge);
	if (g)
		cudaGraphDestroy(g);
	if (s)
		cudaStreamDestroy(s);
	return (int)rc;
}

extern "C" int mk_cuda_peer_launch_tput(uint32_t n, int64_t *total_ns)
{
	cudaStream_t s = NULL;
	cudaError_t rc;
	int64_t t0;
	uint32_t i;

	PEER_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	mk_peer_kernel<<<1, 1, 0, s>>>(NULL);
	PEER_TRY(cudaStreamSynchronize(s));
	t0 = host_ns();
	for (i = 0; i < n; i++)
		mk_peer_kernel<<<1, 1, 0, s>>>(NULL);
	PEER_TRY(cudaStreamSynchronize(s));
	*total_ns = host_ns() - t0;
	rc = cudaGetLastError();
out:
	if (s)
		cudaStreamDestroy(s);
	return (int)rc;
}

#endif /* MK_KERNELS_PEERS_CUH */
