/* SPDX-License-Identifier: MIT */
/*
 * runtime/fault.c - allocation-failure injection; see runtime/fault.h.
 * Always compiled; the counters only act in MK_TESTING builds, where the
 * allocation macros of fault.h route here.
 */
#include "runtime/fault.h"

/* The fault build force-includes fault.h: reach the real allocator here. */
#undef malloc
#undef calloc
#undef realloc
#undef aligned_alloc

static long countdown; /* atomic: allocations left before the fault */
static int persistent;
static long hits;      /* atomic */

int mk_fault_available(void)
{
#ifdef MK_TESTING
	return 1;
#else
	return 0;
#endif
}

void mk_fault_arm(long nth, int persist)
{
	persistent = persist;
	__atomic_store_n(&hits, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&countdown, nth, __ATOMIC_SEQ_CST);
}

long mk_fault_hits(void)
{
	return __atomic_load_n(&hits, __ATOMIC_SEQ_CST);
}

/* 1 when this allocation must fail. */
static int should_fail(void)
{
	long left = __atomic_load_n(&countdown, __ATOMIC_SEQ_CST);

	if (left <= 0)
		return 0;
	if (left == 1) {
		if (!persistent)
			__atomic_store_n(&countdown, 0, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&hits, 1, __ATOMIC_SEQ_CST);
		return 1;
	}
	__atomic_sub_fetch(&countdown, 1, __ATOMIC_SEQ_CST);
	return 0;
}

void *mk_fault_malloc(size_t n)
{
	return should_fail() ? NULL : malloc(n);
}

void *mk_fault_calloc(size_t n, size_t m)
{
	return should_fail() ? NULL : calloc(n, m);
}

void *mk_fault_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : realloc(p, n);
}

void *mk_fault_aligned_alloc(size_t align, size_t n)
{
	return should_fail() ? NULL : aligned_alloc(align, n);
}
