// The tcp_retransmit probe's pure logic: ring record decoding, names,
// addresses (v4-mapped shown as v4) and the JSON of tcp.retransmit.
#include "probes/tcp_retransmit/tcp_record.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace ksight::tcp {
namespace {

constexpr uint32_t kNoSuchPid = 4000000000u;  // no /proc entry: no container lookup

Record V4Record() {
  Record r{};
  r.hdr.type = KS_REC_TCP_RETRANSMIT;
  r.hdr.size = sizeof(Record);
  r.hdr.ts_ns = 123;
  r.owner.pid = kNoSuchPid;
  r.owner.tid = kNoSuchPid;
  r.owner.cgroup_id = 77;
  std::memcpy(r.owner.comm, "nginx", 6);
  r.family = KS_AF_INET;
  inet_pton(AF_INET, "10.0.0.1", r.saddr);
  inet_pton(AF_INET, "192.168.1.20", r.daddr);
  r.sport = 443;
  r.dport = 51000;
  r.kind = KS_TCP_KIND_RETRANSMIT;
  r.owner_source = KS_TCP_OWNER_SOCKET;
  r.owner_how = KS_TCP_HOW_LISTENER;
  r.state = 1;
  r.segs = 1;
  r.netns_ino = 4026531840u;
  r.snd_cwnd = 10;
  r.srtt_us = 1500;
  r.rto_ms = 204;
  r.retrans_out = 1;
  r.lost_out = 2;
  r.total_retrans = 3;
  r.mss = 1448;
  r.hz = 250;
  return r;
}

std::string Json(const Record& r) {
  std::string out;
  JsonWriter w(out);
  IdentityCache cache{IdentityCache::Options{}};
  w.BeginObject();
  WriteRetransmit(w, r, cache);
  w.EndObject();
  return out;
}

TEST(TcpRecord, DecodeChecksSizeAndType) {
  const Record r = V4Record();
  EXPECT_FALSE(Decode(&r, sizeof(r) - 1).has_value());
  Record wrong = r;
  wrong.hdr.type = KS_REC_SYSCALL;
  EXPECT_FALSE(Decode(&wrong, sizeof(wrong)).has_value());
  const auto d = Decode(&r, sizeof(r));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->sport, 443);
  EXPECT_EQ(d->netns_ino, 4026531840u);
}

TEST(TcpRecord, Names) {
  EXPECT_EQ(StateName(1), "ESTABLISHED");
  EXPECT_EQ(StateName(2), "SYN_SENT");
  EXPECT_EQ(StateName(4), "FIN_WAIT1");
  EXPECT_EQ(StateName(10), "LISTEN");
  EXPECT_EQ(StateName(12), "NEW_SYN_RECV");
  EXPECT_EQ(StateName(0), "UNKNOWN");
  EXPECT_EQ(StateName(200), "UNKNOWN");
  EXPECT_EQ(KindName(KS_TCP_KIND_RETRANSMIT), "retransmit");
  EXPECT_EQ(KindName(KS_TCP_KIND_SYNACK), "synack");
  EXPECT_EQ(KindName(KS_TCP_KIND_TLP), "tlp");
  EXPECT_EQ(KindName(9), "unknown");
  EXPECT_EQ(OwnerSourceName(KS_TCP_OWNER_SOCKET), "socket_owner");
  EXPECT_EQ(OwnerSourceName(KS_TCP_OWNER_ON_CPU), "on_cpu");
  EXPECT_EQ(OwnerSourceName(KS_TCP_OWNER_UNKNOWN), "unknown");
  EXPECT_EQ(OwnerHowName(KS_TCP_HOW_CONNECT), "connect");
  EXPECT_EQ(OwnerHowName(KS_TCP_HOW_NONE), "");
}

