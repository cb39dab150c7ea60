// gpu_xid_merge.cc - see gpu_xid_merge.h.
#include "probes/gpu/gpu_xid_merge.h"

#include <utility>

namespace ksight::gpu {
namespace {

struct Key {
  bool sxid = false;
  std::string bus;
  int code = 0;
  std::string_view message;
};

Key KeyOf(const XidObservation& o) {
  Key k;
  if (const auto* x = std::get_if<XidEvent>(&o.event)) {
    k.bus = NormalizePciBusId(x->pci_bus_id, false).value_or(x->pci_bus_id);
    k.code = x->code;
    k.message = x->message;
  } else {
    const auto& s = std::get<SxidEvent>(o.event);
    k.sxid = true;
    k.bus = NormalizePciBusId(s.pci_bus_id, true).value_or(s.pci_bus_id);
    k.code = s.code;
    k.message = s.message;
  }
  return k;
}

std::string_view MessageOf(const XidObservation& o) {
  if (const auto* x = std::get_if<XidEvent>(&o.event)) return x->message;
  return std::get<SxidEvent>(o.event).message;
}

uint64_t Distance(uint64_t a, uint64_t b) { return a > b ? a - b : b - a; }

}  // namespace

std::string_view XidSourceName(XidSource s) {
  switch (s) {
    case XidSource::kTracepoint:
      return "tracepoint";
    case XidSource::kKmsg:
      return "kmsg";
    case XidSource::kPrintk:
      break;
  }
  return "printk";
}

MergedXid XidMerger::Alone(XidObservation&& o) {
  MergedXid m;
  m.ts_ns = o.ts_ns;
  m.source = o.source;
  m.seen_tracepoint = o.source == XidSource::kTracepoint;
  m.seen_log = IsLogSource(o.source);
  if (m.seen_log) m.log_source = o.source;
  m.event = std::move(o.event);
  m.reporter = std::move(o.reporter);
  return m;
}

MergedXid XidMerger::Merge(XidObservation&& a, XidObservation&& b) {
  XidObservation& pr = IsLogSource(a.source) ? a : b;
  XidObservation& tp = IsLogSource(a.source) ? b : a;
  MergedXid m;
  m.ts_ns = std::min(a.ts_ns, b.ts_ns);
  m.source = XidSource::kTracepoint;
  m.seen_tracepoint = m.seen_log = true;
  m.log_source = pr.source;
  // The printk line has everything the tracepoint has, plus pid, name, MIG ids and caused-by.
  const bool pr_has_message = !MessageOf(pr).empty();
  m.event = std::move(pr.event);
  if (!pr_has_message) {
    if (auto* x = std::get_if<XidEvent>(&m.event)) {
      if (const auto* t = std::get_if<XidEvent>(&tp.event)) x->message = t->message;
    } else if (auto* s = std::get_if<SxidEvent>(&m.event)) {
      if (const auto* t = std::get_if<SxidEvent>(&tp.event)) s->message = t->message;
    }
  }
  m.reporter = std::move(pr.reporter.comm.empty() ? tp.reporter : pr.reporter);
  return m;
}

void XidMerger::Add(XidObservation obs, std::vector<MergedXid>& out) {
  ++stats_.observed;
  const uint64_t now = obs.ts_ns;
  Key k = KeyOf(obs);
  const bool paired_kind = k.sxid ? opt_.sxid_tracepoint : opt_.xid_tracepoint;
  if (!paired_kind) {
    // Nothing will come to pair with: printk is the only path for this kind here.
    ++stats_.passed;
    out.push_back(Alone(std::move(obs)));
    Expire(now, out);
    return;
  }
  // The best twin: the other source, same kind/bus/code, within the window; same message first.
  auto best = pending_.end();
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (IsLogSource(it->obs.source) == IsLogSource(obs.source) || it->sxid != k.sxid ||
        it->code != k.code || it->bus != k.bus ||
        Distance(it->obs.ts_ns, obs.ts_ns) > opt_.window_ns)
      continue;
    if (MessageOf(it->obs) == k.message) {
      best = it;
      break;
    }
    if (best == pending_.end()) best = it;  // the oldest, unless a same-message one follows
  }
  if (best != pending_.end()) {
    ++stats_.merged;
    XidObservation twin = std::move(best->obs);
    pending_.erase(best);
    out.push_back(Merge(std::move(twin), std::move(obs)));
  } else {
    if (pending_.size() >= opt_.max_pending) {
      ++stats_.pending_full;
      ++stats_.alone;
      out.push_back(Alone(std::move(pending_.front().obs)));
      pending_.pop_front();
    }
    pending_.push_back(Pending{std::move(obs), std::move(k.bus), k.code, k.sxid});
  }
  Expire(now, out);
}

void XidMerger::Expire(uint64_t now_ns, std::vector<MergedXid>& out) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now_ns > it->obs.ts_ns && now_ns - it->obs.ts_ns > opt_.window_ns) {
      ++stats_.alone;
      out.push_back(Alone(std::move(it->obs)));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

void XidMerger::FlushAll(std::vector<MergedXid>& out) {
  for (auto& p : pending_) {
    ++stats_.alone;
    out.push_back(Alone(std::move(p.obs)));
  }
  pending_.clear();
}

}  // namespace ksight::gpu
