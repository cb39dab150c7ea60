// workload_identity.h - who a process is, as SREs filter: its container (id, runtime) and
// Kubernetes pod (uid; name, namespace and container name when metadata is known), from the
// cgroup path its cgroup id maps to. One cache per agent (ProbeContext::identity), used on the
// agent thread only.
//
// Where the path comes from, in order:
//   1. cgroup ids learnt from cgroup:cgroup_mkdir (the process probe) and from a walk of the
//      cgroup v2 tree at start, so a container that already exited still resolves;
//   2. /proc/<pid>/cgroup of a live process (its "0::" line);
//   3. a bounded walk of the cgroup v2 tree (a miss is remembered: cgroup ids are never reused).
// On cgroup v1 hosts (every task in the v2 root) the memory controller's path of the live
// process is used instead (name=systemd's when there is no memory controller).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/json_writer.h"

namespace ksight {

// What a cgroup path says about the workload ("" = not shown).
struct CgroupIdentity {
  std::string container_id;       // 64 hex digits (docker, containerd, CRI-O, podman)
  std::string container_runtime;  // "docker", "containerd", "cri-o", "podman" or "" (unknown)
  std::string pod_uid;            // Kubernetes pod UID, 8-4-4-4-12 with dashes
  bool empty() const { return container_id.empty() && pod_uid.empty(); }
};

// Parses the layouts of Docker (`docker-<id>.scope`, `/docker/<id>`), containerd
// (`cri-containerd-<id>.scope`), CRI-O (`crio-<id>.scope`; `crio-conmon-<id>.scope` is the
// monitor, not the container), Podman (`libpod-<id>.scope`, not `libpod-conmon-`), and the
// kubelet's systemd (`kubepods-<qos>-pod<uid_with_underscores>.slice`) and cgroupfs
// (`/kubepods/<qos>/pod<uid>/<id>`) pod cgroups. The innermost container wins.
CgroupIdentity ParseCgroupPath(std::string_view path);

// The container id alone (kept for process.container_id, schema v1).
inline std::string ContainerIdFromCgroupPath(std::string_view path) {
  return ParseCgroupPath(path).container_id;
}

// Kubernetes names of a pod, from the kubelet or the API server (k8s metadata, optional).
struct PodMetadata {
  std::string name;
  std::string namespace_name;
  // container id (64 hex) -> container name
  std::unordered_map<std::string, std::string> containers;
  std::vector<std::pair<std::string, std::string>> labels;  // the configured keys it has
};

// A task's workload, as records show it.
struct Identity {
  std::string cgroup_path;  // "" = unknown
  CgroupIdentity parsed;
};

// "container":{"id":..,"runtime":{"name":..}} and
// "k8s":{"pod":{"uid":..,"name":..,"label":{..}},"namespace":{"name":..},"container":{"name":..}}
// (OpenTelemetry's container.* and k8s.* attributes; objects and keys omitted when unknown).
void WriteIdentity(JsonWriter& w, const Identity& id, const PodMetadata* pod = nullptr);

// --- small /proc and cgroupfs helpers, shared with the gpu probe ---------------------------
std::string ReadSmallFile(const std::string& path);
uint64_t InodeOf(const std::string& path);
// The path (relative to `root`, "/" for the root) of the cgroup v2 directory whose inode is `id`
// (the cgroup id is the kernfs inode), at most `budget` directories visited; "" if not found.
std::string FindCgroup(const std::string& root, uint64_t id, size_t budget);
// Where cgroup2 is mounted, from /proc/mounts text ("/sys/fs/cgroup", or "/sys/fs/cgroup/unified"
// on a hybrid host), "" when it is not.
std::string Cgroup2MountFrom(std::string_view proc_mounts);
std::string Cgroup2Mount();  // of this host
// The cgroup v2 path in /proc/<pid>/cgroup (the "0::" line), nullopt without one.
std::optional<std::string> CgroupV2Path(std::string_view cgroup_file);
// The cgroup v1 path of a controller ("memory", "name=systemd") in /proc/<pid>/cgroup.
std::optional<std::string> CgroupV1Path(std::string_view cgroup_file, std::string_view controller);

struct IdentityStats {
  uint64_t learnt = 0;      // cgroup ids learnt (walk at start, cgroup_mkdir, /proc)
  uint64_t walks = 0;       // bounded walks of the cgroup tree for an unknown id
  uint64_t unresolved = 0;  // lookups that found no path
  uint64_t evictions = 0;   // times a full cache was cleared (bounded memory)
  uint64_t v1_lookups = 0;  // cgroup v1 paths read from /proc/<pid>/cgroup
  uint64_t pod_misses = 0;  // records of a pod the Kubernetes metadata does not have (yet)
};

class IdentityCache {
 public:
  struct Options {
    std::string proc = "/proc";
    std::string cgroup2;  // the cgroup v2 mount ("" = none)
    bool v1 = false;      // cgroup v1 memory (or name=systemd) hierarchy mounted
    size_t max_entries = 65536;
    size_t walk_budget = 20000;  // directories per walk
    uint64_t v1_ttl_ns = 30'000'000'000;
  };
  static Options ForHost();
  explicit IdentityCache(Options opt);

