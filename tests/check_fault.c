/* SPDX-License-Identifier: MIT */
/*
 * tests/check_fault.c - allocation failure on every error path (SQLite
 * anomaly testing). For N = 1, 2, ... the Nth allocation fails (transient,
 * then persistent) while a runtime is created, started, used and destroyed,
 * a control buffer is encoded, a pattern set compiled and a binary DFA
 * loaded (valid and invalid tables), the IO queue encoded and the model
 * run; every failure must come back as
 * -ENOMEM with a Fix: hint, and nothing may leak (the fault build runs
 * under ASan with leak detection, CK_FORK=no).
 * Only meaningful in the fault build: `make check-fault`. Elsewhere: exit 77.
 */
#include <errno.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include "runtime/dfa.h"
#include "runtime/fault.h"
#include "runtime/interp.h"
#include "runtime/io.h"
#include "runtime/model.h"
#include "runtime/stream.h"
#include "runtime/uring.h"
#include "runtime/proto.h"
#include "runtime/runtime.h"
#include "tests/mk_check.h"

#define MAX_N 400

/* One full life: create, start, publish, wait, stop, destroy. */
static int one_life(struct mk_err *err)
{
	struct mk_config cfg;
	struct mk_runtime *rt = NULL;
	uint32_t args[2] = { 1, MK_CTL_OBSERVABLE_BASE };
	int rc;

	mk_config_init(&cfg);
	cfg.backend = "cpu";
	cfg.slots = 8;
	cfg.workers = 2;
	rc = mk_runtime_create(&cfg, &rt, err);
	if (rc)
		return rc;
	rc = mk_runtime_start(rt, err);
	if (rc == 0)
		rc = mk_runtime_publish(rt, 0, 0, MK_OP_ATOMIC_ADD, args, 2, err);
	if (rc == 0)
		rc = mk_runtime_wait(rt, 0, 10000000000LL);
	mk_runtime_destroy(rt);
	return rc;
}

static void sweep_runtime(int persistent)
{
	long n;

	for (n = 1; n < MAX_N; n++) {
		struct mk_err err;
		long hit;
		int rc;

		mk_err_clear(&err);
		mk_fault_arm(n, persistent);
		rc = one_life(&err);
		hit = mk_fault_hits();
		mk_fault_arm(0, 0);
		if (hit == 0) {
			ck_assert_int_eq(rc, 0);
			return; /* every allocation site before this one was hit */
		}
		if (rc) {
			ck_assert_msg(rc == -ENOMEM || rc == -EAGAIN,
				      "alloc fault %ld gave %d", n, rc);
			t_assert_fix(err.msg);
		}
	}
	ck_abort_msg("more than %d allocations in one runtime life", MAX_N);
}

START_TEST(test_fault_runtime_transient)
{
	sweep_runtime(0);
}
END_TEST

START_TEST(test_fault_runtime_persistent)
{
	sweep_runtime(1);
}
END_TEST

START_TEST(test_fault_proto_encoders)
{
	struct mk_err err;
	uint8_t *buf = NULL;
	size_t len = 0;

	mk_fault_arm(1, 0);
	ck_assert_int_eq(mk_proto_encode_control(0, 1, 4, &buf, &len, &err), -ENOMEM);
	t_assert_fix(err.msg);
	ck_assert_ptr_null(buf);
	mk_fault_arm(1, 0);
	ck_assert_int_eq(mk_proto_encode_empty_ring(4, &buf, &len, &err), -ENOMEM);
	t_assert_fix(err.msg);
	mk_fault_arm(1, 0);
	ck_assert_int_eq(mk_io_encode_empty_queue(4, &buf, &len, &err), -ENOMEM);
	t_assert_fix(err.msg);
	ck_assert_ptr_null(buf);
	mk_fault_arm(0, 0);
}
END_TEST

