#include "probes/gpu/gpu_plan.h"

#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/status.h"
#include "probes/gpu/gpu_tp_format.h"

namespace ksight::gpu {
namespace {

constexpr SchedScheme kSchedOld{false, "drm_sched_job", "drm_run_job", "drm_sched_process_job",
                                "drm_sched_job_wait_dep"};
constexpr SchedScheme kSchedNew{true, "drm_sched_job_queue", "drm_sched_job_run",
                                "drm_sched_job_done", "drm_sched_job_add_dep"};

std::string Key(std::string_view cat, std::string_view name) {
  return fmt::format("{}:{}", cat, name);
}

std::string_view Format(const GpuHostFacts& f, std::string_view cat, std::string_view name) {
  const auto it = f.tracepoints.find(Key(cat, name));
  return it == f.tracepoints.end() ? std::string_view() : std::string_view(it->second);
}

// The layout of an NVIDIA tracepoint, or why it is unusable.
std::string PlanXid(const GpuHostFacts& f, std::string_view cat, std::string_view name, bool& on,
                    ks_gpu_xid_layout& layout) {
  if (!f.Tracepoint(cat, name)) {
    return fmt::format(
        "unavailable: tracepoint {}:{} not found (driver not loaded, or older "
        "than 575.51.02); printk still reports these faults",
        cat, name);
  }
  auto l = XidLayoutFromFormat(ParseTpFormat(Format(f, cat, name)));
  if (!l) return fmt::format("unavailable: {}:{}: {}", cat, name, l.status().message());
  layout = *l;
  on = true;
  return fmt::format("available: tracepoint {}:{}", cat, name);
}

void PlanSched(const GpuHostFacts& f, GpuPlan& p) {
  const bool old_tp = f.Tracepoint("gpu_scheduler", kSchedOld.queue);
  const bool new_tp = f.Tracepoint("gpu_scheduler", kSchedNew.queue);
  const std::string none =
      "unavailable: no gpu_scheduler tracepoints (module gpu-sched not loaded: no DRM scheduler "
      "driver such as amdgpu, xe, nouveau, v3d, panfrost, etnaviv, lima on this host)";
  p.sched_old_verdict = p.sched_new_verdict = none;
  if (!old_tp && !new_tp) return;
  const SchedScheme& s = new_tp ? kSchedNew : kSchedOld;
  std::string& verdict = new_tp ? p.sched_new_verdict : p.sched_old_verdict;
  (new_tp ? p.sched_old_verdict : p.sched_new_verdict) =
      new_tp ? "unavailable: this kernel has the 6.17+ names"
             : "unavailable: this kernel has the "
               "names used up to 6.16";
  p.scheme = &s;
  // tp_btf: the scheduler's types in BTF (vmlinux when built in, else the module's BTF).
  const std::string names[] = {s.queue, s.run, s.done, s.dep};
  bool have[4];
  for (size_t i = 0; i < 4; ++i)
    have[i] = f.gpu_sched_tp_btf.count(names[i]) > 0 || f.vmlinux_tp_btf.count(names[i]) > 0;
  if (have[0] && have[1] && have[2]) {
    p.sched = SchedMode::kBtf;
    p.sched_dep = have[3];
    verdict = fmt::format("available: tp_btf {}, {}, {}{}", s.queue, s.run, s.done,
                          p.sched_dep ? fmt::format(", {}", s.dep) : "");
    return;
  }
  // Classic tracepoints with the layout tracefs gives (5.10 has no module BTF).
  auto layout = [&](const char* ev, ks_gpu_job_phase ph, ks_gpu_sched_layout& out) -> Status {
    if (!f.Tracepoint("gpu_scheduler", ev))
      return Status::Error(fmt::format("no tracepoint gpu_scheduler:{}", ev));
    auto l = SchedLayoutFromFormat(ParseTpFormat(Format(f, "gpu_scheduler", ev)), ph);
    if (!l) return l.status().With(ev);
    out = *l;
    return {};
  };
  Status st = layout(s.queue, KS_GPU_JOB_QUEUE, p.queue);
  if (st.ok()) st = layout(s.run, KS_GPU_JOB_RUN, p.run);
  if (st.ok()) st = layout(s.done, KS_GPU_JOB_DONE, p.done);
  if (!st.ok()) {
    verdict = fmt::format("unavailable: no BTF for the scheduler and {}", st.message());
    return;
  }
  p.sched = SchedMode::kTracepoint;
  p.sched_dep = s.new_names && layout(s.dep, KS_GPU_JOB_DEP, p.dep).ok();
  verdict = fmt::format("available: tracepoint {}, {}, {}{} (no BTF for the scheduler's types)",
                        s.queue, s.run, s.done, p.sched_dep ? fmt::format(", {}", s.dep) : "");
}

}  // namespace

bool GpuHostFacts::Tracepoint(std::string_view category, std::string_view name) const {
  return !tracefs_path.empty() && tracepoints.count(Key(category, name)) > 0;
}

std::string GpuHostFacts::TracepointMissingReason(std::string_view category,
                                                  std::string_view name) const {
  // Same words as HostFeatures::TracepointMissingReason.
  if (tracefs_path.empty()) return tracefs_error;
  return fmt::format("tracepoint {}:{} not found in {}/events", category, name, tracefs_path);
}

const std::vector<std::pair<std::string, std::string>>& GpuTracepointsOfInterest() {
  static const std::vector<std::pair<std::string, std::string>> kAll = [] {
    std::vector<std::pair<std::string, std::string>> v = {
        {"printk", "console"},
        {"sched", "sched_process_exit"},
        {"nvidia", "nvidia_dev_xid"},
        {"nvswitch", "nvswitch_dev_sxid"},
        {"dma_fence", "dma_fence_init"},
        {"dma_fence", "dma_fence_emit"},
        {"dma_fence", "dma_fence_signaled"},
        {"dma_fence", "dma_fence_wait_start"},
        {"dma_fence", "dma_fence_wait_end"},
    };
    for (const SchedScheme* s : {&kSchedOld, &kSchedNew})
      for (const char* n : {s->queue, s->run, s->done, s->dep}) v.emplace_back("gpu_scheduler", n);
    return v;
  }();
  return kAll;
}

const std::vector<std::string>& GpuTpBtfOfInterest() {
  static const std::vector<std::string> kAll = [] {
    std::vector<std::string> v = {"console", "dma_fence_signaled", "dma_fence_wait_end"};
    for (const SchedScheme* s : {&kSchedOld, &kSchedNew})
      for (const char* n : {s->queue, s->run, s->done, s->dep}) v.emplace_back(n);
    return v;
  }();
  return kAll;
}

namespace {

// Before 5.19 (701850dc0c31, "printk, tracing: fix console tracepoint") the tracepoint
// fired from the console path: only for lines the console prints, i.e. below console_loglevel
// (and none without a console). NVIDIA logs Xids at KERN_WARNING (4), i915/xe hangs are
// notices (5): `quiet` (console_loglevel 4) hides both. ConsoleTracesEveryLine() marks the
// kernels that trace every line; elsewhere "auto" reads /dev/kmsg, which has every line at
// every level, and never touches the console log level.
void PlanPrintk(const GpuHostFacts& f, GpuPlan& p) {
  const bool btf = f.vmlinux_tp_btf.count("console") > 0;
  const bool tp = !btf && f.Tracepoint("printk", "console");
  const std::string_view want = f.printk_source;
  // auto: /dev/kmsg where the tracepoint misses lines or is not there at all.
  const bool use_kmsg =
      want == "kmsg" || (want == "auto" && f.kmsg && (!f.console_every_line || (!btf && !tp)));
  if (use_kmsg) {
    if (!f.kmsg) {
      p.printk = "unavailable: printk_source is kmsg and " + f.kmsg_error;
      return;
    }
    p.kmsg = p.every_line = true;
    p.printk = want == "kmsg"
                   ? "available: /dev/kmsg (printk_source kmsg), every line at every level"
               : f.console_every_line
                   ? "available: /dev/kmsg, every line at every level (no printk:console "
                     "tracepoint: " +
                         f.TracepointMissingReason("printk", "console") + ")"
                   : "available: /dev/kmsg, every line at every level (printk:console on this "
                     "kernel traces only lines the console prints)";
    return;
  }
  p.console_btf = btf;
  p.console_tp = tp;
  if (!btf && !tp) {
    p.printk = "unavailable: " + f.TracepointMissingReason("printk", "console");
    return;
  }
  p.printk = btf ? "available: tp_btf console" : "available: tracepoint printk:console";
  if (f.console_every_line) {
    p.every_line = true;
    p.printk += ", every line at every level";
    return;
  }
  // The tracepoint, on a kernel where it sees only console lines: forced by the setting, or
  // /dev/kmsg cannot be read.
  const std::string why = want == "tracepoint" ? "printk_source is tracepoint" : f.kmsg_error;
  const int level = f.console_loglevel;
  if (level >= 0) {
    p.printk += fmt::format(
        ", only lines below console_loglevel {} ({}): this kernel traces only lines the console "
        "prints; lines at level {} and above (KERN_WARNING Xids are 4, i915 hangs 5) are missed",
        level, why, level);
  } else {
    p.printk += fmt::format(", only lines the console prints ({})", why);
  }
}

}  // namespace

bool ConsoleTracesEveryLine(std::string_view release) {
  unsigned major = 0, minor = 0;
  const char* p = release.data();
  const char* end = release.data() + release.size();
  auto r1 = std::from_chars(p, end, major);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != '.') return false;
  auto r2 = std::from_chars(r1.ptr + 1, end, minor);
  if (r2.ec != std::errc()) return false;
  return major > 5 || (major == 5 && minor >= 19);
}

