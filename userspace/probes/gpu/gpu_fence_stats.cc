// gpu_fence_stats.cc - see gpu_fence_stats.h.
#include "probes/gpu/gpu_fence_stats.h"

#include <algorithm>
#include <cstring>

#include "core/histogram.h"

namespace ksight::gpu {
namespace {

std::string_view Name(const char* p, size_t n) { return {p, strnlen(p, n)}; }

}  // namespace

Latency Latency::From(const ks_gpu_lat& l) {
  Latency v;
  v.count = l.count;
  v.sum_ns = l.sum_ns;
  v.max_ns = l.max_ns;
  std::copy(std::begin(l.hist), std::end(l.hist), v.hist.begin());
  return v;
}

Latency LatencyDelta(const Latency& cur, const Latency& prev) {
  Latency d;
  const Log2Delta l =
      Log2CumulativeDelta({cur.count, cur.sum_ns, cur.max_ns, cur.hist},
                          {prev.count, prev.sum_ns, prev.max_ns, prev.hist}, d.hist);
  d.count = l.count;
  d.sum_ns = l.sum;
  d.max_ns = l.max;
  return d;
}

LatencySummary Summarize(const Latency& d) {
  LatencySummary s;
  s.count = d.count;
  s.sum_ns = d.sum_ns;
  s.max_ns = d.max_ns;
  s.p50_ns = Log2Percentile(d.hist, 0.50, d.max_ns);
  s.p90_ns = Log2Percentile(d.hist, 0.90, d.max_ns);
  s.p99_ns = Log2Percentile(d.hist, 0.99, d.max_ns);
  return s;
}

FenceStats FenceStats::From(const ks_gpu_fence_stats& s) {
  return {Latency::From(s.emit_to_signal), Latency::From(s.init_to_signal), Latency::From(s.wait)};
}

FenceStats FenceDelta(const FenceStats& cur, const FenceStats& prev) {
  return {LatencyDelta(cur.emit_to_signal, prev.emit_to_signal),
          LatencyDelta(cur.init_to_signal, prev.init_to_signal), LatencyDelta(cur.wait, prev.wait)};
}

std::string_view FenceKeyDriver(const ks_gpu_fence_key& k) {
  return Name(k.driver, sizeof(k.driver));
}
std::string_view FenceKeyTimeline(const ks_gpu_fence_key& k) {
  return Name(k.timeline, sizeof(k.timeline));
}
std::string FenceKeyString(const ks_gpu_fence_key& k) {
  std::string s(FenceKeyDriver(k));
  s.push_back('\0');
  s.append(FenceKeyTimeline(k));
  return s;
}

}  // namespace ksight::gpu
