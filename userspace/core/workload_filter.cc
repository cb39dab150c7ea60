// workload_filter.cc - see workload_filter.h.
#include "core/workload_filter.h"

#include <algorithm>
#include <utility>

namespace ksight {

WorkloadFilter::WorkloadFilter(std::vector<std::string> containers, std::vector<std::string> pods,
                               std::vector<std::string> namespaces,
                               std::vector<uint64_t> cgroup_ids)
    : containers_(std::move(containers)),
      pods_(std::move(pods)),
      namespaces_(std::move(namespaces)),
      cgroup_ids_(std::move(cgroup_ids)) {}

bool WorkloadFilter::Matches(uint64_t cgroup_id, const Identity& id, const PodMetadata* pod) const {
  const CgroupIdentity& p = id.parsed;
  if (!cgroup_ids_.empty() &&
      std::find(cgroup_ids_.begin(), cgroup_ids_.end(), cgroup_id) == cgroup_ids_.end())
    return false;
  if (!containers_.empty()) {
    if (p.container_id.empty() ||
        std::none_of(containers_.begin(), containers_.end(),
                     [&](const std::string& c) { return p.container_id.starts_with(c); }))
      return false;
  }
  if (!pods_.empty()) {
    if (p.pod_uid.empty()) return false;
    const bool any = std::any_of(pods_.begin(), pods_.end(), [&](const std::string& want) {
      if (want == p.pod_uid) return true;
      if (pod == nullptr) return false;
      return want == pod->name || want == pod->namespace_name + "/" + pod->name;
    });
    if (!any) return false;
  }
  if (!namespaces_.empty()) {
    if (pod == nullptr ||
        std::find(namespaces_.begin(), namespaces_.end(), pod->namespace_name) == namespaces_.end())
      return false;
  }
  return true;
}

}  // namespace ksight
