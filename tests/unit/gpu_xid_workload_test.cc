// Resolving the pid a GPU fault line names (probes/gpu/xid_workload.h): the /proc parsers, and
// the resolver on a /proc and cgroup tree built in a temp dir (the real ones: tests/bpf).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/json_writer.h"
#include "probes/gpu/xid_workload.h"

namespace ksight::gpu {
namespace {

namespace fs = std::filesystem;

TEST(XidWorkload, StatStartTimeCountsFieldsAfterTheComm) {
  // comm with spaces and a ')' in it; starttime (field 22) is 4242.
  const std::string stat =
      "77 (a (b) c) S 1 77 77 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 4242 1000 10 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
  EXPECT_EQ(StatStartTicks(stat), 4242u);
  EXPECT_FALSE(StatStartTicks(""));
  EXPECT_FALSE(StatStartTicks("77 (x) S 1 2"));
  EXPECT_FALSE(StatStartTicks("77 (x) S 1 77 77 0 -1 1 1 0 0 0 1 2 0 0 20 0 1 0 notanumber 1"));
}

TEST(XidWorkload, Cgroup2MountFromProcMounts) {
  EXPECT_EQ(Cgroup2MountFrom("proc /proc proc rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"),
            "/sys/fs/cgroup");
  EXPECT_EQ(Cgroup2MountFrom("tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup "
                             "rw 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0"),
            "/sys/fs/cgroup/unified");
  EXPECT_EQ(Cgroup2MountFrom("cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n"), "");
}

TEST(XidWorkload, CgroupV2PathIsTheZeroLine) {
  EXPECT_EQ(CgroupV2Path("0::/kubepods.slice/pod1/cri-containerd-ab.scope\n"),
            "/kubepods.slice/pod1/cri-containerd-ab.scope");
  EXPECT_EQ(CgroupV2Path("12:pids:/x\n1:name=systemd:/y\n0::/user.slice\n"), "/user.slice");
  EXPECT_FALSE(CgroupV2Path("12:pids:/x\n1:name=systemd:/y\n"));  // v1 only
  EXPECT_FALSE(CgroupV2Path(""));
}

class Tree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("xid_workload_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "cg" / "kubepods" / kCid);
  }
  void TearDown() override { fs::remove_all(root_); }
  void Proc(uint32_t pid, uint64_t start_ticks, const std::string& comm, const std::string& cg) {
    const fs::path d = root_ / "proc" / std::to_string(pid);
    fs::create_directories(d);
    std::ofstream(d / "stat") << pid << " (" << comm << ") S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
                              << start_ticks << " 0 0\n";
    std::ofstream(d / "comm") << comm << "\n";
    std::ofstream(d / "cgroup") << "0::" << cg << "\n";
  }
  uint64_t Ino(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0);
    return st.st_ino;
  }
  WorkloadResolver::Options Opts() {
    WorkloadResolver::Options o;
    o.proc = (root_ / "proc").string();
    o.cgroupfs = (root_ / "cg").string();
    o.ticks_per_sec = 100;
    return o;
  }
  static constexpr const char* kCid =
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  fs::path root_;
};

TEST_F(Tree, ALiveProcessNamesItsCgroupAndContainer) {
  const std::string cg = std::string("/kubepods/") + kCid;
  Proc(4242, 500, "trainer", cg);  // started at 5 s
  WorkloadResolver r(Opts());
  auto wl = r.Resolve(4242, 6'000'000'000);
  ASSERT_TRUE(wl);
  EXPECT_EQ(wl->source, "proc");
  EXPECT_EQ(wl->comm, "trainer");
  EXPECT_EQ(wl->cgroup_path, cg);
  EXPECT_EQ(wl->cgroup_id, Ino(root_ / "cg" / "kubepods" / kCid));
  EXPECT_EQ(wl->container_id, kCid);
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  WriteWorkload(w, *wl);
  w.EndObject();
  EXPECT_EQ(out, "{\"process\":{\"pid\":4242,\"comm\":\"trainer\",\"cgroup_id\":" +
                     std::to_string(wl->cgroup_id) + ",\"cgroup_path\":\"" + cg +
                     "\",\"container_id\":\"" + kCid +
                     "\",\"source\":\"proc\"},\"container\":{\"id\":\"" + kCid + "\"}}");
  EXPECT_EQ(r.stats().live, 1u);
}

TEST_F(Tree, AnExitedOrReusedPidComesFromTheExitCache) {
  const uint64_t id = Ino(root_ / "cg" / "kubepods" / kCid);
  int asked = 0;
  auto o = Opts();
  o.exited = [&](uint32_t pid) -> std::optional<ExitedProcess> {
    ++asked;
    if (pid != 77) return std::nullopt;
    return ExitedProcess{id, 1'000'000'000, 5'000'000'000, "python3"};
  };
  WorkloadResolver r(o);
  // Gone from /proc: the exit cache, with the path found by the cgroup id.
  auto wl = r.Resolve(77, 6'000'000'000);
  ASSERT_TRUE(wl);
  EXPECT_EQ(wl->source, "exit_cache");
  EXPECT_EQ(wl->comm, "python3");
  EXPECT_EQ(wl->cgroup_id, id);
  EXPECT_EQ(wl->cgroup_path, std::string("/kubepods/") + kCid);
  EXPECT_EQ(wl->container_id, kCid);

  // A process whose start reads up to 250 ms after the line (printk's clock behind /proc's in
  // a VM) is still the one the line names.
  Proc(78, 610, "trainer", "/user.slice");  // started at 6.1 s
  auto skewed = r.Resolve(78, 6'000'000'000);
  ASSERT_TRUE(skewed);
  EXPECT_EQ(skewed->source, "proc");

  // The pid was reused by a process started after the line: not that one.
  Proc(77, 900, "bash", "/user.slice");  // started at 9 s
  wl = r.Resolve(77, 6'000'000'000);
  ASSERT_TRUE(wl);
  EXPECT_EQ(wl->source, "exit_cache");
  EXPECT_EQ(r.stats().reused, 1u);

  // A cgroup removed with its container: the id stays, the path goes.
  o.exited = [](uint32_t) -> std::optional<ExitedProcess> {
    return ExitedProcess{987654321, 0, 1, "gone"};
  };
  WorkloadResolver r2(o);
  wl = r2.Resolve(99, 6'000'000'000);
  ASSERT_TRUE(wl);
  EXPECT_EQ(wl->cgroup_id, 987654321u);
  EXPECT_TRUE(wl->cgroup_path.empty());

  // Unknown everywhere, or an exit-cache entry of an older process that started after the line.
  EXPECT_FALSE(r.Resolve(5, 6'000'000'000));
  o.exited = [](uint32_t) -> std::optional<ExitedProcess> {
    return ExitedProcess{1, 7'000'000'000, 8'000'000'000, "later"};
  };
  WorkloadResolver r3(o);
  EXPECT_FALSE(r3.Resolve(5, 6'000'000'000));
  EXPECT_EQ(r3.stats().not_found, 1u);
  EXPECT_GT(asked, 0);
}

}  // namespace
}  // namespace ksight::gpu
