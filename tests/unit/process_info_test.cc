#include "core/process_info.h"

#include <gtest/gtest.h>

namespace ksight {
namespace {

TEST(ContainerId, FromCommonRuntimes) {
  const std::string id(64, 'a');
  EXPECT_EQ(ContainerIdFromCgroupPath("/system.slice/docker-" + id + ".scope"), id);
  EXPECT_EQ(ContainerIdFromCgroupPath("/kubepods.slice/kubepods-pod1.slice/cri-containerd-" + id +
                                      ".scope"),
            id);
  EXPECT_EQ(ContainerIdFromCgroupPath("/docker/" + id), id);
  EXPECT_EQ(ContainerIdFromCgroupPath("/user.slice/user-0.slice/session-1.scope"), "");
  EXPECT_EQ(ContainerIdFromCgroupPath("/x/" + std::string(65, 'b')), "");  // not an id
  EXPECT_EQ(ContainerIdFromCgroupPath(""), "");
}

TEST(CommView, StopsAtNulOrLength) {
  char a[KS_COMM_LEN] = {'a', 'b', '\0'};
  EXPECT_EQ(CommView(a), "ab");
  char full[KS_COMM_LEN];
  for (auto& c : full) c = 'x';
  EXPECT_EQ(CommView(full).size(), 16u);
}

}  // namespace
}  // namespace ksight
