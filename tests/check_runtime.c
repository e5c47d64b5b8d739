/* SPDX-License-Identifier: MIT */
/*
 * tests/check_runtime.c - the runtime API against a live CPU megakernel:
 * config errors, publish validation order with errno + Fix: and no state
 * change, every opcode's effect, tenant masks, SHUTDOWN and restart, batch
 * and image publishing (all-or-nothing, and in two phases), call-slot
 * reservation, control word ownership, status, debug log.
 *   build/release/tests/check_runtime
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "runtime/proto.h"
#include "tests/mk_check.h"
#include "tests/t_runtime.h"

#define OBS(k) (MK_CTL_OBSERVABLE_BASE + (k))

static struct mk_runtime *rt;

static void setup(void)
{
	rt = t_rt_start("cpu", 64, MK_SCHED_SHARDED, 0);
}

static void teardown(void)
{
	mk_runtime_destroy(rt);
	rt = NULL;
}

START_TEST(test_runtime_config_errors)
{
	struct mk_config cfg;
	struct mk_runtime *r = NULL;
	struct mk_err err;

	mk_config_init(&cfg);
	cfg.slots = 0;
	ck_assert_int_eq(mk_runtime_create(&cfg, &r, &err), -EINVAL);
	t_assert_fix(err.msg);
	ck_assert_ptr_null(r);
	mk_config_init(&cfg);
	cfg.backend = "tpu";
	ck_assert_int_eq(mk_runtime_create(&cfg, &r, &err), -EINVAL);
	t_assert_fix(err.msg);
	mk_config_init(&cfg);
	cfg.observables = MK_MAX_ENCODED_OBSERVABLE_SLOTS + 1;
	ck_assert_int_eq(mk_runtime_create(&cfg, &r, &err), -EINVAL);
	t_assert_fix(err.msg);
}
END_TEST

/* Without a GPU, backend=cuda fails with -ENODEV + Fix:, auto says cpu. */
START_TEST(test_runtime_auto_falls_back_to_cpu)
{
	struct mk_config cfg;
	struct mk_runtime *r = NULL;
	struct mk_status st;
	struct mk_err err;
	int rc;

	mk_config_init(&cfg);
	cfg.backend = "cuda";
	rc = mk_runtime_create(&cfg, &r, &err);
	if (rc == 0) { /* a GPU machine: cuda works, nothing to check here */
		mk_runtime_destroy(r);
		return;
	}
	ck_assert_int_eq(rc, -ENODEV);
	t_assert_fix(err.msg);
	cfg.backend = "auto";
	ck_assert_int_eq(mk_runtime_create(&cfg, &r, &err), 0);
	mk_runtime_status(r, &st);
	ck_assert_str_eq(st.backend, "cpu");
	ck_assert_ptr_nonnull(strstr(st.note, "auto chose cpu"));
	/* The whole reason, without the probe's "use backend=cpu" Fix. */
	ck_assert_ptr_null(strstr(st.note, "Fix:"));
	ck_assert_uint_lt(strlen(st.note), sizeof(st.note) - 1);
	ck_assert_ptr_nonnull(strstr(err.msg, st.note + strlen("backend=auto chose cpu: ")));
	mk_runtime_destroy(r);
}
END_TEST

static void assert_slot_untouched(uint32_t slot)
{
	struct mk_slot s;

	mk_runtime_read_slot(rt, slot, &s);
	ck_assert_uint_eq(s.status, MK_SLOT_EMPTY);
	ck_assert_uint_eq(s.opcode, 0);
	ck_assert_uint_eq(s.args[0], 0);
}

START_TEST(test_runtime_publish_errors_in_order)
{
	uint32_t args[13] = { 0 };
	struct mk_err err;

	ck_assert_int_eq(mk_runtime_publish(rt, 64, 0, 0xFFF0, args, 13, &err),
			 -ERANGE);
	t_assert_fix(err.msg);
	ck_assert_int_eq(mk_runtime_publish(rt, 3, 0, 0xFFF0, args, 13, &err),
			 -E2BIG);
	t_assert_fix(err.msg);
	assert_slot_untouched(3);
	ck_assert_int_eq(mk_runtime_publish(rt, 3, 0, 0xFFF0, args, 12, &err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "reserved"));
	t_assert_fix(err.msg);
	ck_assert_int_eq(mk_runtime_publish(rt, 3, 0, MK_OP_LOAD_MISS, args, 0,
					    &err),
			 -EINVAL);
	t_assert_fix(err.msg);
	assert_slot_untouched(3);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_DONE_COUNT), 0);
}
END_TEST

