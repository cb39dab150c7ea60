// Workload identity: the cgroup path layouts of each container runtime and of the kubelet, the
// record objects, and the cgroup id -> path cache on a cgroup tree made of plain directories.
#include "core/workload_identity.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace ksight {
namespace {

namespace fs = std::filesystem;

const std::string kCid = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kUid = "8d6e4f2a-1b3c-4d5e-9f60-718293a4b5c6";
std::string Underscored(std::string s) {
  for (char& c : s) {
    if (c == '-') c = '_';
  }
  return s;
}

struct Layout {
  const char* what;
  std::string path;
  std::string container_id, runtime, pod_uid;
};

TEST(ParseCgroupPath, EveryRuntimeAndKubeletLayout) {
  const std::string us = Underscored(kUid);
  const Layout cases[] = {
      {"docker, systemd driver", "/system.slice/docker-" + kCid + ".scope", kCid, "docker", ""},
      {"docker, cgroupfs driver", "/docker/" + kCid, kCid, "docker", ""},
      {"containerd, kubelet systemd burstable",
       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + us +
           ".slice/cri-containerd-" + kCid + ".scope",
       kCid, "containerd", kUid},
      {"containerd, kubelet systemd guaranteed",
       "/kubepods.slice/kubepods-pod" + us + ".slice/cri-containerd-" + kCid + ".scope", kCid,
       "containerd", kUid},
      {"kind (kubelet.slice prefix)",
       "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
       "kubelet-kubepods-besteffort-pod" +
           us + ".slice/cri-containerd-" + kCid + ".scope",
       kCid, "containerd", kUid},
      {"cri-o",
       "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + us + ".slice/crio-" +
           kCid + ".scope",
       kCid, "cri-o", kUid},
      {"cri-o monitor (conmon) is not the container",
       "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + us +
           ".slice/crio-conmon-" + kCid + ".scope",
       "", "", kUid},
      {"kubelet cgroupfs driver", "/kubepods/burstable/pod" + kUid + "/" + kCid, kCid, "", kUid},
      {"kubelet cgroupfs guaranteed", "/kubepods/pod" + kUid + "/" + kCid, kCid, "", kUid},
      {"pod sandbox level only", "/kubepods/besteffort/pod" + kUid, "", "", kUid},
      {"podman", "/machine.slice/libpod-" + kCid + ".scope", kCid, "podman", ""},
      {"podman rootless",
       "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kCid + ".scope", kCid,
       "podman", ""},
      {"podman conmon", "/machine.slice/libpod-conmon-" + kCid + ".scope", "", "", ""},
      {"nested: the innermost container wins",
       "/system.slice/docker-" + kCid + ".scope/docker/" + std::string(64, 'e'),
       std::string(64, 'e'), "docker", ""},
      {"a container's own sub-cgroup", "/system.slice/docker-" + kCid + ".scope/init.scope", kCid,
       "docker", ""},
      {"a systemd service", "/system.slice/ssh.service", "", "", ""},
      {"user session", "/user.slice/user-0.slice/session-1.scope", "", "", ""},
      {"root", "/", "", "", ""},
      {"empty", "", "", "", ""},
      {"65 hex digits is no id", "/x/" + std::string(65, 'b'), "", "", ""},
      {"upper-case hex is no id", "/docker/" + std::string(64, 'A'), "", "", ""},
      {"a pod uid needs its shape", "/kubepods/podnot-a-uid", "", "", ""},
      {"'pod' inside a word is no pod", "/x/ipod" + kUid, "", "", ""},
  };
  for (const Layout& c : cases) {
    const CgroupIdentity id = ParseCgroupPath(c.path);
    EXPECT_EQ(id.container_id, c.container_id) << c.what << ": " << c.path;
    EXPECT_EQ(id.container_runtime, c.runtime) << c.what << ": " << c.path;
    EXPECT_EQ(id.pod_uid, c.pod_uid) << c.what << ": " << c.path;
    EXPECT_EQ(ContainerIdFromCgroupPath(c.path), c.container_id) << c.what;
  }
}

std::string Written(const Identity& id, const PodMetadata* pod) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  WriteIdentity(w, id, pod);
  w.EndObject();
  return out;
}

