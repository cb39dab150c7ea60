#include "core/output.h"

#include <algorithm>

namespace ksight {

Output::Output(EnvelopeInfo info) : info_(std::move(info)), w_(buf_) {
  std::string& t = envelope_tail_;
  t.append(R"(,"host":{"name":)");
  AppendJsonString(t, info_.host_name);
  t.append(R"(},"agent":{"name":"ksight","version":)");
  AppendJsonString(t, info_.agent_version);
  t.append(R"(,"instance_id":)");
  AppendJsonString(t, info_.instance_id);
  t.append("}");
  buf_.reserve(kFlushBytes * 2);
  RegisterProbe("agent");  // ProbeId 0: the agent's own records
}

Output::~Output() { StopSinks(std::chrono::seconds(5)); }

void Output::AddSink(std::unique_ptr<Sink> sink, uint64_t queue_bytes) {
  SinkWriter::Options o;
  o.capacity = queue_bytes;
  auto w = std::make_unique<SinkWriter>(std::move(sink), o);
  std::lock_guard lk(mu_);
  SinkSlot& s = sinks_.emplace_back();
  s.w = std::move(w);
  for (size_t i = 0; i < probes_.size(); ++i) s.probes.emplace_back();
  // A batch must fit a few times in the smallest queue.
  flush_bytes_ = std::min<size_t>(flush_bytes_, std::max<uint64_t>(4096, queue_bytes / 4));
}

ProbeId Output::RegisterProbe(std::string name) {
  std::lock_guard lk(mu_);
  ProbeEntry& e = probes_.emplace_back();
  e.name = std::move(name);
  for (auto& s : sinks_) s.probes.emplace_back();
  return static_cast<ProbeId>(probes_.size() - 1);
}

JsonWriter& Output::Begin(ProbeId probe, std::string_view type, uint64_t ts_unix_ns) {
  cur_probe_ = probe;
  probes_[probe].seen.add(1);
  line_start_ = buf_.size();
  w_.Reset();
  w_.BeginObject();
  w_.Key("time").Rfc3339(ts_unix_ns);
  w_.KV("ts_unix_nano", ts_unix_ns);
  w_.KV("schema_version", uint64_t{1});
  w_.KObject("event")
      .KV("type", type)
      .KV("probe", probes_[probe].name)
      .KV("seq", seq_++)
      .EndObject();
  w_.Flush();
  buf_.append(envelope_tail_);
  return w_;
}

void Output::End() {
  w_.EndObject();
  buf_.push_back('\n');
  const size_t len = buf_.size() - line_start_;
  // Backpressure first: a full queue gets the remaining wait budget to drain.
  for (auto& s : sinks_) {
    if (wait_budget_.count() <= 0) break;
    if (s.closed || s.w->queued_bytes() + s.pending_bytes + len <= s.w->capacity()) continue;
    Flush();  // hand over what is pending (keeps this line in buf_)
    const auto t0 = std::chrono::steady_clock::now();
    s.w->WaitForRoom(len, wait_budget_);
    wait_budget_ -= std::chrono::steady_clock::now() - t0;
  }
  // Admission: each sink takes the line if its queue has room for it on top
  // of what it already holds and what is pending for it. Once a sink refused
  // a line it refuses the rest of the pending batch (it takes a prefix).
  bool any = false;
  for (auto& s : sinks_) {
    if (!s.closed && s.w->queued_bytes() + s.pending_bytes + len <= s.w->capacity()) {
      s.pending_lines++;
      s.pending_bytes += len;
      any = true;
    } else {
      s.closed = true;
      s.probes[cur_probe_].queue_full.add(1);
    }
  }
  if (!any) {
    // No sink can take it: drop it before it keeps a seq, so no sink sees a gap.
    buf_.resize(line_start_);
    --seq_;
    return;
  }
  for (auto& s : sinks_) {
    if (s.closed) s.gaps.add(1);  // it keeps its seq; this sink will not have it
  }
  lines_.push_back({static_cast<uint32_t>(buf_.size()), cur_probe_});
  if (buf_.size() >= flush_bytes_) Flush();
}

void Output::Flush() {
  // Whole lines only: a record being formatted (End() waiting for room)
  // stays in buf_.
  const size_t whole = lines_.empty() ? 0 : lines_.back().end;
  if (!lines_.empty()) {
    // An exact-size copy: a queued batch holds only its bytes, so the queues'
    // byte bounds are what they hold in memory; buf_ keeps its capacity.
    auto b = std::make_shared<Batch>();
    b->data.assign(buf_, 0, whole);
    b->lines.assign(lines_.begin(), lines_.end());
    for (auto& s : sinks_) {
      for (size_t i = 0; i < s.pending_lines; ++i) s.probes[b->lines[i].probe].submitted.add(1);
      s.w->Submit(b, s.pending_lines, s.pending_bytes);
    }
  }
  for (auto& s : sinks_) {
    s.pending_lines = 0;
    s.pending_bytes = 0;
    s.closed = false;
  }
  if (whole == buf_.size()) {
    buf_.clear();
  } else {
    buf_.erase(0, whole);
    line_start_ = line_start_ >= whole ? line_start_ - whole : 0;
  }
  lines_.clear();
}

bool Output::Settle(std::chrono::milliseconds timeout) {
  Flush();
  bool ok = true;
  for (auto& s : sinks_) ok = s.w->Settle(timeout) && ok;
  return ok;
}

std::vector<std::pair<std::string, Status>> Output::ReopenFiles(std::chrono::milliseconds timeout) {
  Flush();
  std::vector<std::pair<std::string, Status>> out;
  for (auto& s : sinks_) {
    if (s.w->is_file()) out.emplace_back(s.w->name(), s.w->Reopen(timeout));
  }
  return out;
}

void Output::StopSinks(std::chrono::milliseconds timeout) {
  Flush();
  for (auto& s : sinks_) s.w->Stop(timeout);
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): the sinks are moved out of it
void Output::ReplaceSinks(std::vector<std::pair<std::unique_ptr<Sink>, uint64_t>> sinks,
                          std::chrono::milliseconds timeout) {
  StopSinks(timeout);
  std::deque<SinkSlot> old;
  {
    std::lock_guard lk(mu_);
    old.swap(sinks_);
  }
  flush_bytes_ = kFlushBytes;
  for (auto& [sink, q] : sinks) {
    const std::string name = sink->name();
    AddSink(std::move(sink), q);
    // Same name: the counters go on from where the old writer left them.
    for (auto& o : old) {
      if (o.w->name() != name) continue;
      std::lock_guard lk(mu_);
      SinkSlot& n = sinks_.back();
      auto settled = o.w->Counters();
      if (settled.size() < o.carried.size()) settled.resize(o.carried.size());
      for (size_t p = 0; p < o.carried.size(); ++p) {
        settled[p].emitted += o.carried[p].emitted;
        for (size_t r = 0; r < kDropReasons; ++r) settled[p].dropped[r] += o.carried[p].dropped[r];
      }
      n.carried = std::move(settled);
      for (size_t p = 0; p < o.probes.size() && p < n.probes.size(); ++p) {
        n.probes[p].submitted.set(o.probes[p].submitted.get());
        n.probes[p].queue_full.set(o.probes[p].queue_full.get());
      }
      n.gaps.set(o.gaps.get());
    }
  }
}

void Output::SetBpfTotals(ProbeId probe, uint64_t bpf_seen, uint64_t ring_full, uint64_t map_full) {
  auto& e = probes_[probe];
  e.bpf_seen.set(bpf_seen);
  e.aggregation_lost.set(map_full);
  if (ring_full > e.ring_full_seen) {
    const uint64_t n = ring_full - e.ring_full_seen;
    e.seen.add(n);
    e.pre[static_cast<size_t>(DropReason::kRingFull)].add(n);
    e.ring_full_seen = ring_full;
  }
}

void Output::CountDrop(ProbeId probe, DropReason r, uint64_t n) {
  auto& e = probes_[probe];
  e.seen.add(n);
  e.pre[static_cast<size_t>(r)].add(n);
}

OutputSnapshot Output::Snapshot() const {
  std::lock_guard lk(mu_);
  OutputSnapshot snap;
  std::vector<std::vector<SinkProbeCounters>> settled;
  for (const auto& s : sinks_) {
    auto c = s.w->Counters();
    if (c.size() < s.carried.size()) c.resize(s.carried.size());
    for (size_t p = 0; p < s.carried.size(); ++p) {
      c[p].emitted += s.carried[p].emitted;
      for (size_t r = 0; r < kDropReasons; ++r) c[p].dropped[r] += s.carried[p].dropped[r];
    }
    c.resize(std::max(c.size(), probes_.size()));
    SinkSnapshot ss;
    ss.name = s.w->name();
    ss.file = s.w->is_file();
    ss.state = s.w->state();
    ss.queued_bytes = s.w->queued_bytes();
    ss.queue_size = s.w->capacity();
    ss.rotations = s.w->rotations();
    ss.seq_gaps = s.gaps.get();
    for (const auto& pc : c) {
      ss.seq_gaps += pc.dropped_total();  // every drop at write time had a seq
    }
    snap.sinks.push_back(std::move(ss));
    settled.push_back(std::move(c));
  }
  for (size_t p = 0; p < probes_.size(); ++p) {
    const ProbeEntry& e = probes_[p];
    ProbeSnapshot ps;
    ps.name = e.name;
    ps.seen = e.seen.get();
    ps.bpf_seen = e.bpf_seen.get();
    ps.received = e.received.get();
    ps.aggregation_lost = e.aggregation_lost.get();
    for (size_t r = 0; r < kDropReasons; ++r) ps.dropped_before_sinks[r] = e.pre[r].get();
    for (size_t si = 0; si < sinks_.size(); ++si) {
      const SinkProbeCounters& c = settled[si][p];
      SinkView v;
      v.emitted = c.emitted;
      for (size_t r = 0; r < kDropReasons; ++r) v.dropped[r] = e.pre[r].get() + c.dropped[r];
      v.dropped[static_cast<size_t>(DropReason::kQueueFull)] +=
          sinks_[si].probes[p].queue_full.get();
      const uint64_t submitted = sinks_[si].probes[p].submitted.get();
      const uint64_t done = c.emitted + c.dropped_total();
      v.queued = submitted > done ? submitted - done : 0;
      ps.sinks.push_back(v);
    }
    snap.probes.push_back(std::move(ps));
  }
  return snap;
}

ProbeCounters Output::counters(ProbeId probe) const {
  const OutputSnapshot s = Snapshot();
  const ProbeSnapshot& p = s.probes[probe];
  ProbeCounters c;
  c.seen = p.seen;
  c.bpf_seen = p.bpf_seen;
  c.received = p.received;
  c.aggregation_lost = p.aggregation_lost;
  if (!p.sinks.empty()) {
    c.emitted = p.sinks[0].emitted;
    c.dropped = p.sinks[0].dropped;
  }
  return c;
}

}  // namespace ksight
