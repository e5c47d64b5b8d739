/* SPDX-License-Identifier: MIT */
/*
 * tests/t_scan.h - helpers the scan suites share (check_scan_cuda,
 * check_scan_lanes, check_stream): a literal set as a binary DFA, and the
 * (end offset, pattern) order hit lists are compared in.
 */
#ifndef MK_TESTS_T_SCAN_H
#define MK_TESTS_T_SCAN_H

#include <check.h>
#include <stdlib.h>

#include "runtime/dfa.h"
#include "runtime/scan.h"

/* @lit exported and loaded back: the same counts, every pattern index 0. */
static inline struct mk_dfa *t_binary_of(const struct mk_dfa *lit)
{
	size_t n = mk_dfa_table_bytes(lit);
	uint8_t *table = malloc(n);
	struct mk_dfa *b = NULL;
	struct mk_err err;

	ck_assert_ptr_nonnull(table);
	ck_assert_int_eq(mk_dfa_export(lit, table, n), 0);
	ck_assert_int_eq(mk_dfa_load_binary(table, n, &b, &err), 0);
	free(table);
	return b;
}

/* qsort order of struct mk_scan_hit: end offset, then pattern index. */
static inline int t_cmp_hit(const void *x, const void *y)
{
	const struct mk_scan_hit *a = x, *b = y;

	if (a->end_offset != b->end_offset)
		return a->end_offset < b->end_offset ? -1 : 1;
	return (a->pattern > b->pattern) - (a->pattern < b->pattern);
}

#endif /* MK_TESTS_T_SCAN_H */
