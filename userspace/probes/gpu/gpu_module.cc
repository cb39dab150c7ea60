// gpu_module.cc - the gpu probe's config section (none yet), metrics and record types.
#include "probes/gpu/gpu_module.h"
#include "core/probe_module.h"

namespace ksight {
namespace {

const MetricFamilyDef kMetrics[] = {
    {gpu::kMetricXid, MetricType::kCounter,
     "NVIDIA Xid errors reported by the gpu probe, per Xid code."},
    {gpu::kMetricSxid, MetricType::kCounter,
     "NVSwitch SXid errors reported by the gpu probe, per SXid code."},
    {gpu::kMetricResets, MetricType::kCounter,
     "GPU hangs, ring timeouts, resets and fallen-off-the-bus events reported by the gpu probe, "
     "per kind."},
};

const std::string_view kRecords[] = {"gpu.xid", "gpu.sxid", "gpu.reset", "gpu.job",
                                     "gpu.fence.stats"};

}  // namespace

extern const ProbeModule kModule_gpu;
const ProbeModule kModule_gpu = {
    .name = "gpu",
    .summary = "GPU Xid/SXid faults, resets, DRM scheduler jobs, dma_fence latency",
    .settings_help = "",
    .settings = {},
    .metrics = kMetrics,
    .record_types = kRecords,
};

}  // namespace ksight
