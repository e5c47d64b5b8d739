/* SPDX-License-Identifier: MIT */
/*
 * runtime/backend_cuda.c - the "cuda" backend, host side: allocates the
 * buffers, launches the resident megakernel of kernels/megakernel.cu once,
 * feeds it through the submission queue (kick), reads and writes control
 * words while it runs, and watches it for completions, exit and faults.
 * C and the CUDA runtime API only; nvcc code sits behind
 * kernels/megakernel.h. Built when nvcc is found (else backend_cuda_stub.c).
 *
 * SCAN_CHUNK's half (shared memory, pattern sets) is backend_cuda_scan.c;
 * the state both see is in backend_cuda_i.h.
 * Buffers: ring, SQ and host page in one mapped pinned host allocation;
 * control, debug log and scheduler state in one device allocation (the
 * layout and the reasons are in kernels/megakernel.cu). Control and debug
 * words travel with cudaMemcpyAsync on a non-blocking side stream, so they
 * never wait for the kernel's stream; every wait is bounded.
 *
 * Threads: a monitor thread per launch turns kernel progress into
 * params->progress() calls while someone waits (*params->waiters > 0),
 * and notices the kernel leaving (SHUTDOWN opcode, stop) or faulting.
 * Environment (tests, tuning): MK_CUDA_DEVICE (index), MK_CUDA_BLOCKS (grid
 * size), MK_CUDA_STOP_TIMEOUT_MS, MK_CUDA_TEST_TRAP (fault tests),
 * MK_CUDA_TRACE=1 (stage timings in describe()), MK_CUDA_POLLERS (SQ
 * poller warps, 1..6, default 4), MK_CUDA_DIRECT=0 (pollers hand every
 * entry to the executor instead of running lone slots themselves),
 * MK_NT_PUBLISH=1 (range publishes of MK_NT_PUBLISH_MIN slots, 8192,
 * or more with streaming stores; MK_PUBLISH_PARTS in runtime.c); see
 * kernels/megakernel.h and runtime/runtime.c.
 */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <stddef.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "kernels/megakernel.h"
#include "runtime/abi.h"
#include "runtime/backend.h"
#include "runtime/backend_cuda_i.h"
#include "runtime/wake.h"

#define START_TIMEOUT_NS (30000 * MS) /* compute-sanitizer starts slowly */
#define STOP_TIMEOUT_NS (10000 * MS)
#define SQ_FULL_WAIT_NS (2000 * MS)
#define MON_QUERY_NS (1 * MS)          /* cudaStreamQuery period */
#define MON_NAP_NS 10000               /* nap when somebody waited lately */
#define MON_IDLE_NS 200000             /* nap when nobody waited for long */
#define MON_RECENT_NS (50 * MS)        /* "lately" */
#define MON_WANT_HOLD_NS (20 * MS)     /* keep want on this long after */
#define MON_TICK_NS 10000              /* progress ticks after want turns on */
#define MON_TICK_FOR_NS 200000

/* ---- errors: one table from cudaError_t to -errno ----------------------- */

static const struct {
	cudaError_t e;
	int code;
} err_table[] = {
	{ cudaErrorMemoryAllocation, -ENOMEM },
	{ cudaErrorNoDevice, -ENODEV },
	{ cudaErrorInsufficientDriver, -ENODEV },
	{ cudaErrorInvalidDevice, -ENODEV },
	{ cudaErrorNoKernelImageForDevice, -ENODEV },
	{ cudaErrorSystemDriverMismatch, -ENODEV },
	{ cudaErrorCompatNotSupportedOnDevice, -ENODEV },
	{ cudaErrorDevicesUnavailable, -ENODEV },
	{ cudaErrorInitializationError, -ENODEV },
	{ cudaErrorInvalidValue, -EINVAL },
	{ cudaErrorLaunchFailure, -EIO },
	{ cudaErrorIllegalAddress, -EIO },
	{ cudaErrorIllegalInstruction, -EIO },
	{ cudaErrorMisalignedAddress, -EIO },
	{ cudaErrorLaunchTimeout, -EIO },
	{ cudaErrorLaunchOutOfResources, -EIO },
	{ cudaErrorCooperativeLaunchTooLarge, -EIO },
	{ cudaErrorHardwareStackError, -EIO },
	{ cudaErrorAssert, -EIO },
	{ cudaErrorECCUncorrectable, -EIO },
};

static int cuda_errno(cudaError_t e)
{
	size_t i;

	for (i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].e == e)
			return err_table[i].code;
	return -EIO; /* unknown, launch or sticky: the device is suspect */
}

static const char *cuda_fix(int code)
{
	switch (code) {
	case -ENODEV:
		return "no usable CUDA device visible; use -o backend=cpu, or check the NVIDIA driver with nvidia-smi";
	case -ENOMEM:
		return "lower slots=, observables= or debug_records=, or free GPU and pinned host memory";
	case -EINVAL:
		return "this is a megafs bug; report it with the message above";
	default:
		return "destroy the runtime and restart megafs; if it persists, run the GPU suites under compute-sanitizer and check dmesg for Xid errors";
	}
}

