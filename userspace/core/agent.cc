// agent.cc - `ksight run`: start-up (privileges, filters, /metrics, sinks, probes), the
// event loop (signals, ring drains, rollups, heartbeats) and shutdown. The agent's records
// are in agent_records.cc, SIGHUP/SIGUSR1 in agent_reload.cc, `ksight check` in
// agent_check.cc.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <csignal>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>

#include "core/agent_internal.h"
#include "core/privileges.h"
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

namespace agent_internal {
namespace {

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
      uint64_t id = 0;
      auto [ptr, ec] = std::from_chars(c.data(), c.data() + c.size(), id);
      if (ec != std::errc() || ptr != c.data() + c.size()) {
        return Status::Error(fmt::format("cgroup filter '{}' is not a cgroup id", c));
      }
      f.cgroup_ids.push_back(id);
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
  f.workload = !cfg.containers.empty() || !cfg.pods.empty() || !cfg.namespaces.empty();
  return f;
}

std::string OutputNames(const Config& cfg) {
  std::string names;
  for (const auto& o : cfg.output) names += (names.empty() ? "" : ", ") + (o == "-" ? "stdout" : o);
  return names;
}

int OnRing(void* ctx, void* data, size_t size) {
  auto* ap = static_cast<ActiveProbe*>(ctx);
  ap->out->CountReceived(ap->id);
  ap->probe->OnRecord(data, size);
  return 0;
}

}  // namespace

void Agent::DrainRings() {
  if (rb_) ring_buffer__consume(rb_.get());
  const uint64_t now = Clock::BootNs();
  for (auto& ap : probes_) ap->probe->Tick(now);
}

void Agent::RollupAll(uint64_t start_ns, uint64_t end_ns) {
  for (auto& ap : probes_) ap->probe->Rollup(start_ns, end_ns);
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
  wfilter_ = WorkloadFilter(cfg_.containers, cfg_.pods, cfg_.namespaces, filters_.cgroup_ids);
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
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) {
    spdlog::error("cannot block the agent's signals: {}", std::strerror(errno));
    out_->StopSinks(kStopTimeout);
    return kExitRuntime;
  }
  FdCloser sfd{signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)};
  if (sfd.fd < 0) {
    spdlog::error("cannot create the signal fd: {}", std::strerror(errno));
    out_->StopSinks(kStopTimeout);
    return kExitRuntime;
  }

  EmitStatus("starting", "", "");

  // Select probes: the configured list, or all.
  std::vector<const ProbeInfo*> selected;
  for (const auto& info : ProbeRegistry()) {
    if (cfg_.probes.empty() ||
        std::find(cfg_.probes.begin(), cfg_.probes.end(), info.name()) != cfg_.probes.end())
      selected.push_back(&info);
  }
  const auto self = static_cast<uint32_t>(::getpid());
  const uint64_t t0 = Clock::BootNs();
  // Every cgroup that exists now, so that records of processes in it resolve after it is gone.
  identity_.LearnTree();
  if (auto ko = KubeletClient::FromConfig(cfg_.Section(kKubernetesSection))) {
    kubelet_ = std::make_unique<KubeletClient>(std::move(*ko));
    kubelet_->Start();
    EmitStatus("metadata", "kubernetes",
               fmt::format("fetching the pod list from {} every {}", kubelet_->url(),
                           FormatDuration(cfg_.Section(kKubernetesSection).Duration("refresh"))));
  }
  // Pod names and namespaces come only from Kubernetes metadata: without it such a filter
  // could never match (a pod UID needs none: it is in the cgroup path).
  const bool pod_names = std::any_of(cfg_.pods.begin(), cfg_.pods.end(), [](const std::string& p) {
    return ParseCgroupPath("/pod" + p).pod_uid != p;
  });
  if (!kubelet_ && (!cfg_.namespaces.empty() || pod_names)) {
    spdlog::error(
        "--namespace and --pod NAME need Kubernetes metadata, which is off: set [kubernetes] "
        "kubelet_url (or --kubelet-url), or filter by --pod UID / --container ID");
    EmitStatus("stopped", "", "workload filter without Kubernetes metadata");
    out_->StopSinks(kStopTimeout);
    return kExitUsage;
  }
  for (const ProbeInfo* info : selected) {
    auto ap = std::make_unique<ActiveProbe>();
    ap->probe = info->make();
    ap->out = out_.get();
    ap->id = out_->RegisterProbe(std::string(info->name()));
    const ProbeCheck chk = ap->probe->Check(host_);
    if (!chk.runnable) {
      spdlog::warn("probe {} disabled: {}", info->name(), chk.reason);
      EmitStatus("disabled", info->name(), chk.reason, chk.details);
      continue;
    }
    ap->ctx = std::make_unique<ProbeContext>(ProbeContext{
        cfg_, cfg_.Section(info->name()), host_, filters_, *out_, ap->id, self, clock_, identity_});
    const Status st = ap->probe->Start(*ap->ctx);
    if (!st.ok()) {
      spdlog::error("probe {} failed to start: {}", info->name(), st.message());
      EmitStatus("failed", info->name(), st.message(), chk.details);
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
        EmitStatus("failed", info->name(), e.message());
        ap->probe->Stop();
        continue;
      }
    }
    spdlog::info("probe {} attached ({})", info->name(), chk.reason);
    if (metrics_) metrics_->LoopTick(Clock::BootNs());
    EmitStatus("attached", info->name(), chk.reason, ap->probe->StatusDetails());
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
  if (wfilter_.active()) {
    ApplyWorkloadFilter(/*rescan=*/false);
    running_details.emplace_back("workload_filter",
                                 fmt::format("{} cgroups match so far", wf_allowed_.size()));
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
  int ep_rc = ep.fd < 0 ? -1 : epoll_ctl(ep.fd, EPOLL_CTL_ADD, sfd.fd, &ev);
  if (ep_rc == 0 && rb_) {
    ev.data.fd = ring_buffer__epoll_fd(rb_.get());
    ep_rc = epoll_ctl(ep.fd, EPOLL_CTL_ADD, ev.data.fd, &ev);
  }
  if (ep_rc != 0) {
    // Without it the loop could neither see signals nor sleep: stop cleanly instead.
    spdlog::error("cannot set up the event loop (epoll): {}", std::strerror(errno));
    for (auto& ap : probes_) ap->probe->Stop();
    EmitStatus("stopped", "", "epoll setup failed");
    out_->StopSinks(kStopTimeout);
    return kExitRuntime;
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
    SyncKubernetes(/*heartbeat=*/false);
    DrainRings();
    if (wfilter_.active()) ApplyWorkloadFilter(/*rescan=*/false);
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
      if (wfilter_.active()) ApplyWorkloadFilter(/*rescan=*/true);
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

}  // namespace agent_internal

int RunAgent(const Config& cfg, ConfigLoader reload) {
  agent_internal::Agent agent(cfg, std::move(reload));
  return agent.Run();
}

}  // namespace ksight
