// syscalls_module.cc - the syscalls probe's config section, metrics and record types.
#include <fmt/format.h>

#include "core/probe_module.h"
#include "probes/syscalls/syscall_names.h"
#include "probes/syscalls/syscalls_module.h"

extern "C" {
#include "syscalls/syscalls.h"
}

namespace ksight {
namespace {

Status CheckErrnos(const SettingValue& v) {
  for (const auto& n : std::get<std::vector<std::string>>(v)) {
    auto e = syscalls::ErrnoNumber(n);
    if (!e) return Status::Error(fmt::format("'{}' is not an errno name (e.g. EACCES)", n));
    if (*e >= 64 * KS_SYSCALL_WATCH_WORDS) {
      return Status::Error(
          fmt::format("'{}' is not an errno this probe can watch (numbers below {})", n,
                      64 * KS_SYSCALL_WATCH_WORDS));
    }
  }
  return {};
}

constexpr uint64_t kMs = 1000000;

const SettingDef kSettings[] = {
    {.key = "slow",
     .kind = SettingKind::kDuration,
     .default_value = "100ms",
     .help = "A `syscall` record for every call at least this slow.",
     .flag = "--slow",
     .flag_help = "a syscall record for every call at least this slow (e.g. 100ms)",
     .max = 3600ULL * 1000 * kMs},
    {.key = "watch_errnos",
     .kind = SettingKind::kStrings,
     .default_value = "",
     .help = "A `syscall` record for every call failing with one of these errnos, e.g. "
             "[\"EACCES\", \"EPERM\"].",
     .flag = "--watch-errno",
     .flag_help = "a syscall record for every call failing with this errno (repeatable, e.g. "
                  "EACCES)",
     .check = &CheckErrnos,
     .split_commas = true,
     .items = "errno names"},
    {.key = "container_series",
     .kind = SettingKind::kUint,
     .default_value = "20",
     .help = "Containers with a ksight_syscall_container_errors_total series of their own (the "
             "busiest; the rest are counted under container_id=\"other\").",
     .max = 1000},
    {.key = "stats_entries",
     .kind = SettingKind::kUint,
     .default_value = "16384",
     .help = "Most (process, syscall) pairs aggregated in the kernel at once.",
     .min = 16,
     .max = 1u << 24},
};

const MetricFamilyDef kMetrics[] = {
    {syscalls::kMetricSyscalls, MetricType::kCounter,
     "System calls counted by the syscalls probe, per syscall."},
    {syscalls::kMetricErrors, MetricType::kCounter,
     "System calls that returned an error, per syscall (syscalls probe)."},
    {syscalls::kMetricContainerErrors, MetricType::kCounter,
     "System calls that returned an error, per container (container_id: the busiest "
     "container_series containers, \"other\" for the rest, \"none\" outside containers)."},
};

const std::string_view kRecords[] = {"syscall", "syscall.stats"};

}  // namespace

extern const ProbeModule kModule_syscalls;
const ProbeModule kModule_syscalls = {
    .name = "syscalls",
    .summary = "per-process syscall counts, errors and latency; slow and failed calls",
    .settings_help = "",
    .settings = kSettings,
    .metrics = kMetrics,
    .record_types = kRecords,
};

}  // namespace ksight