START_TEST(test_runtime_busy_slot_left_unchanged)
{
	uint32_t a1[2] = { 11, OBS(0) }, a2[2] = { 22, OBS(0) };
	struct mk_slot s;
	struct mk_err err;

	ck_assert_int_eq(mk_runtime_stop(rt), 0);
	ck_assert_int_eq(mk_runtime_publish(rt, 7, 0, MK_OP_STORE_U32, a1, 2, &err), 0);
	ck_assert_int_eq(mk_runtime_publish(rt, 7, 0, MK_OP_STORE_U32, a2, 2, &err),
			 -EBUSY);
	t_assert_fix(err.msg);
	ck_assert_ptr_nonnull(strstr(err.msg, "only EMPTY and DONE"));
	mk_runtime_read_slot(rt, 7, &s);
	ck_assert_uint_eq(s.status, MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(s.args[0], 11);
	ck_assert_int_eq(mk_runtime_start(rt, NULL), 0);
	ck_assert_int_eq(mk_runtime_wait(rt, 7, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, OBS(0)), 11);
	/* DONE is recyclable, and stale args are zeroed. */
	ck_assert_int_eq(mk_runtime_publish(rt, 7, 0, MK_OP_NOP, NULL, 0, &err), 0);
	ck_assert_int_eq(mk_runtime_wait(rt, 7, T_WAIT_NS), 0);
	mk_runtime_read_slot(rt, 7, &s);
	ck_assert_uint_eq(s.args[0], 0);
	ck_assert_uint_eq(s.args[1], 0);
	ck_assert_uint_eq(s.priority, MK_PRIORITY_NORMAL);
}
END_TEST

/* control/status's 64-bit done count: a store into word 1 is no wrap. */
START_TEST(test_runtime_done_count_store_is_not_a_wrap)
{
	uint32_t a[2] = { 0, MK_CTL_DONE_COUNT }, i;
	struct mk_status st;

	for (i = 0; i < 3; i++)
		t_run(rt, 10 + i, MK_OP_NOP, NULL, 0);
	mk_runtime_status(rt, &st);
	ck_assert_uint_eq(st.done, 3);
	t_run(rt, 13, MK_OP_STORE_U32, a, 2); /* word 1 := 0, then counted */
	mk_runtime_status(rt, &st);
	ck_assert_uint_lt(st.done, 4);
	a[0] = 0xFFFFFFF0u;
	t_run(rt, 14, MK_OP_STORE_U32, a, 2);
	mk_runtime_status(rt, &st); /* a big step: a store, taken as written */
	ck_assert_uint_ge(st.done, 0xFFFFFFF0ull);
	ck_assert_uint_le(st.done, 0xFFFFFFFFull);
	for (i = 0; i < 32; i++) /* a real wrap past 2^32 */
		t_run(rt, 15 + i, MK_OP_NOP, NULL, 0);
	mk_runtime_status(rt, &st);
	ck_assert_uint_gt(st.done, 0xFFFFFFFFull);
	ck_assert_uint_lt(st.done, 0x100000100ull);
}
END_TEST

START_TEST(test_runtime_every_builtin_opcode)
{
	uint32_t a[3];
	uint32_t dbg[1 + 4 * 64];

	a[0] = 0xFFFFFFFF; a[1] = OBS(1);
	t_run(rt, 0, MK_OP_STORE_U32, a, 2);
	a[0] = 2; a[1] = OBS(1);
	t_run(rt, 1, MK_OP_ATOMIC_ADD, a, 2); /* wraps to 1 */
	ck_assert_uint_eq(t_ctl(rt, OBS(1)), 1);
	a[0] = OBS(1); a[1] = 5;
	t_run(rt, 2, MK_OP_LOAD_U32, a, 2);
	ck_assert_uint_eq(t_ctl(rt, OBS(5)), 1);
	a[0] = 7; a[1] = 0; a[2] = 9; /* CAS word 7 (mask of tenant 4: 0) */
	t_run(rt, 3, MK_OP_COMPARE_SWAP, a, 3);
	ck_assert_uint_eq(t_ctl(rt, 7), 9);
	ck_assert_uint_eq(t_ctl(rt, OBS(7)), 0);
	a[0] = OBS(0); a[1] = OBS(10); a[2] = 6;
	t_run(rt, 4, MK_OP_MEMCPY, a, 3);
	ck_assert_uint_eq(t_ctl(rt, OBS(11)), 1);
	ck_assert_uint_eq(t_ctl(rt, OBS(15)), 1);
	a[0] = 3; a[1] = 0xBEEF;
	t_run(rt, 5, MK_OP_BATCH_FENCE, a, 2);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_EPOCH), 1);
	ck_assert_uint_eq(t_ctl(rt, OBS(0)), 0xBEEF);
	a[0] = 42; a[1] = 7; a[2] = 8;
	t_run(rt, 6, MK_OP_PRINTF, a, 3);
	ck_assert_int_eq(mk_runtime_read_debug(rt, dbg, 1 + 4 * 64), 0);
	ck_assert_uint_eq(dbg[0], 4);
	ck_assert_uint_eq(dbg[1], 42);
	ck_assert_uint_eq(dbg[2], 7);
	ck_assert_uint_eq(dbg[3], 8);
	ck_assert_uint_eq(dbg[4], 6 * 16);
	t_run(rt, 8, MK_OP_DFA_STEP, a, 3);
	t_run(rt, 9, 0xABCD, a, 3);
	t_run(rt, 10, MK_OP_NOP, NULL, 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_METRICS_BASE + 0), 1);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_METRICS_BASE + 6), 1);
	for (a[0] = 1; a[0] <= 5; a[0]++)
		ck_assert_uint_eq(t_ctl(rt, MK_CTL_METRICS_BASE + a[0]), 1);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_METRICS_BASE + 7), 1);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_DONE_COUNT), 10);
}
END_TEST

