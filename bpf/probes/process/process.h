/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* process.h - the process probe's ABI with the agent (see ksight_abi.h rules). */
#ifndef KSIGHT_PROCESS_H
#define KSIGHT_PROCESS_H

#include "ksight_abi.h"

#define KS_PROC_FILENAME_LEN 256    /* the exec'd path, NUL-terminated, truncated */
#define KS_PROC_ARGS_LEN 256	    /* argv, NUL-separated, truncated */
#define KS_PROC_CGROUP_PATH_LEN 448 /* a kubelet systemd path is ~190 bytes */

/* KS_REC_PROC_EXEC: a successful execve (sched:sched_process_exec). 584 bytes. */
struct ks_proc_exec_rec {
	struct ks_rec_hdr hdr;		     /* 0 */
	struct ks_task task;		     /* 16: comm is the new one */
	__u32 ppid;			     /* 48: real parent's tgid */
	__u32 uid;			     /* 52 */
	__u64 start_ns;			     /* 56: the process's start (CLOCK_BOOTTIME) */
	__u32 old_pid;			     /* 64: the exec'ing thread's pid before exec */
	__u16 args_len;			     /* 68: bytes of args used */
	__u16 args_truncated;		     /* 70: 1 when argv was longer than KS_PROC_ARGS_LEN */
	char filename[KS_PROC_FILENAME_LEN]; /* 72 */
	char args[KS_PROC_ARGS_LEN];	     /* 328 */
};

/* KS_REC_PROC_EXIT: the last thread of a process exited (sched:sched_process_exit). 80 bytes. */
struct ks_proc_exit_rec {
	struct ks_rec_hdr hdr; /* 0 */
	struct ks_task task;   /* 16: pid = tgid, tid = the last thread */
	__u32 ppid;	       /* 48 */
	__u32 exit_code;       /* 52: wait status: code << 8 | core 0x80 | signal */
	__u64 start_ns;	       /* 56: CLOCK_BOOTTIME */
	__u64 cpu_ns;	       /* 64: user + system time of all its threads */
	__u8 oom_victim;       /* 72: 1 when the OOM killer chose it (signal->oom_mm set) */
	__u8 pad[7];	       /* 73 */
};

/* Which fields of a ks_proc_oom_rec the kernel's oom:mark_victim carried. */
enum ks_proc_oom_flags {
	KS_PROC_OOM_MEMORY = 1, /* total_vm .. pgtables, uid, oom_score_adj (newer kernels) */
	KS_PROC_OOM_COMM = 2,	/* victim_comm */
};

/* KS_REC_PROC_OOM: the OOM killer marked a victim (oom:mark_victim). 120 bytes. */
struct ks_proc_oom_rec {
	struct ks_rec_hdr hdr;	       /* 0 */
	struct ks_task trigger;	       /* 16: the task whose allocation ran the OOM killer */
	__u32 victim_pid;	       /* 48 */
	__u32 flags;		       /* 52: enum ks_proc_oom_flags */
	char victim_comm[KS_COMM_LEN]; /* 56 */
	__u64 total_vm_kb;	       /* 72 */
	__u64 anon_rss_kb;	       /* 80 */
	__u64 file_rss_kb;	       /* 88 */
	__u64 shmem_rss_kb;	       /* 96 */
	__u64 pgtables_kb;	       /* 104 */
	__u32 uid;		       /* 112 */
	__s16 oom_score_adj;	       /* 116 */
	__u16 pad;		       /* 118 */
};

/* KS_REC_PROC_CGROUP: a cgroup v2 directory was made (cgroup:cgroup_mkdir). 480 bytes. */
struct ks_proc_cgroup_rec {
	struct ks_rec_hdr hdr;		    /* 0 */
	__u64 id;			    /* 16: the cgroup id (bpf_get_current_cgroup_id's) */
	__u32 level;			    /* 24 */
	__u32 path_len;			    /* 28: bytes in path, without the NUL */
	char path[KS_PROC_CGROUP_PATH_LEN]; /* 32: relative to the v2 root */
};

/* KS_REC_PROC_FORK: a task was forked (sched:sched_process_fork), on cgroup v1 hosts only: the
 * child inherits its parent's cgroups, which the agent can then name after the child is gone.
 * 24 bytes. */
struct ks_proc_fork_rec {
	struct ks_rec_hdr hdr; /* 0 */
	__u32 parent_tgid;     /* 16 */
	__u32 child_pid;       /* 20: a process or a thread (the classic tracepoint does not say) */
};

#endif /* KSIGHT_PROCESS_H */
