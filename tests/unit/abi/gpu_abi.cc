// ABI table: bpf/probes/gpu/gpu.h, in build/bpf/gpu.bpf.o.
#include "abi/abi_table.h"

extern "C" {
#include "gpu/gpu.h"
}

namespace ksight::test {
namespace {

#define M(m) KS_ABI_MEMBER(ks_gpu_log_rec, m)
const AbiStruct kLog =
    KS_ABI_STRUCT(ks_gpu_log_rec, M(hdr), M(task), M(len), M(flags), M(pad), M(text));
#undef M
#define M(m) KS_ABI_MEMBER(ks_gpu_xid_tp_rec, m)
const AbiStruct kXidTp =
    KS_ABI_STRUCT(ks_gpu_xid_tp_rec, M(hdr), M(task), M(kind), M(error_code), M(dev), M(msg));
#undef M
#define M(m) KS_ABI_MEMBER(ks_gpu_job_rec, m)
const AbiStruct kJob = KS_ABI_STRUCT(ks_gpu_job_rec, M(hdr), M(task), M(fence_ctx), M(fence_seqno),
                                     M(dep_ctx), M(dep_seqno), M(client_id), M(phase), M(job_count),
                                     M(hw_job_count), M(pad), M(ring), M(dev), M(driver));
#undef M
#define M(m) KS_ABI_MEMBER(ks_gpu_fence_key, m)
const AbiStruct kFenceKey = KS_ABI_STRUCT(ks_gpu_fence_key, M(driver), M(timeline));
#undef M
#define M(m) KS_ABI_MEMBER(ks_gpu_lat, m)
const AbiStruct kLat = KS_ABI_STRUCT(ks_gpu_lat, M(count), M(sum_ns), M(max_ns), M(hist));
#undef M
#define M(m) KS_ABI_MEMBER(ks_gpu_fence_stats, m)
const AbiStruct kFenceStats =
    KS_ABI_STRUCT(ks_gpu_fence_stats, M(emit_to_signal), M(init_to_signal), M(wait));
#undef M
#define M(m) KS_ABI_MEMBER(ks_gpu_sched_layout, m)
const AbiStruct kSchedLayout = KS_ABI_STRUCT(
    ks_gpu_sched_layout, M(fence_ptr), M(fence_ctx), M(fence_seqno), M(name), M(name_kind), M(dev),
    M(job_count), M(hw_job_count), M(dep_ctx), M(dep_seqno), M(client_id), M(pad));
#undef M
#define M(m) KS_ABI_MEMBER(ks_gpu_exited, m)
const AbiStruct kExited =
    KS_ABI_STRUCT(ks_gpu_exited, M(cgroup_id), M(start_ns), M(exit_ns), M(comm));
#undef M
#define M(m) KS_ABI_MEMBER(ks_gpu_xid_layout, m)
const AbiStruct kXidLayout =
    KS_ABI_STRUCT(ks_gpu_xid_layout, M(dev), M(error_code), M(msg), M(pad));
#undef M

const AbiRegistration kRegistered(
    {"gpu", {kLog, kXidTp, kJob, kFenceKey, kLat, kFenceStats, kSchedLayout, kXidLayout, kExited}});

}  // namespace
}  // namespace ksight::test
