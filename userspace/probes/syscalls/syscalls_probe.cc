// The syscalls probe: loads bpf/probes/syscalls, turns its ring records into
// `syscall` records and its cumulative maps into per-interval `syscall.stats`.
#include <ctime>
#include <map>
#include <unordered_map>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/container_counters.h"
#include "core/loader.h"
#include "core/probe.h"
#include "core/process_info.h"
#include "core/record.h"
#include "probes/syscalls/syscall_names.h"
#include "probes/syscalls/syscall_rollup.h"
#include "probes/syscalls/syscalls_module.h"

#include "syscalls.skel.h"

namespace ksight {
namespace {

using syscalls::StatsValue;

uint64_t KeyOf(const ks_sys_key& k) { return (uint64_t{k.tgid} << 32) | k.nr; }

bool TaskStorageSupported() {
  static const bool ok = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, nullptr) == 1;
  return ok;
}

class SyscallsProbe final : public Probe {
 public:
  std::string_view name() const override { return "syscalls"; }

  ProbeCheck Check(const HostFeatures& host) const override {
    ProbeCheck c;
    const bool btf = host.btf() && host.TpBtfExists("sys_enter") && host.TpBtfExists("sys_exit") &&
                     TaskStorageSupported();
    const bool tp = host.TracepointExists("raw_syscalls", "sys_enter") &&
                    host.TracepointExists("raw_syscalls", "sys_exit");
    c.details.emplace_back("tp_btf raw_syscalls + task storage",
                           btf ? "available" : "unavailable (needs 5.11+)");
    c.details.emplace_back(
        "tracepoint raw_syscalls",
        tp ? "available" : host.TracepointMissingReason("raw_syscalls", "sys_enter"));
    if (!host.btf()) {
      c.reason = host.btf_error();
      return c;  // CO-RE needs BTF for the ring/record layout relocations
    }
    c.runnable = btf || tp;
    c.reason = btf  ? "hooks: tp_btf/sys_enter, tp_btf/sys_exit"
               : tp ? "hooks: tracepoint/raw_syscalls (tp_btf unavailable)"
                    : "neither tp_btf nor the raw_syscalls tracepoints are available";
    return c;
  }