START_TEST(test_runtime_shutdown_opcode_and_restart)
{
	uint32_t a[2] = { 1, OBS(2) };

	t_run(rt, 0, MK_OP_SHUTDOWN, NULL, 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_SHUTDOWN), 1);
	while (mk_runtime_running(rt))
		mk_runtime_wait_progress(rt, mk_runtime_progress(rt), 1000000);
	ck_assert_int_eq(mk_runtime_publish(rt, 1, 0, MK_OP_ATOMIC_ADD, a, 2, NULL), 0);
	ck_assert_int_eq(mk_runtime_wait(rt, 1, T_WAIT_NS), -ESHUTDOWN);
	ck_assert_int_eq(mk_runtime_slot_done(rt, 1), 0);
	ck_assert_int_eq(mk_runtime_start(rt, NULL), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_SHUTDOWN), 0);
	ck_assert_int_eq(mk_runtime_wait(rt, 1, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, OBS(2)), 1);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_DONE_COUNT), 2);
}
END_TEST

/* Mask 0: the slot stays PUBLISHED; enabling the tenant runs it. */
START_TEST(test_runtime_tenant_mask_parks_then_runs)
{
	uint32_t a[2] = { 1, OBS(3) };
	struct mk_slot s;

	ck_assert_int_eq(mk_runtime_write_ctl(rt, MK_CTL_TENANT_MASK_DEFAULT + 2, 0,
					      NULL), 0);
	ck_assert_int_eq(mk_runtime_publish(rt, 4, 2, MK_OP_ATOMIC_ADD, a, 2, NULL), 0);
	ck_assert_int_eq(mk_runtime_wait(rt, 4, 50000000), -ETIMEDOUT);
	mk_runtime_read_slot(rt, 4, &s);
	ck_assert_uint_eq(s.status, MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_DONE_COUNT), 0);
	ck_assert_int_eq(mk_runtime_write_ctl(rt, MK_CTL_TENANT_MASK_DEFAULT + 2, 5,
					      NULL), 0);
	ck_assert_int_eq(mk_runtime_wait(rt, 4, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, OBS(3)), 1);
}
END_TEST

/* Masks follow the base in control word 2; a base that points a mask at
 * a word the host may not write names the base, and changes nothing. */
START_TEST(test_runtime_tenant_mask_follows_base)
{
	struct mk_err err;
	uint32_t words = mk_runtime_ctl_words(rt);

	ck_assert_int_eq(mk_runtime_set_tenant_mask(rt, 2, 0, &err), 0);
	ck_assert_uint_eq(mk_runtime_tenant_mask(rt, 2), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_TENANT_MASK_DEFAULT + 2), 0);
	ck_assert_int_eq(mk_runtime_write_ctl(rt, MK_CTL_TENANT_BASE, 0, NULL), 0);
	ck_assert_int_eq(mk_runtime_set_tenant_mask(rt, 1, 7, &err), -EPERM);
	ck_assert_ptr_nonnull(strstr(err.msg, "control word 2"));
	t_assert_fix(err.msg);
	ck_assert_int_eq(mk_runtime_set_tenant_mask(rt, 0, 7, &err), -EPERM);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_DONE_COUNT), 0);
	ck_assert_int_eq(mk_runtime_write_ctl(rt, MK_CTL_TENANT_BASE, words, NULL), 0);
	ck_assert_int_eq(mk_runtime_set_tenant_mask(rt, 0, 7, &err), -ERANGE);
	t_assert_fix(err.msg);
	ck_assert_uint_eq(mk_runtime_tenant_mask(rt, 0), 0);
	ck_assert_int_eq(mk_runtime_write_ctl(rt, MK_CTL_TENANT_BASE,
					      MK_CTL_TENANT_MASK_DEFAULT, NULL), 0);
	ck_assert_uint_eq(mk_runtime_tenant_mask(rt, 0), 0xFFFFFFFFu);
}
END_TEST

