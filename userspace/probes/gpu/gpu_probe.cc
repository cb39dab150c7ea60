// The gpu probe: loads bpf/probes/gpu, turns printk lines and NVIDIA tracepoint records into
// gpu.xid / gpu.sxid / gpu.reset, pairs DRM scheduler events into gpu.job, and reports the
// in-kernel dma_fence histograms as gpu.fence.stats each interval.
//
// Every source is optional: Start() loads what this host has (set_autoload) and reports each
// source as attached or unavailable with the reason; printk alone is enough to run.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
#include "probes/gpu/gpu_module.h"
#include "probes/gpu/gpu_plan.h"
#include "probes/gpu/gpu_records.h"
#include "probes/gpu/gpu_tp_format.h"
#include "probes/gpu/gpu_xid_merge.h"
#include "probes/gpu/job_tracker.h"
#include "probes/gpu/kmsg.h"
#include "probes/gpu/log_parser.h"
#include "probes/gpu/xid_workload.h"

#include "gpu.skel.h"

namespace ksight {
namespace {

using gpu::FenceStats;
using gpu::GpuHostFacts;
using gpu::SchedMode;
using Plan = gpu::GpuPlan;
using gpu::MergedXid;
using gpu::Reporter;
using gpu::XidObservation;
using gpu::XidSource;

constexpr uint32_t kFenceStartsEntries = 16384;
constexpr uint32_t kFenceStatsEntries = 1024;
constexpr uint64_t kXidWindowNs = 2'000'000'000;    // printk line <-> tracepoint twin
constexpr uint64_t kJobMaxAgeNs = 300'000'000'000;  // a job not done in 5 min is dropped

// ---- what this host offers ------------------------------------------------------------------

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

// Whether /dev/kmsg opens for reading (root or CAP_SYSLOG, and not dmesg_restrict'ed away).
void CheckKmsg(GpuHostFacts& f) {
  const int fd = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    f.kmsg_error = fmt::format("opening /dev/kmsg: {}", std::strerror(errno));
    return;
  }
  ::close(fd);
  f.kmsg = true;
}

// CLOCK_BOOTTIME - CLOCK_MONOTONIC: time spent suspended. /dev/kmsg stamps are local_clock(),
// which (like CLOCK_MONOTONIC) stops in suspend; adding this puts them on the BPF clock.
uint64_t SuspendedNs() {
  timespec b{}, m{};
  ::clock_gettime(CLOCK_BOOTTIME, &b);
  ::clock_gettime(CLOCK_MONOTONIC, &m);
  const int64_t d = (static_cast<int64_t>(b.tv_sec) - m.tv_sec) * 1'000'000'000 +
                    (static_cast<int64_t>(b.tv_nsec) - m.tv_nsec);
  return d > 0 ? static_cast<uint64_t>(d) : 0;
}

// Everything MakeGpuPlan() decides from (probes/gpu/gpu_plan.h).
GpuHostFacts GatherFacts(const HostFeatures& host, std::string printk_source = "auto") {
  GpuHostFacts f;
  f.printk_source = std::move(printk_source);
  f.btf = host.btf();
  f.btf_error = host.btf_error();
  f.tracefs_path = host.tracefs_path();
  f.tracefs_error = host.tracefs_error();
  bool sched = false;
  for (const auto& [cat, name] : gpu::GpuTracepointsOfInterest()) {
    if (!host.TracepointExists(cat, name)) continue;
    f.tracepoints[fmt::format("{}:{}", cat, name)] =
        ReadSmallFile(fmt::format("{}/events/{}/{}/format", host.tracefs_path(), cat, name));
    sched = sched || cat == "gpu_scheduler";
  }
  for (const auto& name : gpu::GpuTpBtfOfInterest()) {
    if (host.TpBtfExists(name)) f.vmlinux_tp_btf.insert(name);
  }
  // The module's BTF is loaded only when its tracepoints are there to use.
  if (sched) {
    const auto& names = gpu::GpuTpBtfOfInterest();
    const std::vector<bool> have = ModuleTpBtf("gpu_sched", names);
    for (size_t i = 0; i < names.size(); ++i) {
      if (have[i]) f.gpu_sched_tp_btf.insert(names[i]);
    }
  }
  f.console_every_line = gpu::ConsoleTracesEveryLine(host.kernel_release());
  f.console_loglevel = ConsoleLoglevel();
  CheckKmsg(f);
  return f;
}

// ---- the probe ------------------------------------------------------------------------------

Reporter ReporterOf(const ks_task& t) {
  return Reporter{t.pid, t.tid, std::string(CommView(t.comm))};
}

class GpuProbe final : public Probe {
 public:
  std::string_view name() const override { return "gpu"; }

