/* SPDX-License-Identifier: MIT */
/*
 * runtime/interp.h - the one statement of opcode semantics (PROTOCOL.md
 * sections 0.3, 4.3, 5 and 6.3), compiled by gcc for the CPU backend and by
 * nvcc for kernels/megakernel.cu, so the two backends cannot drift.
 *
 * It is not a scheduler: callers decide which slot to look at (a doorbell on
 * the CPU, a warp fetch on the GPU) and call mk_try_claim() /
 * mk_exec_claimed(). All index arithmetic is u32 and wraps; out-of-range
 * loads read 0 and out-of-range stores vanish, so no opcode can fault.
 *
 * Atomics sit behind five macros: MK_ALOAD, MK_AXCHG, MK_AADD, MK_ACAS and
 * MK_FENCE_RELEASE. On the host they are sequentially consistent GCC
 * builtins (PROTOCOL.md 10.6); under nvcc they are system-scope atomics.
 */
#ifndef MK_RUNTIME_INTERP_H
#define MK_RUNTIME_INTERP_H

#include "runtime/abi.h"
#include "runtime/dfa.h"

#ifdef __CUDACC__
#define MK_FN static __device__ __forceinline__
#define MK_ALOAD(p) (*(volatile uint32_t *)(p))
#define MK_AXCHG(p, v) atomicExch_system((unsigned int *)(p), (v))
#define MK_AADD(p, v) atomicAdd_system((unsigned int *)(p), (v))
#define MK_ACAS(p, e, d) atomicCAS_system((unsigned int *)(p), (e), (d))
#define MK_FENCE_RELEASE() __threadfence_system()
#define MK_STORE_RELEASE(p, v) \
	do { \
		__threadfence_system(); \
		*(volatile uint32_t *)(p) = (v); \
	} while (0)
#else
#define MK_FN static inline
#define MK_ALOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define MK_AXCHG(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define MK_AADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define MK_ACAS(p, e, d) mk_host_cas((p), (e), (d))
#define MK_FENCE_RELEASE() __atomic_thread_fence(__ATOMIC_RELEASE)
#define MK_STORE_RELEASE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* Compare-exchange returning the old value, like CUDA's atomicCAS. */
static inline uint32_t mk_host_cas(uint32_t *p, uint32_t expected,
				   uint32_t desired)
{
	__atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
	return expected;
}
#endif

/*
 * The buffers one execution sees. Word counts are the lengths actually
 * bound (PROTOCOL.md 0.3: "end" is the real buffer length).
 */
struct mk_exec {
	uint32_t *ctl;
	uint32_t *ring;
	uint32_t *dbg;
	uint32_t ctl_words;
	uint32_t ring_words;
	uint32_t dbg_words;
	/* Pattern sets for DFA_STEP (megafs extension); NULL: metered no-op. */
	const struct mk_dfa_view *sets;
	uint32_t nsets;
};

/* ---- control-word access with the out-of-bounds rules ------------------- */

MK_FN uint32_t mk_ctl_load(const struct mk_exec *x, uint32_t i)
{
	return i < x->ctl_words ? MK_ALOAD(&x->ctl[i]) : 0u;
}

MK_FN void mk_ctl_xchg(const struct mk_exec *x, uint32_t i, uint32_t v)
{
	if (i < x->ctl_words)
		MK_AXCHG(&x->ctl[i], v);
}

MK_FN uint32_t mk_ctl_add(const struct mk_exec *x, uint32_t i, uint32_t v)
{
	return i < x->ctl_words ? MK_AADD(&x->ctl[i], v) : 0u;
}

MK_FN uint32_t mk_ctl_cas(const struct mk_exec *x, uint32_t i, uint32_t e,
			  uint32_t d)
{
	return i < x->ctl_words ? MK_ACAS(&x->ctl[i], e, d) : 0u;
}

