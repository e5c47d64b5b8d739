/* SPDX-License-Identifier: MIT */
/*
 * tests/check_cmd.c - the text command grammar (runtime/cmd.c): every rule
 * of runtime/cmd.h and every error with its errno, its Fix: hint and the
 * offending token. Pure: no runtime, no FUSE.
 * Run: build/release/tests/check_cmd (CK_RUN_CASE=... for one case).
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "runtime/cmd.h"
#include "runtime/proto.h"
#include "tests/mk_check.h"

static struct mk_cmd t_ok(const char *s)
{
	struct mk_cmd c;
	struct mk_err e;
	int rc;

	mk_err_clear(&e);
	memset(&c, 0xa5, sizeof(c));
	rc = mk_cmd_parse(s, strlen(s), &c, &e);
	ck_assert_msg(rc == 0, "'%s' -> %d %s", s, rc, e.msg);
	return c;
}

/* Parse @s (@len bytes), expect @code, Fix: and @needle in the message. */
static void t_fail_n(const char *s, size_t len, int code, const char *needle)
{
	struct mk_cmd c, before;
	struct mk_err e;
	int rc;

	mk_err_clear(&e);
	memset(&c, 0x5a, sizeof(c));
	before = c;
	rc = mk_cmd_parse(s, len, &c, &e);
	ck_assert_msg(rc == code, "'%.*s' -> %d (%s), want %d", (int)len, s,
		      rc, e.msg, code);
	ck_assert_int_eq(e.code, code);
	t_assert_fix(e.msg);
	if (needle)
		ck_assert_msg(strstr(e.msg, needle), "'%s' lacks '%s'", e.msg,
			      needle);
	ck_assert_mem_eq(&c, &before, sizeof(c)); /* untouched on error */
}

static void t_fail(const char *s, int code, const char *needle)
{
	t_fail_n(s, strlen(s), code, needle);
}

START_TEST(test_cmd_every_mnemonic_any_case)
{
	static const struct {
		const char *mnem, *name;
		uint32_t value;
	} ops[] = {
#define MK_OPCODE(NAME, mnem, value, builtin) { #mnem, #NAME, value },
#include "runtime/opcodes.def"
#undef MK_OPCODE
	};
	char up[64];
	size_t i, j;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct mk_cmd c;

		if (ops[i].value == MK_OP_PACKED_SLOT)
			continue; /* its own grammar, below */
		c = t_ok(ops[i].mnem);
		ck_assert_uint_eq(c.opcode, ops[i].value);
		ck_assert_uint_eq(c.nargs, 0);
		for (j = 0; ops[i].mnem[j]; j++)
			up[j] = (char)toupper((unsigned char)ops[i].mnem[j]);
		up[j] = '\0';
		ck_assert_uint_eq(t_ok(up).opcode, ops[i].value);
		ck_assert_uint_eq(t_ok(ops[i].name).opcode, ops[i].value);
	}
	/* load_miss parses; the publish check rejects it later. */
	ck_assert_uint_eq(t_ok("load_miss 1 0").opcode, MK_OP_LOAD_MISS);
	ck_assert_uint_eq(t_ok("Store_U32 7 160").opcode, MK_OP_STORE_U32);
}
END_TEST

START_TEST(test_cmd_defaults_and_args)
{
	struct mk_cmd c = t_ok("store_u32 7 160");

	ck_assert_uint_eq(c.opcode, MK_OP_STORE_U32);
	ck_assert_uint_eq(c.nargs, 2);
	ck_assert_uint_eq(c.args[0], 7);
	ck_assert_uint_eq(c.args[1], 160);
	ck_assert_uint_eq(c.tenant, 0);
	ck_assert_uint_eq(c.priority, MK_PRIORITY_NORMAL);
	ck_assert_uint_eq(c.packed_ops, 0);
	c = t_ok("  atomic_add\t5   161 ");
	ck_assert_uint_eq(c.opcode, MK_OP_ATOMIC_ADD);
	ck_assert_uint_eq(c.nargs, 2);
	ck_assert_uint_eq(c.args[1], 161);
}
END_TEST

