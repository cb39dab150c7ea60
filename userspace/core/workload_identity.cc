// workload_identity.cc - see workload_identity.h.
#include "core/workload_identity.h"

#include <sys/stat.h>

#include <array>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include <fmt/format.h>

namespace ksight {
namespace {

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool IsContainerId(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!IsLowerHex(c)) return false;
  }
  return true;
}

// 8-4-4-4-12 hex digits separated by '-' (cgroupfs) or '_' (systemd slices).
bool IsPodUid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool sep = i == 8 || i == 13 || i == 18 || i == 23;
    if (sep ? (s[i] != '-' && s[i] != '_') : !IsLowerHex(s[i])) return false;
  }
  return true;
}

std::string_view StripUnitSuffix(std::string_view c) {
  for (std::string_view suffix : {".scope", ".slice"}) {
    if (c.ends_with(suffix)) return c.substr(0, c.size() - suffix.size());
  }
  return c;
}

struct RuntimePrefix {
  std::string_view prefix;
  std::string_view runtime;  // "" = a monitor's cgroup: not inside the container
};
// Longest first where one prefix starts another (crio-conmon- before crio-).
constexpr std::array<RuntimePrefix, 6> kPrefixes = {{
    {"cri-containerd-", "containerd"},
    {"crio-conmon-", ""},
    {"crio-", "cri-o"},
    {"libpod-conmon-", ""},
    {"libpod-", "podman"},
    {"docker-", "docker"},
}};

uint64_t BootNs() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

bool HostHasV1Controller(std::string_view mounts) {
  std::istringstream in{std::string(mounts)};
  std::string dev, dir, type, opts;
  std::string rest;
  while (in >> dev >> dir >> type >> opts) {
    std::getline(in, rest);
    if (type != "cgroup") continue;
    if (("," + opts + ",").find(",memory,") != std::string::npos ||
        opts.find("name=systemd") != std::string::npos)
      return true;
  }
  return false;
}

}  // namespace

std::string FindCgroup(const std::string& root, uint64_t id, size_t budget) {
  if (InodeOf(root) == id) return "/";
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(
      root, std::filesystem::directory_options::skip_permission_denied, ec);
  for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (budget-- == 0) break;
    if (!it->is_directory(ec)) continue;
    if (InodeOf(it->path().string()) == id) return it->path().string().substr(root.size());
  }
  return {};
}

CgroupIdentity ParseCgroupPath(std::string_view path) {
  CgroupIdentity id;
  std::string_view parent;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view comp = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
    if (comp.empty()) continue;
    const std::string_view base = StripUnitSuffix(comp);

    // Pod: "pod<uid>" (cgroupfs) or "...-pod<uid_with_underscores>" (systemd slice).
    if (const size_t p = base.rfind("pod"); p != std::string_view::npos &&
                                            (p == 0 || base[p - 1] == '-') &&
                                            IsPodUid(base.substr(p + 3))) {
      std::string uid(base.substr(p + 3));
      for (char& c : uid) {
        if (c == '_') c = '-';
      }
      id.pod_uid = std::move(uid);
    }

    // Container: a runtime's scope, or a bare id (cgroupfs drivers).
    bool matched = false;
    for (const RuntimePrefix& rp : kPrefixes) {
      if (base.starts_with(rp.prefix) && IsContainerId(base.substr(rp.prefix.size()))) {
        id.container_id = rp.runtime.empty() ? "" : std::string(base.substr(rp.prefix.size()));
        id.container_runtime = std::string(rp.runtime);
        matched = true;
        break;
      }
    }
    if (!matched && IsContainerId(base)) {
      id.container_id = std::string(base);
      id.container_runtime = parent == "docker" ? "docker" : "";
    }
    parent = comp;
  }
  return id;
}

