/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * gpu.h - the gpu probe's ABI with the agent (see ksight_abi.h rules).
 *
 * Three ring records (printk lines, NVIDIA tracepoint Xids/SXids, DRM
 * scheduler job phases) and one in-kernel aggregation (dma_fence latency per
 * driver + timeline). The agent reads classic tracepoint layouts from tracefs
 * and hands the field offsets to the programs as ks_gpu_*_layout settings.
 */
#ifndef KSIGHT_GPU_H
#define KSIGHT_GPU_H

#include "ksight_abi.h"

#define KS_GPU_LOG_TEXT 512 /* printk bytes kept per line (LOG_LINE_MAX is ~1000) */
#define KS_GPU_TP_MSG 384   /* nvidia/nvswitch tracepoint msg bytes kept */
#define KS_GPU_NAME_LEN 32  /* driver, timeline, ring and device names */
#define KS_GPU_DRIVER_LEN 16
#define KS_GPU_HIST_SLOTS 40 /* log2(ns) buckets: [2^i, 2^(i+1)) ns, last open-ended */

/* An absent field in a ks_gpu_*_layout. */
#define KS_GPU_OFF_NONE 0xffff

/* How a string field of a classic tracepoint is stored. */
enum ks_gpu_str_kind {
	KS_GPU_STR_NONE = 0,
	KS_GPU_STR_DATA_LOC = 1, /* __data_loc char[]: u32, offset in low 16 bits */
	KS_GPU_STR_PTR = 2,	 /* const char *: a kernel pointer (5.10 gpu_scheduler) */
};

/* KS_REC_GPU_LOG flags. */
#define KS_GPU_LOG_TRUNCATED 1u

/* KS_REC_GPU_LOG: one printk line that starts like a GPU driver line. */
struct ks_gpu_log_rec {
	struct ks_rec_hdr hdr;
	struct ks_task task; /* the task on the CPU when the line was logged */
	__u16 len;	     /* bytes of text (no NUL) */
	__u16 flags;	     /* KS_GPU_LOG_* */
	__u32 pad;
	char text[KS_GPU_LOG_TEXT];
};

enum ks_gpu_tp_kind {
	KS_GPU_TP_XID = 1,  /* nvidia:nvidia_dev_xid */
	KS_GPU_TP_SXID = 2, /* nvswitch:nvswitch_dev_sxid */
};

/* KS_REC_GPU_XID_TP: one nvidia_dev_xid / nvswitch_dev_sxid event. */
struct ks_gpu_xid_tp_rec {
	struct ks_rec_hdr hdr;
	struct ks_task task;
	__u32 kind; /* enum ks_gpu_tp_kind */
	__u32 error_code;
	char dev[KS_GPU_NAME_LEN]; /* pci_name(): "0000:3b:00.0" */
	char msg[KS_GPU_TP_MSG];
};

enum ks_gpu_job_phase {
	KS_GPU_JOB_QUEUE = 1, /* drm_sched_job (<= 6.16) / drm_sched_job_queue (>= 6.17) */
	KS_GPU_JOB_RUN = 2,   /* drm_run_job / drm_sched_job_run */
	KS_GPU_JOB_DONE = 3,  /* drm_sched_process_job / drm_sched_job_done */
	KS_GPU_JOB_DEP = 4,   /* drm_sched_job_wait_dep / drm_sched_job_add_dep */
};

/* KS_REC_GPU_JOB: one DRM scheduler event, keyed by the job's finished fence. */
struct ks_gpu_job_rec {
	struct ks_rec_hdr hdr;
	struct ks_task task; /* queue: the submitting task */
	__u64 fence_ctx;
	__u64 fence_seqno;
	__u64 dep_ctx; /* KS_GPU_JOB_DEP: the fence the job depends on */
	__u64 dep_seqno;
	__u64 client_id;    /* DRM client (fdinfo drm-client-id), 6.17+; 0 = unknown */
	__u32 phase;	    /* enum ks_gpu_job_phase */
	__u32 job_count;    /* entity queue length (queue/run), when known */
	__s32 hw_job_count; /* jobs (or credits) on the hardware (queue/run) */
	__u32 pad;
	char ring[KS_GPU_NAME_LEN];	/* scheduler name: "gfx_0.0.0", "sdma0" */
	char dev[KS_GPU_NAME_LEN];	/* dev_name() of the scheduler's device, or "" */
	char driver[KS_GPU_DRIVER_LEN]; /* its driver ("amdgpu"), or "" */
};

/* Key of "fence_stats": a dma_fence driver + timeline. */
struct ks_gpu_fence_key {
	char driver[KS_GPU_NAME_LEN];
	char timeline[KS_GPU_NAME_LEN];
};

/* One latency distribution: cumulative, never reset. */
struct ks_gpu_lat {
	__u64 count;
	__u64 sum_ns;
	__u64 max_ns;
	__u64 hist[KS_GPU_HIST_SLOTS];
};

/* Value of "fence_stats" (BPF_MAP_TYPE_HASH, updated with atomic adds). */
struct ks_gpu_fence_stats {
	struct ks_gpu_lat emit_to_signal; /* dma_fence_emit -> dma_fence_signaled */
	struct ks_gpu_lat init_to_signal; /* dma_fence_init -> dma_fence_signaled */
	struct ks_gpu_lat wait;		  /* dma_fence_wait_start -> dma_fence_wait_end */
};

/*
 * Field offsets of a classic tracepoint record, read by the agent from the
 * event's tracefs "format" file (KS_GPU_OFF_NONE = no such field).
 */
struct ks_gpu_sched_layout {
	__u16 fence_ptr;    /* struct dma_fence *fence: the job's finished fence (<= 6.16) */
	__u16 fence_ctx;    /* u64 fence_context (>= 6.17) */
	__u16 fence_seqno;  /* u64 fence_seqno (>= 6.17) */
	__u16 name;	    /* the scheduler (ring) name */
	__u16 name_kind;    /* enum ks_gpu_str_kind */
	__u16 dev;	    /* __data_loc dev (>= 6.17) */
	__u16 job_count;    /* u32 */
	__u16 hw_job_count; /* int */
	__u16 dep_ctx;	    /* add_dep (>= 6.17): u64 ctx of the dependency */
	__u16 dep_seqno;    /* add_dep (>= 6.17): u64 seqno of the dependency */
	__u16 client_id;    /* u64 client_id (>= 6.17) */
	__u16 pad;
};

struct ks_gpu_xid_layout {
	__u16 dev;	  /* __data_loc dev */
	__u16 error_code; /* u32 */
	__u16 msg;	  /* __data_loc msg */
	__u16 pad;
};

/* A process that exited (its thread-group leader did), in the LRU map "exited" keyed by tgid:
 * an Xid line naming a pid that is already gone is still attributed to its cgroup. */
#define KS_GPU_EXITED_ENTRIES 8192
struct ks_gpu_exited {
	__u64 cgroup_id;
	__u64 start_ns; /* task->start_boottime: a reused pid has a later one */
	__u64 exit_ns;	/* CLOCK_BOOTTIME */
	char comm[KS_COMM_LEN];
};

#endif /* KSIGHT_GPU_H */