int mk_cuda_err(struct mk_err *err, cudaError_t e, const char *what)
{
	int code = cuda_errno(e);

	return mk_err_setf(err, code, cuda_fix(code), "%s: %s: %s", what,
			   cudaGetErrorName(e), cudaGetErrorString(e));
}

/* ---- bounded waits on the side stream ------------------------------------- */

static void nap(long ns)
{
	struct timespec ts = { 0, ns };

	nanosleep(&ts, NULL);
}

/* Never longer than COPY_TIMEOUT_NS. */
int mk_cuda_side_sync(struct mk_backend *b, struct mk_err *err)
{
	int64_t t0 = mk_now_ns();
	long spins = 0;

	for (;;) {
		cudaError_t e = cudaStreamQuery(b->side);

		if (e == cudaSuccess)
			return 0;
		if (e != cudaErrorNotReady)
			return mk_cuda_err(err, e, "control/debug copy failed");
		if (mk_now_ns() - t0 > COPY_TIMEOUT_NS)
			return mk_err_set(err, -EIO,
					  "control/debug copy did not finish in 10 s",
					  "restart megafs; the GPU copy engine looks stuck");
		if (++spins > 64)
			nap(2000);
	}
}

/* Copy @bytes between device @dev and the stage buffer (to_dev: H2D). */
static int stage_copy(struct mk_backend *b, void *dev, size_t bytes,
		      int to_dev, struct mk_err *err)
{
	cudaError_t e;

	if (to_dev)
		e = cudaMemcpyAsync(dev, b->stage, bytes, cudaMemcpyHostToDevice,
				    b->side);
	else
		e = cudaMemcpyAsync(b->stage, dev, bytes, cudaMemcpyDeviceToHost,
				    b->side);
	if (e != cudaSuccess)
		return mk_cuda_err(err, e, "cannot queue a control/debug copy");
	return mk_cuda_side_sync(b, err);
}

/* ---- probe ---------------------------------------------------------------- */

static int env_int(const char *name, int dflt)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : dflt;
}

/* Pick the device and check that it can run this build's kernel. */
static int probe_device(int *dev_out, struct mk_err *err)
{
	int n = 0, dev = env_int("MK_CUDA_DEVICE", 0), major = 0, map = 0;
	cudaError_t e = cudaGetDeviceCount(&n);

	if (e != cudaSuccess)
		return mk_err_setf(err, -ENODEV,
				   "use -o backend=cpu, or check the NVIDIA driver with nvidia-smi",
				   "no CUDA device visible (cudaGetDeviceCount: %s: %s)",
				   cudaGetErrorName(e), cudaGetErrorString(e));
	if (n <= 0)
		return mk_err_set(err, -ENODEV, "no CUDA device visible",
				  "use -o backend=cpu, or check the NVIDIA driver with nvidia-smi");
	if (dev < 0 || dev >= n)
		return mk_err_setf(err, -ENODEV, "set MK_CUDA_DEVICE to 0..n-1",
				   "MK_CUDA_DEVICE=%d but %d device(s) visible",
				   dev, n);
	e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
	if (e == cudaSuccess)
		e = cudaDeviceGetAttribute(&map, cudaDevAttrCanMapHostMemory, dev);
	if (e != cudaSuccess)
		return mk_cuda_err(err, e, "cannot query the CUDA device");
	if (major < 9)
		return mk_err_setf(err, -ENODEV,
				   "use a Hopper-class GPU, rebuild with CUDA_ARCH=<sm>, or use -o backend=cpu",
				   "CUDA device %d has compute capability %d.x; this build needs 9.0+",
				   dev, major);
	if (!map)
		return mk_err_set(err, -ENODEV,
				  "the CUDA device cannot map host memory",
				  "use -o backend=cpu");
	*dev_out = dev;
	return 0;
}

static int cuda_probe(struct mk_err *err)
{
	int dev;

	return probe_device(&dev, err);
}

/* ---- create / destroy ------------------------------------------------------ */

static void cuda_destroy(struct mk_backend *b);

/* Grid size: one block per SM (MK_CUDA_BLOCKS overrides, for tests). */
static int pick_grid(struct mk_backend *b, struct mk_err *err)
{
	int bps = 0, coop = 0, want;
	cudaError_t e;

	e = cudaDeviceGetAttribute(&b->sms, cudaDevAttrMultiProcessorCount, b->dev);
	if (e == cudaSuccess)
		e = cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, b->dev);
	if (e == cudaSuccess)
		e = (cudaError_t)mk_cuda_kernel_occupancy(&bps);
	if (e != cudaSuccess)
		return mk_cuda_err(err, e, "cannot size the megakernel grid");
	if (bps < 1 || b->sms < 1)
		return mk_err_setf(err, -ENODEV, "report the GPU model as a megafs bug",
				   "the megakernel does not fit on an SM (%d blocks/SM)",
				   bps);
	want = env_int("MK_CUDA_BLOCKS", b->sms);
	b->coop = coop;
	b->g.nblocks = (uint32_t)(want > 0 ? want : b->sms);
	return 0;
}

