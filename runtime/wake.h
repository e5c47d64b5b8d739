/* SPDX-License-Identifier: MIT */
/*
 * runtime/wake.h - futex-based sleep/wake on a 32-bit counter and a bounded
 * MPMC queue of slot indices (Vyukov): the CPU backend's doorbell and the
 * runtime's progress counter. Host-only. Pairs with runtime/wake.c.
 */
#ifndef MK_RUNTIME_WAKE_H
#define MK_RUNTIME_WAKE_H

#include <stdint.h>

/*
 * Sleep while *word == seen, at most timeout_ns (negative = forever).
 * Returns 0 when woken or the value changed, -ETIMEDOUT on timeout.
 */
int mk_futex_wait(uint32_t *word, uint32_t seen, int64_t timeout_ns);
/* Wake up to n sleepers of word (n = INT32_MAX for all). */
void mk_futex_wake(uint32_t *word, int n);

/* Monotonic clock in nanoseconds. */
int64_t mk_now_ns(void);

/* One spin-wait pause (x86 PAUSE; nothing elsewhere). */
static inline void mk_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

struct mk_mpmc_cell {
	uint32_t seq;
	uint32_t val;
};

/* Bounded multi-producer multi-consumer queue of u32 values. */
struct mk_mpmc {
	struct mk_mpmc_cell *cells;
	uint32_t mask; /* capacity - 1, capacity a power of two */
	char pad0[64];
	uint32_t head; /* next position to pop (consumers) */
	char pad1[64];
	uint32_t tail; /* next position to push (producers) */
	char pad2[64];
};

/* Capacity is rounded up to a power of two >= min_cap. 0 or -ENOMEM. */
int mk_mpmc_init(struct mk_mpmc *q, uint32_t min_cap);
void mk_mpmc_fini(struct mk_mpmc *q);
/* 0 or -ENOSPC when full. */
int mk_mpmc_push(struct mk_mpmc *q, uint32_t v);
/* 1 and *v when an item was taken, 0 when empty. */
int mk_mpmc_pop(struct mk_mpmc *q, uint32_t *v);
/* Racy hint: 1 if the queue looks non-empty. */
int mk_mpmc_nonempty(struct mk_mpmc *q);

#endif /* MK_RUNTIME_WAKE_H */
