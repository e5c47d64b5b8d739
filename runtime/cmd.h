/* SPDX-License-Identifier: MIT */
/*
 * runtime/cmd.h - the text command grammar of megafs slot files and the
 * slot line format. Pure and FUSE-free, so it can be unit-tested and
 * fuzzed; fs/ decides text versus 64-byte binary and calls these.
 * Pairs with runtime/cmd.c; the grammar is documented in docs/megafs.1.
 *
 *   command  := OPCODE { ARG } { OPTION } ["\n"]
 *   OPCODE   := mnemonic | NUMBER            (mnemonics from opcodes.def,
 *                                             case-insensitive)
 *   ARG      := NUMBER                       (at most 12)
 *   OPTION   := "tenant=" NUMBER | "priority=" (0..4 | critical | high |
 *               normal | low | idle)
 *   NUMBER   := decimal | "0x" hex           (u32 range)
 *   packed   := "packed" [ INNER { ";" INNER } ] { OPTION }
 *   INNER    := (mnemonic | NUMBER < 256) { ARG }
 *
 * Options may follow any argument. Tokens are separated by blanks (space,
 * tab); ";" separates packed inner ops with or without blanks around it.
 */
#ifndef MK_RUNTIME_CMD_H
#define MK_RUNTIME_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/abi.h"
#include "runtime/err.h"

/* Longest accepted command text, in bytes (newline included). */
#define MK_CMD_MAX_LEN 4096u
/* Most inner ops the parser collects before the packed encoder judges. */
#define MK_CMD_MAX_PACKED_OPS 32u
/* Longest slot line: 16 * "4294967295" + 15 blanks + "\n" + NUL. */
#define MK_CMD_SLOT_LINE_MAX 177u

/* One parsed command: what a publish needs. */
struct mk_cmd {
	uint32_t opcode;   /* wire opcode (PACKED_SLOT for "packed") */
	uint32_t tenant;   /* tenant=, default 0 */
	uint32_t priority; /* priority=, default MK_PRIORITY_NORMAL */
	uint32_t nargs;    /* argument words used, 0..12 */
	uint32_t args[MK_ARGS_PER_SLOT];
	uint32_t packed_ops; /* inner ops of a "packed" command, else 0 */
};

/*
 * Parse one text command of @len bytes (not NUL-terminated; one trailing
 * "\n" or "\r\n" is allowed). Packed commands are encoded with
 * mk_proto_encode_packed(MK_PACK_STRICT). Opcodes are not validated for
 * publishing here (load_miss parses; the publish check rejects it).
 * Returns 0, -EINVAL (empty, unknown mnemonic, bad or out-of-range number,
 * bad option, malformed packed, embedded newline or NUL, too long) or
 * -E2BIG (more than 12 args, also for one packed inner op), with a message
 * naming the offending token and a "Fix:" hint in @err. @out is written
 * only on success. Thread-safe (no state).
 */
int mk_cmd_parse(const char *buf, size_t len, struct mk_cmd *out,
		 struct mk_err *err);

/* Fill a slot image from @cmd: status PUBLISHED, zero-filled args. */
void mk_cmd_to_slot(const struct mk_cmd *cmd, struct mk_slot *out);

/*
 * Parse a list of 1..@max u32 numbers (decimal or 0x hex) separated by
 * blanks, with one optional trailing newline, as written to observables
 * and control files. Returns the count, or -EINVAL (no number, bad or
 * out-of-range token, garbage) / -E2BIG (more than @max) with a "Fix:".
 */
int mk_cmd_parse_numbers(const char *buf, size_t len, uint32_t *out,
			 size_t max, struct mk_err *err);

/*
 * Parse one number token of @len bytes (no blanks): decimal or 0x/0X hex,
 * u32 range. Returns 0 or -EINVAL (not a number) / -ERANGE (too large).
 * Sets no message; mk_cmd_parse explains the failure in context.
 */
int mk_cmd_parse_u32(const char *tok, size_t len, uint32_t *out);

/*
 * Format the 16 words of @slot as decimal, blank-separated, with a final
 * "\n" and a NUL. Returns the length without the NUL, or -ENOSPC when @cap
 * is too small (MK_CMD_SLOT_LINE_MAX always fits).
 */
int mk_cmd_format_slot(const struct mk_slot *slot, char *buf, size_t cap);

#endif /* MK_RUNTIME_CMD_H */
