/* SPDX-License-Identifier: MIT */
/*
 * runtime/model.c - deterministic CPU reference model (PROTOCOL.md 4.4):
 * the lane loop and the two slot-selection schemes (sharded 4.3, priority
 * 6.3). Every semantic step is a call into runtime/interp.h; this file only
 * decides which lane looks at which slot, and when. See runtime/model.h.
 */
#include "runtime/model.h"

#include <errno.h>
#include <stdlib.h>

/* Per-run state: which lanes have returned. */
struct model {
	struct mk_exec *x;
	uint32_t slots;
	int starvation_fix;
	unsigned char *gone; /* gone[L] != 0 once lane L returned */
	uint32_t live;	     /* lanes not yet returned */
};

/* A slot whose 16 words are all inside the bound ring. */
static int slot_in_ring(const struct mk_exec *x, uint32_t s)
{
	uint64_t end = ((uint64_t)s + 1u) * MK_SLOT_WORDS;

	return end <= x->ring_words;
}

/* 4.3 steps 6-8 / 6.3 step 6 for a slot this lane owns in CLAIMED. */
static void run_claimed(const struct mk_exec *x, uint32_t slot_base)
{
	uint32_t w[MK_SLOT_WORDS];
	uint32_t i;

	for (i = 0; i < MK_SLOT_WORDS; i++)
		w[i] = x->ring[slot_base + i];
	mk_exec_claimed(x, slot_base, w);
}

/* One iteration of the sharded body (4.3 steps 2-8) for lane @lane. */
static void sharded_lane(const struct mk_exec *x, uint32_t lane)
{
	uint32_t base = lane * MK_SLOT_WORDS;

	if (!slot_in_ring(x, lane))
		return; /* out-of-bounds status reads 0: idle */
	if (mk_try_claim(x, base))
		run_claimed(x, base);
}

/*
 * Is any slot that probe sequence s = start + (j mod len) can reach (s < S)
 * claimable right now? Loads only; used to skip long probe loops that
 * cannot claim anything (same result, bounded time).
 */
static int any_claimable(const struct mk_exec *x, uint32_t slots,
			 uint32_t start, uint32_t len)
{
	uint32_t s, st;

	for (s = 0; s < slots; s++) {
		if (s - start >= len || !slot_in_ring(x, s))
			continue;
		st = MK_ALOAD(&x->ring[s * MK_SLOT_WORDS + MK_STATUS_WORD]);
		if (mk_prio_schedulable(st) &&
		    mk_tenant_enabled(x, x->ring[s * MK_SLOT_WORDS +
						 MK_TENANT_WORD]))
			return 1;
	}
	return 0;
}

/*
 * First probe index k (< probes) whose s = start + (plane + k*wst) % len
 * (u32 arithmetic) equals @slot, or UINT64_MAX. T = plane + k*wst stays
 * below len + wst, so t = T mod 2^32 is T, T - len is the only wrap of
 * the modulo, and T >= 2^32 is the only wrap of t: three cases to solve.
 */
static uint64_t first_probe(uint32_t slot, uint32_t start, uint32_t len,
			    uint32_t plane, uint32_t wst, uint32_t probes)
{
	uint64_t r = (uint32_t)(slot - start), best = UINT64_MAX;
	uint64_t cand[3] = { r, r + len, r + 0x100000000ull };
	int i;

	if (r >= len)
		return UINT64_MAX;
	for (i = 0; i < 3; i++) {
		uint64_t k;

		if (cand[i] < plane || (cand[i] - plane) % wst)
			continue;
		k = (cand[i] - plane) / wst;
		if (k >= probes)
			continue;
		/* Check with the exact u32 formula before trusting the case. */
		if ((uint32_t)(start + (uint32_t)(plane + (uint32_t)k * wst) % len) == slot &&
		    k < best)
			best = k;
	}
	return best;
}

/*
 * A probe sequence much longer than the ring (wrapped or nonsense
 * offsets): visit only the probes that land on a claimable slot, in probe
 * order. Probes of other slots only load, so skipping them is exact, and a
 * pass costs O(slots) instead of up to 2^32 (found by fuzz_model).
 */
static int probe_long(const struct mk_exec *x, uint32_t slots, uint32_t start,
		      uint32_t len, uint32_t plane, uint32_t probes,
		      uint32_t *base, uint32_t *tenant)
{
	uint32_t wst = slots ? slots : 1u, s, pick = 0;
	uint64_t best = UINT64_MAX, k;

	for (s = 0; s < slots; s++) {
		uint32_t st;

		if (!slot_in_ring(x, s))
			continue;
		st = MK_ALOAD(&x->ring[s * MK_SLOT_WORDS + MK_STATUS_WORD]);
		if (!mk_prio_schedulable(st) ||
		    !mk_tenant_enabled(x, x->ring[s * MK_SLOT_WORDS +
						  MK_TENANT_WORD]))
			continue; /* its probes would fail: loads only */
		k = first_probe(s, start, len, plane, wst, probes);
		if (k < best) {
			best = k;
			pick = s;
		}
	}
	if (best == UINT64_MAX || !mk_prio_try_claim(x, pick * MK_SLOT_WORDS))
		return 0;
	*base = pick * MK_SLOT_WORDS;
	*tenant = x->ring[*base + MK_TENANT_WORD];
	return 1;
}

