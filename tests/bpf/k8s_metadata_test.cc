// Kubernetes metadata end to end: a fake kubelet (an HTTP server in the test serving a PodList of
// the real shape, with a bearer token) names the pod, namespace, container and labels of a
// process in a cgroup laid out as the kubelet lays one out; with the kubelet gone, records keep
// the pod UID, the failure is counted and reported, and the agent keeps running.
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <httplib.h>

#include "core/workload_identity.h"
#include "harness.h"

namespace ksight::test {
namespace {

namespace fs = std::filesystem;

const std::string kCid = "7a7b7c7d8e9f00112233445566778899aabbccddeeff00112233445566778899";
const std::string kUid = "7e57e57e-1111-4222-8333-944445555666";
const std::string kUidUs = "7e57e57e_1111_4222_8333_944445555666";
const std::string kOtherUid = "7e57e57e-9999-4222-8333-944445555666";
const std::string kOtherUidUs = "7e57e57e_9999_4222_8333_944445555666";

std::string PodList() {
  return R"({"kind":"PodList","apiVersion":"v1","metadata":{},"items":[
    {"metadata":{"name":"trainer-0","namespace":"ml","uid":")" +
         kUid + R"(","labels":{"app":"trainer","pod-template-hash":"5d8f"}},
     "spec":{"nodeName":"this-node","containers":[{"name":"cuda"}]},
     "status":{"phase":"Running","containerStatuses":[{"name":"cuda","containerID":"containerd://)" +
         kCid + R"(","ready":true}]}}]})";
}

// A pod's cgroup (kubelet systemd driver, containerd), made under the test's own top directory.
std::string PodCgroup(const std::string& cg2, const std::string& top, const std::string& uid_us) {
  return cg2 + "/" + top + "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" +
         uid_us + ".slice/cri-containerd-" + kCid + ".scope";
}

void RemoveUp(const std::string& dir, const std::string& stop) {
  for (fs::path d = dir; d.string().size() > stop.size(); d = d.parent_path()) ::rmdir(d.c_str());
}

// proc_trigger -c DIR -n 1: the pids of the trigger and its child.
std::vector<int> RunIn(const std::string& dir) {
  Child trig = Child::Spawn({Trigger("proc_trigger"), "-c", dir, "-n", "1"}, false, true);
  const int tpid = trig.pid;
  EXPECT_EQ(trig.ReadLine(), "pid " + std::to_string(tpid));
  const std::string done = trig.ReadLine(30s);
  EXPECT_EQ(trig.Wait(), 0);
  const auto at = done.find("pids=");
  if (at == std::string::npos) return {tpid};
  return {tpid, std::stoi(done.substr(at + 5))};
}

