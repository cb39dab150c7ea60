// histogram.h - percentiles from a log2 histogram, as the BPF probes keep
// them: bucket i counts values in [2^i, 2^(i+1)), bucket 0 counts [0, 2),
// and the last bucket is open-ended.
#pragma once

#include <cstdint>
#include <span>

namespace ksight {

// The q-quantile (0 < q <= 1), interpolated linearly inside its bucket and
// clamped to max_value (the true maximum, when known; 0 = unknown).
// Returns 0 for an empty histogram.
uint64_t Log2Percentile(std::span<const uint64_t> buckets, double q, uint64_t max_value = 0);

// Index of the bucket for value v (the same rule as the BPF side).
uint32_t Log2Bucket(uint64_t v, uint32_t nbuckets);

}  // namespace ksight