/* The reference model's one allocation: a bare -ENOMEM, nothing run. */
START_TEST(test_fault_model_run)
{
	uint32_t ctl[MK_CONTROL_MIN_WORDS] = { 0 }, ring[4 * MK_SLOT_WORDS] = { 0 };
	struct mk_exec x = { ctl, ring, NULL, MK_CONTROL_MIN_WORDS,
			     4 * MK_SLOT_WORDS, 0, NULL, 0 };

	ctl[MK_CTL_TENANT_BASE] = MK_CTL_TENANT_MASK_DEFAULT;
	ctl[MK_CTL_TENANT_MASK_DEFAULT] = ~0u;
	ring[0] = MK_SLOT_PUBLISHED;
	mk_fault_arm(1, 0);
	ck_assert_int_eq(mk_model_run(&x, 4, MK_MODEL_SHARDED, 1, 0, 0), -ENOMEM);
	mk_fault_arm(0, 0);
	ck_assert_uint_eq(ring[0], MK_SLOT_PUBLISHED);
	ck_assert_int_eq(mk_model_run(&x, 4, MK_MODEL_SHARDED, 1, 0, 0), 1);
	ck_assert_uint_eq(ring[0], MK_SLOT_DONE);
}
END_TEST

START_TEST(test_fault_dfa_compile)
{
	static const char lit[] = "abc\nbcd\n\\x00\\xff\nneedle\n";
	long n;

	for (n = 1; n < MAX_N; n++) {
		struct mk_dfa *d = NULL;
		struct mk_err err;
		long hit;
		int rc;

		mk_err_clear(&err);
		mk_fault_arm(n, 0);
		rc = mk_dfa_compile_literals(lit, sizeof(lit) - 1, &d, &err);
		hit = mk_fault_hits();
		mk_fault_arm(0, 0);
		if (hit == 0) {
			ck_assert_int_eq(rc, 0);
			mk_dfa_destroy(d);
			return;
		}
		ck_assert_int_eq(rc, -ENOMEM);
		t_assert_fix(err.msg);
		ck_assert_ptr_null(d);
	}
	ck_abort_msg("more than %d allocations compiling 4 literals", MAX_N);
}
END_TEST

/*
 * Load @tbl (@len bytes) with the Nth allocation failing, N = 1, 2, ...:
 * each failure is -ENOMEM with a Fix: and leaves *out untouched; once no
 * allocation fails the load gives @want (0: the table loads and exports
 * back to the same bytes).
 */
static void sweep_load_binary(const uint8_t *tbl, size_t len, int want,
			      int persistent)
{
	uint8_t *back = malloc(len);
	struct mk_dfa *sentinel = (struct mk_dfa *)&sentinel, *d;
	long n;

	ck_assert_ptr_nonnull(back);
	for (n = 1; n < MAX_N; n++) {
		struct mk_err err;
		long hit;
		int rc;

		mk_err_clear(&err);
		d = sentinel;
		mk_fault_arm(n, persistent);
		rc = mk_dfa_load_binary(tbl, len, &d, &err);
		hit = mk_fault_hits();
		mk_fault_arm(0, 0);
		if (hit == 0) {
			ck_assert_int_eq(rc, want);
			if (rc == 0) {
				ck_assert_int_eq(mk_dfa_export(d, back, len), 0);
				ck_assert_mem_eq(back, tbl, len);
				mk_dfa_destroy(d);
			} else {
				t_assert_fix(err.msg);
				ck_assert_ptr_eq(d, sentinel);
			}
			free(back);
			return;
		}
		ck_assert_msg(rc == -ENOMEM, "alloc fault %ld gave %d", n, rc);
		t_assert_fix(err.msg);
		ck_assert_ptr_eq(d, sentinel);
	}
	ck_abort_msg("more than %d allocations loading a binary DFA", MAX_N);
}

/* A 3-state binary DFA (next s -> (s + byte) % 3, accept 0 1 2), @bad:
 * 0 valid, 1 a next-state out of range, 2 an accept count too large. */
static uint8_t *binary_table(int bad, size_t *len)
{
	size_t i, cells = 3 * 256;
	uint8_t *t = malloc(3 * MK_DFA_STATE_BYTES);
	uint32_t v;

	ck_assert_ptr_nonnull(t);
	for (i = 0; i < cells + 3; i++) {
		v = i < cells ? (uint32_t)((i / 256 + i % 256) % 3) :
				(uint32_t)(i - cells);
		if (bad == 1 && i == 300)
			v = 3;
		if (bad == 2 && i == cells + 1)
			v = MK_DFA_MAX_PATTERNS + 1;
		t[4 * i] = (uint8_t)v;
		t[4 * i + 1] = (uint8_t)(v >> 8);
		t[4 * i + 2] = (uint8_t)(v >> 16);
		t[4 * i + 3] = (uint8_t)(v >> 24);
	}
	*len = 3 * MK_DFA_STATE_BYTES;
	return t;
}

