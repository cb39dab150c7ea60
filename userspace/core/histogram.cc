#include "core/histogram.h"

#include <algorithm>
#include <cmath>

extern "C" {
#include "ksight_log2.h"
}

namespace ksight {
namespace {

// The smallest value of bucket i, as a double (bucket 64 is the end of the u64 range).
double BucketMin(size_t i) {
  return i < 64 ? static_cast<double>(ks_log2_slot_min(static_cast<uint32_t>(i)))
                : std::ldexp(1.0, static_cast<int>(i));
}

}  // namespace

uint64_t Log2Percentile(std::span<const uint64_t> buckets, double q, uint64_t max_value) {
  uint64_t total = 0;
  for (uint64_t c : buckets) total += c;
  if (total == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // Rank of the wanted sample, 1-based: the smallest r with r >= q * total.
  const auto rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(total))));
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    const uint64_t c = buckets[i];
    if (c == 0) continue;
    if (seen + c >= rank) {
      const double lo = BucketMin(i);
      const double hi = BucketMin(i + 1);
      const double frac = static_cast<double>(rank - seen) / static_cast<double>(c);
      auto v = static_cast<uint64_t>(lo + (hi - lo) * frac);
      if (max_value != 0) v = std::min(v, max_value);
      return v;
    }
    seen += c;
  }
  return max_value;
}

Log2Delta Log2CumulativeDelta(const Log2Cumulative& cur, const Log2Cumulative& prev,
                              std::span<uint64_t> hist_out, bool restarted) {
  const size_t n = std::min(cur.hist.size(), hist_out.size());
  const auto prev_bucket = [&](size_t i) { return i < prev.hist.size() ? prev.hist[i] : 0; };
  restarted = restarted || cur.count < prev.count || cur.sum < prev.sum;
  for (size_t i = 0; i < n && !restarted; ++i) restarted = cur.hist[i] < prev_bucket(i);

  Log2Delta d;
  d.restarted = restarted;
  const uint64_t base_max = restarted ? 0 : prev.max;
  d.count = cur.count - (restarted ? 0 : prev.count);
  d.sum = cur.sum - (restarted ? 0 : prev.sum);
  int top = -1;
  for (size_t i = 0; i < n; ++i) {
    hist_out[i] = cur.hist[i] - (restarted ? 0 : prev_bucket(i));
    if (hist_out[i] != 0) top = static_cast<int>(i);
  }
  for (size_t i = n; i < hist_out.size(); ++i) hist_out[i] = 0;
  if (cur.max > base_max) {
    d.max = cur.max;
  } else if (top >= 0) {
    const auto above = static_cast<uint32_t>(top + 1);
    const uint64_t edge = above >= 64 ? UINT64_MAX : ks_log2_slot_min(above) - 1;
    d.max = std::min(edge, cur.max);
  }
  return d;
}

}  // namespace ksight
