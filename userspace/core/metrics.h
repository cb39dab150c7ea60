// metrics.h - the agent's /metrics, /healthz and /readyz content (pure logic:
// no sockets, no libbpf). The agent thread builds a MetricsSnapshot at each
// heartbeat and publishes it; the HTTP thread (metrics_server.h) renders the
// latest one in the Prometheus text format 0.0.4.
//
// Families are declared once in kFamilies (metrics.cc) with their help text
// and type; every declared family is rendered (HELP and TYPE), with or
// without samples, so dashboards and alerts never see a family vanish.
// No family carries a per-process label: the label sets stay bounded.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace ksight {

namespace metrics {
// The agent's own family names (kCoreFamilies in metrics.cc); each probe declares its own
// in its module (ProbeModule::metrics).
inline constexpr std::string_view kBuildInfo = "ksight_build_info";
inline constexpr std::string_view kProbeUp = "ksight_probe_up";
inline constexpr std::string_view kEventsTotal = "ksight_events_total";
inline constexpr std::string_view kEventsSeen = "ksight_events_seen_total";
inline constexpr std::string_view kEventsEmitted = "ksight_events_emitted_total";
inline constexpr std::string_view kEventsDropped = "ksight_events_dropped_total";
inline constexpr std::string_view kAggregationLost = "ksight_aggregation_lost_total";
inline constexpr std::string_view kRingRecordsMalformed = "ksight_ring_records_malformed_total";
inline constexpr std::string_view kHeartbeat = "ksight_heartbeat_timestamp_seconds";
inline constexpr std::string_view kK8sFetches = "ksight_k8s_metadata_fetches_total";
inline constexpr std::string_view kK8sPods = "ksight_k8s_pods";
inline constexpr std::string_view kWorkloadFilterCgroups = "ksight_workload_filter_cgroups";
inline constexpr std::string_view kWorkloadFilterRefused = "ksight_workload_filter_refused_total";
inline constexpr std::string_view kCpuSeconds = "process_cpu_seconds_total";
inline constexpr std::string_view kResidentBytes = "process_resident_memory_bytes";
inline constexpr std::string_view kStartTime = "process_start_time_seconds";
}  // namespace metrics

enum class MetricType : uint8_t { kCounter, kGauge };

struct MetricFamilyDef {
  std::string_view name;
  MetricType type;
  std::string_view help;
};
// Every family ksight exports, in rendering order: the agent's, then each probe's.
const std::vector<MetricFamilyDef>& MetricFamilies();

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

struct MetricSample {
  MetricLabels labels;
  // Integers (counters) are rendered exactly; doubles as the shortest
  // text that reads back the same; a value
  // given in nanoseconds is rendered as exact decimal seconds.
  enum class Kind : uint8_t { kUint, kDouble, kNanosAsSeconds } kind = Kind::kUint;
  uint64_t u = 0;
  double d = 0;
};

// Samples per family name (only declared families are rendered).
class MetricSet {
 public:
  void Add(std::string_view family, MetricLabels labels, uint64_t value);
  void AddDouble(std::string_view family, MetricLabels labels, double value);
  void AddNanosAsSeconds(std::string_view family, MetricLabels labels, uint64_t ns);
  const std::map<std::string, std::vector<MetricSample>, std::less<>>& samples() const {
    return samples_;
  }

 private:
  std::map<std::string, std::vector<MetricSample>, std::less<>> samples_;
};

// What a probe hands to Probe::Metrics(): cumulative, monotonic totals of
// what it already aggregates. The probe label is added where the family has
// one (ksight_events_total).
class MetricsSink {
 public:
  MetricsSink(MetricSet& set, std::string probe) : set_(set), probe_(std::move(probe)) {}
  // ksight_events_total{probe=<this probe>,type}: records produced of this type.
  void Events(std::string_view type, uint64_t n);
  // A sample of a probe-specific family (e.g. ksight_syscalls_total{syscall}).
  void Counter(std::string_view family, MetricLabels labels, uint64_t value);

 private:
  MetricSet& set_;
  std::string probe_;
};

// The state of one probe the configuration selected.
enum class ProbeRunState : uint8_t { kStarting, kAttached, kDisabled, kFailed };

struct ProbeMetrics {
  std::string name;
  ProbeRunState state = ProbeRunState::kStarting;
  std::string reason;    // why disabled / failed
  bool is_probe = true;  // false for the agent's own "agent" counters
  uint64_t seen = 0, emitted = 0, aggregation_lost = 0;
  std::vector<std::pair<std::string, uint64_t>> dropped;  // every reason, zeros included
};

// The immutable snapshot the agent thread publishes.
struct MetricsSnapshot {
  std::string version, revision;
  uint64_t heartbeat_unix_ns = 0;  // 0 until the first heartbeat
  std::vector<ProbeMetrics> probes;
  MetricSet probe_samples;  // from the probes' Metrics() hooks and per-type counts
};

// What /proc/self says about this process.
struct ProcessStats {
  double cpu_seconds = 0;
  uint64_t resident_bytes = 0;
  double start_time_seconds = 0;
  bool ok = false;
};
// Parse /proc/self/stat-format text ("pid (comm) state ..."), given the clock
// ticks per second, the page size and the boot time (btime from /proc/stat).
ProcessStats ParseProcStat(std::string_view stat, long ticks_per_second, long page_size,
                           uint64_t boot_time_seconds);

// The Prometheus text exposition (format 0.0.4) of a snapshot plus process stats.
std::string RenderPrometheus(const MetricsSnapshot& snap, const ProcessStats& proc);

// Escapes for the text format: label values (\\, \", \n) and HELP text (\\, \n).
std::string EscapeLabelValue(std::string_view v);
std::string EscapeHelp(std::string_view v);

// Liveness and readiness.
enum class AgentPhase : uint8_t { kStarting, kRunning, kStopping };

struct HealthInputs {
  AgentPhase phase = AgentPhase::kStarting;
  uint64_t now_ns = 0;          // CLOCK_BOOTTIME
  uint64_t last_loop_ns = 0;    // the main loop's last iteration (or start)
  uint64_t last_drain_ns = 0;   // the last ring drain (0 = none yet)
  uint64_t live_stale_ns = 0;   // loop older than this: not alive
  uint64_t ready_stale_ns = 0;  // drain older than this: not ready
  // Probes the configuration selected, with their state (from the snapshot).
  std::vector<std::pair<std::string, ProbeRunState>> probes;
  std::vector<std::string> probe_reasons;  // parallel to probes
};

struct HealthVerdict {
  bool ok = false;
  std::string reason;  // one line
};
// /healthz: the main loop iterated recently.
HealthVerdict EvaluateLiveness(const HealthInputs& in);
// /readyz: running, every probe that this host can run is attached, and the
// rings were drained recently. Probes disabled because the host lacks what
// they need do not block readiness; a probe that failed to start does.
HealthVerdict EvaluateReadiness(const HealthInputs& in);

// "HOST:PORT", "[V6]:PORT" or "off". host may be a name; port 1..65535.
struct ListenAddr {
  bool off = false;
  std::string host;
  uint16_t port = 0;
};
Result<ListenAddr> ParseListenAddr(std::string_view s);

}  // namespace ksight