START_TEST(test_cmd_numbers_decimal_and_hex)
{
	struct mk_cmd c = t_ok("nop 0 4294967295 0xffffffff 0XAbC 007 0x0");

	ck_assert_uint_eq(c.nargs, 6);
	ck_assert_uint_eq(c.args[0], 0);
	ck_assert_uint_eq(c.args[1], 4294967295u);
	ck_assert_uint_eq(c.args[2], 0xffffffffu);
	ck_assert_uint_eq(c.args[3], 0xabc);
	ck_assert_uint_eq(c.args[4], 7); /* decimal, not octal */
	ck_assert_uint_eq(c.args[5], 0);
	c = t_ok("200 1 2");
	ck_assert_uint_eq(c.opcode, 200);
	c = t_ok("0xF102");
	ck_assert_uint_eq(c.opcode, 0xF102);
	c = t_ok("0x80000001 5");
	ck_assert_uint_eq(c.opcode, MK_OP_PACKED_SLOT); /* raw payload */
	ck_assert_uint_eq(c.nargs, 1);
	ck_assert_uint_eq(c.packed_ops, 0);
}
END_TEST

START_TEST(test_cmd_bad_numbers)
{
	t_fail("store_u32 12a 1", -EINVAL, "'12a'");
	t_fail("store_u32 0x 1", -EINVAL, "'0x'");
	t_fail("store_u32 0xg 1", -EINVAL, "'0xg'");
	t_fail("store_u32 -1", -EINVAL, "'-1'");
	t_fail("store_u32 +1", -EINVAL, "'+1'");
	t_fail("store_u32 1 2.5", -EINVAL, "arg 2 '2.5' is not a number");
	t_fail("nop 4294967296", -EINVAL, "out of u32 range");
	t_fail("nop 0x100000000", -EINVAL, "'0x100000000'");
	t_fail("nop 99999999999999999999999", -EINVAL, "out of u32 range");
	t_fail("4294967296", -EINVAL, "opcode '4294967296'");
	t_fail("12x", -EINVAL, "opcode '12x' is not a number");
}
END_TEST

START_TEST(test_cmd_unknown_mnemonic)
{
	t_fail("frobnicate 1 2", -EINVAL, "unknown mnemonic 'frobnicate'");
	t_fail("store_u3 1", -EINVAL, "'store_u3'");
	t_fail("store_u32x", -EINVAL, "'store_u32x'");
}
END_TEST

START_TEST(test_cmd_twelve_args_ok_thirteen_e2big)
{
	struct mk_cmd c = t_ok("nop 1 2 3 4 5 6 7 8 9 10 11 12");

	ck_assert_uint_eq(c.nargs, 12);
	ck_assert_uint_eq(c.args[11], 12);
	t_fail("nop 1 2 3 4 5 6 7 8 9 10 11 12 13", -E2BIG, "12 args");
	t_fail("nop 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
	       -E2BIG, "12 args");
	c = t_ok("nop 1 2 3 4 5 6 7 8 9 10 11 12 tenant=3");
	ck_assert_uint_eq(c.tenant, 3);
}
END_TEST

START_TEST(test_cmd_newline_rules)
{
	struct mk_cmd c = t_ok("store_u32 7 160\n");

	ck_assert_uint_eq(c.nargs, 2);
	c = t_ok("store_u32 7 160\r\n");
	ck_assert_uint_eq(c.args[1], 160);
	t_fail("nop\nnop\n", -EINVAL, "more than one line");
	t_fail("nop\n\n", -EINVAL, "newline");
	t_fail_n("nop\0 1", 6, -EINVAL, "byte 0x00 at offset 3");
	t_fail("nop \x01", -EINVAL, "byte 0x01");
	t_fail("nop \xc3\xa9", -EINVAL, "byte 0xc3");
	t_fail("nop \x7f", -EINVAL, "byte 0x7f");
}
END_TEST

