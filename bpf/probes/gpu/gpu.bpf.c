// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gpu - GPU driver faults, resets, DRM scheduler jobs and dma_fence latency.
 *
 * Sources (the agent picks the programs per host with set_autoload()):
 *  - printk:console: lines that start like a GPU driver line (NVRM, NVSwitch,
 *    amdgpu, i915, xe, [drm...]) are copied to the ring; every other line is
 *    dropped here, so ordinary logging never reaches user space. tp_btf where
 *    the kernel has BTF for it, the classic tracepoint otherwise.
 *  - nvidia:nvidia_dev_xid, nvswitch:nvswitch_dev_sxid (NVIDIA >= 575.51.02,
 *    out-of-tree, no BTF): classic tracepoints, field offsets from tracefs.
 *  - dma_fence: emit->signaled, init->signaled and wait_start->wait_end
 *    aggregated here into log2 histograms per driver + timeline.
 *  - gpu_scheduler: one ring record per job phase (queue, run, done,
 *    dependency), both naming schemes, tp_btf or classic (see core_fixes.bpf.h).
 */
#include "ksight_common.bpf.h"
#include "core_fixes.bpf.h"
#include "gpu.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Ring records: only used through pointers (see KS_ABI_EXPORT). */
KS_ABI_EXPORT(ks_gpu_log_rec);
KS_ABI_EXPORT(ks_gpu_xid_tp_rec);
KS_ABI_EXPORT(ks_gpu_job_rec);

#define NONE KS_GPU_OFF_NONE

/* Classic tracepoint layouts, read by the agent from tracefs before load. */
const volatile struct ks_gpu_xid_layout xid_layout = {NONE, NONE, NONE, 0};
const volatile struct ks_gpu_xid_layout sxid_layout = {NONE, NONE, NONE, 0};
const volatile struct ks_gpu_sched_layout sched_queue_layout = {
	NONE, NONE, NONE, NONE, KS_GPU_STR_NONE, NONE, NONE, NONE, NONE, NONE, NONE, 0};
const volatile struct ks_gpu_sched_layout sched_run_layout = {
	NONE, NONE, NONE, NONE, KS_GPU_STR_NONE, NONE, NONE, NONE, NONE, NONE, NONE, 0};
const volatile struct ks_gpu_sched_layout sched_done_layout = {
	NONE, NONE, NONE, NONE, KS_GPU_STR_NONE, NONE, NONE, NONE, NONE, NONE, NONE, 0};
const volatile struct ks_gpu_sched_layout sched_dep_layout = {
	NONE, NONE, NONE, NONE, KS_GPU_STR_NONE, NONE, NONE, NONE, NONE, NONE, NONE, 0};

KS_DECLARE_RING(ring);

/* ---- helpers ------------------------------------------------------------- */

/* A __data_loc string of a classic tracepoint record (u32: len << 16 | offset). */
static __always_inline void read_data_loc(void *ctx, __u32 loc_off, char *dst, __u32 size)
{
	__u32 loc = 0;

	bpf_probe_read_kernel(&loc, sizeof(loc), ctx + loc_off);
	bpf_probe_read_kernel_str(dst, size, ctx + (loc & 0xffff));
}

static __always_inline __u64 read_u64(void *ctx, __u32 off)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), ctx + off);
	return v;
}

static __always_inline __u32 read_u32(void *ctx, __u32 off)
{
	__u32 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), ctx + off);
	return v;
}

/* ---- printk -------------------------------------------------------------- */

#define HEAD 64 /* bytes of a line the filter looks at */

static __always_inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * The end of a "[%5lu.%06lu] " console timestamp at b (5.10 passes the
 * console text, stamp included; newer kernels pass the bare message), or b.
 * Fixed positions, no loop: the seconds field is 5 to 8 characters wide.
 * "[drm:...]" and "[drm]" are message text, not a stamp.
 */
