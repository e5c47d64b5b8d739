/* SPDX-License-Identifier: MIT */
/*
 * runtime/stream.c - file streams through the resident megakernel; see
 * runtime/stream.h. One thread per stream moves chunks from the io_uring
 * reader into SCAN_CHUNK slots and merges their results; the kernel (CPU
 * workers or the GPU) does the scanning.
 */
#include "runtime/stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/uring.h"
#include "runtime/wake.h"

#define HIT_PIECE 4096u           /* bytes per hit-reporting step: caps the
				   * callbacks past a full hit list */
#define CLEAN_WINDOW 65536u       /* bytes checked by the fast count
				   * before a hit pass */
#define WAIT_NS 5000000           /* bounded waits: 5 ms, never a sleep */

struct mk_scan_pool {
	struct mk_runtime *rt;
	struct mk_scan_env *env; /* shared with the kernel */
	pthread_mutex_t mu;      /* guards the fields below and env tables */
	pthread_rwlock_t buf_lock; /* env->host_lock: buffers vs host scans */
	uint8_t buf_used[MK_SCAN_MAX_BUFS];
	uint32_t set_users[MK_SCAN_MAX_SETS]; /* running streams per set */
	/*
	 * Buffers of destroyed streams whose chunk slot was still in the
	 * kernel (cancelled while it was stopped): the slot stays reserved
	 * and the buffer, and its set, in use until the slot is DONE.
	 */
	int32_t orphan_slot[MK_SCAN_MAX_BUFS]; /* -1: none */
	int orphan_set[MK_SCAN_MAX_BUFS];
	uint32_t norphans; /* atomic for mk_scan_pool_orphans() */
};

struct flight {
	int slot;           /* ring slot, -1 when idle */
	uint64_t new_bytes; /* file bytes this chunk adds */
};

struct mk_stream {
	struct mk_scan_pool *pool;
	struct mk_runtime *rt;
	struct mk_stream_params p;
	int carry;                         /* binary DFA: ordered, carry state */
	uint32_t carry_state;
	struct mk_uring_reader *rd;
	uint32_t nbuf;                     /* staging buffers of this stream */
	uint32_t pbuf[MK_STREAM_MAX_BUFS]; /* pool buffer of reader buffer i */
	struct flight fl[MK_STREAM_MAX_BUFS];
	uint32_t inflight;
	pthread_t th;
	int started;
	int cancel;                        /* atomic request */
	pthread_mutex_t mu;                /* guards the results below */
	enum mk_stream_state state;
	uint64_t bytes, matches, chunks;
	int64_t t0, t1;
	char error[MK_ERR_MSG_MAX];
	int error_code;
	char io[128];
	struct mk_scan_hit *kept;          /* max_hits entries, sorted */
	size_t nkept;
};

/* ---- host execution of SCAN_CHUNK ------------------------------------------ */

struct hit_ctx {
	struct mk_scan_out *out;
	struct mk_scan_hit *hits;
	uint32_t cap;
	uint64_t base; /* file offset of the piece being scanned */
};

/*
 * The list is full. Matches ending at one offset arrive longest pattern
 * first, so when the cut falls inside such a group keep the lowest pattern
 * indices of it: the kept hits are then the first ones by (end, pattern).
 */
static void replace_in_tie(struct hit_ctx *c, uint32_t pattern, uint64_t end)
{
	uint32_t i, worst = c->cap;

	if (c->cap == 0 || c->hits[c->cap - 1].end_offset != end)
		return;
	for (i = c->cap; i-- > 0 && c->hits[i].end_offset == end;)
		if (worst == c->cap || c->hits[i].pattern > c->hits[worst].pattern)
			worst = i;
	if (c->hits[worst].pattern > pattern)
		c->hits[worst].pattern = pattern;
}

static void record_hit(void *arg, uint32_t pattern, size_t end)
{
	struct hit_ctx *c = arg;

	if (c->out->nhits >= c->cap) {
		c->out->overflow = 1;
		replace_in_tie(c, pattern, c->base + end);
		return;
	}
	c->hits[c->out->nhits].pattern = pattern;
	c->hits[c->out->nhits].end_offset = c->base + end;
	c->out->nhits++;
}

