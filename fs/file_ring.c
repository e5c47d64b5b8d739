/* SPDX-License-Identifier: MIT */
/*
 * fs/file_ring.c - slot files ring/N and the binary window ring/raw.
 * A write is one text command (runtime/cmd.h) or exactly one 64-byte
 * slot image; both publish through mk_runtime_publish_images(), which
 * validates everything before it changes anything. Reads are live.
 */
#include "fs/fs.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cmd.h"

/* A byte no text command contains (status words 0/1 always have NULs). */
static int has_binary(const char *buf, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == 0 || c >= 0x80 ||
		    (c < 0x20 && c != '\t' && c != '\n' && c != '\r'))
			return 1;
	}
	return 0;
}

int mk_fs_decode_write(const char *buf, size_t size, struct mk_slot *img,
		       struct mk_err *err)
{
	struct mk_cmd cmd;
	int rc;

	/* The image's words are checked where it is published (runtime). */
	if (size == MK_SLOT_BYTES && has_binary(buf, size)) {
		memcpy(img, buf, MK_SLOT_BYTES);
		return 0;
	}
	if (has_binary(buf, size))
		return mk_err_setf(err, -EINVAL,
				   "write exactly 64 bytes (one little-endian slot image) per write, or a text command; use ring/raw for many images",
				   "binary write of %zu bytes is not one 64-byte slot image",
				   size);
	rc = mk_cmd_parse(buf, size, &cmd, err);
	if (rc)
		return rc;
	mk_cmd_to_slot(&cmd, img);
	return 0;
}

int mk_fs_slot_text(struct mk_fs *fs, uint32_t slot, struct mk_fs_text *out)
{
	char line[MK_CMD_SLOT_LINE_MAX];
	struct mk_slot s;
	int rc;

	rc = mk_runtime_read_slot(fs->rt, slot, &s);
	if (rc)
		return rc;
	rc = mk_cmd_format_slot(&s, line, sizeof(line));
	if (rc < 0)
		return rc;
	return mk_fs_text_printf(out, "%s", line);
}

int mk_fs_slot_write(struct mk_fs *fs, uint32_t slot, const char *buf,
		     size_t size, struct mk_err *err)
{
	struct mk_slot img;
	int rc;

	rc = mk_fs_decode_write(buf, size, &img, err);
	if (rc)
		return rc;
	return mk_runtime_publish_images(fs->rt, slot, &img, 1, err);
}

unsigned mk_fs_slot_revents(struct mk_fs *fs, uint32_t slot)
{
	struct mk_slot s;
	unsigned rev = 0;

	if (mk_runtime_read_slot(fs->rt, slot, &s))
		return POLLERR;
	if (s.status == MK_SLOT_DONE)
		rev |= POLLIN | POLLRDNORM;
	if (s.status == MK_SLOT_DONE || s.status == MK_SLOT_EMPTY)
		rev |= POLLOUT | POLLWRNORM;
	return rev;
}

int mk_fs_ring_raw_read(struct mk_fs *fs, uint64_t off, size_t size,
			char *dst)
{
	uint64_t total = (uint64_t)mk_runtime_slots(fs->rt) * MK_SLOT_BYTES;
	size_t done = 0;

	if (off >= total)
		return 0;
	if (size > total - off)
		size = (size_t)(total - off);
	while (done < size) {
		uint64_t pos = off + done;
		size_t in = (size_t)(pos % MK_SLOT_BYTES), n;
		struct mk_slot s;
		int rc;

		rc = mk_runtime_read_slot(fs->rt, (uint32_t)(pos / MK_SLOT_BYTES),
					  &s);
		if (rc)
			return rc;
		n = MK_SLOT_BYTES - in;
		if (n > size - done)
			n = size - done;
		memcpy(dst + done, (const char *)&s + in, n);
		done += n;
	}
	return (int)done;
}

/*
 * The kernel cuts a direct_io write at max_pages pages of the caller's
 * buffer: 1 MiB from a buffer that does not start on a page boundary
 * arrives as a first piece of 1 MiB minus the buffer's page offset, rarely
 * a multiple of 64, then the rest. Such a first piece publishes its whole
 * images and answers with a short count, so the kernel returns that count
 * to pwrite(2) and never sends the rest: the caller (like any caller of
 * write on a pipe or socket) writes the remainder, starting with the cut
 * image. Any other length that is not a multiple of 64 is EINVAL.
 */
static int split_piece(size_t size, uint64_t off)
{
	return off % MK_SLOT_BYTES == 0 && size % MK_SLOT_BYTES &&
	       size > MK_FS_MAX_WRITE - MK_FS_PAGE && size < MK_FS_MAX_WRITE;
}

/*
 * Returns the number of bytes taken (size, or less for a split piece).
 * The range is checked and claimed here; its lines are written by
 * mk_fs_ring_raw_finish(), after ops.c has answered the write, so the
 * writer's next write crosses FUSE while these lines are written. Host
 * reads of the range wait for the lines (runtime.h, publish_begin), so
 * nothing a user can read shows the difference. MK_RAW_SYNC=1 writes the
 * lines before the answer (the measured alternative, docs/BENCH.md).
 */
int mk_fs_ring_raw_write(struct mk_fs *fs, const char *buf, size_t size,
			 uint64_t off, struct mk_fs_raw *raw,
			 struct mk_err *err)
{
	uint32_t slots = mk_runtime_slots(fs->rt), first, count;
	const struct mk_slot *img;
	int rc;

	memset(raw, 0, sizeof(*raw));
	if (split_piece(size, off))
		size -= size % MK_SLOT_BYTES;
	if (size == 0 || off % MK_SLOT_BYTES || size % MK_SLOT_BYTES)
		return mk_err_setf(err, -EINVAL,
				   "write whole 64-byte slot images at an offset that is a multiple of 64 (slot s at 64*s)",
				   "ring/raw write of %zu bytes at offset %llu is not slot-aligned",
				   size, (unsigned long long)off);
	if (off / MK_SLOT_BYTES >= slots ||
	    size / MK_SLOT_BYTES > slots - off / MK_SLOT_BYTES)
		return mk_err_setf(err, -EINVAL,
				   "keep offset/64 + length/64 within the ring's slots (see control/status)",
				   "ring/raw write of %zu bytes at offset %llu runs past the %u-slot ring",
				   size, (unsigned long long)off, slots);
	first = (uint32_t)(off / MK_SLOT_BYTES);
	count = (uint32_t)(size / MK_SLOT_BYTES);
	img = (const struct mk_slot *)(const void *)buf;
	if ((uintptr_t)buf % _Alignof(struct mk_slot)) {
		raw->copy = malloc(size);
		if (!raw->copy)
			return mk_err_set(err, -ENOMEM,
					  "cannot copy the slot images",
					  "write fewer slots per call");
		memcpy(raw->copy, buf, size);
		img = raw->copy;
	}
	rc = mk_runtime_publish_begin(fs->rt, first, img, count, &raw->pub, err);
	if (rc) {
		free(raw->copy);
		raw->copy = NULL;
		return rc;
	}
	if (fs->raw_late)
		mk_fs_ring_raw_finish(fs, raw);
	return (int)size;
}

void mk_fs_ring_raw_finish(struct mk_fs *fs, struct mk_fs_raw *raw)
{
	mk_runtime_publish_end(fs->rt, &raw->pub);
	free(raw->copy);
	raw->copy = NULL;
}
