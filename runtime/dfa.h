/* SPDX-License-Identifier: MIT */
/*
 * runtime/dfa.h - pattern sets for the streaming scan: literal patterns
 * compiled to an Aho-Corasick automaton expanded into a dense DFA, or a
 * user-supplied binary DFA, plus the scan loops the CPU backend runs.
 * Pure: no I/O, no threads, no backend. Pairs with runtime/dfa.c.
 *
 * ---- "literals" text (the patterns/P/literals file) -----------------------
 * One pattern per line ("\n" ends a line; the last line needs none). Bytes
 * are taken literally except for the escapes \xHH (exactly two hex digits,
 * either case), \n, \t, \r, \0 and \\. Any other backslash sequence, and a
 * backslash at the end of a line, is -EINVAL with the 1-based line number.
 * Empty lines are ignored (they still count for line numbers): a pattern
 * can never be empty. One raw CR right before the LF is dropped, so files
 * written with CRLF line ends work; write \r to match a CR. Blanks are
 * pattern bytes. Pattern i (0-based) is the i-th non-empty line; duplicate
 * lines are distinct patterns and each is counted.
 *
 * ---- limits (-E2BIG with a Fix: hint when exceeded) -----------------------
 *   MK_DFA_MAX_PATTERNS  patterns per set
 *   MK_DFA_MAX_PATLEN    bytes per pattern, after unescaping (min 1)
 *   MK_DFA_MAX_STATES    DFA states (literals: trie nodes + 1 root; binary:
 *                        byte length / 1028). The table is states*1 KiB.
 * An empty literals text is a valid empty set: one state, no matches.
 *
 * ---- binary DFA (the patterns/P/dfa file) ---------------------------------
 * Little-endian u32 next[states*256] followed by u32 accept[states]; states
 * is the byte length / (257*4), which must be a whole non-zero number. The
 * start state is 0. next[s*256+b] is the state after byte b in state s and
 * must be < states. accept[s] is the number of matches that end when the
 * DFA enters s; each is reported as pattern index 0. The longest match of
 * such a DFA is unknown (max_len = 0), so no overlap makes independent
 * chunk scans exact: mk_dfa_overlap() says MK_DFA_OVERLAP_UNBOUNDED and
 * the caller must scan chunks in file order, carrying the state.
 *
 * ---- matches ---------------------------------------------------------------
 * A match is a (pattern, end) pair: every occurrence of every pattern is
 * counted, overlapping ones included ("aaaa" occurs 4 times in "aaaaaaa"),
 * and a pattern that is a suffix or prefix of another counts on its own.
 * Offsets: a match "ends at position p" when p is the index of its last
 * byte; hit callbacks receive end_offset = p + 1 (one past the last byte,
 * like Hyperscan's `to`).
 *
 * Thread safety: a struct mk_dfa is immutable after creation; any number
 * of threads may scan with it concurrently.
 */
#ifndef MK_RUNTIME_DFA_H
#define MK_RUNTIME_DFA_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/err.h"

#define MK_DFA_MAX_PATTERNS 10000u
#define MK_DFA_MAX_PATLEN 1024u
#define MK_DFA_MAX_STATES (1u << 20)
/* Bytes of one DFA state in the binary format: 256 next words + accept. */
#define MK_DFA_STATE_BYTES (257u * 4u)
/* mk_dfa_overlap() of a DFA whose longest match is unknown (binary). */
#define MK_DFA_OVERLAP_UNBOUNDED SIZE_MAX

/*
 * ---- the step, shared with device code -------------------------------------
 * Plain C and C++ (nvcc) compatible: fixed-width types only, no C11-only
 * syntax. MK_DFA_HD marks it callable from CUDA device code when the header
 * is compiled by nvcc.
 */
#if defined(__CUDACC__)
#define MK_DFA_HD __host__ __device__
#else
#define MK_DFA_HD
#endif

/* The tables of a DFA, borrowed from a struct mk_dfa (valid while it is). */
struct mk_dfa_view {
	const uint32_t *next;   /* states*256 words: next[s*256 + byte] */
	const uint32_t *accept; /* states words: matches ending on entering s */
	uint32_t states;        /* >= 1; state 0 is the start state */
	uint32_t max_len;       /* longest pattern in bytes; 0 = unknown/none */
};

/* The state after @byte in @state; @state must be < the view's states. */
static inline MK_DFA_HD uint32_t mk_dfa_step(const uint32_t *next,
					     uint32_t state, uint8_t byte)
{
	return next[(uint64_t)state * 256u + byte];
}

struct mk_dfa; /* opaque; immutable once created */

/* Callback of mk_dfa_scan_hits: one match (see "Offsets" above). */
typedef void (*mk_dfa_hit_fn)(void *ctx, uint32_t pattern_index,
			      size_t end_offset);

/*
 * Parse a literals text of @len bytes (not NUL-terminated; raw bytes
 * 0x00..0xFF other than LF are pattern bytes) and compile it. On success
 * *@out is a new DFA (free with mk_dfa_destroy) and 0 is returned.
 * Errors, each with a Fix: hint in @err (NULL-tolerant); *@out untouched:
 *   -EINVAL  bad escape (message names the line)
 *   -E2BIG   a pattern longer than MK_DFA_MAX_PATLEN (names the line), more
 *            than MK_DFA_MAX_PATTERNS patterns, or more than
 *            MK_DFA_MAX_STATES states (checked before the table is
 *            allocated)
 *   -ENOMEM  allocation failed
 */