#define STAMP_AT(h, b, w)                                                                          \
	((h)[(b) + (w) + 8] == ']' && (h)[(b) + (w) + 9] == ' ' && (h)[(b) + (w) + 1] == '.')

static __always_inline __u32 stamp_end(const char *h, __u32 b)
{
	if (h[b] != '[' || (h[b + 1] != ' ' && !is_digit(h[b + 1])))
		return b;
	if (STAMP_AT(h, b, 5))
		return b + 15;
	if (STAMP_AT(h, b, 6))
		return b + 16;
	if (STAMP_AT(h, b, 7))
		return b + 17;
	if (STAMP_AT(h, b, 8))
		return b + 18;
	return b;
}

/* Where the message starts: after an optional "<3>" level and console stamp. */
static __always_inline __u32 skip_log_prefixes(const char *h)
{
	if (h[0] == '<' && is_digit(h[1]) && h[2] == '>')
		return stamp_end(h, 3);
	return stamp_end(h, 0);
}

static __always_inline bool starts(const char *m, const char *lit, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (m[i] != lit[i])
			return false;
	}
	return true;
}

/* The prefixes user space parses (log_parser.h); everything else stays here. */
static __always_inline bool gpu_line(const char *m)
{
	switch (m[0]) {
	case 'N':
		return starts(m, "NVRM: ", 6);
	case 'n':
		return starts(m, "nvidia-nvswitch", 15);
	case 'a':
		return starts(m, "amdgpu ", 7);
	case 'i':
		return starts(m, "i915 ", 5);
	case 'x':
		return starts(m, "xe ", 3);
	case '[':
		return starts(m, "[drm:", 5) || starts(m, "[drm]", 5);
	}
	return false;
}

static __always_inline int on_console(const char *text, __u32 len)
{
	char msg[16];
	struct ks_gpu_log_rec *r;
	__u32 n, off;

	if (!text || len < sizeof(msg))
		return 0; /* shorter than any line the parser accepts */
	/* Fast path: the bare message (5.19+ passes no console prefix). */
	if (bpf_probe_read_kernel(msg, sizeof(msg), text))
		return 0;
	if (!gpu_line(msg)) {
		char head[HEAD] = {};

		if (msg[0] != '<' && msg[0] != '[')
			return 0; /* an ordinary line: one 16-byte read and a compare */
		/* A level or console stamp first (5.10): find where the message starts. */
		n = len < HEAD ? len : HEAD;
		barrier_var(n);
		n &= HEAD * 2 - 1;
		if (n > HEAD)
			return 0;
		if (bpf_probe_read_kernel(head, n, text))
			return 0;
		off = skip_log_prefixes(head);
		if (!off || off + sizeof(msg) > len)
			return 0;
		if (bpf_probe_read_kernel(msg, sizeof(msg), text + (off & (HEAD - 1))))
			return 0;
		if (!gpu_line(msg))
			return 0;
	}

	r = ks_ring_reserve(&ring, sizeof(*r), KS_REC_GPU_LOG);
	if (!r)
		return 0;
	ks_fill_current_task(&r->task);
	r->flags = 0;
	r->pad = 0;
	n = len;
	if (n > KS_GPU_LOG_TEXT - 1) {
		n = KS_GPU_LOG_TEXT - 1;
		r->flags |= KS_GPU_LOG_TRUNCATED;
	}
	barrier_var(n); /* keep the mask below: the verifier needs the bound on this register */
	n &= KS_GPU_LOG_TEXT - 1;
	if (bpf_probe_read_kernel(r->text, n, text))
		n = 0;
	r->text[n & (KS_GPU_LOG_TEXT - 1)] = '\0';
	r->len = n;
	ks_ring_submit(&ring, r);
	return 0;
}

SEC("tp_btf/console")
int BPF_PROG(console_btf, const char *text, size_t len)
{
	return on_console(text, (__u32)len);
}

