/* SPDX-License-Identifier: MIT */
/*
 * runtime/err.h - error records with a "Fix:" hint (SQLite errmsg model).
 *
 * Every failing runtime call returns -errno and, when given a struct mk_err,
 * fills it with "<what happened>. Fix: <what to do>". Callers that do not
 * care pass NULL. Pairs with runtime/err.c.
 */
#ifndef MK_RUNTIME_ERR_H
#define MK_RUNTIME_ERR_H

#include <stddef.h>

#define MK_ERR_MSG_MAX 320

struct mk_err {
	int code;                 /* negative errno, 0 when clear */
	char msg[MK_ERR_MSG_MAX]; /* "...; Fix: ..." or "" */
};

/* Clear @e (NULL-tolerant). */
void mk_err_clear(struct mk_err *e);

/*
 * Record an error: @code is a negative errno, @what and @fix are printf-style
 * pieces joined as "<what>. Fix: <fix>". Returns @code so a failing site is
 * one line: return mk_err_set(e, -EINVAL, "bad x", "use y");
 * @e may be NULL (the code is still returned).
 */
int mk_err_set(struct mk_err *e, int code, const char *what, const char *fix);

/* Same, with a formatted "what" part. */
int mk_err_setf(struct mk_err *e, int code, const char *fix, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));

/* Message of @e, "" when clear or NULL. */
const char *mk_err_msg(const struct mk_err *e);

/* Symbolic name of a positive or negative errno ("EBUSY"), "E?" if unknown. */
const char *mk_errno_name(int code);

#endif /* MK_RUNTIME_ERR_H */
