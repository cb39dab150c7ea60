#include "core/histogram.h"

#include <gtest/gtest.h>

#include <vector>

#include "probes/syscalls/syscall_rollup.h"

namespace ksight {
namespace {

TEST(Log2Bucket, MatchesBpfRule) {
  EXPECT_EQ(Log2Bucket(0, 40), 0u);
  EXPECT_EQ(Log2Bucket(1, 40), 0u);
  EXPECT_EQ(Log2Bucket(2, 40), 1u);
  EXPECT_EQ(Log2Bucket(3, 40), 1u);
  EXPECT_EQ(Log2Bucket(1024, 40), 10u);
  EXPECT_EQ(Log2Bucket(2047, 40), 10u);
  EXPECT_EQ(Log2Bucket(UINT64_MAX, 40), 39u);
}

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

}  // namespace
}  // namespace ksight
