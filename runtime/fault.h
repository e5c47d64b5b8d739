/* SPDX-License-Identifier: MIT */
/*
 * runtime/fault.h - allocation-failure injection (SQLite anomaly-testing
 * style) for the fault-test build only: `make check-fault` compiles every
 * source with -DMK_TESTING -include runtime/fault.h, which routes malloc,
 * calloc, realloc and aligned_alloc through counters that can fail the Nth
 * allocation (transient) or every allocation from the Nth on (persistent).
 * In normal builds this header declares only mk_fault_available().
 * Pairs with runtime/fault.c.
 */
#ifndef MK_RUNTIME_FAULT_H
#define MK_RUNTIME_FAULT_H

#include <stddef.h>
#include <stdlib.h>

/* 1 in an MK_TESTING build, 0 otherwise (the fault suite then skips). */
int mk_fault_available(void);

/*
 * Arm: the @nth allocation from now fails (1-based); with @persistent every
 * later one fails too. nth = 0 disarms. Not thread-safe by design: arm from
 * the test thread before the call under test.
 */
void mk_fault_arm(long nth, int persistent);
/* Allocations that failed because of the arm since the last mk_fault_arm. */
long mk_fault_hits(void);

void *mk_fault_malloc(size_t n);
void *mk_fault_calloc(size_t n, size_t m);
void *mk_fault_realloc(void *p, size_t n);
void *mk_fault_aligned_alloc(size_t align, size_t n);

#ifdef MK_TESTING
#define malloc(n) mk_fault_malloc(n)
#define calloc(n, m) mk_fault_calloc(n, m)
#define realloc(p, n) mk_fault_realloc(p, n)
#define aligned_alloc(a, n) mk_fault_aligned_alloc(a, n)
#endif

#endif /* MK_RUNTIME_FAULT_H */