/* A call channel's image checks, before any slot is taken. */
START_TEST(test_runtime_check_image_without_a_slot)
{
	struct mk_runtime *r = t_rt_start("cpu", 4, MK_SCHED_SHARDED,
					  MK_CFG_TENANT_TABLE);
	struct mk_slot img;
	struct mk_err err;

	memset(&img, 0, sizeof(img));
	ck_assert_int_eq(mk_runtime_check_image(r, &img, &err), 0);
	img.status = 2;
	ck_assert_int_eq(mk_runtime_check_image(r, &img, &err), -EINVAL);
	t_assert_fix(err.msg);
	img.status = 1;
	img.opcode = 0xFFF0;
	ck_assert_int_eq(mk_runtime_check_image(r, &img, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "reserved"));
	img.opcode = MK_OP_NOP;
	img.tenant = MK_CTL_TENANT_MASK_SLOTS;
	ck_assert_int_eq(mk_runtime_check_image(r, &img, &err), -EINVAL);
	ck_assert_ptr_null(strstr(err.msg, "slot ")); /* no slot was chosen */
	t_assert_fix(err.msg);
	ck_assert_uint_eq(t_ctl(r, MK_CTL_DONE_COUNT), 0);
	mk_runtime_destroy(r);
}
END_TEST

/* A mask enabled by an opcode (not a host write) also releases the slot. */
START_TEST(test_runtime_tenant_mask_enabled_by_opcode)
{
	uint32_t a[2] = { 1, MK_CTL_TENANT_MASK_DEFAULT + 3 };
	uint32_t b[2] = { 1, OBS(4) };

	ck_assert_int_eq(mk_runtime_write_ctl(rt, MK_CTL_TENANT_MASK_DEFAULT + 3, 0,
					      NULL), 0);
	ck_assert_int_eq(mk_runtime_publish(rt, 9, 3, MK_OP_ATOMIC_ADD, b, 2, NULL), 0);
	t_run(rt, 10, MK_OP_STORE_U32, a, 2);
	ck_assert_int_eq(mk_runtime_wait(rt, 9, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, OBS(4)), 1);
}
END_TEST

START_TEST(test_runtime_batch_publish_all_or_nothing)
{
	struct mk_item items[3] = {
		{ MK_OP_ATOMIC_ADD, 2, { 1, OBS(7) } },
		{ MK_OP_ATOMIC_ADD, 2, { 2, OBS(7) } },
		{ MK_OP_NOP, 0, { 0 } },
	};
	struct mk_slot s;
	struct mk_err err;
	int reserved, i;

	ck_assert_int_eq(mk_runtime_batch_publish(rt, 10, 0, items, 3, 77, &err), 4);
	for (i = 10; i < 14; i++)
		ck_assert_int_eq(mk_runtime_wait(rt, i, T_WAIT_NS), 0);
	mk_runtime_read_slot(rt, 13, &s);
	ck_assert_uint_eq(s.opcode, MK_OP_BATCH_FENCE);
	ck_assert_uint_eq(s.args[0], 3);
	ck_assert_uint_eq(s.args[1], 77);
	ck_assert_uint_eq(t_ctl(rt, OBS(7)), 3);
	/* Fence target reserved: nothing of the batch is written. */
	/* Reservations come from the top: hold 63..23, keep only 23. */
	do {
		reserved = mk_runtime_reserve(rt, NULL);
		ck_assert_int_ge(reserved, 23);
	} while (reserved != 23);
	for (i = 24; i < 64; i++)
		mk_runtime_release(rt, i);
	ck_assert_int_eq(mk_runtime_batch_publish(rt, 20, 0, items, 3, 1, &err),
			 -EBUSY);
	t_assert_fix(err.msg);
	for (i = 20; i < 23; i++)
		assert_slot_untouched(i);
	mk_runtime_release(rt, 23);
	ck_assert_int_eq(mk_runtime_batch_publish(rt, 62, 0, items, 3, 1, &err),
			 -ERANGE);
	t_assert_fix(err.msg);
}
END_TEST