START_TEST(test_cmd_empty_and_too_long)
{
	static char big[MK_CMD_MAX_LEN + 2];

	t_fail("", -EINVAL, "empty command");
	t_fail("\n", -EINVAL, "empty command");
	t_fail("  \t ", -EINVAL, "empty command");
	memset(big, ' ', sizeof(big) - 1);
	memcpy(big, "nop", 3);
	t_fail_n(big, MK_CMD_MAX_LEN + 1, -EINVAL, "too long");
	t_ok("nop                                              \n");
}
END_TEST

START_TEST(test_cmd_tenant_and_priority)
{
	struct mk_cmd c = t_ok("store_u32 1 2 tenant=3 priority=0");

	ck_assert_uint_eq(c.tenant, 3);
	ck_assert_uint_eq(c.priority, 0);
	c = t_ok("nop priority=idle TENANT=0x10");
	ck_assert_uint_eq(c.priority, MK_PRIORITY_IDLE);
	ck_assert_uint_eq(c.tenant, 16);
	c = t_ok("nop priority=HIGH");
	ck_assert_uint_eq(c.priority, MK_PRIORITY_HIGH);
	c = t_ok("nop priority=critical");
	ck_assert_uint_eq(c.priority, MK_PRIORITY_CRITICAL);
	c = t_ok("nop priority=low");
	ck_assert_uint_eq(c.priority, MK_PRIORITY_LOW);
	c = t_ok("nop priority=normal");
	ck_assert_uint_eq(c.priority, MK_PRIORITY_NORMAL);
	c = t_ok("atomic_add tenant=2 5 161"); /* options anywhere after op */
	ck_assert_uint_eq(c.tenant, 2);
	ck_assert_uint_eq(c.nargs, 2);
	c = t_ok("nop tenant=4294967295");
	ck_assert_uint_eq(c.tenant, 4294967295u);
}
END_TEST

START_TEST(test_cmd_bad_options)
{
	t_fail("nop priority=5", -EINVAL, "'priority=5'");
	t_fail("nop priority=urgent", -EINVAL, "'priority=urgent'");
	t_fail("nop priority=", -EINVAL, "bad priority");
	t_fail("nop tenant=x", -EINVAL, "tenant 'x' is not a number");
	t_fail("nop tenant=", -EINVAL, "tenant ''");
	t_fail("nop tenant=4294967296", -EINVAL, "out of u32 range");
	t_fail("nop tenant=1 tenant=2", -EINVAL, "repeated");
	t_fail("nop priority=1 priority=1", -EINVAL, "repeated");
	t_fail("nop color=red", -EINVAL, "unknown option 'color=red'");
	t_fail("tenant=1 nop", -EINVAL, "starts with 'tenant=1'");
	t_fail("nop ; nop", -EINVAL, "';'");
	t_fail("; nop", -EINVAL, "';'");
}
END_TEST

/* PROTOCOL.md 5.9 worked example. */
START_TEST(test_cmd_packed_worked_example)
{
	struct mk_cmd c = t_ok("packed store_u32 7 160 ; atomic_add 5 161 ; nop");

	ck_assert_uint_eq(c.opcode, MK_OP_PACKED_SLOT);
	ck_assert_uint_eq(c.packed_ops, 3);
	ck_assert_uint_eq(c.nargs, 6);
	ck_assert_uint_eq(c.args[0], 0x00010403u);
	ck_assert_uint_eq(c.args[1], 0x04000202u);
	ck_assert_uint_eq(c.args[2], 7);
	ck_assert_uint_eq(c.args[3], 160);
	ck_assert_uint_eq(c.args[4], 5);
	ck_assert_uint_eq(c.args[5], 161);
	ck_assert_uint_eq(c.args[6], 0);
	/* Separators without blanks, numbers as inner ops, case, options. */
	c = t_ok("PACKED 1 7 160;2 5 161;0 tenant=2 priority=1\n");
	ck_assert_uint_eq(c.args[0], 0x00010403u);
	ck_assert_uint_eq(c.args[1], 0x04000202u);
	ck_assert_uint_eq(c.tenant, 2);
	ck_assert_uint_eq(c.priority, 1);
	c = t_ok("packed_slot 0x01 7 160");
	ck_assert_uint_eq(c.packed_ops, 1);
}
END_TEST