/* The SQ: sq_cap cells of one 128-byte copy per poller. */
static size_t sq_bytes(const struct mk_backend *b)
{
	return (size_t)b->g.sq_cap * b->ka.pollers * MK_SQ_ENTRY_BYTES;
}

/*
 * Mapped pinned host memory: ring | host page | stage (cached: the host
 * reads DONE there), and the SQ in write-combined memory: the host
 * only writes it, and the GPU's reads skip the CPU-cache snoop (measured:
 * ~0.35 us less per discovery).
 */
static int alloc_host(struct mk_backend *b, struct mk_err *err)
{
	size_t ring = ((size_t)b->p.slots * MK_SLOT_BYTES + 4095u) & ~(size_t)4095u;
	size_t sq = sq_bytes(b);
	size_t stage_bytes, total;
	cudaError_t e;

	b->stage_words = b->p.ctl_words > b->p.dbg_words ? b->p.ctl_words
							 : b->p.dbg_words;
	stage_bytes = ((size_t)b->stage_words * 4u + 4095u) & ~(size_t)4095u;
	total = ring + 4096u + stage_bytes;
	e = cudaHostAlloc(&b->hmem, total,
			  cudaHostAllocMapped | cudaHostAllocPortable);
	if (e != cudaSuccess) {
		b->hmem = NULL;
		return mk_cuda_err(err, e, "cannot allocate mapped pinned host memory");
	}
	e = cudaHostAlloc(&b->sqmem, sq,
			  cudaHostAllocMapped | cudaHostAllocPortable |
				  cudaHostAllocWriteCombined);
	if (e != cudaSuccess) {
		b->sqmem = NULL;
		return mk_cuda_err(err, e, "cannot allocate mapped pinned host memory");
	}
	memset(b->hmem, 0, total);
	memset(b->sqmem, 0, sq);
	b->ring = b->hmem;
	b->hp = (struct mk_cuda_hpage *)((char *)b->hmem + ring);
	b->stage = (uint32_t *)((char *)b->hp + 4096u);
	b->sq = b->sqmem;
	return 0;
}

/* Device addresses of the mapped host regions for the kernel. */
static int map_host(struct mk_backend *b, struct mk_err *err)
{
	void *d_ring = NULL, *d_sq = NULL, *d_hp = NULL;
	cudaError_t e = cudaHostGetDevicePointer(&d_ring, b->ring, 0);

	if (e == cudaSuccess)
		e = cudaHostGetDevicePointer(&d_sq, b->sq, 0);
	if (e == cudaSuccess)
		e = cudaHostGetDevicePointer(&d_hp, b->hp, 0);
	if (e != cudaSuccess)
		return mk_cuda_err(err, e, "cannot map pinned host memory for the GPU");
	b->ka.ring = d_ring;
	b->ka.sq = d_sq;
	b->ka.hpage = d_hp;
	return 0;
}

/* One device allocation: control | debug | scheduler state. */
static int alloc_device(struct mk_backend *b, struct mk_err *err)
{
	size_t ctl = ((size_t)b->p.ctl_words * 4u + 255u) & ~(size_t)255u;
	size_t dbg = ((size_t)(b->p.dbg_words ? b->p.dbg_words : 1u) * 4u + 255u) &
		     ~(size_t)255u;
	char *base, *sched;
	cudaError_t e = cudaMalloc(&b->dmem, ctl + dbg + b->g.bytes);

	if (e != cudaSuccess) {
		b->dmem = NULL;
		return mk_cuda_err(err, e, "cannot allocate GPU memory for the buffers");
	}
	base = b->dmem;
	sched = base + ctl + dbg;
	b->ka.ctl = (uint32_t *)base;
	b->ka.dbg = (uint32_t *)(base + ctl);
	b->ka.ds = (struct mk_cuda_dstate *)sched;
	b->ka.bq = (struct mk_cuda_bqueue *)(sched + b->g.off_bq);
	b->ka.bq_cells = (uint64_t *)(sched + b->g.off_bq_cells);
	b->ka.park = (uint64_t *)(sched + b->g.off_park);
	b->ka.pq = (uint32_t *)(sched + b->g.off_pq);
	e = cudaMemsetAsync(base + ctl, 0, dbg + b->g.bytes, b->side);
	if (e == cudaSuccess) /* empty parked cells are all ones */
		e = cudaMemsetAsync(b->ka.park, 0xFF, (size_t)b->g.park_cap * 8u,
				    b->side);
	if (e != cudaSuccess)
		return mk_cuda_err(err, e, "cannot clear GPU memory");
	return mk_cuda_side_sync(b, err);
}

static void fill_kargs(struct mk_backend *b)
{
	struct mk_cuda_kargs *k = &b->ka;

	k->ctl_words = b->p.ctl_words;
	k->ring_words = b->p.slots * MK_SLOT_WORDS;
	k->dbg_words = b->p.dbg_words;
	k->slots = b->p.slots;
	k->sq_cap = b->g.sq_cap;
	k->bq_cap = b->g.bq_cap;
	k->park_cap = b->g.park_cap;
	k->pq_cap = b->g.pq_cap;
	k->nblocks = b->g.nblocks;
	k->priority = b->p.priority ? 1u : 0u;
	k->starvation_fix = b->p.starvation_fix ? 1u : 0u;
	k->test_trap = env_int("MK_CUDA_TEST_TRAP", 0) ? 1u : 0u;
	k->trace = env_int("MK_CUDA_TRACE", 0) ? 1u : 0u;
	k->direct = env_int("MK_CUDA_DIRECT", 1) ? 1u : 0u;
}

