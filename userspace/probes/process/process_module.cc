// process_module.cc - the process probe's config section, metrics and record types.
#include "probes/process/process_module.h"
#include "core/probe_module.h"

extern "C" {
#include "process/process.h"
}

namespace ksight {
namespace {

const SettingDef kSettings[] = {
    {.key = "records_per_interval",
     .kind = SettingKind::kUint,
     .default_value = "1000",
     .help = "Most process.exec and process.exit records of their own per interval, each; "
             "beyond it, processes with the same comm, cgroup and exit status are folded into "
             "one record per interval that counts them (folded.count), so a fork storm cannot "
             "flood the stream.",
     .flag = "--process-records",
     .flag_help = "process: most exec and exit records of their own per interval (the rest "
                  "folded)",
     .max = 1000000},
    {.key = "args_bytes",
     .kind = SettingKind::kUint,
     .default_value = "256",
     .help = "Bytes of each exec'd command's arguments kept in process.exec (0 = none: "
             "command lines can hold secrets).",
     .max = KS_PROC_ARGS_LEN},
};

const MetricFamilyDef kMetrics[] = {
    {process::kMetricExits, MetricType::kCounter,
     "Processes that exited (process probe), per how: exited (a code), signaled, oom_killed."},
    {process::kMetricOomKills, MetricType::kCounter,
     "Processes the kernel's OOM killer chose (process probe)."},
    {process::kMetricFolded, MetricType::kCounter,
     "process.exec / process.exit events folded into a per-interval record beyond "
     "records_per_interval, per type."},
};

const std::string_view kRecords[] = {"process.exec", "process.exit", "process.oom_kill"};

}  // namespace

extern const ProbeModule kModule_process;
const ProbeModule kModule_process = {
    .name = "process",
    .summary = "process lifecycle: exec, exit (code, signal, runtime), OOM kills",
    .settings_help = "",
    .settings = kSettings,
    .metrics = kMetrics,
    .record_types = kRecords,
};

}  // namespace ksight
