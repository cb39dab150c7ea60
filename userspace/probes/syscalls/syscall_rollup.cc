#include "probes/syscalls/syscall_rollup.h"

#include <algorithm>

#include "core/histogram.h"

namespace ksight::syscalls {

StatsValue SumPerCpu(std::span<const ks_sys_stats> per_cpu) {
  StatsValue v;
  for (const auto& s : per_cpu) {
    v.count += s.count;
    v.errors += s.errors;
    v.lat_sum_ns += s.lat_sum_ns;
    v.lat_max_ns = std::max<uint64_t>(v.lat_max_ns, s.lat_max_ns);
    for (size_t i = 0; i < kHistSlots; ++i) v.hist[i] += s.hist[i];
  }
  return v;
}

StatsValue Delta(const StatsValue& cur, const StatsValue& prev) {
  StatsValue d;
  // Counters are monotonic; a smaller value means the entry was re-created.
  const bool reset = cur.count < prev.count;
  const StatsValue& base = reset ? StatsValue{} : prev;
  d.count = cur.count - base.count;
  d.errors = cur.errors - base.errors;
  d.lat_sum_ns = cur.lat_sum_ns - base.lat_sum_ns;
  int top = -1;
  for (size_t i = 0; i < kHistSlots; ++i) {
    d.hist[i] = cur.hist[i] - base.hist[i];
    if (d.hist[i]) top = static_cast<int>(i);
  }
  if (cur.lat_max_ns > base.lat_max_ns) {
    d.lat_max_ns = cur.lat_max_ns;
  } else if (top >= 0) {
    const uint64_t edge = top >= 63 ? UINT64_MAX : (uint64_t{2} << top) - 1;
    d.lat_max_ns = std::min(edge, cur.lat_max_ns);
  }
  return d;
}

Percentiles ComputePercentiles(const StatsValue& v) {
  return {Log2Percentile(v.hist, 0.50, v.lat_max_ns), Log2Percentile(v.hist, 0.90, v.lat_max_ns),
          Log2Percentile(v.hist, 0.99, v.lat_max_ns)};
}

}  // namespace ksight::syscalls
