// The tcp_retransmit probe: loads bpf/probes/tcp_retransmit, turns its ring
// records into `tcp.retransmit` records and rolls them up per flow into
// `tcp.retransmit.stats` once per interval.
#include <sys/stat.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "core/container_counters.h"
#include "core/loader.h"
#include "core/probe.h"
#include "core/process_info.h"
#include "core/record.h"
#include "probes/tcp_retransmit/tcp_flow_stats.h"
#include "probes/tcp_retransmit/tcp_record.h"
#include "probes/tcp_retransmit/tcp_retransmit_module.h"

#include "tcp_retransmit.skel.h"

namespace ksight {
namespace {

// One hook, as tp_btf or as the classic tracepoint.
struct Hook {
  const char* category = "";
  const char* name = "";
  bool btf = false;
  bool tp = false;
  std::string missing;  // why neither works
  bool ok() const { return btf || tp; }
  std::string_view kind() const { return btf ? "tp_btf" : tp ? "tracepoint" : "unavailable"; }
};

// KSIGHT_TCP_HOOK=tracepoint makes the probe use the classic tracepoints even
// where tp_btf works: the tests run the fallback on a host that has both.
bool ForceTracepoints() {
  const char* v = std::getenv("KSIGHT_TCP_HOOK");
  return v != nullptr && std::string_view(v) == "tracepoint";
}

Hook Resolve(const HostFeatures& host, const char* category, const char* name) {
  Hook h;
  h.category = category;
  h.name = name;
  h.btf = host.btf() && host.TpBtfExists(name) && !ForceTracepoints();
  h.tp = host.TracepointExists(category, name);
  if (!h.ok()) h.missing = host.TracepointMissingReason(category, name);
  return h;
}

// The kernel config libbpf reads for CONFIG_HZ (__kconfig), or "".
std::string KernelConfigPath() {
  struct utsname u {};
  std::string boot = "/boot/config-";
  if (::uname(&u) == 0) boot += u.release;
  struct stat st {};
  for (const std::string& p : {boot, std::string("/proc/config.gz")}) {
    if (::stat(p.c_str(), &st) == 0) return p;
  }
  return "";
}

constexpr uint32_t kOwnerEntries = 65536;

class TcpRetransmitProbe final : public Probe {
 public:
  std::string_view name() const override { return "tcp_retransmit"; }

  ProbeCheck Check(const HostFeatures& host) const override {
    ProbeCheck c;
    const Hook rtx = Resolve(host, "tcp", "tcp_retransmit_skb");
    const Hook syn = Resolve(host, "tcp", "tcp_retransmit_synack");
    const Hook own = Resolve(host, "sock", "inet_sock_set_state");
    for (const Hook* h : {&rtx, &syn, &own}) {
      c.details.emplace_back(fmt::format("{}:{}", h->category, h->name),
                             h->ok() ? std::string(h->kind()) : h->missing);
    }
    c.details.emplace_back("kinds", Kinds(rtx, syn));
    c.details.emplace_back("tlp", rtx.ok() ? "from socket state at tcp_retransmit_skb "
                                             "(icsk_pending = LOSS_PROBE, ca_state Open/CWR)"
                                           : "unavailable (needs tcp_retransmit_skb)");
    c.details.emplace_back("owner", own.ok()
                                        ? "socket_owner (sock:inet_sock_set_state), on_cpu, unknown"
                                        : "on_cpu, unknown (no sock:inet_sock_set_state)");
    if (host.BtfHasStruct("trace_event_raw_tcp_retransmit_skb")) {
      c.details.emplace_back(
          "tcp_retransmit_skb context",
          "trace_event_raw_tcp_retransmit_skb (6.17+: with err; failed attempts skipped)");
    } else if (host.BtfHasStruct("trace_event_raw_tcp_event_sk_skb")) {
      c.details.emplace_back("tcp_retransmit_skb context", "trace_event_raw_tcp_event_sk_skb");
    }
    const std::string kcfg = KernelConfigPath();
    c.details.emplace_back("rto_ms", kcfg.empty() ? "omitted: no kernel config for CONFIG_HZ "
                                                    "(/boot/config-<release>, /proc/config.gz)"
                                                  : "CONFIG_HZ from " + kcfg);
    if (!host.btf()) {
      c.reason = host.btf_error();
      return c;
    }
    if (!rtx.ok()) {
      c.reason = "tcp:tcp_retransmit_skb is unavailable: " + rtx.missing;
      return c;
    }
    c.runnable = true;
    c.reason = fmt::format(
        "hooks: {} tcp_retransmit_skb, {} tcp_retransmit_synack, {} "
        "inet_sock_set_state; kinds: {}",
        rtx.kind(), syn.kind(), own.kind(), Kinds(rtx, syn));
    return c;
  }