static void scan_locked(struct mk_scan_env *env, const uint32_t *a, uint32_t bi,
			uint32_t set, uint32_t state);

void mk_scan_exec_host(struct mk_scan_env *env, const uint32_t *w)
{
	const uint32_t *a = &w[MK_ARG0_WORD];
	uint32_t bi = a[0], set = a[3], state = a[4];

	if (bi >= MK_SCAN_MAX_BUFS || set >= MK_SCAN_MAX_SETS)
		return; /* bad indices: a no-op that still completes */
	if (env->host_lock)
		pthread_rwlock_rdlock(env->host_lock);
	if (env->bufs[bi] && env->dfas[set])
		scan_locked(env, a, bi, set, state);
	if (env->host_lock)
		pthread_rwlock_unlock(env->host_lock);
}

void mk_scan_sets_hold(struct mk_scan_env *env)
{
	if (env->host_lock)
		pthread_rwlock_rdlock(env->host_lock);
}

void mk_scan_sets_release(struct mk_scan_env *env)
{
	if (env->host_lock)
		pthread_rwlock_unlock(env->host_lock);
}

/* The scan itself, with the buffer pinned by host_lock. */
static void scan_locked(struct mk_scan_env *env, const uint32_t *a, uint32_t bi,
			uint32_t set, uint32_t state)
{
	uint32_t len = a[1], from = a[2];
	const struct mk_dfa *d;
	struct hit_ctx c;
	uint32_t pos = 0;
	uint64_t m = 0;
	int check = 1; /* fast-count the next window before a hit pass */

	d = env->dfas[set];
	if (len > env->caps[bi])
		len = env->caps[bi];
	if (state >= mk_dfa_states(d))
		state = 0;
	memset(&env->outs[bi], 0, sizeof(env->outs[bi]));
	c.out = &env->outs[bi];
	c.hits = env->hits[bi];
	c.cap = a[7] < MK_SCAN_HITS_CAP ? a[7] : MK_SCAN_HITS_CAP;
	/*
	 * Hits in order until the cap is reached, then the fast count. After
	 * a window without matches the next one is checked by the fast count
	 * first and needs no hit pass when clean: sparse matches cost one fast
	 * scan, not the per-byte hit loop; dense ones are not scanned twice.
	 */
	while (pos < len && c.out->nhits < c.cap) {
		uint32_t win = len - pos < CLEAN_WINDOW ? len - pos : CLEAN_WINDOW;
		uint32_t s0 = state, end = pos + win;
		uint64_t before = m;

		if (check && mk_dfa_scan_count(d, env->bufs[bi] + pos, win,
					       from > pos ? from - pos : 0,
					       &state) == 0) {
			pos = end;
			continue;
		}
		state = s0;
		while (pos < end && c.out->nhits < c.cap) {
			uint32_t piece = end - pos < HIT_PIECE ? end - pos : HIT_PIECE;

			c.base = ((uint64_t)a[6] << 32 | a[5]) + pos;
			m += mk_dfa_scan_hits(d, env->bufs[bi] + pos, piece,
					      from > pos ? from - pos : 0,
					      &state, record_hit, &c);
			pos += piece;
		}
		check = m == before;
	}
	if (pos < len) {
		uint64_t rest = mk_dfa_scan_count(d, env->bufs[bi] + pos,
						  len - pos,
						  from > pos ? from - pos : 0,
						  &state);

		c.out->overflow |= rest != 0;
		m += rest;
	}
	c.out->matches = m;
	c.out->end_state = state;
}

/* ---- pool ---------------------------------------------------------------------- */

/*
 * Writers first (glibc): host workers take it shared once per SCAN_CHUNK
 * or DFA_STEP, back to back, and a set change or a buffer's release must
 * not wait for a gap between them that may never come.
 */
