/* SPDX-License-Identifier: MIT */
/*
 * fs/file_readme.c - the README at the root of the mount: the tree and the
 * command grammar in one screen. docs/megafs.1 is the long form.
 */
#include "fs/fs.h"

static const char readme_text[] =
	"megafs - a persistent megakernel as files (man megafs)\n"
	"\n"
	"ring/0 .. ring/%u   rw  one slot each; write a command, read 16 words\n"
	"ring/raw           rw  all slots as binary, %u * 64 bytes; pwrite k*64\n"
	"                       bytes at 64*s publishes s..s+k-1 all-or-nothing\n"
	"                       (1 MiB from an unaligned buffer: a short count)\n"
	"call               rw  private channel per open: write commands, read\n"
	"                       each completed slot line in write order\n"
	"control/metrics    r   \"name value\" per opcode, done_count, epoch, ...\n"
	"control/metrics.prom r the same for Prometheus\n"
	"control/shutdown   rw  1 = stopped; write 1 to stop, 0 to start\n"
	"control/done_count r   control word 1\n"
	"control/epoch      r   control word 128\n"
	"control/status     r   backend, device, state, slots, ... as key=value\n"
	"control/words      r   \"index value\" for every control word\n"
	"control/raw        rw  control words as binary (aligned pwrite of\n"
	"                       host-owned words)\n"
	"control/tenants/T/{mask,quota,fairness}   tenant T = 0..28\n"
	"control/priority/{offsets,starvation,fairness}\n"
	"observables/0 .. observables/%u  rw  control word 160+K, decimal\n"
	"debug/log          r   PRINTF records \"fmt_id arg1 arg2 slot_word\",\n"
	"                       then \"dropped N\"\n"
	"errors             r   the last 64 rejected operations with a Fix: hint\n"
	"patterns/P/        mkdir: a pattern set (rmdir: EBUSY while scanned)\n"
	"  literals   rw  one pattern per line; \\xHH \\n \\t \\r \\0 \\\\ escapes;\n"
	"                 compiled when the file is closed\n"
	"  dfa        rw  binary table: u32 next[states*256], u32 accept[states]\n"
	"  info       r   states= patterns= table_bytes= max_len= set=\n"
	"streams/S/         mkdir: a scan of one file (rmdir cancels it)\n"
	"  source     rw  absolute path, opened at start as the writer\n"
	"  patterns   rw  name of a set in patterns/\n"
	"  chunk_bytes rw 4096..16777216 (4194304)   max_hits rw 0..65536 (1000)\n"
	"  ctl        w   start | cancel\n"
	"  progress   r   state=idle|running|done|failed|cancelled bytes= total=\n"
	"                 percent= gbps= elapsed_s=   (poll: readable unless running)\n"
	"  matches    r   every (pattern, end) match   hits r \"pattern end\" lines,\n"
	"                 then \"dropped K\"            error r  the failure and its Fix:\n"
	"\n"
	"Command (one per write, at offset 0, newline optional):\n"
	"  OPCODE [ARG ...] [tenant=T] [priority=P]\n"
	"  OPCODE: nop store_u32 atomic_add load_u32 compare_swap memcpy dfa_step\n"
	"          batch_fence printf shutdown (any case) or a number\n"
	"  ARG:    up to 12, decimal or 0x hex, u32\n"
	"  packed OP ARG... ; OP ARG... ; ...   (up to 4 inner ops, opcodes < 256)\n"
	"  or exactly 64 bytes: a little-endian slot image, status word 0 or 1\n"
	"\n"
	"Examples:\n"
	"  echo store_u32 7 160 > ring/3; cat ring/3; cat observables/0\n"
	"  exec 3<>call; echo atomic_add 5 161 >&3; head -n1 <&3\n"
	"  mkdir patterns/P streams/S; printf 'GET\\nPOST\\n' > patterns/P/literals\n"
	"  echo /var/log/x.log > streams/S/source; echo P > streams/S/patterns\n"
	"  echo start > streams/S/ctl; cat streams/S/progress streams/S/matches\n"
	"\n"
	"Errors: EBUSY slot not EMPTY/DONE; EINVAL bad command, bad number,\n"
	"reserved opcode, binary length != 64, status word not 0/1, write at an\n"
	"offset != 0; E2BIG more than 12 args; streams: EBUSY running or set in\n"
	"use, ENOENT no such set or file, EACCES source not readable by you.\n"
	"Details: cat errors\n";

int mk_fs_readme_text(struct mk_fs *fs, struct mk_fs_text *out)
{
	uint32_t obs = fs->tree.observables;

	return mk_fs_text_printf(out, readme_text, fs->tree.slots - 1u,
				 fs->tree.slots, obs ? obs - 1u : 0u);
}