START_TEST(test_runtime_images_validate_every_target)
{
	struct mk_slot img[3];
	struct mk_err err;

	memset(img, 0, sizeof(img));
	img[0].opcode = MK_OP_NOP;
	img[1].opcode = MK_OP_NOP;
	img[2].opcode = MK_OP_NOP;
	img[1].status = 2;
	ck_assert_int_eq(mk_runtime_publish_images(rt, 30, img, 3, &err), -EINVAL);
	t_assert_fix(err.msg);
	img[1].status = 1;
	img[2].opcode = 0x80000000u;
	ck_assert_int_eq(mk_runtime_publish_images(rt, 30, img, 3, &err), -EINVAL);
	t_assert_fix(err.msg);
	assert_slot_untouched(30);
	assert_slot_untouched(31);
	ck_assert_int_eq(mk_runtime_publish_images(rt, 63, img, 2, &err), -ERANGE);
	t_assert_fix(err.msg);
	assert_slot_untouched(63);
	img[2].opcode = MK_OP_NOP;
	ck_assert_int_eq(mk_runtime_publish_images(rt, 30, img, 3, &err), 0);
	/* Three workers may finish them in any order: wait for each. */
	for (uint32_t s = 30; s < 33; s++)
		ck_assert_int_eq(mk_runtime_wait(rt, s, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_DONE_COUNT), 3);
}
END_TEST

/*
 * The streaming-store publish CUDA uses (runtime.c stream_images), forced
 * on for the CPU backend: every word of every line lands, status last
 * becomes PUBLISHED whatever the image said (0 or 1), and each runs once.
 */
START_TEST(test_runtime_images_streaming_stores)
{
	static struct mk_slot img[200];
	struct mk_runtime *nt;
	struct mk_slot s;
	struct mk_err err;
	uint32_t i, j;

	setenv("MK_NT_PUBLISH", "1", 1);
	nt = t_rt_start("cpu", 256, MK_SCHED_SHARDED, 0);
	unsetenv("MK_NT_PUBLISH");
	ck_assert_int_eq(mk_runtime_stop(nt), 0);
	for (i = 0; i < 200; i++) {
		img[i].status = i % 2u;
		img[i].opcode = MK_OP_ATOMIC_ADD;
		img[i].priority = i;
		img[i].args[0] = i + 1u;
		img[i].args[1] = OBS(i % 4u);
		for (j = 2; j < MK_ARGS_PER_SLOT; j++)
			img[i].args[j] = i * 100u + j;
	}
	ck_assert_int_eq(mk_runtime_publish_images(nt, 7, img, 200, &err), 0);
	for (i = 0; i < 200; i++) {
		mk_runtime_read_slot(nt, 7u + i, &s);
		ck_assert_uint_eq(s.status, MK_SLOT_PUBLISHED);
		img[i].status = MK_SLOT_PUBLISHED;
		ck_assert_int_eq(memcmp(&s, &img[i], sizeof(s)), 0);
	}
	mk_runtime_read_slot(nt, 6, &s);
	ck_assert_uint_eq(s.status, MK_SLOT_EMPTY);
	mk_runtime_read_slot(nt, 207, &s);
	ck_assert_uint_eq(s.status, MK_SLOT_EMPTY);
	ck_assert_int_eq(mk_runtime_start(nt, &err), 0);
	for (i = 0; i < 200; i++)
		ck_assert_int_eq(mk_runtime_wait(nt, 7u + i, T_WAIT_NS), 0);
	/* obs k gets i + 1 for every i = k mod 4: 4950 + 50k */
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(t_ctl(nt, OBS(i)), 4950u + 50u * i);
	ck_assert_uint_eq(t_ctl(nt, MK_CTL_DONE_COUNT), 200);
	mk_runtime_destroy(nt);
}
END_TEST

/*
 * A big range publish in parts on the fan-out helpers (forced on for the
 * CPU backend, streaming stores too): a bad image deep in the third part
 * gets the serial error and leaves every slot untouched; a good range
 * lands word for word and runs exactly once.
 */