  ProbeCheck Check(const HostFeatures& host) const override {
    const GpuHostFacts facts = GatherFacts(host);
    const Plan p = gpu::MakeGpuPlan(facts);
    const gpu::GpuVerdict v = gpu::GpuPlanVerdict(facts, p);
    return {v.runnable, v.reason, gpu::GpuPlanDetails(p)};
  }

  Status Start(const ProbeContext& ctx) override {
    ctx_ = &ctx;
    if (!ctx.host.btf()) return Status::Error(ctx.host.btf_error());
    plan_ = gpu::MakeGpuPlan(GatherFacts(ctx.host, ctx.settings.String("printk_source")));
    if (plan_.kmsg) OpenKmsg(ctx.settings.String("kmsg_state_file"));
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

    gpu::WorkloadResolver::Options wo;
    wo.ticks_per_sec = static_cast<uint64_t>(std::max(::sysconf(_SC_CLK_TCK), 1L));
    wo.cgroupfs = ctx.identity.cgroup2();
    wo.path_of = [id = &ctx.identity](uint64_t cg) { return id->PathOf(cg); };
    if (plan_.exit_cache) {
      const int fd = bpf_map__fd(skel_->maps.exited);
      wo.exited = [fd](uint32_t pid) -> std::optional<gpu::ExitedProcess> {
        ks_gpu_exited e{};
        if (bpf_map_lookup_elem(fd, &pid, &e) != 0) return std::nullopt;
        return gpu::ExitedProcess{e.cgroup_id, e.start_ns, e.exit_ns,
                                  std::string(CommView(e.comm))};
      };
    }
    workloads_ = std::make_unique<gpu::WorkloadResolver>(std::move(wo));
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
    PollKmsg();
    SaveKmsg();
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
    PollKmsg();
    if (!merger_ || merger_->pending() == 0) return;
    std::vector<MergedXid> ready;
    merger_->Expire(now_boot_ns, ready);
    if (!ready.empty()) EmitXids(ready);
  }

  BpfTotals ReadBpfTotals() const override {
    return skel_ ? ReadCounters(skel_->maps.ks_counters) : BpfTotals{};
  }

  Details StatusDetails() const override { return gpu::GpuPlanDetails(plan_); }

