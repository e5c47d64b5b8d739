/* SPDX-License-Identifier: MIT */
/*
 * runtime/runtime_i.h - the runtime handle's insides, shared by
 * runtime/runtime.c (life cycle, completion, words) and runtime/publish.c
 * (publishing, slot locks, reservation). Not part of the API.
 */
#ifndef MK_RUNTIME_RUNTIME_I_H
#define MK_RUNTIME_RUNTIME_I_H

#include <pthread.h>
#include <stdint.h>

#include "runtime/backend.h"
#include "runtime/runtime.h"

struct mk_fanout;

struct mk_runtime {
	struct mk_config cfg;
	const struct mk_backend_ops *ops;
	struct mk_backend *be;
	uint32_t *ring;       /* backend's host-visible ring, slots*16 words */
	uint32_t stream_min;  /* mk_buffers.stream_min */
	struct mk_fanout *fan; /* big range publishes in parts (NULL: off) */
	uint32_t slots;
	uint32_t ctl_words;
	uint32_t dbg_words;
	/*
	 * Host slot locks, one bit per slot (atomic words): held while a
	 * publisher writes the slot, or while a call channel or stream has
	 * it reserved. A range publish takes 64 slots per atomic.
	 */
	uint64_t *lock;
	/*
	 * Settling bits, one per slot: set by mk_runtime_publish_begin()
	 * once the range is validated, cleared by mk_runtime_publish_end()
	 * after its lines are written. Host readers wait while a bit they
	 * read is set (mk_rt_settle), so a caller answered after begin
	 * never reads a slot as it was before its publish.
	 */
	uint64_t *pend;
	uint64_t published;   /* atomic: successful slot publishes */
	uint32_t progress;    /* atomic futex word: bumped per completion */
	uint32_t waiters;     /* atomic: threads blocked on progress */
	uint64_t done64;      /* DONE_COUNT extended past 2^32 (under life) */
	pthread_mutex_t life; /* serialises start/stop */
	int64_t created_ns;
	char note[320];
};

/* Status word of @slot as the ring holds it. Acquire pairs with the
 * kernel's release store of DONE. */
static inline uint32_t mk_rt_status(struct mk_runtime *rt, uint32_t slot)
{
	return __atomic_load_n(&rt->ring[(size_t)slot * MK_SLOT_WORDS],
			       __ATOMIC_ACQUIRE);
}

/* Whether @slot is between a publish's begin and end. */
static inline int mk_rt_pending(struct mk_runtime *rt, uint32_t slot)
{
	return !!(__atomic_load_n(&rt->pend[slot / 64u], __ATOMIC_ACQUIRE) &
		  (1ull << (slot % 64u)));
}

/*
 * Wait until no publish of [first, first + n) is between its begin and
 * its end (runtime/publish.c). Every host read of ring state that a caller
 * may order after a publish's answer settles first.
 */
void mk_rt_settle(struct mk_runtime *rt, uint32_t first, uint32_t n);

#endif /* MK_RUNTIME_RUNTIME_I_H */
