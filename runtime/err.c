/* SPDX-License-Identifier: MIT */
/*
 * runtime/err.c - error records with a "Fix:" hint; see runtime/err.h.
 */
#include "runtime/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void mk_err_clear(struct mk_err *e)
{
	if (!e)
		return;
	e->code = 0;
	e->msg[0] = '\0';
}

int mk_err_set(struct mk_err *e, int code, const char *what, const char *fix)
{
	int room;

	if (!e)
		return code;
	e->code = code;
	/* A long "what" is cut so that the Fix: hint always survives. */
	room = (int)sizeof(e->msg) - (int)strlen(fix) - 8;
	if (room < 32)
		room = 32;
	if (snprintf(e->msg, sizeof(e->msg), "%.*s. Fix: %s", room, what, fix) < 0)
		e->msg[0] = '\0';
	return code;
}

int mk_err_setf(struct mk_err *e, int code, const char *fix, const char *fmt,
		...)
{
	char what[MK_ERR_MSG_MAX];
	va_list ap;

	if (!e)
		return code;
	va_start(ap, fmt);
	if (vsnprintf(what, sizeof(what), fmt, ap) < 0)
		what[0] = '\0';
	va_end(ap);
	return mk_err_set(e, code, what, fix);
}

const char *mk_err_msg(const struct mk_err *e)
{
	return e ? e->msg : "";
}

const char *mk_errno_name(int code)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
		{ EPERM, "EPERM" },	    { ENOENT, "ENOENT" },
		{ EIO, "EIO" },		    { E2BIG, "E2BIG" },
		{ EBADF, "EBADF" },	    { EAGAIN, "EAGAIN" },
		{ ENOMEM, "ENOMEM" },	    { EACCES, "EACCES" },
		{ EFAULT, "EFAULT" },	    { EBUSY, "EBUSY" },
		{ EEXIST, "EEXIST" },	    { ENODEV, "ENODEV" },
		{ ENOTDIR, "ENOTDIR" },	    { EISDIR, "EISDIR" },
		{ EINVAL, "EINVAL" },	    { ENOSPC, "ENOSPC" },
		{ ESPIPE, "ESPIPE" },	    { EROFS, "EROFS" },
		{ ERANGE, "ERANGE" },	    { ENOSYS, "ENOSYS" },
		{ ENOTEMPTY, "ENOTEMPTY" }, { ENODATA, "ENODATA" },
		{ ETIMEDOUT, "ETIMEDOUT" }, { EOVERFLOW, "EOVERFLOW" },
		{ ESHUTDOWN, "ESHUTDOWN" }, { ECANCELED, "ECANCELED" },
		{ EMSGSIZE, "EMSGSIZE" },   { ENOTSUP, "ENOTSUP" },
		{ ENAMETOOLONG, "ENAMETOOLONG" },
		{ ELOOP, "ELOOP" },
	};
	size_t i;

	if (code < 0)
		code = -code;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == code)
			return names[i].name;
	return "E?";
}
