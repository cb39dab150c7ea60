// xid_workload.cc - see xid_workload.h.
#include "probes/gpu/xid_workload.h"

#include <sys/stat.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "core/process_info.h"
#include "core/workload_identity.h"

namespace ksight::gpu {
namespace {

constexpr size_t kWalkBudget = 20000;
constexpr uint64_t kClockSlackNs = 250'000'000;
constexpr size_t kMaxPaths = 65536;

}  // namespace

std::optional<uint64_t> StatStartTicks(std::string_view stat) {
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  // After ") ": field 3 (state) ... field 22 (starttime): skip 19 fields.
  std::string_view rest = stat.substr(close + 1);
  for (int field = 3; field <= 22; ++field) {
    const size_t b = rest.find_first_not_of(' ');
    if (b == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(b);
    const size_t e = std::min(rest.find(' '), rest.size());
    if (field == 22) {
      uint64_t v = 0;
      const auto [p, err] = std::from_chars(rest.data(), rest.data() + e, v);
      if (err != std::errc() || p != rest.data() + e) return std::nullopt;
      return v;
    }
    rest.remove_prefix(e);
  }
  return std::nullopt;
}

std::string WorkloadResolver::PathOfCgroup(uint64_t id) {
  if (id == 0) return {};
  if (opt_.path_of) return opt_.path_of(id);
  if (opt_.cgroupfs.empty()) return {};
  auto it = paths_.find(id);
  if (it != paths_.end()) return it->second;
  if (paths_.size() >= kMaxPaths) paths_.clear();  // bound memory
  // A miss is kept too ("" = not found): cgroup ids are never reused, so a cgroup that is gone
  // stays gone, and a burst of Xids from one dead container walks the tree once, not per Xid.
  return paths_.emplace(id, FindCgroup(opt_.cgroupfs, id, kWalkBudget)).first->second;
}

std::optional<Workload> WorkloadResolver::Resolve(uint32_t pid, uint64_t line_ns) {
  if (pid == 0) return std::nullopt;
  const std::string dir = fmt::format("{}/{}", opt_.proc, pid);
  const auto ticks = StatStartTicks(ReadSmallFile(dir + "/stat"));
  // Slack for a process that seems to start after the line: /proc's start time is rounded to
  // clock ticks, and a line's time (printk's local_clock, for /dev/kmsg lines) can run some
  // milliseconds behind CLOCK_BOOTTIME (seen in QEMU guests). A pid is not reused that fast.
  const uint64_t tick_ns = 1'000'000'000 / std::max<uint64_t>(opt_.ticks_per_sec, 1);
  const uint64_t slack_ns = std::max(tick_ns, kClockSlackNs);
  if (ticks) {
    const uint64_t start_ns = *ticks * tick_ns;
    if (start_ns <= line_ns + slack_ns) {
      Workload wl;
      wl.pid = pid;
      wl.source = "proc";
      std::string comm = ReadSmallFile(dir + "/comm");
      while (!comm.empty() && comm.back() == '\n') comm.pop_back();
      wl.comm = std::move(comm);
      if (auto path = CgroupV2Path(ReadSmallFile(dir + "/cgroup"))) {
        wl.cgroup_path = *path;
        if (!opt_.cgroupfs.empty())
          wl.cgroup_id = InodeOf(opt_.cgroupfs + (*path == "/" ? "" : *path));
        if (wl.cgroup_id) {
          if (paths_.size() >= kMaxPaths) paths_.clear();
          paths_[wl.cgroup_id] = wl.cgroup_path;
        }
      }
      wl.container_id = ContainerIdFromCgroupPath(wl.cgroup_path);
      ++stats_.live;
      return wl;
    }
    ++stats_.reused;  // a newer process has the pid now
  }
  if (opt_.exited) {
    if (auto e = opt_.exited(pid); e && e->start_ns <= line_ns + slack_ns) {
      Workload wl;
      wl.pid = pid;
      wl.source = "exit_cache";
      wl.comm = e->comm;
      wl.cgroup_id = e->cgroup_id;
      wl.cgroup_path = PathOfCgroup(e->cgroup_id);
      wl.container_id = ContainerIdFromCgroupPath(wl.cgroup_path);
      ++stats_.exited;
      return wl;
    }
  }
  ++stats_.not_found;
  return std::nullopt;
}

void WriteWorkload(JsonWriter& w, const Workload& wl, IdentityCache* identity) {
  w.KObject("process").KV("pid", wl.pid).KV("comm", wl.comm);
  if (wl.cgroup_id) w.KV("cgroup_id", wl.cgroup_id);
  if (!wl.cgroup_path.empty()) w.KV("cgroup_path", wl.cgroup_path);
  if (!wl.container_id.empty()) w.KV("container_id", wl.container_id);
  w.KV("source", wl.source);
  w.EndObject();
  Identity id;
  id.cgroup_path = wl.cgroup_path;
  id.parsed = ParseCgroupPath(wl.cgroup_path);
  WriteIdentity(w, id, identity != nullptr ? identity->PodOf(id) : nullptr);
}

}  // namespace ksight::gpu
