// kubelet_client.h - fetches the kubelet's pod list (core/k8s_metadata) on a thread of its own,
// every `refresh` and soon after the agent meets a pod it does not know, and hands the agent an
// immutable snapshot. Failures are counted by reason and never stop the agent: records keep
// their k8s.pod.uid, from the cgroup path.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/k8s_metadata.h"
#include "core/thread.h"

namespace ksight {

class KubeletClient {
 public:
  struct Options {
    std::string url;  // http(s)://HOST:PORT/path
    std::string token_file, ca_file;
    bool tls_verify = true;
    std::chrono::nanoseconds refresh = std::chrono::seconds(30);
    std::vector<std::string> labels;
  };
  // The options from the [kubernetes] section, or nullopt when metadata is off.
  static std::optional<Options> FromConfig(const SectionValues& s);

  explicit KubeletClient(Options opt);
  ~KubeletClient();
  KubeletClient(const KubeletClient&) = delete;
  KubeletClient& operator=(const KubeletClient&) = delete;

  void Start();
  // The latest pod list (null before the first success).
  std::shared_ptr<const PodMap> Pods() const;
  // A record named a pod the snapshot lacks: fetch again soon (at most every 5 s).
  void Wanted();

  struct State {
    bool ok = false;                           // the last fetch succeeded
    uint64_t fetches = 0;                      // successful fetches
    std::map<std::string, uint64_t> failures;  // by reason: connect, http_<status>, parse, token
    std::string last_error;                    // "" after a success
    size_t pods = 0;
  };
  State state() const;
  const std::string& url() const { return opt_.url; }

 private:
  void Loop();
  void FetchOnce();

  Options opt_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, wanted_ = false;
  std::shared_ptr<const PodMap> pods_;
  State state_;
  Thread thread_;  // core/thread.h: runs without capabilities
};

}  // namespace ksight
