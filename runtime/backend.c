/* SPDX-License-Identifier: MIT */
/*
 * runtime/backend.c - the registry of backends; see runtime/backend.h.
 * The cuda entry is the real backend or the stub, chosen by the Makefile.
 */
#include <string.h>

#include "runtime/backend.h"

static const struct mk_backend_ops *const backends[] = {
	&mk_backend_cpu_ops,
	&mk_backend_cuda_ops,
};

const struct mk_backend_ops *mk_backend_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (name && strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}
