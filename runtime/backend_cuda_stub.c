/* SPDX-License-Identifier: MIT */
/*
 * runtime/backend_cuda_stub.c - the "cuda" backend when megafs was built
 * without nvcc (CUDA=0 or nvcc absent): every entry reports -ENODEV with a
 * Fix: hint, so backend=auto falls back to cpu and backend=cuda fails
 * clearly. The real backend is runtime/backend_cuda.c.
 */
#include <errno.h>

#include "runtime/backend.h"

static int stub_probe(struct mk_err *err)
{
	return mk_err_set(err, -ENODEV,
			  "megafs was built without CUDA (nvcc not found at build time)",
			  "rebuild with nvcc on PATH (make CUDA=1), or use backend=cpu");
}

static int stub_create(const struct mk_backend_params *p,
		       const uint32_t *init_ctl, struct mk_backend **out,
		       struct mk_buffers *bufs, struct mk_err *err)
{
	(void)p;
	(void)init_ctl;
	(void)out;
	(void)bufs;
	return stub_probe(err);
}

const struct mk_backend_ops mk_backend_cuda_ops = {
	.name = "cuda",
	.probe = stub_probe,
	.create = stub_create,
};