GpuPlan MakeGpuPlan(const GpuHostFacts& f) {
  GpuPlan p;
  p.xid_layout = p.sxid_layout = {KS_GPU_OFF_NONE, KS_GPU_OFF_NONE, KS_GPU_OFF_NONE, 0};
  p.queue = p.run = p.done = p.dep = EmptySchedLayout();

  PlanPrintk(f, p);

  p.xid_verdict = PlanXid(f, "nvidia", "nvidia_dev_xid", p.xid, p.xid_layout);
  p.sxid_verdict = PlanXid(f, "nvswitch", "nvswitch_dev_sxid", p.sxid, p.sxid_layout);

  auto tp = [&](const char* n) { return f.Tracepoint("dma_fence", n); };
  auto btf = [&](const char* n) { return f.vmlinux_tp_btf.count(n) > 0; };
  p.fence_init = tp("dma_fence_init");
  p.fence_emit = tp("dma_fence_emit");
  p.fence_signaled_btf = btf("dma_fence_signaled");
  p.fence_signaled_tp = !p.fence_signaled_btf && tp("dma_fence_signaled");
  p.fence_wait_start = tp("dma_fence_wait_start");
  p.fence_wait_end_btf = p.fence_wait_start && btf("dma_fence_wait_end");
  p.fence_wait_end_tp = p.fence_wait_start && !p.fence_wait_end_btf && tp("dma_fence_wait_end");
  if (!p.fence()) {
    p.fence_init = p.fence_emit = p.fence_signaled_btf = p.fence_signaled_tp = false;
    p.fence_wait_start = p.fence_wait_end_btf = p.fence_wait_end_tp = false;
    p.fence_verdict =
        "unavailable: " + f.TracepointMissingReason("dma_fence", "dma_fence_signaled");
  } else {
    p.fence_verdict = fmt::format(
        "available: tracepoint init{}{}; {} signaled{}", p.fence_emit ? ", emit" : "",
        p.fence_wait_start ? ", wait_start" : "", p.fence_signaled_btf ? "tp_btf" : "tracepoint",
        p.fence_wait_end_btf  ? ", wait_end (tp_btf)"
        : p.fence_wait_end_tp ? ", wait_end (tracepoint)"
                              : "");
  }
  PlanSched(f, p);
  if (!p.printk_on() && !p.xid) {
    p.exit_cache_verdict = "unavailable: no Xid source to attribute";
  } else if (f.Tracepoint("sched", "sched_process_exit")) {
    p.exit_cache = true;
    p.exit_cache_verdict =
        "available: tracepoint sched:sched_process_exit (Xids name the cgroup of exited pids)";
  } else {
    p.exit_cache_verdict =
        "unavailable: " + f.TracepointMissingReason("sched", "sched_process_exit") +
        " (an Xid naming an exited pid gets no process)";
  }
  return p;
}

