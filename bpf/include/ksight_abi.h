/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ksight_abi.h - the binary interface shared by every BPF probe and the agent.
 *
 * Rules (this header is an ABI, not a convenience):
 *  - C only, fixed-width types, explicit padding, no pointers, no bitfields.
 *  - Every ring-buffer record starts with struct ks_rec_hdr.
 *  - Record type numbers are add-only: never renumber or reuse one.
 *  - Every struct ks_* that lands in a probe's BPF object is checked against
 *    the agent's sizeof/offsetof by tests/unit/abi_test.cc, which reads the
 *    object's BTF (tables in tests/unit/abi/<probe>_abi.cc), so a layout
 *    change fails the unit tests, not the data. A struct used only through
 *    pointers needs KS_ABI_EXPORT() (ksight_common.bpf.h) to be in the BTF.
 *  - Ring records are read through RecordAs() (userspace/core/record.h),
 *    which checks hdr.size and hdr.type first.
 */
#ifndef KSIGHT_ABI_H
#define KSIGHT_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define KS_COMM_LEN 16

/* Ring-buffer record types (add-only). */
enum ks_rec_type {
	KS_REC_SYSCALL = 1,	   /* bpf/probes/syscalls/syscalls.h */
	KS_REC_TCP_RETRANSMIT = 2, /* bpf/probes/tcp_retransmit/tcp_retransmit.h */
	KS_REC_GPU_LOG = 3,	   /* bpf/probes/gpu/gpu.h: a printk line */
	KS_REC_GPU_XID_TP = 4,	   /* bpf/probes/gpu/gpu.h: nvidia tracepoint */
	KS_REC_GPU_JOB = 5,	   /* bpf/probes/gpu/gpu.h: drm_sched job */
	KS_REC_PROC_EXEC = 6,	   /* bpf/probes/process/process.h */
	KS_REC_PROC_EXIT = 7,	   /* bpf/probes/process/process.h */
	KS_REC_PROC_OOM = 8,	   /* bpf/probes/process/process.h: oom:mark_victim */
	KS_REC_PROC_CGROUP = 9,	   /* bpf/probes/process/process.h: cgroup:cgroup_mkdir */
	KS_REC_PROC_FORK = 10,	   /* bpf/probes/process/process.h: sched:sched_process_fork */
};

/* Common header of every ring record: 16 bytes. */
struct ks_rec_hdr {
	__u16 type;  /* enum ks_rec_type */
	__u16 size;  /* whole record, header included */
	__u32 cpu;   /* CPU the event fired on */
	__u64 ts_ns; /* bpf_ktime_get_boot_ns(): CLOCK_BOOTTIME */
};

/* The task an event is attributed to: 32 bytes. */
struct ks_task {
	__u32 pid; /* tgid */
	__u32 tid;
	__u64 cgroup_id;
	char comm[KS_COMM_LEN];
};

/* Key of the comm filter map "ks_filter_comms", written by the agent. */
struct ks_comm_key {
	char comm[KS_COMM_LEN];
};

/*
 * Per-CPU loss counters every probe keeps in its map "ks_counters"
 * (BPF_MAP_TYPE_PERCPU_ARRAY, KS_CNT__MAX entries of __u64).
 *   seen      - records the probe tried to send to user space
 *   ring_full - of those, how many found no room in the ring (dropped)
 *   map_full  - aggregation updates lost because a map was full
 */
enum ks_counter {
	KS_CNT_SEEN = 0,
	KS_CNT_RING_FULL = 1,
	KS_CNT_MAP_FULL = 2,
	KS_CNT__MAX = 8, /* room to grow without changing the map size */
};

#endif /* KSIGHT_ABI_H */