  void Metrics(MetricsSink& sink) const override {
    for (const auto& [type, n] : types_) sink.Events(type, n);
    for (const auto& [k, n] : xids_) {
      sink.Counter(k.sxid ? gpu::kMetricSxid : gpu::kMetricXid,
                   {{"pci_bus_id", k.pci_bus_id},
                    {"code", std::to_string(k.code)},
                    {"name", k.name},
                    {"severity", k.severity}},
                   n);
    }
    for (const auto& [kind, n] : resets_) sink.Counter(gpu::kMetricResets, {{"kind", kind}}, n);
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
    const gpu::GpuPrograms g = gpu::GpuProgramsFor(plan_);
    const std::vector<std::pair<bpf_program*, bool>> want = {
        {pr.console_btf, g.console_btf},
        {pr.console_tp, g.console_tp},
        {pr.nvidia_dev_xid, g.nvidia_dev_xid},
        {pr.nvswitch_dev_sxid, g.nvswitch_dev_sxid},
        {pr.fence_init_tp, g.fence_init_tp},
        {pr.fence_emit_tp, g.fence_emit_tp},
        {pr.fence_signaled_btf, g.fence_signaled_btf},
        {pr.fence_signaled_tp, g.fence_signaled_tp},
        {pr.fence_wait_start_tp, g.fence_wait_start_tp},
        {pr.fence_wait_end_btf, g.fence_wait_end_btf},
        {pr.fence_wait_end_tp, g.fence_wait_end_tp},
        {pr.sched_queue_old_btf, g.sched_queue_old_btf},
        {pr.sched_run_old_btf, g.sched_run_old_btf},
        {pr.sched_done_old_btf, g.sched_done_old_btf},
        {pr.sched_dep_old_btf, g.sched_dep_old_btf},
        {pr.sched_queue_btf, g.sched_queue_btf},
        {pr.sched_run_btf, g.sched_run_btf},
        {pr.sched_done_btf, g.sched_done_btf},
        {pr.sched_dep_btf, g.sched_dep_btf},
        {pr.sched_queue_old_tp, g.sched_queue_old_tp},
        {pr.sched_run_old_tp, g.sched_run_old_tp},
        {pr.sched_done_old_tp, g.sched_done_old_tp},
        {pr.sched_queue_tp, g.sched_queue_tp},
        {pr.sched_run_tp, g.sched_run_tp},
        {pr.sched_done_tp, g.sched_done_tp},
        {pr.sched_dep_tp, g.sched_dep_tp},
        {pr.proc_exit, g.proc_exit},
    };
    size_t n = 0;
    for (const auto& [prog, on] : want) {
      KS_RETURN_IF_ERROR(SetAutoload(prog, on));
      n += on;
    }
    if (n == 0 && !kmsg_) return Status::Error("no GPU source to attach");
    if (int r = ks_gpu__load(skel_.get())) return LibbpfError("loading the gpu BPF programs", r);
    KS_RETURN_IF_ERROR(FillFilterMaps(skel_->obj, ctx_->filters));
    for (const auto& [prog, on] : want) {
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
    OnLogLine(text, r.hdr.ts_ns, ReporterOf(r.task), XidSource::kPrintk);
  }

  // -- /dev/kmsg (printk_source kmsg, or auto before 5.19) -----------------------------------

  void OpenKmsg(const std::string& state_file) {
    if (!state_file.empty()) {
      // Its directory (/var/lib/ksight by default; systemd's StateDirectory makes it too).
      const std::string dir = state_file.substr(0, state_file.rfind('/'));
      if (!dir.empty() && ::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
        spdlog::warn(
            "gpu: cannot create {} for the /dev/kmsg position ({}): a restart will "
            "start at the end of the log",
            dir, std::strerror(errno));
      }
    }
    auto r = std::make_unique<gpu::KmsgReader>();
    const Status st =
        r->Open({.path = "/dev/kmsg", .state_file = state_file, .boot_id = gpu::ReadBootId()});
    if (!st.ok()) {
      plan_.kmsg = false;
      plan_.every_line = false;
      plan_.printk = "failed: " + st.message();
      spdlog::warn("gpu: {}; the printk source is off", st.message());
      return;
    }
    if (r->resumed()) plan_.printk += "; resumed after the position saved in " + state_file;
    kmsg_ = std::move(r);
  }

  void PollKmsg() {
    if (!kmsg_) return;
    const uint64_t suspended = SuspendedNs();
    kmsg_->Poll([&](const gpu::KmsgRecord& rec) {
      ++kmsg_lines_;
      OnLogLine(rec.text, rec.ts_usec * 1000 + suspended, gpu::Reporter{}, XidSource::kKmsg);
    });
    // Lines overwritten before they were read: counted as this probe's loss.
    if (kmsg_->lost() > kmsg_lost_reported_) {
      ctx_->out.CountDrop(ctx_->id, DropReason::kKmsgOverrun, kmsg_->lost() - kmsg_lost_reported_);
      kmsg_lost_reported_ = kmsg_->lost();
    }
  }

  void SaveKmsg() {
    if (!kmsg_) return;
    const Status st = kmsg_->Save();
    if (!st.ok() && !kmsg_save_warned_) {
      spdlog::warn(
          "gpu: saving the /dev/kmsg position: {} (a restart will start at the end of "
          "the log)",
          st.message());
      kmsg_save_warned_ = true;
    }
  }

  void OnLogLine(std::string_view text, uint64_t ts_ns, gpu::Reporter reporter, XidSource src) {
    auto ev = gpu::ParseGpuLogLine(text);
    if (!ev) {
      ++log_not_events_;
      return;
    }
    std::vector<MergedXid> ready;
    if (auto* reset = std::get_if<gpu::ResetEvent>(&*ev)) {
      ++types_["gpu.reset"];
      ++resets_[std::string(gpu::ResetKindName(reset->kind))];
      auto& w = ctx_->out.Begin(ctx_->id, "gpu.reset", ctx_->clock.ToUnix(ts_ns));
      gpu::WriteResetBody(w, *reset, reporter, src);
      if (reset->pid) WriteWorkloadOf(w, *reset->pid, ts_ns);
      ctx_->out.End();
      merger_->Expire(ts_ns, ready);
    } else if (auto* x = std::get_if<gpu::XidEvent>(&*ev)) {
      merger_->Add({ts_ns, src, std::move(*x), std::move(reporter)}, ready);
    } else {
      auto& s = std::get<gpu::SxidEvent>(*ev);
      if (s.detail) {
        ++sxid_detail_lines_;  // describes the SXid its first line reported
        return;
      }
      merger_->Add({ts_ns, src, std::move(s), std::move(reporter)}, ready);
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
      ++xids_[gpu::XidMetricKeyOf(m)];
      auto& w = ctx_->out.Begin(ctx_->id, gpu::XidRecordType(m), ctx_->clock.ToUnix(m.ts_ns));
      gpu::WriteXidBody(w, m);
      if (const auto* x = std::get_if<gpu::XidEvent>(&m.event); x && x->pid)
        WriteWorkloadOf(w, *x->pid, m.ts_ns);
      ctx_->out.End();
    }
  }

  // The process a fault line names, with its cgroup and container (xid_workload.h).
  void WriteWorkloadOf(JsonWriter& w, uint32_t pid, uint64_t ts_ns) {
    if (!workloads_) return;
    if (auto wl = workloads_->Resolve(pid, ts_ns)) gpu::WriteWorkload(w, *wl, &ctx_->identity);
  }

  // -- DRM scheduler jobs --------------------------------------------------------------------

  void OnJob(const ks_gpu_job_rec& r) {
    auto job = jobs_.OnRecord(r);
    if (!job) return;
    ++types_["gpu.job"];
    auto& w = ctx_->out.Begin(ctx_->id, "gpu.job", ctx_->clock.ToUnix(job->record.queue_ts_ns));
    gpu::WriteJobBody(w, job->record, job->extras);
    // The submitting task's workload (the job record keeps its pid, not its cgroup).
    if (job->record.pid) {
      const Identity& id = ctx_->identity.OfPid(*job->record.pid);
      WriteIdentity(w, id, ctx_->identity.PodOf(id));
    }
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
        "gpu: /dev/kmsg lines read {} (lost {}, malformed {}); fault pids found alive {}, "
        "exited {} (reused pids {}), not found {}; "
        "printk lines that were no event {}, SXid detail lines {}, Xid observations {} "
        "(merged pairs {}); jobs queued {} done {} emitted {} (done without queue {}, "
        "unmatched {}, evicted {}, expired {}); unknown records {}",
        kmsg_lines_, kmsg_ ? kmsg_->lost() : 0, kmsg_ ? kmsg_->malformed() : 0,
        workloads_ ? workloads_->stats().live : 0, workloads_ ? workloads_->stats().exited : 0,
        workloads_ ? workloads_->stats().reused : 0, workloads_ ? workloads_->stats().not_found : 0,
        log_not_events_, sxid_detail_lines_, m.observed, m.merged, j.queued, j.done, j.emitted,
        j.done_without_queue, j.done_unmatched, j.evicted, j.expired,
        unknown_records_ + jobs_.unknown_phases());
  }

  const ProbeContext* ctx_ = nullptr;
  Plan plan_;
  std::unique_ptr<gpu::KmsgReader> kmsg_;
  uint64_t kmsg_lines_ = 0;
  uint64_t kmsg_lost_reported_ = 0;
  bool kmsg_save_warned_ = false;
  SkelPtr<ks_gpu, ks_gpu__destroy> skel_;
  std::vector<LinkPtr> links_;
  std::unique_ptr<gpu::XidMerger> merger_;
  std::unique_ptr<gpu::WorkloadResolver> workloads_;
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
  std::map<gpu::XidMetricKey, uint64_t> xids_;  // Xids and SXids, per bus, code, name, severity
  std::map<std::string, uint64_t> resets_;
};

}  // namespace

std::unique_ptr<Probe> MakeProbe_gpu() { return std::make_unique<GpuProbe>(); }

}  // namespace ksight
