/* SPDX-License-Identifier: MIT */
/*
 * tests/mk_check.h - shared main() and t_ helpers for the Check suites.
 * Each tests/check_<module>.c defines `Suite *<module>_suite(void)` and ends
 * with MK_CHECK_MAIN(<module>_suite). A suite whose precondition is missing
 * (no GPU, no /dev/fuse) calls t_skip("why") from main's precondition hook
 * and exits 77.
 */
#ifndef MK_TESTS_MK_CHECK_H
#define MK_TESTS_MK_CHECK_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Assert that an error message carries a Fix: hint. */
#define t_assert_fix(msg)                                                   \
	do {                                                                \
		const char *m_ = (msg);                                     \
		ck_assert_msg(m_ && strstr(m_, "Fix:"),                      \
			      "message lacks 'Fix:': '%s'", m_ ? m_ : "(null)"); \
	} while (0)

static inline int t_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define MK_CHECK_MAIN(fn)                     \
	int main(void)                        \
	{                                     \
		return t_run_suite(fn());     \
	}

#endif /* MK_TESTS_MK_CHECK_H */
