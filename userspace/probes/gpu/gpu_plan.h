// gpu_plan.h - which GPU sources this host can run, and with which hooks (pure logic).
//
// gpu_probe.cc gathers the host's facts (tracepoints in tracefs with their format files,
// tp_btf targets in vmlinux and gpu_sched module BTF, the kernel release, console_loglevel) into
// GpuHostFacts; MakeGpuPlan() decides from those facts alone which source is on, through which
// hook, with the layouts the BPF programs read, and the verdict (with the reason) per source;
// GpuProgramsFor() turns a plan into the autoload switch of each BPF program.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

extern "C" {
#include "gpu/gpu.h"
}

namespace ksight::gpu {

// What the host offers the gpu probe. Plain data: the unit tests build it by hand.
struct GpuHostFacts {
  bool btf = false;           // vmlinux BTF (CO-RE needs it)
  std::string btf_error;      // why not, when !btf
  std::string tracefs_path;   // empty: no tracefs
  std::string tracefs_error;  // why not, when tracefs_path is empty
  // Every classic tracepoint present of those GpuTracepointsOfInterest() names, keyed
  // "category:name", with the text of its format file (empty when unreadable).
  std::map<std::string, std::string> tracepoints;
  // Raw tracepoints a tp_btf program can target: btf_trace_<name> in vmlinux BTF, and in the
  // BTF of the gpu_sched module (none when it is built in, not loaded, or on 5.10: no module
  // BTF).
  std::set<std::string> vmlinux_tp_btf;
  std::set<std::string> gpu_sched_tp_btf;
  bool console_every_line = false;  // printk:console fires for every line: 5.19+ (see below)
  int console_loglevel = -1;        // /proc/sys/kernel/printk's first field, -1 when unknown
  bool kmsg = false;                // /dev/kmsg opens for reading
  std::string kmsg_error;           // why not, when !kmsg
  // The [gpu] printk_source setting: "auto", "tracepoint" or "kmsg".
  std::string printk_source = "auto";

  bool Tracepoint(std::string_view category, std::string_view name) const;
  std::string TracepointMissingReason(std::string_view category, std::string_view name) const;
};

// The names the facts must cover: classic tracepoints {category, name} and tp_btf targets.
const std::vector<std::pair<std::string, std::string>>& GpuTracepointsOfInterest();
const std::vector<std::string>& GpuTpBtfOfInterest();

// Whether printk:console fires for every stored line on this kernel release ("6.1.0-13-amd64"):
// from 5.19 (commit 701850dc0c31, "printk, tracing: fix console tracepoint", moved it from
// call_console_drivers() into printk_sprint()); not backported to 5.15.y or 5.10.y. Before, it
// fires only for lines the console prints (level < console_loglevel). printk_sprint() itself
// exists since 5.11, so its presence in BTF says nothing. Unparseable: false (kmsg is safe).
bool ConsoleTracesEveryLine(std::string_view kernel_release);

enum class SchedMode { kNone, kBtf, kTracepoint };

struct SchedScheme {
  bool new_names = false;  // 6.17+
  const char* queue;
  const char* run;
  const char* done;
  const char* dep;
};

struct GpuPlan {
  // printk: the kernel log lines, through the printk:console tracepoint (tp_btf or classic)
  // where it fires for every line, else read from /dev/kmsg (printk_source "auto").
  bool console_btf = false, console_tp = false;
  bool kmsg = false;
  bool every_line = false;  // the chosen way sees every line the kernel logs, at every level
  std::string printk;       // the verdict, for details
  // NVIDIA tracepoints
  bool xid = false, sxid = false;
  ks_gpu_xid_layout xid_layout{}, sxid_layout{};
  std::string xid_verdict, sxid_verdict;
  // dma_fence
  bool fence_init = false, fence_emit = false, fence_signaled_btf = false,
       fence_signaled_tp = false, fence_wait_start = false, fence_wait_end_btf = false,
       fence_wait_end_tp = false;
  std::string fence_verdict;
  // gpu_scheduler
  SchedMode sched = SchedMode::kNone;
  const SchedScheme* scheme = nullptr;
  bool sched_dep = false;
  ks_gpu_sched_layout queue{}, run{}, done{}, dep{};
  std::string sched_old_verdict, sched_new_verdict;

  // sched:sched_process_exit feeds the cache of exited processes that attributes an Xid whose
  // pid is gone (with the printk or NVIDIA sources only).
  bool exit_cache = false;
  std::string exit_cache_verdict;

  bool fence() const { return fence_init && (fence_signaled_btf || fence_signaled_tp); }
  bool printk_on() const { return console_btf || console_tp || kmsg; }
};

GpuPlan MakeGpuPlan(const GpuHostFacts& facts);

// Per source: "printk", "nvidia_dev_xid", ... -> "available: ..." / "unavailable: ...".
std::vector<std::pair<std::string, std::string>> GpuPlanDetails(const GpuPlan& p);

// `ksight check`'s verdict: runnable, and the sources it would use or why none.
struct GpuVerdict {
  bool runnable = false;
  std::string reason;
};
GpuVerdict GpuPlanVerdict(const GpuHostFacts& facts, const GpuPlan& p);

// The autoload switch of each program of bpf/probes/gpu/gpu.bpf.c (same names).
struct GpuPrograms {
  bool console_btf = false, console_tp = false;
  bool nvidia_dev_xid = false, nvswitch_dev_sxid = false;
  bool fence_init_tp = false, fence_emit_tp = false, fence_signaled_btf = false,
       fence_signaled_tp = false, fence_wait_start_tp = false, fence_wait_end_btf = false,
       fence_wait_end_tp = false;
  bool sched_queue_old_btf = false, sched_run_old_btf = false, sched_done_old_btf = false,
       sched_dep_old_btf = false;
  bool sched_queue_btf = false, sched_run_btf = false, sched_done_btf = false,
       sched_dep_btf = false;
  bool sched_queue_old_tp = false, sched_run_old_tp = false, sched_done_old_tp = false;
  bool sched_queue_tp = false, sched_run_tp = false, sched_done_tp = false, sched_dep_tp = false;
  bool proc_exit = false;
};
GpuPrograms GpuProgramsFor(const GpuPlan& p);

}  // namespace ksight::gpu
