/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * core_fixes.bpf.h - every kernel-version difference the BPF code absorbs,
 * in one place: ___flavor structs and bpf_core_*_exists() checks, each with
 * a comment naming the kernel change. Never LINUX_VERSION_CODE.
 */
#ifndef KSIGHT_CORE_FIXES_BPF_H
#define KSIGHT_CORE_FIXES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>

/* ==== gpu probe (bpf/probes/gpu) ======================================== begin ==== */
/*
 * DRM scheduler (module gpu-sched). Its types live in the module's BTF
 * (/sys/kernel/btf/gpu_sched, 6.1+); 5.10 builds no module BTF
 * (CONFIG_DEBUG_INFO_BTF_MODULES unset), so neither tp_btf nor CO-RE against
 * these types can work there: the agent falls back to the classic
 * tracepoints and reads their record layout from tracefs at start (the
 * layouts below), passing the offsets in struct ks_gpu_sched_layout.
 *
 * Tracepoints, same TP_PROTO in both schemes:
 *   <= 6.16  drm_sched_job, drm_run_job  (job, entity); drm_sched_process_job (s_fence);
 *            drm_sched_job_wait_dep (job, fence)
 *   >= 6.17  drm_sched_job_queue, drm_sched_job_run (job, entity); drm_sched_job_done
 *            (s_fence); drm_sched_job_add_dep (job, fence)  (renamed and reshaped by
 *            the 6.17 "drm/sched: tracepoints rework" series)
 * Classic record layouts (trace_event_raw_*), as the agent finds them:
 *   5.10       drm_sched_job: entity*, fence* (the job's finished fence), const char *name,
 *              u64 id, u32 job_count, int hw_job_count; process_job: fence*
 *   6.1-6.16   the same with name as __data_loc char[]
 *   6.17+      __data_loc name, u32 job_count, int hw_job_count, __data_loc dev,
 *              u64 fence_context, u64 fence_seqno, u64 client_id; job_done and
 *              job_add_dep: u64 fence_context, fence_seqno (add_dep: + u64 ctx, seqno)
 * tp_btf pointer arguments may be NULL as far as the verifier knows (6.12
 * rejects a program that dereferences one unchecked): every program tests them.
 */
struct drm_sched_fence___ks {
	struct dma_fence scheduled;
	struct dma_fence finished;
	u64 drm_client_id; /* 6.17+ (client_id of the job tracepoints) */
} __attribute__((preserve_access_index));

struct spsc_queue___ks {
	atomic_t job_count;
} __attribute__((preserve_access_index));

struct drm_sched_entity___ks {
	struct spsc_queue___ks job_queue;
} __attribute__((preserve_access_index));

struct drm_gpu_scheduler___ks {
	const char *name;
	struct device *dev; /* present from 6.1 on at least (absent in 5.10) */
} __attribute__((preserve_access_index));

/* hw_rq_count became credit_count in 6.8 ("drm/sched: implement dynamic job-flow control"). */
struct drm_gpu_scheduler___hw_rq {
	atomic_t hw_rq_count;
} __attribute__((preserve_access_index));

struct drm_gpu_scheduler___credit {
	atomic_t credit_count;
} __attribute__((preserve_access_index));

struct drm_sched_job___ks {
	struct drm_gpu_scheduler___ks *sched;
	struct drm_sched_fence___ks *s_fence;
	struct drm_sched_entity___ks *entity;
} __attribute__((preserve_access_index));

/* Jobs (or credits) the scheduler has handed to the hardware. */
static __always_inline int ks_drm_sched_hw_count(struct drm_gpu_scheduler___ks *sched)
{
	struct drm_gpu_scheduler___credit *c = (void *)sched;
	struct drm_gpu_scheduler___hw_rq *h = (void *)sched;

	if (bpf_core_field_exists(c->credit_count))
		return BPF_CORE_READ(c, credit_count.counter);
	if (bpf_core_field_exists(h->hw_rq_count))
		return BPF_CORE_READ(h, hw_rq_count.counter);
	return -1;
}

/*
 * dma_fence: the classic record is the same on every kernel (driver and
 * timeline as __data_loc strings, u32 context and seqno), but 6.18 adds the
 * class trace_event_raw_dma_fence_unsignaled and 7.2 trace_event_raw_dma_fence_ops
 * with that layout: the programs read every dma_fence event through
 * trace_event_raw_dma_fence, which all of them have. Since 6.17 a signaled fence
 * reports driver "detached-driver" / timeline "signaled-timeline"
 * (dma_fence_driver_name()), so names are learnt from init/emit/wait_start and
 * the per-fence state is keyed by (context, seqno), never by name.
 */