void WriteIdentity(JsonWriter& w, const Identity& id, const PodMetadata* pod) {
  const CgroupIdentity& p = id.parsed;
  if (!p.container_id.empty()) {
    w.KObject("container").KV("id", p.container_id);
    if (!p.container_runtime.empty())
      w.KObject("runtime").KV("name", p.container_runtime).EndObject();
    w.EndObject();
  }
  if (p.pod_uid.empty()) return;
  w.KObject("k8s");
  w.KObject("pod").KV("uid", p.pod_uid);
  if (pod != nullptr && !pod->name.empty()) w.KV("name", pod->name);
  if (pod != nullptr && !pod->labels.empty()) {
    w.KObject("label");
    for (const auto& [k, v] : pod->labels) w.KV(k, v);
    w.EndObject();
  }
  w.EndObject();
  if (pod != nullptr && !pod->namespace_name.empty())
    w.KObject("namespace").KV("name", pod->namespace_name).EndObject();
  if (pod != nullptr && !p.container_id.empty()) {
    if (auto it = pod->containers.find(p.container_id); it != pod->containers.end())
      w.KObject("container").KV("name", it->second).EndObject();
  }
  w.EndObject();
}

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint64_t InodeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

std::string Cgroup2MountFrom(std::string_view mounts) {
  while (!mounts.empty()) {
    const size_t nl = mounts.find('\n');
    std::istringstream line(std::string(mounts.substr(0, nl)));
    std::string dev, dir, type;
    if (line >> dev >> dir >> type && type == "cgroup2") return dir;
    if (nl == std::string_view::npos) break;
    mounts.remove_prefix(nl + 1);
  }
  return {};
}

std::string Cgroup2Mount() { return Cgroup2MountFrom(ReadSmallFile("/proc/mounts")); }

std::optional<std::string> CgroupV2Path(std::string_view f) {
  while (!f.empty()) {
    const size_t nl = f.find('\n');
    std::string_view line = f.substr(0, nl);
    if (line.starts_with("0::")) return std::string(line.substr(3));
    if (nl == std::string_view::npos) break;
    f.remove_prefix(nl + 1);
  }
  return std::nullopt;
}

std::optional<std::string> CgroupV1Path(std::string_view f, std::string_view controller) {
  // "<hierarchy>:<controller,controller>:<path>"
  while (!f.empty()) {
    const size_t nl = f.find('\n');
    std::string_view line = f.substr(0, nl);
    const size_t a = line.find(':');
    const size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b != std::string_view::npos) {
      std::string_view ctrls = line.substr(a + 1, b - a - 1);
      while (!ctrls.empty()) {
        const size_t comma = ctrls.find(',');
        if (ctrls.substr(0, comma) == controller) return std::string(line.substr(b + 1));
        if (comma == std::string_view::npos) break;
        ctrls.remove_prefix(comma + 1);
      }
    }
    if (nl == std::string_view::npos) break;
    f.remove_prefix(nl + 1);
  }
  return std::nullopt;
}

IdentityCache::Options IdentityCache::ForHost() {
  Options o;
  const std::string mounts = ReadSmallFile("/proc/mounts");
  o.cgroup2 = Cgroup2MountFrom(mounts);
  o.v1 = HostHasV1Controller(mounts);
  return o;
}

IdentityCache::IdentityCache(Options opt) : opt_(std::move(opt)) {
  if (!opt_.cgroup2.empty()) root_id_ = InodeOf(opt_.cgroup2);
}

Identity& IdentityCache::Store(uint64_t cgroup_id, std::string path) {
  if (by_id_.size() >= opt_.max_entries) {
    by_id_.clear();
    ++stats_.evictions;
  }
  Identity& id = by_id_[cgroup_id];
  id.parsed = ParseCgroupPath(path);
  id.cgroup_path = std::move(path);
  if (!id.cgroup_path.empty()) ++stats_.learnt;
  return id;
}

void IdentityCache::Learn(uint64_t cgroup_id, std::string_view path) {
  if (cgroup_id == 0 || path.empty()) return;
  Store(cgroup_id, std::string(path));
}

void IdentityCache::LearnTree() {
  if (opt_.cgroup2.empty()) return;
  if (root_id_ != 0 && !by_id_.contains(root_id_)) Store(root_id_, "/");
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(
      opt_.cgroup2, std::filesystem::directory_options::skip_permission_denied, ec);
  for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (by_id_.size() + 1 >= opt_.max_entries) break;
    if (!it->is_directory(ec)) continue;
    const std::string p = it->path().string();
    // Ids are never reused: one already known is this directory (and its parse is kept).
    if (const uint64_t ino = InodeOf(p); ino != 0 && !by_id_.contains(ino))
      Store(ino, p.substr(opt_.cgroup2.size()));
  }
}

const std::string& IdentityCache::PathOf(uint64_t cgroup_id) {
  return Of(cgroup_id, 0).cgroup_path;
}

