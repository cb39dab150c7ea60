// record.cc - see record.h.
#include "core/record.h"

#include <spdlog/spdlog.h>

#include <string>

namespace ksight {

std::string_view RecordErrorName(RecordError e) {
  switch (e) {
    case RecordError::kShort:
      return "short";
    case RecordError::kSize:
      return "size";
    case RecordError::kType:
      return "type";
    case RecordError::kMisaligned:
      return "misaligned";
    case RecordError::kNone:
    case RecordError::kCount:
      break;
  }
  return "";
}

void MalformedRecords::Count(std::string_view probe, RecordError e, const void* data, size_t size) {
  const auto i = static_cast<size_t>(e);
  if (i == 0 || i >= kRecordErrors) return;
  const bool first = total() == 0;
  ++by_reason_[i];
  ks_rec_hdr hdr{};
  if (data != nullptr && size >= sizeof(hdr)) std::memcpy(&hdr, data, sizeof(hdr));
  const auto level = first ? spdlog::level::warn : spdlog::level::debug;
  spdlog::log(level,
              "{}: malformed ring record ({}): {} bytes, header type {} size {}; counted in "
              "ksight_ring_records_malformed_total",
              probe, RecordErrorName(e), size, hdr.type, hdr.size);
}

uint64_t MalformedRecords::total() const {
  uint64_t t = 0;
  for (uint64_t n : by_reason_) t += n;
  return t;
}

void MalformedRecords::Metrics(MetricsSink& sink, std::string_view probe) const {
  for (size_t i = 1; i < kRecordErrors; ++i) {
    sink.Counter(metrics::kRingRecordsMalformed,
                 {{"probe", std::string(probe)},
                  {"reason", std::string(RecordErrorName(static_cast<RecordError>(i)))}},
                 by_reason_[i]);
  }
}

}  // namespace ksight