/* Tenant t is enabled iff ctl[ctl[2] + t] != 0 (PROTOCOL.md 2.4). */
MK_FN int mk_tenant_enabled(const struct mk_exec *x, uint32_t tenant)
{
	uint32_t tb = mk_ctl_load(x, MK_CTL_TENANT_BASE);

	return mk_ctl_load(x, tb + tenant) != 0u;
}

/* ---- opcode bodies (PROTOCOL.md 5.4) -------------------------------------- */

/*
 * MEMCPY: for i in 0..n: ctl[dst+i] := ctl[src+i], forward, u32 wrapping.
 * Only iterations whose destination is inside the buffer have an effect,
 * and they form at most two runs of i; visiting just those (in increasing
 * i) gives the same result as the reference's up-to-2^32 iterations.
 */
MK_FN void mk_op_memcpy(const struct mk_exec *x, uint32_t src, uint32_t dst,
			uint32_t n)
{
	uint32_t w = x->ctl_words;
	uint32_t k0 = 0u - dst; /* first i with dst + i == 0 (mod 2^32) */
	uint32_t i, end;

	if (w == 0u || n == 0u)
		return;
	/* Run A: i in [0, n) with dst + i < w without wrapping (dst < w). */
	if (dst < w) {
		end = w - dst;
		if (end > n)
			end = n;
		for (i = 0; i < end; i++)
			mk_ctl_xchg(x, dst + i, mk_ctl_load(x, src + i));
	}
	/* Run B: i in [k0, k0 + w) where dst + i wraps through 0. */
	if (dst != 0u && k0 < n) {
		end = (n - k0 < w) ? n - k0 : w;
		for (i = 0; i < end; i++)
			mk_ctl_xchg(x, i, mk_ctl_load(x, src + k0 + i));
	}
}

/* PRINTF: reserve 4 words at the cursor; drop the record when full. */
MK_FN void mk_op_printf(const struct mk_exec *x, uint32_t slot_base,
			uint32_t a0, uint32_t a1, uint32_t a2)
{
	uint32_t old, base;

	if (x->dbg_words == 0u)
		return;
	old = MK_AADD(&x->dbg[MK_DEBUG_CURSOR_WORD], MK_DEBUG_RECORD_WORDS);
	base = old + 1u;
	if (base + 4u > x->dbg_words)
		return; /* dropped; the cursor stays advanced (5.10) */
	/* Indices wrap like the reference; each store is bounds-checked. */
	if (base < x->dbg_words)
		MK_AXCHG(&x->dbg[base], a0);
	if (base + 1u < x->dbg_words)
		MK_AXCHG(&x->dbg[base + 1u], a1);
	if (base + 2u < x->dbg_words)
		MK_AXCHG(&x->dbg[base + 2u], a2);
	if (base + 3u < x->dbg_words)
		MK_AXCHG(&x->dbg[base + 3u], slot_base);
}

/*
 * DFA_STEP extension: next = next-table[a0 * 256 + (a1 & 0xFF)] of pattern
 * set a3 (0, the first, when omitted), stored to observable a2 (u32
 * wrapping like LOAD_U32). A state beyond the table reads 0. Without a
 * loaded set a3 it stays the reference's metered no-op.
 */
MK_FN void mk_op_dfa_step(const struct mk_exec *x, uint32_t a0, uint32_t a1,
			  uint32_t a2, uint32_t a3)
{
	const struct mk_dfa_view *v;

	if (!x->sets || a3 >= x->nsets || !x->sets[a3].next)
		return;
	v = &x->sets[a3];
	mk_ctl_xchg(x, MK_CTL_OBSERVABLE_BASE + a2,
		    a0 < v->states ? mk_dfa_step(v->next, a0, (uint8_t)a1) : 0u);
}

/*
 * Section 5.1 steps 1-9: independent ifs in the reference order. The metric
 * is counted before the handler. Unknown opcodes fall through as no-ops.
 */
