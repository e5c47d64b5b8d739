/* SPDX-License-Identifier: MIT */
/*
 * runtime/cmd.c - text command parser and slot line formatter; see
 * runtime/cmd.h for the grammar. Streaming tokenizer, no allocation, no
 * state between calls. Not the publisher: fs/ publishes what this returns.
 */
#include "runtime/cmd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "runtime/proto.h"

/* How much of a bad token a message quotes. */
#define TOK_QUOTE 40

static const struct {
	const char *mnem;
	const char *name;
	uint32_t value;
} op_table[] = {
#define MK_OPCODE(NAME, mnem, value, builtin) { #mnem, #NAME, value },
#include "runtime/opcodes.def"
#undef MK_OPCODE
};

#define N_OPS (sizeof(op_table) / sizeof(op_table[0]))

static const char *const prio_names[MK_PRIORITY_LEVELS] = {
	"critical", "high", "normal", "low", "idle"
};

struct tok {
	const char *p;
	size_t n;
};

struct parser {
	const char *buf;
	size_t len;
	size_t pos;
	struct mk_err *err;
	int have_tenant;
	int have_priority;
	struct mk_cmd cmd;
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Next token: a run of non-blank, non-';' bytes, or a lone ';'. */
static int next_tok(struct parser *p, struct tok *t)
{
	while (p->pos < p->len && is_blank(p->buf[p->pos]))
		p->pos++;
	if (p->pos >= p->len)
		return 0;
	t->p = p->buf + p->pos;
	if (p->buf[p->pos] == ';') {
		t->n = 1;
		p->pos++;
		return 1;
	}
	while (p->pos < p->len && !is_blank(p->buf[p->pos]) &&
	       p->buf[p->pos] != ';')
		p->pos++;
	t->n = (size_t)(p->buf + p->pos - t->p);
	return 1;
}

static int tok_is(const struct tok *t, const char *s)
{
	return t->n == strlen(s) && strncasecmp(t->p, s, t->n) == 0;
}

int mk_cmd_parse_u32(const char *tok, size_t len, uint32_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	int hex = 0;

	if (len >= 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X')) {
		hex = 1;
		i = 2;
	}
	if (i >= len)
		return -EINVAL;
	for (; i < len; i++) {
		char c = tok[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (hex && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (hex && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		v = v * (hex ? 16u : 10u) + d;
		if (v > UINT32_MAX)
			return -ERANGE;
	}
	*out = (uint32_t)v;
	return 0;
}

/* Parse a number token, explaining a failure with @what ("arg 3"). */
static int parse_num(struct parser *p, const struct tok *t, const char *what,
		     uint32_t *out)
{
	int rc = mk_cmd_parse_u32(t->p, t->n, out);

	if (rc == -ERANGE)
		return mk_err_setf(p->err, -EINVAL,
				   "keep every number within u32: 0..4294967295 or 0x0..0xffffffff",
				   "%s '%.*s' is out of u32 range", what,
				   (int)(t->n > TOK_QUOTE ? TOK_QUOTE : t->n),
				   t->p);
	if (rc)
		return mk_err_setf(p->err, -EINVAL,
				   "write numbers as decimal (42) or 0x hex (0x2a)",
				   "%s '%.*s' is not a number", what,
				   (int)(t->n > TOK_QUOTE ? TOK_QUOTE : t->n),
				   t->p);
	return 0;
}

static int parse_priority(struct parser *p, const struct tok *v)
{
	uint32_t i, n;

	for (i = 0; i < MK_PRIORITY_LEVELS; i++) {
		if (tok_is(v, prio_names[i])) {
			p->cmd.priority = i;
			return 0;
		}
	}
	if (mk_cmd_parse_u32(v->p, v->n, &n) == 0 && n < MK_PRIORITY_LEVELS) {
		p->cmd.priority = n;
		return 0;
	}
	return mk_err_setf(p->err, -EINVAL,
			   "use priority=0..4 or critical, high, normal, low, idle",
			   "bad priority 'priority=%.*s'",
			   (int)(v->n > TOK_QUOTE ? TOK_QUOTE : v->n), v->p);
}

/* "key=value": 1 if @t is an option (handled or failed via *rc), else 0. */
static int try_option(struct parser *p, const struct tok *t, int *rc)
{
	const char *eq = memchr(t->p, '=', t->n);
	struct tok key, val;

	if (!eq)
		return 0;
	key.p = t->p;
	key.n = (size_t)(eq - t->p);
	val.p = eq + 1;
	val.n = t->n - key.n - 1;
	if (tok_is(&key, "tenant") && !p->have_tenant) {
		p->have_tenant = 1;
		*rc = parse_num(p, &val, "tenant", &p->cmd.tenant);
	} else if (tok_is(&key, "priority") && !p->have_priority) {
		p->have_priority = 1;
		*rc = parse_priority(p, &val);
	} else if (tok_is(&key, "tenant") || tok_is(&key, "priority")) {
		*rc = mk_err_setf(p->err, -EINVAL,
				  "give tenant= and priority= at most once",
				  "option '%.*s' is repeated", (int)key.n,
				  key.p);
	} else {
		*rc = mk_err_setf(p->err, -EINVAL,
				  "the only options are tenant=T and priority=P",
				  "unknown option '%.*s'",
				  (int)(t->n > TOK_QUOTE ? TOK_QUOTE : t->n),
				  t->p);
	}
	return 1;
}

static int lookup_mnemonic(const struct tok *t, uint32_t *out)
{
	size_t i;

	for (i = 0; i < N_OPS; i++) {
		if (tok_is(t, op_table[i].mnem) || tok_is(t, op_table[i].name)) {
			*out = op_table[i].value;
			return 0;
		}
	}
	return -ENOENT;
}

static int parse_opcode(struct parser *p, const struct tok *t, uint32_t *out)
{
	if (t->p[0] >= '0' && t->p[0] <= '9')
		return parse_num(p, t, "opcode", out);
	if (lookup_mnemonic(t, out) == 0)
		return 0;
	return mk_err_setf(p->err, -EINVAL,
			   "use a mnemonic (nop, store_u32, atomic_add, load_u32, compare_swap, memcpy, dfa_step, batch_fence, printf, shutdown, packed) or a number",
			   "unknown mnemonic '%.*s'",
			   (int)(t->n > TOK_QUOTE ? TOK_QUOTE : t->n), t->p);
}

static int too_many_args(struct parser *p, const char *where)
{
	return mk_err_setf(p->err, -E2BIG,
			   "a slot carries at most 12 argument words; split the work over several slots",
			   "more than 12 args%s", where);
}

/* Plain command: args and options up to the end. */
static int parse_plain(struct parser *p)
{
	struct tok t;
	char what[32];
	int rc = 0;

	while (next_tok(p, &t)) {
		if (try_option(p, &t, &rc)) {
			if (rc)
				return rc;
			continue;
		}
		if (t.n == 1 && t.p[0] == ';')
			return mk_err_set(p->err, -EINVAL,
					  "unexpected ';' outside a packed command",
					  "write one command per write, or start it with 'packed'");
		if (p->cmd.nargs == MK_ARGS_PER_SLOT)
			return too_many_args(p, "");
		snprintf(what, sizeof(what), "arg %u", p->cmd.nargs + 1);
		rc = parse_num(p, &t, what, &p->cmd.args[p->cmd.nargs]);
		if (rc)
			return rc;
		p->cmd.nargs++;
	}
	return 0;
}

struct packed_acc {
	struct mk_proto_packed_op ops[MK_CMD_MAX_PACKED_OPS];
	uint32_t pool[MK_CMD_MAX_PACKED_OPS * MK_ARGS_PER_SLOT];
	size_t n;     /* ops started */
	size_t used;  /* pool words used */
	int open;     /* the last op has its opcode and takes args */
	int seps;     /* ';' seen */
};

static int packed_inner_opcode(struct parser *p, struct packed_acc *a,
			       const struct tok *t)
{
	uint32_t op;
	int rc;

	if (a->n == MK_CMD_MAX_PACKED_OPS)
		return mk_err_setf(p->err, -EINVAL,
				   "the kernel runs at most 4 inner ops per packed slot; use several slots",
				   "malformed packed: more than %u inner ops",
				   MK_CMD_MAX_PACKED_OPS);
	rc = parse_opcode(p, t, &op);
	if (rc)
		return rc;
	if (op > 0xffu)
		return mk_err_setf(p->err, -EINVAL,
				   "packed inner opcodes are one byte (0..255); publish this op in its own slot",
				   "malformed packed: inner opcode '%.*s' (0x%x) does not fit a byte",
				   (int)(t->n > TOK_QUOTE ? TOK_QUOTE : t->n),
				   t->p, op);
	a->ops[a->n].opcode = (uint8_t)op;
	a->ops[a->n].args = &a->pool[a->used];
	a->ops[a->n].nargs = 0;
	a->n++;
	a->open = 1;
	return 0;
}

static int packed_arg(struct parser *p, struct packed_acc *a,
		      const struct tok *t)
{
	struct mk_proto_packed_op *op = &a->ops[a->n - 1];
	char what[40];
	int rc;

	if (op->nargs == MK_ARGS_PER_SLOT)
		return too_many_args(p, " in a packed inner op");
	snprintf(what, sizeof(what), "packed op %zu arg %zu", a->n,
		 op->nargs + 1);
	rc = parse_num(p, t, what, &a->pool[a->used]);
	if (rc)
		return rc;
	a->used++;
	op->nargs++;
	return 0;
}

static int packed_token(struct parser *p, struct packed_acc *a,
			const struct tok *t)
{
	if (t->n == 1 && t->p[0] == ';') {
		if (!a->open)
			return mk_err_set(p->err, -EINVAL,
					  "malformed packed: empty inner op before ';'",
					  "write 'packed op a b ; op a', one opcode between separators");
		a->open = 0;
		a->seps++;
		return 0;
	}
	if (!a->open)
		return packed_inner_opcode(p, a, t);
	return packed_arg(p, a, t);
}

/* "packed" inner ops; encoded strictly into the 12-word payload. */
static int parse_packed(struct parser *p)
{
	struct packed_acc a;
	size_t nwords = 0;
	struct tok t;
	int rc = 0;

	memset(&a, 0, sizeof(a));
	while (next_tok(p, &t)) {
		if (try_option(p, &t, &rc)) {
			if (rc)
				return rc;
			continue;
		}
		rc = packed_token(p, &a, &t);
		if (rc)
			return rc;
	}
	if (a.seps && !a.open)
		return mk_err_set(p->err, -EINVAL,
				  "malformed packed: nothing after the last ';'",
				  "drop the trailing ';' or add an inner op after it");
	rc = mk_proto_encode_packed(a.ops, a.n, MK_PACK_STRICT, p->cmd.args,
				    &nwords, p->err);
	if (rc) {
		/* Malformed packed is EINVAL; the encoder's message stands. */
		if (p->err)
			p->err->code = -EINVAL;
		return -EINVAL;
	}
	p->cmd.opcode = MK_OP_PACKED_SLOT;
	p->cmd.nargs = (uint32_t)nwords;
	p->cmd.packed_ops = (uint32_t)a.n;
	return 0;
}

/* Drop one trailing newline; refuse anything else that is not text. */
static int check_text(const char *buf, size_t *len, struct mk_err *err)
{
	size_t n = *len, i;

	if (n > MK_CMD_MAX_LEN)
		return mk_err_setf(err, -EINVAL,
				   "write at most 4096 bytes: one command, or the numbers this file holds",
				   "text write of %zu bytes is too long", n);
	if (n && buf[n - 1] == '\n')
		n--;
	if (n && buf[n - 1] == '\r')
		n--;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\n')
			return mk_err_setf(err, -EINVAL,
					   "write one command per write(); use ring/raw or several slots for batches",
					   "newline at byte %zu: more than one line", i);
		if ((c < 0x20 && c != '\t') || c >= 0x7f)
			return mk_err_setf(err, -EINVAL,
					   "write a text command, or exactly 64 bytes for a binary slot image",
					   "byte 0x%02x at offset %zu is not text", c, i);
	}
	*len = n;
	return 0;
}

int mk_cmd_parse(const char *buf, size_t len, struct mk_cmd *out,
		 struct mk_err *err)
{
	struct parser p;
	struct tok t;
	int rc;

	rc = check_text(buf, &len, err);
	if (rc)
		return rc;
	memset(&p, 0, sizeof(p));
	p.buf = buf;
	p.len = len;
	p.err = err;
	p.cmd.priority = MK_PRIORITY_NORMAL;
	if (!next_tok(&p, &t))
		return mk_err_set(err, -EINVAL, "empty command",
				  "write 'OPCODE [ARG ...] [tenant=T] [priority=P]', e.g. 'store_u32 7 160'");
	if (memchr(t.p, '=', t.n) || (t.n == 1 && t.p[0] == ';'))
		return mk_err_setf(err, -EINVAL,
				   "start the command with its opcode, e.g. 'nop tenant=1'",
				   "command starts with '%.*s' instead of an opcode",
				   (int)(t.n > TOK_QUOTE ? TOK_QUOTE : t.n), t.p);
	rc = parse_opcode(&p, &t, &p.cmd.opcode);
	if (rc)
		return rc;
	if (tok_is(&t, "packed") || tok_is(&t, "packed_slot"))
		rc = parse_packed(&p);
	else
		rc = parse_plain(&p);
	if (rc)
		return rc;
	*out = p.cmd;
	return 0;
}

void mk_cmd_to_slot(const struct mk_cmd *cmd, struct mk_slot *out)
{
	memset(out, 0, sizeof(*out));
	out->status = MK_SLOT_PUBLISHED;
	out->opcode = cmd->opcode;
	out->tenant = cmd->tenant;
	out->priority = cmd->priority;
	memcpy(out->args, cmd->args, cmd->nargs * sizeof(uint32_t));
}

int mk_cmd_parse_numbers(const char *buf, size_t len, uint32_t *out,
			 size_t max, struct mk_err *err)
{
	struct parser p;
	struct tok t;
	size_t n = 0;
	char what[32];
	int rc;

	rc = check_text(buf, &len, err);
	if (rc)
		return rc;
	memset(&p, 0, sizeof(p));
	p.buf = buf;
	p.len = len;
	p.err = err;
	while (next_tok(&p, &t)) {
		if (n == max)
			return mk_err_setf(err, -E2BIG,
					   "write exactly the numbers this file holds",
					   "more than %zu number%s", max,
					   max == 1 ? "" : "s");
		snprintf(what, sizeof(what), "value %zu", n + 1);
		rc = parse_num(&p, &t, what, &out[n]);
		if (rc)
			return rc;
		n++;
	}
	if (n == 0)
		return mk_err_set(err, -EINVAL, "no number written",
				  "write a decimal or 0x hex number, e.g. 'echo 42'");
	return (int)n;
}

int mk_cmd_format_slot(const struct mk_slot *slot, char *buf, size_t cap)
{
	const uint32_t *w = (const uint32_t *)slot;
	size_t off = 0;
	unsigned i;

	for (i = 0; i < MK_SLOT_WORDS; i++) {
		int n = snprintf(buf + off, cap - off, "%u%c", w[i],
				 i + 1 < MK_SLOT_WORDS ? ' ' : '\n');

		if (n < 0 || (size_t)n >= cap - off)
			return -ENOSPC;
		off += (size_t)n;
	}
	return (int)off;
}
