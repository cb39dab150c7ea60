// gpu_records.h - the JSON bodies of the gpu probe's records (pure logic: no libbpf), written
// into a record the caller started with Output::Begin(). docs/probes/gpu.md documents every
// field; docs/schema/gpu.*.schema.json checks them.
//
//   gpu.xid / gpu.sxid  "gpu", "xid", "reporter"
//   gpu.reset           "gpu", "reset", "reporter"
//   gpu.job             "gpu", "job", "process" (when the queue event had a task)
//   gpu.fence.stats     "gpu", "stats" (the caller adds "interval")
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "core/json_writer.h"
#include "probes/gpu/gpu_fence_stats.h"
#include "probes/gpu/gpu_xid_merge.h"
#include "probes/gpu/job_tracker.h"
#include "probes/gpu/log_parser.h"

namespace ksight::gpu {

// "gpu.xid" or "gpu.sxid".
std::string_view XidRecordType(const MergedXid& m);
void WriteXidBody(JsonWriter& w, const MergedXid& m);

// The labels of ksight_gpu_xid_total / ksight_gpu_sxid_total for one record: the same bus id,
// name and severity the record carries (a counter per GPU and code never loses a repeat).
struct XidMetricKey {
  bool sxid = false;
  std::string pci_bus_id;  // "" when the line named no bus
  int code = 0;
  std::string name;
  std::string severity;
  // (Not a defaulted <=>: clang-tidy's modernize-use-nullptr misreads the synthesized one.)
  friend bool operator<(const XidMetricKey& a, const XidMetricKey& b) {
    return std::tie(a.sxid, a.pci_bus_id, a.code, a.name, a.severity) <
           std::tie(b.sxid, b.pci_bus_id, b.code, b.name, b.severity);
  }
};
XidMetricKey XidMetricKeyOf(const MergedXid& m);

// source: kPrintk or kKmsg, the way the kernel log line was read.
void WriteResetBody(JsonWriter& w, const ResetEvent& r, const Reporter& reporter,
                    XidSource source = XidSource::kPrintk);

// What the probe knows about a job beyond the tracker's record.
struct JobExtras {
  std::string driver;                   // the device's driver, when BPF could read it
  uint32_t dependencies = 0;            // dependency events seen for the job
  std::optional<uint64_t> client_id;    // DRM client id (6.17+)
  std::optional<uint32_t> job_count;    // the entity's queue length the queue event reported
  std::optional<int32_t> hw_job_count;  // jobs/credits on the hardware at queue time
};
void WriteJobBody(JsonWriter& w, const JobRecord& j, const JobExtras& x);

// Only the kinds that moved in the interval appear under "stats".
void WriteFenceStatsBody(JsonWriter& w, std::string_view driver, std::string_view timeline,
                         const FenceStats& delta);

}  // namespace ksight::gpu