TEST(WriteIdentity, OpenTelemetryNamesOmittedWhenUnknown) {
  Identity none;
  EXPECT_EQ(Written(none, nullptr), "{}");

  Identity docker;
  docker.parsed = ParseCgroupPath("/docker/" + kCid);
  EXPECT_EQ(Written(docker, nullptr),
            R"({"container":{"id":")" + kCid + R"(","runtime":{"name":"docker"}}})");

  Identity pod;
  pod.parsed = ParseCgroupPath("/kubepods.slice/kubepods-pod" + Underscored(kUid) +
                               ".slice/cri-containerd-" + kCid + ".scope");
  EXPECT_EQ(Written(pod, nullptr),
            R"({"container":{"id":")" + kCid +
                R"(","runtime":{"name":"containerd"}},"k8s":{"pod":{"uid":")" + kUid + R"("}}})");
  PodMetadata meta{.name = "trainer-0", .namespace_name = "ml", .containers = {{kCid, "cuda"}}};
  EXPECT_EQ(Written(pod, &meta),
            R"({"container":{"id":")" + kCid +
                R"(","runtime":{"name":"containerd"}},"k8s":{"pod":{"uid":")" + kUid +
                R"(","name":"trainer-0"},"namespace":{"name":"ml"},"container":{"name":"cuda"}}})");
}

TEST(CgroupFiles, V1AndV2Lines) {
  const std::string f =
      "12:pids:/x\n4:memory:/docker/" + kCid + "\n3:cpu,cpuacct:/y\n1:name=systemd:/sys\n0::/\n";
  EXPECT_EQ(CgroupV1Path(f, "memory"), "/docker/" + kCid);
  EXPECT_EQ(CgroupV1Path(f, "cpuacct"), "/y");
  EXPECT_EQ(CgroupV1Path(f, "name=systemd"), "/sys");
  EXPECT_FALSE(CgroupV1Path(f, "blkio"));
  EXPECT_EQ(CgroupV2Path(f), "/");
  EXPECT_FALSE(CgroupV1Path("garbage", "memory"));
}

// A cgroup tree of plain directories (the cgroup id is a directory's inode) and a fake /proc.
class IdentityTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("identity_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(cg_ / "system.slice" / ("docker-" + kCid + ".scope"));
    fs::create_directories(cg_ / "kubepods" / ("pod" + kUid) / kCid);
  }
  void TearDown() override { fs::remove_all(root_); }
  static uint64_t Ino(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? st.st_ino : 0;
  }
  void Proc(uint32_t pid, const std::string& cgroup) {
    const fs::path d = root_ / "proc" / std::to_string(pid);
    fs::create_directories(d);
    std::ofstream(d / "cgroup") << cgroup;
  }
  IdentityCache::Options Opt() {
    IdentityCache::Options o;
    o.proc = (root_ / "proc").string();
    o.cgroup2 = cg_.string();
    return o;
  }
  fs::path root_;
  fs::path cg_ = fs::path(::testing::TempDir()) / ("identity_" + std::to_string(::getpid())) / "cg";
};

TEST_F(IdentityTree, LearntTreeResolvesAfterTheCgroupIsGone) {
  IdentityCache c(Opt());
  c.LearnTree();
  const uint64_t id = Ino(cg_ / "kubepods" / ("pod" + kUid) / kCid);
  fs::remove_all(cg_ / "kubepods");  // the container exited and its cgroup was removed
  const Identity& got = c.Of(id, 0);
  EXPECT_EQ(got.cgroup_path, "/kubepods/pod" + kUid + "/" + kCid);
  EXPECT_EQ(got.parsed.container_id, kCid);
  EXPECT_EQ(got.parsed.pod_uid, kUid);
  EXPECT_EQ(c.Of(c.root_id(), 0).cgroup_path, "/");
  EXPECT_EQ(c.stats().walks, 0u);
}

TEST_F(IdentityTree, LearntFromMkdirWithoutADirectory) {
  IdentityCache c(Opt());
  c.Learn(777777, "/system.slice/crio-" + kCid + ".scope");
  EXPECT_EQ(c.Of(777777, 0).parsed.container_runtime, "cri-o");
  EXPECT_EQ(c.PathOf(777777), "/system.slice/crio-" + kCid + ".scope");
}