MK_FN void mk_exec_op(const struct mk_exec *x, uint32_t slot_base, uint32_t op,
		      uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3)
{
	if (op < MK_CTL_METRICS_SLOTS)
		mk_ctl_add(x, MK_CTL_METRICS_BASE + op, 1u);
	switch (op) {
	case MK_OP_STORE_U32:
		mk_ctl_xchg(x, a1, a0);
		break;
	case MK_OP_ATOMIC_ADD:
		mk_ctl_add(x, a1, a0);
		break;
	case MK_OP_LOAD_U32:
		mk_ctl_xchg(x, MK_CTL_OBSERVABLE_BASE + a1, mk_ctl_load(x, a0));
		break;
	case MK_OP_COMPARE_SWAP:
		mk_ctl_xchg(x, MK_CTL_OBSERVABLE_BASE + a0,
			    mk_ctl_cas(x, a0, a1, a2));
		break;
	case MK_OP_MEMCPY:
		mk_op_memcpy(x, a0, a1, a2);
		break;
	case MK_OP_DFA_STEP:
		mk_op_dfa_step(x, a0, a1, a2, a3);
		break;
	case MK_OP_BATCH_FENCE:
		mk_ctl_add(x, MK_CTL_EPOCH, 1u);
		mk_ctl_xchg(x, MK_CTL_OBSERVABLE_BASE, a1);
		break;
	case MK_OP_PRINTF:
		mk_op_printf(x, slot_base, a0, a1, a2);
		break;
	case MK_OP_SHUTDOWN:
		mk_ctl_xchg(x, MK_CTL_SHUTDOWN, 1u);
		break;
	default:
		break;
	}
}

/* Byte b of the 48-byte payload (slot words 4..15), little-endian. */
MK_FN uint32_t mk_payload_byte(const uint32_t *w, uint32_t b)
{
	return (w[MK_ARG0_WORD + b / 4u] >> (8u * (b % 4u))) & 0xFFu;
}

/* PACKED_SLOT, kernel rules (5.9): clamp to 4, metadata from the clamp. */
MK_FN void mk_exec_packed(const struct mk_exec *x, uint32_t slot_base,
			  const uint32_t *w)
{
	uint32_t n = mk_payload_byte(w, 0);
	uint32_t meta, i;

	if (n > MK_PACKED_MAX_INNER_OPS)
		n = MK_PACKED_MAX_INNER_OPS;
	meta = (2u + 2u * n + 3u) / 4u;
	for (i = 0; i < n; i++) {
		uint32_t op = mk_payload_byte(w, 2u + 2u * i);
		uint32_t base = meta + mk_payload_byte(w, 3u + 2u * i);

		if (base + 3u > MK_ARGS_PER_SLOT)
			continue; /* the reference skips it silently */
		mk_exec_op(x, slot_base, op, w[MK_ARG0_WORD + base],
			   w[MK_ARG0_WORD + base + 1u],
			   w[MK_ARG0_WORD + base + 2u], 0u);
	}
}

/*
 * Claimed body + completion (4.3 steps 6-8) for the slot at word slot_base
 * whose 16 words the caller loaded into w after winning the claim. Ends
 * with DONE_COUNT += 1, a release fence and the DONE store, so a host that
 * sees DONE sees the results and the counter (PROTOCOL.md 10.3).
 */
MK_FN void mk_exec_claimed(const struct mk_exec *x, uint32_t slot_base,
			   const uint32_t *w)
{
	uint32_t op = w[MK_OPCODE_WORD];

	mk_exec_op(x, slot_base, op, w[MK_ARG0_WORD], w[MK_ARG0_WORD + 1u],
		   w[MK_ARG0_WORD + 2u], w[MK_ARG0_WORD + 3u]);
	if (op == MK_OP_PACKED_SLOT)
		mk_exec_packed(x, slot_base, w);
	mk_ctl_add(x, MK_CTL_DONE_COUNT, 1u);
	/* Pairs with the host's acquire load of the status word. */
	MK_STORE_RELEASE(&x->ring[slot_base + MK_STATUS_WORD],
			 (uint32_t)MK_SLOT_DONE);
}