TEST(TcpRecord, AddressesV4V6AndMapped) {
  uint8_t b[16] = {};
  inet_pton(AF_INET, "127.0.0.1", b);
  Address a = FormatAddress(AF_INET, b);
  EXPECT_EQ(a.view(), "127.0.0.1");
  EXPECT_FALSE(a.ipv6);

  inet_pton(AF_INET6, "2001:db8::5", b);
  a = FormatAddress(AF_INET6, b);
  EXPECT_EQ(a.view(), "2001:db8::5");
  EXPECT_TRUE(a.ipv6);

  inet_pton(AF_INET6, "::1", b);
  EXPECT_EQ(FormatAddress(AF_INET6, b).view(), "::1");

  inet_pton(AF_INET6, "::ffff:10.1.2.3", b);
  a = FormatAddress(AF_INET6, b);
  EXPECT_EQ(a.view(), "10.1.2.3");
  EXPECT_FALSE(a.ipv6);

  Record r = V4Record();
  r.family = KS_AF_INET6;
  inet_pton(AF_INET6, "::ffff:10.0.0.1", r.saddr);
  inet_pton(AF_INET6, "::ffff:10.0.0.2", r.daddr);
  EXPECT_EQ(NetworkType(r), "ipv4");
  inet_pton(AF_INET6, "fe80::1", r.daddr);
  EXPECT_EQ(NetworkType(r), "ipv6");
}

TEST(TcpRecord, RetransmitJson) {
  EXPECT_EQ(Json(V4Record()),
            R"({"process":{"pid":4000000000,"tid":4000000000,"comm":"nginx","cgroup_id":77,)"
            R"("source":"socket_owner"},"source":{"address":"10.0.0.1","port":443},)"
            R"("destination":{"address":"192.168.1.20","port":51000},)"
            R"("network":{"type":"ipv4","transport":"tcp","netns_inode":4026531840},)"
            R"("tcp":{"kind":"retransmit","state":"ESTABLISHED","snd_cwnd":10,"srtt_us":1500,)"
            R"("rto_ms":204,"retrans_out":1,"lost_out":2,"total_retrans":3,"mss":1448,"segs":1,)"
            R"("owner_from":"listener"}})");
}

TEST(TcpRecord, SynAckHasNoSocketStateAndUnknownHzOmitsRto) {
  Record r = V4Record();
  r.kind = KS_TCP_KIND_SYNACK;
  r.state = 12;
  r.owner_how = KS_TCP_HOW_LISTEN;
  const std::string syn = Json(r);
  EXPECT_NE(syn.find(R"("tcp":{"kind":"synack","state":"NEW_SYN_RECV","mss":1448,"segs":1,)"
                     R"("owner_from":"listen"})"),
            std::string::npos)
      << syn;

  r = V4Record();
  r.hz = 0;
  EXPECT_EQ(Json(r).find("rto_ms"), std::string::npos);
}

TEST(TcpRecord, UnknownOwnerKeepsTheSocketCgroup) {
  Record r = V4Record();
  r.owner = {};
  r.owner.cgroup_id = 9;
  r.owner_source = KS_TCP_OWNER_UNKNOWN;
  r.owner_how = KS_TCP_HOW_NONE;
  const std::string j = Json(r);
  EXPECT_NE(j.find(R"("process":{"pid":0,"tid":0,"comm":"","cgroup_id":9,"source":"unknown"})"),
            std::string::npos)
      << j;
  EXPECT_EQ(j.find("owner_from"), std::string::npos);
}

TEST(TcpRecord, Ipv6Json) {
  Record r = V4Record();
  r.family = KS_AF_INET6;
  inet_pton(AF_INET6, "::1", r.saddr);
  inet_pton(AF_INET6, "2001:db8::2", r.daddr);
  const std::string j = Json(r);
  EXPECT_NE(
      j.find(R"("source":{"address":"::1","port":443},"destination":{"address":"2001:db8::2",)"
             R"("port":51000},"network":{"type":"ipv6")"),
      std::string::npos)
      << j;
}

}  // namespace
}  // namespace ksight::tcp

// The stats schema repeats the record schema's $defs (validate.py loads each
// file on its own, so it cannot $ref across files): they must not drift.
#include <fstream>
#include <nlohmann/json.hpp>

namespace ksight::tcp {
namespace {

TEST(TcpSchema, StatsSchemaSharesTheRecordDefs) {
  auto load = [](const std::string& name) {
    std::ifstream in(std::string(KSIGHT_SOURCE_DIR) + "/docs/schema/" + name);
    return nlohmann::json::parse(in);
  };
  const auto rec = load("tcp.retransmit.schema.json");
  const auto stats = load("tcp.retransmit.stats.schema.json");
  EXPECT_EQ(rec["$defs"], stats["$defs"]);
}

}  // namespace
}  // namespace ksight::tcp
