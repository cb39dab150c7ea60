// Per-interval, per-flow rollup of tcp retransmit records (tcp.retransmit.stats).
#include "probes/tcp_retransmit/tcp_flow_stats.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace ksight::tcp {
namespace {

Record Rec(uint16_t sport, uint8_t kind, uint32_t netns = 1) {
  Record r{};
  r.hdr.type = KS_REC_TCP_RETRANSMIT;
  r.hdr.size = sizeof(Record);
  r.family = KS_AF_INET;
  inet_pton(AF_INET, "127.0.0.1", r.saddr);
  inet_pton(AF_INET, "127.0.0.1", r.daddr);
  r.sport = sport;
  r.dport = 80;
  r.kind = kind;
  r.segs = 1;
  r.state = 1;
  r.netns_ino = netns;
  r.owner.pid = 4000000000u;
  std::memcpy(r.owner.comm, "curl", 5);
  r.owner_source = KS_TCP_OWNER_SOCKET;
  return r;
}

TEST(TcpFlowStats, CountsByKindPerFlowAndForgetsAfterDrain) {
  FlowAggregator agg;
  agg.Add(Rec(1000, KS_TCP_KIND_RETRANSMIT));
  agg.Add(Rec(1000, KS_TCP_KIND_RETRANSMIT));
  agg.Add(Rec(1000, KS_TCP_KIND_TLP));
  agg.Add(Rec(2000, KS_TCP_KIND_SYNACK));
  agg.Add(Rec(1000, KS_TCP_KIND_RETRANSMIT, /*netns=*/2));  // same tuple, other namespace
  EXPECT_EQ(agg.size(), 3u);
  auto flows = agg.Drain();
  ASSERT_EQ(flows.size(), 3u);
  EXPECT_EQ(flows[0].last.sport, 1000);
  EXPECT_EQ(flows[0].count, 3u);
  EXPECT_EQ(flows[0].segs, 3u);
  EXPECT_EQ(flows[0].by_kind[KS_TCP_KIND_RETRANSMIT], 2u);
  EXPECT_EQ(flows[0].by_kind[KS_TCP_KIND_TLP], 1u);
  EXPECT_EQ(flows[1].by_kind[KS_TCP_KIND_SYNACK], 1u);
  EXPECT_EQ(flows[2].last.netns_ino, 2u);
  EXPECT_EQ(agg.size(), 0u);
  EXPECT_TRUE(agg.Drain().empty());  // only flows that moved are reported
}

TEST(TcpFlowStats, LatestRecordWinsForStateAndOwner) {
  FlowAggregator agg;
  Record a = Rec(1000, KS_TCP_KIND_RETRANSMIT);
  agg.Add(a);
  a.state = 4;  // FIN_WAIT1
  a.owner.pid = 4000000001u;
  agg.Add(a);
  const auto flows = agg.Drain();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].last.state, 4);
  EXPECT_EQ(flows[0].last.owner.pid, 4000000001u);
}

TEST(TcpFlowStats, BoundedFlowsCountOverflow) {
  FlowAggregator agg(2);
  agg.Add(Rec(1, KS_TCP_KIND_RETRANSMIT));
  agg.Add(Rec(2, KS_TCP_KIND_RETRANSMIT));
  agg.Add(Rec(3, KS_TCP_KIND_RETRANSMIT));
  agg.Add(Rec(1, KS_TCP_KIND_RETRANSMIT));  // known flow: still counted
  EXPECT_EQ(agg.overflow(), 1u);
  const auto flows = agg.Drain();
  ASSERT_EQ(flows.size(), 2u);
  EXPECT_EQ(flows[0].count, 2u);
  agg.Add(Rec(3, KS_TCP_KIND_RETRANSMIT));  // room again in the next interval
  EXPECT_EQ(agg.Drain().size(), 1u);
}

TEST(TcpFlowStats, Json) {
  FlowAggregator agg;
  agg.Add(Rec(1000, KS_TCP_KIND_RETRANSMIT));
  agg.Add(Rec(1000, KS_TCP_KIND_TLP));
  const auto flows = agg.Drain();
  std::string out;
  JsonWriter w(out);
  IdentityCache cache{IdentityCache::Options{}};
  w.BeginObject();
  WriteFlowStats(w, flows[0], cache);
  w.EndObject();
  EXPECT_EQ(out, R"({"process":{"pid":4000000000,"tid":0,"comm":"curl","cgroup_id":0,)"
                 R"("source":"socket_owner"},"source":{"address":"127.0.0.1","port":1000},)"
                 R"("destination":{"address":"127.0.0.1","port":80},)"
                 R"("network":{"type":"ipv4","transport":"tcp","netns_inode":1},)"
                 R"("tcp":{"count":2,"segs":2,"by_kind":{"retransmit":1,"synack":0,"tlp":1},)"
                 R"("state":"ESTABLISHED"}})");
}

}  // namespace
}  // namespace ksight::tcp
