#include "core/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ksight {

uint32_t Log2Bucket(uint64_t v, uint32_t nbuckets) {
  const uint32_t b = v < 2 ? 0 : static_cast<uint32_t>(std::bit_width(v) - 1);
  return std::min(b, nbuckets - 1);
}

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
      const double lo = i == 0 ? 0.0 : std::ldexp(1.0, static_cast<int>(i));
      const double hi = std::ldexp(1.0, static_cast<int>(i) + 1);
      const double frac = static_cast<double>(rank - seen) / static_cast<double>(c);
      auto v = static_cast<uint64_t>(lo + (hi - lo) * frac);
      if (max_value != 0) v = std::min(v, max_value);
      return v;
    }
    seen += c;
  }
  return max_value;
}

}  // namespace ksight
