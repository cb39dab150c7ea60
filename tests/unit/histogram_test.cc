#include "core/histogram.h"

#include <gtest/gtest.h>

#include <array>
#include <initializer_list>
#include <utility>
#include <vector>

#include "probes/syscalls/syscall_rollup.h"

namespace ksight {
namespace {

TEST(Log2Percentile, EmptyIsZero) {
  std::vector<uint64_t> h(40, 0);
  EXPECT_EQ(Log2Percentile(h, 0.5), 0u);
}

TEST(Log2Percentile, SingleBucketInterpolates) {
  std::vector<uint64_t> h(40, 0);
  h[10] = 100;  // [1024, 2048)
  EXPECT_EQ(Log2Percentile(h, 0.5), 1024u + 512u);
  EXPECT_EQ(Log2Percentile(h, 1.0), 2048u);
  EXPECT_EQ(Log2Percentile(h, 1.0, 1500), 1500u);  // clamped to the known max
}

TEST(Log2Percentile, PicksTheRightBucket) {
  std::vector<uint64_t> h(40, 0);
  h[3] = 90;   // [8, 16)
  h[20] = 10;  // [1Mi, 2Mi)
  EXPECT_LT(Log2Percentile(h, 0.5), 16u);
  EXPECT_GE(Log2Percentile(h, 0.5), 8u);
  EXPECT_LE(Log2Percentile(h, 0.90), 16u);
  EXPECT_GE(Log2Percentile(h, 0.99), 1u << 20);
}

ks_sys_stats Cpu(uint64_t count, uint64_t max, uint32_t slot) {
  ks_sys_stats s{};
  s.count = count;
  s.lat_sum_ns = count * 100;
  s.lat_max_ns = max;
  s.hist[slot] = count;
  return s;
}

TEST(SyscallRollup, SumsPerCpuAndTakesMax) {
  std::vector<ks_sys_stats> cpus = {Cpu(3, 120, 6), Cpu(5, 900, 9)};
  auto v = syscalls::SumPerCpu(cpus);
  EXPECT_EQ(v.count, 8u);
  EXPECT_EQ(v.lat_sum_ns, 800u);
  EXPECT_EQ(v.lat_max_ns, 900u);
  EXPECT_EQ(v.hist[6], 3u);
  EXPECT_EQ(v.hist[9], 5u);
}

TEST(SyscallRollup, DeltaKeepsCountsThatLandDuringTheRead) {
  syscalls::StatsValue prev, cur;
  prev.count = 10, prev.lat_sum_ns = 1000, prev.lat_max_ns = 500, prev.hist[8] = 10;
  cur = prev;
  cur.count = 13, cur.lat_sum_ns = 1600, cur.hist[5] = 3;  // 3 new fast calls
  auto d = syscalls::Delta(cur, prev);
  EXPECT_EQ(d.count, 3u);
  EXPECT_EQ(d.lat_sum_ns, 600u);
  EXPECT_EQ(d.hist[5], 3u);
  EXPECT_EQ(d.hist[8], 0u);
  EXPECT_EQ(d.lat_max_ns, 63u);  // bounded by bucket 5's upper edge, not the old max
  cur.lat_max_ns = 9000, cur.hist[13] = 1, cur.count = 14;
  d = syscalls::Delta(cur, prev);
  EXPECT_EQ(d.lat_max_ns, 9000u);  // a new all-time max is exact
}

TEST(SyscallRollup, DeltaAfterEntryRecreated) {
  syscalls::StatsValue prev, cur;
  prev.count = 50;
  cur.count = 4;
  EXPECT_EQ(syscalls::Delta(cur, prev).count, 4u);
}

TEST(SyscallRollup, BucketThatWentBackIsNotAnUnderflow) {
  // The entry was evicted and re-created and has since seen more calls than the old one
  // had: count grew, bucket 8 went back. Subtracting would report ~2^64 calls in bucket 8.
  syscalls::StatsValue prev, cur;
  prev.count = 10, prev.errors = 1, prev.lat_sum_ns = 5000, prev.lat_max_ns = 400;
  prev.hist[8] = 10;
  cur.count = 12, cur.errors = 2, cur.lat_sum_ns = 6000, cur.lat_max_ns = 300;
  cur.hist[5] = 11, cur.hist[8] = 1;
  const auto d = syscalls::Delta(cur, prev);
  EXPECT_EQ(d.count, 12u);
  EXPECT_EQ(d.errors, 2u);
  EXPECT_EQ(d.lat_sum_ns, 6000u);
  EXPECT_EQ(d.hist[5], 11u);
  EXPECT_EQ(d.hist[8], 1u);
  EXPECT_EQ(d.lat_max_ns, 300u);  // the new entry's max
}

TEST(SyscallRollup, ErrorsThatWentBackRestartTheSeries) {
  syscalls::StatsValue prev, cur;
  prev.count = 5, prev.errors = 5, prev.hist[3] = 5;
  cur.count = 6, cur.errors = 1, cur.hist[3] = 6;
  const auto d = syscalls::Delta(cur, prev);
  EXPECT_EQ(d.count, 6u);
  EXPECT_EQ(d.errors, 1u);
  EXPECT_EQ(d.hist[3], 6u);
}

std::array<uint64_t, 8> Hist(std::initializer_list<std::pair<size_t, uint64_t>> b) {
  std::array<uint64_t, 8> h{};
  for (const auto& [i, n] : b) h[i] = n;
  return h;
}

TEST(Log2CumulativeDelta, SubtractsAContinuedSeries) {
  const auto p = Hist({{2, 4}, {6, 1}});
  const auto c = Hist({{2, 6}, {3, 1}, {6, 1}});
  std::array<uint64_t, 8> out{};
  out.fill(99);  // every bucket is written
  const Log2Delta d = Log2CumulativeDelta({8, 200, 100, c}, {5, 150, 100, p}, out);
  EXPECT_FALSE(d.restarted);
  EXPECT_EQ(d.count, 3u);
  EXPECT_EQ(d.sum, 50u);
  EXPECT_EQ(out, Hist({{2, 2}, {3, 1}}));
  EXPECT_EQ(d.max, 15u);  // bucket 3's upper edge: the cumulative max did not grow
}

TEST(Log2CumulativeDelta, NothingMovedIsZero) {
  const auto h = Hist({{4, 2}});
  std::array<uint64_t, 8> out{};
  const Log2Delta d = Log2CumulativeDelta({2, 40, 20, h}, {2, 40, 20, h}, out);
  EXPECT_EQ(d.count, 0u);
  EXPECT_EQ(d.sum, 0u);
  EXPECT_EQ(d.max, 0u);
  EXPECT_EQ(out, Hist({}));
}

TEST(Log2CumulativeDelta, NoPreviousSnapshotIsTheWholeValue) {
  const auto c = Hist({{1, 1}, {7, 2}});
  std::array<uint64_t, 8> out{};
  const Log2Delta d = Log2CumulativeDelta({3, 500, 300, c}, {}, out);
  EXPECT_FALSE(d.restarted);
  EXPECT_EQ(d.count, 3u);
  EXPECT_EQ(d.max, 300u);
  EXPECT_EQ(out, c);
}

TEST(Log2CumulativeDelta, AnyCounterGoingBackRestarts) {
  const auto p = Hist({{2, 4}, {5, 4}});
  std::array<uint64_t, 8> out{};
  // A bucket went back while count and sum grew: a re-created entry, taken whole.
  auto c = Hist({{2, 9}, {5, 1}});
  Log2Delta d = Log2CumulativeDelta({10, 900, 50, c}, {8, 800, 60, p}, out);
  EXPECT_TRUE(d.restarted);
  EXPECT_EQ(d.count, 10u);
  EXPECT_EQ(d.sum, 900u);
  EXPECT_EQ(d.max, 50u);
  EXPECT_EQ(out, c);
  // The count went back.
  c = Hist({{2, 3}});
  d = Log2CumulativeDelta({3, 30, 9, c}, {8, 800, 60, p}, out);
  EXPECT_TRUE(d.restarted);
  EXPECT_EQ(d.count, 3u);
  EXPECT_EQ(out, c);
  // Only the sum went back.
  c = Hist({{2, 5}, {5, 4}});
  d = Log2CumulativeDelta({9, 700, 60, c}, {8, 800, 60, p}, out);
  EXPECT_TRUE(d.restarted);
  EXPECT_EQ(d.sum, 700u);
  // The caller saw another counter of the entry go back.
  c = Hist({{2, 5}, {5, 4}});
  d = Log2CumulativeDelta({9, 900, 60, c}, {8, 800, 60, p}, out, true);
  EXPECT_TRUE(d.restarted);
  EXPECT_EQ(d.count, 9u);
  EXPECT_EQ(out, c);
}

TEST(Log2CumulativeDelta, MaxThatLostARaceIsNotARestart) {
  // The BPF max update is not atomic: the cumulative max can come back lower.
  const auto p = Hist({{3, 1}});
  const auto c = Hist({{3, 2}});
  std::array<uint64_t, 8> out{};
  const Log2Delta d = Log2CumulativeDelta({2, 20, 9, c}, {1, 10, 12, p}, out);
  EXPECT_FALSE(d.restarted);
  EXPECT_EQ(d.count, 1u);
  EXPECT_EQ(d.max, 9u);  // bucket 3 ends at 15, capped by the cumulative max
}

}  // namespace
}  // namespace ksight