const Identity& IdentityCache::Of(uint64_t cgroup_id, uint32_t pid) {
  if (cgroup_id != 0 && cgroup_id != root_id_) {
    if (auto it = by_id_.find(cgroup_id); it != by_id_.end()) return it->second;
    if (!opt_.cgroup2.empty()) return Of(cgroup_id, pid, false);
  }
  // In the v2 root, or no cgroup v2 here: a cgroup v1 host names containers in its v1 paths.
  if (opt_.v1 && pid != 0) return V1Of(pid);
  if (cgroup_id != 0 && cgroup_id == root_id_) return Of(root_id_, 0, true);
  return empty_;
}

const Identity& IdentityCache::Of(uint64_t cgroup_id, uint32_t pid, bool root) {
  if (auto it = by_id_.find(cgroup_id); it != by_id_.end()) return it->second;
  if (root) return Store(cgroup_id, "/");
  if (pid != 0) {
    if (auto path = CgroupV2Path(ReadSmallFile(fmt::format("{}/{}/cgroup", opt_.proc, pid)))) {
      // The task may have moved since the event: keep the path only if it is this cgroup's.
      if (InodeOf(opt_.cgroup2 + (*path == "/" ? "" : *path)) == cgroup_id)
        return Store(cgroup_id, std::move(*path));
    }
  }
  ++stats_.walks;
  std::string found = FindCgroup(opt_.cgroup2, cgroup_id, opt_.walk_budget);
  if (found.empty()) ++stats_.unresolved;
  // A miss is kept too: cgroup ids are never reused, so a cgroup that is gone stays gone, and a
  // burst of events from one dead container walks the tree once.
  return Store(cgroup_id, std::move(found));
}

const Identity& IdentityCache::OfPid(uint32_t pid) {
  if (pid == 0) return empty_;
  if (!opt_.cgroup2.empty()) {
    if (auto path = CgroupV2Path(ReadSmallFile(fmt::format("{}/{}/cgroup", opt_.proc, pid)))) {
      if (const uint64_t id = InodeOf(opt_.cgroup2 + (*path == "/" ? "" : *path)))
        return Of(id, pid);
    }
  }
  return opt_.v1 ? V1Of(pid) : empty_;
}

const Identity& IdentityCache::V1Of(uint32_t pid) {
  const uint64_t now = BootNs();
  auto it = by_pid_.find(pid);
  if (it != by_pid_.end() && now - it->second.at_ns < opt_.v1_ttl_ns) return it->second.id;
  const std::string f = ReadSmallFile(fmt::format("{}/{}/cgroup", opt_.proc, pid));
  if (f.empty()) {
    // Gone: keep what was known of it, if anything.
    return it != by_pid_.end() ? it->second.id : empty_;
  }
  ++stats_.v1_lookups;
  auto path = CgroupV1Path(f, "memory");
  if (!path || *path == "/") path = CgroupV1Path(f, "name=systemd");
  if (by_pid_.size() >= opt_.max_entries) {
    by_pid_.clear();
    ++stats_.evictions;
  }
  V1Entry& e = by_pid_[pid];
  e.at_ns = now;
  e.id.cgroup_path = path.value_or("");
  e.id.parsed = ParseCgroupPath(e.id.cgroup_path);
  return e.id;
}

void IdentityCache::Inherit(uint32_t child_pid, uint32_t parent_pid) {
  if (!opt_.v1 || child_pid == parent_pid) return;
  auto it = by_pid_.find(parent_pid);
  if (it == by_pid_.end()) return;
  if (by_pid_.size() >= opt_.max_entries) {
    by_pid_.clear();
    ++stats_.evictions;
    return;
  }
  by_pid_[child_pid] = it->second;  // same cgroups, same age: re-read from /proc when stale
}

const PodMetadata* IdentityCache::FindPod(const Identity& id) const {
  if (pods_ == nullptr || id.parsed.pod_uid.empty()) return nullptr;
  auto it = pods_->find(id.parsed.pod_uid);
  return it == pods_->end() ? nullptr : &it->second;
}

const PodMetadata* IdentityCache::PodOf(const Identity& id) {
  if (pods_ == nullptr || id.parsed.pod_uid.empty()) return nullptr;
  auto it = pods_->find(id.parsed.pod_uid);
  if (it == pods_->end()) {
    ++stats_.pod_misses;
    return nullptr;
  }
  return &it->second;
}

}  // namespace ksight