static void init_buf_lock(pthread_rwlock_t *l)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
#ifdef __GLIBC__
	pthread_rwlockattr_setkind_np(&a,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
	pthread_rwlock_init(l, &a);
	pthread_rwlockattr_destroy(&a);
}

int mk_scan_pool_create(struct mk_runtime *rt, struct mk_scan_pool **out,
			struct mk_err *err)
{
	struct mk_scan_pool *pool;
	int rc;

	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return mk_err_set(err, -ENOMEM, "cannot allocate the scan pool",
				  "free some memory and remount");
	pool->rt = rt;
	for (rc = 0; rc < (int)MK_SCAN_MAX_BUFS; rc++)
		pool->orphan_slot[rc] = -1;
	pthread_mutex_init(&pool->mu, NULL);
	init_buf_lock(&pool->buf_lock);
	pool->env = mk_runtime_alloc_shared(rt, sizeof(*pool->env));
	if (!pool->env) {
		rc = mk_err_set(err, -ENOMEM, "cannot allocate the scan tables",
				"free some memory and remount");
		goto out_free_pool;
	}
	pool->env->host_lock = &pool->buf_lock;
	rc = mk_runtime_set_scan(rt, pool->env, err);
	if (rc)
		goto out_free_env;
	*out = pool;
	return 0;

out_free_env:
	mk_runtime_free_shared(rt, pool->env);
out_free_pool:
	pthread_rwlock_destroy(&pool->buf_lock);
	pthread_mutex_destroy(&pool->mu);
	free(pool);
	return rc;
}

void mk_scan_pool_destroy(struct mk_scan_pool *pool)
{
	uint32_t i;

	if (!pool)
		return;
	mk_runtime_set_scan(pool->rt, NULL, NULL);
	for (i = 0; i < MK_SCAN_MAX_BUFS; i++) {
		mk_runtime_free_shared(pool->rt, pool->env->bufs[i]);
		mk_runtime_free_shared(pool->rt, pool->env->hits[i]);
	}
	mk_runtime_free_shared(pool->rt, pool->env);
	pthread_rwlock_destroy(&pool->buf_lock);
	pthread_mutex_destroy(&pool->mu);
	free(pool);
}

/* Exclusive: no host worker is reading the set while it changes. */
static void put_view(struct mk_scan_env *env, int idx, const struct mk_dfa *d)
{
	if (env->host_lock)
		pthread_rwlock_wrlock(env->host_lock);
	env->dfas[idx] = d;
	env->sets[idx] = d ? mk_dfa_view(d) : (struct mk_dfa_view){ 0 };
	if (env->host_lock)
		pthread_rwlock_unlock(env->host_lock);
}

/*
 * Install @d (NULL: remove) at @idx; caller holds pool->mu. The backend may
 * keep its own copy (device tables): tell it. When it cannot take a new
 * set (GPU memory, a hit table too big), the old one stays and its error
 * is returned; a removal always succeeds here.
 */
static int set_view(struct mk_scan_pool *pool, int idx, const struct mk_dfa *d,
		    struct mk_err *err)
{
	const struct mk_dfa *old = pool->env->dfas[idx];
	int rc;

	put_view(pool->env, idx, d);
	rc = mk_runtime_set_scan(pool->rt, pool->env, d ? err : NULL);
	if (rc == 0 || !d)
		return 0;
	put_view(pool->env, idx, old);
	mk_runtime_set_scan(pool->rt, pool->env, NULL);
	return rc;
}

int mk_scan_pool_add_set(struct mk_scan_pool *pool, const struct mk_dfa *d,
			 struct mk_err *err)
{
	int i;

	pthread_mutex_lock(&pool->mu);
	for (i = 0; i < (int)MK_SCAN_MAX_SETS; i++) {
		if (!pool->env->dfas[i]) {
			int rc = set_view(pool, i, d, err);

			pthread_mutex_unlock(&pool->mu);
			return rc ? rc : i;
		}
	}
	pthread_mutex_unlock(&pool->mu);
	return mk_err_setf(err, -ENOSPC, "rmdir pattern sets you no longer need",
			   "all %u pattern sets are in use", MK_SCAN_MAX_SETS);
}

