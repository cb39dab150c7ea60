// histogram.h - percentiles from a log2 histogram, as the BPF probes keep
// them: bucket i counts values in [2^i, 2^(i+1)), bucket 0 counts [0, 2),
// and the last bucket is open-ended. The bucket rule itself is
// ks_log2_slot() in bpf/include/ksight_log2.h, the code the BPF programs run.
#pragma once

#include <cstdint>
#include <span>

namespace ksight {

// The q-quantile (0 < q <= 1), interpolated linearly inside its bucket and
// clamped to max_value (the true maximum, when known; 0 = unknown).
// Returns 0 for an empty histogram.
uint64_t Log2Percentile(std::span<const uint64_t> buckets, double q, uint64_t max_value = 0);

// One snapshot of a cumulative log2 distribution as a BPF map keeps it (never reset): count,
// sum and every bucket only grow; max is the largest value seen (not a counter: the BPF side
// updates it without an atomic, so a race can lower it).
struct Log2Cumulative {
  uint64_t count = 0;
  uint64_t sum = 0;
  uint64_t max = 0;
  std::span<const uint64_t> hist;  // empty = all zero (no previous snapshot)
};

// What moved between two snapshots of one distribution.
struct Log2Delta {
  uint64_t count = 0;
  uint64_t sum = 0;
  // Exact when the cumulative max grew in the interval; otherwise the upper edge of the
  // highest bucket that moved, capped by the cumulative max; 0 when nothing moved.
  uint64_t max = 0;
  // The entry started over since prev: the delta is all of cur (see Log2CumulativeDelta).
  bool restarted = false;
};

// The interval's delta, cur - prev, with the per-bucket delta written to hist_out (as many
// buckets as cur.hist; prev.hist is empty or as long as cur.hist).
//
// A counter that went backwards (count, sum or any bucket below its previous value) can only
// mean the map entry was deleted and re-created since prev (evicted when the map was full,
// pruned, its key reused): the BPF side only adds. Then cur is a new series and all of it
// happened after the previous read, so the delta is cur itself, as for the first read of a
// new entry. What the old entry gained between the previous read and its deletion is lost
// and not guessed. Clamping each bucket at zero instead would mix two series (count from one
// base, buckets from the other), and subtracting anyway wraps a bucket to ~2^64.
// Torn reads are not restarts: the BPF side adds count, sum and a bucket separately, so a
// read may see one ahead of another, but none of them alone ever decreases.
// `restarted` = true forces a restart (the caller saw another counter of the entry go back).
Log2Delta Log2CumulativeDelta(const Log2Cumulative& cur, const Log2Cumulative& prev,
                              std::span<uint64_t> hist_out, bool restarted = false);

}  // namespace ksight
