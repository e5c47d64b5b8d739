/* SPDX-License-Identifier: MIT */
/*
 * fs/file_ctl.c - the control/ files: metrics (plain and Prometheus),
 * shutdown, done_count, epoch, status, words, raw,
 * tenants/T/{mask,quota,fairness} and priority/{offsets,starvation,
 * fairness}. Every read is a fresh look at the control words; every write
 * validates all of its input before it stores anything.
 */
#include "fs/fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cmd.h"
#include "runtime/proto.h"

#define P(...)                                                 \
	do {                                                   \
		int p_rc_ = mk_fs_text_printf(out, __VA_ARGS__); \
		if (p_rc_)                                     \
			return p_rc_;                          \
	} while (0)

static uint32_t word(struct mk_fs *fs, uint32_t idx)
{
	uint32_t v = 0;

	mk_runtime_read_ctl(fs->rt, idx, 1, &v);
	return v;
}

static int metrics_text(struct mk_fs *fs, struct mk_fs_text *out)
{
	uint32_t m[MK_CTL_METRICS_SLOTS], op;
	struct mk_status st;

	mk_runtime_read_ctl(fs->rt, MK_CTL_METRICS_BASE, MK_CTL_METRICS_SLOTS,
			    m);
	mk_runtime_status(fs->rt, &st);
	for (op = 0; op <= MK_OP_BATCH_FENCE; op++)
		P("%s %u\n", mk_proto_op_mnemonic(op), m[op]);
	for (; op < MK_CTL_METRICS_SLOTS; op++)
		if (m[op])
			P("op%u %u\n", op, m[op]);
	P("done_count %u\n", word(fs, MK_CTL_DONE_COUNT));
	P("epoch %u\n", word(fs, MK_CTL_EPOCH));
	P("published %llu\n", (unsigned long long)st.published);
	P("pending %llu\n", (unsigned long long)st.pending);
	return 0;
}

static int prom_family(struct mk_fs_text *out, const char *name,
		       const char *type, const char *help,
		       unsigned long long v)
{
	P("# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type,
	  name, v);
	return 0;
}

static int prom_text(struct mk_fs *fs, struct mk_fs_text *out)
{
	uint32_t m[MK_CTL_METRICS_SLOTS], op;
	struct mk_status st;
	int rc;

	mk_runtime_read_ctl(fs->rt, MK_CTL_METRICS_BASE, MK_CTL_METRICS_SLOTS,
			    m);
	mk_runtime_status(fs->rt, &st);
	P("# HELP megafs_opcode_executions_total Slots executed per opcode "
	  "(control words 96..127; opcodes >= 32 are not metered).\n"
	  "# TYPE megafs_opcode_executions_total counter\n");
	for (op = 0; op < MK_CTL_METRICS_SLOTS; op++) {
		if (op <= MK_OP_BATCH_FENCE)
			P("megafs_opcode_executions_total{opcode=\"%s\"} %u\n",
			  mk_proto_op_mnemonic(op), m[op]);
		else if (m[op])
			P("megafs_opcode_executions_total{opcode=\"op%u\"} %u\n",
			  op, m[op]);
	}
	rc = prom_family(out, "megafs_done_total", "counter",
			 "Slots executed (control word 1, DONE_COUNT).",
			 word(fs, MK_CTL_DONE_COUNT));
	rc = rc ? rc : prom_family(out, "megafs_epoch_total", "counter",
				   "BATCH_FENCE slots executed (control word 128).",
				   word(fs, MK_CTL_EPOCH));
	rc = rc ? rc : prom_family(out, "megafs_published_total", "counter",
				   "Successful slot publishes since the mount.",
				   st.published);
	rc = rc ? rc : prom_family(out, "megafs_pending_slots", "gauge",
				   "Slots published or claimed, not yet done.",
				   st.pending);
	rc = rc ? rc : prom_family(out, "megafs_running", "gauge",
				   "1 while the megakernel runs.",
				   (unsigned long long)st.running);
	rc = rc ? rc : prom_family(out, "megafs_ring_slots", "gauge",
				   "Slots in the ring.", st.slots);
	return rc;
}

static int status_text(struct mk_fs *fs, struct mk_fs_text *out)
{
	struct mk_status st;

	mk_runtime_status(fs->rt, &st);
	P("backend=%s\ndevice=%s\nstate=%s\n", st.backend, st.device,
	  st.running ? "running" : "stopped");
	P("slots=%u\nobservables=%u\ntenants=%u\ndebug_records=%u\n", st.slots,
	  st.observables, st.tenants, st.debug_records);
	P("scheduler=%s\n", fs->scheduler);
	P("published=%llu\ndone=%llu\npending=%llu\nuptime_s=%.3f\n",
	  (unsigned long long)st.published, (unsigned long long)st.done,
	  (unsigned long long)st.pending, st.uptime_s);
	if (st.note[0])
		P("note=%s\n", st.note);
	return 0;
}