/* MK_CUDA_POLLERS, clamped to 1..MK_CUDA_MAX_POLLERS. */
static uint32_t pollers_env(void)
{
	int n = env_int("MK_CUDA_POLLERS", (int)MK_CUDA_POLLERS);

	return n < 1 ? 1u : (n > (int)MK_CUDA_MAX_POLLERS ? MK_CUDA_MAX_POLLERS
							   : (uint32_t)n);
}

static int setup(struct mk_backend *b, const uint32_t *init_ctl,
		 struct mk_err *err)
{
	struct cudaDeviceProp prop;
	cudaError_t e = cudaSetDevice(b->dev);
	int rc;

	if (e == cudaSuccess)
		e = cudaGetDeviceProperties(&prop, b->dev);
	if (e == cudaSuccess)
		e = cudaStreamCreateWithFlags(&b->kstream, cudaStreamNonBlocking);
	if (e == cudaSuccess)
		e = cudaStreamCreateWithFlags(&b->side, cudaStreamNonBlocking);
	if (e != cudaSuccess)
		return mk_cuda_err(err, e, "cannot set up the CUDA device");
	snprintf(b->devname, sizeof(b->devname), "%s", prop.name);
	rc = pick_grid(b, err);
	if (rc)
		return rc;
	mk_cuda_geom_init(&b->g, b->p.slots, b->g.nblocks);
	b->ka.pollers = pollers_env();
	rc = alloc_host(b, err);
	if (!rc)
		rc = map_host(b, err);
	if (!rc)
		rc = alloc_device(b, err);
	if (rc)
		return rc;
	fill_kargs(b);
	memcpy(b->stage, init_ctl, (size_t)b->p.ctl_words * 4u);
	return stage_copy(b, b->ka.ctl, (size_t)b->p.ctl_words * 4u, 1, err);
}

static int cuda_create(const struct mk_backend_params *p,
		       const uint32_t *init_ctl, struct mk_backend **out,
		       struct mk_buffers *bufs, struct mk_err *err)
{
	struct mk_backend *b;
	int dev = 0, rc;

	rc = probe_device(&dev, err);
	if (rc)
		return rc;
	b = calloc(1, sizeof(*b));
	if (!b)
		return mk_err_set(err, -ENOMEM, "cannot allocate the CUDA backend",
				  "free some memory and retry");
	b->p = *p;
	b->dev = dev;
	pthread_mutex_init(&b->sq_mu, NULL);
	pthread_mutex_init(&b->io_mu, NULL);
	pthread_mutex_init(&b->life_mu, NULL);
	pthread_mutex_init(&b->scan.mu, NULL);
	rc = setup(b, init_ctl, err);
	if (rc) {
		cuda_destroy(b);
		return rc;
	}
	bufs->ring = b->ring;
	bufs->ring_words = p->slots * MK_SLOT_WORDS;
	bufs->ctl_words = p->ctl_words;
	bufs->dbg_words = p->dbg_words;
	/* docs/BENCH.md run F: parts won on both hosts, streaming on one. */
	if (env_int("MK_NT_PUBLISH", 0))
		bufs->stream_min = (uint32_t)env_int("MK_NT_PUBLISH_MIN", 8192);
	bufs->fan_parts = sysconf(_SC_NPROCESSORS_ONLN) >= 8 ? 4u : 1u;
	*out = b;
	return 0;
}

static int cuda_stop(struct mk_backend *b);

static void cuda_destroy(struct mk_backend *b)
{
	if (!b)
		return;
	cuda_stop(b);
	/*
	 * A wedged kernel may still touch these buffers, and freeing them
	 * would wait for it forever: leak them instead (PROTOCOL.md says
	 * never hang; the process is expected to exit).
	 */
	if (__atomic_load_n(&b->kstate, __ATOMIC_ACQUIRE) != K_WEDGED) {
		mk_cuda_scan_fini(b);
		if (b->dmem)
			cudaFree(b->dmem);
		if (b->hmem)
			cudaFreeHost(b->hmem);
		if (b->sqmem)
			cudaFreeHost(b->sqmem);
		if (b->kstream)
			cudaStreamDestroy(b->kstream);
		if (b->side)
			cudaStreamDestroy(b->side);
		pthread_mutex_destroy(&b->sq_mu);
		pthread_mutex_destroy(&b->io_mu);
		pthread_mutex_destroy(&b->life_mu);
		free(b);
	}
}

/* ---- the monitor thread ----------------------------------------------------- */

