/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_cmd.c - libFuzzer harness for the text command grammar
 * (runtime/cmd.c). The input is one command as fs/ receives it. Checks:
 * failures give -EINVAL/-E2BIG with a Fix: and leave the output untouched;
 * a parsed command, re-formatted as canonical text in two styles, parses
 * to the same struct; its slot line parses back to the 16 slot words;
 * mk_cmd_parse_u32 agrees with an independent decoder.
 * Run: scripts/fuzz.sh (seeds: tests/fuzz/corpus/cmd/).
 * MK_FUZZ_SOURCES: runtime/cmd.c runtime/proto.c runtime/err.c
 * MK_FUZZ_OPTIONS: -max_len=4200 -dict=tests/fuzz/cmd.dict
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "runtime/cmd.h"
#include "runtime/proto.h"
#include "tests/fuzz/mk_fuzz.h"

/* Room for 12 args, 4 packed ops and options, in the widest style. */
#define CMD_TEXT_MAX 512

static const char *const cmd_prio_names[] = { "critical", "high", "normal",
					      "low", "idle" };

static int cmd_digit(char c, int hex)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (hex && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (hex && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Independent decoder for mk_cmd_parse_u32. A token with a bad byte is
 * -EINVAL, except that the runtime may already have stopped with -ERANGE
 * when the digits before the bad byte overflowed: *alt_range says so.
 */
static int cmd_ref_u32(const char *s, size_t n, uint32_t *out, int *alt_range)
{
	int hex = n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	size_t i = hex ? 2 : 0;
	uint64_t v = 0;
	int big = 0, d;

	*alt_range = 0;
	if (i == n)
		return -EINVAL;
	for (; i < n; i++) {
		d = cmd_digit(s[i], hex);
		if (d < 0) {
			*alt_range = big;
			return -EINVAL;
		}
		if (!big)
			v = v * (hex ? 16u : 10u) + (unsigned)d;
		if (v > UINT32_MAX)
			big = 1;
	}
	if (big)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

static void cmd_check_u32(const uint8_t *data, size_t size)
{
	uint32_t got = 0, want = 0;
	int rc, ref, alt;

	if (size > 40)
		return;
	rc = mk_cmd_parse_u32((const char *)data, size, &got);
	ref = cmd_ref_u32((const char *)data, size, &want, &alt);
	T_FUZZ_CHECK(rc == ref || (alt && rc == -ERANGE),
		     "parse_u32 '%.*s' -> %d, reference %d", (int)size,
		     (const char *)data, rc, ref);
	if (rc == 0)
		T_FUZZ_CHECK(got == want, "parse_u32 '%.*s' = %u, want %u",
			     (int)size, (const char *)data, got, want);
}

static size_t cmd_put(char *buf, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static size_t cmd_put(char *buf, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + off, CMD_TEXT_MAX - off, fmt, ap);
	va_end(ap);
	T_FUZZ_CHECK(n >= 0 && (size_t)n < CMD_TEXT_MAX - off,
		     "canonical text overflows %d bytes", CMD_TEXT_MAX);
	return off + (size_t)n;
}

static size_t cmd_put_options(const struct mk_cmd *c, int style, char *buf,
			      size_t off)
{
	if (style)
		return cmd_put(buf, off, "\tPriority=%s  TENANT=0x%X ",
			       cmd_prio_names[c->priority], c->tenant);
	return cmd_put(buf, off, " tenant=%u priority=%u", c->tenant,
		       c->priority);
}

/* An opcode token: decimal, or (style 1) the mnemonic / 0x hex. */
static size_t cmd_put_opcode(uint32_t op, int style, int mnem_ok, char *buf,
			     size_t off)
{
	const char *m = mk_proto_op_mnemonic(op);

	if (style && mnem_ok && m)
		return cmd_put(buf, off, "%s", (op & 1u) ? m : mk_proto_op_name(op));
	return cmd_put(buf, off, style ? "0x%x" : "%u", op);
}

/*
 * Decode a packed payload (5.9) back into "packed OP A.. ; OP A..". The
 * encoder's layout: byte 0 = n, byte 1 = total args, bytes 2+2i / 3+2i =
 * opcode / word offset of op i after ceil((2 + 2n) / 4) metadata words.
 */
static size_t cmd_put_packed(const struct mk_cmd *c, int style, char *buf,
			     size_t off)
{
	const uint8_t *pb = (const uint8_t *)c->args;
	uint32_t n = pb[0], total = pb[1], meta = (2u + 2u * n + 3u) / 4u;
	uint32_t i, j, first, last;

	T_FUZZ_CHECK(n == c->packed_ops && n <= MK_PACKED_MAX_INNER_OPS,
		     "packed byte 0 = %u, packed_ops = %u", n, c->packed_ops);
	T_FUZZ_CHECK(c->nargs == meta + total, "packed nargs %u, meta %u + %u",
		     c->nargs, meta, total);
	off = cmd_put(buf, off, "packed");
	if (style)
		off = cmd_put_options(c, style, buf, off);
	for (i = 0; i < n; i++) {
		first = pb[3 + 2 * i];
		last = i + 1 < n ? pb[3 + 2 * (i + 1)] : total;
		T_FUZZ_CHECK(first <= last && last <= total,
			     "packed op %u spans %u..%u of %u", i, first, last,
			     total);
		if (i)
			off = cmd_put(buf, off, style ? ";" : " ; ");
		else
			off = cmd_put(buf, off, " ");
		off = cmd_put_opcode(pb[2 + 2 * i], style, 1, buf, off);
		for (j = first; j < last; j++)
			off = cmd_put(buf, off, style ? " 0x%x" : " %u",
				      c->args[meta + j]);
	}
	if (!style)
		off = cmd_put_options(c, style, buf, off);
	return off;
}

/* Canonical text of @c in style 0 (decimal) or 1 (names, hex, tabs). */
static size_t cmd_format(const struct mk_cmd *c, int style, char *buf)
{
	size_t off = 0;
	uint32_t i;

	if (c->packed_ops)
		off = cmd_put_packed(c, style, buf, off);
	else {
		/* The mnemonic "packed" would switch to the packed grammar. */
		off = cmd_put_opcode(c->opcode, style,
				     c->opcode != MK_OP_PACKED_SLOT, buf, off);
		for (i = 0; i < c->nargs; i++) {
			if (style && i == 1)
				off = cmd_put_options(c, style, buf, off);
			off = cmd_put(buf, off, style ? " 0x%X" : " %u",
				      c->args[i]);
		}
		if (!style || c->nargs < 2)
			off = cmd_put_options(c, style, buf, off);
	}
	return cmd_put(buf, off, style ? "\r\n" : "\n");
}

static void cmd_check_ok(const struct mk_cmd *c)
{
	uint32_t i;

	T_FUZZ_CHECK(c->nargs <= MK_ARGS_PER_SLOT, "nargs %u", c->nargs);
	T_FUZZ_CHECK(c->priority < MK_PRIORITY_LEVELS, "priority %u",
		     c->priority);
	for (i = c->nargs; i < MK_ARGS_PER_SLOT; i++)
		T_FUZZ_CHECK(c->args[i] == 0, "args[%u] = %u past nargs %u", i,
			     c->args[i], c->nargs);
	T_FUZZ_CHECK(!c->packed_ops || c->opcode == MK_OP_PACKED_SLOT,
		     "packed_ops %u with opcode 0x%x", c->packed_ops,
		     c->opcode);
}

/* Re-format @c and parse the text again: same struct. */
static void cmd_check_roundtrip(const struct mk_cmd *c)
{
	char *text = t_fuzz_alloc(CMD_TEXT_MAX);
	struct mk_cmd again;
	struct mk_err e;
	size_t len;
	int style, rc;

	for (style = 0; style < 2; style++) {
		len = cmd_format(c, style, text);
		mk_err_clear(&e);
		memset(&again, 0x5a, sizeof(again));
		rc = mk_cmd_parse(text, len, &again, &e);
		T_FUZZ_CHECK(rc == 0, "canonical '%.*s' -> %d: %s", (int)len,
			     text, rc, e.msg);
		T_FUZZ_CHECK(memcmp(&again, c, sizeof(*c)) == 0,
			     "canonical '%.*s' parses differently", (int)len,
			     text);
	}
	free(text);
}

/* Slot image -> line -> numbers: the 16 words come back. */
static void cmd_check_slot_line(const struct mk_cmd *c, size_t cap)
{
	uint32_t words[MK_SLOT_WORDS], back[MK_SLOT_WORDS];
	char *line = t_fuzz_alloc(MK_CMD_SLOT_LINE_MAX);
	char *small = t_fuzz_alloc(cap);
	struct mk_slot slot;
	struct mk_err e;
	int len, rc;

	mk_cmd_to_slot(c, &slot);
	memcpy(words, &slot, sizeof(words));
	T_FUZZ_CHECK(slot.status == MK_SLOT_PUBLISHED, "status %u",
		     slot.status);
	len = mk_cmd_format_slot(&slot, line, MK_CMD_SLOT_LINE_MAX);
	T_FUZZ_CHECK(len > 0 && (size_t)len < MK_CMD_SLOT_LINE_MAX &&
			     line[len] == '\0' && line[len - 1] == '\n',
		     "slot line length %d", len);
	mk_err_clear(&e);
	rc = mk_cmd_parse_numbers(line, (size_t)len, back, MK_SLOT_WORDS, &e);
	T_FUZZ_CHECK(rc == (int)MK_SLOT_WORDS, "slot line -> %d: %s", rc,
		     e.msg);
	T_FUZZ_CHECK(memcmp(back, words, sizeof(words)) == 0,
		     "slot line '%s' reads back differently", line);
	rc = mk_cmd_format_slot(&slot, small, cap);
	T_FUZZ_CHECK(cap > (size_t)len ? rc == len : rc == -ENOSPC,
		     "format into %zu bytes -> %d (needs %d)", cap, rc, len + 1);
	free(small);
	free(line);
}

/* Facts every input must respect whatever the parser's internals. */
static void cmd_check_text_rules(const uint8_t *data, size_t size, int rc)
{
	size_t n = size, i;

	if (n > MK_CMD_MAX_LEN) {
		T_FUZZ_CHECK(rc == -EINVAL, "%zu-byte command -> %d", n, rc);
		return;
	}
	if (n && data[n - 1] == '\n')
		n--;
	if (n && data[n - 1] == '\r')
		n--;
	for (i = 0; i < n; i++)
		if (data[i] == '\n' || data[i] == '\0' || data[i] >= 0x7f)
			T_FUZZ_CHECK(rc == -EINVAL, "byte 0x%02x at %zu -> %d",
				     data[i], i, rc);
}

static void cmd_check_numbers(const uint8_t *data, size_t size)
{
	uint32_t *out;
	size_t max = size ? data[size - 1] % 17u : 0;
	struct mk_err e;
	int rc;

	out = t_fuzz_alloc(max * sizeof(*out));
	mk_err_clear(&e);
	rc = mk_cmd_parse_numbers((const char *)data, size, out, max, &e);
	if (rc < 0) {
		T_FUZZ_CHECK(rc == -EINVAL || rc == -E2BIG, "numbers -> %d", rc);
		T_FUZZ_CHECK_ERR(rc, &e);
	} else {
		T_FUZZ_CHECK(rc >= 1 && (size_t)rc <= max,
			     "numbers -> %d of max %zu", rc, max);
	}
	free(out);
}

static void fuzz_cmd_one(const uint8_t *data, size_t size)
{
	struct mk_cmd c, before;
	struct mk_err e;
	int rc;

	mk_err_clear(&e);
	memset(&c, 0xa5, sizeof(c));
	before = c;
	rc = mk_cmd_parse((const char *)data, size, &c, &e);
	cmd_check_text_rules(data, size, rc);
	if (rc) {
		T_FUZZ_CHECK(rc == -EINVAL || rc == -E2BIG, "parse -> %d", rc);
		T_FUZZ_CHECK_ERR(rc, &e);
		T_FUZZ_CHECK(memcmp(&c, &before, sizeof(c)) == 0,
			     "output written on error %d", rc);
	} else {
		cmd_check_ok(&c);
		cmd_check_roundtrip(&c);
		cmd_check_slot_line(&c, size % MK_CMD_SLOT_LINE_MAX);
	}
	cmd_check_numbers(data, size);
	cmd_check_u32(data, size);
}

MK_FUZZ_ENTRY(fuzz_cmd_one)
