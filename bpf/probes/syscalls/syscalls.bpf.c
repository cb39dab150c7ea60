// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * syscalls - per-(process, syscall) counts, errors and latency aggregated in
 * the kernel, plus one ring record per slow call or failed call with a
 * watched errno.
 *
 * Hooks: raw_syscalls:sys_enter / sys_exit, as tp_btf (BTF-typed raw
 * tracepoints, cheapest) keeping the call's start in task storage (5.11+),
 * or as classic tracepoints with a tid-keyed hash where those cannot load.
 * The agent picks one pair at start with bpf_program__set_autoload().
 */
#include "ksight_common.bpf.h"
#include "syscalls.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Ring records: only used through pointers (see KS_ABI_EXPORT). */
KS_ABI_EXPORT(ks_syscall_rec);

#if defined(__TARGET_ARCH_x86)
#define KS_NR_EXIT 60
#define KS_NR_EXIT_GROUP 231
#elif defined(__TARGET_ARCH_arm64)
#define KS_NR_EXIT 93
#define KS_NR_EXIT_GROUP 94
#endif

const volatile __u64 slow_ns = 100ULL * 1000 * 1000;
const volatile bool record_errnos = false;
const volatile __u64 watch_errnos[KS_SYSCALL_WATCH_WORDS] = {};
/*
 * CLOCK_BOOTTIME - CLOCK_MONOTONIC, kept current by the agent (it changes
 * only across a suspend): turns a call's monotonic start into the boot-clock
 * time of its record without a third clock read per record.
 */
__u64 mono_to_boot_ns = 0;

/* Start of the call in flight, per thread. */
struct sys_start {
	__u64 ts; /* bpf_ktime_get_ns(): cheaper than the boot clock, and only differences are used
		   */
	__u64 args[6];
	__u64 nr;
};

/* tp_btf flavour (5.11+): per-task storage, no hash lock and no delete per call. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sys_start);
} starts_task SEC(".maps");

/* Classic tracepoint flavour: a hash keyed by tid. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768); /* threads in a syscall at once; sized by the agent */
	__type(key, __u32);
	__type(value, struct sys_start);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384); /* sized by the agent */
	__type(key, struct ks_sys_key);
	__type(value, struct ks_sys_stats);
} sys_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ks_sys_errno_key);
	__type(value, __u64);
} sys_errnos SEC(".maps");

KS_DECLARE_RING(ring);

/* Zero-initialised template for new sys_stats entries (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ks_sys_stats);
} stats_zero SEC(".maps");

static __always_inline bool errno_watched(__u32 err)
{
	__u64 bits;

	/* Constant indices only: the verifier cannot bound err / 64 here. */
	if (!record_errnos)
		return false;
	if (err < 64)
		bits = watch_errnos[0];
	else if (err < 128)
		bits = watch_errnos[1];
	else if (err < 192)
		bits = watch_errnos[2];
	else
		return false;
	return (bits >> (err & 63)) & 1;
}

static __always_inline int on_enter(__u64 nr, const __u64 *args, bool use_task)
{
	struct sys_start st, *ts;
	__u32 tid;

	/* exit and exit_group never return: a start entry would leak. */
	if (nr == KS_NR_EXIT || nr == KS_NR_EXIT_GROUP)
		return 0;
	if (!ks_current_wanted())
		return 0;
	if (use_task) {
		ts = bpf_task_storage_get(&starts_task, bpf_get_current_task_btf(), 0,
					  BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!ts)
			return 0;
		ts->nr = nr;
		__builtin_memcpy(ts->args, args, sizeof(ts->args));
		ts->ts = bpf_ktime_get_ns(); /* last: non-zero marks "in a call" */
		return 0;
	}
	tid = (__u32)bpf_get_current_pid_tgid();
	st.ts = bpf_ktime_get_ns();
	st.nr = nr;
	__builtin_memcpy(st.args, args, sizeof(st.args));
	bpf_map_update_elem(&starts, &tid, &st, BPF_ANY);
	return 0;
}