START_TEST(test_runtime_images_fanned_parts)
{
	enum { N = 16384, FIRST = 100, BAD = 10000 };
	static struct mk_slot img[N];
	struct mk_runtime *fr;
	struct mk_slot s;
	struct mk_err err;
	uint32_t i, bad = 0, sum = 0;

	setenv("MK_NT_PUBLISH", "1", 1);
	setenv("MK_PUBLISH_PARTS", "4", 1);
	fr = t_rt_start("cpu", N + 200, MK_SCHED_SHARDED, 0);
	unsetenv("MK_NT_PUBLISH");
	unsetenv("MK_PUBLISH_PARTS");
	ck_assert_int_eq(mk_runtime_stop(fr), 0);
	for (i = 0; i < N; i++) {
		img[i].opcode = MK_OP_ATOMIC_ADD;
		img[i].args[0] = 1u + i % 7u;
		img[i].args[1] = OBS(i % 4u);
		img[i].args[11] = i;
	}
	img[BAD].status = 2;
	img[BAD + 3000].status = 3; /* the fourth part fails too: not reported */
	ck_assert_int_eq(mk_runtime_publish_images(fr, FIRST, img, N, &err),
			 -EINVAL);
	t_assert_fix(err.msg);
	ck_assert_ptr_nonnull(strstr(err.msg, "slot image 10100 has status word 2"));
	for (i = 0; i < N + 200; i++) {
		mk_runtime_read_slot(fr, i, &s);
		bad += s.status != MK_SLOT_EMPTY;
	}
	ck_assert_uint_eq(bad, 0);
	img[BAD].status = img[BAD + 3000].status = 0;
	ck_assert_int_eq(mk_runtime_publish_images(fr, FIRST, img, N, &err), 0);
	for (i = 0; i < N; i++) {
		mk_runtime_read_slot(fr, FIRST + i, &s);
		img[i].status = MK_SLOT_PUBLISHED;
		bad += memcmp(&s, &img[i], sizeof(s)) != 0;
		sum += 1u + i % 7u;
	}
	ck_assert_uint_eq(bad, 0);
	ck_assert_int_eq(mk_runtime_start(fr, &err), 0);
	for (i = 0; i < N; i++)
		ck_assert_int_eq(mk_runtime_wait(fr, FIRST + i, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(fr, OBS(0)) + t_ctl(fr, OBS(1)) + t_ctl(fr, OBS(2)) +
				  t_ctl(fr, OBS(3)),
			  sum);
	ck_assert_uint_eq(t_ctl(fr, MK_CTL_DONE_COUNT), N);
	mk_runtime_destroy(fr);
}
END_TEST

START_TEST(test_runtime_reserve_until_exhausted)
{
	int got[64], i, rc;
	struct mk_slot img;
	struct mk_err err;

	for (i = 0; i < 64; i++) {
		got[i] = mk_runtime_reserve(rt, &err);
		ck_assert_int_ge(got[i], 0);
	}
	rc = mk_runtime_reserve(rt, &err);
	ck_assert_int_eq(rc, -EAGAIN);
	t_assert_fix(err.msg);
	ck_assert_int_eq(mk_runtime_publish(rt, got[0], 0, MK_OP_NOP, NULL, 0, &err),
			 -EBUSY);
	memset(&img, 0, sizeof(img));
	img.opcode = MK_OP_NOP;
	img.status = MK_SLOT_CLAIMED; /* an image's status must be 0 or 1 */
	ck_assert_int_eq(mk_runtime_publish_reserved(rt, got[0], &img, &err),
			 -EINVAL);
	t_assert_fix(err.msg);
	assert_slot_untouched((uint32_t)got[0]);
	img.status = MK_SLOT_EMPTY;
	ck_assert_int_eq(mk_runtime_publish_reserved(rt, got[0], &img, &err), 0);
	ck_assert_int_eq(mk_runtime_wait(rt, got[0], T_WAIT_NS), 0);
	for (i = 0; i < 64; i++)
		mk_runtime_release(rt, got[i]);
	ck_assert_int_ge(mk_runtime_reserve(rt, &err), 0);
}
END_TEST

START_TEST(test_runtime_control_word_ownership)
{
	struct mk_err err;
	uint32_t w = mk_runtime_ctl_words(rt);

	ck_assert_uint_eq(w, 160 + 256);
	ck_assert_int_eq(mk_runtime_write_ctl(rt, MK_CTL_DONE_COUNT, 5, &err), -EPERM);
	t_assert_fix(err.msg);
	ck_assert_int_eq(mk_runtime_write_ctl(rt, MK_CTL_METRICS_BASE + 2, 5, &err),
			 -EPERM);
	ck_assert_int_eq(mk_runtime_write_ctl(rt, MK_CTL_EPOCH, 5, &err), -EPERM);
	ck_assert_int_eq(mk_runtime_write_ctl(rt, MK_CTL_SHUTDOWN, 1, &err), -EPERM);
	t_assert_fix(err.msg);
	ck_assert_int_eq(mk_runtime_write_ctl(rt, w, 1, &err), -ERANGE);
	t_assert_fix(err.msg);
	ck_assert_int_eq(mk_runtime_write_ctl(rt, OBS(255), 99, &err), 0);
	ck_assert_uint_eq(t_ctl(rt, OBS(255)), 99);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_DONE_COUNT), 0);
	/* Defaults: tenant pointer 3, 4 tenants enabled, offsets for 64 slots. */
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_TENANT_BASE), 3);
	ck_assert_uint_eq(t_ctl(rt, 6), 0xFFFFFFFFu);
	ck_assert_uint_eq(t_ctl(rt, 7), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_TENANT_QUOTA_BASE), 1000000);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_PRIORITY_OFFSETS_BASE + 5), 64);
}
END_TEST

