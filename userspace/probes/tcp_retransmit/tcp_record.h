// tcp_record.h - the tcp_retransmit probe's ring record: decoding, names
// and the JSON objects of `tcp.retransmit` (pure logic: no libbpf).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/json_writer.h"
#include "core/process_info.h"

extern "C" {
#include "tcp_retransmit/tcp_retransmit.h"
}

namespace ksight::tcp {

// The record as the BPF side lays it out (checked by static_asserts in tcp_record.cc).
using Record = ks_tcp_retransmit_rec;

// A copy of the record, or nullopt if it fails the checks of RecordAs() (core/record.h).
std::optional<Record> Decode(const void* data, size_t size);

// "ESTABLISHED", "SYN_SENT", ... (include/net/tcp_states.h without TCP_), or "UNKNOWN".
std::string_view StateName(uint32_t state);
// "retransmit", "synack", "tlp", or "unknown".
std::string_view KindName(uint32_t kind);
// process.source: "socket_owner", "on_cpu", "unknown".
std::string_view OwnerSourceName(uint32_t source);
// tcp.owner_from: "connect", "listen", "listener", or "" (not from the owner map).
std::string_view OwnerHowName(uint32_t how);

// One endpoint as text. A v4-mapped IPv6 address (::ffff:a.b.c.d) is shown as IPv4.
struct Address {
  char text[46] = {};  // INET6_ADDRSTRLEN
  bool ipv6 = false;
  std::string_view view() const { return text; }
};
Address FormatAddress(uint16_t family, const uint8_t (&bytes)[16]);

// network.type of the record: "ipv6" unless both ends are IPv4 (or v4-mapped).
std::string_view NetworkType(const Record& r);

// The type-specific objects of one `tcp.retransmit` record: process,
// source, destination, network, tcp.
void WriteRetransmit(JsonWriter& w, const Record& r, IdentityCache& identity);

// source, destination and network objects (shared with tcp.retransmit.stats).
void WriteEndpoints(JsonWriter& w, const Record& r);

}  // namespace ksight::tcp