  Status Start(const ProbeContext& ctx) override {
    ctx_ = &ctx;
    containers_ = std::make_unique<ContainerCounters>(ctx.settings.Uint("container_series"));
    const ProbeCheck chk = Check(ctx.host);
    if (!chk.runnable) return Status::Error(chk.reason);
    use_btf_ = ctx.host.TpBtfExists("sys_enter") && ctx.host.TpBtfExists("sys_exit") &&
               TaskStorageSupported();

    skel_.reset(ks_syscalls__open());
    if (!skel_) return LibbpfError("opening the syscalls BPF object", -errno);
    SetCommonRodata(skel_->rodata, ctx);
    skel_->rodata->slow_ns = static_cast<uint64_t>(ctx.settings.Duration("slow").count());
    const auto& watch = ctx.settings.Strings("watch_errnos");
    const auto entries = static_cast<uint32_t>(ctx.settings.Uint("stats_entries"));
    if (!watch.empty()) {
      skel_->rodata->record_errnos = true;
      for (const auto& n : watch) {
        auto e = syscalls::ErrnoNumber(n);
        if (!e || *e >= 64 * KS_SYSCALL_WATCH_WORDS) {
          return Status::Error(
              fmt::format("watch_errnos: '{}' is not an errno name this probe can "
                          "watch (e.g. EACCES, EPERM, ENOENT)",
                          n));
        }
        skel_->rodata->watch_errnos[*e / 64] |= uint64_t{1} << (*e % 64);
      }
    }
    KS_RETURN_IF_ERROR(SetRingSize(skel_->maps.ring, ctx.cfg.ring_bytes));
    if (int r = bpf_map__set_max_entries(skel_->maps.sys_stats, entries))
      return LibbpfError("sizing sys_stats", r);
    if (int r = bpf_map__set_max_entries(skel_->maps.sys_errnos, entries / 4))
      return LibbpfError("sizing sys_errnos", r);
    // Only the chosen flavour's start map is created.
    KS_RETURN_IF_ERROR(SetAutocreate(skel_->maps.starts_task, use_btf_));
    if (use_btf_) {
      if (int r = bpf_map__set_max_entries(skel_->maps.starts, 1))
        return LibbpfError("sizing starts", r);
    }
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.sys_enter_btf, use_btf_));
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.sys_exit_btf, use_btf_));
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.sys_enter_tp, !use_btf_));
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.sys_exit_tp, !use_btf_));

    if (int r = ks_syscalls__load(skel_.get()))
      return LibbpfError("loading the syscalls BPF programs", r);
    KS_RETURN_IF_ERROR(FillFilterMaps(skel_->obj, ctx.filters));
    SetMonoToBoot();
    if (int r = ks_syscalls__attach(skel_.get()))
      return LibbpfError("attaching raw_syscalls hooks", r);
    per_cpu_.resize(static_cast<size_t>(PossibleCpus()));
    errno_vals_.resize(static_cast<size_t>(PossibleCpus()));
    return {};
  }

  int RingFd() const override { return skel_ ? bpf_map__fd(skel_->maps.ring) : -1; }

  void OnRecord(const void* data, size_t size) override {
    RecordError err{};
    const auto* rec = RecordAs<ks_syscall_rec>(data, size, KS_REC_SYSCALL, &err);
    if (rec == nullptr) {
      malformed_.Count(name(), err, data, size);
      return;
    }
    const ks_syscall_rec& r = *rec;
    ++records_;
    auto& w = ctx_->out.Begin(ctx_->id, "syscall", ctx_->clock.ToUnix(r.hdr.ts_ns));
    WriteProcess(w, r.task, ctx_->identity);
    w.KObject("syscall");
    w.KV("name", syscalls::SyscallName(r.nr)).KV("nr", r.nr);
    w.KArray("args");
    for (uint64_t a : r.args) w.Uint(a);
    w.EndArray();
    w.KV("ret", static_cast<int64_t>(r.ret));
    if (r.ret < 0 && r.ret >= -KS_SYSCALL_MAX_ERRNO)
      w.KV("errno", syscalls::ErrnoName(static_cast<uint32_t>(-r.ret)));
    w.KV("latency_ns", r.latency_ns);
    w.KArray("reasons");
    if (r.reason & KS_SYS_REASON_SLOW) w.String("slow");
    if (r.reason & KS_SYS_REASON_ERRNO) w.String("errno");
    w.EndArray();
    w.EndObject();
    ctx_->out.End();
  }

  void Rollup(uint64_t start_ns, uint64_t end_ns) override {
    SetMonoToBoot();  // follow a suspend
    // errno deltas first, grouped by (tgid, nr).
    std::unordered_map<uint64_t, std::map<uint32_t, uint64_t>> errnos;
    {
      const int fd = bpf_map__fd(skel_->maps.sys_errnos);
      ks_sys_errno_key key{}, next{};
      const ks_sys_errno_key* prev = nullptr;
      while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        key = next;
        prev = &key;
        if (bpf_map_lookup_elem(fd, &key, errno_vals_.data()) != 0) continue;
        uint64_t sum = 0;
        for (uint64_t v : errno_vals_) sum += v;
        const uint64_t ek = (uint64_t{key.tgid} << 32) | key.nr;
        uint64_t& last = errno_prev_[{ek, key.err}];
        if (sum > last) errnos[ek][key.err] = sum - last;
        last = sum;
      }
    }

    const int fd = bpf_map__fd(skel_->maps.sys_stats);
    ks_sys_key key{}, next{};
    const ks_sys_key* prevk = nullptr;
    std::vector<ks_sys_key> gone;
    while (bpf_map_get_next_key(fd, prevk, &next) == 0) {
      key = next;
      prevk = &key;
      if (bpf_map_lookup_elem(fd, &key, per_cpu_.data()) != 0) continue;
      const StatsValue cur = syscalls::SumPerCpu(per_cpu_);
      StatsValue& prev = prev_[KeyOf(key)];
      const StatsValue d = syscalls::Delta(cur, prev);
      prev = cur;
      // The errno map is read before this one, so a failing call that ends
      // between the two reads is in this interval's count but in the next
      // interval's errno delta. A record carries either, so no errno count
      // is lost when nothing else follows (it may come with count 0).
      const auto& errs = errnos[KeyOf(key)];
      if (d.count == 0 && errs.empty()) {
        if (!ProcessExists(key.tgid)) gone.push_back(key);
        continue;
      }
      Totals& t = totals_[key.nr];
      t.count += d.count;
      t.errors += d.errors;
      EmitStats(key, d, errs, start_ns, end_ns);
    }
    containers_->Admit();
    // Forget processes that exited: everything they did was reported.
    for (const auto& k : gone) {
      bpf_map_delete_elem(fd, &k);
      prev_.erase(KeyOf(k));
    }
    if (!gone.empty()) PruneErrnos(gone);
  }

  BpfTotals ReadBpfTotals() const override {
    return skel_ ? ReadCounters(skel_->maps.ks_counters) : BpfTotals{};
  }

  Details StatusDetails() const override {
    return {{"hook", use_btf_ ? "tp_btf" : "tracepoint"},
            {"slow_threshold", FormatDuration(ctx_->settings.Duration("slow"))}};
  }

  void Metrics(MetricsSink& sink) const override {
    sink.Events("syscall", records_);
    sink.Events("syscall.stats", stats_records_);
    malformed_.Metrics(sink, name());
    for (const auto& [nr, t] : totals_) {
      const std::string name(syscalls::SyscallName(nr));
      sink.Counter(syscalls::kMetricSyscalls, {{"syscall", name}}, t.count);
      sink.Counter(syscalls::kMetricErrors, {{"syscall", name}}, t.errors);
    }
    if (containers_) {
      containers_->ForEach([&](std::string_view id, uint64_t n) {
        sink.Counter(syscalls::kMetricContainerErrors, {{"container_id", std::string(id)}}, n);
      });
    }
  }

  void Stop() override {
    if (skel_) ks_syscalls__detach(skel_.get());
  }

 private:
  struct ErrKey {
    uint64_t key;
    uint32_t err;
    bool operator==(const ErrKey&) const = default;
  };
  struct ErrKeyHash {
    size_t operator()(const ErrKey& k) const { return std::hash<uint64_t>()(k.key * 4099 + k.err); }
  };

  void EmitStats(const ks_sys_key& key, const StatsValue& d,
                 const std::map<uint32_t, uint64_t>& errs, uint64_t start_ns, uint64_t end_ns) {
    const ks_sys_stats& any = per_cpu_stats_any();
    ks_task t{};
    t.pid = key.tgid;
    t.cgroup_id = any.cgroup_id;
    std::memcpy(t.comm, any.comm, sizeof(t.comm));
    ++stats_records_;
    auto& w = ctx_->out.Begin(ctx_->id, "syscall.stats", end_ns);
    const Identity& id = ctx_->identity.Of(t.cgroup_id, t.pid);
    containers_->Add(id.parsed.container_id, d.errors);
    w.KObject("process");
    w.KV("pid", t.pid).KV("comm", CommView(t.comm)).KV("cgroup_id", t.cgroup_id);
    if (!id.parsed.container_id.empty()) w.KV("container_id", id.parsed.container_id);
    w.EndObject();
    WriteIdentity(w, id, ctx_->identity.PodOf(id));
    w.KObject("syscall").KV("name", syscalls::SyscallName(key.nr)).KV("nr", key.nr).EndObject();
    const auto p = syscalls::ComputePercentiles(d);
    w.KObject("stats");
    w.KV("count", d.count).KV("errors", d.errors);
    w.KObject("errors_by_errno");
    for (const auto& [e, n] : errs) w.KV(syscalls::ErrnoName(e), n);
    w.EndObject();
    w.KV("latency_sum_ns", d.lat_sum_ns).KV("latency_max_ns", d.lat_max_ns);
    w.KV("latency_p50_ns", p.p50).KV("latency_p90_ns", p.p90).KV("latency_p99_ns", p.p99);
    w.EndObject();
    WriteInterval(w, start_ns, end_ns);
    ctx_->out.End();
  }

  static void WriteInterval(JsonWriter& w, uint64_t start_ns, uint64_t end_ns) {
    w.KObject("interval").Key("start").Rfc3339(start_ns).Key("end").Rfc3339(end_ns);
    w.KV("duration_ns", end_ns - start_ns).EndObject();
  }

  // comm/cgroup of the entry just read: the first CPU copy that has one.
  const ks_sys_stats& per_cpu_stats_any() const {
    for (const auto& s : per_cpu_) {
      if (s.comm[0] != '\0') return s;
    }
    return per_cpu_[0];
  }

  void PruneErrnos(const std::vector<ks_sys_key>& gone) {
    const int fd = bpf_map__fd(skel_->maps.sys_errnos);
    std::vector<ks_sys_errno_key> del;
    ks_sys_errno_key key{}, next{};
    const ks_sys_errno_key* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
      key = next;
      prev = &key;
      for (const auto& g : gone) {
        if (g.tgid == key.tgid && g.nr == key.nr) del.push_back(key);
      }
    }
    for (const auto& k : del) {
      bpf_map_delete_elem(fd, &k);
      errno_prev_.erase({(uint64_t{k.tgid} << 32) | k.nr, k.err});
    }
  }

  // The BPF side stamps calls with the monotonic clock; records need the boot clock.
  void SetMonoToBoot() {
    timespec boot{}, mono{};
    clock_gettime(CLOCK_BOOTTIME, &boot);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    const auto ns = [](const timespec& t) {
      return static_cast<uint64_t>(t.tv_sec) * 1000000000u + static_cast<uint64_t>(t.tv_nsec);
    };
    skel_->bss->mono_to_boot_ns = ns(boot) - ns(mono);
  }

  const ProbeContext* ctx_ = nullptr;
  SkelPtr<ks_syscalls, ks_syscalls__destroy> skel_;
  bool use_btf_ = false;
  std::vector<ks_sys_stats> per_cpu_;
  std::vector<uint64_t> errno_vals_;
  std::unordered_map<uint64_t, StatsValue> prev_;
  std::unordered_map<ErrKey, uint64_t, ErrKeyHash> errno_prev_;
  // For /metrics: cumulative per syscall (sum of the interval deltas), records per type.
  struct Totals {
    uint64_t count = 0, errors = 0;
  };
  std::map<uint32_t, Totals> totals_;
  uint64_t records_ = 0, stats_records_ = 0;
  MalformedRecords malformed_;
  std::unique_ptr<ContainerCounters> containers_;  // errors per container
};

}  // namespace

std::unique_ptr<Probe> MakeProbe_syscalls() { return std::make_unique<SyscallsProbe>(); }

}  // namespace ksight