  Status Start(const ProbeContext& ctx) override {
    ctx_ = &ctx;
    const ProbeCheck chk = Check(ctx.host);
    if (!chk.runnable) return Status::Error(chk.reason);
    // Bounded by the module's declaration (at most KS_TCP_MAX_PORTS, each 1..65535).
    const auto& ports = ctx.settings.Uints("ports");
    rtx_ = Resolve(ctx.host, "tcp", "tcp_retransmit_skb");
    syn_ = Resolve(ctx.host, "tcp", "tcp_retransmit_synack");
    own_ = Resolve(ctx.host, "sock", "inet_sock_set_state");
    kcfg_ = KernelConfigPath();
    containers_ = std::make_unique<ContainerCounters>(ctx.settings.Uint("container_series"));

    // Without a kernel config file libbpf cannot resolve CONFIG_HZ and refuses
    // to load (even for a __weak extern): give it CONFIG_HZ=0, rto_ms is omitted.
    LIBBPF_OPTS(bpf_object_open_opts, opts);
    if (kcfg_.empty()) opts.kconfig = "CONFIG_HZ=0\n";
    skel_.reset(ks_tcp_retransmit__open_opts(&opts));
    if (!skel_) return LibbpfError("opening the tcp_retransmit BPF object", -errno);
    SetCommonRodata(skel_->rodata, ctx);
    skel_->rodata->nports = static_cast<uint32_t>(std::min<size_t>(ports.size(), KS_TCP_MAX_PORTS));
    for (size_t i = 0; i < skel_->rodata->nports; ++i)
      skel_->rodata->ports[i] = static_cast<uint16_t>(ports[i]);
    KS_RETURN_IF_ERROR(SetRingSize(skel_->maps.ring, ctx.cfg.ring_bytes));
    if (int r = bpf_map__set_max_entries(skel_->maps.owners, kOwnerEntries))
      return LibbpfError("sizing the socket-owner map", r);

    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.retransmit_btf, rtx_.btf));
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.retransmit_tp, !rtx_.btf && rtx_.tp));
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.synack_btf, syn_.btf));
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.synack_tp, !syn_.btf && syn_.tp));
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.set_state_btf, own_.btf));
    KS_RETURN_IF_ERROR(SetAutoload(skel_->progs.set_state_tp, !own_.btf && own_.tp));

    if (int r = ks_tcp_retransmit__load(skel_.get()))
      return LibbpfError("loading the tcp_retransmit BPF programs", r);
    KS_RETURN_IF_ERROR(FillFilterMaps(skel_->obj, ctx.filters));
    if (int r = ks_tcp_retransmit__attach(skel_.get()))
      return LibbpfError("attaching the tcp_retransmit hooks", r);
    return {};
  }

  int RingFd() const override { return skel_ ? bpf_map__fd(skel_->maps.ring) : -1; }

  void OnRecord(const void* data, size_t size) override {
    RecordError err{};
    const auto* rec = RecordAs<tcp::Record>(data, size, KS_REC_TCP_RETRANSMIT, &err);
    if (rec == nullptr) {
      malformed_.Count(name(), err, data, size);
      return;
    }
    ++by_kind_[std::string(tcp::KindName(rec->kind))];
    containers_->Add(ctx_->identity.Of(rec->owner.cgroup_id, rec->owner.pid).parsed.container_id,
                     1);
    ++records_;
    auto& w = ctx_->out.Begin(ctx_->id, "tcp.retransmit", ctx_->clock.ToUnix(rec->hdr.ts_ns));
    tcp::WriteRetransmit(w, *rec, ctx_->identity);
    ctx_->out.End();
    flows_.Add(*rec);
  }

  void Rollup(uint64_t start_ns, uint64_t end_ns) override {
    containers_->Admit();
    const uint64_t overflow = flows_.overflow() - overflow_reported_;
    if (overflow) {
      overflow_reported_ = flows_.overflow();
      spdlog::warn(
          "tcp_retransmit: {} retransmits of flows beyond the first {} in the interval are "
          "not in tcp.retransmit.stats (each still has its tcp.retransmit record)",
          overflow, flows_.size());
    }
    for (const tcp::FlowStats& f : flows_.Drain()) {
      ++stats_records_;
      auto& w = ctx_->out.Begin(ctx_->id, "tcp.retransmit.stats", end_ns);
      tcp::WriteFlowStats(w, f, ctx_->identity);
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
    d.emplace_back("hook",
                   std::string(rtx_.kind()));  // of tcp_retransmit_skb, as syscalls reports it
    for (const Hook* h : {&rtx_, &syn_, &own_})
      d.emplace_back(h->name, h->ok() ? std::string(h->kind()) : "unavailable: " + h->missing);
    d.emplace_back("kinds", Kinds(rtx_, syn_));
    d.emplace_back("owner_map_entries", std::to_string(kOwnerEntries));
    d.emplace_back("rto_ms",
                   kcfg_.empty() ? "omitted (no kernel config)" : "CONFIG_HZ from " + kcfg_);
    std::string ports;
    for (uint64_t p : ctx_->settings.Uints("ports"))
      ports += (ports.empty() ? "" : ",") + std::to_string(p);
    d.emplace_back("ports", ports.empty() ? "all" : ports);
    return d;
  }

  void Metrics(MetricsSink& sink) const override {
    sink.Events("tcp.retransmit", records_);
    sink.Events("tcp.retransmit.stats", stats_records_);
    malformed_.Metrics(sink, name());
    for (const auto& [kind, n] : by_kind_)
      sink.Counter(tcp::kMetricRetransmits, {{"kind", kind}}, n);
    if (containers_) {
      containers_->ForEach([&](std::string_view id, uint64_t n) {
        sink.Counter(tcp::kMetricContainerRetransmits, {{"container_id", std::string(id)}}, n);
      });
    }
  }

  void Stop() override {
    if (skel_) ks_tcp_retransmit__detach(skel_.get());
  }

 private:
  static std::string Kinds(const Hook& rtx, const Hook& syn) {
    std::string k;
    if (rtx.ok()) k = "retransmit, tlp";
    if (syn.ok()) k += k.empty() ? "synack" : ", synack";
    return k.empty() ? "none" : k;
  }

  const ProbeContext* ctx_ = nullptr;
  SkelPtr<ks_tcp_retransmit, ks_tcp_retransmit__destroy> skel_;
  Hook rtx_, syn_, own_;
  std::string kcfg_;
  tcp::FlowAggregator flows_;
  uint64_t overflow_reported_ = 0;
  MalformedRecords malformed_;
  std::unique_ptr<ContainerCounters> containers_;  // retransmits per owner's container
  // For /metrics: retransmits per kind (every kind listed from the start), records per type.
  std::map<std::string, uint64_t> by_kind_{{"retransmit", 0}, {"synack", 0}, {"tlp", 0}};
  uint64_t records_ = 0, stats_records_ = 0;
};

}  // namespace

std::unique_ptr<Probe> MakeProbe_tcp_retransmit() { return std::make_unique<TcpRetransmitProbe>(); }

}  // namespace ksight
