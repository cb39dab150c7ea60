// gpu_module.cc - the gpu probe's config section, metrics and record types.
#include "probes/gpu/gpu_module.h"

#include <fmt/format.h>

#include "core/probe_module.h"

namespace ksight {
namespace {

Status CheckPrintkSource(const SettingValue& v) {
  const auto& s = std::get<std::string>(v);
  if (s == "auto" || s == "tracepoint" || s == "kmsg") return {};
  return Status::Error(fmt::format("'{}' is not auto, tracepoint or kmsg", s));
}

Status CheckStateFile(const SettingValue& v) {
  const auto& s = std::get<std::string>(v);
  if (s.empty() || s.starts_with('/')) return {};
  return Status::Error(fmt::format("'{}' is not an absolute path (or \"\" for none)", s));
}

const SettingDef kSettings[] = {
    {.key = "printk_source",
     .kind = SettingKind::kString,
     .default_value = "auto",
     .help = "How the kernel log's GPU lines (Xid, SXid, amdgpu/i915/xe resets) are read: "
             "\"auto\" takes the printk:console tracepoint where it sees every line (5.19+) "
             "and /dev/kmsg elsewhere; \"tracepoint\" or \"kmsg\" forces one.",
     .flag = "--gpu-printk-source",
     .flag_help = "auto, tracepoint or kmsg: how kernel log lines are read",
     .check = &CheckPrintkSource},
    {.key = "kmsg_state_file",
     .kind = SettingKind::kString,
     .default_value = "/var/lib/ksight/gpu-kmsg.position",
     .help = "Where the /dev/kmsg reader keeps its position (boot id and sequence number), so "
             "a restart within one boot neither repeats nor skips a line; \"\" for none (start "
             "at the end of the log each time).",
     .flag = "--gpu-kmsg-state",
     .flag_help = "file keeping the /dev/kmsg read position across restarts (\"\" for none)",
     .check = &CheckStateFile},
};

const MetricFamilyDef kMetrics[] = {
    {gpu::kMetricXid, MetricType::kCounter,
     "NVIDIA Xid errors reported by the gpu probe, per GPU (pci_bus_id) and Xid code, with "
     "the code's name and severity."},
    {gpu::kMetricSxid, MetricType::kCounter,
     "NVSwitch SXid errors reported by the gpu probe, per switch (pci_bus_id) and SXid code, "
     "with the unit and severity."},
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
    .settings_help = "The gpu probe: how it reads the kernel log.",
    .settings = kSettings,
    .metrics = kMetrics,
    .record_types = kRecords,
};

}  // namespace ksight
