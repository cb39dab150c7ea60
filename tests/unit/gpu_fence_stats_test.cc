// Unit tests for the gpu probe's per-interval dma_fence latency (probes/gpu/gpu_fence_stats.h).
#include "probes/gpu/gpu_fence_stats.h"

#include <gtest/gtest.h>

#include <cstring>

extern "C" {
#include "ksight_log2.h"
}

namespace ksight::gpu {
namespace {

// Adds one latency the way the BPF program does (lat_add in gpu.bpf.c).
void Add(ks_gpu_lat& l, uint64_t v) {
  l.count++;
  l.sum_ns += v;
  l.hist[ks_log2_slot(v, KS_GPU_HIST_SLOTS)]++;
  if (v > l.max_ns) l.max_ns = v;
}

TEST(GpuFenceStats, DeltaOfCumulativeSnapshots) {
  ks_gpu_fence_stats s{};
  for (int i = 0; i < 10; ++i) Add(s.init_to_signal, 1000);  // [512, 1024) -> bucket 9
  const FenceStats first = FenceStats::From(s);
  const FenceStats d1 = FenceDelta(first, FenceStats{});
  EXPECT_EQ(d1.init_to_signal.count, 10u);
  EXPECT_EQ(d1.init_to_signal.sum_ns, 10000u);
  EXPECT_EQ(d1.init_to_signal.max_ns, 1000u);
  EXPECT_EQ(d1.emit_to_signal.count, 0u);
  EXPECT_EQ(d1.wait.count, 0u);
  EXPECT_FALSE(d1.empty());

  // Nothing new: an empty interval.
  EXPECT_TRUE(FenceDelta(first, first).empty());

  // Two more, smaller than the max: the interval's max is the edge of the bucket that moved.
  Add(s.init_to_signal, 100);  // bucket 6: [64, 128)
  Add(s.init_to_signal, 120);
  Add(s.wait, 5'000'000);
  const FenceStats second = FenceStats::From(s);
  const FenceStats d2 = FenceDelta(second, first);
  EXPECT_EQ(d2.init_to_signal.count, 2u);
  EXPECT_EQ(d2.init_to_signal.sum_ns, 220u);
  EXPECT_EQ(d2.init_to_signal.max_ns, 127u);
  EXPECT_EQ(d2.init_to_signal.hist[6], 2u);
  EXPECT_EQ(d2.init_to_signal.hist[9], 0u);
  EXPECT_EQ(d2.wait.count, 1u);
  EXPECT_EQ(d2.wait.max_ns, 5'000'000u);  // the cumulative max grew: exact
}

TEST(GpuFenceStats, RecreatedEntryStartsFromZero) {
  ks_gpu_fence_stats a{}, b{};
  for (int i = 0; i < 5; ++i) Add(a.emit_to_signal, 2000);
  Add(b.emit_to_signal, 300);
  const FenceStats d = FenceDelta(FenceStats::From(b), FenceStats::From(a));
  EXPECT_EQ(d.emit_to_signal.count, 1u);
  EXPECT_EQ(d.emit_to_signal.sum_ns, 300u);
  EXPECT_EQ(d.emit_to_signal.max_ns, 300u);
}

TEST(GpuFenceStats, BucketBelowItsPreviousValueIsANewSeries) {
  // The entry was re-created between two reads and already has more fences than the old one
  // had: the count grew, but a bucket went back. The delta is the new entry, not a bucket
  // clamped to zero next to a count taken from the old entry.
  Latency prev, cur;
  prev.count = 3;
  prev.sum_ns = 48;
  prev.hist[4] = 3;
  cur.count = 4;
  cur.sum_ns = 96;
  cur.hist[4] = 2;
  cur.hist[5] = 2;
  const Latency d = LatencyDelta(cur, prev);
  EXPECT_EQ(d.count, 4u);
  EXPECT_EQ(d.sum_ns, 96u);
  EXPECT_EQ(d.hist[4], 2u);
  EXPECT_EQ(d.hist[5], 2u);
}

TEST(GpuFenceStats, SummaryPercentilesClampToMax) {
  Latency l;
  for (int i = 0; i < 99; ++i) {
    l.count++;
    l.hist[10]++;  // [1024, 2048)
  }
  l.count++;
  l.hist[20]++;  // one slow one, ~1 ms
  l.max_ns = 1'500'000;
  l.sum_ns = 99 * 1500 + 1'500'000;
  const LatencySummary s = Summarize(l);
  EXPECT_EQ(s.count, 100u);
  EXPECT_GE(s.p50_ns, 1024u);
  EXPECT_LT(s.p50_ns, 2048u);
  EXPECT_LT(s.p90_ns, 2048u);
  EXPECT_LE(s.p99_ns, 2048u);
  EXPECT_EQ(s.max_ns, 1'500'000u);
}

TEST(GpuFenceStats, KeyNamesStopAtNul) {
  ks_gpu_fence_key k{};
  std::strcpy(k.driver, "vgem");
  std::strcpy(k.timeline, "unbound");
  EXPECT_EQ(FenceKeyDriver(k), "vgem");
  EXPECT_EQ(FenceKeyTimeline(k), "unbound");
  // Names that fill the field (BPF copied 31 bytes + NUL, or a full unterminated field).
  std::memset(k.timeline, 'x', sizeof(k.timeline));
  EXPECT_EQ(FenceKeyTimeline(k).size(), sizeof(k.timeline));
  ks_gpu_fence_key other{};
  std::strcpy(other.driver, "vge");
  std::strcpy(other.timeline, "munbound");
  EXPECT_NE(FenceKeyString(k), FenceKeyString(other));
}

}  // namespace
}  // namespace ksight::gpu
