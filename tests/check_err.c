/* SPDX-License-Identifier: MIT */
/*
 * tests/check_err.c - runtime/err.c: "<what>. Fix: <fix>" records, their
 * truncation (the Fix: hint always survives), NULL tolerance and errno
 * names.
 */
#include <errno.h>
#include <string.h>

#include "runtime/err.h"
#include "tests/mk_check.h"

START_TEST(test_err_set_and_clear)
{
	struct mk_err e;

	mk_err_clear(&e);
	ck_assert_int_eq(e.code, 0);
	ck_assert_str_eq(mk_err_msg(&e), "");
	ck_assert_int_eq(mk_err_set(&e, -EBUSY, "slot 3 is busy", "wait for it"),
			 -EBUSY);
	ck_assert_int_eq(e.code, -EBUSY);
	ck_assert_str_eq(mk_err_msg(&e), "slot 3 is busy. Fix: wait for it");
	ck_assert_int_eq(mk_err_setf(&e, -EINVAL, "use 0..%d", "x=%d is bad", 7),
			 -EINVAL);
	ck_assert_str_eq(e.msg, "x=7 is bad. Fix: use 0..%d"); /* fix is literal */
	mk_err_clear(&e);
	ck_assert_int_eq(e.code, 0);
	ck_assert_str_eq(e.msg, "");
}
END_TEST

/* NULL records: the code still comes back, nothing is touched. */
START_TEST(test_err_null_tolerant)
{
	mk_err_clear(NULL);
	ck_assert_int_eq(mk_err_set(NULL, -ENOMEM, "a", "b"), -ENOMEM);
	ck_assert_int_eq(mk_err_setf(NULL, -ERANGE, "b", "%s", "a"), -ERANGE);
	ck_assert_str_eq(mk_err_msg(NULL), "");
}
END_TEST

/* A long "what" is cut so the whole Fix: hint fits in the record. */
START_TEST(test_err_long_what_keeps_fix)
{
	char what[1000];
	struct mk_err e;
	size_t n;

	memset(what, 'w', sizeof(what) - 1);
	what[sizeof(what) - 1] = '\0';
	mk_err_set(&e, -E2BIG, what, "write less");
	n = strlen(e.msg);
	ck_assert_uint_lt(n, sizeof(e.msg));
	ck_assert_str_eq(e.msg + n - strlen(". Fix: write less"), ". Fix: write less");
	t_assert_fix(e.msg);
	mk_err_setf(&e, -E2BIG, "write less", "%s", what);
	ck_assert_str_eq(e.msg + strlen(e.msg) - strlen("Fix: write less"),
			 "Fix: write less");
}
END_TEST

START_TEST(test_err_errno_names)
{
	ck_assert_str_eq(mk_errno_name(EBUSY), "EBUSY");
	ck_assert_str_eq(mk_errno_name(-EBUSY), "EBUSY");
	ck_assert_str_eq(mk_errno_name(-EINVAL), "EINVAL");
	ck_assert_str_eq(mk_errno_name(-ESHUTDOWN), "ESHUTDOWN");
	ck_assert_str_eq(mk_errno_name(-ETIMEDOUT), "ETIMEDOUT");
	ck_assert_str_eq(mk_errno_name(0), "E?");
	ck_assert_str_eq(mk_errno_name(-99999), "E?");
}
END_TEST

static Suite *err_suite(void)
{
	Suite *s = suite_create("err");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_err_set_and_clear);
	tcase_add_test(tc, test_err_null_tolerant);
	tcase_add_test(tc, test_err_long_what_keeps_fix);
	tcase_add_test(tc, test_err_errno_names);
	suite_add_tcase(s, tc);
	return s;
}

MK_CHECK_MAIN(err_suite)
