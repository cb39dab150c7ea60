// The process probe: loads bpf/probes/process, writes process.exec / process.exit (folded past
// records_per_interval) and process.oom_kill records, and teaches the agent's identity cache
// every cgroup v2 directory made while it runs (so a short-lived container still resolves).
#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/loader.h"
#include "core/probe.h"
#include "core/process_info.h"
#include "core/record.h"
#include "core/workload_identity.h"
#include "probes/process/process_module.h"
#include "probes/process/process_records.h"

#include "process.skel.h"

namespace ksight {
namespace {

// How long an OOM victim's record waits for the victim's exit (which names its cgroup).
constexpr uint64_t kOomWaitNs = 5'000'000'000;

// One hook: tp_btf where the kernel has it (exec, exit, fork), else the classic tracepoint.
struct Hook {
  const char* category = "";
  const char* name = "";
  bool btf = false;
  bool ok = false;  // either flavor
  std::string missing;
  std::string_view kind() const { return btf ? "tp_btf" : ok ? "tracepoint" : "unavailable"; }
};

// KSIGHT_PROCESS_HOOK=tracepoint makes the probe use the classic tracepoints where tp_btf works:
// the tests run the fallback on a host that has both.
bool ForceTracepoints() {
  const char* v = std::getenv("KSIGHT_PROCESS_HOOK");
  return v != nullptr && std::string_view(v) == "tracepoint";
}

// Newer kernels' oom:mark_victim carries the victim's comm and memory (total_vm, rss, ...).
bool OomCarriesMemory(const HostFeatures& host) {
  if (!host.tracefs()) return false;
  return ReadSmallFile(host.tracefs_path() + "/events/oom/mark_victim/format").find("total_vm") !=
         std::string::npos;
}

Hook Resolve(const HostFeatures& host, const char* category, const char* name, bool btf_ok) {
  Hook h;
  h.category = category;
  h.name = name;
  h.btf = btf_ok && host.btf() && host.TpBtfExists(name) && !ForceTracepoints();
  h.ok = h.btf || host.TracepointExists(category, name);
  if (!h.ok) h.missing = host.TracepointMissingReason(category, name);
  return h;
}

class ProcessProbe final : public Probe {
 public:
  std::string_view name() const override { return "process"; }

  ProbeCheck Check(const HostFeatures& host) const override {
    ProbeCheck c;
    const Hooks h = ResolveAll(host);
    for (const Hook* k : {&h.exec, &h.exit, &h.oom, &h.mkdir}) {
      c.details.emplace_back(fmt::format("{}:{}", k->category, k->name),
                             k->ok ? std::string(k->kind()) : k->missing);
    }
    c.details.emplace_back("oom_memory", OomCarriesMemory(host)
                                             ? "victim memory figures from oom:mark_victim"
                                             : "none: this kernel's oom:mark_victim carries only "
                                               "the victim's pid");
    if (!host.btf()) {
      c.reason = host.btf_error();
      return c;
    }
    if (!h.exec.ok && !h.exit.ok) {
      c.reason = "neither sched:sched_process_exec nor sched:sched_process_exit can be traced: " +
                 h.exec.missing;
      return c;
    }
    c.runnable = true;
    std::string records;
    if (h.exec.ok) records += "process.exec";
    if (h.exit.ok) records += std::string(records.empty() ? "" : ", ") + "process.exit";
    if (h.oom.ok && h.exit.ok) records += ", process.oom_kill";
    c.reason = fmt::format("hooks: {} exec, {} exit; records: {}; cgroup names learnt: {}",
                           h.exec.kind(), h.exit.kind(), records,
                           h.mkdir.ok ? "yes (cgroup:cgroup_mkdir)" : "no (walk at start only)");
    return c;
  }