std::vector<std::pair<std::string, std::string>> GpuPlanDetails(const GpuPlan& p) {
  return {{"printk", p.printk},
          {"nvidia_dev_xid", p.xid_verdict},
          {"nvswitch_dev_sxid", p.sxid_verdict},
          {"dma_fence", p.fence_verdict},
          {"gpu_scheduler (<=6.16)", p.sched_old_verdict},
          {"gpu_scheduler (>=6.17)", p.sched_new_verdict},
          {"exited_processes", p.exit_cache_verdict}};
}

GpuVerdict GpuPlanVerdict(const GpuHostFacts& facts, const GpuPlan& p) {
  GpuVerdict v;
  if (!facts.btf) {
    v.reason = facts.btf_error;
    return v;
  }
  v.runnable = p.printk_on() || p.xid || p.sxid || p.fence() || p.sched != SchedMode::kNone;
  if (!v.runnable) {
    v.reason =
        "no GPU source on this host (no printk:console or /dev/kmsg, NVIDIA, dma_fence or "
        "gpu_scheduler tracepoint)";
    return v;
  }
  std::vector<std::string> on;
  if (p.printk_on()) on.emplace_back("printk");
  if (p.xid) on.emplace_back("nvidia_dev_xid");
  if (p.sxid) on.emplace_back("nvswitch_dev_sxid");
  if (p.fence()) on.emplace_back("dma_fence");
  if (p.sched != SchedMode::kNone)
    on.emplace_back(p.scheme->new_names ? "gpu_scheduler (>=6.17)" : "gpu_scheduler (<=6.16)");
  v.reason = fmt::format("sources: {}", fmt::join(on, ", "));
  return v;
}

