/* SPDX-License-Identifier: MIT */
/*
 * tests/t_runtime.h - helpers for suites that drive a live runtime:
 * create+start a runtime with a chosen backend and wait for slots.
 */
#ifndef MK_TESTS_T_RUNTIME_H
#define MK_TESTS_T_RUNTIME_H

#include <check.h>

#include "runtime/runtime.h"

#define T_WAIT_NS 10000000000LL /* 10 s: generous, never a timing assertion */

/* Create and start a runtime; fails the test on error. */
static inline struct mk_runtime *t_rt_start(const char *backend, uint32_t slots,
					    enum mk_sched sched, uint32_t flags)
{
	struct mk_config cfg;
	struct mk_runtime *rt = NULL;
	struct mk_err err;
	int rc;

	mk_config_init(&cfg);
	cfg.backend = backend;
	cfg.slots = slots;
	cfg.scheduler = sched;
	cfg.flags = flags;
	cfg.tenants = 4;
	mk_err_clear(&err);
	rc = mk_runtime_create(&cfg, &rt, &err);
	ck_assert_msg(rc == 0, "create: %d %s", rc, err.msg);
	rc = mk_runtime_start(rt, &err);
	ck_assert_msg(rc == 0, "start: %d %s", rc, err.msg);
	return rt;
}

static inline uint32_t t_ctl(struct mk_runtime *rt, uint32_t idx)
{
	uint32_t v = 0;

	ck_assert_int_eq(mk_runtime_read_ctl(rt, idx, 1, &v), 0);
	return v;
}

/* Publish and wait for DONE. */
static inline void t_run(struct mk_runtime *rt, uint32_t slot, uint32_t op,
			 const uint32_t *args, size_t nargs)
{
	struct mk_err err;
	int rc;

	mk_err_clear(&err);
	rc = mk_runtime_publish(rt, slot, 0, op, args, nargs, &err);
	ck_assert_msg(rc == 0, "publish: %d %s", rc, err.msg);
	ck_assert_int_eq(mk_runtime_wait(rt, slot, T_WAIT_NS), 0);
}

#endif /* MK_TESTS_T_RUNTIME_H */
