#include "core/agent.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <csignal>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <random>

#include "core/loader.h"
#include "core/metrics_server.h"
#include "core/privileges.h"
#include "core/probe.h"
#include "core/systemd_notify.h"
#include "core/version.h"

namespace ksight {

Clock Clock::Now() {
  // Bracket BOOTTIME between two REALTIME reads to keep the error small.
  const uint64_t u1 = UnixNs();
  const uint64_t b = BootNs();
  const uint64_t u2 = UnixNs();
  return Clock{static_cast<int64_t>(u1 / 2 + u2 / 2) - static_cast<int64_t>(b)};
}

uint64_t Clock::BootNs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t Clock::UnixNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {

struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

std::string HostName(const Config& cfg) {
  if (!cfg.host_name.empty()) return cfg.host_name;
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

std::string NewInstanceId() {
  std::random_device rd;
  std::uniform_int_distribution<uint64_t> dist;
  return fmt::format("{:016x}{:016x}", dist(rd), dist(rd));
}

Result<Filters> ResolveFilters(const Config& cfg) {
  Filters f;
  f.pids = cfg.pids;
  f.comms = cfg.comms;
  for (const auto& c : cfg.cgroups) {
    if (!c.empty() && std::all_of(c.begin(), c.end(), ::isdigit)) {
      f.cgroup_ids.push_back(std::stoull(c));
      continue;
    }
    std::string path = c;
    if (path.rfind("/sys/fs/cgroup", 0) != 0) path = "/sys/fs/cgroup/" + c;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Status::Error(
          fmt::format("cgroup filter '{}': {} is not a cgroup v2 directory", c, path));
    }
    f.cgroup_ids.push_back(st.st_ino);  // cgroup v2: the id is the directory's inode
  }
  return f;
}

using SinkList = std::vector<std::pair<std::unique_ptr<Sink>, uint64_t>>;

Result<SinkList> OpenSinks(const Config& cfg) {
  SinkList sinks;
  FileSinkOptions fo;
  fo.mode = cfg.file_mode;
  fo.max_size = cfg.max_size;
  fo.max_backups = cfg.max_backups;
  fo.compress = cfg.compress == "gzip";
  fo.max_total_size = cfg.max_total_size;
  for (const auto& o : cfg.output) {
    if (o == "-") {
      sinks.emplace_back(MakeFdSink(STDOUT_FILENO, "stdout"), cfg.queue_size);
      continue;
    }
    auto s = OpenFileSink(o, fo);
    if (!s) return s.status();
    sinks.emplace_back(std::move(s.value()), cfg.queue_size);
  }
  return sinks;
}

std::string OutputNames(const Config& cfg) {
  std::string names;
  for (const auto& o : cfg.output) names += (names.empty() ? "" : ", ") + (o == "-" ? "stdout" : o);
  return names;
}

struct ActiveProbe {
  std::unique_ptr<Probe> probe;
  ProbeId id = 0;
  std::unique_ptr<ProbeContext> ctx;
  Output* out = nullptr;
};

int OnRing(void* ctx, void* data, size_t size) {
  auto* ap = static_cast<ActiveProbe*>(ctx);
  ap->out->CountReceived(ap->id);
  ap->probe->OnRecord(data, size);
  return 0;
}

class Agent {
 public:
  Agent(const Config& cfg, ConfigLoader reload)
      : cfg_(cfg), live_(cfg), reload_(std::move(reload)) {}
  int Run();

 private:
  void EmitStatus(std::string_view state, std::string_view probe, std::string_view reason,
                  const Details& details = {});
  void EmitHeartbeatAndLoss(uint64_t start_ns, uint64_t end_ns);
  void RollupAll(uint64_t start_ns, uint64_t end_ns);
  void DrainRings();
  // /metrics: publish the counters of a heartbeat (or of the start) and the probes' totals.
  void PublishMetrics(const OutputSnapshot& snap, uint64_t heartbeat_unix_ns);
  void ReopenOutputs();
  void Reload();

  const Config& cfg_;  // as started: the probes keep references to it
  Config live_;        // what SIGHUP may change: output, interval, drain_interval, log_level
  ConfigLoader reload_;
  HostFeatures host_;
  Filters filters_;
  Clock clock_;
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

void Agent::EmitStatus(std::string_view state, std::string_view probe, std::string_view reason,
                       const Details& details) {
  ++agent_types_["agent.status"];
  if (!probe.empty()) {
    const ProbeRunState st = state == "attached" ? ProbeRunState::kAttached
                             : state == "failed" ? ProbeRunState::kFailed
                                                 : ProbeRunState::kDisabled;
    probe_state_[std::string(probe)] = {st, std::string(reason)};
  }
  auto& w = out_->Begin(0, "agent.status", Clock::UnixNs());
  w.KObject("status");
  w.KV("state", state);
  if (!probe.empty()) w.KV("probe", probe);
  if (!reason.empty()) w.KV("reason", reason);
  if (probe.empty()) {
    w.KV("kernel_release", host_.kernel_release()).KV("btf", host_.btf());
    w.KV("tracefs", host_.tracefs() ? std::string_view(host_.tracefs_path()) : std::string_view());
    w.KV("pid", static_cast<uint32_t>(::getpid()));
  }
  if (!details.empty()) {
    w.KObject("details");
    for (const auto& [k, v] : details) w.KV(k, v);
    w.EndObject();
  }
  w.EndObject();
  out_->End();
}

void Agent::DrainRings() {
  if (rb_) ring_buffer__consume(rb_.get());
  const uint64_t now = Clock::BootNs();
  for (auto& ap : probes_) ap->probe->Tick(now);
}

void Agent::RollupAll(uint64_t start_ns, uint64_t end_ns) {
  for (auto& ap : probes_) ap->probe->Rollup(start_ns, end_ns);
}

// Lines still queued for a sink when the agent stops get this long to be written.
constexpr std::chrono::seconds kStopTimeout{5};

void WriteDropped(JsonWriter& w, const std::array<uint64_t, kDropReasons>& d) {
  w.KObject("dropped_by_reason");
  for (size_t r = 0; r < kDropReasons; ++r) {
    if (d[r]) w.KV(DropReasonName(static_cast<DropReason>(r)), d[r]);
  }
  w.EndObject();
}

void LossRecord(Output& out, std::string_view probe, std::string_view reason, uint64_t delta,
                uint64_t total, std::string_view sink, uint64_t start_ns, uint64_t end_ns) {
  auto& lw = out.Begin(0, "agent.loss", end_ns);
  lw.KObject("loss").KV("probe", probe).KV("reason", reason).KV("count", delta).KV("total", total);
  if (!sink.empty()) lw.KV("sink", sink);
  if (reason == "map_full") lw.KV("note", "in-kernel aggregation updates lost: raise the map size");
  lw.EndObject();
  lw.KObject("interval").Key("start").Rfc3339(start_ns).Key("end").Rfc3339(end_ns).EndObject();
  out.End();
  if (sink.empty()) {
    spdlog::warn("{}: {} events dropped ({}) in the last interval", probe, delta, reason);
  } else {
    spdlog::warn("{}: {} events dropped ({}) at {} in the last interval", probe, delta, reason,
                 sink);
  }
}

void Agent::EmitHeartbeatAndLoss(uint64_t start_ns, uint64_t end_ns) {
  for (auto& ap : probes_) {
    const BpfTotals t = ap->probe->ReadBpfTotals();
    out_->SetBpfTotals(ap->id, t.seen, t.ring_full, t.map_full);
  }
  // Hand everything formatted so far to the writers: every record counted
  // as seen before this point is now emitted, dropped or queued at each sink.
  out_->Flush();
  const OutputSnapshot snap = out_->Snapshot();
  const size_t n = snap.probes.size();
  reported_.resize(n);
  reported_agg_.resize(n);

  ++agent_types_["agent.heartbeat"];
  auto& w = out_->Begin(0, "agent.heartbeat", end_ns);
  w.KObject("counters");
  for (size_t i = 0; i < n; ++i) {
    const ProbeSnapshot& p = snap.probes[i];
    SinkView first;
    if (!p.sinks.empty()) first = p.sinks[0];
    w.KObject(p.name);
    // The top-level numbers are the first sink's (the first --output).
    w.KV("seen", p.seen).KV("emitted", first.emitted).KV("dropped", first.dropped_total());
    WriteDropped(w, first.dropped);
    w.KV("queued", first.queued);
    if (i != 0) w.KV("bpf_seen", p.bpf_seen).KV("received", p.received);
    w.KV("aggregation_lost", p.aggregation_lost);
    w.KObject("sinks");
    for (size_t s = 0; s < p.sinks.size(); ++s) {
      const SinkView& v = p.sinks[s];
      w.KObject(snap.sinks[s].name);
      w.KV("emitted", v.emitted).KV("dropped", v.dropped_total());
      WriteDropped(w, v.dropped);
      w.KV("queued", v.queued);
      w.EndObject();
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndObject();
  w.KObject("sinks");
  for (const SinkSnapshot& s : snap.sinks) {
    w.KObject(s.name);
    w.KV("kind", s.file ? "file" : "stream").KV("state", s.state);
    w.KV("queued_bytes", s.queued_bytes).KV("queue_size", s.queue_size);
    w.KV("seq_gaps", s.seq_gaps);
    if (s.file) w.KV("rotations", s.rotations);
    w.EndObject();
  }
  w.EndObject();
  w.KObject("interval").Key("start").Rfc3339(start_ns).Key("end").Rfc3339(end_ns).EndObject();
  out_->End();

  for (size_t i = 0; i < n; ++i) {
    const ProbeSnapshot& p = snap.probes[i];
    // Before the sinks (ring_full, rate_limited): once, for every sink.
    for (size_t r = 0; r < kDropReasons; ++r) {
      const uint64_t total = p.dropped_before_sinks[r];
      if (total == reported_[i][r]) continue;
      LossRecord(*out_, p.name, DropReasonName(static_cast<DropReason>(r)), total - reported_[i][r],
                 total, "", start_ns, end_ns);
      ++agent_types_["agent.loss"];
      reported_[i][r] = total;
    }
    // At each sink (queue_full, sink_error, disk_full, rotation): per sink.
    for (size_t s = 0; s < p.sinks.size(); ++s) {
      auto& rep = reported_sink_[snap.sinks[s].name];
      rep.resize(n);
      for (size_t r = 0; r < kDropReasons; ++r) {
        const uint64_t total = p.sinks[s].dropped[r] - p.dropped_before_sinks[r];
        if (total <= rep[i][r]) continue;
        LossRecord(*out_, p.name, DropReasonName(static_cast<DropReason>(r)), total - rep[i][r],
                   total, snap.sinks[s].name, start_ns, end_ns);
        ++agent_types_["agent.loss"];
        rep[i][r] = total;
      }
    }
    if (p.aggregation_lost > reported_agg_[i]) {
      LossRecord(*out_, p.name, "map_full", p.aggregation_lost - reported_agg_[i],
                 p.aggregation_lost, "", start_ns, end_ns);
      ++agent_types_["agent.loss"];
      reported_agg_[i] = p.aggregation_lost;
    }
  }
  out_->Flush();
  PublishMetrics(snap, end_ns);
}

void Agent::PublishMetrics(const OutputSnapshot& snap, uint64_t heartbeat_unix_ns) {
  if (!metrics_) return;
  auto s = std::make_shared<MetricsSnapshot>();
  s->version = KSIGHT_VERSION;
  s->revision = kGitRevision;
  s->heartbeat_unix_ns = heartbeat_unix_ns;
  for (size_t i = 0; i < snap.probes.size(); ++i) {
    const ProbeSnapshot& p = snap.probes[i];
    ProbeMetrics pm;
    pm.name = p.name;
    pm.is_probe = i != 0;
    if (auto it = probe_state_.find(pm.name); pm.is_probe && it != probe_state_.end()) {
      pm.state = it->second.first;
      pm.reason = it->second.second;
    }
    // As the heartbeat's top-level counters: the first output's view.
    pm.seen = p.seen;
    pm.aggregation_lost = p.aggregation_lost;
    const std::array<uint64_t, kDropReasons> none{};
    pm.emitted = p.sinks.empty() ? 0 : p.sinks[0].emitted;
    const auto& dropped = p.sinks.empty() ? none : p.sinks[0].dropped;
    for (size_t r = 0; r < kDropReasons; ++r)
      pm.dropped.emplace_back(DropReasonName(static_cast<DropReason>(r)), dropped[r]);
    s->probes.push_back(std::move(pm));
  }
  MetricsSink agent_sink(s->probe_samples, out_->probe_name(0));
  for (const auto& [type, n] : agent_types_) agent_sink.Events(type, n);
  for (const auto& ap : probes_) {
    MetricsSink sink(s->probe_samples, out_->probe_name(ap->id));
    ap->probe->Metrics(sink);
  }
  metrics_->Publish(std::move(s));
}

bool SameOutput(const Config& a, const Config& b) {
  return a.output == b.output && a.queue_size == b.queue_size && a.file_mode == b.file_mode &&
         a.max_size == b.max_size && a.max_backups == b.max_backups && a.compress == b.compress &&
         a.max_total_size == b.max_total_size;
}

// Settings the running probes were started with: a change needs a restart.
std::vector<std::string> NeedRestart(const Config& a, const Config& b) {
  std::vector<std::string> keys;
  auto check = [&](bool same, const char* key) {
    if (!same) keys.emplace_back(key);
  };
  check(a.probes == b.probes, "probes");
  check(a.pids == b.pids, "filter.pid");
  check(a.comms == b.comms, "filter.comm");
  check(a.cgroups == b.cgroups, "filter.cgroup");
  check(a.ring_bytes == b.ring_bytes, "ring_size");
  check(a.slow == b.slow, "syscalls.slow");
  check(a.watch_errnos == b.watch_errnos, "syscalls.watch_errnos");
  check(a.syscall_stats_entries == b.syscall_stats_entries, "syscalls.stats_entries");
  check(a.tcp_ports == b.tcp_ports, "tcp_retransmit.ports");
  check(a.host_name == b.host_name, "host_name");
  check(a.duration == b.duration, "duration");
  return keys;
}

void Agent::Reload() {
  if (!reload_) return;
  auto next = reload_();
  if (!next) {
    const std::string msg = next.status().message();
    spdlog::error("SIGHUP: config not reloaded, still running with the previous one: {}", msg);
    EmitStatus("reload_failed", "", msg);
    out_->Flush();
    return;
  }
  Config& n = next.value();
  std::vector<std::string> applied;
  if (!SameOutput(live_, n)) {
    auto sinks = OpenSinks(n);
    if (!sinks) {
      const std::string msg = sinks.status().message();
      spdlog::error("SIGHUP: config not reloaded, still running with the previous one: {}", msg);
      EmitStatus("reload_failed", "", msg);
      out_->Flush();
      return;
    }
    out_->ReplaceSinks(std::move(*sinks), kStopTimeout);
    applied.emplace_back("output");
  }
  if (n.interval != live_.interval) applied.emplace_back("interval");
  if (n.drain_interval != live_.drain_interval) applied.emplace_back("drain_interval");
  if (n.log_level != live_.log_level) {
    spdlog::set_level(spdlog::level::from_str(n.log_level));
    applied.emplace_back("log_level");
  }
  const std::vector<std::string> restart = NeedRestart(cfg_, n);
  live_.output = n.output;
  live_.queue_size = n.queue_size;
  live_.file_mode = n.file_mode;
  live_.max_size = n.max_size;
  live_.max_backups = n.max_backups;
  live_.compress = n.compress;
  live_.max_total_size = n.max_total_size;
  live_.interval = n.interval;
  live_.drain_interval = n.drain_interval;
  live_.log_level = n.log_level;
  const auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& k : v) s += (s.empty() ? "" : ", ") + k;
    return s.empty() ? std::string("none") : s;
  };
  Details d{{"applied", join(applied)}, {"restart_needed", join(restart)}};
  std::string reason =
      applied.empty() ? "SIGHUP: nothing to apply" : "SIGHUP: applied " + join(applied);
  if (!restart.empty()) {
    reason += "; changed but kept until a restart: " + join(restart);
    spdlog::warn("SIGHUP: {} changed; these apply at the next restart", join(restart));
  }
  spdlog::info("{}", reason);
  EmitStatus("reloaded", "", reason, d);
  out_->Flush();
}

void Agent::ReopenOutputs() {
  // Everything formatted before the signal goes to the old file; the
  // agent.status that follows is the first line each reopened file gets.
  const auto results = out_->ReopenFiles(std::chrono::milliseconds(kStopTimeout));
  if (results.empty()) {
    spdlog::info("SIGUSR1: no output file to reopen");
    return;
  }
  Details details;
  std::string failed;
  for (const auto& [name, st] : results) {
    details.emplace_back(name, st.ok() ? "reopened" : st.message());
    if (!st.ok()) {
      spdlog::error("SIGUSR1: cannot reopen {}, still writing to the old file: {}", name,
                    st.message());
      failed += (failed.empty() ? "" : "; ") + st.message();
    }
  }
  if (failed.empty()) spdlog::info("SIGUSR1: reopened {} output file(s)", results.size());
  EmitStatus(failed.empty() ? "reopened" : "reopen_failed", "",
             failed.empty() ? "SIGUSR1" : "SIGUSR1: " + failed, details);
  out_->Flush();
}

int Agent::Run() {
  host_ = HostFeatures::Probe(/*mount_tracefs=*/true);
  if (!host_.privileged()) {
    spdlog::error("{}", host_.privilege_error());
    return kExitRuntime;
  }
  auto filters = ResolveFilters(cfg_);
  if (!filters) {
    spdlog::error("{}", filters.status().message());
    return kExitUsage;
  }
  filters_ = std::move(filters.value());
  // Bind /metrics first: a busy or wrong address fails here, with one line.
  if (auto addr = ParseListenAddr(cfg_.metrics_addr); addr && !addr->off) {
    MetricsServer::Options mo;
    mo.addr = *addr;
    mo.ready_stale_ns = std::max<uint64_t>(5'000'000'000ULL,
                                           50 * static_cast<uint64_t>(cfg_.drain_interval.count()));
    auto srv = MetricsServer::Listen(mo);
    if (!srv) {
      spdlog::error("{}", srv.status().message());
      return kExitRuntime;
    }
    metrics_ = std::move(srv.value());
  }
  if (!host_.tracefs()) spdlog::warn("{}", host_.tracefs_error());
  if (host_.tracefs_mounted_by_us()) spdlog::info("mounted tracefs at {}", host_.tracefs_path());

  auto sinks = OpenSinks(cfg_);
  if (!sinks) {
    spdlog::error("{}", sinks.status().message());
    return kExitRuntime;
  }
  // A reader that goes away is a sink_error on that sink, not the end of the agent.
  ::signal(SIGPIPE, SIG_IGN);
  out_ = std::make_unique<Output>(EnvelopeInfo{HostName(cfg_), KSIGHT_VERSION, NewInstanceId()});
  for (auto& [sink, queue] : *sinks) out_->AddSink(std::move(sink), queue);
  clock_ = Clock::Now();
  InstallLibbpfLogger();

  // Block the signals we handle; they arrive through a signalfd.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGUSR1);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  FdCloser sfd{signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)};

  EmitStatus("starting", "", "");

  // Select probes: the configured list, or all.
  std::vector<const ProbeInfo*> selected;
  for (const auto& info : ProbeRegistry()) {
    if (cfg_.probes.empty() ||
        std::find(cfg_.probes.begin(), cfg_.probes.end(), info.name) != cfg_.probes.end())
      selected.push_back(&info);
  }
  const auto self = static_cast<uint32_t>(::getpid());
  const uint64_t t0 = Clock::BootNs();
  for (const ProbeInfo* info : selected) {
    auto ap = std::make_unique<ActiveProbe>();
    ap->probe = info->make();
    ap->out = out_.get();
    ap->id = out_->RegisterProbe(std::string(info->name));
    const ProbeCheck chk = ap->probe->Check(host_);
    if (!chk.runnable) {
      spdlog::warn("probe {} disabled: {}", info->name, chk.reason);
      EmitStatus("disabled", info->name, chk.reason, chk.details);
      continue;
    }
    ap->ctx = std::make_unique<ProbeContext>(
        ProbeContext{cfg_, host_, filters_, *out_, ap->id, self, clock_});
    const Status st = ap->probe->Start(*ap->ctx);
    if (!st.ok()) {
      spdlog::error("probe {} failed to start: {}", info->name, st.message());
      EmitStatus("failed", info->name, st.message(), chk.details);
      ap->probe->Stop();
      continue;
    }
    const int fd = ap->probe->RingFd();
    if (fd >= 0) {
      int r = 0;
      if (!rb_) {
        rb_.reset(ring_buffer__new(fd, OnRing, ap.get(), nullptr));
        if (!rb_) r = -errno;
      } else {
        r = ring_buffer__add(rb_.get(), fd, OnRing, ap.get());
      }
      if (r) {
        const Status e = LibbpfError("adding the probe's ring to the poller", r);
        EmitStatus("failed", info->name, e.message());
        ap->probe->Stop();
        continue;
      }
    }
    spdlog::info("probe {} attached ({})", info->name, chk.reason);
    if (metrics_) metrics_->LoopTick(Clock::BootNs());
    EmitStatus("attached", info->name, chk.reason, ap->probe->StatusDetails());
    probes_.push_back(std::move(ap));
  }
  if (probes_.empty()) {
    spdlog::error("no probe could start on this host; run `ksight check` to see why");
    EmitStatus("stopped", "", "no probe could start");
    out_->StopSinks(kStopTimeout);
    return kExitRuntime;
  }
  const double startup_ms = static_cast<double>(Clock::BootNs() - t0) / 1e6;
  spdlog::info("{} probe(s) attached in {:.1f} ms; writing to {}", probes_.size(), startup_ms,
               OutputNames(cfg_));
  // Least privilege: attach is done; keep only what the run needs from here
  // (capabilities are per thread: helper threads started earlier, the output
  // writers, run without any from their start; see core/thread.h).
  Details running_details;
  if (auto caps = DropCapabilities(probes_.front()->probe->RingFd()); caps) {
    spdlog::info("capabilities dropped; kept: {}", caps->Summary());
    running_details.emplace_back("capabilities", caps->Summary());
  } else {
    spdlog::warn("could not drop capabilities: {}", caps.status().message());
    running_details.emplace_back("capabilities", "not dropped: " + caps.status().message());
  }
  const std::string running =
      fmt::format("{} probe(s) attached in {:.1f} ms", probes_.size(), startup_ms);
  EmitStatus("running", "", running, running_details);
  out_->Flush();
  if (metrics_) {
    PublishMetrics(out_->Snapshot(), 0);
    metrics_->DrainTick(Clock::BootNs());  // the rings were just created: nothing is behind
    metrics_->SetPhase(AgentPhase::kRunning);
    metrics_->Start();
  }
  notify_.Ready(running);

  FdCloser ep{epoll_create1(EPOLL_CLOEXEC)};
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = sfd.fd;
  epoll_ctl(ep.fd, EPOLL_CTL_ADD, sfd.fd, &ev);
  if (rb_) {
    ev.data.fd = ring_buffer__epoll_fd(rb_.get());
    epoll_ctl(ep.fd, EPOLL_CTL_ADD, ev.data.fd, &ev);
  }

  auto interval_ns = static_cast<uint64_t>(live_.interval.count());
  auto drain_ms = static_cast<int>(std::max<int64_t>(1, live_.drain_interval.count() / 1000000));
  const uint64_t start_boot = Clock::BootNs();
  const uint64_t deadline = cfg_.duration.count() > 0
                                ? start_boot + static_cast<uint64_t>(cfg_.duration.count())
                                : UINT64_MAX;
  uint64_t interval_start_unix = Clock::UnixNs();
  uint64_t next_rollup = start_boot + interval_ns;
  bool stop = false;
  std::string stop_reason = "duration reached";
  while (!stop) {
    epoll_event evs[4];
    const int n = epoll_wait(ep.fd, evs, 4, drain_ms);
    out_->AllowWait(std::chrono::milliseconds(drain_ms));
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.fd != sfd.fd) continue;
      signalfd_siginfo si{};
      while (::read(sfd.fd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
          stop = true;
          stop_reason = si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
        } else if (si.ssi_signo == SIGUSR1) {
          ReopenOutputs();
        } else if (si.ssi_signo == SIGHUP) {
          Reload();
          drain_ms = static_cast<int>(std::max<int64_t>(1, live_.drain_interval.count() / 1000000));
          if (static_cast<uint64_t>(live_.interval.count()) != interval_ns) {
            interval_ns = static_cast<uint64_t>(live_.interval.count());
            next_rollup = Clock::BootNs() + interval_ns;
          }
        }
      }
    }
    DrainRings();
    const uint64_t now = Clock::BootNs();
    if (metrics_) {
      metrics_->LoopTick(now);
      metrics_->DrainTick(now);
    }
    notify_.Tick(now);
    if (now >= deadline) stop = true;
    if (now >= next_rollup && !stop) {
      const uint64_t end_unix = Clock::UnixNs();
      RollupAll(interval_start_unix, end_unix);
      EmitHeartbeatAndLoss(interval_start_unix, end_unix);
      interval_start_unix = end_unix;
      next_rollup += interval_ns;
      if (next_rollup <= now) next_rollup = now + interval_ns;
      clock_ = Clock::Now();  // follow NTP steps
    }
    out_->Flush();
  }

  // Shutdown: detach, drain what is left in the rings, final rollups, flush.
  spdlog::info("stopping ({})", stop_reason);
  notify_.Stopping(stop_reason);
  if (metrics_) metrics_->SetPhase(AgentPhase::kStopping);
  for (auto& ap : probes_) ap->probe->Stop();
  DrainRings();
  const uint64_t end_unix = Clock::UnixNs();
  RollupAll(interval_start_unix, end_unix);
  // Let the writers finish, so the final heartbeat has nothing queued.
  if (!out_->Settle(kStopTimeout)) spdlog::warn("an output is not keeping up; stopping anyway");
  EmitHeartbeatAndLoss(interval_start_unix, end_unix);
  EmitStatus("stopped", "", stop_reason);
  out_->StopSinks(kStopTimeout);
  return kExitOk;
}

}  // namespace

