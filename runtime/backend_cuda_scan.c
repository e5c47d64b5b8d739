/* SPDX-License-Identifier: MIT */
/*
 * runtime/backend_cuda_scan.c - the "cuda" backend's half of SCAN_CHUNK and
 * DFA_STEP (runtime/scan.h): mapped pinned memory for the scan env and the
 * staging buffers (alloc_shared, free_shared), and the device copies of the
 * pattern sets (set_scan). The kernel half is kernels/scan.cuh, the rest of
 * the backend runtime/backend_cuda.c; shared state in backend_cuda_i.h.
 *
 * Shared memory is cudaHostAlloc'd mapped and portable: under UVA the
 * kernel uses the host's addresses, so the env's pointers mean the same on
 * both sides (checked with cudaHostGetDevicePointer).
 *
 * set_scan uploads each new or changed set (next, accept and the hit table
 * of mk_dfa_out_table) with cudaMalloc + copies on the side stream while
 * the kernel runs, then writes one immutable snapshot (struct
 * mk_cuda_scan_tab) and publishes its address in dstate.scan_tab. A
 * snapshot is never changed after that; the next set_scan makes a new one.
 *
 * Nothing is freed while the kernel runs: cudaFree and cudaFreeHost wait
 * for the whole device, which a resident kernel never lets go idle, and a
 * job posted before a change may still read the old tables. So
 *   - tables of replaced or removed sets and old snapshots go on a retired
 *     list, freed when the kernel has stopped (stop, destroy);
 *   - free_shared while the kernel runs keeps the block as a spare that an
 *     alloc_shared of its size (or up to half of it) takes again, zeroed;
 *     stop and destroy give the spares back. Stray SCAN_CHUNK slots naming a freed buffer
 *     thus read memory that is still mapped, never a fault.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "runtime/backend_cuda_i.h"
#include "runtime/dfa.h"

struct mk_cuda_shm {
	struct mk_cuda_shm *next;
	void *p;
	size_t bytes; /* 0: unusable by the kernel, freed at stop */
	int used;
};

struct mk_cuda_dead {
	struct mk_cuda_dead *next;
	void *dev;
};

static int running(struct mk_backend *b)
{
	uint32_t st = __atomic_load_n(&b->kstate, __ATOMIC_ACQUIRE);

	return st == K_RUNNING || st == K_WEDGED;
}

/* ---- shared memory ----------------------------------------------------------- */

/*
 * The smallest spare block of @len to 2 * @len bytes, marked used; NULL if
 * none. (Spares pile up only while the kernel runs; sizes repeat: a
 * stream's buffers and hit lists.)
 */
static void *take_spare(struct mk_cuda_scan_host *h, size_t len)
{
	struct mk_cuda_shm *s, *best = NULL;

	for (s = h->shm; s; s = s->next)
		if (!s->used && s->bytes >= len && s->bytes / 2 <= len &&
		    (!best || s->bytes < best->bytes))
			best = s;
	if (!best)
		return NULL;
	best->used = 1;
	return best->p;
}