START_TEST(test_cmd_packed_empty_and_limits)
{
	struct mk_cmd c = t_ok("packed");

	ck_assert_uint_eq(c.opcode, MK_OP_PACKED_SLOT);
	ck_assert_uint_eq(c.packed_ops, 0);
	ck_assert_uint_eq(c.nargs, 1); /* one metadata word, n = 0 */
	ck_assert_uint_eq(c.args[0], 0);
	c = t_ok("packed nop ; nop ; nop ; nop");
	ck_assert_uint_eq(c.packed_ops, 4);
	ck_assert_uint_eq(c.args[0] & 0xffu, 4);
	c = t_ok("packed 255 1 2 3");
	ck_assert_uint_eq((c.args[0] >> 16) & 0xffu, 255);
}
END_TEST

START_TEST(test_cmd_packed_errors)
{
	t_fail("packed nop ; ; nop", -EINVAL, "empty inner op");
	t_fail("packed ; nop", -EINVAL, "empty inner op");
	t_fail("packed nop ;", -EINVAL, "trailing ';'");
	t_fail("packed printf 1 2", -EINVAL, "'printf'");
	t_fail("packed shutdown", -EINVAL, "does not fit a byte");
	t_fail("packed packed", -EINVAL, "does not fit a byte");
	t_fail("packed 256 1", -EINVAL, "'256'");
	t_fail("packed bogus 1", -EINVAL, "unknown mnemonic 'bogus'");
	t_fail("packed nop 1x", -EINVAL, "packed op 1 arg 1 '1x'");
	/* Strict packing: the kernel would drop the fifth op. */
	t_fail("packed nop;nop;nop;nop;nop", -EINVAL, "Fix:");
	/* Strict packing: op 1 would start past the last 3 payload words. */
	t_fail("packed nop 1 2 3 4 5 6 7 8 9 ; nop 1", -EINVAL, "Fix:");
	/* Payload over 12 words (not strict-only); 1 op + 11 args fits. */
	t_fail("packed nop 1 2 3 4 5 6 ; nop 1 2 3 4 5", -EINVAL, "payload");
	ck_assert_uint_eq(t_ok("packed nop 1 2 3 4 5 6 7 8 9 10 11").nargs, 12);
	t_fail("packed nop 1 2 3 4 5 6 7 8 9 10 11 12 13", -E2BIG,
	       "packed inner op");
	t_fail("packed nop;nop;nop;nop;nop;nop;nop;nop;nop;nop;nop;nop;nop;"
	       "nop;nop;nop;nop;nop;nop;nop;nop;nop;nop;nop;nop;nop;nop;nop;"
	       "nop;nop;nop;nop;nop",
	       -EINVAL, "more than 32 inner ops");
}
END_TEST

START_TEST(test_cmd_to_slot)
{
	struct mk_cmd c = t_ok("compare_swap 5 0 9 tenant=1 priority=3");
	struct mk_slot s;
	unsigned i;

	mk_cmd_to_slot(&c, &s);
	ck_assert_uint_eq(s.status, MK_SLOT_PUBLISHED);
	ck_assert_uint_eq(s.opcode, MK_OP_COMPARE_SWAP);
	ck_assert_uint_eq(s.tenant, 1);
	ck_assert_uint_eq(s.priority, 3);
	ck_assert_uint_eq(s.args[0], 5);
	ck_assert_uint_eq(s.args[2], 9);
	for (i = 3; i < MK_ARGS_PER_SLOT; i++)
		ck_assert_uint_eq(s.args[i], 0);
}
END_TEST