GpuPrograms GpuProgramsFor(const GpuPlan& p) {
  GpuPrograms g;
  g.console_btf = p.console_btf;
  g.console_tp = p.console_tp;
  g.nvidia_dev_xid = p.xid;
  g.nvswitch_dev_sxid = p.sxid;
  g.fence_init_tp = p.fence_init;
  g.fence_emit_tp = p.fence_emit;
  g.fence_signaled_btf = p.fence_signaled_btf;
  g.fence_signaled_tp = p.fence_signaled_tp;
  g.fence_wait_start_tp = p.fence_wait_start;
  g.fence_wait_end_btf = p.fence_wait_end_btf;
  g.fence_wait_end_tp = p.fence_wait_end_tp;
  const bool btf = p.sched == SchedMode::kBtf, tp = p.sched == SchedMode::kTracepoint;
  const bool nw = p.scheme && p.scheme->new_names;
  const bool old = p.scheme && !p.scheme->new_names;
  g.sched_queue_old_btf = g.sched_run_old_btf = g.sched_done_old_btf = btf && old;
  g.sched_dep_old_btf = btf && old && p.sched_dep;
  g.sched_queue_btf = g.sched_run_btf = g.sched_done_btf = btf && nw;
  g.sched_dep_btf = btf && nw && p.sched_dep;
  g.sched_queue_old_tp = g.sched_run_old_tp = g.sched_done_old_tp = tp && old;
  g.sched_queue_tp = g.sched_run_tp = g.sched_done_tp = tp && nw;
  g.sched_dep_tp = tp && nw && p.sched_dep;
  g.proc_exit = p.exit_cache;
  return g;
}

}  // namespace ksight::gpu