SEC("tracepoint/printk/console")
int console_tp(struct trace_event_raw_console *ctx)
{
	__u32 loc = BPF_CORE_READ(ctx, __data_loc_msg);
	__u32 len = loc >> 16;

	/* The record's copy is NUL-terminated (len + 1 bytes) and has no trailing newline. */
	if (len)
		len--;
	return on_console((const char *)ctx + (loc & 0xffff), len);
}

/* ---- recently exited processes (Xid attribution) ------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KS_GPU_EXITED_ENTRIES);
	__type(key, __u32);
	__type(value, struct ks_gpu_exited);
} exited SEC(".maps");

SEC("tracepoint/sched/sched_process_exit")
int proc_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct task_struct *t;
	struct ks_gpu_exited e = {};

	if ((__u32)id != tgid)
		return 0; /* a thread: the process lives on */
	t = (struct task_struct *)bpf_get_current_task();
	e.cgroup_id = bpf_get_current_cgroup_id();
	e.start_ns = BPF_CORE_READ(t, start_boottime);
	e.exit_ns = bpf_ktime_get_boot_ns();
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_map_update_elem(&exited, &tgid, &e, BPF_ANY);
	return 0;
}

/* ---- NVIDIA tracepoints -------------------------------------------------- */

static __always_inline int on_xid_tp(void *ctx, __u32 kind, __u32 off_dev, __u32 off_code,
				     __u32 off_msg)
{
	struct ks_gpu_xid_tp_rec *r;

	if (off_dev == NONE || off_code == NONE || off_msg == NONE)
		return 0;
	r = ks_ring_reserve(&ring, sizeof(*r), KS_REC_GPU_XID_TP);
	if (!r)
		return 0;
	ks_fill_current_task(&r->task);
	r->kind = kind;
	r->error_code = read_u32(ctx, off_code);
	r->dev[0] = '\0';
	r->msg[0] = '\0';
	read_data_loc(ctx, off_dev, r->dev, sizeof(r->dev));
	read_data_loc(ctx, off_msg, r->msg, sizeof(r->msg));
	ks_ring_submit(&ring, r);
	return 0;
}

SEC("tracepoint/nvidia/nvidia_dev_xid")
int nvidia_dev_xid(void *ctx)
{
	return on_xid_tp(ctx, KS_GPU_TP_XID, xid_layout.dev, xid_layout.error_code, xid_layout.msg);
}

SEC("tracepoint/nvswitch/nvswitch_dev_sxid")
int nvswitch_dev_sxid(void *ctx)
{
	return on_xid_tp(ctx, KS_GPU_TP_SXID, sxid_layout.dev, sxid_layout.error_code,
			 sxid_layout.msg);
}

/* ---- dma_fence ----------------------------------------------------------- */

/* The fence as the classic tracepoints name it: u32 context and u32 seqno. */
static __always_inline __u64 fence_id(__u64 context, __u64 seqno)
{
	return (context << 32) | (seqno & 0xffffffffULL);
}

struct fence_start {
	__u64 init_ts;
	__u64 emit_ts;
};

struct fence_wait {
	__u64 ts;
	__u64 context; /* u32 context: the fence_names key */
};

/* Driver + timeline of a fence context (a timeline), learnt from init/emit/wait_start. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct ks_gpu_fence_key);
} fence_names SEC(".maps");

/* Fences in flight: init / emit time by fence_id(). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384); /* sized by the agent */
	__type(key, __u64);
	__type(value, struct fence_start);
} fence_starts SEC(".maps");

/* Threads blocked in dma_fence_wait_timeout(). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct fence_wait);
} fence_waits SEC(".maps");

/* Cumulative latency per driver + timeline (shared, atomic adds). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024); /* sized by the agent */
	__type(key, struct ks_gpu_fence_key);
	__type(value, struct ks_gpu_fence_stats);
} fence_stats SEC(".maps");