/*
 * Sharded claim (4.3 steps 3-5), without the shutdown check: returns 1 when
 * this caller won PUBLISHED -> CLAIMED, 0 when the slot is not published,
 * its tenant is disabled (it stays PUBLISHED) or another lane won.
 */
MK_FN int mk_try_claim(const struct mk_exec *x, uint32_t slot_base)
{
	uint32_t *st = &x->ring[slot_base + MK_STATUS_WORD];

	if (MK_ALOAD(st) != MK_SLOT_PUBLISHED)
		return 0;
	if (!mk_tenant_enabled(x, x->ring[slot_base + MK_TENANT_WORD]))
		return 0;
	return MK_ACAS(st, MK_SLOT_PUBLISHED, MK_SLOT_CLAIMED) ==
	       MK_SLOT_PUBLISHED;
}

/* Priority scan's schedulable set (6.3): PUBLISHED, YIELD, REQUEUE. */
MK_FN int mk_prio_schedulable(uint32_t st)
{
	return st == MK_SLOT_PUBLISHED || st == MK_SLOT_YIELD ||
	       st == MK_SLOT_REQUEUE;
}

/*
 * Priority claim of one probed slot (6.3 step 4): returns 1 on a won CAS
 * from the exact schedulable status observed.
 */
MK_FN int mk_prio_try_claim(const struct mk_exec *x, uint32_t slot_base)
{
	uint32_t *st = &x->ring[slot_base + MK_STATUS_WORD];
	uint32_t s = MK_ALOAD(st);

	if (!mk_prio_schedulable(s))
		return 0;
	if (!mk_tenant_enabled(x, x->ring[slot_base + MK_TENANT_WORD]))
		return 0;
	return MK_ACAS(st, s, MK_SLOT_CLAIMED) == s;
}

/* Post-claim accounting of the priority variant (6.3 step 5). */
MK_FN void mk_prio_account(const struct mk_exec *x, uint32_t prio,
			   uint32_t tenant)
{
	if (prio <= MK_PRIORITY_HIGH)
		mk_ctl_add(x, MK_CTL_PRIORITY_STARVATION, 1u);
	else
		mk_ctl_xchg(x, MK_CTL_PRIORITY_STARVATION, 0u);
	mk_ctl_add(x, MK_CTL_TENANT_FAIRNESS_BASE + tenant % 32u, 1u);
	mk_ctl_add(x, MK_CTL_PRIORITY_FAIRNESS_BASE + prio, 1u);
}

/* The offsets words 129..134 (PROTOCOL.md 6.3: read every iteration). */
MK_FN void mk_prio_offsets(const struct mk_exec *x, uint32_t *off)
{
	uint32_t p;

	for (p = 0; p <= MK_PRIORITY_LEVELS; p++)
		off[p] = mk_ctl_load(x, MK_CTL_PRIORITY_OFFSETS_BASE + p);
}

/* Partition of slot s under offsets @off, MK_PRIORITY_LEVELS if none. */
MK_FN uint32_t mk_prio_partition_of(const uint32_t *off, uint32_t s)
{
	uint32_t p;

	for (p = 0; p < MK_PRIORITY_LEVELS; p++)
		if (s >= off[p] && s < off[p + 1u])
			return p;
	return MK_PRIORITY_LEVELS;
}

/* Partition of slot s under the offsets words now. */
MK_FN uint32_t mk_prio_partition(const struct mk_exec *x, uint32_t s)
{
	uint32_t off[MK_PRIORITY_LEVELS + 1u];

	mk_prio_offsets(x, off);
	return mk_prio_partition_of(off, s);
}

#endif /* MK_RUNTIME_INTERP_H */
