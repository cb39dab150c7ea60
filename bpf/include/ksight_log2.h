/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ksight_log2.h - the log2 histogram slot rule, shared as source by the BPF
 * programs (which fill the histograms) and the agent (which reads them), so
 * the rule exists once and its unit test (tests/unit/log2_test.cc) tests the
 * code the BPF programs run.
 *
 * Valid C for the BPF target and for the host (C and C++): fixed-width types,
 * no BPF helpers, no casts, no libc.
 *
 * Slot i counts values in [2^i, 2^(i+1)); slot 0 counts [0, 2); the last slot
 * (nslots - 1) is open-ended.
 */
#ifndef KSIGHT_LOG2_H
#define KSIGHT_LOG2_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* floor(log2(v)) capped at nslots - 1 (nslots >= 1); v == 0 and v == 1 land in slot 0. */
static inline __attribute__((always_inline)) __u32 ks_log2_slot(__u64 v, __u32 nslots)
{
	__u32 r = 0;

	if (v >= (1ULL << 32)) {
		v >>= 32;
		r += 32;
	}
	if (v >= (1ULL << 16)) {
		v >>= 16;
		r += 16;
	}
	if (v >= (1ULL << 8)) {
		v >>= 8;
		r += 8;
	}
	if (v >= (1ULL << 4)) {
		v >>= 4;
		r += 4;
	}
	if (v >= (1ULL << 2)) {
		v >>= 2;
		r += 2;
	}
	if (v >= (1ULL << 1))
		r += 1;
	return r < nslots ? r : nslots - 1;
}

/*
 * The smallest value slot @slot holds (slot < 64): 0 for slot 0, else 2^slot.
 * Its largest (unless it is the last, open-ended slot) is
 * ks_log2_slot_min(slot + 1) - 1.
 */
static inline __attribute__((always_inline)) __u64 ks_log2_slot_min(__u32 slot)
{
	return slot == 0 ? 0 : 1ULL << slot;
}

#endif /* KSIGHT_LOG2_H */
