/* SPDX-License-Identifier: MIT */
/*
 * tests/t_cuda.h - helpers of the GPU suites (check_backend_cuda,
 * check_parity): probe for a usable CUDA device without creating a context
 * in a process Check will fork, and a plain sleep.
 */
#ifndef MK_TESTS_T_CUDA_H
#define MK_TESTS_T_CUDA_H

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/backend.h"

/* 1 when the cuda backend probes fine; probed in a child when Check forks. */
static inline int t_cuda_present(void)
{
	const char *fork_mode = getenv("CK_FORK");
	struct mk_err e;
	pid_t pid;
	int st = 0;

	/* Without forks (CK_FORK=no, compute-sanitizer) probing here is safe. */
	if (fork_mode && strcmp(fork_mode, "no") == 0)
		return mk_backend_cuda_ops.probe(&e) == 0;
	pid = fork();
	if (pid == 0) {
		struct mk_err err;

		mk_err_clear(&err);
		_exit(mk_backend_cuda_ops.probe(&err) == 0 ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static inline void t_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

#endif /* MK_TESTS_T_CUDA_H */
