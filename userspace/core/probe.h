// probe.h - the one interface every probe implements, and the registry.
//
// Lifecycle (one skeleton per probe, so one probe failing leaves the others
// running): Check() says whether this host can run it, without loading
// anything; Start() opens the skeleton, writes its const volatile settings
// and map sizes, loads and attaches; the agent's single poller then calls
// OnRecord() for each ring record and Rollup() once per interval; Stop()
// detaches. Probes write their records through ProbeContext::out.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/host_features.h"
#include "core/metrics.h"
#include "core/output.h"
#include "core/probe_module.h"
#include "core/status.h"
#include "core/workload_identity.h"

namespace ksight {

// BPF time (CLOCK_BOOTTIME ns) -> Unix time ns.
struct Clock {
  int64_t boot_to_unix_ns = 0;
  uint64_t ToUnix(uint64_t boot_ns) const {
    return static_cast<uint64_t>(static_cast<int64_t>(boot_ns) + boot_to_unix_ns);
  }
  static Clock Now();
  static uint64_t BootNs();
  static uint64_t UnixNs();
};

// Filters resolved for the kernel (cgroup paths turned into ids).
struct Filters {
  std::vector<uint32_t> pids;
  std::vector<std::string> comms;
  std::vector<uint64_t> cgroup_ids;
  // --container / --pod / --namespace: the cgroup filter is on, and the agent fills every
  // probe's ks_filter_cgroups map (whose fds FillFilterMaps collects here) as cgroups match.
  bool workload = false;
  std::shared_ptr<std::vector<int>> cgroup_map_fds = std::make_shared<std::vector<int>>();
};

struct ProbeContext {
  const Config& cfg;
  const SectionValues& settings;  // the probe's own [section], defaults filled in
  const HostFeatures& host;
  const Filters& filters;
  Output& out;
  ProbeId id;
  uint32_t self_tgid;
  const Clock& clock;
  // Workload identity (container, pod) of the processes records name; agent thread only.
  IdentityCache& identity;
};

using Details = std::vector<std::pair<std::string, std::string>>;

struct ProbeCheck {
  bool runnable = false;
  std::string reason;  // why not, or what it will use
  Details details;     // per hook / per source verdicts
};

struct BpfTotals {
  uint64_t seen = 0;
  uint64_t ring_full = 0;
  uint64_t map_full = 0;
};

class Probe {
 public:
  virtual ~Probe() = default;
  virtual std::string_view name() const = 0;
  virtual ProbeCheck Check(const HostFeatures& host) const = 0;
  virtual Status Start(const ProbeContext& ctx) = 0;
  // The probe's ring buffer map fd, or -1 if it has none.
  virtual int RingFd() const = 0;
  virtual void OnRecord(const void* data, size_t size) = 0;
  // Emit per-interval records for [start, end) (Unix ns).
  virtual void Rollup(uint64_t start_unix_ns, uint64_t end_unix_ns) = 0;
  // Called after every drain (every drain_interval) with CLOCK_BOOTTIME now: release what a
  // probe holds back for a short time (e.g. the GPU probe's Xid merge window). Keep it cheap.
  virtual void Tick(uint64_t /*now_boot_ns*/) {}
  virtual BpfTotals ReadBpfTotals() const = 0;
  // What was chosen at Start() (hooks, kinds available), for agent.status.
  virtual Details StatusDetails() const { return {}; }
  // Cumulative, monotonic totals for /metrics, from what the probe already
  // aggregates: records produced per type (sink.Events) and its own families
  // (no per-process labels). Called on the agent thread at each heartbeat.
  virtual void Metrics(MetricsSink& /*sink*/) const {}
  virtual void Stop() = 0;
};

struct ProbeInfo {
  const ProbeModule* module;  // name, settings, metrics, record types
  std::unique_ptr<Probe> (*make)();
  std::string_view name() const { return module->name; }
};

// Every probe the agent can load, in start order (userspace/probes/registry.cc, from
// userspace/probes/probes.inc).
std::span<const ProbeInfo> ProbeRegistry();

}  // namespace ksight
