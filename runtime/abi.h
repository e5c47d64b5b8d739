/* SPDX-License-Identifier: MIT */
/*
 * runtime/abi.h - the wire layout of the vyre megakernel protocol
 * (vyre-runtime 0.6.x, ../shared/spec/PROTOCOL.md sections 1-7).
 *
 * Compiled by gcc (C11) and nvcc (C++): fixed-width integers only, no
 * designated initialisers. Every buffer is an array of little-endian u32
 * words; word i sits at byte 4*i. Nothing here allocates or executes; the
 * semantics live in runtime/interp.h and the encoders in runtime/proto.h.
 */
#ifndef MK_RUNTIME_ABI_H
#define MK_RUNTIME_ABI_H

#include <stdint.h>

#ifdef __cplusplus
#define MK_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define MK_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

/* ---- slots (PROTOCOL.md 3.1) ------------------------------------------ */
#define MK_SLOT_WORDS 16u
#define MK_SLOT_BYTES 64u
#define MK_STATUS_WORD 0u
#define MK_OPCODE_WORD 1u
#define MK_TENANT_WORD 2u
#define MK_PRIORITY_WORD 3u
#define MK_ARG0_WORD 4u
#define MK_ARGS_PER_SLOT (MK_SLOT_WORDS - MK_ARG0_WORD)

/* Slot status word values (PROTOCOL.md 3.2/3.3). */
enum mk_slot_status {
	MK_SLOT_EMPTY = 0,     /* free; host publishes -> PUBLISHED */
	MK_SLOT_PUBLISHED = 1, /* host wrote it, status last; kernel CAS -> CLAIMED */
	MK_SLOT_CLAIMED = 2,   /* a lane owns it; kernel stores DONE when finished */
	MK_SLOT_DONE = 3,      /* executed; host may republish */
	MK_SLOT_WAIT_IO = 4,   /* no built-in path; host-written only */
	MK_SLOT_YIELD = 5,     /* priority variant may reclaim it */
	MK_SLOT_REQUEUE = 6,   /* priority variant may reclaim it */
	MK_SLOT_FAULT = 7      /* no kernel path ever writes it */
};

/* Priority constants (slot word 3 is informational; position decides). */
enum mk_priority {
	MK_PRIORITY_CRITICAL = 0,
	MK_PRIORITY_HIGH = 1,
	MK_PRIORITY_NORMAL = 2,
	MK_PRIORITY_LOW = 3,
	MK_PRIORITY_IDLE = 4
};
#define MK_PRIORITY_LEVELS 5u

/* Wire image of one slot. Transparent: it is wire data. */
struct mk_slot {
	uint32_t status;
	uint32_t opcode;
	uint32_t tenant;
	uint32_t priority;
	uint32_t args[MK_ARGS_PER_SLOT];
};

/* ---- control buffer (PROTOCOL.md 2.1) ------------------------------------ */
#define MK_CTL_SHUTDOWN 0u
#define MK_CTL_DONE_COUNT 1u
#define MK_CTL_TENANT_BASE 2u /* pointer word: mask of t is ctl[ctl[2] + t] */
#define MK_CTL_TENANT_MASK_DEFAULT 3u
#define MK_CTL_TENANT_MASK_SLOTS 29u
#define MK_CTL_TENANT_QUOTA_BASE 32u
#define MK_CTL_TENANT_QUOTA_SLOTS 32u
#define MK_CTL_TENANT_FAIRNESS_BASE 64u
#define MK_CTL_TENANT_FAIRNESS_SLOTS 32u
#define MK_CTL_METRICS_BASE 96u
#define MK_CTL_METRICS_SLOTS 32u
#define MK_CTL_EPOCH 128u
#define MK_CTL_PRIORITY_OFFSETS_BASE 129u
#define MK_CTL_PRIORITY_OFFSETS_SLOTS 6u /* 5 levels + sentinel */
#define MK_CTL_PRIORITY_STARVATION 135u
#define MK_CTL_PRIORITY_FAIRNESS_BASE 136u
#define MK_CTL_PRIORITY_FAIRNESS_SLOTS 5u
#define MK_CTL_OBSERVABLE_BASE 160u
#define MK_CONTROL_MIN_WORDS 160u

#define MK_TENANT_MASK_ALL 0xFFFFFFFFu
#define MK_TENANT_QUOTA_DEFAULT 1000000u
#define MK_STARVATION_THRESHOLD 16u
#define MK_TENANT_FAIRNESS_THRESHOLD 64u /* defined by the reference, never enforced */

/* ---- debug log (PROTOCOL.md 5.10) ---------------------------------------- */
#define MK_DEBUG_CURSOR_WORD 0u
#define MK_DEBUG_RECORDS_BASE 1u
#define MK_DEBUG_RECORD_WORDS 4u
#define MK_DEBUG_RECORD_CAPACITY 64u
#define MK_DEBUG_BUFFER_WORDS (1u + MK_DEBUG_RECORD_CAPACITY * MK_DEBUG_RECORD_WORDS)

/* ---- IO queue (PROTOCOL.md 7.1) ------------------------------------------ */
#define MK_IO_SLOT_WORDS 8u
#define MK_IO_SLOT_COUNT 64u
#define MK_IO_OP_TYPE 0u
#define MK_IO_SRC_HANDLE 1u
#define MK_IO_DST_HANDLE 2u
#define MK_IO_OFFSET_LO 3u
#define MK_IO_OFFSET_HI 4u
#define MK_IO_BYTE_COUNT 5u
#define MK_IO_STATUS 6u
#define MK_IO_TAG 7u
#define MK_IO_OP_READ 1u
#define MK_IO_OP_WRITE 2u
#define MK_IO_OP_FENCE 3u
#define MK_IO_STATUS_OK 0x10u
#define MK_IO_STATUS_ERROR 0x11u