/* Zeroed template for new fence_stats entries (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ks_gpu_fence_stats);
} fence_zero SEC(".maps");

static __always_inline void learn_names(struct trace_event_raw_dma_fence *ctx, __u64 context)
{
	struct ks_gpu_fence_key k = {};

	if (bpf_map_lookup_elem(&fence_names, &context))
		return;
	read_data_loc(ctx, bpf_core_field_offset(ctx->__data_loc_driver), k.driver,
		      sizeof(k.driver));
	read_data_loc(ctx, bpf_core_field_offset(ctx->__data_loc_timeline), k.timeline,
		      sizeof(k.timeline));
	bpf_map_update_elem(&fence_names, &context, &k, BPF_NOEXIST);
}

static __always_inline struct ks_gpu_fence_stats *fence_stats_of(__u64 context)
{
	struct ks_gpu_fence_key *k = bpf_map_lookup_elem(&fence_names, &context);
	struct ks_gpu_fence_stats *s;
	__u32 zero = 0;

	if (!k)
		return NULL;
	s = bpf_map_lookup_elem(&fence_stats, k);
	if (s)
		return s;
	s = bpf_map_lookup_elem(&fence_zero, &zero);
	if (!s)
		return NULL;
	bpf_map_update_elem(&fence_stats, k, s, BPF_NOEXIST);
	s = bpf_map_lookup_elem(&fence_stats, k);
	if (!s)
		ks_count(KS_CNT_MAP_FULL);
	return s;
}

static __always_inline void lat_add(struct ks_gpu_lat *l, __u64 v)
{
	__sync_fetch_and_add(&l->count, 1);
	__sync_fetch_and_add(&l->sum_ns, v);
	__sync_fetch_and_add(&l->hist[ks_log2_slot(v, KS_GPU_HIST_SLOTS)], 1);
	/* Not atomic (5.10 has no BPF cmpxchg): a race can lose a maximum. */
	if (v > l->max_ns)
		l->max_ns = v;
}

SEC("tracepoint/dma_fence/dma_fence_init")
int fence_init_tp(struct trace_event_raw_dma_fence *ctx)
{
	__u64 context = BPF_CORE_READ(ctx, context);
	__u64 id = fence_id(context, BPF_CORE_READ(ctx, seqno));
	struct fence_start st = {.init_ts = bpf_ktime_get_boot_ns()};

	learn_names(ctx, context);
	bpf_map_update_elem(&fence_starts, &id, &st, BPF_ANY);
	return 0;
}

SEC("tracepoint/dma_fence/dma_fence_emit")
int fence_emit_tp(struct trace_event_raw_dma_fence *ctx)
{
	__u64 context = BPF_CORE_READ(ctx, context);
	__u64 id = fence_id(context, BPF_CORE_READ(ctx, seqno));
	__u64 now = bpf_ktime_get_boot_ns();
	struct fence_start *st;

	learn_names(ctx, context);
	st = bpf_map_lookup_elem(&fence_starts, &id);
	if (st) {
		st->emit_ts = now;
	} else {
		struct fence_start n = {.emit_ts = now};

		bpf_map_update_elem(&fence_starts, &id, &n, BPF_ANY);
	}
	return 0;
}

static __always_inline int on_signaled(__u64 context, __u64 seqno)
{
	__u64 id = fence_id(context, seqno);
	__u64 now = bpf_ktime_get_boot_ns();
	struct ks_gpu_fence_stats *s;
	struct fence_start *p, st;

	p = bpf_map_lookup_elem(&fence_starts, &id);
	if (!p)
		return 0; /* created before we attached, or evicted */
	st = *p;
	bpf_map_delete_elem(&fence_starts, &id);
	s = fence_stats_of(context);
	if (!s)
		return 0;
	if (st.emit_ts && now >= st.emit_ts)
		lat_add(&s->emit_to_signal, now - st.emit_ts);
	if (st.init_ts && now >= st.init_ts)
		lat_add(&s->init_to_signal, now - st.init_ts);
	return 0;
}

SEC("tp_btf/dma_fence_signaled")
int BPF_PROG(fence_signaled_btf, struct dma_fence *fence)
{
	if (!fence)
		return 0;
	return on_signaled(BPF_CORE_READ(fence, context) & 0xffffffffULL,
			   BPF_CORE_READ(fence, seqno));
}

