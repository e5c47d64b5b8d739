/* SPDX-License-Identifier: MIT */
/*
 * runtime/model.h - the deterministic CPU reference model of PROTOCOL.md
 * 4.4 [DECISION]: every lane runs iteration k, in ascending lane order,
 * before any lane starts iteration k + 1. The opcode semantics are the
 * inline functions of runtime/interp.h and nothing else, so this model is
 * the oracle the CUDA parity test compares against. Single-threaded; not a
 * backend (no doorbell, no threads, no IO sidecar). Pairs with
 * runtime/model.c.
 *
 * GPU results can differ from this model wherever slots interact through
 * shared words (SHUTDOWN racing other lanes' first claim, CAS on a shared
 * control word, PRINTF record order, the racy starvation counter): the
 * model fixes one legal interleaving, the GPU may pick another.
 */
#ifndef MK_RUNTIME_MODEL_H
#define MK_RUNTIME_MODEL_H

#include <stdint.h>

#include "runtime/interp.h"

/* Program variants; the values match enum mk_sched of runtime/runtime.h. */
#define MK_MODEL_SHARDED 0  /* lane L owns slot L (4.3) */
#define MK_MODEL_PRIORITY 1 /* partition scan of 6.3 */

/*
 * Run the megakernel over the buffers of @x with @slots lanes (lane count
 * = slot count, as Megakernel's grid gives).
 *
 * Sharded, one lane iteration: shutdown check (control word 0 != 0: the
 * lane returns for good), mk_try_claim() on slot L, copy the slot's 16
 * words, mk_exec_claimed(). Priority: lanes = stride = @slots; a probe per
 * partition p = 0..4 from control words 129..134, skipping CRITICAL/HIGH
 * while the starvation counter (word 135) is >= 16, mk_prio_try_claim(),
 * mk_prio_account(), then a re-check of the tenant mask: 0 leaves the slot
 * CLAIMED forever (6.3 HAZARD). @starvation_fix (priority only) rescans
 * partitions 0-1 in the same iteration when the forced-lower scan found
 * nothing (the opt-in fix of 6.4).
 *
 * Slots beyond the ring (16 * slot + 16 > ring_words) read as EMPTY and are
 * never touched. @once runs exactly one pass; otherwise passes repeat until
 * every lane has returned or @max_iters passes ran.
 *
 * Returns the number of passes run (>= 0; 0 when @slots is 0), -ETIMEDOUT
 * when @max_iters passes ran and some lane is still live, -EINVAL for an
 * unknown @variant or a NULL buffer with a non-zero length, -ENOMEM.
 *
 * Cost: one pass is O(slots) for sane priority offsets. Offsets whose
 * partition is longer than @slots (garbage, or end < start wrapping) make
 * the reference probe up to len/slots times per lane; the model skips such
 * a loop at once when no reachable slot is claimable, else runs it like
 * the reference until the first won claim.
 */
int mk_model_run(struct mk_exec *x, uint32_t slots, int variant, int once,
		 uint32_t max_iters, int starvation_fix);

#endif /* MK_RUNTIME_MODEL_H */
