// --container / --pod: cgroups made after the agent started, laid out as containerd and the
// kubelet lay them out; only the matching workload's syscalls are traced, exactly; processes of
// other containers and outside containers are not. A filter that needs Kubernetes names
// without Kubernetes metadata is refused with one line.
#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "core/workload_identity.h"
#include "harness.h"

namespace ksight::test {
namespace {

namespace fs = std::filesystem;

constexpr int kGetppid = 777;

struct Cgroups {
  std::string cg2, top;
  ~Cgroups() {
    if (top.empty()) return;
    // Innermost first: cgroupfs removes empty directories only.
    std::vector<fs::path> dirs;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(top, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_directory()) dirs.push_back(it->path());
    std::sort(dirs.rbegin(), dirs.rend());
    for (const auto& d : dirs) ::rmdir(d.c_str());
    ::rmdir(top.c_str());
  }
};

// sh moves itself into DIR and execs the trigger: syscall_trigger -w -g N.
Child TriggerIn(const std::string& dir) {
  return Child::Spawn({"/bin/sh", "-c",
                       "echo $$ > " + dir + "/cgroup.procs && exec " + Trigger("syscall_trigger") +
                           " -w -g " + std::to_string(kGetppid)},
                      true, true);
}

uint64_t Getppids(const std::vector<json>& recs, int pid) {
  uint64_t n = 0;
  for (const auto& r : OfType(recs, "syscall.stats"))
    if (r["process"]["pid"] == pid && r["syscall"]["name"] == "getppid")
      n += r["stats"]["count"].get<uint64_t>();
  return n;
}

void RunFilterCase(const std::vector<std::string>& filter, const std::string& want_dir,
                   const std::string& other_dir, const std::string& tag) {
  Agent agent(
      [&] {
        std::vector<std::string> a = {"--probes", "process,syscalls", "--interval", "1s"};
        a.insert(a.end(), filter.begin(), filter.end());
        return a;
      }(),
      tag);
  ASSERT_TRUE(agent.WaitRunning());
  // The cgroups appear after the start (as a new container's do).
  fs::create_directories(want_dir);
  fs::create_directories(other_dir);
  // The filter is live once a process exec'd in the wanted cgroup is reported.
  ASSERT_TRUE(WaitUntil(
      [&] {
        Child c = Child::Spawn(
            {"/bin/sh", "-c", "echo $$ > " + want_dir + "/cgroup.procs && exec /bin/true"}, false,
            false);
        c.Wait();
        return FileHas(agent.path(), [](const json& j) {
          return j["event"]["type"] == "process.exec" && j["process"]["comm"] == "true";
        });
      },
      "the filter to take in the new cgroup", 15s, 200ms));
  Child want = TriggerIn(want_dir), other = TriggerIn(other_dir);
  const int wpid = want.pid, opid = other.pid;
  ASSERT_EQ(want.ReadLine(), "pid " + std::to_string(wpid));
  ASSERT_EQ(other.ReadLine(), "pid " + std::to_string(opid));
  want.Go();
  other.Go();
  EXPECT_EQ(want.Wait(), 0);
  EXPECT_EQ(other.Wait(), 0);
  ASSERT_TRUE(agent.WaitFor(
      [&](const json& j) {
        return j["event"]["type"] == "process.exit" && j["process"]["pid"] == wpid;
      },
      15s));
  size_t hb = OfType(agent.Records(), "agent.heartbeat").size();
  ASSERT_TRUE(agent.WaitFor(
      [&](const json&) { return OfType(agent.Records(), "agent.heartbeat").size() >= hb + 2; },
      15s));
  EXPECT_EQ(agent.Stop(), 0);
  const auto recs = agent.Records();
  EXPECT_EQ(Getppids(recs, wpid), static_cast<uint64_t>(kGetppid));
  EXPECT_EQ(Getppids(recs, opid), 0u);
  // Nothing from anywhere else: every record about a process is the wanted workload's.
  const CgroupIdentity want_id = ParseCgroupPath(want_dir);
  for (const auto& r : recs) {
    if (!r.contains("process")) continue;
    ASSERT_TRUE(r.contains("container")) << r;
    EXPECT_EQ(r["container"]["id"], want_id.container_id) << r;
  }
  const auto running = OfType(recs, "agent.status");
  EXPECT_TRUE(std::any_of(running.begin(), running.end(), [](const json& j) {
    return j["status"]["state"] == "running" && j["status"]["details"].contains("workload_filter");
  }));
}

TEST(WorkloadFilter, ContainerPrefixTracesOnlyThatContainer) {
  KS_REQUIRE_ROOT();
  Cgroups cg{Cgroup2Mount(), ""};
  if (cg.cg2.empty()) KS_SKIP_OR_FAIL_IN_CI("no cgroup2 mount on this host");
  cg.top = cg.cg2 + "/ksight-wf-" + std::to_string(::getpid());
  const std::string a(64, 'a'), b = "aaaaaaaaaaab" + std::string(52, 'b');  // same 11 first
  RunFilterCase({"--container", a.substr(0, 12)},
                cg.top + "/system.slice/cri-containerd-" + a + ".scope",
                cg.top + "/system.slice/cri-containerd-" + b + ".scope", "wf_container");
}

TEST(WorkloadFilter, PodUidTracesOnlyThatPod) {
  KS_REQUIRE_ROOT();
  Cgroups cg{Cgroup2Mount(), ""};
  if (cg.cg2.empty()) KS_SKIP_OR_FAIL_IN_CI("no cgroup2 mount on this host");
  cg.top = cg.cg2 + "/ksight-wf-pod-" + std::to_string(::getpid());
  const std::string uid = "0b0b0b0b-1c1c-2d2d-3e3e-4f4f4f4f4f4f";
  const std::string other = "0b0b0b0b-1c1c-2d2d-3e3e-555555555555";
  auto pod = [&](const std::string& u, char c) {
    std::string us = u;
    std::replace(us.begin(), us.end(), '-', '_');
    return cg.top + "/kubepods.slice/kubepods-pod" + us + ".slice/cri-containerd-" +
           std::string(64, c) + ".scope";
  };
  RunFilterCase({"--pod", uid}, pod(uid, 'c'), pod(other, 'd'), "wf_pod");
}

TEST(WorkloadFilter, NamesWithoutKubernetesMetadataAreRefused) {
  KS_REQUIRE_ROOT();
  for (const std::string flag : {"--namespace ml", "--pod trainer-0", "--pod ml/trainer-0"}) {
    const RunResult r = RunCmd(std::string(KSIGHT_BINARY) +
                               " run --config /dev/null --output - --metrics-addr off " +
                               "--kubelet-url off --probes syscalls " + flag);
    EXPECT_EQ(r.code, 2) << flag << ": " << r.err;
    EXPECT_NE(r.err.find("need Kubernetes metadata"), std::string::npos) << r.err;
  }
  const RunResult bad =
      RunCmd(std::string(KSIGHT_BINARY) + " run --config /dev/null --output - --container xyz");
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_NE(bad.err.find("is not a container id"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace ksight::test
