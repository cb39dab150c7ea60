// agent_internal.h - the agent behind `ksight run`, split by concern:
//   agent.cc          start-up, the event loop (signals, ring drains, rollups), shutdown
//   agent_records.cc  the agent's own records (agent.status, agent.heartbeat, agent.loss)
//                     and the /metrics snapshot
//   agent_reload.cc   SIGHUP (config reload) and SIGUSR1 (reopen output files)
//   agent_check.cc    `ksight check`
#pragma once

#include <unistd.h>

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/agent.h"
#include "core/kubelet_client.h"
#include "core/loader.h"
#include "core/metrics_server.h"
#include "core/probe.h"
#include "core/systemd_notify.h"
#include "core/workload_filter.h"

namespace ksight::agent_internal {

struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// Lines still queued for a sink when the agent stops get this long to be written.
constexpr std::chrono::seconds kStopTimeout{5};

using SinkList = std::vector<std::pair<std::unique_ptr<Sink>, uint64_t>>;
Result<SinkList> OpenSinks(const Config& cfg);

struct ActiveProbe {
  std::unique_ptr<Probe> probe;
  ProbeId id = 0;
  std::unique_ptr<ProbeContext> ctx;
  Output* out = nullptr;
};

class Agent {
 public:
  Agent(const Config& cfg, ConfigLoader reload)
      : cfg_(cfg), live_(cfg), reload_(std::move(reload)) {}
  int Run();

 private:
  // Self-records and /metrics (agent_records.cc).
  void EmitStatus(std::string_view state, std::string_view probe, std::string_view reason,
                  const Details& details = {});
  void EmitHeartbeatAndLoss(uint64_t start_ns, uint64_t end_ns);
  // The event loop's steps (agent.cc).
  void RollupAll(uint64_t start_ns, uint64_t end_ns);
  void DrainRings();
  // /metrics: publish the counters of a heartbeat (or of the start) and the probes' totals.
  void PublishMetrics(const OutputSnapshot& snap, uint64_t heartbeat_unix_ns);
  // Signals (agent_reload.cc): SIGUSR1 reopens the files, SIGHUP reloads the config.
  void ReopenOutputs();
  void Reload();
  // Hand the latest pod list to the identity cache; at a heartbeat, report a change of state.
  void SyncKubernetes(bool heartbeat);
  // Add every cgroup that now matches the workload filters to the probes' filter maps (rescan:
  // walk the cgroup tree first, for cgroups made without the process probe running).
  void ApplyWorkloadFilter(bool rescan);

  const Config& cfg_;  // as started: the probes keep references to it
  Config live_;        // with what SIGHUP applied (SettingApply::kReload keys)

  // Self-records and /metrics (agent_records.cc).
  ConfigLoader reload_;
  HostFeatures host_;
  Filters filters_;
  Clock clock_;
  IdentityCache identity_{IdentityCache::ForHost()};
  // Kubernetes metadata (null when off): the snapshot the identity cache points into.
  std::unique_ptr<KubeletClient> kubelet_;
  std::shared_ptr<const PodMap> pods_;
  uint64_t pod_misses_seen_ = 0;
  bool k8s_reported_ok_ = false, k8s_reported_failing_ = false;
  // --container / --pod / --namespace: the cgroup ids given to the probes' filter maps so far.
  WorkloadFilter wfilter_;
  std::set<uint64_t> wf_allowed_;
  uint64_t wf_learnt_seen_ = 0, wf_last_ns_ = 0;
  uint64_t wf_failed_ = 0;  // cgroups the filter maps could not take (full): in agent.heartbeat
  const PodMap* wf_pods_seen_ = nullptr;
  std::unique_ptr<Output> out_;
  std::vector<std::unique_ptr<ActiveProbe>> probes_;
  RingBufferPtr rb_;
  // Drops already reported in agent.loss: before the sinks per probe and
  // reason; at a sink per sink name, probe and reason.
  std::vector<std::array<uint64_t, kDropReasons>> reported_;
  std::map<std::string, std::vector<std::array<uint64_t, kDropReasons>>> reported_sink_;
  std::vector<uint64_t> reported_agg_;
  // Metrics, health, systemd.
  std::unique_ptr<MetricsServer> metrics_;
  SystemdNotifier notify_;
  std::map<std::string, std::pair<ProbeRunState, std::string>, std::less<>> probe_state_;
  std::map<std::string, uint64_t> agent_types_;  // the agent's own records per type
};

}  // namespace ksight::agent_internal
