#include "core/metrics_server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>

namespace ksight {
namespace {

uint64_t BootNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t ReadBootTime() {
  std::ifstream in("/proc/stat");
  std::string key;
  uint64_t v = 0;
  while (in >> key) {
    if (key == "btime" && (in >> v)) return v;
  }
  return 0;
}

std::string ReadAll(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// httplib only says that binding failed: bind a socket the same way to learn why.
std::string BindError(const ListenAddr& a) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(a.port);
  if (int r = ::getaddrinfo(a.host.c_str(), port.c_str(), &hints, &res); r != 0)
    return fmt::format("cannot resolve '{}': {}", a.host, gai_strerror(r));
  int err = 0;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    const int yes = 1;
    // Without SO_REUSEADDR a port in TIME_WAIT would read as "in use": fail on its own error.
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes)) != 0) {
      err = errno;
      (void)::close(fd);
      break;
    }
    const int r = ::bind(fd, ai->ai_addr, ai->ai_addrlen);
    err = r == 0 ? 0 : errno;
    if (r == 0 && ::listen(fd, 1) != 0) err = errno;
    (void)::close(fd);  // a trial socket: nothing to lose
    if (err) break;
  }
  ::freeaddrinfo(res);
  switch (err) {
    case EADDRINUSE:
      return "the address is already in use (another ksight, or another exporter, listens there)";
    case EADDRNOTAVAIL:
      return "no interface of this host has that address";
    case EACCES:
      return "permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)";
    case 0:
      return "binding failed (the address was busy for a moment; try again)";
    default:
      return std::strerror(err);
  }
}

}  // namespace

MetricsServer::MetricsServer(Options opt)
    : opt_(std::move(opt)),
      svr_(std::make_unique<httplib::Server>()),
      boot_time_s_(ReadBootTime()) {}

MetricsServer::~MetricsServer() { Stop(); }

Result<std::unique_ptr<MetricsServer>> MetricsServer::Listen(const Options& opt) {
  std::unique_ptr<MetricsServer> s(new MetricsServer(opt));
  s->last_loop_ns_ = BootNowNs();
  httplib::Server& svr = *s->svr_;
  // Scrapes are rare and small: two workers, short timeouts, so a stuck
  // client never holds the agent's shutdown for long.
  svr.new_task_queue = [] { return new httplib::ThreadPool(2); };
  svr.set_keep_alive_max_count(10);
  svr.set_keep_alive_timeout(2);
  svr.set_read_timeout(2, 0);
  svr.set_write_timeout(2, 0);
  svr.set_payload_max_length(4096);
  MetricsServer* self = s.get();
  svr.Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
    res.set_content(self->Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  auto health = [](const HealthVerdict& v, httplib::Response& res) {
    res.status = v.ok ? 200 : 503;
    res.set_content(v.reason + "\n", "text/plain; charset=utf-8");
  };
  svr.Get("/healthz", [self, health](const httplib::Request&, httplib::Response& res) {
    health(self->Liveness(), res);
  });
  svr.Get("/readyz", [self, health](const httplib::Request&, httplib::Response& res) {
    health(self->Readiness(), res);
  });
  if (!svr.bind_to_port(opt.addr.host, opt.addr.port)) {
    return Status::Error(fmt::format(
        "cannot serve /metrics on {}:{}: {}; choose another address with --metrics-addr "
        "HOST:PORT (config metrics_addr), or disable it with --metrics-addr off",
        opt.addr.host, opt.addr.port, BindError(opt.addr)));
  }
  return s;
}

void MetricsServer::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    if (!svr_->listen_after_bind()) spdlog::error("the /metrics server stopped: accept failed");
    thread_done_ = true;
  });
}

void MetricsServer::Stop() {
  if (!thread_.joinable()) return;
  // stop() acts only once the server runs: wait for that (or for its end).
  while (!thread_done_) {
    if (svr_->is_running()) {
      svr_->stop();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  thread_.join();
}

void MetricsServer::Publish(std::shared_ptr<const MetricsSnapshot> snap) {
  std::lock_guard<std::mutex> l(mu_);
  snap_ = std::move(snap);
}

std::string MetricsServer::Render() const {
  std::shared_ptr<const MetricsSnapshot> snap;
  {
    std::lock_guard<std::mutex> l(mu_);
    snap = snap_;
  }
  static const MetricsSnapshot kEmpty;
  const ProcessStats ps = ParseProcStat(ReadAll("/proc/self/stat"), ::sysconf(_SC_CLK_TCK),
                                        ::sysconf(_SC_PAGESIZE), boot_time_s_);
  return RenderPrometheus(snap ? *snap : kEmpty, ps);
}

HealthInputs MetricsServer::Inputs() const {
  HealthInputs in;
  in.phase = phase_.load(std::memory_order_relaxed);
  in.last_loop_ns = last_loop_ns_.load(std::memory_order_relaxed);
  in.last_drain_ns = last_drain_ns_.load(std::memory_order_relaxed);
  in.now_ns = BootNowNs();
  in.live_stale_ns = opt_.live_stale_ns;
  in.ready_stale_ns = opt_.ready_stale_ns;
  std::shared_ptr<const MetricsSnapshot> snap;
  {
    std::lock_guard<std::mutex> l(mu_);
    snap = snap_;
  }
  if (snap) {
    for (const auto& p : snap->probes) {
      if (!p.is_probe) continue;
      in.probes.emplace_back(p.name, p.state);
      in.probe_reasons.push_back(p.reason);
    }
  }
  return in;
}

HealthVerdict MetricsServer::Liveness() const { return EvaluateLiveness(Inputs()); }
HealthVerdict MetricsServer::Readiness() const { return EvaluateReadiness(Inputs()); }

}  // namespace ksight