/* The kernel left (@e == cudaSuccess) or faulted: record it, wake waiters. */
static void kernel_left(struct mk_backend *b, cudaError_t e)
{
	if (e == cudaSuccess) {
		__atomic_store_n(&b->kstate, K_IDLE, __ATOMIC_RELEASE);
	} else {
		snprintf(b->fault, sizeof(b->fault),
			 "megakernel fault: %s: %s. Fix: %s", cudaGetErrorName(e),
			 cudaGetErrorString(e), cuda_fix(cuda_errno(e)));
		__atomic_store_n(&b->kstate, K_FAULT, __ATOMIC_RELEASE);
	}
	b->p.progress(b->p.progress_arg);
}

/* Monitor state between two rounds. */
struct mon {
	uint32_t seen;      /* last hpage->done_seq */
	int want;           /* value last stored in hpage->want */
	int64_t last_query; /* last cudaStreamQuery */
	int64_t last_wait;  /* last time a thread waited */
	int64_t want_since; /* when want became 1 */
	int64_t last_tick;  /* last progress() call */
};

/*
 * Tell the kernel whether anybody waits (it announces completions only
 * then), and wake waiters on its announcements. Right after want turns on,
 * the kernel may not have seen it yet: tick progress() every MON_TICK_NS
 * for MON_TICK_FOR_NS so no completion of that window is missed.
 */
static void watch(struct mk_backend *b, struct mon *m, int64_t now)
{
	int waiting = __atomic_load_n(b->p.waiters, __ATOMIC_SEQ_CST) != 0;
	uint32_t d;

	if (waiting) {
		m->last_wait = now;
		if (!m->want) {
			m->want = 1;
			m->want_since = now;
			__atomic_store_n(&b->hp->want, 1u, __ATOMIC_RELEASE);
		}
	} else if (m->want && now - m->last_wait > MON_WANT_HOLD_NS) {
		m->want = 0;
		__atomic_store_n(&b->hp->want, 0u, __ATOMIC_RELEASE);
	}
	/* Acquire pairs with the kernel's fence before done_seq. */
	d = __atomic_load_n(&b->hp->done_seq, __ATOMIC_ACQUIRE);
	if (d != m->seen || (waiting && now - m->want_since < MON_TICK_FOR_NS &&
			     now - m->last_tick > MON_TICK_NS)) {
		m->seen = d;
		m->last_tick = now;
		if (waiting)
			b->p.progress(b->p.progress_arg);
	}
}

/*
 * While the kernel runs: spin while somebody waits, nap otherwise (briefly
 * if somebody waited lately). Check the kernel's stream every millisecond,
 * and at once when the last warp says it left.
 */
static void *monitor_main(void *arg)
{
	struct mk_backend *b = arg;
	volatile struct mk_cuda_hpage *hp = b->hp;
	struct mon m;
	uint32_t id = b->launch_id;

	memset(&m, 0, sizeof(m));
	m.seen = hp->done_seq;
	m.last_query = mk_now_ns();
	m.want = !!hp->want;
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); /* naps of microseconds */
	while (!__atomic_load_n(&b->mon_quit, __ATOMIC_ACQUIRE)) {
		int64_t now = mk_now_ns();

		if (hp->exited == id || now - m.last_query > MON_QUERY_NS) {
			cudaError_t e = cudaStreamQuery(b->kstream);

			m.last_query = now;
			if (e != cudaErrorNotReady) {
				kernel_left(b, e);
				return NULL;
			}
		}
		watch(b, &m, now);
		if (now - m.last_wait < 1000) /* somebody waits now */
			mk_cpu_relax();
		else
			nap(now - m.last_wait < MON_RECENT_NS ? MON_NAP_NS : MON_IDLE_NS);
	}
	return NULL;
}

/* ---- start / stop ------------------------------------------------------------ */

/* Wait for the executor's "alive" word, or an early launch failure. */
static int wait_alive(struct mk_backend *b, struct mk_err *err)
{
	volatile struct mk_cuda_hpage *hp = b->hp;
	int64_t t0 = mk_now_ns();

	while (hp->alive != b->launch_id) {
		cudaError_t e = cudaStreamQuery(b->kstream);

		if (e != cudaErrorNotReady && e != cudaSuccess)
			return mk_cuda_err(err, e, "the megakernel failed at launch");
		if (e == cudaSuccess && hp->alive != b->launch_id)
			return mk_err_set(err, -EIO,
					  "the megakernel exited before it started",
					  "check that control word 0 is cleared before start; report a megafs bug otherwise");
		if (mk_now_ns() - t0 > START_TIMEOUT_NS)
			return mk_err_set(err, -EIO,
					  "the megakernel did not start within 30 s",
					  "check nvidia-smi for other work on the GPU, or use -o backend=cpu");
		nap(2000);
	}
	return 0;
}

static int launch(struct mk_backend *b, struct mk_err *err)
{
	uint32_t live = b->g.nblocks * (MK_CUDA_THREADS / 32u);
	cudaError_t e;
	int rc;

	b->launch_id++;
	b->ka.launch_id = b->launch_id;
	b->hp->alive = 0;
	b->hp->exited = 0;
	pthread_mutex_lock(&b->io_mu);
	b->stage[0] = live;
	rc = stage_copy(b, &b->ka.ds->live, 4u, 1, err);
	pthread_mutex_unlock(&b->io_mu);
	if (rc)
		return rc;
	e = (cudaError_t)mk_cuda_kernel_launch(&b->ka, b->kstream, b->coop);
	if (e != cudaSuccess)
		return mk_cuda_err(err, e, "cannot launch the megakernel");
	return wait_alive(b, err);
}

