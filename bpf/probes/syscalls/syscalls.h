/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* syscalls.h - the syscall probe's ABI with the agent (see ksight_abi.h rules). */
#ifndef KSIGHT_SYSCALLS_H
#define KSIGHT_SYSCALLS_H

#include "ksight_abi.h"

#define KS_SYSCALL_HIST_SLOTS 40 /* log2(ns) buckets: [2^i, 2^(i+1)) ns, last open-ended */
#define KS_SYSCALL_MAX_ERRNO 4095
#define KS_SYSCALL_WATCH_WORDS 3 /* watched errnos 0..191 as a bitmap */

/* Key of the per-(process, syscall) aggregation maps. */
struct ks_sys_key {
	__u32 tgid;
	__u32 nr;
};

/* Value of "sys_stats" (BPF_MAP_TYPE_PERCPU_HASH): cumulative, never reset. */
struct ks_sys_stats {
	__u64 count;
	__u64 errors;
	__u64 lat_sum_ns;
	__u64 lat_max_ns;
	__u64 hist[KS_SYSCALL_HIST_SLOTS];
	char comm[KS_COMM_LEN]; /* last comm seen for the tgid */
	__u64 cgroup_id;
};

/* Key of "sys_errnos" (BPF_MAP_TYPE_PERCPU_HASH, value __u64 count). */
struct ks_sys_errno_key {
	__u32 tgid;
	__u32 nr;
	__u32 err; /* positive errno */
	__u32 pad;
};

/* KS_REC_SYSCALL: one call worth its own record (slow, or failed with a watched errno). */
struct ks_syscall_rec {
	struct ks_rec_hdr hdr;
	struct ks_task task;
	__u64 args[6];
	__s64 ret;
	__u64 latency_ns;
	__u32 nr;
	__u32 reason; /* KS_SYS_REASON_* bits */
};

#define KS_SYS_REASON_SLOW 1u
#define KS_SYS_REASON_ERRNO 2u

#endif /* KSIGHT_SYSCALLS_H */