int mk_scan_pool_replace_set(struct mk_scan_pool *pool, int idx,
			     const struct mk_dfa *d, struct mk_err *err)
{
	int rc = 0;

	if (idx < 0 || idx >= (int)MK_SCAN_MAX_SETS)
		return mk_err_set(err, -ENOENT, "no such pattern set",
				  "create it with mkdir patterns/NAME");
	pthread_mutex_lock(&pool->mu);
	if (pool->set_users[idx])
		rc = mk_err_set(err, -EBUSY, "a running stream uses this pattern set",
				"wait for the stream to finish or cancel it");
	else
		rc = set_view(pool, idx, d, err);
	pthread_mutex_unlock(&pool->mu);
	return rc;
}

int mk_scan_pool_remove_set(struct mk_scan_pool *pool, int idx,
			    struct mk_err *err)
{
	return mk_scan_pool_replace_set(pool, idx, NULL, err);
}

/* Free buffer @i (bytes and hits); caller holds pool->mu. */
static void drop_buffer(struct mk_scan_pool *pool, uint32_t i)
{
	struct mk_scan_env *env = pool->env;
	uint8_t *buf;
	struct mk_scan_hit *hits;

	/* Exclusive: no host scan is reading the buffer while it goes. */
	pthread_rwlock_wrlock(&pool->buf_lock);
	buf = env->bufs[i];
	hits = env->hits[i];
	/* bufs first: a GPU scan_post that read the old one sees it change. */
	__atomic_store_n(&env->bufs[i], NULL, __ATOMIC_RELEASE);
	env->hits[i] = NULL;
	env->caps[i] = 0;
	pthread_rwlock_unlock(&pool->buf_lock);
	mk_runtime_free_shared(pool->rt, buf);
	mk_runtime_free_shared(pool->rt, hits);
	pool->buf_used[i] = 0;
}

/* Free the orphans whose slot is DONE; caller holds pool->mu. */
static void reap_locked(struct mk_scan_pool *pool)
{
	uint32_t i;

	for (i = 0; i < MK_SCAN_MAX_BUFS && pool->norphans; i++) {
		int32_t slot = pool->orphan_slot[i];

		/* Reserved since: DONE can only be this chunk's. */
		if (slot < 0 || mk_runtime_slot_done(pool->rt, (uint32_t)slot) != 1)
			continue;
		mk_runtime_release(pool->rt, (uint32_t)slot);
		drop_buffer(pool, i);
		pool->set_users[pool->orphan_set[i]]--;
		pool->orphan_slot[i] = -1;
		__atomic_store_n(&pool->norphans, pool->norphans - 1,
				 __ATOMIC_RELEASE);
	}
}

int mk_scan_pool_reap(struct mk_scan_pool *pool)
{
	int left;

	pthread_mutex_lock(&pool->mu);
	reap_locked(pool);
	left = (int)pool->norphans;
	pthread_mutex_unlock(&pool->mu);
	return left;
}

uint32_t mk_scan_pool_orphans(const struct mk_scan_pool *pool)
{
	return pool ? __atomic_load_n(&pool->norphans, __ATOMIC_ACQUIRE) : 0;
}

/*
 * Allocate @want staging buffers of @cap bytes in free pool
 * entries; -EBUSY if not enough entries, -ENOMEM. Buffers are freed again
 * when the stream ends, so the daemon's memory follows the running
 * streams. Caller holds pool->mu.
 */
