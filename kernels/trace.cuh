/* SPDX-License-Identifier: MIT */
/*
 * kernels/trace.cuh - the megakernel's measurement aid: with
 * MK_CUDA_TRACE=1, the executor's per-stage cycle sums of the round trip
 * (SQ read, hand-off, tenant load, fence, DONE), published as means in the
 * host page every 256 entries and shown by describe() (docs/BENCH.md
 * "Round trip stages"). Included once, by kernels/megakernel.cu, after
 * kernels/poll.cuh (struct handoff), for the executor.
 */
/* MK_CUDA_TRACE: per-stage cycle sums, published as means every 256. */
struct trace {
	unsigned long long seen, exec, done, ten, fence;
	uint32_t n;
};

static __device__ void trace_add(const mk_cuda_kargs &a, volatile handoff *hf,
				 struct trace *tr, long long t0)
{
	if (lane_id() != 0)
		return;
	tr->seen += sh_ld(&hf->t_seen) - sh_ld(&hf->t_issue);
	tr->exec += (uint32_t)t0 - sh_ld(&hf->t_seen);
	tr->done += clock64() - t0;
	tr->ten += g_tr_ten - t0;
	tr->fence += g_tr_f1 - g_tr_f0;
	if (++tr->n < 256u)
		return;
	st_vol(&a.hpage->tr_ten, (uint32_t)(tr->ten / tr->n));
	st_vol(&a.hpage->tr_fence, (uint32_t)(tr->fence / tr->n));
	tr->ten = tr->fence = 0;
	st_vol(&a.hpage->tr_seen, (uint32_t)(tr->seen / tr->n));
	st_vol(&a.hpage->tr_exec, (uint32_t)(tr->exec / tr->n));
	st_vol(&a.hpage->tr_done, (uint32_t)(tr->done / tr->n));
	st_vol(&a.hpage->tr_n, a.hpage->tr_n + tr->n);
	tr->seen = tr->exec = tr->done = 0;
	tr->n = 0;
}