void *mk_cuda_alloc_shared(struct mk_backend *b, size_t bytes)
{
	struct mk_cuda_scan_host *h = &b->scan;
	size_t len = (bytes + 4095u) & ~(size_t)4095u;
	struct mk_cuda_shm *s;
	void *p = NULL, *dp = NULL;

	if (bytes == 0 || len < bytes)
		return NULL;
	pthread_mutex_lock(&h->mu);
	p = take_spare(h, len);
	pthread_mutex_unlock(&h->mu);
	if (p) {
		memset(p, 0, len);
		return p;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	cudaSetDevice(b->dev);
	if (cudaHostAlloc(&p, len, cudaHostAllocMapped | cudaHostAllocPortable) !=
	    cudaSuccess) {
		free(s);
		return NULL;
	}
	s->p = p;
	s->used = 1;
	/* The kernel must see the same address (UVA); else keep it aside. */
	if (cudaHostGetDevicePointer(&dp, p, 0) == cudaSuccess && dp == p)
		s->bytes = len;
	else
		s->used = 0;
	memset(p, 0, len);
	pthread_mutex_lock(&h->mu);
	s->next = h->shm;
	h->shm = s;
	pthread_mutex_unlock(&h->mu);
	return s->bytes ? p : NULL;
}

void mk_cuda_free_shared(struct mk_backend *b, void *p)
{
	struct mk_cuda_scan_host *h = &b->scan;
	struct mk_cuda_shm **pp, *s;

	if (!p)
		return;
	/* life_mu: the kernel cannot start while cudaFreeHost runs. */
	pthread_mutex_lock(&b->life_mu);
	pthread_mutex_lock(&h->mu);
	for (pp = &h->shm; *pp && (*pp)->p != p; pp = &(*pp)->next)
		;
	s = *pp;
	if (s && running(b)) {
		s->used = 0; /* a spare until the kernel stops */
	} else if (s) {
		*pp = s->next;
		cudaSetDevice(b->dev); /* as every other call here: not GPU 0 */
		cudaFreeHost(s->p);
		free(s);
	}
	pthread_mutex_unlock(&h->mu);
	pthread_mutex_unlock(&b->life_mu);
}

/* ---- retired device memory --------------------------------------------------- */

/* Free @dev once the kernel is gone (a leak if the list cannot grow). */
static void retire(struct mk_cuda_scan_host *h, void *dev)
{
	struct mk_cuda_dead *d;

	if (!dev)
		return;
	d = malloc(sizeof(*d));
	if (!d)
		return;
	d->dev = dev;
	d->next = h->dead;
	h->dead = d;
}

static void free_dead(struct mk_cuda_scan_host *h)
{
	struct mk_cuda_dead *d;

	while ((d = h->dead)) {
		h->dead = d->next;
		cudaFree(d->dev);
		free(d);
	}
}

/* Give spare blocks back (@all: the used ones too, at destroy). */
static void free_shm(struct mk_cuda_scan_host *h, int all)
{
	struct mk_cuda_shm **pp = &h->shm, *s;

	while ((s = *pp)) {
		if (s->used && !all) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		cudaFreeHost(s->p);
		free(s);
	}
}

void mk_cuda_scan_reap(struct mk_backend *b)
{
	cudaSetDevice(b->dev);
	pthread_mutex_lock(&b->scan.mu);
	free_dead(&b->scan);
	free_shm(&b->scan, 0);
	pthread_mutex_unlock(&b->scan.mu);
}

void mk_cuda_scan_fini(struct mk_backend *b)
{
	struct mk_cuda_scan_host *h = &b->scan;
	uint32_t i;

	cudaSetDevice(b->dev);
	pthread_mutex_lock(&h->mu);
	for (i = 0; i < MK_SCAN_MAX_SETS; i++)
		retire(h, h->up[i].dev);
	retire(h, h->tab); /* h->area is part of b->dmem */
	free_dead(h);
	free_shm(h, 1);
	pthread_mutex_unlock(&h->mu);
	pthread_mutex_destroy(&h->mu);
}

/* ---- uploads ------------------------------------------------------------------- */

/* Copy @n pairs (device dst, host src, bytes) on the side stream and wait. */
static int copy_in(struct mk_backend *b, void *const *dst,
		   const void *const *src, const size_t *len, int n,
		   struct mk_err *err)
{
	cudaError_t e = cudaSuccess;
	int i, rc;

	pthread_mutex_lock(&b->io_mu);
	for (i = 0; i < n && e == cudaSuccess; i++)
		if (len[i])
			e = cudaMemcpyAsync(dst[i], src[i], len[i],
					    cudaMemcpyHostToDevice, b->side);
	rc = e == cudaSuccess ? mk_cuda_side_sync(b, err)
			      : mk_cuda_err(err, e, "cannot copy pattern tables to the GPU");
	pthread_mutex_unlock(&b->io_mu);
	return rc;
}

/* Store @v into the device word at @dev (dstate) through the stage buffer. */
static int put_word64(struct mk_backend *b, uint64_t *dev, uint64_t v,
		      struct mk_err *err)
{
	cudaError_t e;
	int rc;

	pthread_mutex_lock(&b->io_mu);
	memcpy(b->stage, &v, sizeof(v));
	e = cudaMemcpyAsync(dev, b->stage, sizeof(v), cudaMemcpyHostToDevice,
			    b->side);
	rc = e == cudaSuccess ? mk_cuda_side_sync(b, err)
			      : mk_cuda_err(err, e, "cannot publish the scan tables");
	pthread_mutex_unlock(&b->io_mu);
	return rc;
}

static size_t align256(size_t n)
{
	return (n + 255u) & ~(size_t)255u;
}

struct set_tables {
	uint32_t *off, *pat; /* mk_dfa_out_table (literal sets) */
	size_t len[4], at[4], total;
};

/* Host-side preparation of set @d: the hit table and the device layout. */
static int plan_set(const struct mk_dfa *d, struct set_tables *t,
		    struct mk_err *err)
{
	size_t states = mk_dfa_states(d), limit = states * 256u, i;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!mk_dfa_is_binary(d)) {
		/* At most the size of next[]: a pathological set fails here. */
		rc = mk_dfa_out_table(d, limit > (1u << 22) ? limit : (1u << 22),
				      &t->off, &t->pat, err);
		if (rc)
			return rc;
		t->len[2] = (states + 1u) * 4u;
		t->len[3] = (size_t)t->off[states] * 4u;
	}
	t->len[0] = states * 256u * 4u;
	t->len[1] = states * 4u;
	for (i = 0; i < 4; i++) {
		t->at[i] = t->total;
		t->total += align256(t->len[i] ? t->len[i] : 1u);
	}
	return 0;
}

