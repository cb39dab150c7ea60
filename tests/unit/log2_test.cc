// The log2 histogram slot rule: tests ks_log2_slot() from bpf/include/ksight_log2.h, the very
// code the BPF programs compile, against a reference written the obvious way.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

extern "C" {
#include "ksight_log2.h"
}

namespace ksight {
namespace {

// floor(log2(v)) by counting halvings (0 and 1 -> 0), capped at the last slot.
uint32_t ReferenceSlot(uint64_t v, uint32_t nslots) {
  uint32_t r = 0;
  for (uint64_t x = v; x > 1; x >>= 1) ++r;
  return r < nslots - 1 ? r : nslots - 1;
}

// 0, 1, max and, for every k, 2^k - 1, 2^k and 2^k + 1.
std::vector<uint64_t> Boundaries() {
  std::vector<uint64_t> v = {0, 1, UINT64_MAX, UINT64_MAX - 1};
  for (int k = 0; k < 64; ++k) {
    const uint64_t p = uint64_t{1} << k;
    v.insert(v.end(), {p - 1, p, p + 1});
  }
  return v;
}

TEST(Log2Slot, MatchesReferenceAtEveryBoundary) {
  // 40: the probes' histograms; 1: a single open slot; 64/65: no cap within the u64 range.
  for (const uint32_t nslots : {1u, 2u, 40u, 63u, 64u, 65u}) {
    for (const uint64_t v : Boundaries()) {
      EXPECT_EQ(ks_log2_slot(v, nslots), ReferenceSlot(v, nslots))
          << "v=" << v << " nslots=" << nslots;
    }
  }
}

TEST(Log2Slot, KnownValues) {
  EXPECT_EQ(ks_log2_slot(0, 40), 0u);
  EXPECT_EQ(ks_log2_slot(1, 40), 0u);
  EXPECT_EQ(ks_log2_slot(2, 40), 1u);
  EXPECT_EQ(ks_log2_slot(3, 40), 1u);
  EXPECT_EQ(ks_log2_slot(1024, 40), 10u);
  EXPECT_EQ(ks_log2_slot(2047, 40), 10u);
  EXPECT_EQ(ks_log2_slot(uint64_t{1} << 39, 40), 39u);
  EXPECT_EQ(ks_log2_slot(uint64_t{1} << 40, 40), 39u);  // the last slot is open-ended
  EXPECT_EQ(ks_log2_slot(UINT64_MAX, 40), 39u);
  EXPECT_EQ(ks_log2_slot(UINT64_MAX, 64), 63u);
}

TEST(Log2Slot, MatchesReferenceOnSpreadValues) {
  // Every bit width, with varied low bits (a fixed xorshift sequence: reproducible).
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (int i = 0; i < 200000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const uint64_t v = x >> (i % 64);
    ASSERT_EQ(ks_log2_slot(v, 40), ReferenceSlot(v, 40)) << "v=" << v;
  }
}

TEST(Log2SlotMin, IsTheSlotsSmallestValue) {
  for (uint32_t s = 0; s < 64; ++s) {
    const uint64_t lo = ks_log2_slot_min(s);
    EXPECT_EQ(ks_log2_slot(lo, 64), s) << "slot " << s;
    if (s > 0) EXPECT_EQ(ks_log2_slot(lo - 1, 64), s - 1) << "slot " << s;
  }
  EXPECT_EQ(ks_log2_slot_min(0), 0u);
  EXPECT_EQ(ks_log2_slot_min(1), 2u);
  EXPECT_EQ(ks_log2_slot_min(10), 1024u);
}

}  // namespace
}  // namespace ksight
