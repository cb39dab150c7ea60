// libFuzzer target for the tcp_retransmit ring record decoder and formatter: any bytes from the
// ring must decode to a record or be refused, and a decoded record (any field values, including
// unknown families, states and kinds, unterminated comm) must format as valid JSON.
// Built and run briefly by ctest (tests/CMakeLists.txt, label fuzz).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "core/json_writer.h"
#include "core/process_info.h"
#include "probes/tcp_retransmit/tcp_record.h"

namespace {

void Format(ksight::tcp::Record r) {
  r.owner.pid = 0;  // keep /proc out of the loop: the formatter is what is fuzzed
  std::string out;
  ksight::JsonWriter w(out);
  ksight::IdentityCache cache{ksight::IdentityCache::Options{}};
  w.BeginObject();
  ksight::tcp::WriteRetransmit(w, r, cache);
  w.EndObject();
  if (!nlohmann::json::accept(out)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The bytes as the ring delivers them: decoded or refused.
  if (auto rec = ksight::tcp::Decode(data, size)) Format(*rec);
  // The bytes as the body of a well-formed record, so every input reaches the formatter.
  ksight::tcp::Record r{};
  std::memcpy(&r, data, std::min(size, sizeof(r)));
  r.hdr.type = KS_REC_TCP_RETRANSMIT;
  r.hdr.size = sizeof(r);
  auto rec = ksight::tcp::Decode(&r, sizeof(r));
  if (!rec) std::abort();  // a well-formed record must decode
  Format(*rec);
  return 0;
}