static int take_buffers(struct mk_scan_pool *pool, uint32_t *idx,
			uint32_t want, size_t cap, struct mk_err *err)
{
	struct mk_scan_env *env = pool->env;
	uint32_t n = 0, i;
	int oom;

	reap_locked(pool);
	for (i = 0; i < MK_SCAN_MAX_BUFS && n < want; i++) {
		uint8_t *buf;
		struct mk_scan_hit *hits;

		if (pool->buf_used[i])
			continue;
		buf = mk_runtime_alloc_shared(pool->rt, cap);
		hits = mk_runtime_alloc_shared(pool->rt, MK_SCAN_HITS_CAP *
							 sizeof(struct mk_scan_hit));
		pool->buf_used[i] = 1;
		pthread_rwlock_wrlock(&pool->buf_lock);
		env->hits[i] = hits;
		env->caps[i] = buf ? (uint32_t)cap : 0;
		/* bufs last: whoever sees it sees its caps and hits. */
		__atomic_store_n(&env->bufs[i], buf, __ATOMIC_RELEASE);
		pthread_rwlock_unlock(&pool->buf_lock);
		idx[n++] = i;
		if (!buf || !hits)
			break;
	}
	oom = n > 0 && (!env->bufs[idx[n - 1]] || !env->hits[idx[n - 1]]);
	if (n == want && !oom)
		return 0;
	for (i = 0; i < n; i++)
		drop_buffer(pool, idx[i]);
	if (oom)
		return mk_err_set(err, -ENOMEM, "cannot allocate staging buffers",
				  "use a smaller chunk_bytes or free memory");
	return mk_err_set(err, -EBUSY, "every staging buffer is in use",
			  "wait for running streams to finish");
}

/* ---- the stream thread -------------------------------------------------------- */

static void fail(struct mk_stream *s, const struct mk_err *err)
{
	pthread_mutex_lock(&s->mu);
	if (s->state == MK_STREAM_RUNNING) {
		s->state = MK_STREAM_FAILED;
		s->error_code = err->code ? err->code : -EIO;
		snprintf(s->error, sizeof(s->error), "%s", mk_err_msg(err));
	}
	pthread_mutex_unlock(&s->mu);
}

static int cmp_hit(const void *a, const void *b)
{
	const struct mk_scan_hit *x = a, *y = b;

	if (x->end_offset != y->end_offset)
		return x->end_offset < y->end_offset ? -1 : 1;
	return (x->pattern > y->pattern) - (x->pattern < y->pattern);
}

/* Fold one chunk's result in: counts, and the first max_hits hits. */
static void merge(struct mk_stream *s, uint32_t pb, uint64_t new_bytes)
{
	struct mk_scan_out *o = &s->pool->env->outs[pb];
	struct mk_scan_hit *h = s->pool->env->hits[pb];
	size_t n = o->nhits < s->p.max_hits ? o->nhits : s->p.max_hits;
	struct mk_scan_hit *all;

	pthread_mutex_lock(&s->mu);
	s->matches += o->matches;
	s->bytes += new_bytes;
	s->chunks++;
	s->carry_state = o->end_state;
	all = malloc((s->nkept + n + 1) * sizeof(*all));
	if (all) {
		memcpy(all, s->kept, s->nkept * sizeof(*all));
		memcpy(all + s->nkept, h, n * sizeof(*all));
		qsort(all, s->nkept + n, sizeof(*all), cmp_hit);
		s->nkept = s->nkept + n < s->p.max_hits ? s->nkept + n : s->p.max_hits;
		memcpy(s->kept, all, s->nkept * sizeof(*all));
		free(all);
	}
	pthread_mutex_unlock(&s->mu);
}

/* Complete the chunks whose slots are DONE. Returns how many. */
static int harvest(struct mk_stream *s)
{
	int done = 0;
	uint32_t i;

	for (i = 0; i < s->nbuf; i++) {
		struct flight *f = &s->fl[i];

		if (f->slot < 0 || mk_runtime_slot_done(s->rt, (uint32_t)f->slot) != 1)
			continue;
		merge(s, s->pbuf[i], f->new_bytes);
		mk_runtime_release(s->rt, (uint32_t)f->slot);
		f->slot = -1;
		s->inflight--;
		mk_uring_reader_release(s->rd, i);
		done++;
	}
	return done;
}

/*
 * The hit cap for a chunk whose counted bytes start at file offset @from:
 * 0 once max_hits hits are kept and the last of them ends before @from,
 * since every hit of the chunk would sort after it (the kernel then skips
 * the hit pass and only counts); else max_hits.
 */
