// Per-container /metrics series: bounded, busiest first, every series monotonic.
#include "core/container_counters.h"

#include <map>

#include <gtest/gtest.h>

namespace ksight {
namespace {

std::map<std::string, uint64_t> Series(const ContainerCounters& c) {
  std::map<std::string, uint64_t> out;
  c.ForEach([&](std::string_view id, uint64_t n) { out[std::string(id)] = n; });
  return out;
}

TEST(ContainerCounters, BusiestGetSeriesTheRestIsOtherAndNothingGoesDown) {
  ContainerCounters c(2);
  c.Add("a", 5);
  c.Add("b", 50);
  c.Add("c", 20);
  c.Add("", 7);
  EXPECT_EQ(Series(c), (std::map<std::string, uint64_t>{{"other", 75}, {"none", 7}}));
  c.Admit();  // b and c are the busiest
  EXPECT_EQ(c.series(), 2u);
  auto s = Series(c);
  EXPECT_EQ(s.at("b"), 0u);  // counted from admission: "other" keeps the 75
  EXPECT_EQ(s.at("other"), 75u);
  EXPECT_FALSE(s.contains("a"));
  c.Add("b", 3);
  c.Add("a", 1);  // no room: "other" for good
  c.Add("d", 100);
  c.Admit();
  s = Series(c);
  EXPECT_EQ(s.at("b"), 3u);
  EXPECT_EQ(s.at("c"), 0u);
  EXPECT_EQ(s.at("other"), 176u);
  EXPECT_EQ(s.size(), 4u);  // b, c, other, none: bounded
  uint64_t total = 0;
  for (const auto& [k, v] : s) total += v;
  EXPECT_EQ(total, 5u + 50 + 20 + 7 + 3 + 1 + 100);  // every event in exactly one series
}

TEST(ContainerCounters, ZeroSeriesIsOtherAndNone) {
  ContainerCounters c(0);
  c.Add("x", 4);
  c.Admit();
  EXPECT_EQ(Series(c), (std::map<std::string, uint64_t>{{"other", 4}, {"none", 0}}));
}

}  // namespace
}  // namespace ksight
