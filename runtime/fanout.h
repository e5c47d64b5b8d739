/* SPDX-License-Identifier: MIT */
/*
 * runtime/fanout.h - a few helper threads that run the parts of one large
 * host-side job at once: the runtime splits a big range publish (a 1 MiB
 * ring/raw write is 16,384 slots) into contiguous parts, so the status
 * checks and line copies of a ring the GPU reads across PCIe proceed on
 * several cores instead of one. Host-only; runtime/fanout.c.
 *
 * Each helper has its own mailbox (a sequence word it sleeps on and a done
 * word), so a job never touches an idle helper's state and never waits on
 * a helper it did not give a part to.
 */
#ifndef MK_RUNTIME_FANOUT_H
#define MK_RUNTIME_FANOUT_H

#include <stdint.h>

#define MK_FANOUT_MAX 8u /* helpers */

struct mk_fanout;

/* Part @part of @parts of the job @arg. */
typedef void (*mk_fanout_fn)(void *arg, uint32_t part, uint32_t parts);

/* 0 and *out, or -EINVAL (helpers 0 or > MK_FANOUT_MAX) / -errno. */
int mk_fanout_create(uint32_t helpers, struct mk_fanout **out);
/* Stops and joins the helpers. NULL is a no-op. */
void mk_fanout_destroy(struct mk_fanout *f);
/* Helpers + 1: the most parts one job can have. */
uint32_t mk_fanout_width(const struct mk_fanout *f);
/*
 * Run fn(arg, i, parts) for every i < parts (2 <= parts <= width), part 0
 * on the calling thread; returns when every part has returned, their
 * stores visible to the caller. Returns 0, or -EBUSY without running
 * anything when another thread's job holds the helpers (run it serially).
 */
int mk_fanout_run(struct mk_fanout *f, mk_fanout_fn fn, void *arg,
		  uint32_t parts);

#endif /* MK_RUNTIME_FANOUT_H */
