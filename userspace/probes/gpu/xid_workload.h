// xid_workload.h - the workload a GPU fault line names: the "pid=" of an NVIDIA Xid (or the
// process of an amdgpu page fault / i915 hang) resolved to that process's cgroup (id, path)
// and container id. From /proc while the process lives; from the cache of exited processes
// (sched:sched_process_exit, bpf/probes/gpu) once it is gone, which is common: the driver
// often logs the Xid after the faulting process was killed.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/json_writer.h"
#include "core/workload_identity.h"

namespace ksight::gpu {

struct Workload {
  uint32_t pid = 0;
  std::string comm;
  uint64_t cgroup_id = 0;    // 0: unknown (cgroup v1 only)
  std::string cgroup_path;   // "" when unknown (the cgroup was removed with its container)
  std::string container_id;  // from the path, when it names one
  std::string_view source;   // "proc" (alive) or "exit_cache" (exited)
};

// What sched_process_exit kept of an exited process (struct ks_gpu_exited).
struct ExitedProcess {
  uint64_t cgroup_id = 0;
  uint64_t start_ns = 0;  // CLOCK_BOOTTIME
  uint64_t exit_ns = 0;
  std::string comm;
};

// Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); the comm in field 2 may
// hold spaces and parentheses, so fields are counted from the last ')'.
std::optional<uint64_t> StatStartTicks(std::string_view stat);
struct WorkloadStats {
  uint64_t live = 0;       // found in /proc
  uint64_t exited = 0;     // found in the exit cache
  uint64_t reused = 0;     // the pid belonged to a newer process: the exit cache was asked
  uint64_t not_found = 0;  // neither: no process object
};

class WorkloadResolver {
 public:
  struct Options {
    std::string proc = "/proc";
    std::string cgroupfs = "/sys/fs/cgroup";  // cgroup v2 mount ("" = none: no ids from paths)
    uint64_t ticks_per_sec = 100;             // sysconf(_SC_CLK_TCK)
    // The exit cache: the process that had this pid, if it exited recently.
    std::function<std::optional<ExitedProcess>(uint32_t pid)> exited;
    // The agent's cgroup id -> path knowledge (IdentityCache::PathOf: learnt from cgroup_mkdir,
    // so a removed container's cgroup still resolves); unset: a bounded walk of `cgroupfs`.
    std::function<std::string(uint64_t cgroup_id)> path_of;
  };
  explicit WorkloadResolver(Options opt) : opt_(std::move(opt)) {}

  // The process that had `pid` when the line was logged (line_ns, CLOCK_BOOTTIME), or nullopt.
  std::optional<Workload> Resolve(uint32_t pid, uint64_t line_ns);
  const WorkloadStats& stats() const { return stats_; }

 private:
  std::string PathOfCgroup(uint64_t id);

  Options opt_;
  WorkloadStats stats_;
  // cgroup id -> path, learnt from /proc or walked for ("" = walked, not found)
  std::unordered_map<uint64_t, std::string> paths_;
};

// "process":{"pid":..,"comm":"..","cgroup_id":..,"cgroup_path":"..","container_id":"..",
// "source":"proc"|"exit_cache"} (cgroup and container fields omitted when unknown), then the
// record's "container" and "k8s" objects from the cgroup path (WriteIdentity).
void WriteWorkload(JsonWriter& w, const Workload& wl, IdentityCache* identity = nullptr);

}  // namespace ksight::gpu