static uint32_t chunk_cap(struct mk_stream *s, uint64_t from)
{
	uint32_t cap = s->p.max_hits;

	pthread_mutex_lock(&s->mu);
	if (cap && s->nkept == cap && s->kept[cap - 1].end_offset < from)
		cap = 0;
	pthread_mutex_unlock(&s->mu);
	return cap;
}

/* Publish one chunk as a SCAN_CHUNK slot. */
static int submit(struct mk_stream *s, const struct mk_chunk *ch)
{
	struct mk_slot img;
	struct mk_err err;
	int slot, rc;

	while ((slot = mk_runtime_reserve(s->rt, NULL)) < 0) {
		if (__atomic_load_n(&s->cancel, __ATOMIC_ACQUIRE))
			return -ECANCELED;
		harvest(s);
		mk_runtime_wait_progress(s->rt, mk_runtime_progress(s->rt), WAIT_NS);
	}
	memset(&img, 0, sizeof(img));
	img.opcode = MK_OP_SCAN_CHUNK;
	img.priority = MK_PRIORITY_NORMAL;
	img.args[0] = s->pbuf[ch->buf_id];
	img.args[1] = (uint32_t)ch->len;
	img.args[2] = (uint32_t)ch->overlap;
	img.args[3] = (uint32_t)s->p.set;
	img.args[4] = s->carry ? s->carry_state : 0;
	img.args[5] = (uint32_t)ch->offset;
	img.args[6] = (uint32_t)(ch->offset >> 32);
	img.args[7] = chunk_cap(s, ch->offset + ch->overlap);
	rc = mk_runtime_publish_reserved(s->rt, (uint32_t)slot, &img, &err);
	if (rc) {
		mk_runtime_release(s->rt, (uint32_t)slot);
		fail(s, &err);
		return rc;
	}
	s->fl[ch->buf_id].slot = slot;
	s->fl[ch->buf_id].new_bytes = ch->len - ch->overlap;
	s->inflight++;
	return 0;
}

/*
 * Ask the reader for the next chunk. 2 = one was submitted (ask again: more
 * may be ready), 1 = eof/cancel, 0 = nothing ready yet, <0 fail.
 */
static int pump(struct mk_stream *s)
{
	struct mk_chunk ch;
	int rc;

	/* Carry-state scans are sequential: one chunk in the kernel at a time. */
	if (s->carry && s->inflight)
		return 0;
	rc = mk_uring_reader_next(s->rd, &ch, s->inflight ? 0 : WAIT_NS);
	if (rc == 1)
		return submit(s, &ch) == 0 ? 2 : -1;
	if (rc == 0 || rc == -ECANCELED)
		return 1;
	if (rc == -ETIMEDOUT || rc == -ENOBUFS)
		return 0;
	fail(s, mk_uring_reader_err(s->rd));
	return -1;
}

/* Cancelled, or failed: nothing more of this run will be merged. */
static int given_up(struct mk_stream *s)
{
	int failed;

	if (__atomic_load_n(&s->cancel, __ATOMIC_ACQUIRE))
		return 1;
	pthread_mutex_lock(&s->mu);
	failed = s->state == MK_STREAM_FAILED;
	pthread_mutex_unlock(&s->mu);
	return failed;
}

