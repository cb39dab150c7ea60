// agent_records.cc - the agent's own records (agent.status, agent.heartbeat, agent.loss) and
// the /metrics snapshot published at each heartbeat.
#include <bpf/bpf.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "core/agent_internal.h"
#include "core/version.h"

namespace ksight::agent_internal {
namespace {

void WriteDropped(JsonWriter& w, const std::array<uint64_t, kDropReasons>& d) {
  w.KObject("dropped_by_reason");
  for (size_t r = 0; r < kDropReasons; ++r) {
    if (d[r]) w.KV(DropReasonName(static_cast<DropReason>(r)), d[r]);
  }
  w.EndObject();
}

void LossRecord(Output& out, std::string_view probe, std::string_view reason, uint64_t delta,
                uint64_t total, std::string_view sink, uint64_t start_ns, uint64_t end_ns) {
  auto& lw = out.Begin(0, "agent.loss", end_ns);
  lw.KObject("loss").KV("probe", probe).KV("reason", reason).KV("count", delta).KV("total", total);
  if (!sink.empty()) lw.KV("sink", sink);
  if (reason == "map_full") lw.KV("note", "in-kernel aggregation updates lost: raise the map size");
  lw.EndObject();
  lw.KObject("interval").Key("start").Rfc3339(start_ns).Key("end").Rfc3339(end_ns).EndObject();
  out.End();
  if (sink.empty()) {
    spdlog::warn("{}: {} events dropped ({}) in the last interval", probe, delta, reason);
  } else {
    spdlog::warn("{}: {} events dropped ({}) at {} in the last interval", probe, delta, reason,
                 sink);
  }
}

}  // namespace

void Agent::EmitStatus(std::string_view state, std::string_view probe, std::string_view reason,
                       const Details& details) {
  ++agent_types_["agent.status"];
  if (!probe.empty() && (state == "attached" || state == "failed" || state == "disabled")) {
    const ProbeRunState st = state == "attached" ? ProbeRunState::kAttached
                             : state == "failed" ? ProbeRunState::kFailed
                                                 : ProbeRunState::kDisabled;
    probe_state_[std::string(probe)] = {st, std::string(reason)};
  }
  auto& w = out_->Begin(0, "agent.status", Clock::UnixNs());
  w.KObject("status");
  w.KV("state", state);
  if (!probe.empty()) w.KV("probe", probe);
  if (!reason.empty()) w.KV("reason", reason);
  if (probe.empty()) {
    w.KV("kernel_release", host_.kernel_release()).KV("btf", host_.btf());
    w.KV("tracefs", host_.tracefs() ? std::string_view(host_.tracefs_path()) : std::string_view());
    w.KV("pid", static_cast<uint32_t>(::getpid()));
  }
  if (!details.empty()) {
    w.KObject("details");
    for (const auto& [k, v] : details) w.KV(k, v);
    w.EndObject();
  }
  w.EndObject();
  out_->End();
}

void Agent::SyncKubernetes(bool heartbeat) {
  if (!kubelet_) return;
  if (auto pods = kubelet_->Pods(); pods != pods_) {
    pods_ = std::move(pods);
    identity_.SetPods(pods_.get());
  }
  if (identity_.stats().pod_misses != pod_misses_seen_) {
    pod_misses_seen_ = identity_.stats().pod_misses;
    kubelet_->Wanted();
  }
  if (!heartbeat) return;
  // agent.status "metadata" whenever the kubelet turns reachable or unreachable.
  const KubeletClient::State ks = kubelet_->state();
  const bool failing = !ks.ok && !ks.last_error.empty();
  if (ks.ok == k8s_reported_ok_ && failing == k8s_reported_failing_) return;
  k8s_reported_ok_ = ks.ok;
  k8s_reported_failing_ = failing;
  uint64_t failures = 0;
  for (const auto& [reason, n] : ks.failures) failures += n;
  Details d{{"source", "kubelet"},
            {"url", kubelet_->url()},
            {"pods", std::to_string(ks.pods)},
            {"fetches", std::to_string(ks.fetches)},
            {"failures", std::to_string(failures)}};
  EmitStatus(
      "metadata", "kubernetes",
      ks.ok ? fmt::format("ok: {} pods from the kubelet", ks.pods)
            : fmt::format("failing: {}; records keep k8s.pod.uid, without names", ks.last_error),
      d);
}

void Agent::ApplyWorkloadFilter(bool rescan) {
  const uint64_t now = Clock::BootNs();
  const bool changed = identity_.stats().learnt != wf_learnt_seen_ || pods_.get() != wf_pods_seen_;
  // Cheap when nothing changed; at most every 200 ms otherwise (a burst of new cgroups).
  if (!rescan && (!changed || now - wf_last_ns_ < 200'000'000)) return;
  if (rescan) identity_.LearnTree();
  wf_last_ns_ = now;
  wf_learnt_seen_ = identity_.stats().learnt;
  wf_pods_seen_ = pods_.get();
  const uint8_t one = 1;
  bool unknown_pod = false;
  identity_.ForEach([&](uint64_t cgroup_id, const Identity& id) {
    if (wf_allowed_.contains(cgroup_id)) return;
    const PodMetadata* pod = identity_.FindPod(id);
    if (pod == nullptr && !id.parsed.pod_uid.empty()) unknown_pod = true;
    if (!wfilter_.Matches(cgroup_id, id, pod)) return;
    wf_allowed_.insert(cgroup_id);
    for (int fd : *filters_.cgroup_map_fds) {
      if (bpf_map_update_elem(fd, &cgroup_id, &one, BPF_ANY) != 0) {
        if (wf_failed_++ == 0) {
          spdlog::warn(
              "workload filter: cannot trace cgroup {} ({}): {} (counted in "
              "ksight_workload_filter_refused_total)",
              cgroup_id, id.cgroup_path, std::strerror(errno));
        }
      }
    }
    spdlog::debug("workload filter: tracing cgroup {} ({})", cgroup_id, id.cgroup_path);
  });
  // A pod the metadata does not name yet may be one the filter wants: ask for the list again.
  if (unknown_pod && kubelet_) kubelet_->Wanted();
  if (!rescan) return;
  // Cgroups that are gone leave the maps (ids are never reused), so the room is for live ones.
  const std::string& cg2 = identity_.cgroup2();
  for (auto it = wf_allowed_.begin(); it != wf_allowed_.end();) {
    const std::string& path = identity_.PathOf(*it);
    if (!cg2.empty() && !path.empty() && InodeOf(cg2 + (path == "/" ? "" : path)) == 0) {
      const uint64_t gone = *it;
      for (int fd : *filters_.cgroup_map_fds) bpf_map_delete_elem(fd, &gone);
      it = wf_allowed_.erase(it);
    } else {
      ++it;
    }
  }
}

void Agent::EmitHeartbeatAndLoss(uint64_t start_ns, uint64_t end_ns) {
  SyncKubernetes(/*heartbeat=*/true);
  for (auto& ap : probes_) {
    const BpfTotals t = ap->probe->ReadBpfTotals();
    out_->SetBpfTotals(ap->id, t.seen, t.ring_full, t.map_full);
  }
  // Hand everything formatted so far to the writers: every record counted
  // as seen before this point is now emitted, dropped or queued at each sink.
  out_->Flush();
  const OutputSnapshot snap = out_->Snapshot();
  const size_t n = snap.probes.size();
  reported_.resize(n);
  reported_agg_.resize(n);

  ++agent_types_["agent.heartbeat"];
  auto& w = out_->Begin(0, "agent.heartbeat", end_ns);
  w.KObject("counters");
  for (size_t i = 0; i < n; ++i) {
    const ProbeSnapshot& p = snap.probes[i];
    SinkView first;
    if (!p.sinks.empty()) first = p.sinks[0];
    w.KObject(p.name);
    // The top-level numbers are the first sink's (the first --output).
    w.KV("seen", p.seen).KV("emitted", first.emitted).KV("dropped", first.dropped_total());
    WriteDropped(w, first.dropped);
    w.KV("queued", first.queued);
    if (i != 0) w.KV("bpf_seen", p.bpf_seen).KV("received", p.received);
    w.KV("aggregation_lost", p.aggregation_lost);
    w.KObject("sinks");
    for (size_t s = 0; s < p.sinks.size(); ++s) {
      const SinkView& v = p.sinks[s];
      w.KObject(snap.sinks[s].name);
      w.KV("emitted", v.emitted).KV("dropped", v.dropped_total());
      WriteDropped(w, v.dropped);
      w.KV("queued", v.queued);
      w.EndObject();
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndObject();
  w.KObject("sinks");
  for (const SinkSnapshot& s : snap.sinks) {
    w.KObject(s.name);
    w.KV("kind", s.file ? "file" : "stream").KV("state", s.state);
    w.KV("queued_bytes", s.queued_bytes).KV("queue_size", s.queue_size);
    w.KV("seq_gaps", s.seq_gaps);
    if (s.file) w.KV("rotations", s.rotations);
    w.EndObject();
  }
  w.EndObject();
  w.KObject("interval").Key("start").Rfc3339(start_ns).Key("end").Rfc3339(end_ns).EndObject();
  out_->End();

  for (size_t i = 0; i < n; ++i) {
    const ProbeSnapshot& p = snap.probes[i];
    // Before the sinks (ring_full, rate_limited): once, for every sink.
    for (size_t r = 0; r < kDropReasons; ++r) {
      const uint64_t total = p.dropped_before_sinks[r];
      if (total == reported_[i][r]) continue;
      LossRecord(*out_, p.name, DropReasonName(static_cast<DropReason>(r)), total - reported_[i][r],
                 total, "", start_ns, end_ns);
      ++agent_types_["agent.loss"];
      reported_[i][r] = total;
    }
    // At each sink (queue_full, sink_error, disk_full, rotation): per sink.
    for (size_t s = 0; s < p.sinks.size(); ++s) {
      auto& rep = reported_sink_[snap.sinks[s].name];
      rep.resize(n);
      for (size_t r = 0; r < kDropReasons; ++r) {
        const uint64_t total = p.sinks[s].dropped[r] - p.dropped_before_sinks[r];
        if (total <= rep[i][r]) continue;
        LossRecord(*out_, p.name, DropReasonName(static_cast<DropReason>(r)), total - rep[i][r],
                   total, snap.sinks[s].name, start_ns, end_ns);
        ++agent_types_["agent.loss"];
        rep[i][r] = total;
      }
    }
    if (p.aggregation_lost > reported_agg_[i]) {
      LossRecord(*out_, p.name, "map_full", p.aggregation_lost - reported_agg_[i],
                 p.aggregation_lost, "", start_ns, end_ns);
      ++agent_types_["agent.loss"];
      reported_agg_[i] = p.aggregation_lost;
    }
  }
  out_->Flush();
  PublishMetrics(snap, end_ns);
}

void Agent::PublishMetrics(const OutputSnapshot& snap, uint64_t heartbeat_unix_ns) {
  if (!metrics_) return;
  auto s = std::make_shared<MetricsSnapshot>();
  s->version = KSIGHT_VERSION;
  s->revision = kGitRevision;
  s->heartbeat_unix_ns = heartbeat_unix_ns;
  for (size_t i = 0; i < snap.probes.size(); ++i) {
    const ProbeSnapshot& p = snap.probes[i];
    ProbeMetrics pm;
    pm.name = p.name;
    pm.is_probe = i != 0;
    if (auto it = probe_state_.find(pm.name); pm.is_probe && it != probe_state_.end()) {
      pm.state = it->second.first;
      pm.reason = it->second.second;
    }
    // As the heartbeat's top-level counters: the first output's view.
    pm.seen = p.seen;
    pm.aggregation_lost = p.aggregation_lost;
    const std::array<uint64_t, kDropReasons> none{};
    pm.emitted = p.sinks.empty() ? 0 : p.sinks[0].emitted;
    const auto& dropped = p.sinks.empty() ? none : p.sinks[0].dropped;
    for (size_t r = 0; r < kDropReasons; ++r)
      pm.dropped.emplace_back(DropReasonName(static_cast<DropReason>(r)), dropped[r]);
    s->probes.push_back(std::move(pm));
  }
  MetricsSink agent_sink(s->probe_samples, out_->probe_name(0));
  for (const auto& [type, n] : agent_types_) agent_sink.Events(type, n);
  if (wfilter_.active()) {
    agent_sink.Counter(metrics::kWorkloadFilterCgroups, {}, wf_allowed_.size());
    agent_sink.Counter(metrics::kWorkloadFilterRefused, {}, wf_failed_);
  }
  if (kubelet_) {
    const KubeletClient::State ks = kubelet_->state();
    agent_sink.Counter(metrics::kK8sFetches, {{"result", "ok"}}, ks.fetches);
    for (const auto& [reason, n] : ks.failures)
      agent_sink.Counter(metrics::kK8sFetches, {{"result", reason}}, n);
    agent_sink.Counter(metrics::kK8sPods, {}, ks.pods);
  }
  for (const auto& ap : probes_) {
    MetricsSink sink(s->probe_samples, out_->probe_name(ap->id));
    ap->probe->Metrics(sink);
  }
  metrics_->Publish(std::move(s));
}

}  // namespace ksight::agent_internal
