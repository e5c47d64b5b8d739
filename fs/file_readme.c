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
	"\n"
	"Errors: EBUSY slot not EMPTY/DONE; EINVAL bad command, bad number,\n"
	"reserved opcode, binary length != 64, status word not 0/1, write at an\n"
	"offset != 0; E2BIG more than 12 args. Details: cat errors\n";

int mk_fs_readme_text(struct mk_fs *fs, struct mk_fs_text *out)
{
	uint32_t obs = fs->tree.observables;

	return mk_fs_text_printf(out, readme_text, fs->tree.slots - 1u,
				 fs->tree.slots, obs ? obs - 1u : 0u);
}