int RunAgent(const Config& cfg, ConfigLoader reload) {
  Agent agent(cfg, std::move(reload));
  return agent.Run();
}

int CheckHost(const Config& cfg) {
  HostFeatures host = HostFeatures::Probe(/*mount_tracefs=*/true);
  std::printf("kernel   %s\n", host.kernel_release().c_str());
  std::printf("btf      %s\n",
              host.btf() ? "yes (/sys/kernel/btf/vmlinux)" : host.btf_error().c_str());
  std::printf("tracefs  %s\n",
              host.tracefs() ? host.tracefs_path().c_str() : host.tracefs_error().c_str());
  std::printf("privs    %s\n", host.privileged() ? "ok" : host.privilege_error().c_str());
  std::printf("\n%-16s %-9s %s\n", "PROBE", "VERDICT", "DETAIL");
  int runnable = 0;
  for (const auto& info : ProbeRegistry()) {
    if (!cfg.probes.empty() &&
        std::find(cfg.probes.begin(), cfg.probes.end(), info.name) == cfg.probes.end())
      continue;
    auto p = info.make();
    const ProbeCheck c = p->Check(host);
    const bool ok = c.runnable && host.privileged();
    runnable += ok;
    std::printf("%-16.*s %-9s %s\n", static_cast<int>(info.name.size()), info.name.data(),
                ok ? "ok" : "disabled", ok || !c.runnable ? c.reason.c_str() : "needs privileges");
    for (const auto& [k, v] : c.details)
      std::printf("%-16s   %-24s %s\n", "", k.c_str(), v.c_str());
  }
  if (runnable == 0) {
    std::fprintf(stderr, "ksight: no probe can run on this host\n");
    return kExitRuntime;
  }
  return kExitOk;
}

}  // namespace ksight