/* ---- caps (PROTOCOL.md 1) ------------------------------------------------ */
#define MK_MAX_OBSERVABLE_SLOTS (0xFFFFFFFFu - 160u)
#define MK_MAX_ENCODED_OBSERVABLE_SLOTS 1048576u
#define MK_MAX_RING_SLOTS (0xFFFFFFFFu / 16u)
#define MK_MAX_ENCODED_RING_SLOTS 1048576u
#define MK_MAX_DEBUG_RECORDS (0xFFFFFFFFu / 4u)
#define MK_MAX_ENCODED_DEBUG_RECORDS 1048576u

/* ---- opcodes (PROTOCOL.md 5.2/5.3) --------------------------------------- */
#define MK_OP_NOP 0x00000000u
#define MK_OP_STORE_U32 0x00000001u
#define MK_OP_ATOMIC_ADD 0x00000002u
#define MK_OP_LOAD_U32 0x00000003u
#define MK_OP_COMPARE_SWAP 0x00000004u
#define MK_OP_MEMCPY 0x00000005u
#define MK_OP_DFA_STEP 0x00000006u
#define MK_OP_BATCH_FENCE 0x00000007u
#define MK_OP_LOAD_MISS 0x0000FFFDu
#define MK_OP_PRINTF 0x0000FFFEu
#define MK_OP_PACKED_SLOT 0x80000001u
#define MK_OP_SHUTDOWN 0xFFFFFFFFu
/* The constants above must agree with the one list, opcodes.def. */
#define MK_OPCODE(NAME, mnem, value, builtin) \
	MK_STATIC_ASSERT(MK_OP_##NAME == (value), "opcodes.def: " #NAME);
#include "runtime/opcodes.def"
#undef MK_OPCODE
#define MK_OP_SYSTEM_MASK 0x80000000u
#define MK_OP_RESERVED_MAX_RANGE_MIN 0x0000FFF0u
#define MK_PACKED_MAX_INNER_OPS 4u /* ARGS_PER_SLOT / 3: what the kernel runs */

/*
 * megafs extension opcodes, in the user range (documented in README.md):
 * MK_OP_SCAN_CHUNK scans a staged file chunk for a pattern set (issue 5).
 */
#define MK_OP_SCAN_CHUNK 0x0000F100u

/* ---- layout pins ---------------------------------------------------------- */
MK_STATIC_ASSERT(sizeof(struct mk_slot) == MK_SLOT_BYTES, "slot is 64 bytes");
MK_STATIC_ASSERT(MK_SLOT_WORDS * 4u == MK_SLOT_BYTES, "slot words");
MK_STATIC_ASSERT(MK_ARGS_PER_SLOT == 12u, "12 args per slot");
MK_STATIC_ASSERT(MK_CTL_TENANT_MASK_DEFAULT + MK_CTL_TENANT_MASK_SLOTS ==
			 MK_CTL_TENANT_QUOTA_BASE,
		 "mask table ends at the quota table");
MK_STATIC_ASSERT(MK_CTL_TENANT_QUOTA_BASE + MK_CTL_TENANT_QUOTA_SLOTS ==
			 MK_CTL_TENANT_FAIRNESS_BASE,
		 "quota table ends at the fairness table");
MK_STATIC_ASSERT(MK_CTL_TENANT_FAIRNESS_BASE + MK_CTL_TENANT_FAIRNESS_SLOTS ==
			 MK_CTL_METRICS_BASE,
		 "metrics follow tenant fairness");
MK_STATIC_ASSERT(MK_CTL_METRICS_BASE + MK_CTL_METRICS_SLOTS == MK_CTL_EPOCH,
		 "epoch follows metrics");
MK_STATIC_ASSERT(MK_CTL_EPOCH + 1u == MK_CTL_PRIORITY_OFFSETS_BASE,
		 "offsets follow epoch");
MK_STATIC_ASSERT(MK_CTL_PRIORITY_OFFSETS_SLOTS == MK_PRIORITY_LEVELS + 1u,
		 "offsets have a sentinel");
MK_STATIC_ASSERT(MK_CTL_PRIORITY_OFFSETS_BASE + MK_CTL_PRIORITY_OFFSETS_SLOTS ==
			 MK_CTL_PRIORITY_STARVATION,
		 "starvation counter follows offsets");
MK_STATIC_ASSERT(MK_CTL_PRIORITY_STARVATION + 1u ==
			 MK_CTL_PRIORITY_FAIRNESS_BASE,
		 "priority fairness follows starvation");
MK_STATIC_ASSERT(MK_CTL_PRIORITY_FAIRNESS_BASE +
				 MK_CTL_PRIORITY_FAIRNESS_SLOTS <=
			 MK_CTL_OBSERVABLE_BASE,
		 "observables after priority fairness");
MK_STATIC_ASSERT(MK_CTL_OBSERVABLE_BASE == MK_CONTROL_MIN_WORDS,
		 "observables start at CONTROL_MIN_WORDS");
MK_STATIC_ASSERT(MK_DEBUG_BUFFER_WORDS == 257u, "257-word debug log");

#endif /* MK_RUNTIME_ABI_H */
