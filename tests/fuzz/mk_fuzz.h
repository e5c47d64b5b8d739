/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/mk_fuzz.h - shared helpers of the libFuzzer harnesses in
 * tests/fuzz/fuzz_*.c: a byte reader over the fuzz input (t_in_*), the
 * invariant check T_FUZZ_CHECK (prints and aborts, which both libFuzzer and
 * a forked Check test report as a failure) and MK_FUZZ_ENTRY, which defines
 * LLVMFuzzerTestOneInput except when tests/check_fuzz_regress.c includes a
 * harness (MK_FUZZ_REPLAY) to replay tests/fuzz/regress/ with gcc.
 * Header-only, static inline: every harness is one translation unit.
 */
#ifndef MK_TESTS_FUZZ_MK_FUZZ_H
#define MK_TESTS_FUZZ_MK_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/dfa.h"
#include "runtime/err.h"

#ifdef MK_FUZZ_REPLAY
#define MK_FUZZ_ENTRY(fn)
#else
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#define MK_FUZZ_ENTRY(fn)                                            \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) \
	{                                                            \
		fn(data, size);                                      \
		return 0;                                            \
	}
#endif

static inline void __attribute__((noreturn, format(printf, 4, 5)))
t_fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: fuzz invariant failed: %s: ", file, line,
		cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* T_FUZZ_CHECK(cond, "fmt", args...): abort with a message unless cond. */
#define T_FUZZ_CHECK(cond, ...)                                         \
	do {                                                            \
		if (!(cond))                                            \
			t_fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

/* A failed call: @rc is a negative errno, recorded in @e with a Fix:. */
#define T_FUZZ_CHECK_ERR(rc, e)                                          \
	do {                                                             \
		T_FUZZ_CHECK((rc) < 0 && (e)->code == (rc),              \
			     "rc %d, err.code %d (%s)", (rc), (e)->code, \
			     (e)->msg);                                  \
		T_FUZZ_CHECK(strstr((e)->msg, "Fix:") != NULL,           \
			     "message lacks Fix: '%s'", (e)->msg);       \
	} while (0)

/* ---- reading the fuzz input: past the end every read gives zeros -------- */

struct t_in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t t_in_u8(struct t_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint32_t t_in_u32(struct t_in *in)
{
	uint32_t v = 0;
	unsigned i;

	for (i = 0; i < 4; i++)
		v |= (uint32_t)t_in_u8(in) << (8u * i);
	return v;
}

/* 0..n-1 (n >= 1) from one or two bytes. */
static inline uint32_t t_in_below(struct t_in *in, uint32_t n)
{
	uint32_t v = t_in_u8(in);

	if (n > 256u)
		v |= (uint32_t)t_in_u8(in) << 8;
	return v % n;
}

/*
 * A u32 that is often a boundary of the protocol: a tag byte picks one of
 * the edge values, a small number or four raw bytes.
 */
static inline uint32_t t_in_edge_u32(struct t_in *in)
{
	static const uint32_t edge[] = {
		0u,	      1u,	   2u,		3u,	      4u,
		5u,	      6u,	   7u,		8u,	      11u,
		12u,	      13u,	   15u,		16u,	      17u,
		31u,	      32u,	   63u,		64u,	      96u,
		127u,	      128u,	   129u,	134u,	      135u,
		159u,	      160u,	   161u,	255u,	      256u,
		257u,	      1028u,	   0xFFEFu,	0xFFF0u,      0xF100u,
		0xFFFDu,      0xFFFEu,	   0xFFFFu,	0x10000u,     0x7FFFFFFFu,
		0x80000000u,  0x80000001u, 0xFFFFFF5Fu, 0xFFFFFFA0u,  0xFFFFFFF0u,
		0xFFFFFFFDu,  0xFFFFFFFEu, 0xFFFFFFFFu,
	};
	uint8_t tag = t_in_u8(in);

	if (tag < 128u)
		return edge[tag % (sizeof(edge) / sizeof(edge[0]))];
	if (tag < 192u)
		return t_in_u8(in);
	return t_in_u32(in);
}

/* Copy @n bytes (zero-filled past the end) into @dst. */
static inline void t_in_bytes(struct t_in *in, void *dst, size_t n)
{
	uint8_t *d = dst;
	size_t k = n < in->n ? n : in->n;

	memcpy(d, in->p, k);
	memset(d + k, 0, n - k);
	in->p += k;
	in->n -= k;
}

/*
 * malloc(@n) that never returns NULL for n == 0 and aborts on failure, so
 * a harness never confuses an allocation failure with a finding. ASan
 * sizes the block exactly: any read past @n is reported.
 */
static inline void *t_fuzz_alloc(size_t n)
{
	void *p = malloc(n ? n : 1u);

	if (!p)
		abort();
	return p;
}

/*
 * 0..3 hand-made pattern-set views for DFA_STEP (runtime/interp.h): 1..3
 * states each, exactly states*256 next words (values need not be valid
 * states: DFA_STEP only stores them), and sometimes no table at all.
 */
static inline struct mk_dfa_view *t_fuzz_sets_new(struct t_in *in,
						  uint32_t *nsets)
{
	uint32_t n = t_in_below(in, 4), k, i, cells;
	struct mk_dfa_view *v = t_fuzz_alloc(n * sizeof(*v));
	uint32_t *next, *acc;

	for (k = 0; k < n; k++) {
		v[k].states = 1u + t_in_below(in, 3);
		v[k].max_len = 0;
		v[k].next = NULL;
		v[k].accept = NULL;
		if (!(t_in_u8(in) & 3u))
			continue;
		cells = v[k].states * 256u;
		next = t_fuzz_alloc(cells * sizeof(*next));
		acc = t_fuzz_alloc(v[k].states * sizeof(*acc));
		for (i = 0; i < cells; i++)
			next[i] = (i & 7u) ? i / 256u : t_in_u8(in);
		for (i = 0; i < v[k].states; i++)
			acc[i] = t_in_u8(in) & 1u;
		v[k].next = next;
		v[k].accept = acc;
	}
	*nsets = n;
	return v;
}

static inline void t_fuzz_sets_free(struct mk_dfa_view *v, uint32_t n)
{
	uint32_t k;

	for (k = 0; k < n; k++) {
		free((void *)(uintptr_t)v[k].next);
		free((void *)(uintptr_t)v[k].accept);
	}
	free(v);
}

#endif /* MK_TESTS_FUZZ_MK_FUZZ_H */