TEST(K8sMetadata, FakeKubeletNamesThePodAndItsLossIsCountedNotFatal) {
  KS_REQUIRE_ROOT();
  const std::string cg2 = Cgroup2Mount();
  if (cg2.empty()) KS_SKIP_OR_FAIL_IN_CI("no cgroup2 mount on this host");
  const std::string tmp = ::testing::TempDir() + "/ksight_k8s_" + std::to_string(::getpid());
  fs::create_directories(tmp);
  std::ofstream(tmp + "/token") << "test-token\n";

  httplib::Server kubelet;
  std::atomic<int> requests{0}, unauthorized{0};
  kubelet.Get("/pods", [&](const httplib::Request& req, httplib::Response& res) {
    ++requests;
    if (req.get_header_value("Authorization") != "Bearer test-token") {
      ++unauthorized;
      res.status = 401;
      return;
    }
    res.set_content(PodList(), "application/json");
  });
  const int port = kubelet.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread server([&] { kubelet.listen_after_bind(); });

  std::ofstream(tmp + "/ksight.toml")
      << "[kubernetes]\nkubelet_url = \"http://127.0.0.1:" << port << "/pods\"\ntoken_file = \""
      << tmp << "/token\"\nlabels = [\"app\"]\nrefresh = \"1s\"\n";
  Agent agent({"--config", tmp + "/ksight.toml", "--probes", "process", "--interval", "1s"},
              "k8s_metadata");
  ASSERT_TRUE(agent.WaitRunning());
  auto metadata = [](const std::string& prefix) {
    return [prefix](const json& j) {
      return IsStatus(j, "metadata") && j["status"].value("reason", "").rfind(prefix, 0) == 0;
    };
  };
  ASSERT_TRUE(agent.WaitFor(metadata("ok: 1 pods"), 15s));
  // A second agent tracing only namespace "ml": it needs the pod list to know which cgroups.
  Agent ns_agent({"--config", tmp + "/ksight.toml", "--probes", "process", "--interval", "1s",
                  "--namespace", "ml"},
                 "k8s_namespace");
  ASSERT_TRUE(ns_agent.WaitRunning());
  ASSERT_TRUE(ns_agent.WaitFor(metadata("ok: 1 pods"), 15s));

  const std::string top = "ksight-k8s-" + std::to_string(::getpid());
  const std::string known = PodCgroup(cg2, top, kUidUs);
  fs::create_directories(known);
  // The namespace filter takes the new cgroup in once it learnt it: a process exec'd there is
  // reported from then on.
  ASSERT_TRUE(WaitUntil(
      [&] {
        Child c = Child::Spawn(
            {"/bin/sh", "-c", "echo $$ > " + known + "/cgroup.procs && exec /bin/true"}, false,
            false);
        c.Wait();
        return FileHas(ns_agent.path(), [](const json& j) {
          return j["event"]["type"] == "process.exec" && j["process"]["comm"] == "true";
        });
      },
      "the namespace filter to take in the pod's cgroup", 15s, 200ms));
  const std::vector<int> p1 = RunIn(known);
  RemoveUp(known, cg2 + "/" + top);

  // The kubelet goes away: the next unknown pod is looked up, fails, and is counted.
  kubelet.stop();
  server.join();
  const int served = requests.load();
  ASSERT_TRUE(agent.WaitFor(metadata("failing: "), 15s));
  const std::string other = PodCgroup(cg2, top, kOtherUidUs);
  fs::create_directories(other);
  const std::vector<int> p2 = RunIn(other);
  RemoveUp(other, cg2 + "/" + top);
  ::rmdir((cg2 + "/" + top).c_str());
  ASSERT_EQ(p1.size(), 2u);
  ASSERT_EQ(p2.size(), 2u);
  ASSERT_TRUE(agent.WaitFor(
      [&](const json& j) {
        return j["event"]["type"] == "process.exit" && j["process"]["pid"] == p2[0];
      },
      10s));
  EXPECT_TRUE(agent.Alive());
  EXPECT_EQ(agent.Stop(), 0);
  EXPECT_EQ(ns_agent.Stop(), 0);
  // The namespace filter: the pod in "ml" (its trigger's exit, its child's exec and exit), and
  // nothing of the pod the metadata does not know, nor of any other process.
  std::set<int> ns_pids;
  for (const auto& r : ns_agent.Records()) {
    if (!r.contains("process")) continue;
    ASSERT_TRUE(r.contains("k8s")) << r;
    EXPECT_EQ(r["k8s"]["namespace"]["name"], "ml") << r;
    ns_pids.insert(r["process"]["pid"].get<int>());
  }
  EXPECT_TRUE(ns_pids.contains(p1[0]) && ns_pids.contains(p1[1]));
  EXPECT_FALSE(ns_pids.contains(p2[0]) || ns_pids.contains(p2[1]));
  fs::remove_all(tmp);

  EXPECT_GE(served, 1);
  EXPECT_EQ(unauthorized.load(), 0) << "the agent must send the token file's bearer token";
  size_t named = 0, uid_only = 0;
  for (const auto& r : agent.Records()) {
    const std::string type = r["event"]["type"];
    if (type != "process.exec" && type != "process.exit") continue;
    const int pid = r["process"]["pid"];
    if (pid == p1[1] || (pid == p1[0] && type == "process.exit")) {
      ASSERT_TRUE(r.contains("k8s")) << r;
      EXPECT_EQ(r["k8s"]["pod"]["uid"], kUid) << r;
      EXPECT_EQ(r["k8s"]["pod"]["name"], "trainer-0") << r;
      EXPECT_EQ(r["k8s"]["pod"]["label"], json({{"app", "trainer"}})) << r;
      EXPECT_EQ(r["k8s"]["namespace"]["name"], "ml") << r;
      EXPECT_EQ(r["k8s"]["container"]["name"], "cuda") << r;
      ++named;
    } else if (pid == p2[1] || (pid == p2[0] && type == "process.exit")) {
      ASSERT_TRUE(r.contains("k8s")) << r;
      EXPECT_EQ(r["k8s"]["pod"], json({{"uid", kOtherUid}})) << r;  // the UID alone
      EXPECT_FALSE(r["k8s"].contains("namespace")) << r;
      ++uid_only;
    }
  }
  EXPECT_EQ(named, 3u);  // the child's exec and exit, the trigger's exit
  EXPECT_EQ(uid_only, 3u);
  // The failure in agent.status names the cause and the count.
  bool failing_reported = false;
  for (const auto& r : OfType(agent.Records(), "agent.status")) {
    if (r["status"]["state"] != "metadata") continue;
    if (r["status"]["reason"].get<std::string>().rfind("failing: ", 0) == 0) {
      failing_reported = true;
      EXPECT_GE(std::stoi(r["status"]["details"]["failures"].get<std::string>()), 1) << r;
    }
  }
  EXPECT_TRUE(failing_reported);
  EXPECT_TRUE(SchemaValid(agent.path()));
}

}  // namespace
}  // namespace ksight::test