static int words_text(struct mk_fs *fs, struct mk_fs_text *out)
{
	uint32_t n = mk_runtime_ctl_words(fs->rt), i, j, chunk;
	uint32_t buf[1024];

	for (i = 0; i < n; i += chunk) {
		chunk = n - i < 1024 ? n - i : 1024;
		mk_runtime_read_ctl(fs->rt, i, chunk, buf);
		for (j = 0; j < chunk; j++)
			P("%u %u\n", i + j, buf[j]);
	}
	return 0;
}

static int list_text(struct mk_fs *fs, struct mk_fs_text *out,
		     uint32_t first, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		P("%u%c", word(fs, first + i), i + 1 < n ? ' ' : '\n');
	return 0;
}

int mk_fs_ctl_text(struct mk_fs *fs, const struct mk_fs_node *n,
		   struct mk_fs_text *out)
{
	switch (n->kind) {
	case MK_FS_CTL_METRICS:
		return metrics_text(fs, out);
	case MK_FS_CTL_PROM:
		return prom_text(fs, out);
	case MK_FS_CTL_STATUS:
		return status_text(fs, out);
	case MK_FS_CTL_WORDS:
		return words_text(fs, out);
	case MK_FS_CTL_SHUTDOWN:
		return mk_fs_text_printf(out, "%d\n",
					 !mk_runtime_running(fs->rt));
	case MK_FS_CTL_DONE_COUNT:
		return list_text(fs, out, MK_CTL_DONE_COUNT, 1);
	case MK_FS_CTL_EPOCH:
		return list_text(fs, out, MK_CTL_EPOCH, 1);
	case MK_FS_TENANT_MASK:
		return mk_fs_text_printf(out, "%u\n",
					 mk_runtime_tenant_mask(fs->rt, n->index));
	case MK_FS_TENANT_QUOTA:
		return list_text(fs, out, MK_CTL_TENANT_QUOTA_BASE + n->index, 1);
	case MK_FS_TENANT_FAIRNESS:
		return list_text(fs, out,
				 MK_CTL_TENANT_FAIRNESS_BASE + n->index, 1);
	case MK_FS_PRIO_OFFSETS:
		return list_text(fs, out, MK_CTL_PRIORITY_OFFSETS_BASE,
				 MK_CTL_PRIORITY_OFFSETS_SLOTS);
	case MK_FS_PRIO_STARVATION:
		return list_text(fs, out, MK_CTL_PRIORITY_STARVATION, 1);
	case MK_FS_PRIO_FAIRNESS:
		return list_text(fs, out, MK_CTL_PRIORITY_FAIRNESS_BASE,
				 MK_CTL_PRIORITY_FAIRNESS_SLOTS);
	default:
		return -EINVAL;
	}
}

static int write_shutdown(struct mk_fs *fs, uint32_t v, struct mk_err *err)
{
	if (v == 1)
		return mk_runtime_stop(fs->rt) ?
			       mk_err_set(err, -EIO,
					  "the kernel faulted while stopping",
					  "see the log; remount to recover") :
			       0;
	if (v == 0)
		return mk_runtime_start(fs->rt, err);
	return mk_err_setf(err, -EINVAL,
			   "write 1 to stop the kernel or 0 to start it",
			   "control/shutdown got %u", v);
}

static int write_offsets(struct mk_fs *fs, const uint32_t *v, int n,
			 struct mk_err *err)
{
	uint32_t slots = mk_runtime_slots(fs->rt);
	int i, rc;

