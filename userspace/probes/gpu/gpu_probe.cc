// The gpu probe: loads bpf/probes/gpu, turns printk lines and NVIDIA tracepoint records into
// gpu.xid / gpu.sxid / gpu.reset, pairs DRM scheduler events into gpu.job, and reports the
// in-kernel dma_fence histograms as gpu.fence.stats each interval.
//
// Every source is optional: Start() loads what this host has (set_autoload) and reports each
// source as attached or unavailable with the reason; printk alone is enough to run.
#include <sys/stat.h>

#include <bpf/btf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "core/loader.h"
#include "core/probe.h"
#include "core/process_info.h"
#include "core/record.h"
#include "probes/gpu/gpu_fence_stats.h"
#include "probes/gpu/gpu_jobs.h"
#include "probes/gpu/gpu_records.h"
#include "probes/gpu/gpu_tp_format.h"
#include "probes/gpu/gpu_xid_merge.h"
#include "probes/gpu/job_tracker.h"
#include "probes/gpu/log_parser.h"

#include "gpu.skel.h"

namespace ksight {
namespace {

using gpu::FenceStats;
using gpu::MergedXid;
using gpu::Reporter;
using gpu::XidObservation;
using gpu::XidSource;

constexpr uint32_t kFenceStartsEntries = 16384;
constexpr uint32_t kFenceStatsEntries = 1024;
constexpr uint64_t kXidWindowNs = 2'000'000'000;    // printk line <-> tracepoint twin
constexpr uint64_t kJobMaxAgeNs = 300'000'000'000;  // a job not done in 5 min is dropped

// ---- what this host offers ------------------------------------------------------------------

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool PathExists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

// Which of btf_trace_<name> the BTF of a module has (the gpu_scheduler tracepoints live in
// gpu_sched when it is a module); all false when the module has no BTF (5.10).
std::vector<bool> ModuleTpBtf(const char* module, const std::vector<std::string>& names) {
  std::vector<bool> out(names.size(), false);
  if (!PathExists(fmt::format("/sys/kernel/btf/{}", module))) return out;
  struct btf* base = btf__load_vmlinux_btf();
  if (!base) return out;
  if (struct btf* mod = btf__load_module_btf(module, base)) {
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string t = "btf_trace_" + names[i];
      out[i] = btf__find_by_name_kind(mod, t.c_str(), BTF_KIND_TYPEDEF) > 0;
    }
    btf__free(mod);
  }
  btf__free(base);
  return out;
}

// The console_loglevel field of /proc/sys/kernel/printk, or -1.
int ConsoleLoglevel() {
  std::ifstream in("/proc/sys/kernel/printk");
  int level = -1;
  if (!(in >> level)) return -1;
  return level;
}

enum class SchedMode { kNone, kBtf, kTracepoint };

struct SchedScheme {
  bool new_names = false;  // 6.17+
  const char* queue;
  const char* run;
  const char* done;
  const char* dep;
};
constexpr SchedScheme kSchedOld{false, "drm_sched_job", "drm_run_job", "drm_sched_process_job",
                                "drm_sched_job_wait_dep"};
constexpr SchedScheme kSchedNew{true, "drm_sched_job_queue", "drm_sched_job_run",
                                "drm_sched_job_done", "drm_sched_job_add_dep"};

struct Plan {
  // printk
  bool console_btf = false, console_tp = false;
  std::string printk;  // the verdict, for details
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

