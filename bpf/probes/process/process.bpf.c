// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * process.bpf.c - process lifecycle: exec, exit (of the whole process), the OOM killer's
 * victims, and cgroup v2 directories as they are made (so the agent can name a container's
 * cgroup after it is gone). exec, exit and fork: tp_btf where the kernel has it (cheaper: no
 * tracepoint record is built), else the classic tracepoint; both run in the task's own context.
 * mark_victim and cgroup_mkdir (rare) use the classic tracepoints, whose fields are the same on
 * every kernel (mark_victim's tp_btf arguments changed from a pid to a task).
 */
#include "ksight_common.bpf.h"
#include "process.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

KS_DECLARE_RING(ring);

/*
 * Processes already reported as exited. The threads of a group exit (SIGKILL, exit_group) run
 * do_exit() at the same time: two of them can both find signal->live at 0 once the last
 * decrement is done, so the first to claim (tgid, start) here writes the record.
 */
struct exited_key {
	__u32 tgid;
	__u32 pad;
	__u64 start_ns;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct exited_key);
	__type(value, __u8);
} exited SEC(".maps");

/* Bytes of argv kept per exec (setting [process] args_bytes; at most KS_PROC_ARGS_LEN). */
const volatile __u32 ks_args_bytes = KS_PROC_ARGS_LEN;

KS_ABI_EXPORT(ks_proc_exec_rec);
KS_ABI_EXPORT(ks_proc_exit_rec);
KS_ABI_EXPORT(ks_proc_oom_rec);
KS_ABI_EXPORT(ks_proc_cgroup_rec);
KS_ABI_EXPORT(ks_proc_fork_rec);

/* A __data_loc string of a classic tracepoint record (u32: len << 16 | offset). */
static __always_inline void read_data_loc(void *ctx, __u32 loc, char *dst, __u32 size)
{
	bpf_probe_read_kernel_str(dst, size, ctx + (loc & 0xffff));
}

/* The exec'd process is the current task in both flavors; @filename is a kernel string. */
static __always_inline int on_exec(const char *filename, __u32 old_pid)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct ks_proc_exec_rec *r;
	unsigned long arg_start, arg_end, len;

	if (!ks_current_wanted())
		return 0;
	r = ks_ring_reserve(&ring, sizeof(*r), KS_REC_PROC_EXEC);
	if (!r)
		return 0;
	ks_fill_current_task(&r->task);
	r->ppid = BPF_CORE_READ(t, real_parent, tgid);
	r->uid = (__u32)bpf_get_current_uid_gid();
	r->start_ns = BPF_CORE_READ(t, start_boottime);
	r->old_pid = old_pid;
	r->filename[0] = '\0';
	if (filename)
		bpf_probe_read_kernel_str(r->filename, sizeof(r->filename), filename);
	/* argv of the new image: on its stack, written by this exec, so resident. */
	arg_start = BPF_CORE_READ(t, mm, arg_start);
	arg_end = BPF_CORE_READ(t, mm, arg_end);
	len = arg_end > arg_start ? arg_end - arg_start : 0;
	r->args_truncated = len > ks_args_bytes;
	if (len > ks_args_bytes)
		len = ks_args_bytes;
	r->args_len = 0;
	/* The mask keeps the verifier sure of the bound (KS_PROC_ARGS_LEN is a power of two). */
	if (len > 0 && bpf_probe_read_user(r->args, ((len - 1) & (KS_PROC_ARGS_LEN - 1)) + 1,
					   (void *)arg_start) == 0)
		r->args_len = len;
	ks_ring_submit(&ring, r);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(proc_exec_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	/* tp_btf pointer arguments can be NULL as far as the verifier knows (6.12). */
	return on_exec(bprm ? BPF_CORE_READ(bprm, filename) : NULL, old_pid);
}

SEC("tracepoint/sched/sched_process_exec")
int proc_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	return on_exec((const char *)ctx + (BPF_CORE_READ(ctx, __data_loc_filename) & 0xffff),
		       BPF_CORE_READ(ctx, old_pid));
}

static __always_inline int on_exit(void)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct signal_struct *sig = BPF_CORE_READ(t, signal);
	struct ks_proc_exit_rec *r;
	struct task_struct *leader;
	struct exited_key k = {};
	__u8 one = 1;

	/* do_exit() counted this thread out of signal->live before the tracepoint: 0 = the
	 * process is gone with it. Earlier threads leave without a record. */
	if (BPF_CORE_READ(sig, live.counter) != 0)
		return 0;
	if (!ks_current_wanted())
		return 0;
	k.tgid = bpf_get_current_pid_tgid() >> 32;
	k.start_ns = BPF_CORE_READ(t, group_leader, start_boottime);
	if (bpf_map_update_elem(&exited, &k, &one, BPF_NOEXIST) != 0)
		return 0; /* another thread of it wrote the record */
	r = ks_ring_reserve(&ring, sizeof(*r), KS_REC_PROC_EXIT);
	if (!r)
		return 0;
	ks_fill_current_task(&r->task);
	r->ppid = BPF_CORE_READ(t, real_parent, tgid);
	r->exit_code = BPF_CORE_READ(t, exit_code);
	r->start_ns = k.start_ns;
	r->cpu_ns = BPF_CORE_READ(sig, utime) + BPF_CORE_READ(sig, stime) +
		    BPF_CORE_READ(t, utime) + BPF_CORE_READ(t, stime);
	/* A leader that left before the last thread is a zombie whose time joins signal's only
	 * when it is released, after this. */
	leader = BPF_CORE_READ(t, group_leader);
	if (leader && leader != t)
		r->cpu_ns += BPF_CORE_READ(leader, utime) + BPF_CORE_READ(leader, stime);
	r->oom_victim = BPF_CORE_READ(sig, oom_mm) != NULL;
	__builtin_memset(r->pad, 0, sizeof(r->pad));
	ks_ring_submit(&ring, r);
	return 0;
}