int mk_dfa_compile_literals(const void *text, size_t len, struct mk_dfa **out,
			    struct mk_err *err);

/*
 * Load a binary DFA of @len bytes (format above; the bytes are copied).
 * Errors, each with a Fix: hint; *@out untouched:
 *   -EINVAL  empty, length not a multiple of MK_DFA_STATE_BYTES, or a next
 *            entry >= states (message names the state and byte)
 *   -E2BIG   more than MK_DFA_MAX_STATES states (checked before reading)
 *   -ENOMEM  allocation failed
 */
int mk_dfa_load_binary(const void *bytes, size_t len, struct mk_dfa **out,
		       struct mk_err *err);

/* Free @d; NULL is fine. */
void mk_dfa_destroy(struct mk_dfa *d);

/* The tables, for device upload or a hand-written loop over mk_dfa_step. */
struct mk_dfa_view mk_dfa_view(const struct mk_dfa *d);

uint32_t mk_dfa_states(const struct mk_dfa *d);
/* Pattern count; 1 for a binary DFA (everything reports index 0). */
uint32_t mk_dfa_patterns(const struct mk_dfa *d);
/* Longest pattern in bytes; 0 for an empty set or a binary DFA. */
uint32_t mk_dfa_max_len(const struct mk_dfa *d);
/* 1 when loaded from a binary DFA, 0 when compiled from literals. */
int mk_dfa_is_binary(const struct mk_dfa *d);
/* Bytes of the binary form, states * MK_DFA_STATE_BYTES. */
size_t mk_dfa_table_bytes(const struct mk_dfa *d);
/* Bytes of pattern @i and its length in *@len; NULL if out of range or
 * binary. */
const uint8_t *mk_dfa_pattern(const struct mk_dfa *d, uint32_t i,
			      uint32_t *len);

/*
 * Overlap that makes independent chunk scans exact: max_len - 1 for a
 * literal set (0 for an empty set), MK_DFA_OVERLAP_UNBOUNDED for a binary
 * DFA. Property (proved in dfa.c above mk_dfa_overlap): scanning from
 * state 0 at position start - overlap (clamped at 0) with count_from =
 * the distance to start counts exactly the matches that end at >= start.
 */
size_t mk_dfa_overlap(const struct mk_dfa *d);

/*
 * The pattern indices of the accept[s] matches that end on entering each
 * state s, for backends that enumerate hits from tables (the GPU): row s
 * is (*@pat)[off[s] .. off[s+1]), ascending, so the hits of one end come
 * out by increasing pattern index (a binary DFA reports pattern 0
 * accept[s] times). *@off gets states + 1 entries and *@pat off[states]
 * entries (at least 1), both malloc'd for the caller to free; untouched on
 * error. Errors with a Fix: hint: -E2BIG when the rows would hold more
 * than @max_entries entries (sets with deeply nested suffix patterns),
 * -ENOMEM.
 */
int mk_dfa_out_table(const struct mk_dfa *d, size_t max_entries,
		     uint32_t **off, uint32_t **pat, struct mk_err *err);

/*
 * Write "states=N patterns=N table_bytes=N max_len=N|unknown\n" into @buf
 * of @cap bytes (NUL-terminated, truncated to fit). Returns the length it
 * needed, like snprintf.
 */
int mk_dfa_info(const struct mk_dfa *d, char *buf, size_t cap);

/*
 * Write the binary form (format above) into @buf of @cap bytes. Returns 0,
 * or -ENOSPC when @cap < mk_dfa_table_bytes(d) (nothing written). Loading
 * the output gives the same counts (pattern indices become 0).
 */
int mk_dfa_export(const struct mk_dfa *d, void *buf, size_t cap);

/*
 * Run the DFA from *@state_inout over @buf[0..@len) and return the number
 * of matches ending at positions >= @count_from (a sum of accept[]).
 * *@state_inout (< states) is updated to the state after the last byte.
 * Both chunking forms use it:
 *   overlap form: state = 0, buf starts mk_dfa_overlap() bytes (clamped)
 *     before the chunk, count_from = that lead-in; chunks are independent.
 *   carry form: state = previous chunk's final state (0 first),
 *     count_from = 0; chunks must be scanned in order.
 * @count_from > @len counts nothing. Literal sets with long inputs are
 * scanned as several interleaved lanes (exact by the overlap property).
 */
uint64_t mk_dfa_scan_count(const struct mk_dfa *d, const uint8_t *buf,
			   size_t len, size_t count_from,
			   uint32_t *state_inout);

/*
 * mk_dfa_scan_count that also calls @fn (NULL: count only) once per match
 * ending at >= @count_from, in order of end offset (within one end, the
 * longest pattern first). end_offset is relative to @buf.
 */
uint64_t mk_dfa_scan_hits(const struct mk_dfa *d, const uint8_t *buf,
			  size_t len, size_t count_from, uint32_t *state_inout,
			  mk_dfa_hit_fn fn, void *ctx);

#endif /* MK_RUNTIME_DFA_H */