START_TEST(test_fault_dfa_load_binary)
{
	int bad, persistent;
	uint8_t *t;
	size_t len;

	for (bad = 0; bad < 3; bad++) {
		t = binary_table(bad, &len);
		for (persistent = 0; persistent < 2; persistent++)
			sweep_load_binary(t, len, bad ? -EINVAL : 0, persistent);
		free(t);
	}
}
END_TEST

/* A whole stream: pool, set, reader, scan slots, merge, teardown. */
static int one_stream(const char *path, struct mk_err *err)
{
	static const char lit[] = "ab\nb\n";
	struct mk_stream_params p = { 0 };
	struct mk_stream_progress pr;
	struct mk_scan_pool *pool = NULL;
	struct mk_stream *s = NULL;
	struct mk_runtime *rt = NULL;
	struct mk_dfa *d = NULL;
	struct mk_config cfg;
	uint64_t size;
	int rc;

	mk_config_init(&cfg);
	cfg.backend = "cpu";
	cfg.slots = 8;
	rc = mk_runtime_create(&cfg, &rt, err);
	if (!rc)
		rc = mk_runtime_start(rt, err);
	if (!rc)
		rc = mk_scan_pool_create(rt, &pool, err);
	if (!rc)
		rc = mk_dfa_compile_literals(lit, sizeof(lit) - 1, &d, err);
	if (!rc) {
		rc = mk_scan_pool_add_set(pool, d, err);
		p.set = rc;
		rc = rc < 0 ? rc : 0;
	}
	if (!rc) {
		p.fd = mk_uring_open_source(path, &size, err);
		rc = p.fd < 0 ? p.fd : 0;
	}
	if (!rc) {
		p.size = size;
		p.chunk_bytes = 4096;
		p.max_hits = 10;
		rc = mk_stream_start(pool, &p, &s, err);
	}
	while (!rc) {
		mk_runtime_wait_progress(rt, mk_runtime_progress(rt), 1000000);
		mk_stream_progress(s, &pr);
		if (pr.state != MK_STREAM_RUNNING)
			break;
	}
	mk_stream_destroy(s);
	mk_scan_pool_destroy(pool);
	mk_dfa_destroy(d);
	mk_runtime_destroy(rt);
	return rc;
}

START_TEST(test_fault_stream_life)
{
	char path[] = "/tmp/mk-fault.XXXXXX";
	char buf[20000];
	int fd = mkstemp(path);
	long n;

	memset(buf, 'a', sizeof(buf));
	buf[100] = 'b';
	ck_assert_int_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	for (n = 1; n < MAX_N; n++) {
		struct mk_err err;
		long hit;
		int rc;

		mk_err_clear(&err);
		mk_fault_arm(n, 0);
		rc = one_stream(path, &err);
		hit = mk_fault_hits();
		mk_fault_arm(0, 0);
		if (hit == 0) {
			ck_assert_int_eq(rc, 0);
			unlink(path);
			return;
		}
		if (rc)
			t_assert_fix(err.msg);
	}
	unlink(path);
	ck_abort_msg("more than %d allocations in one stream life", MAX_N);
}
END_TEST

static Suite *fault_suite(void)
{
	Suite *s = suite_create("fault");
	TCase *tc = tcase_create("alloc");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_fault_runtime_transient);
	tcase_add_test(tc, test_fault_runtime_persistent);
	tcase_add_test(tc, test_fault_proto_encoders);
	tcase_add_test(tc, test_fault_model_run);
	tcase_add_test(tc, test_fault_dfa_compile);
	tcase_add_test(tc, test_fault_dfa_load_binary);
	tcase_add_test(tc, test_fault_stream_life);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (!mk_fault_available()) {
		printf("check_fault: skipped (not a fault build; run make check-fault)\n");
		return 77;
	}
	return t_run_suite(fault_suite());
}