/* Upload set @d into slot @i of the uploaded sets. */
static int upload_set(struct mk_backend *b, uint32_t i, const struct mk_dfa *d,
		      struct mk_err *err)
{
	struct mk_cuda_up *u = &b->scan.up[i];
	struct mk_dfa_view v = mk_dfa_view(d);
	size_t ov = mk_dfa_overlap(d);
	struct set_tables t;
	const void *src[4];
	void *dst[4];
	char *dev = NULL;
	cudaError_t e;
	int rc, k;

	rc = plan_set(d, &t, err);
	if (rc)
		return rc;
	e = cudaMalloc((void **)&dev, t.total);
	if (e != cudaSuccess) {
		rc = mk_cuda_err(err, e, "cannot allocate GPU memory for a pattern set");
		goto out_free;
	}
	src[0] = v.next;
	src[1] = v.accept;
	src[2] = t.off;
	src[3] = t.pat;
	for (k = 0; k < 4; k++)
		dst[k] = dev + t.at[k];
	rc = copy_in(b, dst, src, t.len, 4, err);
	if (rc) {
		retire(&b->scan, dev);
		goto out_free;
	}
	u->dfa = d;
	u->hv = v;
	u->dev = dev;
	u->desc.next = (const uint32_t *)dst[0];
	u->desc.accept = (const uint32_t *)dst[1];
	u->desc.out_off = t.off ? (const uint32_t *)dst[2] : NULL;
	u->desc.out_pat = t.off ? (const uint32_t *)dst[3] : NULL;
	u->desc.states = v.states;
	u->desc.overlap = ov < MK_DFA_MAX_PATLEN ? (uint32_t)ov : MK_CUDA_SCAN_SEQ;
out_free:
	free(t.off);
	free(t.pat);
	return rc;
}

/* Is slot @i's upload still that of @d as the env shows it? */
static int same_set(const struct mk_cuda_up *u, const struct mk_dfa *d,
		    const struct mk_dfa_view *v)
{
	if (u->dfa != d)
		return 0;
	return !d || (u->hv.next == v->next && u->hv.accept == v->accept &&
		      u->hv.states == v->states && u->hv.max_len == v->max_len);
}

/*
 * The job area, once: part of the backend's device allocation (geometry
 * off_scan), zeroed before the first launch; the kernel learns its address
 * here. No cudaMalloc or memset runs beside the resident kernel for it.
 */
static int ensure_area(struct mk_backend *b, struct mk_err *err)
{
	struct mk_cuda_scan_host *h = &b->scan;
	int rc;

	if (h->published)
		return 0;
	h->area = (char *)b->ka.ds + b->g.off_scan;
	rc = put_word64(b, &b->ka.ds->scan_area, (uint64_t)(uintptr_t)h->area, err);
	h->published = rc == 0;
	return rc;
}

/* Write a snapshot of the uploaded sets for @env and publish it. */
static int publish_tab(struct mk_backend *b, struct mk_scan_env *env,
		       struct mk_err *err)
{
	struct mk_cuda_scan_host *h = &b->scan;
	struct mk_cuda_scan_tab *t = calloc(1, sizeof(*t));
	size_t len = sizeof(*t);
	void *dev = NULL, *dp = NULL;
	const void *src;
	cudaError_t e;
	uint32_t i;
	int rc;