  // The identity of task `pid` (its tgid; 0 = unknown) in cgroup v2 `cgroup_id` (0 = unknown).
  // An empty Identity when nothing is known.
  const Identity& Of(uint64_t cgroup_id, uint32_t pid);
  // The identity of a live task known only by pid (its cgroup from /proc/<pid>/cgroup).
  const Identity& OfPid(uint32_t pid);
  // cgroup:cgroup_mkdir on the v2 hierarchy: `path` relative to its root.
  void Learn(uint64_t cgroup_id, std::string_view path);
  // cgroup v1 host: a forked task has its parent's cgroups (what is known of the parent's is
  // copied, so the child resolves after it is gone even if it never exec'd).
  void Inherit(uint32_t child_pid, uint32_t parent_pid);
  // cgroup v1 host: read this task's cgroups again at its next lookup (an exec: runtimes move a
  // process into its container's cgroups before they exec the container's program).
  void Refresh(uint32_t pid) { by_pid_.erase(pid); }
  // Whether Inherit() has any use here (a cgroup v1 hierarchy is mounted).
  bool wants_lineage() const { return opt_.v1; }
  // Learns every cgroup under the v2 mount (at start; bounded by max_entries).
  void LearnTree();
  // The path of a v2 cgroup id, "" when unknown (learnt or walked).
  const std::string& PathOf(uint64_t cgroup_id);
  uint64_t root_id() const { return root_id_; }
  const std::string& cgroup2() const { return opt_.cgroup2; }  // the v2 mount ("" = none)
  size_t size() const { return by_id_.size(); }
  const IdentityStats& stats() const { return stats_; }

  // Kubernetes metadata by pod UID (owned by the caller, e.g. the kubelet client; may be null).
  void SetPods(const std::unordered_map<std::string, PodMetadata>* pods) { pods_ = pods; }
  // Counts a miss (stats().pod_misses) when metadata is set but lacks the pod.
  const PodMetadata* PodOf(const Identity& id);
  // The same without counting (filters looking at every cgroup).
  const PodMetadata* FindPod(const Identity& id) const;
  // Every cgroup id known with a path.
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [id, identity] : by_id_) {
      if (!identity.cgroup_path.empty()) f(id, identity);
    }
  }

 private:
  Identity& Store(uint64_t cgroup_id, std::string path);
  const Identity& Of(uint64_t cgroup_id, uint32_t pid, bool root);
  const Identity& V1Of(uint32_t pid);

  Options opt_;
  uint64_t root_id_ = 0;
  IdentityStats stats_;
  std::unordered_map<uint64_t, Identity> by_id_;  // cgroup id -> identity ("" path = a miss)
  struct V1Entry {
    Identity id;
    uint64_t at_ns = 0;
  };
  std::unordered_map<uint32_t, V1Entry> by_pid_;  // cgroup v1 hosts
  const std::unordered_map<std::string, PodMetadata>* pods_ = nullptr;
  Identity empty_;
};

}  // namespace ksight
