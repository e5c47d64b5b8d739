/* SPDX-License-Identifier: MIT */
/*
 * runtime/backend_cuda_i.h - private to the "cuda" backend: the state that
 * runtime/backend_cuda.c (kernel, queues, words) and
 * runtime/backend_cuda_scan.c (SCAN_CHUNK: shared memory and pattern sets)
 * share, and the calls between them. Nothing else includes it.
 */
#ifndef MK_RUNTIME_BACKEND_CUDA_I_H
#define MK_RUNTIME_BACKEND_CUDA_I_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "kernels/megakernel.h"
#include "runtime/backend.h"
#include "runtime/err.h"
#include "runtime/scan.h"

#define MS 1000000LL
#define COPY_TIMEOUT_NS (10000 * MS)

enum kstate { K_IDLE = 0, K_RUNNING = 1, K_FAULT = 2, K_WEDGED = 3 };

struct mk_cuda_shm;  /* a mapped pinned block (backend_cuda_scan.c) */
struct mk_cuda_dead; /* device memory retired until stop (same) */

/* One pattern set as uploaded (backend_cuda_scan.c). */
struct mk_cuda_up {
	const struct mk_dfa *dfa; /* what it was built from, NULL: none */
	struct mk_dfa_view hv;    /* its host view then (identity check) */
	void *dev;                /* one device allocation: all its tables */
	struct mk_cuda_scan_set desc;
};

/* The scan half's state; everything under mu. */
struct mk_cuda_scan_host {
	pthread_mutex_t mu;
	struct mk_cuda_shm *shm;  /* every mapped block, in use or spare */
	struct mk_cuda_dead *dead;
	struct mk_cuda_up up[MK_SCAN_MAX_SETS];
	struct mk_scan_env *env;  /* of the published snapshot */
	void *tab;                /* device: published snapshot, or NULL */
	void *area;               /* device: job area inside b->dmem (g.off_scan) */
	int published;           /* dstate.scan_area was written */
};

struct mk_backend {
	struct mk_backend_params p;
	int dev, coop, sms;
	char devname[256];
	struct mk_cuda_geom g;
	struct mk_cuda_kargs ka; /* device addresses, per-launch id */
	cudaStream_t kstream;    /* the resident kernel only */
	cudaStream_t side;       /* control/debug copies */
	/* mapped pinned host memory */
	void *hmem;  /* ring | host page | stage: cached, the host reads it */
	void *sqmem; /* the SQ: write-combined, the host only writes it */
	uint32_t *ring;
	uint64_t *sq; /* sq_cap cells: each entry twice (copies A and B) */
	struct mk_cuda_hpage *hp;
	uint32_t *stage; /* pinned bounce buffer for copies, stage_words */
	uint32_t stage_words;
	/* device memory */
	void *dmem;
	/* fields below under sq_mu: the SQ producer */
	pthread_mutex_t sq_mu;
	uint64_t sq_tail;
	uint64_t sq_head_seen;
	uint64_t nudge_pos; /* SQ position + 1 of the last NUDGE, 0 if none */
	uint64_t sq_drops;  /* kicks that found the SQ full */
	int need_rescan;    /* SQ overflowed: rebuild from the ring at start */
	/* io_mu serialises the side stream and the stage buffer */
	pthread_mutex_t io_mu;
	/* kernel lifecycle; kstate is atomic, the rest under life_mu */
	uint32_t kstate;
	uint32_t launch_id;
	uint32_t mon_quit; /* atomic: stop() gave up waiting */
	pthread_mutex_t life_mu;
	pthread_t mon;
	int mon_started;
	char fault[MK_ERR_MSG_MAX]; /* why the kernel is unusable */
	/* lock order: life_mu, then scan.mu, then io_mu */
	struct mk_cuda_scan_host scan;
};

/* ---- backend_cuda.c ------------------------------------------------------ */

/* Record "<what>: <cudaErrorName>: <string>. Fix: ..." and return -errno. */
int mk_cuda_err(struct mk_err *err, cudaError_t e, const char *what);
/* Wait (bounded) for the side stream; caller holds io_mu. */
int mk_cuda_side_sync(struct mk_backend *b, struct mk_err *err);

/* ---- backend_cuda_scan.c (the backend ops of runtime/backend.h) --------- */

void *mk_cuda_alloc_shared(struct mk_backend *b, size_t bytes);
void mk_cuda_free_shared(struct mk_backend *b, void *p);
int mk_cuda_set_scan(struct mk_backend *b, struct mk_scan_env *env,
		     struct mk_err *err);
/* The kernel has left (life_mu held): free retired tables, spare blocks. */
void mk_cuda_scan_reap(struct mk_backend *b);
/* Destroy, the kernel gone: free everything of the scan half. */
void mk_cuda_scan_fini(struct mk_backend *b);

#endif /* MK_RUNTIME_BACKEND_CUDA_I_H */