static int write_word(struct mk_backend *b, uint32_t idx, uint32_t v,
		      struct mk_err *err)
{
	int rc;

	pthread_mutex_lock(&b->io_mu);
	b->stage[0] = v;
	rc = stage_copy(b, b->ka.ctl + idx, 4u, 1, err);
	pthread_mutex_unlock(&b->io_mu);
	return rc;
}

static int rescan_locked(struct mk_backend *b, struct mk_err *err);

/* After a failed start: make sure no kernel is left running. */
static void abort_launch(struct mk_backend *b, int rc, struct mk_err *err)
{
	int64_t t0 = mk_now_ns();

	snprintf(b->fault, sizeof(b->fault), "%s", err ? err->msg : "start failed");
	if (cudaStreamQuery(b->kstream) == cudaErrorNotReady) {
		write_word(b, MK_CTL_SHUTDOWN, 1u, NULL);
		while (cudaStreamQuery(b->kstream) == cudaErrorNotReady &&
		       mk_now_ns() - t0 < STOP_TIMEOUT_NS)
			nap(20000);
		if (cudaStreamQuery(b->kstream) == cudaErrorNotReady) {
			__atomic_store_n(&b->kstate, K_WEDGED, __ATOMIC_RELEASE);
			return;
		}
	}
	if (rc == -EIO)
		__atomic_store_n(&b->kstate, K_FAULT, __ATOMIC_RELEASE);
}

static int cuda_start(struct mk_backend *b, struct mk_err *err)
{
	uint32_t st = __atomic_load_n(&b->kstate, __ATOMIC_ACQUIRE);
	struct mk_err local;
	int rc;

	if (st == K_RUNNING)
		return 0;
	if (st == K_FAULT || st == K_WEDGED)
		return mk_err_set(err, -EIO, b->fault,
				  "destroy the runtime and restart megafs");
	if (!err) {
		mk_err_clear(&local);
		err = &local;
	}
	pthread_mutex_lock(&b->life_mu);
	if (b->mon_started) { /* reap the monitor of a kernel that left */
		pthread_join(b->mon, NULL);
		b->mon_started = 0;
	}
	/* Under sq_mu: a kick sees the kernel either stopped or running. */
	pthread_mutex_lock(&b->sq_mu);
	rc = b->need_rescan ? rescan_locked(b, err) : 0;
	if (!rc)
		rc = launch(b, err);
	if (rc) {
		pthread_mutex_unlock(&b->sq_mu);
		abort_launch(b, rc, err);
		pthread_mutex_unlock(&b->life_mu);
		return rc;
	}
	__atomic_store_n(&b->mon_quit, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&b->kstate, K_RUNNING, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&b->sq_mu);
	if (pthread_create(&b->mon, NULL, monitor_main, b) == 0)
		b->mon_started = 1;
	pthread_mutex_unlock(&b->life_mu);
	if (!b->mon_started) {
		cuda_stop(b);
		return mk_err_set(err, -EAGAIN, "cannot start the CUDA monitor thread",
				  "raise the thread limit (ulimit -u)");
	}
	return 0;
}

/* Set control word 0 and wait (bounded) for the kernel to leave. */
static int cuda_stop(struct mk_backend *b)
{
	int64_t t0;
	int64_t limit = (int64_t)env_int("MK_CUDA_STOP_TIMEOUT_MS", 0) * MS;
	uint32_t st;

	pthread_mutex_lock(&b->life_mu);
	if (__atomic_load_n(&b->kstate, __ATOMIC_ACQUIRE) == K_RUNNING) {
		/* Pairs with the kernel's volatile loads of word 0. */
		write_word(b, MK_CTL_SHUTDOWN, 1u, NULL);
		t0 = mk_now_ns();
		if (limit <= 0)
			limit = STOP_TIMEOUT_NS;
		while (__atomic_load_n(&b->kstate, __ATOMIC_ACQUIRE) == K_RUNNING &&
		       mk_now_ns() - t0 < limit)
			nap(20000);
	}
	if (__atomic_load_n(&b->kstate, __ATOMIC_ACQUIRE) == K_RUNNING) {
		snprintf(b->fault, sizeof(b->fault),
			 "the megakernel did not stop within %lld ms. Fix: restart megafs (its GPU buffers are leaked); report a megafs bug",
			 (long long)(limit / MS));
		__atomic_store_n(&b->kstate, K_WEDGED, __ATOMIC_RELEASE);
		__atomic_store_n(&b->mon_quit, 1, __ATOMIC_RELEASE);
	}
	if (b->mon_started) {
		pthread_join(b->mon, NULL);
		b->mon_started = 0;
	}
	st = __atomic_load_n(&b->kstate, __ATOMIC_ACQUIRE);
	if (st == K_IDLE) /* no kernel can read them now */
		mk_cuda_scan_reap(b);
	pthread_mutex_unlock(&b->life_mu);
	return st == K_IDLE ? 0 : -EIO;
}