/* The exiting task is the current one (its argument; 6.16+ adds group_dead, not read here). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc_exit_btf)
{
	return on_exit();
}

SEC("tracepoint/sched/sched_process_exit")
int proc_exit(void *ctx)
{
	return on_exit();
}

/*
 * oom:mark_victim runs in the task that ran the OOM killer, not in the victim: the record
 * names the victim by pid (its cgroup comes with its exit record, which the agent joins).
 * Older kernels carry only the pid; newer ones also the victim's comm and memory figures.
 */
SEC("tracepoint/oom/mark_victim")
int proc_oom(struct trace_event_raw_mark_victim *ctx)
{
	struct ks_proc_oom_rec *r;

	r = ks_ring_reserve(&ring, sizeof(*r), KS_REC_PROC_OOM);
	if (!r)
		return 0;
	ks_fill_current_task(&r->trigger);
	r->victim_pid = BPF_CORE_READ(ctx, pid);
	r->flags = 0;
	__builtin_memset(r->victim_comm, 0, sizeof(r->victim_comm));
	r->total_vm_kb = r->anon_rss_kb = r->file_rss_kb = r->shmem_rss_kb = r->pgtables_kb = 0;
	r->uid = 0;
	r->oom_score_adj = 0;
	r->pad = 0;
	if (bpf_core_field_exists(ctx->__data_loc_comm)) {
		read_data_loc(ctx, BPF_CORE_READ(ctx, __data_loc_comm), r->victim_comm,
			      sizeof(r->victim_comm));
		r->flags |= KS_PROC_OOM_COMM;
	}
	if (bpf_core_field_exists(ctx->total_vm)) {
		r->total_vm_kb = BPF_CORE_READ(ctx, total_vm);
		r->anon_rss_kb = BPF_CORE_READ(ctx, anon_rss);
		r->file_rss_kb = BPF_CORE_READ(ctx, file_rss);
		r->shmem_rss_kb = BPF_CORE_READ(ctx, shmem_rss);
		r->pgtables_kb = BPF_CORE_READ(ctx, pgtables);
		r->uid = BPF_CORE_READ(ctx, uid);
		r->oom_score_adj = BPF_CORE_READ(ctx, oom_score_adj);
		r->flags |= KS_PROC_OOM_MEMORY;
	}
	ks_ring_submit(&ring, r);
	return 0;
}

/* Loaded on cgroup v1 hosts only (where a task's container is named by its v1 cgroups, read
 * from /proc while it lives): the agent copies the parent's to the child. */
static __always_inline int on_fork(__u32 child_pid)
{
	struct ks_proc_fork_rec *r;

	if (!ks_current_wanted())
		return 0;
	r = ks_ring_reserve(&ring, sizeof(*r), KS_REC_PROC_FORK);
	if (!r)
		return 0;
	r->parent_tgid = bpf_get_current_pid_tgid() >> 32;
	r->child_pid = child_pid;
	ks_ring_submit(&ring, r);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(proc_fork_btf, struct task_struct *parent, struct task_struct *child)
{
	if (!child)
		return 0;
	/* A new thread shares its process's cgroups: nothing to learn. */
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	return on_fork(BPF_CORE_READ(child, pid));
}

SEC("tracepoint/sched/sched_process_fork")
int proc_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	return on_fork(BPF_CORE_READ(ctx, child_pid));
}

/* cgroup v2 is hierarchy 0 (cgrp_dfl_root); v1 hierarchies are 1..n and are not recorded. */
SEC("tracepoint/cgroup/cgroup_mkdir")
int proc_cgroup_mkdir(struct trace_event_raw_cgroup *ctx)
{
	struct ks_proc_cgroup_rec *r;
	long n;

	if (BPF_CORE_READ(ctx, root) != 0)
		return 0;
	r = ks_ring_reserve(&ring, sizeof(*r), KS_REC_PROC_CGROUP);
	if (!r)
		return 0;
	r->id = BPF_CORE_READ(ctx, id);
	r->level = BPF_CORE_READ(ctx, level);
	n = bpf_probe_read_kernel_str(r->path, sizeof(r->path),
				      (void *)ctx + (BPF_CORE_READ(ctx, __data_loc_path) & 0xffff));
	r->path_len = n > 0 ? n - 1 : 0;
	ks_ring_submit(&ring, r);
	return 0;
}