static __always_inline int on_exit(__s64 ret, bool use_task)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct ks_sys_key key;
	struct ks_sys_stats *s;
	struct sys_start *st;
	__u64 now, lat;
	__u32 err = 0;

	if (use_task)
		st = bpf_task_storage_get(&starts_task, bpf_get_current_task_btf(), 0, 0);
	else
		st = bpf_map_lookup_elem(&starts, &tid);
	if (!st || !st->ts)
		return 0; /* filtered at enter, or the call began before we attached */
	now = bpf_ktime_get_ns();
	lat = now - st->ts;
	key.tgid = pid_tgid >> 32;
	key.nr = (__u32)st->nr;
	if (ret < 0 && ret >= -KS_SYSCALL_MAX_ERRNO)
		err = (__u32)-ret;

	s = bpf_map_lookup_elem(&sys_stats, &key);
	if (!s) {
		__u32 zero = 0;
		struct ks_sys_stats *z = bpf_map_lookup_elem(&stats_zero, &zero);

		if (z) {
			bpf_get_current_comm(z->comm, sizeof(z->comm));
			z->cgroup_id = bpf_get_current_cgroup_id();
			if (bpf_map_update_elem(&sys_stats, &key, z, BPF_NOEXIST) &&
			    bpf_map_lookup_elem(&sys_stats, &key) == NULL)
				ks_count(KS_CNT_MAP_FULL);
			s = bpf_map_lookup_elem(&sys_stats, &key);
		}
	}
	if (s) {
		s->count++;
		s->lat_sum_ns += lat;
		if (lat > s->lat_max_ns)
			s->lat_max_ns = lat;
		s->hist[ks_log2_slot(lat, KS_SYSCALL_HIST_SLOTS)]++;
		if (err) {
			struct ks_sys_errno_key ek = {.tgid = key.tgid, .nr = key.nr, .err = err};
			__u64 one = 1, *c;

			s->errors++;
			c = bpf_map_lookup_elem(&sys_errnos, &ek);
			if (c)
				*c += 1;
			else if (bpf_map_update_elem(&sys_errnos, &ek, &one, BPF_NOEXIST) &&
				 !bpf_map_lookup_elem(&sys_errnos, &ek))
				ks_count(KS_CNT_MAP_FULL);
		}
	}

	if (lat >= slow_ns || (err && errno_watched(err))) {
		struct ks_syscall_rec *r;

		/*
		 * The record's time is the call's start on the boot clock. The
		 * stamps use bpf_ktime_get_ns(), ~10 ns a read cheaper than the
		 * boot clock here (see docs/benchmarks.md); the agent's offset
		 * converts. Before the agent set it, fall back to a clock read.
		 */
		__u64 off = mono_to_boot_ns;

		r = ks_ring_reserve_at(&ring, sizeof(*r), KS_REC_SYSCALL, off ? st->ts + off : 0);
		if (r) {
			if (!off)
				r->hdr.ts_ns -= lat;
			ks_fill_current_task(&r->task);
			__builtin_memcpy(r->args, st->args, sizeof(r->args));
			r->ret = ret;
			r->latency_ns = lat;
			r->nr = key.nr;
			r->reason = (lat >= slow_ns ? KS_SYS_REASON_SLOW : 0) |
				    (err && errno_watched(err) ? KS_SYS_REASON_ERRNO : 0);
			ks_ring_submit(&ring, r);
		}
	}
	if (use_task)
		st->ts = 0;
	else
		bpf_map_delete_elem(&starts, &tid);
	return 0;
}

/* tp_btf flavour: BTF-typed raw tracepoint, args read straight from pt_regs. */
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter_btf, struct pt_regs *regs, long id)
{
	__u64 args[6];

	if (!regs)
		return 0;
	/* BTF-typed pointer: direct loads, no probe_read helper calls. */
	KS_SYSCALL_ARGS(regs, args);
	return on_enter(id, args, true);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_btf, struct pt_regs *regs, long ret)
{
	return on_exit(ret, true);
}

/* Classic tracepoint flavour: the fallback where tp_btf is unavailable. */
SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter_tp(struct trace_event_raw_sys_enter *ctx)
{
	__u64 args[6];

	args[0] = ctx->args[0];
	args[1] = ctx->args[1];
	args[2] = ctx->args[2];
	args[3] = ctx->args[3];
	args[4] = ctx->args[4];
	args[5] = ctx->args[5];
	return on_enter(ctx->id, args, false);
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit_tp(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret, false);
}
