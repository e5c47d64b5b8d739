/* SPDX-License-Identifier: MIT */
/*
 * fs/file_obs.c - observables/K (control word 160 + K, read and host
 * write) and debug/log (the PRINTF records, decoded with the clamping
 * decoder so an overflowed log still reads, plus its dropped count).
 */
#include "fs/fs.h"

#include <errno.h>
#include <stdlib.h>

#include "runtime/cmd.h"
#include "runtime/proto.h"

int mk_fs_obs_text(struct mk_fs *fs, uint32_t k, struct mk_fs_text *out)
{
	uint32_t v = 0;
	int rc;

	rc = mk_runtime_read_ctl(fs->rt, MK_CTL_OBSERVABLE_BASE + k, 1, &v);
	if (rc)
		return rc;
	return mk_fs_text_printf(out, "%u\n", v);
}

int mk_fs_obs_write(struct mk_fs *fs, uint32_t k, const char *buf,
		    size_t size, struct mk_err *err)
{
	uint32_t v;
	int rc;

	rc = mk_cmd_parse_numbers(buf, size, &v, 1, err);
	if (rc == -E2BIG) {
		err->code = -EINVAL;
		return -EINVAL;
	}
	if (rc < 0)
		return rc;
	return mk_runtime_write_ctl(fs->rt, MK_CTL_OBSERVABLE_BASE + k, v, err);
}

int mk_fs_debug_text(struct mk_fs *fs, struct mk_fs_text *out)
{
	uint32_t nwords = mk_runtime_debug_words(fs->rt), dropped = 0;
	size_t cap = (nwords - 1u) / MK_DEBUG_RECORD_WORDS, n = 0, i;
	struct mk_debug_record *rec = NULL;
	uint32_t *w = NULL;
	int rc = -ENOMEM;

	w = malloc((size_t)nwords * 4u);
	rec = malloc((cap ? cap : 1) * sizeof(*rec));
	if (!w || !rec)
		goto out_free;
	rc = mk_runtime_read_debug(fs->rt, w, nwords);
	if (rc)
		goto out_free;
	rc = mk_proto_read_debug_log_clamped(w, (size_t)nwords * 4u, rec, cap,
					     &n, &dropped, NULL);
	for (i = 0; i < n && rc == 0; i++)
		rc = mk_fs_text_printf(out, "%u %u %u %u\n", rec[i].fmt_id,
				       rec[i].args[0], rec[i].args[1],
				       rec[i].args[2]);
	if (rc == 0)
		rc = mk_fs_text_printf(out, "dropped %u\n", dropped);
out_free:
	free(rec);
	free(w);
	return rc;
}