START_TEST(test_runtime_packed_strict_and_status)
{
	static struct mk_packed_op ops[300]; /* zeroed: 300 NOPs */
	struct mk_status st;
	struct mk_err err;

	/* More ops than a u8 count holds: -EOVERFLOW before any ring access. */
	ck_assert_int_eq(mk_runtime_publish_packed(rt, 0, 0, ops, 300, &err),
			 -EOVERFLOW);
	t_assert_fix(err.msg);
	ck_assert_int_eq(mk_runtime_publish_packed(rt, 0, 0, ops, 256, &err),
			 -EOVERFLOW);
	t_assert_fix(err.msg);
	ck_assert_ptr_nonnull(strstr(err.msg, "255"));
	assert_slot_untouched(0);
	ck_assert_int_eq(mk_runtime_publish_packed(rt, 0, 0, ops, 5, &err), -EINVAL);
	t_assert_fix(err.msg);
	assert_slot_untouched(0);
	ck_assert_int_eq(mk_runtime_publish_packed(rt, 0, 0, ops, 4, &err), 0);
	ck_assert_int_eq(mk_runtime_wait(rt, 0, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_METRICS_BASE), 4);
	mk_runtime_status(rt, &st);
	ck_assert_str_eq(st.backend, "cpu");
	ck_assert_int_eq(st.running, 1);
	ck_assert_uint_eq(st.published, 1);
	ck_assert_uint_eq(st.done, 1);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(st.slots, 64);
}
END_TEST

/*
 * A range publish locks 64 slots per atomic word: a slot held in the
 * third word fails the whole range with EBUSY naming it, and leaves no
 * lock behind in the words already taken.
 */
