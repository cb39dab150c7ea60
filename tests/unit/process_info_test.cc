#include "core/process_info.h"

#include <gtest/gtest.h>

namespace ksight {
namespace {

TEST(CommView, StopsAtNulOrLength) {
  char a[KS_COMM_LEN] = {'a', 'b', '\0'};
  EXPECT_EQ(CommView(a), "ab");
  char full[KS_COMM_LEN];
  for (auto& c : full) c = 'x';
  EXPECT_EQ(CommView(full).size(), 16u);
}

}  // namespace
}  // namespace ksight