SEC("tracepoint/dma_fence/dma_fence_signaled")
int fence_signaled_tp(struct trace_event_raw_dma_fence *ctx)
{
	return on_signaled(BPF_CORE_READ(ctx, context), BPF_CORE_READ(ctx, seqno));
}

SEC("tracepoint/dma_fence/dma_fence_wait_start")
int fence_wait_start_tp(struct trace_event_raw_dma_fence *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct fence_wait w = {
		.ts = bpf_ktime_get_boot_ns(),
		.context = BPF_CORE_READ(ctx, context),
	};

	learn_names(ctx, w.context);
	bpf_map_update_elem(&fence_waits, &tid, &w, BPF_ANY);
	return 0;
}

static __always_inline int on_wait_end(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_boot_ns();
	struct ks_gpu_fence_stats *s;
	struct fence_wait *p, w;

	/* wait_start and wait_end bracket one dma_fence_wait_timeout() on one thread. */
	p = bpf_map_lookup_elem(&fence_waits, &tid);
	if (!p)
		return 0;
	w = *p;
	bpf_map_delete_elem(&fence_waits, &tid);
	s = fence_stats_of(w.context);
	if (s && now >= w.ts)
		lat_add(&s->wait, now - w.ts);
	return 0;
}

SEC("tp_btf/dma_fence_wait_end")
int BPF_PROG(fence_wait_end_btf, struct dma_fence *fence)
{
	return on_wait_end();
}

SEC("tracepoint/dma_fence/dma_fence_wait_end")
int fence_wait_end_tp(struct trace_event_raw_dma_fence *ctx)
{
	return on_wait_end();
}

/* ---- DRM scheduler --------------------------------------------------------- */

static __always_inline struct ks_gpu_job_rec *job_reserve(__u32 phase)
{
	struct ks_gpu_job_rec *r = ks_ring_reserve(&ring, sizeof(*r), KS_REC_GPU_JOB);

	if (!r)
		return NULL;
	ks_fill_current_task(&r->task);
	r->phase = phase;
	r->fence_ctx = 0;
	r->fence_seqno = 0;
	r->dep_ctx = 0;
	r->dep_seqno = 0;
	r->client_id = 0;
	r->job_count = 0;
	r->hw_job_count = -1;
	r->pad = 0;
	r->ring[0] = '\0';
	r->dev[0] = '\0';
	r->driver[0] = '\0';
	return r;
}

/* tp_btf flavour: read the scheduler's own structs (module BTF, 6.1+). */
static __always_inline int job_btf(struct drm_sched_job___ks *job,
				   struct drm_sched_entity___ks *entity, __u32 phase)
{
	struct drm_sched_fence___ks *sf;
	struct drm_gpu_scheduler___ks *sched;
	struct ks_gpu_job_rec *r;

	if (!job)
		return 0;
	r = job_reserve(phase);
	if (!r)
		return 0;
	sf = BPF_CORE_READ(job, s_fence);
	if (sf) {
		r->fence_ctx = BPF_CORE_READ(sf, finished.context);
		r->fence_seqno = BPF_CORE_READ(sf, finished.seqno);
		if (bpf_core_field_exists(sf->drm_client_id))
			r->client_id = BPF_CORE_READ(sf, drm_client_id);
	}
	if (entity)
		r->job_count = BPF_CORE_READ(entity, job_queue.job_count.counter);
	sched = BPF_CORE_READ(job, sched);
	if (sched) {
		const char *name = BPF_CORE_READ(sched, name);

		r->hw_job_count = ks_drm_sched_hw_count(sched);
		if (name)
			bpf_probe_read_kernel_str(r->ring, sizeof(r->ring), name);
		if (bpf_core_field_exists(sched->dev)) {
			struct device *dev = BPF_CORE_READ(sched, dev);

			if (dev) {
				const char *dn = BPF_CORE_READ(dev, kobj.name);
				const char *drv = BPF_CORE_READ(dev, driver, name);

				if (dn)
					bpf_probe_read_kernel_str(r->dev, sizeof(r->dev), dn);
				if (drv)
					bpf_probe_read_kernel_str(r->driver, sizeof(r->driver),
								  drv);
			}
		}
	}
	ks_ring_submit(&ring, r);
	return 0;
}