static int cuda_running(struct mk_backend *b)
{
	return __atomic_load_n(&b->kstate, __ATOMIC_ACQUIRE) == K_RUNNING;
}

/* ---- the submission queue (host producer) ------------------------------------ */

/* Room for SQ position @pos? Waits (bounded) only while the kernel runs. */
static int sq_room(struct mk_backend *b, uint64_t pos)
{
	int64_t t0 = 0;

	for (;;) {
		if (pos - b->sq_head_seen < b->g.sq_cap)
			return 1;
		/* Acquire pairs with the kernel's store of the consumed head. */
		b->sq_head_seen = __atomic_load_n(&b->hp->sq_head, __ATOMIC_ACQUIRE);
		if (pos - b->sq_head_seen < b->g.sq_cap)
			return 1;
		if (!cuda_running(b))
			return 0;
		if (!t0)
			t0 = mk_now_ns();
		else if (mk_now_ns() - t0 > SQ_FULL_WAIT_NS)
			return 0;
		sched_yield();
	}
}

/*
 * Append one entry (caller holds sq_mu); unit 0 is stored last, with
 * release. A full SQ (kernel stopped, or not draining for 2 s) loses
 * nothing: the entry is dropped and the next start rebuilds the queue from
 * the ring (rescan_locked), which is the protocol's truth.
 */
static void sq_push_locked(struct mk_backend *b, const uint32_t *data)
{
	uint64_t pos = b->sq_tail, tag, *cell;
	uint32_t i, q;

	if (!sq_room(b, pos)) {
		b->sq_drops++;
		b->need_rescan = 1;
		return;
	}
	tag = (uint64_t)(uint32_t)(pos + 1u) << 32;
	/* One copy per poller warp, each in its own 128-byte line. */
	cell = b->sq + (size_t)(pos & (b->g.sq_cap - 1u)) * b->ka.pollers * MK_SQ_UNITS;
	for (q = 0; q < b->ka.pollers; q++, cell += MK_SQ_UNITS) {
		for (i = 1; i < MK_SQ_UNITS; i++)
			__atomic_store_n(&cell[i], tag | data[i], __ATOMIC_RELAXED);
		/* Release: the ring words and units 1..15 land before unit 0. */
		__atomic_store_n(&cell[0], tag | data[0], __ATOMIC_RELEASE);
	}
	/* Write-combined memory: push the copies out of the WC buffers. */
	__builtin_ia32_sfence();
	b->sq_tail = pos + 1u;
}

static void sq_push(struct mk_backend *b, const uint32_t *data, int nudge)
{
	pthread_mutex_lock(&b->sq_mu);
	/* One NUDGE the kernel has not consumed yet is enough. */
	if (!nudge || !b->nudge_pos ||
	    __atomic_load_n(&b->hp->sq_head, __ATOMIC_ACQUIRE) >= b->nudge_pos) {
		sq_push_locked(b, data);
		if (nudge)
			b->nudge_pos = b->sq_tail;
	}
	pthread_mutex_unlock(&b->sq_mu);
}

/*
 * Kernel stopped, SQ overflowed: forget every unconsumed entry and every
 * queued or parked slot on the device, and queue one SCAN of the whole
 * ring instead. Each PUBLISHED slot is then found exactly once.
 */
static int rescan_locked(struct mk_backend *b, struct mk_err *err)
{
	size_t off = offsetof(struct mk_cuda_dstate, park_head);
	uint32_t d[MK_SQ_UNITS] = { 0 };
	cudaError_t e;

	memset(b->sq, 0, sq_bytes(b));
	b->sq_tail = b->sq_head_seen =
		__atomic_load_n(&b->hp->sq_head, __ATOMIC_ACQUIRE);
	b->nudge_pos = 0;
	e = cudaMemsetAsync((char *)b->ka.ds + off, 0,
			    sizeof(struct mk_cuda_dstate) - off, b->side);
	if (e == cudaSuccess)
		e = cudaMemsetAsync(b->ka.bq, 0,
				    (size_t)b->g.nblocks * sizeof(struct mk_cuda_bqueue),
				    b->side);
	if (e == cudaSuccess)
		e = cudaMemsetAsync(b->ka.park, 0xFF, (size_t)b->g.park_cap * 8u,
				    b->side);
	if (e != cudaSuccess)
		return mk_cuda_err(err, e, "cannot reset the GPU queues");
	pthread_mutex_lock(&b->io_mu);
	e = (cudaError_t)mk_cuda_side_sync(b, err);
	pthread_mutex_unlock(&b->io_mu);
	if (e)
		return (int)e;
	d[0] = MK_SQ_KIND_SCAN << MK_SQ_KIND_SHIFT;
	d[1] = b->p.slots;
	sq_push_locked(b, d);
	b->need_rescan = 0;
	return 0;
}