/*
 * Probe partition @p for lane @lane (6.3 step 4); u32 wrapping throughout.
 * Returns 1 and fills *base and *tenant on a won claim. Once a slot is claimed
 * the reference's remaining probes are guarded no-ops, so leaving early is
 * the same.
 */
static int probe_partition(const struct mk_exec *x, uint32_t slots,
			   uint32_t lane, uint32_t p, uint32_t *base,
			   uint32_t *tenant)
{
	uint32_t start = mk_ctl_load(x, MK_CTL_PRIORITY_OFFSETS_BASE + p);
	uint32_t end = mk_ctl_load(x, MK_CTL_PRIORITY_OFFSETS_BASE + p + 1u);
	uint32_t len = end - start;
	uint32_t wst = slots ? slots : 1u;
	uint32_t probes = (len + wst - 1u) / wst;
	uint32_t plane = lane % wst, k, s;

	if (len == 0u || plane >= len)
		return 0;
	if (probes > 64u && !any_claimable(x, slots, start, len))
		return 0;
	if (probes > 64u && probes > 2u * slots)
		return probe_long(x, slots, start, len, plane, probes, base,
				  tenant);
	for (k = 0; k < probes; k++) {
		s = start + (plane + k * wst) % len;
		if (s >= slots || !slot_in_ring(x, s))
			continue;
		if (mk_prio_try_claim(x, s * MK_SLOT_WORDS)) {
			*base = s * MK_SLOT_WORDS;
			*tenant = x->ring[*base + MK_TENANT_WORD];
			return 1;
		}
	}
	return 0;
}

/* One iteration of the priority body (6.3 steps 2-6) for lane @lane. */
static void priority_lane(const struct model *m, uint32_t lane)
{
	const struct mk_exec *x = m->x;
	uint32_t base = 0xFFFFFFFFu, prio = 0xFFFFFFFFu, tenant = 0xFFFFFFFFu;
	uint32_t starv = mk_ctl_load(x, MK_CTL_PRIORITY_STARVATION);
	int force_lower = starv >= MK_STARVATION_THRESHOLD;
	int claimed = 0;
	uint32_t p;

	for (p = 0; p < MK_PRIORITY_LEVELS && !claimed; p++) {
		if (force_lower && p <= MK_PRIORITY_HIGH)
			continue;
		claimed = probe_partition(x, m->slots, lane, p, &base, &tenant);
		if (claimed)
			prio = p;
	}
	/* Opt-in fix of the permanent-starvation hazard (6.4). */
	if (m->starvation_fix && force_lower && !claimed) {
		for (p = 0; p <= MK_PRIORITY_HIGH && !claimed; p++) {
			claimed = probe_partition(x, m->slots, lane, p, &base,
						  &tenant);
			if (claimed)
				prio = p;
		}
	}
	if (!claimed)
		return;
	mk_prio_account(x, prio, tenant);
	/* Re-check: a mask cleared since the probe strands the slot CLAIMED. */
	if (mk_tenant_enabled(x, tenant))
		run_claimed(x, base);
}

/* One pass: iteration k of every live lane, ascending lane order. */
static void run_pass(struct model *m, int variant)
{
	uint32_t lane;

	for (lane = 0; lane < m->slots; lane++) {
		if (m->gone[lane])
			continue;
		/* Step 1: the shutdown check comes before anything else. */
		if (mk_ctl_load(m->x, MK_CTL_SHUTDOWN) != 0u) {
			m->gone[lane] = 1;
			m->live--;
			continue;
		}
		if (variant == MK_MODEL_SHARDED)
			sharded_lane(m->x, lane);
		else
			priority_lane(m, lane);
	}
}

int mk_model_run(struct mk_exec *x, uint32_t slots, int variant, int once,
		 uint32_t max_iters, int starvation_fix)
{
	struct model m;
	uint32_t passes = 0;
	int rc;

	if (variant != MK_MODEL_SHARDED && variant != MK_MODEL_PRIORITY)
		return -EINVAL;
	if ((!x->ctl && x->ctl_words) || (!x->ring && x->ring_words) ||
	    (!x->dbg && x->dbg_words))
		return -EINVAL;
	if (slots == 0u)
		return 0;
	m.x = x;
	m.slots = slots;
	m.starvation_fix = starvation_fix;
	m.live = slots;
	m.gone = calloc(slots, 1);
	if (!m.gone)
		return -ENOMEM;
	for (;;) {
		if (once ? passes == 1u : passes == max_iters)
			break;
		run_pass(&m, variant);
		passes++;
		if (m.live == 0u)
			break;
	}
	rc = (once || m.live == 0u) ? (int)(passes > INT32_MAX ? INT32_MAX :
								passes) :
				      -ETIMEDOUT;
	free(m.gone);
	return rc;
}
