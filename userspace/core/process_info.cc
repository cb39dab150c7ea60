#include "core/process_info.h"

#include <sys/stat.h>

#include <cctype>
#include <fstream>

#include <fmt/format.h>

namespace ksight {

std::string ContainerIdFromCgroupPath(std::string_view path) {
  std::string_view best;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = i;
    while (j < path.size() && std::isxdigit(static_cast<unsigned char>(path[j])) &&
           !std::isupper(static_cast<unsigned char>(path[j])))
      ++j;
    if (j - i == 64) best = path.substr(i, 64);
    i = j + 1;
  }
  return std::string(best);
}

std::string_view CommView(const char (&comm)[KS_COMM_LEN]) {
  size_t n = 0;
  while (n < KS_COMM_LEN && comm[n] != '\0') ++n;
  return {comm, n};
}

bool ProcessExists(uint32_t pid) {
  struct stat st {};
  return ::stat(fmt::format("/proc/{}", pid).c_str(), &st) == 0;
}

const std::string& ContainerCache::Lookup(uint64_t cgroup_id, uint32_t pid) {
  auto it = by_cgroup_.find(cgroup_id);
  if (it != by_cgroup_.end()) return it->second;
  if (by_cgroup_.size() > 65536) by_cgroup_.clear();  // bound memory
  std::string id;
  std::ifstream in(fmt::format("/proc/{}/cgroup", pid));
  std::string line;
  while (std::getline(in, line)) {
    // cgroup v2: "0::/path"; v1 lines carry the same container path.
    const auto pos = line.rfind(':');
    if (pos == std::string::npos) continue;
    id = ContainerIdFromCgroupPath(std::string_view(line).substr(pos + 1));
    if (!id.empty()) break;
  }
  if (!in.is_open() && id.empty()) {
    // Process gone: do not cache a guess.
    static const std::string kEmpty;
    return kEmpty;
  }
  return by_cgroup_.emplace(cgroup_id, std::move(id)).first->second;
}

void WriteProcess(JsonWriter& w, const ks_task& t, ContainerCache& cache, std::string_view source) {
  w.KObject("process");
  w.KV("pid", t.pid).KV("tid", t.tid).KV("comm", CommView(t.comm)).KV("cgroup_id", t.cgroup_id);
  if (t.pid != 0) {
    const std::string& cid = cache.Lookup(t.cgroup_id, t.pid);
    if (!cid.empty()) w.KV("container_id", std::string_view(cid));
  }
  if (!source.empty()) w.KV("source", source);
  w.EndObject();
}

}  // namespace ksight
