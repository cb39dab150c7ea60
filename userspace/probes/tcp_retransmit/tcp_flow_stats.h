// tcp_flow_stats.h - per-interval, per-flow retransmit counts for
// `tcp.retransmit.stats`, aggregated from the records received (pure logic).
//
// A flow is (netns, family, local address and port, remote address and
// port). Each interval reports only the flows that retransmitted in it, then
// forgets them, so memory is bounded by the flows active in one interval (and
// by max_flows: records of further flows still get their own tcp.retransmit
// line, and are counted in overflow()).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "probes/tcp_retransmit/tcp_record.h"

namespace ksight::tcp {

struct FlowKey {
  uint32_t netns_ino = 0;
  uint16_t family = 0;
  uint16_t sport = 0;
  uint16_t dport = 0;
  std::array<uint8_t, 16> saddr{};
  std::array<uint8_t, 16> daddr{};
  bool operator==(const FlowKey&) const = default;
  static FlowKey Of(const Record& r);
};

struct FlowKeyHash {
  size_t operator()(const FlowKey& k) const;
};

constexpr size_t kKinds = 3;  // KS_TCP_KIND_RETRANSMIT, _SYNACK, _TLP

struct FlowStats {
  uint64_t count = 0;  // records
  uint64_t segs = 0;   // segments they carried
  std::array<uint64_t, kKinds> by_kind{};
  Record last{};  // the latest record: tuple, state, owner
};

class FlowAggregator {
 public:
  explicit FlowAggregator(size_t max_flows = 65536) : max_flows_(max_flows) {}

  void Add(const Record& r);
  // Flows that moved since the last Drain, in first-seen order; then forget them.
  std::vector<FlowStats> Drain();
  size_t size() const { return flows_.size(); }
  // Records not aggregated because max_flows flows were already in the interval.
  uint64_t overflow() const { return overflow_; }

 private:
  size_t max_flows_;
  std::unordered_map<FlowKey, size_t, FlowKeyHash> index_;
  std::vector<FlowStats> flows_;
  uint64_t overflow_ = 0;
};

// The type-specific objects of one `tcp.retransmit.stats` record:
// process (the latest owner), source, destination, network, tcp.
void WriteFlowStats(JsonWriter& w, const FlowStats& f, IdentityCache& identity);

}  // namespace ksight::tcp
