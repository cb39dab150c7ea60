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
  // errors only grows too: below its previous value, the entry was re-created.
  const Log2Delta l = Log2CumulativeDelta({cur.count, cur.lat_sum_ns, cur.lat_max_ns, cur.hist},
                                          {prev.count, prev.lat_sum_ns, prev.lat_max_ns, prev.hist},
                                          d.hist, cur.errors < prev.errors);
  d.count = l.count;
  d.lat_sum_ns = l.sum;
  d.lat_max_ns = l.max;
  d.errors = cur.errors - (l.restarted ? 0 : prev.errors);
  return d;
}

Percentiles ComputePercentiles(const StatsValue& v) {
  return {Log2Percentile(v.hist, 0.50, v.lat_max_ns), Log2Percentile(v.hist, 0.90, v.lat_max_ns),
          Log2Percentile(v.hist, 0.99, v.lat_max_ns)};
}

}  // namespace ksight::syscalls
