// process_info.h - process attribution helpers: the container id a cgroup
// path shows, cached per cgroup id, and the "process" object of a record.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/json_writer.h"

extern "C" {
#include "ksight_abi.h"
}

namespace ksight {

// The container id in a cgroup path (the last run of 64 hex digits, as
// docker, containerd, CRI-O and podman name their cgroups), or "".
std::string ContainerIdFromCgroupPath(std::string_view path);

// The kernel's comm (NUL-padded, maybe unterminated) as a string_view.
std::string_view CommView(const char (&comm)[KS_COMM_LEN]);

bool ProcessExists(uint32_t pid);

class ContainerCache {
 public:
  // Container id for a task in cgroup_id; reads /proc/<pid>/cgroup once per cgroup.
  const std::string& Lookup(uint64_t cgroup_id, uint32_t pid);

 private:
  std::unordered_map<uint64_t, std::string> by_cgroup_;
};

// "process":{"pid":..,"tid":..,"comm":"..","cgroup_id":..[,"container_id":".."]}
// source: how the owner was found ("" = omit).
void WriteProcess(JsonWriter& w, const ks_task& t, ContainerCache& cache,
                  std::string_view source = {});

}  // namespace ksight