static __always_inline int done_btf(struct drm_sched_fence___ks *sf)
{
	struct ks_gpu_job_rec *r;

	if (!sf)
		return 0;
	r = job_reserve(KS_GPU_JOB_DONE);
	if (!r)
		return 0;
	r->fence_ctx = BPF_CORE_READ(sf, finished.context);
	r->fence_seqno = BPF_CORE_READ(sf, finished.seqno);
	ks_ring_submit(&ring, r);
	return 0;
}

static __always_inline int dep_btf(struct drm_sched_job___ks *job, struct dma_fence *dep)
{
	struct drm_sched_fence___ks *sf;
	struct ks_gpu_job_rec *r;

	if (!job || !dep)
		return 0;
	sf = BPF_CORE_READ(job, s_fence);
	if (!sf)
		return 0;
	r = job_reserve(KS_GPU_JOB_DEP);
	if (!r)
		return 0;
	r->fence_ctx = BPF_CORE_READ(sf, finished.context);
	r->fence_seqno = BPF_CORE_READ(sf, finished.seqno);
	r->dep_ctx = BPF_CORE_READ(dep, context);
	r->dep_seqno = BPF_CORE_READ(dep, seqno);
	ks_ring_submit(&ring, r);
	return 0;
}

/* <= 6.16 names */
SEC("tp_btf/drm_sched_job")
int BPF_PROG(sched_queue_old_btf, struct drm_sched_job___ks *job,
	     struct drm_sched_entity___ks *entity)
{
	return job_btf(job, entity, KS_GPU_JOB_QUEUE);
}

SEC("tp_btf/drm_run_job")
int BPF_PROG(sched_run_old_btf, struct drm_sched_job___ks *job,
	     struct drm_sched_entity___ks *entity)
{
	return job_btf(job, entity, KS_GPU_JOB_RUN);
}

SEC("tp_btf/drm_sched_process_job")
int BPF_PROG(sched_done_old_btf, struct drm_sched_fence___ks *sf)
{
	return done_btf(sf);
}

SEC("tp_btf/drm_sched_job_wait_dep")
int BPF_PROG(sched_dep_old_btf, struct drm_sched_job___ks *job, struct dma_fence *dep)
{
	return dep_btf(job, dep);
}

/* >= 6.17 names */
SEC("tp_btf/drm_sched_job_queue")
int BPF_PROG(sched_queue_btf, struct drm_sched_job___ks *job, struct drm_sched_entity___ks *entity)
{
	return job_btf(job, entity, KS_GPU_JOB_QUEUE);
}

SEC("tp_btf/drm_sched_job_run")
int BPF_PROG(sched_run_btf, struct drm_sched_job___ks *job, struct drm_sched_entity___ks *entity)
{
	return job_btf(job, entity, KS_GPU_JOB_RUN);
}

SEC("tp_btf/drm_sched_job_done")
int BPF_PROG(sched_done_btf, struct drm_sched_fence___ks *sf)
{
	return done_btf(sf);
}

SEC("tp_btf/drm_sched_job_add_dep")
int BPF_PROG(sched_dep_btf, struct drm_sched_job___ks *job, struct dma_fence *dep)
{
	return dep_btf(job, dep);
}

