#include "core/metrics.h"

#include "core/probe_module.h"

#include <cctype>
#include <charconv>
#include <cstdio>

namespace ksight {

const std::vector<MetricFamilyDef>& MetricFamilies() {
  using T = MetricType;
  static const std::vector<MetricFamilyDef> kAgent = {
      {metrics::kBuildInfo, T::kGauge,
       "ksight build: always 1, labelled with version and git revision."},
      {metrics::kProbeUp, T::kGauge,
       "1 while the probe is attached; 0 when it is disabled on this host or failed to start."},
      {metrics::kEventsTotal, T::kCounter,
       "Records produced, by probe and event type (a record can still be dropped afterwards: see "
       "ksight_events_dropped_total)."},
      {metrics::kEventsSeen, T::kCounter,
       "Records seen per probe: produced in user space or lost in the BPF ring "
       "(seen = emitted + dropped, as of the last heartbeat)."},
      {metrics::kEventsEmitted, T::kCounter, "Records written to the output in full, per probe."},
      {metrics::kEventsDropped, T::kCounter,
       "Records lost, per probe and reason (every reason is listed)."},
      {metrics::kAggregationLost, T::kCounter,
       "In-kernel aggregation updates lost because a BPF map was full, per probe."},
      {metrics::kRingRecordsMalformed, T::kCounter,
       "Ring records a probe could not decode (short, size, type, misaligned), per probe and "
       "reason: a BPF object that disagrees with the agent."},
      {metrics::kK8sFetches, T::kCounter,
       "Fetches of the kubelet's pod list (Kubernetes metadata), by result: ok, connect, "
       "http_<status>, parse."},
      {metrics::kK8sPods, T::kGauge, "Pods in the last pod list fetched from the kubelet."},
      {metrics::kWorkloadFilterCgroups, T::kGauge,
       "cgroups the --container/--pod/--namespace filters trace now."},
      {metrics::kWorkloadFilterRefused, T::kCounter,
       "cgroups those filters matched but the kernel filter maps could not take (full: 16384 "
       "ids per probe); their processes are not traced."},
  };
  static const std::vector<MetricFamilyDef> kProcess = {
      {metrics::kHeartbeat, T::kGauge,
       "Unix time of the agent.heartbeat these values were taken at (0 before the first one)."},
      {metrics::kCpuSeconds, T::kCounter, "User and system CPU time of the agent, in seconds."},
      {metrics::kResidentBytes, T::kGauge, "Resident memory of the agent, in bytes."},
      {metrics::kStartTime, T::kGauge, "Start time of the agent since the Unix epoch, in seconds."},
  };
  static const std::vector<MetricFamilyDef> kFamilies = [] {
    std::vector<MetricFamilyDef> all = kAgent;
    for (const ProbeModule* m : ProbeModules())
      all.insert(all.end(), m->metrics.begin(), m->metrics.end());
    all.insert(all.end(), kProcess.begin(), kProcess.end());
    return all;
  }();
  return kFamilies;
}

void MetricSet::Add(std::string_view family, MetricLabels labels, uint64_t value) {
  auto it = samples_.find(family);
  if (it == samples_.end())
    it = samples_.emplace(std::string(family), std::vector<MetricSample>{}).first;
  MetricSample s;
  s.labels = std::move(labels);
  s.u = value;
  it->second.push_back(std::move(s));
}

void MetricSet::AddDouble(std::string_view family, MetricLabels labels, double value) {
  Add(family, std::move(labels), 0);
  auto& s = samples_.find(family)->second.back();
  s.kind = MetricSample::Kind::kDouble;
  s.d = value;
}

void MetricSet::AddNanosAsSeconds(std::string_view family, MetricLabels labels, uint64_t ns) {
  Add(family, std::move(labels), ns);
  samples_.find(family)->second.back().kind = MetricSample::Kind::kNanosAsSeconds;
}

void MetricsSink::Events(std::string_view type, uint64_t n) {
  set_.Add(metrics::kEventsTotal, {{"probe", probe_}, {"type", std::string(type)}}, n);
}

void MetricsSink::Counter(std::string_view family, MetricLabels labels, uint64_t value) {
  set_.Add(family, std::move(labels), value);
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

void AppendSample(std::string& out, std::string_view name, const MetricSample& s) {
  out += name;
  if (!s.labels.empty()) {
    out += '{';
    bool first = true;
    for (const auto& [k, v] : s.labels) {
      if (!first) out += ',';
      first = false;
      out += k;
      out += "=\"";
      out += EscapeLabelValue(v);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  switch (s.kind) {
    case MetricSample::Kind::kUint:
      out += std::to_string(s.u);
      break;
    case MetricSample::Kind::kNanosAsSeconds:
      out += fmt::format("{}.{:09}", s.u / 1000000000ULL, s.u % 1000000000ULL);
      break;
    case MetricSample::Kind::kDouble:
      out += fmt::format("{}", s.d);  // shortest text that reads back as the same double
      break;
  }
  out += '\n';
}

}  // namespace

std::string RenderPrometheus(const MetricsSnapshot& snap, const ProcessStats& proc) {
  MetricSet core;
  core.Add(metrics::kBuildInfo, {{"version", snap.version}, {"revision", snap.revision}}, 1);
  for (const auto& p : snap.probes) {
    if (p.is_probe)
      core.Add(metrics::kProbeUp, {{"probe", p.name}}, p.state == ProbeRunState::kAttached ? 1 : 0);
    core.Add(metrics::kEventsSeen, {{"probe", p.name}}, p.seen);
    core.Add(metrics::kEventsEmitted, {{"probe", p.name}}, p.emitted);
    for (const auto& [reason, n] : p.dropped)
      core.Add(metrics::kEventsDropped, {{"probe", p.name}, {"reason", reason}}, n);
    core.Add(metrics::kAggregationLost, {{"probe", p.name}}, p.aggregation_lost);
  }
  core.AddNanosAsSeconds(metrics::kHeartbeat, {}, snap.heartbeat_unix_ns);
  if (proc.ok) {
    core.AddDouble(metrics::kCpuSeconds, {}, proc.cpu_seconds);
    core.Add(metrics::kResidentBytes, {}, proc.resident_bytes);
    core.AddDouble(metrics::kStartTime, {}, proc.start_time_seconds);
  }

  std::string out;
  out.reserve(4096);
  for (const auto& f : MetricFamilies()) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, EscapeHelp(f.help), f.name,
                       f.type == MetricType::kCounter ? "counter" : "gauge");
    for (const MetricSet* set : {static_cast<const MetricSet*>(&core), &snap.probe_samples}) {
      auto it = set->samples().find(f.name);
      if (it == set->samples().end()) continue;
      for (const auto& s : it->second) AppendSample(out, f.name, s);
    }
  }
  return out;
}

ProcessStats ParseProcStat(std::string_view stat, long ticks_per_second, long page_size,
                           uint64_t boot_time_seconds) {
  ProcessStats ps;
  // comm may contain spaces and parentheses: fields start after the last ')'.
  const size_t rp = stat.rfind(')');
  if (rp == std::string_view::npos || ticks_per_second <= 0) return ps;
  std::string_view rest = stat.substr(rp + 1);
  // Fields after comm, 1-based from field 3 (state): utime 14, stime 15,
  // starttime 22, rss 24.
  std::vector<std::string_view> f;
  size_t i = 0;
  while (i < rest.size() && f.size() < 24) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    const size_t j = rest.find(' ', i);
    const size_t end = j == std::string_view::npos ? rest.size() : j;
    if (end > i) f.push_back(rest.substr(i, end - i));
    i = end;
  }
  if (f.size() < 22) return ps;  // field N is f[N - 3]
  auto num = [](std::string_view s, uint64_t& v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && p == s.data() + s.size();
  };
  uint64_t utime = 0, stime = 0, start = 0, rss = 0;
  if (!num(f[11], utime) || !num(f[12], stime) || !num(f[19], start) || !num(f[21], rss)) return ps;
  const auto hz = static_cast<double>(ticks_per_second);
  ps.cpu_seconds = static_cast<double>(utime + stime) / hz;
  ps.resident_bytes = rss * static_cast<uint64_t>(page_size);
  ps.start_time_seconds = static_cast<double>(boot_time_seconds) + static_cast<double>(start) / hz;
  ps.ok = true;
  return ps;
}