	if (!t)
		return mk_err_set(err, -ENOMEM, "cannot allocate the scan tables",
				  "free some memory and retry");
	if (cudaHostGetDevicePointer(&dp, env, 0) != cudaSuccess || dp != env) {
		free(t);
		return mk_err_set(err, -EINVAL,
				  "the scan env is not mapped for the GPU",
				  "allocate it with mk_runtime_alloc_shared");
	}
	t->env = env;
	for (i = 0; i < MK_SCAN_MAX_SETS; i++) {
		const struct mk_cuda_up *u = &h->up[i];

		if (!u->dfa)
			continue;
		t->set[i] = u->desc;
		t->view[i].next = u->desc.next;
		t->view[i].accept = u->desc.accept;
		t->view[i].states = u->hv.states;
		t->view[i].max_len = u->hv.max_len;
	}
	e = cudaMalloc(&dev, len);
	if (e != cudaSuccess) {
		free(t);
		return mk_cuda_err(err, e, "cannot allocate the GPU scan tables");
	}
	src = t;
	rc = copy_in(b, &dev, &src, &len, 1, err);
	if (!rc)
		rc = put_word64(b, &b->ka.ds->scan_tab, (uint64_t)(uintptr_t)dev, err);
	free(t);
	if (rc) {
		retire(h, dev);
		return rc;
	}
	retire(h, h->tab); /* a job posted before may still read it */
	h->tab = dev;
	h->env = env;
	return 0;
}

/* set_scan(NULL): SCAN_CHUNK becomes a no-op, DFA_STEP the metered one. */
static int clear_scan(struct mk_backend *b, struct mk_err *err)
{
	struct mk_cuda_scan_host *h = &b->scan;
	uint32_t i;
	int rc;

	if (!h->tab)
		return 0;
	rc = put_word64(b, &b->ka.ds->scan_tab, 0u, err);
	if (rc)
		return rc;
	retire(h, h->tab);
	h->tab = NULL;
	h->env = NULL;
	for (i = 0; i < MK_SCAN_MAX_SETS; i++) {
		retire(h, h->up[i].dev);
		memset(&h->up[i], 0, sizeof(h->up[i]));
	}
	return 0;
}

/*
 * The GPU scan is on by default since it was verified on an H100
 * (check_scan_cuda: parity with the CPU backend; compute-sanitizer clean;
 * bench_scan: counts equal to Hyperscan's, 2026-12-05). MEGAFS_CUDA_SCAN=0
 * in the daemon's environment turns it off (set_scan(env) is -ENOTSUP and
 * streams on cuda fail at start with a Fix: hint): an escape hatch.
 */
static int gpu_scan_enabled(void)
{
	const char *v = getenv("MEGAFS_CUDA_SCAN");

	return !v || strcmp(v, "0") != 0;
}

/*
 * Upload what changed in @env (NULL: clear) and publish a new snapshot.
 * A set that cannot be uploaded is left out of it (SCAN_CHUNK on it is a
 * no-op) and its error returned; the caller takes the set back.
 */
int mk_cuda_set_scan(struct mk_backend *b, struct mk_scan_env *env,
		     struct mk_err *err)
{
	struct mk_cuda_scan_host *h = &b->scan;
	int rc, r, changed;
	uint32_t i;

	if (env && !gpu_scan_enabled())
		return mk_err_set(err, -ENOTSUP,
				  "the GPU scan of the cuda backend is turned off (MEGAFS_CUDA_SCAN=0)",
				  "unset MEGAFS_CUDA_SCAN in megafs's environment, or mount with -o backend=cpu to stream files");
	cudaSetDevice(b->dev);
	pthread_mutex_lock(&h->mu);
	if (!env) {
		rc = clear_scan(b, err);
		goto out_unlock;
	}
	rc = ensure_area(b, err);
	if (rc)
		goto out_unlock;
	changed = env != h->env || !h->tab;
	for (i = 0; i < MK_SCAN_MAX_SETS; i++) {
		const struct mk_dfa *d = env->dfas[i];

		if (same_set(&h->up[i], d, &env->sets[i]))
			continue;
		retire(h, h->up[i].dev);
		memset(&h->up[i], 0, sizeof(h->up[i]));
		changed = 1;
		r = d ? upload_set(b, i, d, rc ? NULL : err) : 0;
		if (r && !rc)
			rc = r;
	}
	r = changed ? publish_tab(b, env, rc ? NULL : err) : 0;
	if (r && !rc)
		rc = r;
out_unlock:
	pthread_mutex_unlock(&h->mu);
	return rc;
}