TEST_F(IdentityTree, FromProcThenWalkAndAMissIsRemembered) {
  IdentityCache c(Opt());
  const std::string docker = "/system.slice/docker-" + kCid + ".scope";
  const uint64_t id = Ino(cg_ / ("system.slice/docker-" + kCid + ".scope"));
  Proc(100, "0::" + docker + "\n");
  EXPECT_EQ(c.Of(id, 100).cgroup_path, docker);
  EXPECT_EQ(c.stats().walks, 0u);  // from /proc, checked against the directory's inode

  // A pid whose /proc names another cgroup (moved, or reused): walked, not trusted.
  const uint64_t pod = Ino(cg_ / "kubepods" / ("pod" + kUid) / kCid);
  Proc(101, "0::" + docker + "\n");
  EXPECT_EQ(c.Of(pod, 101).parsed.pod_uid, kUid);
  EXPECT_EQ(c.stats().walks, 1u);

  EXPECT_EQ(c.Of(99999999, 0).cgroup_path, "");
  EXPECT_EQ(c.Of(99999999, 0).cgroup_path, "");
  EXPECT_EQ(c.stats().walks, 2u);  // once
  EXPECT_EQ(c.stats().unresolved, 1u);
}

TEST_F(IdentityTree, CgroupV1HostsUseTheMemoryController) {
  IdentityCache::Options o = Opt();
  o.v1 = true;
  IdentityCache c(o);
  Proc(200, "9:name=systemd:/system.slice/docker-" + kCid + ".scope\n4:memory:/docker/" + kCid +
                "\n0::/\n");
  Proc(201, "9:name=systemd:/system.slice/cron.service\n4:memory:/\n0::/\n");
  // Every task is in the v2 root on such a host.
  const Identity& a = c.Of(c.root_id(), 200);
  EXPECT_EQ(a.cgroup_path, "/docker/" + kCid);
  EXPECT_EQ(a.parsed.container_runtime, "docker");
  EXPECT_EQ(c.Of(c.root_id(), 201).cgroup_path, "/system.slice/cron.service");
  fs::remove_all(root_ / "proc" / "200");
  EXPECT_EQ(c.Of(c.root_id(), 200).parsed.container_id, kCid);  // exited: what was known
  EXPECT_EQ(c.Of(c.root_id(), 202).cgroup_path, "");            // never seen
  EXPECT_EQ(c.stats().v1_lookups, 2u);
}

TEST_F(IdentityTree, CgroupV1ChildrenInheritAndExecRereads) {
  IdentityCache::Options o = Opt();
  o.v1 = true;
  IdentityCache c(o);
  EXPECT_TRUE(c.wants_lineage());
  Proc(300, "4:memory:/\n0::/\n");
  EXPECT_TRUE(c.Of(c.root_id(), 300).parsed.container_id.empty());
  // The runtime moved it into the container, then it exec'd: the exec re-reads.
  Proc(300, "4:memory:/docker/" + kCid + "\n0::/\n");
  EXPECT_TRUE(c.Of(c.root_id(), 300).parsed.container_id.empty());  // cached until then
  c.Refresh(300);
  EXPECT_EQ(c.Of(c.root_id(), 300).parsed.container_id, kCid);
  // A child forked and gone before anyone looked: its parent's cgroups.
  c.Inherit(301, 300);
  EXPECT_EQ(c.Of(c.root_id(), 301).parsed.container_id, kCid);
  c.Inherit(302, 999);  // unknown parent: nothing to inherit
  EXPECT_EQ(c.Of(c.root_id(), 302).cgroup_path, "");
  IdentityCache v2only(Opt());
  EXPECT_FALSE(v2only.wants_lineage());
}

TEST_F(IdentityTree, ByPidAlone) {
  IdentityCache c(Opt());
  const std::string docker = "/system.slice/docker-" + kCid + ".scope";
  Proc(400, "0::" + docker + "\n");
  EXPECT_EQ(c.OfPid(400).parsed.container_runtime, "docker");
  EXPECT_EQ(c.OfPid(401).cgroup_path, "");  // no such process
  EXPECT_EQ(c.OfPid(0).cgroup_path, "");
}

TEST_F(IdentityTree, BoundedMemory) {
  IdentityCache::Options o = Opt();
  o.max_entries = 4;
  IdentityCache c(o);
  for (uint64_t i = 1; i <= 10; ++i) c.Learn(1000 + i, "/docker/" + kCid);
  EXPECT_LE(c.size(), 4u);
  EXPECT_GE(c.stats().evictions, 2u);
}

}  // namespace
}  // namespace ksight