namespace {
std::string Ago(uint64_t now, uint64_t then) {
  return fmt::format("{:.1f}s ago", static_cast<double>(now - then) / 1e9);
}
}  // namespace

HealthVerdict EvaluateLiveness(const HealthInputs& in) {
  if (in.now_ns > in.last_loop_ns && in.now_ns - in.last_loop_ns > in.live_stale_ns) {
    return {false, fmt::format("main loop stalled: last iteration {} (limit {:.1f}s)",
                               Ago(in.now_ns, in.last_loop_ns),
                               static_cast<double>(in.live_stale_ns) / 1e9)};
  }
  return {true, in.phase == AgentPhase::kStarting   ? "ok: starting"
                : in.phase == AgentPhase::kStopping ? "ok: stopping"
                                                    : "ok"};
}

HealthVerdict EvaluateReadiness(const HealthInputs& in) {
  if (in.phase == AgentPhase::kStarting) return {false, "starting: attaching probes"};
  if (in.phase == AgentPhase::kStopping) return {false, "stopping"};
  for (size_t i = 0; i < in.probes.size(); ++i) {
    const auto& [name, st] = in.probes[i];
    const std::string why = i < in.probe_reasons.size() ? in.probe_reasons[i] : "";
    if (st == ProbeRunState::kFailed)
      return {false, fmt::format("probe {} failed to start: {}", name, why)};
    if (st == ProbeRunState::kStarting)
      return {false, fmt::format("probe {} is not attached yet", name)};
  }
  if (in.last_drain_ns == 0) return {false, "the rings have not been drained yet"};
  if (in.now_ns > in.last_drain_ns && in.now_ns - in.last_drain_ns > in.ready_stale_ns) {
    return {false, fmt::format("ring drain is not keeping up: last drain {} (limit {:.1f}s)",
                               Ago(in.now_ns, in.last_drain_ns),
                               static_cast<double>(in.ready_stale_ns) / 1e9)};
  }
  return {true, "ready"};
}

