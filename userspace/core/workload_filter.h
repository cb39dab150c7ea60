// workload_filter.h - the --container / --pod / --namespace filters. The kernel side filters by
// cgroup id only, so the agent turns these into the set of cgroup ids whose workload matches,
// and keeps the probes' cgroup filter maps up to date as cgroups appear (the process probe's
// cgroup_mkdir, a rescan at each heartbeat) and as Kubernetes names arrive.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/workload_identity.h"

namespace ksight {

class WorkloadFilter {
 public:
  WorkloadFilter() = default;
  WorkloadFilter(std::vector<std::string> containers, std::vector<std::string> pods,
                 std::vector<std::string> namespaces, std::vector<uint64_t> cgroup_ids);
  bool active() const { return !containers_.empty() || !pods_.empty() || !namespaces_.empty(); }
  // Kinds combine with AND, values of one kind with OR (as the other filters). A --cgroup list
  // given too must also hold the id (the kernel map can only say yes or no per id).
  bool Matches(uint64_t cgroup_id, const Identity& id, const PodMetadata* pod) const;

 private:
  std::vector<std::string> containers_, pods_, namespaces_;
  std::vector<uint64_t> cgroup_ids_;
};

}  // namespace ksight