/* Classic flavour: the layout comes from tracefs (no module BTF on 5.10). */
static __always_inline int job_tp(void *ctx, __u32 phase, __u32 fence_ptr, __u32 fence_ctx,
				  __u32 fence_seqno, __u32 name, __u32 name_kind, __u32 dev,
				  __u32 job_count, __u32 hw_job_count, __u32 dep_ctx,
				  __u32 dep_seqno, __u32 client_id)
{
	struct ks_gpu_job_rec *r;

	if (fence_ptr == NONE && (fence_ctx == NONE || fence_seqno == NONE))
		return 0; /* not configured */
	r = job_reserve(phase);
	if (!r)
		return 0;
	if (fence_ptr != NONE) {
		struct dma_fence *f = (struct dma_fence *)read_u64(ctx, fence_ptr);

		if (f) {
			r->fence_ctx = BPF_CORE_READ(f, context);
			r->fence_seqno = BPF_CORE_READ(f, seqno);
		}
	} else {
		r->fence_ctx = read_u64(ctx, fence_ctx);
		r->fence_seqno = read_u64(ctx, fence_seqno);
	}
	if (name != NONE) {
		if (name_kind == KS_GPU_STR_DATA_LOC) {
			read_data_loc(ctx, name, r->ring, sizeof(r->ring));
		} else if (name_kind == KS_GPU_STR_PTR) {
			const char *p = (const char *)read_u64(ctx, name);

			if (p)
				bpf_probe_read_kernel_str(r->ring, sizeof(r->ring), p);
		}
	}
	if (dev != NONE)
		read_data_loc(ctx, dev, r->dev, sizeof(r->dev));
	if (job_count != NONE)
		r->job_count = read_u32(ctx, job_count);
	if (hw_job_count != NONE)
		r->hw_job_count = (__s32)read_u32(ctx, hw_job_count);
	if (dep_ctx != NONE && dep_seqno != NONE) {
		r->dep_ctx = read_u64(ctx, dep_ctx);
		r->dep_seqno = read_u64(ctx, dep_seqno);
	}
	if (client_id != NONE)
		r->client_id = read_u64(ctx, client_id);
	ks_ring_submit(&ring, r);
	return 0;
}

#define JOB_TP(ctx, phase, L)                                                                      \
	job_tp(ctx, phase, L.fence_ptr, L.fence_ctx, L.fence_seqno, L.name, L.name_kind, L.dev,    \
	       L.job_count, L.hw_job_count, L.dep_ctx, L.dep_seqno, L.client_id)

/* <= 6.16 names (drm_sched_job_wait_dep's record lacks the job's fence: not hooked) */
SEC("tracepoint/gpu_scheduler/drm_sched_job")
int sched_queue_old_tp(void *ctx)
{
	return JOB_TP(ctx, KS_GPU_JOB_QUEUE, sched_queue_layout);
}

SEC("tracepoint/gpu_scheduler/drm_run_job")
int sched_run_old_tp(void *ctx)
{
	return JOB_TP(ctx, KS_GPU_JOB_RUN, sched_run_layout);
}

SEC("tracepoint/gpu_scheduler/drm_sched_process_job")
int sched_done_old_tp(void *ctx)
{
	return JOB_TP(ctx, KS_GPU_JOB_DONE, sched_done_layout);
}

/* >= 6.17 names */
SEC("tracepoint/gpu_scheduler/drm_sched_job_queue")
int sched_queue_tp(void *ctx)
{
	return JOB_TP(ctx, KS_GPU_JOB_QUEUE, sched_queue_layout);
}

SEC("tracepoint/gpu_scheduler/drm_sched_job_run")
int sched_run_tp(void *ctx)
{
	return JOB_TP(ctx, KS_GPU_JOB_RUN, sched_run_layout);
}

SEC("tracepoint/gpu_scheduler/drm_sched_job_done")
int sched_done_tp(void *ctx)
{
	return JOB_TP(ctx, KS_GPU_JOB_DONE, sched_done_layout);
}

SEC("tracepoint/gpu_scheduler/drm_sched_job_add_dep")
int sched_dep_tp(void *ctx)
{
	return JOB_TP(ctx, KS_GPU_JOB_DEP, sched_dep_layout);
}