/* ==== gpu probe ========================================================== end ==== */

/* ==== tcp_retransmit probe (bpf/probes/tcp_retransmit) ============== begin ==== */
/*
 * tcp:tcp_retransmit_skb context. Up to 6.16 the event is a member of the
 * event class tcp_event_sk_skb, so the classic tracepoint's context is
 * struct trace_event_raw_tcp_event_sk_skb (5.10's copy has no `family`
 * field: never read it, the family comes from the struct sock). Commit
 * "tcp: trace retransmit failures in tcp_retransmit_skb" (Fan Yu, net-next
 * July 2025, released in 6.17) made it a TRACE_EVENT of its own: context
 * struct trace_event_raw_tcp_retransmit_skb with a trailing `int err`, and a
 * third raw tracepoint argument `int err` (tp_btf). Since that change the
 * event also fires for attempts that failed (err != 0: -EBUSY, -ENOMEM,
 * -EAGAIN, ...), which TcpRetransSegs does not count; before it, it fired
 * only for successful retransmits. The probe reports only err == 0 on both.
 */
struct trace_event_raw_tcp_event_sk_skb___ks {
	const void *skbaddr;
	const void *skaddr;
} __attribute__((preserve_access_index));

struct trace_event_raw_tcp_retransmit_skb___ks {
	const void *skbaddr;
	const void *skaddr;
	int err;
} __attribute__((preserve_access_index));

/* Does tcp_retransmit_skb pass err (context field, and tp_btf's third argument)? */
static __always_inline bool ks_tcp_retransmit_has_err(void)
{
	return bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb___ks);
}

/*
 * The classic tracepoint's socket, skb and err, from whichever context this
 * kernel has. Read with bpf_core_read(): the verifier refuses a load through
 * a ctx pointer the compiler has offset by a relocated amount.
 */
static __always_inline const struct sock *
ks_tcp_retransmit_tp_args(void *ctx, const struct sk_buff **skb, int *err)
{
	const struct sock *sk = NULL;

	*skb = NULL;
	*err = 0;
	if (ks_tcp_retransmit_has_err()) {
		struct trace_event_raw_tcp_retransmit_skb___ks *c = ctx;

		bpf_core_read(&sk, sizeof(sk), &c->skaddr);
		bpf_core_read(skb, sizeof(*skb), &c->skbaddr);
		bpf_core_read(err, sizeof(*err), &c->err);
	} else {
		struct trace_event_raw_tcp_event_sk_skb___ks *c = ctx;

		bpf_core_read(&sk, sizeof(sk), &c->skaddr);
		bpf_core_read(skb, sizeof(*skb), &c->skbaddr);
	}
	return sk;
}

/*
 * sk->sk_protocol: a bitfield shared with sk_type until "net: sock: Make
 * sk_protocol a 16-bit value" (5.6), a u16 since. The probed bitfield read
 * handles both layouts.
 */
static __always_inline __u16 ks_sk_protocol(const struct sock *sk)
{
	return (__u16)BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

/*
 * The socket's cgroup v2 id (the cgroup of the task that created it).
 * struct sock_cgroup_data holds `struct cgroup *cgroup` since "bpf, cgroups: Fix
 * cgroup v2 fallback on v1/v2 mixed mode" (5.15); before, a u64 `val` that
 * is the cgroup pointer unless one of its low two bits is set (then it holds
 * v1 prioidx/classid data and the id is unknown).
 */
struct sock_cgroup_data___ks_old {
	__u64 val;
} __attribute__((preserve_access_index));

static __always_inline __u64 ks_sock_cgroup_id(const struct sock *sk)
{
	struct cgroup *cg;

	if (bpf_core_field_exists(struct sock_cgroup_data, cgroup)) {
		cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	} else {
		const struct sock_cgroup_data___ks_old *d = (const void *)&sk->sk_cgrp_data;
		__u64 v = BPF_CORE_READ(d, val);

		if (v & 3)
			return 0;
		cg = (struct cgroup *)(unsigned long)v;
	}
	if (!cg)
		return 0;
	return BPF_CORE_READ(cg, kn, id);
}
/* ==== tcp_retransmit probe ============================================ end ==== */

#endif /* KSIGHT_CORE_FIXES_BPF_H */
