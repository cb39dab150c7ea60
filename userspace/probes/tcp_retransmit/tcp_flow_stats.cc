#include "probes/tcp_retransmit/tcp_flow_stats.h"

#include <cstring>
#include <string_view>

namespace ksight::tcp {

FlowKey FlowKey::Of(const Record& r) {
  FlowKey k;
  k.netns_ino = r.netns_ino;
  k.family = r.family;
  k.sport = r.sport;
  k.dport = r.dport;
  std::memcpy(k.saddr.data(), r.saddr, sizeof(r.saddr));
  std::memcpy(k.daddr.data(), r.daddr, sizeof(r.daddr));
  return k;
}

size_t FlowKeyHash::operator()(const FlowKey& k) const {
  // FNV-1a over the fields (the key has no padding bytes we rely on).
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
  };
  mix(&k.netns_ino, sizeof(k.netns_ino));
  mix(&k.family, sizeof(k.family));
  mix(&k.sport, sizeof(k.sport));
  mix(&k.dport, sizeof(k.dport));
  mix(k.saddr.data(), k.saddr.size());
  mix(k.daddr.data(), k.daddr.size());
  return static_cast<size_t>(h);
}

void FlowAggregator::Add(const Record& r) {
  const FlowKey key = FlowKey::Of(r);
  auto it = index_.find(key);
  if (it == index_.end()) {
    if (flows_.size() >= max_flows_) {
      ++overflow_;
      return;
    }
    it = index_.emplace(key, flows_.size()).first;
    flows_.emplace_back();
  }
  FlowStats& f = flows_[it->second];
  f.count++;
  f.segs += r.segs;
  if (r.kind < kKinds) f.by_kind[r.kind]++;
  f.last = r;
}

std::vector<FlowStats> FlowAggregator::Drain() {
  std::vector<FlowStats> out;
  out.swap(flows_);
  index_.clear();
  return out;
}

void WriteFlowStats(JsonWriter& w, const FlowStats& f, IdentityCache& identity) {
  WriteProcess(w, f.last.owner, identity, OwnerSourceName(f.last.owner_source));
  WriteEndpoints(w, f.last);
  w.KObject("tcp");
  w.KV("count", f.count).KV("segs", f.segs);
  w.KObject("by_kind");
  for (uint32_t k = 0; k < kKinds; ++k) w.KV(KindName(k), f.by_kind[k]);
  w.EndObject();
  w.KV("state", StateName(f.last.state));
  w.EndObject();
}

}  // namespace ksight::tcp