START_TEST(test_cmd_parse_numbers)
{
	uint32_t v[6];
	struct mk_err e;

	mk_err_clear(&e);
	ck_assert_int_eq(mk_cmd_parse_numbers("42\n", 3, v, 1, &e), 1);
	ck_assert_uint_eq(v[0], 42);
	ck_assert_int_eq(mk_cmd_parse_numbers("0 1 2 0x3 4 5", 13, v, 6, &e),
			 6);
	ck_assert_uint_eq(v[3], 3);
	ck_assert_int_eq(mk_cmd_parse_numbers("1 2", 3, v, 1, &e), -E2BIG);
	t_assert_fix(e.msg);
	ck_assert_int_eq(mk_cmd_parse_numbers("\n", 1, v, 1, &e), -EINVAL);
	t_assert_fix(e.msg);
	ck_assert_int_eq(mk_cmd_parse_numbers("abc", 3, v, 1, &e), -EINVAL);
	ck_assert_ptr_nonnull(strstr(e.msg, "'abc'"));
	t_assert_fix(e.msg);
	ck_assert_int_eq(mk_cmd_parse_numbers("4294967296", 10, v, 1, &e),
			 -EINVAL);
	t_assert_fix(e.msg);
	ck_assert_int_eq(mk_cmd_parse_numbers("1\n2\n", 4, v, 2, &e), -EINVAL);
	ck_assert_int_eq(mk_cmd_parse_u32("0x", 2, v), -EINVAL);
	ck_assert_int_eq(mk_cmd_parse_u32("", 0, v), -EINVAL);
	ck_assert_int_eq(mk_cmd_parse_u32("4294967296", 10, v), -ERANGE);
	ck_assert_int_eq(mk_cmd_parse_u32("0x00000000ffffffff", 18, v), 0);
	ck_assert_uint_eq(v[0], 0xffffffffu);
}
END_TEST

START_TEST(test_cmd_format_slot)
{
	struct mk_slot s;
	char buf[MK_CMD_SLOT_LINE_MAX];
	unsigned i;
	int n;

	memset(&s, 0, sizeof(s));
	s.status = 3;
	s.opcode = 1;
	s.priority = 2;
	s.args[0] = 7;
	s.args[1] = 160;
	n = mk_cmd_format_slot(&s, buf, sizeof(buf));
	ck_assert_str_eq(buf, "3 1 0 2 7 160 0 0 0 0 0 0 0 0 0 0\n");
	ck_assert_int_eq(n, (int)strlen(buf));
	for (i = 0; i < MK_SLOT_WORDS; i++)
		((uint32_t *)&s)[i] = 0xffffffffu;
	n = mk_cmd_format_slot(&s, buf, sizeof(buf));
	ck_assert_int_eq(n, (int)MK_CMD_SLOT_LINE_MAX - 1);
	ck_assert_int_eq(mk_cmd_format_slot(&s, buf, sizeof(buf) - 1),
			 -ENOSPC);
	ck_assert_int_eq(mk_cmd_format_slot(&s, buf, 0), -ENOSPC);
}
END_TEST

static Suite *cmd_suite(void)
{
	Suite *s = suite_create("cmd");
	TCase *tc = tcase_create("grammar");

	tcase_add_test(tc, test_cmd_every_mnemonic_any_case);
	tcase_add_test(tc, test_cmd_defaults_and_args);
	tcase_add_test(tc, test_cmd_numbers_decimal_and_hex);
	tcase_add_test(tc, test_cmd_bad_numbers);
	tcase_add_test(tc, test_cmd_unknown_mnemonic);
	tcase_add_test(tc, test_cmd_twelve_args_ok_thirteen_e2big);
	tcase_add_test(tc, test_cmd_newline_rules);
	tcase_add_test(tc, test_cmd_empty_and_too_long);
	tcase_add_test(tc, test_cmd_tenant_and_priority);
	tcase_add_test(tc, test_cmd_bad_options);
	tcase_add_test(tc, test_cmd_packed_worked_example);
	tcase_add_test(tc, test_cmd_packed_empty_and_limits);
	tcase_add_test(tc, test_cmd_packed_errors);
	tcase_add_test(tc, test_cmd_to_slot);
	tcase_add_test(tc, test_cmd_parse_numbers);
	tcase_add_test(tc, test_cmd_format_slot);
	suite_add_tcase(s, tc);
	return s;
}

MK_CHECK_MAIN(cmd_suite)
