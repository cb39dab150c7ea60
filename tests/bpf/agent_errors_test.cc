// The real binary on bad runtime input: one clear line on stderr, the right
// exit code, no crash, no event stream garbage.
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include <gmock/gmock.h>

#include "harness.h"

namespace ksight::test {
namespace {

using ::testing::HasSubstr;

const std::string kRun = std::string(KSIGHT_BINARY) + " run --config /dev/null --duration 1s ";

TEST(AgentErrors, NotPrivilegedExitsOneWithOneLine) {
  KS_REQUIRE_ROOT();
  ASSERT_TRUE(HaveTool("setpriv"));  // util-linux
  const auto r = RunCmd("setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all " +
                        kRun + "--output -");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("ksight needs root, or CAP_BPF and CAP_PERFMON"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(AgentErrors, SymlinkOutputRefused) {
  KS_REQUIRE_ROOT();
  const std::string dir = ::testing::TempDir() + "/ksight_sym";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::create_symlink("/etc/passwd-ksight-never", dir + "/events.jsonl");
  const auto r = RunCmd(kRun + "--output " + dir + "/events.jsonl");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("it is a symbolic link"));
  EXPECT_FALSE(std::filesystem::exists("/etc/passwd-ksight-never"));
  std::filesystem::remove_all(dir);
}

TEST(AgentErrors, DirectoryOrForeignOwnedOutputRefused) {
  KS_REQUIRE_ROOT();
  const std::string dir = ::testing::TempDir() + "/ksight_dir";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto r = RunCmd(kRun + "--output " + dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("it is a directory"));
  const std::string foreign = dir + "/foreign.jsonl";
  std::FILE* f = std::fopen(foreign.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  ASSERT_EQ(::chown(foreign.c_str(), 65534, 65534), 0);
  r = RunCmd(kRun + "--output " + foreign);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("owned by uid 65534"));
  std::filesystem::remove_all(dir);
}

TEST(AgentErrors, UnwritableDirectoryExplained) {
  KS_REQUIRE_ROOT();
  const auto r = RunCmd(kRun + "--output /proc/ksight/events.jsonl");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("/proc/ksight"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(AgentErrors, UnknownCgroupIsAUsageError) {
  KS_REQUIRE_ROOT();
  const auto r = RunCmd(kRun + "--output - --cgroup /sys/fs/cgroup/no-such-group");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("is not a cgroup v2 directory"));
}

}  // namespace
}  // namespace ksight::test
