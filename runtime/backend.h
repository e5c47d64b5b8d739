/* SPDX-License-Identifier: MIT */
/*
 * runtime/backend.h - the backend ops table (SQLite vfs model). A backend
 * owns the three protocol buffers and runs the resident megakernel over
 * them: "cpu" (runtime/backend_cpu.c, the reference, always built) and
 * "cuda" (runtime/backend_cuda.c, or backend_cuda_stub.c without nvcc).
 * Only runtime/runtime.c calls through these pointers, via mk_backend_*.
 */
#ifndef MK_RUNTIME_BACKEND_H
#define MK_RUNTIME_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/err.h"

struct mk_backend;
struct mk_scan_env;

/* What the runtime hands a backend at create time. */
struct mk_backend_params {
	uint32_t slots;
	uint32_t ctl_words;  /* 160 + observables */
	uint32_t dbg_words;  /* 1 + 4 * debug_records */
	int priority;        /* 1: priority scheduler variant */
	int starvation_fix;  /* 1: opt-in fix of the starvation hazard */
	uint32_t workers;    /* CPU threads (0 = online cores) */
	/*
	 * Called (from any backend thread) after slots complete or when the
	 * kernel leaves; cheap. @arg is progress_arg.
	 */
	void (*progress)(void *arg);
	void *progress_arg;
	/* Number of threads blocked waiting for progress (read atomically). */
	const uint32_t *waiters;
};

/* Host-visible views a backend gives back at create time. */
struct mk_buffers {
	uint32_t *ring; /* slots*16 words, host-visible and live (mapped) */
	uint32_t ring_words;
	uint32_t ctl_words;
	uint32_t dbg_words;
	/*
	 * For a ring a device reads across PCIe and stores DONE into (CUDA):
	 * stream_min, non-zero: range publishes of at least this many slots
	 * write whole lines with streaming stores (runtime.c, stream_images);
	 * fan_parts > 1: big range publishes run in up to this many parts on
	 * helper threads (runtime/fanout.h). 0 / 1: off.
	 */
	uint32_t stream_min;
	uint32_t fan_parts;
};

struct mk_backend_ops {
	const char *name;
	/* 0 if usable here, else -ENODEV/-errno with a Fix: hint. */
	int (*probe)(struct mk_err *err);
	/*
	 * Allocate the buffers: control encoded from @init_ctl (ctl_words
	 * words, copied), ring and debug log zeroed. Kernel not started.
	 */
	int (*create)(const struct mk_backend_params *p,
		      const uint32_t *init_ctl, struct mk_backend **out,
		      struct mk_buffers *bufs, struct mk_err *err);
	void (*destroy)(struct mk_backend *b);
	/* Launch the resident loop (control word 0 already cleared). */
	int (*start)(struct mk_backend *b, struct mk_err *err);
	/* Set control word 0 and join the resident loop. */
	int (*stop)(struct mk_backend *b);
	/* 1 while the resident loop runs. */
	int (*running)(struct mk_backend *b);
	/* Doorbell: slot @slot was just published (status already set). */
	void (*kick)(struct mk_backend *b, uint32_t slot);
	/* Doorbell for many slots at once [first, first+count). */
	void (*kick_range)(struct mk_backend *b, uint32_t first, uint32_t count);
	/* Control words may live in device memory: read/write go through here. */
	int (*read_ctl)(struct mk_backend *b, uint32_t first, uint32_t n,
			uint32_t *out);
	int (*write_ctl)(struct mk_backend *b, uint32_t idx, uint32_t v);
	int (*read_dbg)(struct mk_backend *b, uint32_t *out, size_t cap);
	/* Human description of the device ("host, 2 threads"). */
	void (*describe)(struct mk_backend *b, char *buf, size_t len);
	/*
	 * Optional (NULL: unsupported). Memory both the host and the kernel
	 * can read and write (mapped pinned memory for CUDA, at the same
	 * address on both sides), zeroed. CUDA cannot give pinned memory back
	 * while its kernel runs (cudaFreeHost waits for an idle device): its
	 * free_shared keeps the block for reuse until stop or destroy.
	 */
	void *(*alloc_shared)(struct mk_backend *b, size_t bytes);
	void (*free_shared)(struct mk_backend *b, void *p);
	/*
	 * Optional: the SCAN_CHUNK / DFA_STEP tables (runtime/scan.h), in
	 * shared memory; called again whenever sets change, NULL to clear.
	 * CUDA copies each new set to the GPU here (-ENOMEM, -E2BIG, -EIO
	 * with a Fix: hint; that set is then left out). A backend without
	 * it cannot scan (the runtime answers -ENOTSUP).
	 */
	int (*set_scan)(struct mk_backend *b, struct mk_scan_env *env,
			struct mk_err *err);
};

extern const struct mk_backend_ops mk_backend_cpu_ops;
extern const struct mk_backend_ops mk_backend_cuda_ops;

/* Find a backend by name ("cpu", "cuda"); NULL if unknown. */
const struct mk_backend_ops *mk_backend_find(const char *name);

#endif /* MK_RUNTIME_BACKEND_H */