static void *stream_main(void *arg)
{
	struct mk_stream *s = arg;
	int eof = 0, rc;

	while (!(eof && s->inflight == 0)) {
		uint64_t seen = mk_runtime_progress(s->rt);

		if (!eof && __atomic_load_n(&s->cancel, __ATOMIC_ACQUIRE)) {
			mk_uring_reader_cancel(s->rd);
			eof = 1;
		}
		if (harvest(s))
			continue;
		if (!eof) {
			rc = pump(s);
			/*
			 * Keep every free buffer in the kernel before sleeping:
			 * waiting after each submit kept about one chunk in
			 * flight, so one worker (or block) did all the scanning.
			 */
			if (rc == 2)
				continue;
			if (rc) {
				eof = 1;
				if (rc < 0)
					mk_uring_reader_cancel(s->rd);
			}
			if (rc || !s->inflight)
				continue;
		}
		/*
		 * Cancelled (or failed) while the kernel is stopped: its slots
		 * stay PUBLISHED and will run after a restart, so their buffers
		 * and slots are left reserved (see put_buffers) instead of
		 * waiting. A run that is neither waits: its chunks run when
		 * the kernel starts again, and only then is it done.
		 */
		if (eof && !mk_runtime_running(s->rt) && given_up(s))
			break;
		/* Slots in the kernel: sleep until something completes. */
		mk_runtime_wait_progress(s->rt, seen, WAIT_NS);
	}
	pthread_mutex_lock(&s->mu);
	if (s->state == MK_STREAM_RUNNING)
		s->state = __atomic_load_n(&s->cancel, __ATOMIC_ACQUIRE)
				   ? MK_STREAM_CANCELLED
				   : MK_STREAM_DONE;
	s->t1 = mk_now_ns();
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- public stream API -------------------------------------------------------- */

static int check_params(struct mk_scan_pool *pool,
			const struct mk_stream_params *p, struct mk_err *err)
{
	if (p->chunk_bytes < MK_STREAM_MIN_CHUNK || p->chunk_bytes > MK_STREAM_MAX_CHUNK)
		return mk_err_setf(err, -EINVAL, "use chunk_bytes between 4096 and 16777216",
				   "chunk_bytes=%u is out of range", p->chunk_bytes);
	if (p->nbufs > MK_STREAM_MAX_BUFS)
		return mk_err_setf(err, -EINVAL, "use between 1 and 16 staging buffers",
				   "nbufs=%u is out of range", p->nbufs);
	if (p->max_hits > MK_SCAN_HITS_CAP)
		return mk_err_setf(err, -EINVAL, "use max_hits between 0 and 65536",
				   "max_hits=%u is out of range", p->max_hits);
	if (p->set < 0 || p->set >= (int)MK_SCAN_MAX_SETS ||
	    !pool->env->dfas[p->set])
		return mk_err_set(err, -ENOENT, "the stream names no compiled pattern set",
				  "write a pattern set name into streams/S/patterns, "
				  "and literals or a dfa into it first");
	return 0;
}

static int open_reader(struct mk_stream *s, struct mk_err *err)
{
	const struct mk_dfa *d = s->pool->env->dfas[s->p.set];
	struct mk_uring_params up;
	uint8_t *bufs[MK_STREAM_MAX_BUFS];
	size_t ov = mk_dfa_overlap(d);
	uint32_t i;
	int rc;

	s->carry = ov == MK_DFA_OVERLAP_UNBOUNDED;
	for (i = 0; i < s->nbuf; i++) {
		bufs[i] = s->pool->env->bufs[s->pbuf[i]];
		s->fl[i].slot = -1;
	}
	memset(&up, 0, sizeof(up));
	up.fd = s->p.fd;
	up.file_size = s->p.size;
	up.chunk_bytes = s->p.chunk_bytes;
	up.overlap_bytes = s->carry ? 0 : ov;
	up.bufs = bufs;
	up.nbuf = s->nbuf;
	up.buf_cap = s->p.chunk_bytes + MK_DFA_MAX_PATLEN;
	up.flags = s->carry ? MK_URING_ORDERED : 0;
	if (!s->p.inline_reads)
		up.flags |= MK_URING_ASYNC;
	rc = mk_uring_reader_create(&up, &s->rd, err);
	if (rc == 0)
		snprintf(s->io, sizeof(s->io), "%s", mk_uring_reader_status(s->rd));
	return rc;
}

static void put_buffers(struct mk_stream *s)
{
	struct mk_scan_pool *pool = s->pool;
	uint32_t i, b;

	pthread_mutex_lock(&pool->mu);
	for (i = 0; i < s->nbuf; i++) {
		b = s->pbuf[i];
		if (s->fl[i].slot < 0) {
			drop_buffer(pool, b);
			continue;
		}
		/* The kernel may still read it: an orphan until DONE. */
		pool->orphan_slot[b] = s->fl[i].slot;
		pool->orphan_set[b] = s->p.set;
		pool->set_users[s->p.set]++;
		__atomic_store_n(&pool->norphans, pool->norphans + 1,
				 __ATOMIC_RELEASE);
	}
	pool->set_users[s->p.set]--;
	reap_locked(pool);
	pthread_mutex_unlock(&pool->mu);
}

int mk_stream_start(struct mk_scan_pool *pool, const struct mk_stream_params *p,
		    struct mk_stream **out, struct mk_err *err)
{
	struct mk_stream *s;
	int rc;

	rc = check_params(pool, p, err);
	if (rc)
		goto out_close;
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = mk_err_set(err, -ENOMEM, "cannot allocate the stream",
				"free some memory");
		goto out_close;
	}
	s->kept = calloc(p->max_hits + 1, sizeof(*s->kept));
	if (!s->kept) {
		free(s);
		rc = mk_err_set(err, -ENOMEM, "cannot allocate the hit list",
				"use a smaller max_hits");
		goto out_close;
	}
	for (rc = 0; rc < (int)MK_STREAM_MAX_BUFS; rc++)
		s->fl[rc].slot = -1;
	s->nbuf = p->nbufs ? p->nbufs : MK_STREAM_BUFS;
	s->pool = pool;
	s->rt = pool->rt;
	s->p = *p;
	s->state = MK_STREAM_RUNNING;
	s->t0 = mk_now_ns();
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_lock(&pool->mu);
	rc = take_buffers(pool, s->pbuf, s->nbuf, p->chunk_bytes + MK_DFA_MAX_PATLEN,
			  err);
	if (rc == 0)
		pool->set_users[p->set]++;
	pthread_mutex_unlock(&pool->mu);
	if (rc)
		goto out_free;
	rc = open_reader(s, err);
	if (rc)
		goto out_put;
	rc = pthread_create(&s->th, NULL, stream_main, s);
	if (rc) {
		rc = mk_err_set(err, -EAGAIN, "cannot start the stream thread",
				"raise the thread limit");
		goto out_reader;
	}
	s->started = 1;
	*out = s;
	return 0;

out_reader:
	mk_uring_reader_destroy(s->rd);
out_put:
	put_buffers(s);
out_free:
	pthread_mutex_destroy(&s->mu);
	free(s->kept);
	free(s);
out_close:
	close(p->fd); /* the stream owns the fd, also when it fails */
	return rc;
}