	if (n != (int)MK_CTL_PRIORITY_OFFSETS_SLOTS)
		return mk_err_setf(err, -EINVAL,
				   "write six numbers: the first slot of CRITICAL, HIGH, NORMAL, LOW, IDLE and the end (= slots)",
				   "control/priority/offsets got %d numbers", n);
	for (i = 0; i < n; i++)
		if ((i && v[i] < v[i - 1]) || v[i] > slots)
			return mk_err_setf(err, -EINVAL,
					   "offsets must not decrease and must stay <= slots",
					   "offset %d (%u) is out of order or past %u slots",
					   i, v[i], slots);
	for (i = 0; i < n; i++) {
		rc = mk_runtime_write_ctl(fs->rt,
					  MK_CTL_PRIORITY_OFFSETS_BASE + (uint32_t)i,
					  v[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

int mk_fs_ctl_write(struct mk_fs *fs, const struct mk_fs_node *n,
		    const char *buf, size_t size, struct mk_err *err)
{
	uint32_t v[MK_CTL_PRIORITY_OFFSETS_SLOTS];
	size_t max = n->kind == MK_FS_PRIO_OFFSETS ?
			     MK_CTL_PRIORITY_OFFSETS_SLOTS : 1;
	int cnt;

	cnt = mk_cmd_parse_numbers(buf, size, v, max, err);
	if (cnt == -E2BIG) {
		/* Too many numbers is malformed input here, not an arg limit. */
		err->code = -EINVAL;
		return -EINVAL;
	}
	if (cnt < 0)
		return cnt;
	switch (n->kind) {
	case MK_FS_CTL_SHUTDOWN:
		return write_shutdown(fs, v[0], err);
	case MK_FS_TENANT_MASK:
		return mk_runtime_set_tenant_mask(fs->rt, n->index, v[0], err);
	case MK_FS_TENANT_QUOTA:
		return mk_runtime_write_ctl(fs->rt,
					    MK_CTL_TENANT_QUOTA_BASE + n->index,
					    v[0], err);
	case MK_FS_PRIO_OFFSETS:
		return write_offsets(fs, v, cnt, err);
	default:
		return mk_err_set(err, -EBADF, "this file is read-only",
				  "write to a file with mode 0644");
	}
}

int mk_fs_ctl_raw_read(struct mk_fs *fs, uint64_t off, size_t size,
		       char *dst)
{
	uint64_t total = (uint64_t)mk_runtime_ctl_words(fs->rt) * 4u;
	uint32_t first, n, *w;
	int rc;

	if (off >= total)
		return 0;
	if (size > total - off)
		size = (size_t)(total - off);
	first = (uint32_t)(off / 4u);
	n = (uint32_t)((off + size + 3u) / 4u) - first;
	w = malloc((size_t)n * 4u);
	if (!w)
		return -ENOMEM;
	rc = mk_runtime_read_ctl(fs->rt, first, n, w);
	if (rc == 0) {
		memcpy(dst, (const char *)w + off % 4u, size);
		rc = (int)size;
	}
	free(w);
	return rc;
}

static int raw_check(struct mk_fs *fs, size_t size, uint64_t off,
		     struct mk_err *err)
{
	uint64_t total = (uint64_t)mk_runtime_ctl_words(fs->rt) * 4u, i;

	if (size == 0 || off % 4u || size % 4u)
		return mk_err_setf(err, -EINVAL,
				   "write whole 4-byte words at a 4-byte aligned offset (word i at 4*i)",
				   "control/raw write of %zu bytes at offset %llu is not word-aligned",
				   size, (unsigned long long)off);
	if (off >= total || size > total - off)
		return mk_err_setf(err, -EINVAL,
				   "stay within 4 * (160 + observables) bytes",
				   "control/raw write at offset %llu + %zu runs past %llu bytes",
				   (unsigned long long)off, size,
				   (unsigned long long)total);
	for (i = off / 4u; i < (off + size) / 4u; i++)
		if (!mk_runtime_ctl_host_writable((uint32_t)i))
			return mk_err_setf(err, -EPERM,
					   "leave word 0 to control/shutdown and the kernel's counters (1, 64..128, 136..140) alone",
					   "control word %llu is not host-writable",
					   (unsigned long long)i);
	return 0;
}

int mk_fs_ctl_raw_write(struct mk_fs *fs, const char *buf, size_t size,
			uint64_t off, struct mk_err *err)
{
	uint32_t first = (uint32_t)(off / 4u), n, i, v, *old = NULL;
	int rc;

	rc = raw_check(fs, size, off, err);
	if (rc)
		return rc;
	n = (uint32_t)(size / 4u);
	old = malloc((size_t)n * 4u);
	if (!old)
		return mk_err_set(err, -ENOMEM, "cannot stage the write",
				  "write fewer words per call");
	mk_runtime_read_ctl(fs->rt, first, n, old);
	for (i = 0; i < n; i++) {
		memcpy(&v, buf + 4u * i, 4u);
		rc = mk_runtime_write_ctl(fs->rt, first + i, v, err);
		if (rc)
			break;
	}
	/* Not expected after raw_check; undo so a failed write changes nothing. */
	while (rc && i-- > 0)
		mk_runtime_write_ctl(fs->rt, first + i, old[i], NULL);
	free(old);
	return rc;
}