  Status Start(const ProbeContext& ctx) override {
    ctx_ = &ctx;
    const ProbeCheck chk = Check(ctx.host);
    if (!chk.runnable) return Status::Error(chk.reason);
    hooks_ = ResolveAll(ctx.host);
    folder_ = process::Folder(ctx.settings.Uint("records_per_interval"));

    skel_.reset(ks_process__open());
    if (!skel_) return LibbpfError("opening the process BPF object", -errno);
    SetCommonRodata(skel_->rodata, ctx);
    skel_->rodata->ks_args_bytes = static_cast<uint32_t>(
        std::min<uint64_t>(ctx.settings.Uint("args_bytes"), KS_PROC_ARGS_LEN));
    KS_RETURN_IF_ERROR(SetRingSize(skel_->maps.ring, ctx.cfg.ring_bytes));
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.proc_exec_btf, hooks_.exec.btf));
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.proc_exec, hooks_.exec.ok && !hooks_.exec.btf));
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.proc_exit_btf, hooks_.exit.btf));
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.proc_exit, hooks_.exit.ok && !hooks_.exit.btf));
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.proc_oom, hooks_.oom.ok && hooks_.exit.ok));
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.proc_cgroup_mkdir, hooks_.mkdir.ok));
    // Forks matter only where containers are named by cgroup v1 paths (per pid).
    fork_ = hooks_.fork.ok && ctx.identity.wants_lineage();
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.proc_fork_btf, fork_ && hooks_.fork.btf));
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.proc_fork, fork_ && !hooks_.fork.btf));
    if (int r = ks_process__load(skel_.get()))
      return LibbpfError("loading the process BPF programs", r);
    KS_RETURN_IF_ERROR(FillFilterMaps(skel_->obj, ctx.filters));
    if (int r = ks_process__attach(skel_.get()))
      return LibbpfError("attaching the process hooks", r);
    return {};
  }

  int RingFd() const override { return skel_ ? bpf_map__fd(skel_->maps.ring) : -1; }

  void OnRecord(const void* data, size_t size) override {
    ks_rec_hdr hdr{};
    RecordError err = PeekRecordHeader(data, size, &hdr);
    if (err == RecordError::kNone) {
      switch (hdr.type) {
        case KS_REC_PROC_EXEC:
          if (const auto* r = RecordAs<ks_proc_exec_rec>(data, size, hdr.type, &err)) OnExec(*r);
          break;
        case KS_REC_PROC_EXIT:
          if (const auto* r = RecordAs<ks_proc_exit_rec>(data, size, hdr.type, &err)) OnExit(*r);
          break;
        case KS_REC_PROC_OOM:
          if (const auto* r = RecordAs<ks_proc_oom_rec>(data, size, hdr.type, &err)) oom_.OnOom(*r);
          break;
        case KS_REC_PROC_FORK:
          if (const auto* r = RecordAs<ks_proc_fork_rec>(data, size, hdr.type, &err))
            ctx_->identity.Inherit(r->child_pid, r->parent_tgid);
          break;
        case KS_REC_PROC_CGROUP:
          if (const auto* r = RecordAs<ks_proc_cgroup_rec>(data, size, hdr.type, &err)) {
            ctx_->identity.Learn(
                r->id, std::string_view(r->path, std::min<size_t>(r->path_len, sizeof(r->path))));
            ++cgroups_learnt_;
          }
          break;
        default:
          err = RecordError::kType;
      }
    }
    if (err != RecordError::kNone) malformed_.Count(name(), err, data, size);
  }

  void Tick(uint64_t now_boot_ns) override { ReleaseOomKills(now_boot_ns); }

  void Rollup(uint64_t start_ns, uint64_t end_ns) override {
    const int64_t b2u = ctx_->clock.boot_to_unix_ns;
    for (const auto& [key, f] : folder_.Drain()) {
      const bool exec = key.type == KS_REC_PROC_EXEC;
      ++(exec ? execs_ : exits_);
      auto& w = ctx_->out.Begin(ctx_->id, exec ? "process.exec" : "process.exit", end_ns);
      if (exec && f.exec) process::WriteExec(w, *f.exec, ctx_->identity, b2u);
      if (!exec && f.exit) process::WriteExit(w, *f.exit, ctx_->identity, b2u);
      process::WriteFolded(w, f, b2u);
      w.KObject("interval").Key("start").Rfc3339(start_ns).Key("end").Rfc3339(end_ns);
      w.KV("duration_ns", end_ns - start_ns).EndObject();
      ctx_->out.End();
    }
  }

  BpfTotals ReadBpfTotals() const override {
    return skel_ ? ReadCounters(skel_->maps.ks_counters) : BpfTotals{};
  }

  Details StatusDetails() const override {
    Details d;
    d.emplace_back("hook", std::string(hooks_.exec.kind()));  // of exec, as the other probes say
    for (const Hook* k : {&hooks_.exec, &hooks_.exit, &hooks_.oom, &hooks_.mkdir})
      d.emplace_back(k->name, k->ok ? std::string(k->kind()) : "unavailable: " + k->missing);
    d.emplace_back("records_per_interval",
                   std::to_string(ctx_->settings.Uint("records_per_interval")));
    d.emplace_back("args_bytes", std::to_string(ctx_->settings.Uint("args_bytes")));
    d.emplace_back("oom_memory", OomCarriesMemory(ctx_->host) ? "yes" : "no (pid only)");
    d.emplace_back("sched_process_fork",
                   fork_ ? fmt::format("{} (cgroup v1 host: children inherit their parent's "
                                       "cgroups)",
                                       hooks_.fork.kind())
                         : "not needed (cgroup v2 ids name every task's cgroup)");
    d.emplace_back("cgroups_known", std::to_string(ctx_->identity.size()));
    if (Filtered()) {
      d.emplace_back("oom_kills",
                     "only of the filtered workloads (a victim whose exit the filters "
                     "leave out is not reported)");
    }
    return d;
  }

  void Metrics(MetricsSink& sink) const override {
    sink.Events("process.exec", execs_);
    sink.Events("process.exit", exits_);
    sink.Events("process.oom_kill", oom_kills_);
    malformed_.Metrics(sink, name());
    for (const auto& [how, n] : exits_by_how_)
      sink.Counter(process::kMetricExits, {{"how", how}}, n);
    sink.Counter(process::kMetricOomKills, {}, oom_kills_);
    sink.Counter(process::kMetricFolded, {{"type", "process.exec"}},
                 folder_.folded_total(KS_REC_PROC_EXEC));
    sink.Counter(process::kMetricFolded, {{"type", "process.exit"}},
                 folder_.folded_total(KS_REC_PROC_EXIT));
  }

  void Stop() override {
    if (!skel_) return;
    ks_process__detach(skel_.get());
    ReleaseOomKills(UINT64_MAX);
  }

 private:
  struct Hooks {
    Hook exec, exit, oom, mkdir, fork;
  };
  static Hooks ResolveAll(const HostFeatures& host) {
    return {Resolve(host, "sched", "sched_process_exec", true),
            Resolve(host, "sched", "sched_process_exit", true),
            Resolve(host, "oom", "mark_victim", false),
            Resolve(host, "cgroup", "cgroup_mkdir", false),
            Resolve(host, "sched", "sched_process_fork", true)};
  }

  void OnExec(const ks_proc_exec_rec& r) {
    // Learn its identity while it lives, folded or not: on a cgroup v1 host that is read from
    // /proc/<pid>/cgroup, gone by the time its exit or OOM kill is written.
    ctx_->identity.Refresh(r.task.pid);
    ctx_->identity.Of(r.task.cgroup_id, r.task.pid);
    if (!folder_.Admit(r)) return;
    ++execs_;
    auto& w = ctx_->out.Begin(ctx_->id, "process.exec", ctx_->clock.ToUnix(r.hdr.ts_ns));
    process::WriteExec(w, r, ctx_->identity, ctx_->clock.boot_to_unix_ns);
    ctx_->out.End();
  }

  void OnExit(const ks_proc_exit_rec& r) {
    const process::ExitStatus st = process::DecodeExitStatus(r.exit_code);
    ++exits_by_how_[r.oom_victim ? "oom_killed" : st.signal != 0 ? "signaled" : "exited"];
    // The OOM kill first: it is what the exit is about.
    if (auto k = oom_.OnExit(r)) EmitOomKill(*k);
    if (!folder_.Admit(r)) return;
    ++exits_;
    auto& w = ctx_->out.Begin(ctx_->id, "process.exit", ctx_->clock.ToUnix(r.hdr.ts_ns));
    process::WriteExit(w, r, ctx_->identity, ctx_->clock.boot_to_unix_ns);
    ctx_->out.End();
  }

  // Victims whose exit did not come by now_ns. With filters on, such a victim's exit was
  // filtered out in the kernel: not this agent's workload (oom:mark_victim runs in the killer's
  // context, unfiltered), so it is not reported.
  void ReleaseOomKills(uint64_t now_ns) {
    for (const process::OomKill& k : oom_.Expired(now_ns)) {
      if (!k.exit && Filtered()) {
        ++oom_filtered_;
        continue;
      }
      EmitOomKill(k);
    }
  }

  bool Filtered() const {
    const Filters& f = ctx_->filters;
    return !f.pids.empty() || !f.comms.empty() || !f.cgroup_ids.empty() || f.workload;
  }

  void EmitOomKill(const process::OomKill& k) {
    ++oom_kills_;
    std::optional<uint64_t> limit;
    if (k.exit) limit = MemoryLimit(ctx_->identity.Of(k.exit->task.cgroup_id, k.exit->task.pid));
    auto& w = ctx_->out.Begin(ctx_->id, "process.oom_kill", ctx_->clock.ToUnix(k.oom.hdr.ts_ns));
    process::WriteOomKill(w, k, ctx_->identity, limit);
    ctx_->out.End();
  }

  // The victim cgroup's memory limit: v2 memory.max, else v1 memory.limit_in_bytes.
  std::optional<uint64_t> MemoryLimit(const Identity& id) const {
    if (id.cgroup_path.empty() || id.cgroup_path == "/") return std::nullopt;
    for (const std::string& f :
         {ctx_->identity.cgroup2() + id.cgroup_path + "/memory.max",
          "/sys/fs/cgroup/memory" + id.cgroup_path + "/memory.limit_in_bytes"}) {
      const std::string text = ReadSmallFile(f);
      if (!text.empty()) return process::ParseMemoryLimit(text);
    }
    return std::nullopt;
  }

  const ProbeContext* ctx_ = nullptr;
  SkelPtr<ks_process, ks_process__destroy> skel_;
  Hooks hooks_;
  process::Folder folder_{1000};
  process::OomJoiner oom_{kOomWaitNs};
  MalformedRecords malformed_;
  bool fork_ = false;
  std::map<std::string, uint64_t> exits_by_how_{{"exited", 0}, {"signaled", 0}, {"oom_killed", 0}};
  uint64_t execs_ = 0, exits_ = 0, oom_kills_ = 0, cgroups_learnt_ = 0;
  uint64_t oom_filtered_ = 0;  // OOM victims outside the filters (their exit was filtered)
};

}  // namespace

std::unique_ptr<Probe> MakeProbe_process() { return std::make_unique<ProcessProbe>(); }

}  // namespace ksight