  bool fence() const { return fence_init && (fence_signaled_btf || fence_signaled_tp); }
  bool printk_on() const { return console_btf || console_tp; }
};

std::string FormatPath(const HostFeatures& host, std::string_view cat, std::string_view name) {
  return fmt::format("{}/events/{}/{}/format", host.tracefs_path(), cat, name);
}

// The layout of an NVIDIA tracepoint, or why it is unusable.
std::string PlanXid(const HostFeatures& host, std::string_view cat, std::string_view name, bool& on,
                    ks_gpu_xid_layout& layout) {
  if (!host.TracepointExists(cat, name)) {
    return fmt::format(
        "unavailable: tracepoint {}:{} not found (driver not loaded, or older "
        "than 575.51.02); printk still reports these faults",
        cat, name);
  }
  const auto fields = gpu::ParseTpFormat(ReadFile(FormatPath(host, cat, name)));
  auto l = gpu::XidLayoutFromFormat(fields);
  if (!l) return fmt::format("unavailable: {}:{}: {}", cat, name, l.status().message());
  layout = *l;
  on = true;
  return fmt::format("available: tracepoint {}:{}", cat, name);
}

void PlanSched(const HostFeatures& host, Plan& p) {
  const bool old_tp = host.TracepointExists("gpu_scheduler", kSchedOld.queue);
  const bool new_tp = host.TracepointExists("gpu_scheduler", kSchedNew.queue);
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
  const std::vector<std::string> names = {s.queue, s.run, s.done, s.dep};
  std::vector<bool> have = ModuleTpBtf("gpu_sched", names);
  for (size_t i = 0; i < names.size(); ++i) have[i] = have[i] || host.TpBtfExists(names[i]);
  if (have[0] && have[1] && have[2]) {
    p.sched = SchedMode::kBtf;
    p.sched_dep = have[3];
    verdict = fmt::format("available: tp_btf {}, {}, {}{}", s.queue, s.run, s.done,
                          p.sched_dep ? fmt::format(", {}", s.dep) : "");
    return;
  }
  // Classic tracepoints with the layout tracefs gives (5.10 has no module BTF).
  auto layout = [&](const char* ev, ks_gpu_job_phase ph, ks_gpu_sched_layout& out) -> Status {
    if (!host.TracepointExists("gpu_scheduler", ev))
      return Status::Error(fmt::format("no tracepoint gpu_scheduler:{}", ev));
    auto l = gpu::SchedLayoutFromFormat(
        gpu::ParseTpFormat(ReadFile(FormatPath(host, "gpu_scheduler", ev))), ph);
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

Plan MakePlan(const HostFeatures& host) {
  Plan p;
  p.xid_layout = p.sxid_layout = {KS_GPU_OFF_NONE, KS_GPU_OFF_NONE, KS_GPU_OFF_NONE, 0};
  p.queue = p.run = p.done = p.dep = gpu::EmptySchedLayout();

  p.console_btf = host.TpBtfExists("console");
  p.console_tp = !p.console_btf && host.TracepointExists("printk", "console");
  p.printk = p.console_btf  ? "available: tp_btf console"
             : p.console_tp ? "available: tracepoint printk:console"
                            : "unavailable: " + host.TracepointMissingReason("printk", "console");
  // Before 5.19 ("printk: Move the printk:console tracepoint into printk_sprint") the
  // tracepoint fired from the console path: only for lines the console prints. NVIDIA logs its
  // Xids at the default level (KERN_WARNING, 4), which `quiet` (console_loglevel 4) hides.
  // printk_sprint() in BTF marks the kernels that trace every line.
  if (p.printk_on() && !host.BtfHasFunc("printk_sprint")) {
    const int level = ConsoleLoglevel();
    if (level >= 0 && level <= 4) {
      p.printk += fmt::format(
          "; this kernel traces only lines the console prints and console_loglevel is {}: "
          "KERN_WARNING lines such as NVIDIA Xids are missed (raise it: sysctl -w "
          "kernel.printk=\"5 4 1 7\")",
          level);
    } else if (level > 4) {
      p.printk += fmt::format("; this kernel traces only lines below console_loglevel ({})", level);
    }
  }

  p.xid_verdict = PlanXid(host, "nvidia", "nvidia_dev_xid", p.xid, p.xid_layout);
  p.sxid_verdict = PlanXid(host, "nvswitch", "nvswitch_dev_sxid", p.sxid, p.sxid_layout);

  auto tp = [&](const char* n) { return host.TracepointExists("dma_fence", n); };
  p.fence_init = tp("dma_fence_init");
  p.fence_emit = tp("dma_fence_emit");
  p.fence_signaled_btf = host.TpBtfExists("dma_fence_signaled");
  p.fence_signaled_tp = !p.fence_signaled_btf && tp("dma_fence_signaled");
  p.fence_wait_start = tp("dma_fence_wait_start");
  p.fence_wait_end_btf = p.fence_wait_start && host.TpBtfExists("dma_fence_wait_end");
  p.fence_wait_end_tp = p.fence_wait_start && !p.fence_wait_end_btf && tp("dma_fence_wait_end");
  if (!p.fence()) {
    p.fence_init = p.fence_emit = p.fence_signaled_btf = p.fence_signaled_tp = false;
    p.fence_wait_start = p.fence_wait_end_btf = p.fence_wait_end_tp = false;
    p.fence_verdict =
        "unavailable: " + host.TracepointMissingReason("dma_fence", "dma_fence_signaled");
  } else {
    p.fence_verdict = fmt::format(
        "available: tracepoint init{}{}; {} signaled{}", p.fence_emit ? ", emit" : "",
        p.fence_wait_start ? ", wait_start" : "", p.fence_signaled_btf ? "tp_btf" : "tracepoint",
        p.fence_wait_end_btf  ? ", wait_end (tp_btf)"
        : p.fence_wait_end_tp ? ", wait_end (tracepoint)"
                              : "");
  }
  PlanSched(host, p);
  return p;
}

Details PlanDetails(const Plan& p) {
  return {{"printk", p.printk},
          {"nvidia_dev_xid", p.xid_verdict},
          {"nvswitch_dev_sxid", p.sxid_verdict},
          {"dma_fence", p.fence_verdict},
          {"gpu_scheduler (<=6.16)", p.sched_old_verdict},
          {"gpu_scheduler (>=6.17)", p.sched_new_verdict}};
}

// ---- the probe ------------------------------------------------------------------------------

struct LinkDeleter {
  void operator()(bpf_link* l) const { bpf_link__destroy(l); }
};
using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;

Reporter ReporterOf(const ks_task& t) {
  return Reporter{t.pid, t.tid, std::string(CommView(t.comm))};
}

class GpuProbe final : public Probe {
 public:
  std::string_view name() const override { return "gpu"; }

  ProbeCheck Check(const HostFeatures& host) const override {
    ProbeCheck c;
    const Plan p = MakePlan(host);
    c.details = PlanDetails(p);
    if (!host.btf()) {
      c.reason = host.btf_error();
      return c;
    }
    c.runnable = p.printk_on() || p.xid || p.sxid || p.fence() || p.sched != SchedMode::kNone;
    if (!c.runnable) {
      c.reason =
          "no GPU source on this host (no printk:console, NVIDIA, dma_fence or "
          "gpu_scheduler tracepoint)";
      return c;
    }
    std::vector<std::string> on;
    if (p.printk_on()) on.emplace_back("printk");
    if (p.xid) on.emplace_back("nvidia_dev_xid");
    if (p.sxid) on.emplace_back("nvswitch_dev_sxid");
    if (p.fence()) on.emplace_back("dma_fence");
    if (p.sched != SchedMode::kNone)
      on.emplace_back(p.scheme->new_names ? "gpu_scheduler (>=6.17)" : "gpu_scheduler (<=6.16)");
    c.reason = fmt::format("sources: {}", fmt::join(on, ", "));
    return c;
  }

  Status Start(const ProbeContext& ctx) override {
    ctx_ = &ctx;
    if (!ctx.host.btf()) return Status::Error(ctx.host.btf_error());
    plan_ = MakePlan(ctx.host);
    // Degrade one optional source at a time: a source that fails to load or attach is reported
    // unavailable with the error, and the rest runs.
    Status st = LoadAndAttach();
    if (!st.ok() && plan_.sched != SchedMode::kNone) {
      Disable(plan_.sched_new_verdict, plan_.sched_old_verdict, st,
              [&] { plan_.sched = SchedMode::kNone; });
      st = LoadAndAttach();
    }
    if (!st.ok() && (plan_.xid || plan_.sxid)) {
      Disable(plan_.xid_verdict, plan_.sxid_verdict, st, [&] { plan_.xid = plan_.sxid = false; });
      st = LoadAndAttach();
    }
    if (!st.ok() && plan_.fence()) {
      const std::string why = "failed: " + st.message();
      plan_.fence_verdict = why;
      plan_.fence_init = plan_.fence_signaled_btf = plan_.fence_signaled_tp = false;
      plan_.fence_emit = plan_.fence_wait_start = false;
      plan_.fence_wait_end_btf = plan_.fence_wait_end_tp = false;
      st = LoadAndAttach();
    }
    if (!st.ok()) return st;

    merger_ = std::make_unique<gpu::XidMerger>(gpu::XidMerger::Options{
        .xid_tracepoint = plan_.xid, .sxid_tracepoint = plan_.sxid, .window_ns = kXidWindowNs});
    return {};
  }

  int RingFd() const override { return skel_ ? bpf_map__fd(skel_->maps.ring) : -1; }

  void OnRecord(const void* data, size_t size) override {
    ks_rec_hdr h{};
    RecordError err = PeekRecordHeader(data, size, &h);
    if (err == RecordError::kNone) {
      switch (h.type) {
        case KS_REC_GPU_LOG:
          if (const auto* r = RecordAs<ks_gpu_log_rec>(data, size, h.type, &err)) return OnLog(*r);
          break;
        case KS_REC_GPU_XID_TP:
          if (const auto* r = RecordAs<ks_gpu_xid_tp_rec>(data, size, h.type, &err))
            return OnXidTp(*r);
          break;
        case KS_REC_GPU_JOB:
          if (const auto* r = RecordAs<ks_gpu_job_rec>(data, size, h.type, &err)) return OnJob(*r);
          break;
        default:
          err = RecordError::kType;
      }
    }
    malformed_.Count(name(), err, data, size);
  }

  void Rollup(uint64_t start_ns, uint64_t end_ns) override {
    std::vector<MergedXid> ready;
    if (stopping_) {
      merger_->FlushAll(ready);
    } else {
      merger_->Expire(Clock::BootNs(), ready);
    }
    EmitXids(ready);
    if (plan_.fence()) RollupFences(start_ns, end_ns);
    if (plan_.sched != SchedMode::kNone) jobs_.Expire(Clock::BootNs(), kJobMaxAgeNs);
    if (stopping_) LogSummary();
  }

  // An Xid waits at most the merge window for its twin from the other source, not a whole
  // interval: release it as soon as the window has passed.
  void Tick(uint64_t now_boot_ns) override {
    if (!merger_ || merger_->pending() == 0) return;
    std::vector<MergedXid> ready;
    merger_->Expire(now_boot_ns, ready);
    if (!ready.empty()) EmitXids(ready);
  }

  BpfTotals ReadBpfTotals() const override {
    return skel_ ? ReadCounters(skel_->maps.ks_counters) : BpfTotals{};
  }

  Details StatusDetails() const override { return PlanDetails(plan_); }

  void Metrics(MetricsSink& sink) const override {
    for (const auto& [type, n] : types_) sink.Events(type, n);
    for (const auto& [code, n] : xids_)
      sink.Counter(metrics::kGpuXid, {{"code", std::to_string(code)}}, n);
    for (const auto& [code, n] : sxids_)
      sink.Counter(metrics::kGpuSxid, {{"code", std::to_string(code)}}, n);
    for (const auto& [kind, n] : resets_) sink.Counter(metrics::kGpuResets, {{"kind", kind}}, n);
    malformed_.Metrics(sink, name());
  }

  void Stop() override {
    links_.clear();
    stopping_ = true;
  }

 private:
  template <typename F>
  void Disable(std::string& a, std::string& b, const Status& st, F off) {
    const std::string why = "failed: " + st.message();
    if (!a.starts_with("unavailable")) a = why;
    if (!b.starts_with("unavailable")) b = why;
    spdlog::warn("gpu: {}; retrying without that source", st.message());
    off();
  }

  Status LoadAndAttach() {
    links_.clear();
    skel_.reset(ks_gpu__open());
    if (!skel_) return LibbpfError("opening the gpu BPF object", -errno);
    auto* ro = skel_->rodata;
    SetCommonRodata(ro, *ctx_);
    ro->xid_layout = plan_.xid_layout;
    ro->sxid_layout = plan_.sxid_layout;
    ro->sched_queue_layout = plan_.queue;
    ro->sched_run_layout = plan_.run;
    ro->sched_done_layout = plan_.done;
    ro->sched_dep_layout = plan_.dep;
    KS_RETURN_IF_ERROR(SetRingSize(skel_->maps.ring, ctx_->cfg.ring_bytes));
    if (int r = bpf_map__set_max_entries(skel_->maps.fence_starts, kFenceStartsEntries))
      return LibbpfError("sizing fence_starts", r);
    if (int r = bpf_map__set_max_entries(skel_->maps.fence_stats, kFenceStatsEntries))
      return LibbpfError("sizing fence_stats", r);

    auto& pr = skel_->progs;
    std::vector<std::pair<bpf_program*, bool>> want = {
        {pr.console_btf, plan_.console_btf},
        {pr.console_tp, plan_.console_tp},
        {pr.nvidia_dev_xid, plan_.xid},
        {pr.nvswitch_dev_sxid, plan_.sxid},
        {pr.fence_init_tp, plan_.fence_init},
        {pr.fence_emit_tp, plan_.fence_emit},
        {pr.fence_signaled_btf, plan_.fence_signaled_btf},
        {pr.fence_signaled_tp, plan_.fence_signaled_tp},
        {pr.fence_wait_start_tp, plan_.fence_wait_start},
        {pr.fence_wait_end_btf, plan_.fence_wait_end_btf},
        {pr.fence_wait_end_tp, plan_.fence_wait_end_tp},
    };
    const bool btf = plan_.sched == SchedMode::kBtf, tp = plan_.sched == SchedMode::kTracepoint;
    const bool nw = plan_.scheme && plan_.scheme->new_names;
    const bool old = plan_.scheme && !plan_.scheme->new_names;
    want.insert(want.end(), {
                                {pr.sched_queue_old_btf, btf && old},
                                {pr.sched_run_old_btf, btf && old},
                                {pr.sched_done_old_btf, btf && old},
                                {pr.sched_dep_old_btf, btf && old && plan_.sched_dep},
                                {pr.sched_queue_btf, btf && nw},
                                {pr.sched_run_btf, btf && nw},
                                {pr.sched_done_btf, btf && nw},
                                {pr.sched_dep_btf, btf && nw && plan_.sched_dep},
                                {pr.sched_queue_old_tp, tp && old},
                                {pr.sched_run_old_tp, tp && old},
                                {pr.sched_done_old_tp, tp && old},
                                {pr.sched_queue_tp, tp && nw},
                                {pr.sched_run_tp, tp && nw},
                                {pr.sched_done_tp, tp && nw},
                                {pr.sched_dep_tp, tp && nw && plan_.sched_dep},
                            });
    size_t n = 0;
    for (auto& [prog, on] : want) {
      bpf_program__set_autoload(prog, on);
      n += on;
    }
    if (n == 0) return Status::Error("no GPU source to attach");
    if (int r = ks_gpu__load(skel_.get())) return LibbpfError("loading the gpu BPF programs", r);
    KS_RETURN_IF_ERROR(FillFilterMaps(skel_->obj, ctx_->filters));
    for (auto& [prog, on] : want) {
      if (!on) continue;
      bpf_link* l = bpf_program__attach(prog);
      if (!l) {
        const int e = errno;
        return LibbpfError(fmt::format("attaching {} ({})", bpf_program__name(prog),
                                       bpf_program__section_name(prog)),
                           -e);
      }
      links_.emplace_back(l);
    }
    return {};
  }

  // -- Xid / SXid / reset --------------------------------------------------------------------

  void OnLog(const ks_gpu_log_rec& r) {
    const std::string_view text(r.text, strnlen(r.text, std::min<size_t>(r.len, sizeof(r.text))));
    auto ev = gpu::ParseGpuLogLine(text);
    if (!ev) {
      ++log_not_events_;
      return;
    }
    std::vector<MergedXid> ready;
    if (auto* reset = std::get_if<gpu::ResetEvent>(&*ev)) {
      ++types_["gpu.reset"];
      ++resets_[std::string(gpu::ResetKindName(reset->kind))];
      auto& w = ctx_->out.Begin(ctx_->id, "gpu.reset", ctx_->clock.ToUnix(r.hdr.ts_ns));
      gpu::WriteResetBody(w, *reset, ReporterOf(r.task));
      ctx_->out.End();
      merger_->Expire(r.hdr.ts_ns, ready);
    } else if (auto* x = std::get_if<gpu::XidEvent>(&*ev)) {
      merger_->Add({r.hdr.ts_ns, XidSource::kPrintk, std::move(*x), ReporterOf(r.task)}, ready);
    } else {
      auto& s = std::get<gpu::SxidEvent>(*ev);
      if (s.detail) {
        ++sxid_detail_lines_;  // describes the SXid its first line reported
        return;
      }
      merger_->Add({r.hdr.ts_ns, XidSource::kPrintk, std::move(s), ReporterOf(r.task)}, ready);
    }
    EmitXids(ready);
  }

  void OnXidTp(const ks_gpu_xid_tp_rec& r) {
    const std::string_view dev(r.dev, strnlen(r.dev, sizeof(r.dev)));
    const std::string_view msg(r.msg, strnlen(r.msg, sizeof(r.msg)));
    XidObservation o{r.hdr.ts_ns, XidSource::kTracepoint, {}, ReporterOf(r.task)};
    if (r.kind == KS_GPU_TP_XID) {
      // The tracepoint's msg is the text the printk line carries after "<code>, ": parse the
      // line the driver would print, so both paths read the same fields.
      const std::string bus = gpu::NormalizePciBusId(dev, false).value_or(std::string(dev));
      auto ev =
          gpu::ParseGpuLogLine(fmt::format("NVRM: Xid (PCI:{}): {}, {}", bus, r.error_code, msg));
      gpu::XidEvent x;
      if (ev && std::holds_alternative<gpu::XidEvent>(*ev)) {
        x = std::get<gpu::XidEvent>(std::move(*ev));
      } else {
        x.pci_bus_id = bus;
        x.code = static_cast<int>(r.error_code);
        x.message = std::string(msg);
      }
      o.event = std::move(x);
    } else if (r.kind == KS_GPU_TP_SXID) {
      const std::string bus = gpu::NormalizePciBusId(dev, true).value_or(std::string(dev));
      auto ev = gpu::ParseGpuLogLine(
          fmt::format("nvidia-nvswitch: SXid (PCI:{}): {}, {}", bus, r.error_code, msg));
      gpu::SxidEvent s;
      if (ev && std::holds_alternative<gpu::SxidEvent>(*ev)) {
        s = std::get<gpu::SxidEvent>(std::move(*ev));
        s.device.clear();  // the tracepoint does not name the switch device
      } else {
        s.pci_bus_id = bus;
        s.code = static_cast<int>(r.error_code);
        s.message = std::string(msg);
      }
      o.event = std::move(s);
    } else {
      ++unknown_records_;
      return;
    }
    std::vector<MergedXid> ready;
    merger_->Add(std::move(o), ready);
    EmitXids(ready);
  }

  void EmitXids(std::vector<MergedXid>& ready) {
    std::sort(ready.begin(), ready.end(),
              [](const MergedXid& a, const MergedXid& b) { return a.ts_ns < b.ts_ns; });
    for (const auto& m : ready) {
      ++types_[std::string(gpu::XidRecordType(m))];
      if (const auto* x = std::get_if<gpu::XidEvent>(&m.event)) {
        ++xids_[x->code];
      } else {
        ++sxids_[std::get<gpu::SxidEvent>(m.event).code];
      }
      auto& w = ctx_->out.Begin(ctx_->id, gpu::XidRecordType(m), ctx_->clock.ToUnix(m.ts_ns));
      gpu::WriteXidBody(w, m);
      ctx_->out.End();
    }
  }

  // -- DRM scheduler jobs --------------------------------------------------------------------

  void OnJob(const ks_gpu_job_rec& r) {
    auto job = jobs_.OnRecord(r);
    if (!job) return;
    ++types_["gpu.job"];
    auto& w = ctx_->out.Begin(ctx_->id, "gpu.job", ctx_->clock.ToUnix(job->record.queue_ts_ns));
    gpu::WriteJobBody(w, job->record, job->extras);
    ctx_->out.End();
  }

  // -- dma_fence -----------------------------------------------------------------------------

  void RollupFences(uint64_t start_ns, uint64_t end_ns) {
    const int fd = bpf_map__fd(skel_->maps.fence_stats);
    ks_gpu_fence_key key{}, next{};
    const ks_gpu_fence_key* prev = nullptr;
    ks_gpu_fence_stats v{};
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
      key = next;
      prev = &key;
      if (bpf_map_lookup_elem(fd, &key, &v) != 0) continue;
      const FenceStats cur = FenceStats::From(v);
      FenceStats& last = fence_prev_[gpu::FenceKeyString(key)];
      const FenceStats d = gpu::FenceDelta(cur, last);
      last = cur;
      if (d.empty()) continue;
      ++types_["gpu.fence.stats"];
      auto& w = ctx_->out.Begin(ctx_->id, "gpu.fence.stats", end_ns);
      gpu::WriteFenceStatsBody(w, gpu::FenceKeyDriver(key), gpu::FenceKeyTimeline(key), d);
      w.KObject("interval").Key("start").Rfc3339(start_ns).Key("end").Rfc3339(end_ns);
      w.KV("duration_ns", end_ns - start_ns).EndObject();
      ctx_->out.End();
    }
  }

  void LogSummary() const {
    const auto& m = merger_->stats();
    const auto& j = jobs_.tracker_stats();
    spdlog::info(
        "gpu: printk lines that were no event {}, SXid detail lines {}, Xid observations {} "
        "(merged pairs {}); jobs queued {} done {} emitted {} (done without queue {}, "
        "unmatched {}, evicted {}, expired {}); unknown records {}",
        log_not_events_, sxid_detail_lines_, m.observed, m.merged, j.queued, j.done, j.emitted,
        j.done_without_queue, j.done_unmatched, j.evicted, j.expired,
        unknown_records_ + jobs_.unknown_phases());
  }

  const ProbeContext* ctx_ = nullptr;
  Plan plan_;
  SkelPtr<ks_gpu, ks_gpu__destroy> skel_;
  std::vector<LinkPtr> links_;
  std::unique_ptr<gpu::XidMerger> merger_;
  gpu::JobAssembler jobs_;
  std::unordered_map<std::string, FenceStats> fence_prev_;
  bool stopping_ = false;
  uint64_t log_not_events_ = 0;
  uint64_t sxid_detail_lines_ = 0;
  uint64_t unknown_records_ = 0;
  MalformedRecords malformed_;
  // For /metrics (cumulative): records per type, Xids / SXids per code, resets per kind.
  std::map<std::string, uint64_t> types_{
      {"gpu.xid", 0}, {"gpu.sxid", 0}, {"gpu.reset", 0}, {"gpu.job", 0}, {"gpu.fence.stats", 0}};
  std::map<int, uint64_t> xids_, sxids_;
  std::map<std::string, uint64_t> resets_;
};

}  // namespace

std::unique_ptr<Probe> MakeGpuProbe() { return std::make_unique<GpuProbe>(); }

}  // namespace ksight