START_TEST(test_runtime_range_lock_all_or_nothing)
{
	static struct mk_slot img[280];
	struct mk_runtime *big = t_rt_start("cpu", 300, MK_SCHED_SHARDED, 0);
	uint32_t args[2] = { 1, OBS(3) };
	struct mk_slot s;
	struct mk_err err;
	int r, i;

	do { /* reservations come from the top: hold 299..130, keep 130 */
		r = mk_runtime_reserve(big, NULL);
		ck_assert_int_ge(r, 130);
	} while (r != 130);
	for (i = 131; i < 300; i++)
		mk_runtime_release(big, (uint32_t)i);
	for (i = 0; i < 280; i++)
		img[i].opcode = MK_OP_NOP;
	ck_assert_int_eq(mk_runtime_publish_images(big, 10, img, 280, &err),
			 -EBUSY);
	t_assert_fix(err.msg);
	ck_assert_ptr_nonnull(strstr(err.msg, "slot 130 "));
	for (i = 10; i < 290; i++) {
		mk_runtime_read_slot(big, (uint32_t)i, &s);
		ck_assert_uint_eq(s.status, MK_SLOT_EMPTY);
	}
	/* Nothing stayed locked: single publishes across every word work. */
	for (i = 10; i < 290; i += 7) {
		if (i == 130)
			continue;
		ck_assert_int_eq(mk_runtime_publish(big, (uint32_t)i, 0,
						    MK_OP_ATOMIC_ADD, args, 2,
						    &err), 0);
		ck_assert_int_eq(mk_runtime_wait(big, (uint32_t)i, T_WAIT_NS), 0);
	}
	mk_runtime_release(big, 130);
	ck_assert_int_eq(mk_runtime_publish_images(big, 10, img, 280, &err), 0);
	for (i = 10; i < 290; i++)
		ck_assert_int_eq(mk_runtime_wait(big, (uint32_t)i, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(big, OBS(3)), 40);
	ck_assert_uint_eq(t_ctl(big, MK_CTL_DONE_COUNT), 40 + 280);
	mk_runtime_destroy(big);
}
END_TEST

/* A reader or publisher of a range between publish_begin and _end. */
struct phase_peer {
	uint32_t slot;
	int publish;  /* 0: read the slot, 1: publish it */
	int started;  /* atomic: about to call */
	int finished; /* atomic: returned */
	struct mk_slot seen;
	struct mk_err err;
	int rc;
};

static void *phase_peer_main(void *arg)
{
	struct phase_peer *p = arg;
	uint32_t args[2] = { 5, OBS(9) };

	__atomic_store_n(&p->started, 1, __ATOMIC_SEQ_CST);
	if (p->publish)
		p->rc = mk_runtime_publish(rt, p->slot, 0, MK_OP_ATOMIC_ADD,
					   args, 2, &p->err);
	else
		p->rc = mk_runtime_read_slot(rt, p->slot, &p->seen);
	__atomic_store_n(&p->finished, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void phase_peer_start(struct phase_peer *p, pthread_t *t)
{
	ck_assert_int_eq(pthread_create(t, NULL, phase_peer_main, p), 0);
	while (!__atomic_load_n(&p->started, __ATOMIC_SEQ_CST))
		usleep(100);
	usleep(20000); /* let it reach the slot; a wait, never an assertion */
}

/*
 * Between publish_begin and publish_end (fs/ answers ring/raw writes
 * there): the publish is counted, a reader of the range waits for the
 * lines and then sees the new image, a publisher of the range waits and
 * gets the protocol's own EBUSY (PUBLISHED), and a failed begin leaves
 * nothing locked or pending. Each command then runs exactly once.
 */
START_TEST(test_runtime_publish_two_phases)
{
	static struct mk_slot img[8];
	struct phase_peer rd = { .slot = 3 }, wr = { .slot = 5, .publish = 1 };
	struct mk_publish pub;
	struct mk_status st;
	struct mk_err err;
	struct mk_slot s;
	pthread_t t1, t2;
	int i;

	ck_assert_int_eq(mk_runtime_stop(rt), 0);
	for (i = 0; i < 8; i++) {
		img[i].opcode = MK_OP_ATOMIC_ADD;
		img[i].args[0] = 1;
		img[i].args[1] = OBS(8);
	}
	img[6].status = 2; /* not 0 or 1: begin fails whole */
	ck_assert_int_eq(mk_runtime_publish_begin(rt, 0, img, 8, &pub, &err),
			 -EINVAL);
	t_assert_fix(err.msg);
	ck_assert_uint_eq(pub.count, 0);
	mk_runtime_read_slot(rt, 3, &s); /* returns: nothing is pending */
	ck_assert_uint_eq(s.status, MK_SLOT_EMPTY);
	img[6].status = 0;
	ck_assert_int_eq(mk_runtime_publish_begin(rt, 0, img, 8, &pub, &err), 0);
	ck_assert_int_eq(mk_runtime_status(rt, &st), 0);
	ck_assert_uint_eq(st.published, 8);
	ck_assert_uint_eq(st.pending, 8);
	phase_peer_start(&rd, &t1);
	phase_peer_start(&wr, &t2);
	ck_assert_int_eq(__atomic_load_n(&rd.finished, __ATOMIC_SEQ_CST), 0);
	ck_assert_int_eq(__atomic_load_n(&wr.finished, __ATOMIC_SEQ_CST), 0);
	mk_runtime_publish_end(rt, &pub);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	ck_assert_int_eq(rd.rc, 0);
	ck_assert_uint_eq(rd.seen.status, MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(rd.seen.opcode, MK_OP_ATOMIC_ADD);
	ck_assert_uint_eq(rd.seen.args[1], OBS(8));
	ck_assert_int_eq(wr.rc, -EBUSY);
	ck_assert_ptr_nonnull(strstr(wr.err.msg, "PUBLISHED"));
	t_assert_fix(wr.err.msg);
	ck_assert_int_eq(mk_runtime_start(rt, &err), 0);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(mk_runtime_wait(rt, (uint32_t)i, T_WAIT_NS), 0);
	ck_assert_uint_eq(t_ctl(rt, OBS(8)), 8);
	ck_assert_uint_eq(t_ctl(rt, OBS(9)), 0);
	ck_assert_uint_eq(t_ctl(rt, MK_CTL_DONE_COUNT), 8);
}
END_TEST

static Suite *runtime_suite(void)
{
	Suite *s = suite_create("runtime");
	TCase *tc = tcase_create("api");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_runtime_config_errors);
	tcase_add_test(tc, test_runtime_auto_falls_back_to_cpu);
	tcase_add_test(tc, test_runtime_publish_errors_in_order);
	tcase_add_test(tc, test_runtime_busy_slot_left_unchanged);
	tcase_add_test(tc, test_runtime_every_builtin_opcode);
	tcase_add_test(tc, test_runtime_done_count_store_is_not_a_wrap);
	tcase_add_test(tc, test_runtime_shutdown_opcode_and_restart);
	tcase_add_test(tc, test_runtime_tenant_mask_parks_then_runs);
	tcase_add_test(tc, test_runtime_tenant_mask_follows_base);
	tcase_add_test(tc, test_runtime_check_image_without_a_slot);
	tcase_add_test(tc, test_runtime_tenant_mask_enabled_by_opcode);
	tcase_add_test(tc, test_runtime_batch_publish_all_or_nothing);
	tcase_add_test(tc, test_runtime_images_validate_every_target);
	tcase_add_test(tc, test_runtime_images_streaming_stores);
	tcase_add_test(tc, test_runtime_images_fanned_parts);
	tcase_add_test(tc, test_runtime_reserve_until_exhausted);
	tcase_add_test(tc, test_runtime_range_lock_all_or_nothing);
	tcase_add_test(tc, test_runtime_publish_two_phases);
	tcase_add_test(tc, test_runtime_control_word_ownership);
	tcase_add_test(tc, test_runtime_packed_strict_and_status);
	suite_add_tcase(s, tc);
	return s;
}

MK_CHECK_MAIN(runtime_suite)
