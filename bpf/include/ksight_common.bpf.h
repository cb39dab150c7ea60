/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ksight_common.bpf.h - what every probe shares: loss counters, the ring
 * reservation that counts its own failures, task attribution and the
 * pid/comm/cgroup filters. Include it once per probe object (each probe is
 * its own skeleton, so each gets its own copy of these maps and settings).
 */
#ifndef KSIGHT_COMMON_BPF_H
#define KSIGHT_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "ksight_abi.h"
#include "ksight_log2.h" /* ks_log2_slot() */

#define KS_MAX_FILTER_ENTRIES 64
/* cgroup ids: --cgroup, and every cgroup the --container/--pod/--namespace filters match. */
#define KS_MAX_FILTER_CGROUPS 16384

/* Settings written by the agent into .rodata before load. */
const volatile __u32 ks_self_tgid = 0; /* the agent: never traced */
const volatile bool ks_filter_pids_on = false;
const volatile bool ks_filter_comms_on = false;
const volatile bool ks_filter_cgroups_on = false;
/* Ring fill level (bytes) above which a submit wakes the poller at once. */
const volatile __u64 ks_wakeup_bytes = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KS_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} ks_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KS_MAX_FILTER_ENTRIES);
	__type(key, __u32);
	__type(value, __u8);
} ks_filter_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KS_MAX_FILTER_ENTRIES);
	__type(key, struct ks_comm_key);
	__type(value, __u8);
} ks_filter_comms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KS_MAX_FILTER_CGROUPS);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* memory only for the ids it holds */
	__type(key, __u64);
	__type(value, __u8);
} ks_filter_cgroups SEC(".maps");

/*
 * KS_ABI_EXPORT(ks_foo_rec): put a shared struct's BTF into the object. Ring
 * records are only used through pointers, so clang would emit no BTF for
 * them; tests/unit/abi_test.cc reads every struct ks_* of the object's BTF and
 * checks its size and member offsets against the agent's C++ view. The anchor
 * is a pointer in a section libbpf skips (".ksight.abi"): no map, no load.
 */
#define KS_ABI_EXPORT(type) struct type *ks_abi_##type SEC(".ksight.abi") __attribute__((used))

KS_ABI_EXPORT(ks_rec_hdr);
KS_ABI_EXPORT(ks_task);
KS_ABI_EXPORT(ks_comm_key);

/* Each probe declares its ring as: KS_DECLARE_RING(ring); the agent sizes it. */
#define KS_DECLARE_RING(name)                                                                      \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                                                \
		__uint(max_entries, 256 * 1024);                                                   \
	} name SEC(".maps")

static __always_inline void ks_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&ks_counters, &idx);

	if (v)
		*v += 1; /* per-CPU slot: no atomic needed */
}

/* Does the owner (tgid, comm, cgroup) pass the configured filters? */
static __always_inline bool ks_owner_wanted(__u32 tgid, const char *comm, __u64 cgid)
{
	if (tgid == ks_self_tgid)
		return false;
	if (ks_filter_pids_on && !bpf_map_lookup_elem(&ks_filter_pids, &tgid))
		return false;
	if (ks_filter_cgroups_on && !bpf_map_lookup_elem(&ks_filter_cgroups, &cgid))
		return false;
	if (ks_filter_comms_on) {
		struct ks_comm_key key = {};

		if (comm)
			__builtin_memcpy(key.comm, comm, KS_COMM_LEN);
		if (!bpf_map_lookup_elem(&ks_filter_comms, &key))
			return false;
	}
	return true;
}

/* Filters applied to the task on the CPU; cheap checks first. */
static __always_inline bool ks_current_wanted(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (tgid == ks_self_tgid)
		return false;
	if (ks_filter_pids_on && !bpf_map_lookup_elem(&ks_filter_pids, &tgid))
		return false;
	if (ks_filter_cgroups_on) {
		__u64 cgid = bpf_get_current_cgroup_id();

		if (!bpf_map_lookup_elem(&ks_filter_cgroups, &cgid))
			return false;
	}
	if (ks_filter_comms_on) {
		struct ks_comm_key key = {};

		bpf_get_current_comm(key.comm, sizeof(key.comm));
		if (!bpf_map_lookup_elem(&ks_filter_comms, &key))
			return false;
	}
	return true;
}

static __always_inline void ks_fill_current_task(struct ks_task *t)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	t->pid = pid_tgid >> 32;
	t->tid = (__u32)pid_tgid;
	t->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(t->comm, sizeof(t->comm));
}

/*
 * Reserve a record in @ring, counting it as seen and, when the ring is
 * full, as dropped (ring_full). Fills the common header; its time is @ts_ns
 * (boot clock), or the boot clock now when @ts_ns is 0.
 */
static __always_inline void *ks_ring_reserve_at(void *ring, __u32 size, __u16 type, __u64 ts_ns)
{
	struct ks_rec_hdr *h;

	ks_count(KS_CNT_SEEN);
	h = bpf_ringbuf_reserve(ring, size, 0);
	if (!h) {
		ks_count(KS_CNT_RING_FULL);
		return NULL;
	}
	h->type = type;
	h->size = size;
	h->cpu = bpf_get_smp_processor_id();
	h->ts_ns = ts_ns ? ts_ns : bpf_ktime_get_boot_ns();
	return h;
}

static __always_inline void *ks_ring_reserve(void *ring, __u32 size, __u16 type)
{
	return ks_ring_reserve_at(ring, size, type, 0);
}

/*
 * Submit without waking the poller (it drains on a timer), unless this
 * record takes the ring past ks_wakeup_bytes: then wake it now so a burst
 * does not overflow the ring. Only the record that crosses the line wakes:
 * while the poller lags, a wakeup per record would cost the traced task an
 * interrupt per event (a few microseconds on a VM, seen in `make bench`)
 * and not drain any faster. The poller reads all there is once woken, and
 * the ring reads as ready to epoll while it holds data, so no wakeup is lost.
 */
static __always_inline void ks_ring_submit(void *ring, void *rec)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (ks_wakeup_bytes) {
		/* Ring space of this record: its 8-byte ring header, rounded to 8. */
		__u64 mine = (((const struct ks_rec_hdr *)rec)->size + 8 + 7) & ~7ULL;
		__u64 avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);

		if (avail > ks_wakeup_bytes && avail - mine <= ks_wakeup_bytes)
			flags = BPF_RB_FORCE_WAKEUP;
	}
	bpf_ringbuf_submit(rec, flags);
}

/*
 * The six syscall arguments from the user pt_regs a raw_syscalls:sys_enter
 * tp_btf program receives (a BTF-typed pointer: plain loads are allowed).
 */
#if defined(__TARGET_ARCH_x86)
#define KS_SYSCALL_ARGS(regs, a)                                                                   \
	do {                                                                                       \
		(a)[0] = (regs)->di;                                                               \
		(a)[1] = (regs)->si;                                                               \
		(a)[2] = (regs)->dx;                                                               \
		(a)[3] = (regs)->r10;                                                              \
		(a)[4] = (regs)->r8;                                                               \
		(a)[5] = (regs)->r9;                                                               \
	} while (0)
#elif defined(__TARGET_ARCH_arm64)
#define KS_SYSCALL_ARGS(regs, a)                                                                   \
	do {                                                                                       \
		(a)[0] = (regs)->orig_x0;                                                          \
		for (int i__ = 1; i__ < 6; i__++)                                                  \
			(a)[i__] = (regs)->regs[i__];                                              \
	} while (0)
#else
#error "ksight: define KS_SYSCALL_ARGS for this architecture"
#endif

#endif /* KSIGHT_COMMON_BPF_H */
