#include "core/loader.h"

#include <fcntl.h>

#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstring>
#include <vector>

namespace ksight {

Status LibbpfError(std::string_view what, int ret) {
  const int e = ret < 0 ? -ret : (errno ? errno : EINVAL);
  return Status::Errno(std::string(what), e);
}

Status SetRingSize(bpf_map* ring, uint32_t bytes) {
  const int r = bpf_map__set_max_entries(ring, bytes);
  if (r) return LibbpfError("sizing ring buffer", r);
  return {};
}

Status SetAutoload(bpf_program* prog, bool on) {
  if (int r = bpf_program__set_autoload(prog, on))
    return LibbpfError(fmt::format("autoload of {}", bpf_program__name(prog)), r);
  return {};
}

Status SetAutocreate(bpf_map* map, bool on) {
  if (int r = bpf_map__set_autocreate(map, on))
    return LibbpfError(fmt::format("autocreate of map {}", bpf_map__name(map)), r);
  return {};
}

Status FillFilterMaps(bpf_object* obj, const Filters& f) {
  const uint8_t one = 1;
  auto map_fd = [&](const char* name) -> int {
    bpf_map* m = bpf_object__find_map_by_name(obj, name);
    return m ? bpf_map__fd(m) : -1;
  };
  const int pids = map_fd("ks_filter_pids");
  const int comms = map_fd("ks_filter_comms");
  const int cgroups = map_fd("ks_filter_cgroups");
  if (pids < 0 || comms < 0 || cgroups < 0)
    return Status::Error("object lacks the ks_filter_* maps");
  for (uint32_t pid : f.pids) {
    if (bpf_map_update_elem(pids, &pid, &one, BPF_ANY))
      return Status::Errno(fmt::format("adding pid {} to the filter", pid), errno);
  }
  for (const auto& c : f.comms) {
    char key[KS_COMM_LEN] = {};
    // key is zero-filled and at most 15 bytes are copied: always NUL-terminated.
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
    std::memcpy(key, c.data(), std::min(c.size(), sizeof(key) - 1));
    if (bpf_map_update_elem(comms, key, &one, BPF_ANY))
      return Status::Errno(fmt::format("adding comm '{}' to the filter", c), errno);
  }
  if (f.workload) {
    // The agent adds the cgroups that match the workload filters (and --cgroup) as it learns them.
    // A duplicate: it keeps the map alive (and its number unused by anything else) even when
    // this probe fails to start later and its object is closed.
    const int dup = ::fcntl(cgroups, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return Status::Errno("duplicating the cgroup filter map's fd", errno);
    f.cgroup_map_fds->push_back(dup);
    return {};
  }
  for (uint64_t id : f.cgroup_ids) {
    if (bpf_map_update_elem(cgroups, &id, &one, BPF_ANY))
      return Status::Errno(fmt::format("adding cgroup {} to the filter", id), errno);
  }
  return {};
}

int PossibleCpus() {
  static const int n = libbpf_num_possible_cpus();
  return n > 0 ? n : 1;
}

BpfTotals ReadCounters(const bpf_map* counters) {
  BpfTotals t;
  if (!counters) return t;
  const int fd = bpf_map__fd(counters);
  std::vector<uint64_t> vals(static_cast<size_t>(PossibleCpus()));
  auto sum = [&](uint32_t idx) {
    uint64_t s = 0;
    if (bpf_map_lookup_elem(fd, &idx, vals.data()) == 0) {
      for (uint64_t v : vals) s += v;
    }
    return s;
  };
  t.seen = sum(KS_CNT_SEEN);
  t.ring_full = sum(KS_CNT_RING_FULL);
  t.map_full = sum(KS_CNT_MAP_FULL);
  return t;
}

namespace {
int LibbpfPrint(enum libbpf_print_level level, const char* fmt_str, va_list args) {
  // Verifier logs can be long: format the whole message.
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, fmt_str, copy);
  va_end(copy);
  if (n <= 0) return n;
  std::string buf(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(buf.data(), buf.size(), fmt_str, args);
  std::string_view msg(buf.data(), static_cast<size_t>(n));
  while (!msg.empty() && msg.back() == '\n') msg.remove_suffix(1);
  switch (level) {
    case LIBBPF_WARN:
      spdlog::warn("libbpf: {}", msg);
      break;
    case LIBBPF_INFO:
      spdlog::debug("libbpf: {}", msg);
      break;
    case LIBBPF_DEBUG:
      spdlog::trace("libbpf: {}", msg);
      break;
  }
  return n;
}
}  // namespace

void InstallLibbpfLogger() { libbpf_set_print(LibbpfPrint); }

}  // namespace ksight