Result<ListenAddr> ParseListenAddr(std::string_view s) {
  ListenAddr a;
  if (s == "off") {
    a.off = true;
    return a;
  }
  const auto bad = [&](std::string_view why) {
    return Status::Error(
        fmt::format("metrics_addr '{}': {} (expected HOST:PORT such as "
                    "127.0.0.1:9815, [::1]:9815, or off)",
                    s, why));
  };
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    const size_t rb = s.find(']');
    if (rb == std::string_view::npos || rb + 1 >= s.size() || s[rb + 1] != ':')
      return bad("an IPv6 address needs brackets and a port");
    host = s.substr(1, rb - 1);
    port = s.substr(rb + 2);
  } else {
    const size_t c = s.rfind(':');
    if (c == std::string_view::npos) return bad("no port");
    host = s.substr(0, c);
    port = s.substr(c + 1);
    if (host.find(':') != std::string_view::npos) return bad("an IPv6 address needs brackets");
  }
  if (host.empty()) return bad("no host (use 0.0.0.0 to listen on every address)");
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '%'))
      return bad("the host has characters no address or name has");
  }
  unsigned v = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535)
    return bad("the port must be a number from 1 to 65535");
  a.host = std::string(host);
  a.port = static_cast<uint16_t>(v);
  return a;
}

}  // namespace ksight
