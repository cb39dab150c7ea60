#include "probes/tcp_retransmit/tcp_record.h"

#include <arpa/inet.h>

#include <cstring>

#include "core/record.h"

namespace ksight::tcp {

// The layout the BPF side writes: a change there must break this build.
static_assert(sizeof(ks_rec_hdr) == 16);
static_assert(sizeof(ks_task) == 32);
static_assert(sizeof(Record) == 128);
static_assert(offsetof(Record, owner) == 16);
static_assert(offsetof(Record, saddr) == 48);
static_assert(offsetof(Record, daddr) == 64);
static_assert(offsetof(Record, family) == 80);
static_assert(offsetof(Record, sport) == 82);
static_assert(offsetof(Record, dport) == 84);
static_assert(offsetof(Record, kind) == 86);
static_assert(offsetof(Record, owner_source) == 87);
static_assert(offsetof(Record, state) == 88);
static_assert(offsetof(Record, owner_how) == 89);
static_assert(offsetof(Record, segs) == 90);
static_assert(offsetof(Record, netns_ino) == 92);
static_assert(offsetof(Record, snd_cwnd) == 96);
static_assert(offsetof(Record, srtt_us) == 100);
static_assert(offsetof(Record, rto_ms) == 104);
static_assert(offsetof(Record, retrans_out) == 108);
static_assert(offsetof(Record, lost_out) == 112);
static_assert(offsetof(Record, total_retrans) == 116);
static_assert(offsetof(Record, mss) == 120);
static_assert(offsetof(Record, hz) == 124);
static_assert(KS_AF_INET == AF_INET && KS_AF_INET6 == AF_INET6);

std::optional<Record> Decode(const void* data, size_t size) {
  if (size < sizeof(Record)) return std::nullopt;
  // The checks of RecordAs(), on an aligned copy (a fuzzer's bytes need not be aligned). The
  // record is fixed-size, so hdr.size == sizeof(Record) <= size holds for the copy as well.
  Record r;
  std::memcpy(&r, data, sizeof(r));
  if (RecordAs<Record>(&r, sizeof(r), KS_REC_TCP_RETRANSMIT) == nullptr) return std::nullopt;
  return r;
}

std::string_view StateName(uint32_t state) {
  static constexpr std::string_view kNames[] = {
      "UNKNOWN",   "ESTABLISHED", "SYN_SENT",     "SYN_RECV",       "FIN_WAIT1",
      "FIN_WAIT2", "TIME_WAIT",   "CLOSE",        "CLOSE_WAIT",     "LAST_ACK",
      "LISTEN",    "CLOSING",     "NEW_SYN_RECV", "BOUND_INACTIVE",
  };
  return state < std::size(kNames) ? kNames[state] : kNames[0];
}

std::string_view KindName(uint32_t kind) {
  switch (kind) {
    case KS_TCP_KIND_RETRANSMIT:
      return "retransmit";
    case KS_TCP_KIND_SYNACK:
      return "synack";
    case KS_TCP_KIND_TLP:
      return "tlp";
    default:
      return "unknown";
  }
}

std::string_view OwnerSourceName(uint32_t source) {
  switch (source) {
    case KS_TCP_OWNER_SOCKET:
      return "socket_owner";
    case KS_TCP_OWNER_ON_CPU:
      return "on_cpu";
    default:
      return "unknown";
  }
}

std::string_view OwnerHowName(uint32_t how) {
  switch (how) {
    case KS_TCP_HOW_CONNECT:
      return "connect";
    case KS_TCP_HOW_LISTEN:
      return "listen";
    case KS_TCP_HOW_LISTENER:
      return "listener";
    default:
      return "";
  }
}

Address FormatAddress(uint16_t family, const uint8_t (&bytes)[16]) {
  static constexpr uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  Address a;
  if (family == AF_INET6 && std::memcmp(bytes, kV4Mapped, sizeof(kV4Mapped)) != 0) {
    a.ipv6 = true;
    inet_ntop(AF_INET6, bytes, a.text, sizeof(a.text));
  } else {
    const uint8_t* v4 = family == AF_INET6 ? bytes + 12 : bytes;
    inet_ntop(AF_INET, v4, a.text, sizeof(a.text));
  }
  return a;
}

std::string_view NetworkType(const Record& r) {
  const bool v6 = FormatAddress(r.family, r.saddr).ipv6 || FormatAddress(r.family, r.daddr).ipv6;
  return v6 ? "ipv6" : "ipv4";
}

void WriteEndpoints(JsonWriter& w, const Record& r) {
  const Address src = FormatAddress(r.family, r.saddr);
  const Address dst = FormatAddress(r.family, r.daddr);
  w.KObject("source").KV("address", src.view()).KV("port", r.sport).EndObject();
  w.KObject("destination").KV("address", dst.view()).KV("port", r.dport).EndObject();
  w.KObject("network");
  w.KV("type", src.ipv6 || dst.ipv6 ? "ipv6" : "ipv4").KV("transport", "tcp");
  w.KV("netns_inode", r.netns_ino);
  w.EndObject();
}

void WriteRetransmit(JsonWriter& w, const Record& r, IdentityCache& identity) {
  WriteProcess(w, r.owner, identity, OwnerSourceName(r.owner_source));
  WriteEndpoints(w, r);
  w.KObject("tcp");
  w.KV("kind", KindName(r.kind)).KV("state", StateName(r.state));
  if (r.kind != KS_TCP_KIND_SYNACK) {
    // A SYN-ACK is sent for a request socket: there is no tcp_sock state yet.
    w.KV("snd_cwnd", r.snd_cwnd).KV("srtt_us", r.srtt_us);
    if (r.hz != 0) w.KV("rto_ms", r.rto_ms);
    w.KV("retrans_out", r.retrans_out).KV("lost_out", r.lost_out);
    w.KV("total_retrans", r.total_retrans);
  }
  w.KV("mss", r.mss).KV("segs", r.segs);
  const std::string_view how = OwnerHowName(r.owner_how);
  if (!how.empty()) w.KV("owner_from", how);
  w.EndObject();
}

}  // namespace ksight::tcp
