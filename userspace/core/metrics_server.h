// metrics_server.h - /metrics, /healthz and /readyz over HTTP (cpp-httplib),
// served from its own threads. The agent thread only publishes: a new
// immutable snapshot at each heartbeat (under a mutex) and two timestamps
// (atomics) at each loop iteration and ring drain. The HTTP threads only read
// them and render (metrics.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/metrics.h"
#include "core/status.h"

namespace httplib {
class Server;
}

namespace ksight {

class MetricsServer {
 public:
  struct Options {
    ListenAddr addr;
    uint64_t live_stale_ns = 30'000'000'000;  // /healthz fails after this long without a loop
    uint64_t ready_stale_ns = 5'000'000'000;  // /readyz fails after this long without a drain
  };
  // Bind and listen on the calling thread (so a bad address fails at start,
  // with one line naming the address and the fix). Serving starts at Start().
  static Result<std::unique_ptr<MetricsServer>> Listen(const Options& opt);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Serve from now on (threads are created here: call it after the
  // capability drop so they inherit the reduced set).
  void Start();
  // Stop serving and join the threads.
  void Stop();

  void Publish(std::shared_ptr<const MetricsSnapshot> snap);
  void SetPhase(AgentPhase p) { phase_.store(p, std::memory_order_relaxed); }
  void LoopTick(uint64_t boot_ns) { last_loop_ns_.store(boot_ns, std::memory_order_relaxed); }
  void DrainTick(uint64_t boot_ns) { last_drain_ns_.store(boot_ns, std::memory_order_relaxed); }

  std::string Render() const;  // what GET /metrics returns
  HealthVerdict Liveness() const;
  HealthVerdict Readiness() const;

 private:
  explicit MetricsServer(Options opt);
  HealthInputs Inputs() const;

  Options opt_;
  std::unique_ptr<httplib::Server> svr_;
  std::thread thread_;
  std::atomic<bool> thread_done_{false};
  mutable std::mutex mu_;
  std::shared_ptr<const MetricsSnapshot> snap_;
  std::atomic<AgentPhase> phase_{AgentPhase::kStarting};
  std::atomic<uint64_t> last_loop_ns_{0};
  std::atomic<uint64_t> last_drain_ns_{0};
  uint64_t boot_time_s_ = 0;  // btime from /proc/stat
};

}  // namespace ksight
