// identity_bench - what workload identity adds to a record: IdentityCache::Of + WriteIdentity
// for a process in a cached cgroup (the common case), in the v2 root on a cgroup v1 host (a
// per-pid cache hit), and the first lookup of a new cgroup id (a /proc read). Prints one JSON
// object; bench/run.py runs it (`make bench`).
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "core/json_writer.h"
#include "core/workload_identity.h"

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double NsPer(int n, F&& f) {
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) f(i);
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / n;
}

}  // namespace

int main() {
  using ksight::IdentityCache;
  const std::string cid(64, 'a');
  const std::string path = "/kubepods.slice/kubepods-burstable.slice/"
                           "kubepods-burstable-pod0a1b2c3d_4e5f_6071_8293_a4b5c6d7e8f9.slice/"
                           "cri-containerd-" + cid + ".scope";
  std::string out;
  out.reserve(1 << 20);
  ksight::JsonWriter w(out);
  volatile size_t sink = 0;

  // A cached cgroup id: one hash lookup, then the container and k8s objects.
  IdentityCache::Options o;
  IdentityCache cached(o);
  for (uint64_t id = 1000; id < 1000 + 4096; ++id) cached.Learn(id, path);
  const int n = 2'000'000;
  const double lookup = NsPer(n, [&](int i) {
    sink = sink + cached.Of(1000 + (static_cast<uint64_t>(i) & 4095), 1).cgroup_path.size();
  });
  const double write = NsPer(n, [&](int i) {
    if ((i & 1023) == 0) {
      out.clear();
      w.Reset();
    }
    w.BeginObject();
    const ksight::Identity& id = cached.Of(1000 + (static_cast<uint64_t>(i) & 4095), 1);
    ksight::WriteIdentity(w, id, cached.PodOf(id));
    w.EndObject();
    w.Flush();
  });
  const double none = NsPer(n, [&](int) { sink = sink + cached.Of(0, 0).cgroup_path.size(); });

  // cgroup v1 host: the live process's memory cgroup, cached per pid.
  IdentityCache::Options v1o;
  v1o.v1 = true;
  IdentityCache v1(v1o);
  const auto self = static_cast<uint32_t>(::getpid());
  v1.Of(0, self);
  const double v1_hit = NsPer(n, [&](int) { sink = sink + v1.Of(0, self).cgroup_path.size(); });

  // A new cgroup id each time, resolved from /proc/<pid>/cgroup (+ a stat of the directory).
  IdentityCache::Options v2o = IdentityCache::ForHost();
  v2o.v1 = false;
  IdentityCache fresh(v2o);
  const int m = 2000;
  const double miss = NsPer(m, [&](int i) {
    sink = sink + fresh.Of(1'000'000'000ULL + static_cast<uint64_t>(i), self).cgroup_path.size();
  });
  std::printf(
      "{\"lookup_cached_ns\":%.1f,\"lookup_and_write_ns\":%.1f,\"no_cgroup_ns\":%.1f,"
      "\"v1_pid_cached_ns\":%.1f,\"first_lookup_ns\":%.0f,\"bytes_per_record\":%zu}\n",
      lookup, write, none, v1_hit, miss,
      static_cast<size_t>(out.size() / ((n - 1) % 1024 + 1)));
  return sink == 42 ? 1 : 0;
}
