// The process probe on the real kernel: exec / exit records against what the trigger did
// (tests/triggers/proc_trigger.c), folding past the per-interval limit, workload identity from
// real cgroups laid out as each container runtime lays them out, and a real OOM kill in a
// memory-limited cgroup.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "core/workload_identity.h"
#include "harness.h"

namespace ksight::test {
namespace {

namespace fs = std::filesystem;

// "done children=N pids=a,b,c" -> the pids.
std::vector<int> DonePids(const std::string& line) {
  std::vector<int> out;
  const auto at = line.find("pids=");
  if (at == std::string::npos) return out;
  std::stringstream ss(line.substr(at + 5));
  std::string p;
  while (std::getline(ss, p, ',')) out.push_back(std::stoi(p));
  return out;
}

std::map<int, json> ByPid(const std::vector<json>& recs, const std::string& type) {
  std::map<int, json> out;
  for (const auto& r : OfType(recs, type)) {
    if (!r.contains("folded")) out[r["process"]["pid"].get<int>()] = r;
  }
  return out;
}

// KSIGHT_PROCESS_HOOK=tracepoint for the agents this test starts (the classic tracepoint flavor).
struct HookEnv {
  explicit HookEnv(bool tp) {
    if (tp) ::setenv("KSIGHT_PROCESS_HOOK", "tracepoint", 1);
  }
  ~HookEnv() { ::unsetenv("KSIGHT_PROCESS_HOOK"); }
  HookEnv(const HookEnv&) = delete;
  HookEnv& operator=(const HookEnv&) = delete;
};

class ProcessHooks : public ::testing::TestWithParam<bool> {};

TEST_P(ProcessHooks, ExecExitCodesSignalsAndThreads) {
  KS_REQUIRE_ROOT();
  constexpr int kChildren = 5;
  const HookEnv env(GetParam());
  Agent agent({"--probes", "process", "--interval", "1s"}, "process_lifecycle");
  ASSERT_TRUE(agent.WaitRunning());
  // The flavor asked for (tp_btf exists on every kernel this runs on).
  const std::string want_hook = GetParam() ? "tracepoint" : "tp_btf";
  ASSERT_TRUE(agent.WaitFor([&](const json& j) {
    return IsStatus(j, "attached") && j["status"]["probe"] == "process" &&
           j["status"]["details"]["sched_process_exec"] == want_hook &&
           j["status"]["details"]["sched_process_exit"] == want_hook;
  }));
  Child trig = Child::Spawn(
      {Trigger("proc_trigger"), "-w", "-n", std::to_string(kChildren), "-s", "-t"}, true, true);
  const int tpid = trig.pid;
  ASSERT_EQ(trig.ReadLine(), "pid " + std::to_string(tpid));
  trig.Go();
  const std::string done = trig.ReadLine(30s);
  ASSERT_EQ(trig.Wait(), 0);
  const std::vector<int> pids = DonePids(done);
  ASSERT_EQ(pids.size(), static_cast<size_t>(kChildren + 2)) << done;
  ASSERT_TRUE(agent.WaitFor(
      [&](const json& j) {
        return j["event"]["type"] == "process.exit" && j["process"]["pid"] == tpid;
      },
      10s));
  EXPECT_EQ(agent.Stop(), 0);

  const auto recs = agent.Records();
  const auto execs = ByPid(recs, "process.exec");
  const auto exits = ByPid(recs, "process.exit");
  const std::string path = Trigger("proc_trigger");
  for (int i = 0; i < kChildren + 2; ++i) {
    const int pid = pids[i];
    ASSERT_TRUE(execs.contains(pid)) << "no process.exec for child " << i << " pid " << pid;
    const json& e = execs.at(pid)["process"];
    EXPECT_EQ(e["parent_pid"], tpid);
    EXPECT_EQ(e["comm"], "proc_trigger");
    EXPECT_EQ(fs::path(e["executable"]["path"].get<std::string>()), fs::path(path));
    EXPECT_EQ(e["command_args"][0], path);
    ASSERT_TRUE(exits.contains(pid)) << "no process.exit for child " << i << " pid " << pid;
    const json& x = exits.at(pid)["process"];
    EXPECT_EQ(x["parent_pid"], tpid);
    EXPECT_FALSE(x["exit"]["oom_killed"].get<bool>());
    if (i < kChildren) {
      EXPECT_EQ(e["command_args"], json::array({path, "-x", std::to_string(i)}));
      EXPECT_EQ(x["exit"]["code"], i);
      EXPECT_FALSE(x["exit"].contains("signal"));
    } else if (i == kChildren) {  // -S: killed by its own SIGTERM
      EXPECT_EQ(x["exit"]["signal"], "SIGTERM") << x;
      EXPECT_EQ(x["exit"]["signal_number"], SIGTERM);
    } else {  // -T: the main thread left first, the other thread exited with 7
      EXPECT_EQ(x["exit"]["code"], 7) << x;
      EXPECT_NE(x["tid"], pid) << "the last thread out is not the main thread";
    }
    EXPECT_GE(x["runtime_ns"].get<uint64_t>(), 0u);
  }
  // One exit record per process, not per thread: the -T child's two threads give one.
  size_t trig_children_exits = 0;
  for (const auto& r : OfType(recs, "process.exit"))
    if (r["process"]["parent_pid"] == tpid) ++trig_children_exits;
  EXPECT_EQ(trig_children_exits, static_cast<size_t>(kChildren + 2));
  // The trigger itself: exec'd by us (not our exec: Child::Spawn execs it) and exited 0.
  ASSERT_TRUE(exits.contains(tpid));
  EXPECT_EQ(exits.at(tpid)["process"]["exit"]["code"], 0);

  const auto fin = FinalCounters(recs, "process");
  ASSERT_FALSE(fin.is_null());
  EXPECT_EQ(fin["seen"].get<uint64_t>(),
            fin["emitted"].get<uint64_t>() + fin["dropped"].get<uint64_t>());
  EXPECT_EQ(fin["dropped"], 0);
  EXPECT_TRUE(SchemaValid(agent.path()));
}

// Past records_per_interval, processes are folded: every one is counted, none lost.
TEST(ProcessProbe, FloodIsFoldedAndCounted) {
  KS_REQUIRE_ROOT();
  constexpr int kChildren = 60;
  Agent agent({"--probes", "process", "--interval", "1s", "--process-records", "3"},
              "process_fold");
  ASSERT_TRUE(agent.WaitRunning());
  Child trig = Child::Spawn(
      {Trigger("proc_trigger"), "-w", "-n", std::to_string(kChildren), "-m", "2"}, true, true);
  const int tpid = trig.pid;
  ASSERT_EQ(trig.ReadLine(), "pid " + std::to_string(tpid));
  trig.Go();
  const std::vector<int> pids = DonePids(trig.ReadLine(30s));
  ASSERT_EQ(trig.Wait(), 0);
  ASSERT_EQ(pids.size(), static_cast<size_t>(kChildren));
  const std::set<int> mine(pids.begin(), pids.end());
  // Wait for the interval that holds the last child's exit to be rolled up.
  ASSERT_TRUE(agent.WaitFor(
      [&](const json& j) {
        return j["event"]["type"] == "process.exit" && j["process"]["pid"] == tpid;
      },
      10s));
  EXPECT_EQ(agent.Stop(), 0);

  const auto recs = agent.Records();
  for (const char* type : {"process.exec", "process.exit"}) {
    // The trigger is a proc_trigger too, in the same cgroup: its own exec and exit (status 0)
    // fold with its children's unless they got a record of their own.
    uint64_t own = 0, folded = 0, folded_records = 0, trigger_own = 0;
    for (const auto& r : OfType(recs, type)) {
      const json& p = r["process"];
      if (r.contains("folded")) {
        // Folded by (comm, cgroup, exit status: 0 or 1 here): only the trigger and its children
        // are proc_trigger processes here; the record shows the last one of the fold.
        if (p["comm"] != "proc_trigger") continue;
        EXPECT_TRUE(mine.contains(p["pid"].get<int>()) || p["pid"] == tpid) << r;
        EXPECT_GE(r["folded"]["count"].get<uint64_t>(), 1u);
        folded += r["folded"]["count"].get<uint64_t>();
        ++folded_records;
      } else if (mine.contains(p["pid"].get<int>())) {
        ++own;
      } else if (p["pid"] == tpid) {
        ++trigger_own;
      }
    }
    EXPECT_LE(trigger_own, 1u) << type;
    EXPECT_EQ(own + folded + trigger_own, static_cast<uint64_t>(kChildren) + 1) << type;
    EXPECT_GT(folded, 0u) << type << ": 60 children in at most a few intervals, 3 records each";
    EXPECT_LT(folded_records, folded) << type << ": folding must fold";
  }
  const auto fin = FinalCounters(recs, "process");
  EXPECT_EQ(fin["seen"].get<uint64_t>(),
            fin["emitted"].get<uint64_t>() + fin["dropped"].get<uint64_t>());
  EXPECT_TRUE(SchemaValid(agent.path()));
}

const std::string kCid = "4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566778899";
const std::string kUid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
std::string Underscored(std::string s) {
  for (char& c : s) {
    if (c == '-') c = '_';
  }
  return s;
}

struct Layout {
  std::string name, rel, runtime, pod;
  bool container = true;
};

// Cgroups made while the agent runs, laid out as Docker, containerd (kubelet's systemd and
// cgroupfs drivers), CRI-O and Podman make them, each removed as soon as its process exited:
// the process, its exit and its syscalls still name the container and pod (learnt from
// cgroup:cgroup_mkdir, not read back from a cgroup that is gone).
TEST(ProcessIdentity, EveryRuntimeLayoutEvenAfterTheCgroupIsGone) {
  KS_REQUIRE_ROOT();
  const std::string cg2 = Cgroup2Mount();
  if (cg2.empty()) KS_SKIP_OR_FAIL_IN_CI("no cgroup2 mount on this host");
  const std::string top = "ksight-id-" + std::to_string(::getpid());
  const std::string us = Underscored(kUid);
  const std::vector<Layout> layouts = {
      {"docker", "/" + top + "/system.slice/docker-" + kCid + ".scope", "docker", ""},
      {"containerd",
       "/" + top + "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + us +
           ".slice/cri-containerd-" + kCid + ".scope",
       "containerd", kUid},
      {"cri-o", "/" + top + "/kubepods.slice/kubepods-pod" + us + ".slice/crio-" + kCid + ".scope",
       "cri-o", kUid},
      {"cgroupfs", "/" + top + "/kubepods/besteffort/pod" + kUid + "/" + kCid, "", kUid},
      {"podman", "/" + top + "/machine.slice/libpod-" + kCid + ".scope", "podman", ""},
      {"crio-conmon",
       "/" + top + "/kubepods.slice/kubepods-pod" + us + ".slice/crio-conmon-" + kCid + ".scope",
       "", kUid, false},
  };
  Agent agent({"--probes", "process,syscalls", "--interval", "1s"}, "process_identity");
  ASSERT_TRUE(agent.WaitRunning());
  std::map<std::string, std::vector<int>> pids;  // layout -> trigger, children
  for (const Layout& l : layouts) {
    std::error_code ec;
    fs::create_directories(cg2 + l.rel, ec);
    ASSERT_FALSE(ec) << l.rel << ": " << ec.message();
    Child trig =
        Child::Spawn({Trigger("proc_trigger"), "-w", "-c", cg2 + l.rel, "-n", "2"}, true, true);
    const int tpid = trig.pid;
    ASSERT_EQ(trig.ReadLine(), "pid " + std::to_string(tpid)) << l.name;
    trig.Go();
    std::vector<int> p = DonePids(trig.ReadLine(30s));
    ASSERT_EQ(trig.Wait(), 0) << l.name;
    ASSERT_EQ(p.size(), 2u) << l.name;
    p.insert(p.begin(), tpid);
    pids[l.name] = p;
    // The container is gone: remove its cgroups at once, innermost first.
    for (fs::path d = cg2 + l.rel; d.string().size() > cg2.size() + top.size() + 1;
         d = d.parent_path())
      ::rmdir(d.c_str());
  }
  const int last = pids[layouts.back().name][0];
  ASSERT_TRUE(agent.WaitFor(
      [&](const json& j) {
        return j["event"]["type"] == "syscall.stats" && j["process"]["pid"] == last;
      },
      15s));
  EXPECT_EQ(agent.Stop(), 0);
  ::rmdir((cg2 + "/" + top).c_str());

  const auto recs = agent.Records();
  for (const Layout& l : layouts) {
    const std::vector<int>& p = pids[l.name];
    auto check = [&](const json& r, const std::string& what) {
      if (l.container) {
        ASSERT_TRUE(r.contains("container")) << l.name << " " << what << ": " << r;
        EXPECT_EQ(r["container"]["id"], kCid) << l.name << " " << what;
        EXPECT_EQ(r["process"]["container_id"], kCid) << l.name << " " << what;
        if (l.runtime.empty()) {
          EXPECT_FALSE(r["container"].contains("runtime")) << l.name << " " << what;
        } else {
          EXPECT_EQ(r["container"]["runtime"]["name"], l.runtime) << l.name << " " << what;
        }
      } else {
        EXPECT_FALSE(r.contains("container")) << l.name << " " << what << ": " << r;
      }
      if (l.pod.empty()) {
        EXPECT_FALSE(r.contains("k8s")) << l.name << " " << what;
      } else {
        ASSERT_TRUE(r.contains("k8s")) << l.name << " " << what << ": " << r;
        EXPECT_EQ(r["k8s"]["pod"]["uid"], l.pod) << l.name << " " << what;
      }
    };
    size_t seen_exec = 0, seen_exit = 0, seen_stats = 0;
    for (const auto& r : recs) {
      if (!r.contains("process") || !r["process"].contains("pid")) continue;
      const int pid = r["process"]["pid"].get<int>();
      if (std::find(p.begin() + 1, p.end(), pid) == p.end() && pid != p[0]) continue;
      const std::string type = r["event"]["type"];
      if (type == "process.exec" && pid != p[0]) {
        check(r, type);
        ++seen_exec;
      } else if (type == "process.exit") {
        check(r, type);
        ++seen_exit;
      } else if (type == "syscall.stats" && pid != p[0]) {
        check(r, type);
        ++seen_stats;
      }
    }
    EXPECT_EQ(seen_exec, 2u) << l.name;
    EXPECT_EQ(seen_exit, 3u) << l.name;
    EXPECT_GE(seen_stats, 2u) << l.name;
  }
  EXPECT_TRUE(SchemaValid(agent.path()));
}

// cgroup v1 host (containers named by the memory controller's path, per pid): children that
// exit without exec'ing still name their container, inherited from their parent at fork.
TEST_P(ProcessHooks, CgroupV1ForkedChildrenNameTheirParentsContainer) {
  KS_REQUIRE_ROOT();
  const HookEnv env(GetParam());
  const std::string want_hook = GetParam() ? "tracepoint" : "tp_btf";
  const std::string v1 = "/sys/fs/cgroup/memory";
  if (!fs::exists(v1 + "/cgroup.procs"))
    KS_SKIP_OR_FAIL_IN_CI(
        "no cgroup v1 memory hierarchy on this host (a cgroup v2 host needs no "
        "lineage: every record has its cgroup id)");
  const std::string dir = v1 + "/docker/" + kCid;
  std::error_code ec;
  fs::create_directories(dir, ec);
  ASSERT_FALSE(ec) << dir << ": " << ec.message();
  Agent agent({"--probes", "process", "--interval", "1s"}, "process_v1_fork");
  ASSERT_TRUE(agent.WaitRunning());
  // In the cgroup before its exec (as a container's processes are), so the agent's first look
  // at it already sees the container.
  Child trig = Child::Spawn(
      {"/bin/sh", "-c",
       "echo $$ > " + dir + "/cgroup.procs && exec " + Trigger("proc_trigger") + " -w -F 3"},
      true, true);
  const int tpid = trig.pid;
  ASSERT_EQ(trig.ReadLine(), "pid " + std::to_string(tpid));
  trig.Go();
  const std::vector<int> pids = DonePids(trig.ReadLine(30s));
  ASSERT_EQ(trig.Wait(), 0);
  ASSERT_EQ(pids.size(), 3u);
  ASSERT_TRUE(agent.WaitFor(
      [&](const json& j) {
        return j["event"]["type"] == "process.exit" && j["process"]["pid"] == tpid;
      },
      10s));
  EXPECT_EQ(agent.Stop(), 0);
  ::rmdir(dir.c_str());
  ::rmdir((v1 + "/docker").c_str());
  const auto exits = ByPid(agent.Records(), "process.exit");
  for (size_t i = 0; i < pids.size(); ++i) {
    ASSERT_TRUE(exits.contains(pids[i])) << "child " << i;
    const json& x = exits.at(pids[i]);
    EXPECT_EQ(x["process"]["exit"]["code"], 40 + static_cast<int>(i)) << x;
    ASSERT_TRUE(x.contains("container")) << x;
    EXPECT_EQ(x["container"]["id"], kCid) << x;
    EXPECT_EQ(x["container"]["runtime"]["name"], "docker") << x;
  }
  const auto status = OfType(agent.Records(), "agent.status");
  EXPECT_TRUE(std::any_of(status.begin(), status.end(), [&](const json& j) {
    return j["status"].value("probe", "") == "process" &&
           j["status"]["details"].value("sched_process_fork", "").rfind(want_hook + " ", 0) == 0;
  }));
}

// Where the memory controller is: cgroup v2 (memory.max) or v1 (memory.limit_in_bytes).
struct MemoryCgroup {
  std::string dir, rel, limit_file, swap_file;
};
std::optional<MemoryCgroup> MakeMemoryCgroup(const std::string& name) {
  const std::string cg2 = Cgroup2Mount();
  if (!cg2.empty() && ReadFile(cg2 + "/cgroup.controllers").find("memory") != std::string::npos) {
    std::ofstream(cg2 + "/cgroup.subtree_control") << "+memory" << std::flush;
    MemoryCgroup m{cg2 + "/" + name, "/" + name, "memory.max", "memory.swap.max"};
    if (::mkdir(m.dir.c_str(), 0755) == 0 || errno == EEXIST) {
      if (fs::exists(m.dir + "/memory.max")) return m;
    }
  }
  const std::string v1 = "/sys/fs/cgroup/memory";
  if (fs::exists(v1 + "/memory.limit_in_bytes")) {
    MemoryCgroup m{v1 + "/" + name, "/" + name, "memory.limit_in_bytes",
                   "memory.memsw.limit_in_bytes"};
    if (::mkdir(m.dir.c_str(), 0755) == 0 || errno == EEXIST) return m;
  }
  return std::nullopt;
}

// A process that touches 256 MiB in a cgroup limited to 32 MiB is chosen by the OOM killer:
// one process.oom_kill naming it (and its cgroup and limit), and its process.exit says so.
TEST(ProcessOom, KilledInAMemoryLimitedCgroup) {
  KS_REQUIRE_ROOT();
  const std::string name = "ksight-oom-" + std::to_string(::getpid());
  const auto mc = MakeMemoryCgroup(name);
  if (!mc) KS_SKIP_OR_FAIL_IN_CI("no memory cgroup controller (v2 or v1) on this host");
  constexpr uint64_t kLimit = 32ULL << 20;
  std::ofstream(mc->dir + "/" + mc->limit_file) << kLimit << std::flush;
  if (fs::exists(mc->dir + "/" + mc->swap_file))
    std::ofstream(mc->dir + "/" + mc->swap_file)
        << (mc->swap_file == "memory.swap.max" ? 0 : kLimit) << std::flush;
  Agent agent({"--probes", "process", "--interval", "1s"}, "process_oom");
  ASSERT_TRUE(agent.WaitRunning());
  Child trig =
      Child::Spawn({Trigger("proc_trigger"), "-w", "-c", mc->dir, "-o", "256"}, true, true);
  const int tpid = trig.pid;
  ASSERT_EQ(trig.ReadLine(), "pid " + std::to_string(tpid));
  trig.Go();
  const std::vector<int> pids = DonePids(trig.ReadLine(60s));
  ASSERT_EQ(trig.Wait(), 0);
  ASSERT_EQ(pids.size(), 1u);
  const int victim = pids[0];
  ASSERT_TRUE(agent.WaitFor(
      [&](const json& j) {
        return j["event"]["type"] == "process.oom_kill" && j["process"]["pid"] == victim;
      },
      15s));
  EXPECT_EQ(agent.Stop(), 0);
  ::rmdir(mc->dir.c_str());

  const auto recs = agent.Records();
  std::vector<json> kills;
  for (const auto& r : OfType(recs, "process.oom_kill"))
    if (r["process"]["pid"] == victim) kills.push_back(r);
  ASSERT_EQ(kills.size(), 1u);
  const json& k = kills[0];
  EXPECT_EQ(k["process"]["comm"], "proc_trigger") << k;
  EXPECT_EQ(k["oom"]["victim_from"], "exit") << k;
  EXPECT_EQ(k["oom"]["cgroup"]["path"], mc->rel) << k;
  EXPECT_EQ(k["oom"]["cgroup"]["memory_limit_bytes"], kLimit) << k;
  // The trigger's own allocation ran the OOM killer (the victim itself, here).
  EXPECT_EQ(k["oom"]["trigger"]["pid"], victim) << k;
  const bool figures =
      ReadFile("/sys/kernel/tracing/events/oom/mark_victim/format").find("total_vm") !=
          std::string::npos ||
      ReadFile("/sys/kernel/debug/tracing/events/oom/mark_victim/format").find("total_vm") !=
          std::string::npos;
  EXPECT_EQ(k["oom"].contains("memory"), figures) << k;
  if (figures) {
    EXPECT_GT(k["oom"]["memory"]["anon_rss_bytes"].get<uint64_t>(), 16ULL << 20) << k;
    EXPECT_LE(k["oom"]["memory"]["anon_rss_bytes"].get<uint64_t>(), kLimit) << k;
  }
  const auto exits = ByPid(recs, "process.exit");
  ASSERT_TRUE(exits.contains(victim));
  const json& x = exits.at(victim)["process"]["exit"];
  EXPECT_TRUE(x["oom_killed"].get<bool>()) << x;
  EXPECT_EQ(x["signal"], "SIGKILL") << x;
  EXPECT_TRUE(SchemaValid(agent.path()));
}

INSTANTIATE_TEST_SUITE_P(Flavors, ProcessHooks, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "tracepoint" : "tp_btf"; });

}  // namespace
}  // namespace ksight::test