void mk_stream_cancel(struct mk_stream *s)
{
	if (s)
		__atomic_store_n(&s->cancel, 1, __ATOMIC_RELEASE);
}

void mk_stream_destroy(struct mk_stream *s)
{
	if (!s)
		return;
	mk_stream_cancel(s);
	if (s->started)
		pthread_join(s->th, NULL);
	mk_uring_reader_destroy(s->rd);
	close(s->p.fd);
	put_buffers(s);
	pthread_mutex_destroy(&s->mu);
	free(s->kept);
	free(s);
}

const char *mk_stream_state_name(enum mk_stream_state st)
{
	static const char *const names[] = { "running", "done", "failed",
					     "cancelled" };

	return (unsigned)st < 4 ? names[st] : "unknown";
}

int mk_stream_progress(struct mk_stream *s, struct mk_stream_progress *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->mu);
	out->state = s->state;
	out->bytes = s->bytes;
	out->total = s->p.size;
	out->matches = s->matches;
	out->chunks = s->chunks;
	out->elapsed_s = (double)((s->t1 ? s->t1 : mk_now_ns()) - s->t0) / 1e9;
	snprintf(out->error, sizeof(out->error), "%s", s->error);
	out->error_code = s->error_code;
	snprintf(out->io, sizeof(out->io), "%s", s->io);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

size_t mk_stream_hits(struct mk_stream *s, struct mk_scan_hit *out, size_t cap,
		      uint64_t *dropped)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->nkept < cap ? s->nkept : cap;
	memcpy(out, s->kept, n * sizeof(*out));
	*dropped = s->matches - s->nkept;
	pthread_mutex_unlock(&s->mu);
	return n;
}