static void push_range(struct mk_backend *b, uint32_t first, uint32_t count)
{
	uint32_t d[MK_SQ_UNITS] = { 0 };

	d[0] = MK_SQ_KIND_RANGE << MK_SQ_KIND_SHIFT | first;
	d[1] = count;
	sq_push(b, d, 0);
}

/* Single publish: the slot image travels inside the entry (sharded). */
static void cuda_kick(struct mk_backend *b, uint32_t slot)
{
	uint32_t d[MK_SQ_UNITS], i;
	const uint32_t *w;

	if (slot >= b->p.slots)
		return;
	if (b->p.priority) {
		push_range(b, slot, 1u);
		return;
	}
	w = &b->ring[(size_t)slot * MK_SLOT_WORDS];
	d[0] = MK_SQ_KIND_INLINE << MK_SQ_KIND_SHIFT | slot;
	for (i = 1; i < MK_SQ_UNITS; i++)
		d[i] = __atomic_load_n(&w[i], __ATOMIC_RELAXED);
	sq_push(b, d, 0);
}

static void cuda_kick_range(struct mk_backend *b, uint32_t first, uint32_t count)
{
	if (first >= b->p.slots || count == 0)
		return;
	if (count > b->p.slots - first)
		count = b->p.slots - first;
	if (count == 1)
		cuda_kick(b, first);
	else
		push_range(b, first, count);
}

/* ---- words ----------------------------------------------------------------- */

static int cuda_read_ctl(struct mk_backend *b, uint32_t first, uint32_t n,
			 uint32_t *out)
{
	uint32_t done = 0;
	int rc = 0;

	if (first > b->p.ctl_words || n > b->p.ctl_words - first)
		return -ERANGE;
	pthread_mutex_lock(&b->io_mu);
	while (!rc && done < n) {
		uint32_t k = n - done < b->stage_words ? n - done : b->stage_words;

		rc = stage_copy(b, b->ka.ctl + first + done, (size_t)k * 4u, 0, NULL);
		if (!rc)
			memcpy(out + done, b->stage, (size_t)k * 4u);
		done += k;
	}
	pthread_mutex_unlock(&b->io_mu);
	return rc;
}

static int cuda_write_ctl(struct mk_backend *b, uint32_t idx, uint32_t v)
{
	uint32_t d[MK_SQ_UNITS] = { 0 };
	int rc;

	if (idx >= b->p.ctl_words)
		return -ERANGE;
	rc = write_word(b, idx, v, NULL);
	/* A tenant mask may have changed: parked slots get another look. */
	if (!rc && idx != MK_CTL_SHUTDOWN && cuda_running(b)) {
		d[0] = MK_SQ_KIND_NUDGE << MK_SQ_KIND_SHIFT;
		sq_push(b, d, 1);
	}
	return rc;
}

static int cuda_read_dbg(struct mk_backend *b, uint32_t *out, size_t cap)
{
	size_t n = cap < b->p.dbg_words ? cap : b->p.dbg_words;
	int rc = 0;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&b->io_mu);
	rc = stage_copy(b, b->ka.dbg, n * 4u, 0, NULL);
	if (!rc)
		memcpy(out, b->stage, n * 4u);
	pthread_mutex_unlock(&b->io_mu);
	return rc;
}

static void cuda_describe(struct mk_backend *b, char *buf, size_t len)
{
	volatile struct mk_cuda_hpage *hp = b->hp;
	uint32_t st = __atomic_load_n(&b->kstate, __ATOMIC_ACQUIRE);
	uint64_t drops;
	int n;

	pthread_mutex_lock(&b->sq_mu);
	drops = b->sq_drops;
	pthread_mutex_unlock(&b->sq_mu);
	n = snprintf(buf, len, "%s, %d SMs, resident kernel %ux%u threads%s",
		     b->devname, b->sms, b->g.nblocks, MK_CUDA_THREADS,
		     drops ? " [SQ overflowed: rescan at next start]" : "");
	if (b->ka.trace) /* compact: struct mk_status keeps 128 bytes */
		n = snprintf(buf, len,
			     "trace cyc: rtt %u issue>seen %u seen>exec %u exec>mask %u fence %u exec>DONE %u n %u",
			     hp->tr_rtt, hp->tr_seen, hp->tr_exec, hp->tr_ten,
			     hp->tr_fence, hp->tr_done, hp->tr_n);
	if ((st == K_FAULT || st == K_WEDGED) && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "; %s", b->fault);
}

const struct mk_backend_ops mk_backend_cuda_ops = {
	.name = "cuda",
	.probe = cuda_probe,
	.create = cuda_create,
	.destroy = cuda_destroy,
	.start = cuda_start,
	.stop = cuda_stop,
	.running = cuda_running,
	.kick = cuda_kick,
	.kick_range = cuda_kick_range,
	.read_ctl = cuda_read_ctl,
	.write_ctl = cuda_write_ctl,
	.read_dbg = cuda_read_dbg,
	.describe = cuda_describe,
	.alloc_shared = mk_cuda_alloc_shared,
	.free_shared = mk_cuda_free_shared,
	.set_scan = mk_cuda_set_scan,
};
