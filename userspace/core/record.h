// record.h - the one way to read a ring record (pure logic: no libbpf).
//
// Every record starts with struct ks_rec_hdr (bpf/include/ksight_abi.h). Before a probe uses
// a record as its type T, RecordAs<T>() checks, in this order:
//   - the ring sample holds at least the header and at least sizeof(T) bytes   (short)
//   - hdr.size is no more than the sample (the header does not overstate it)  (size)
//   - hdr.size matches T: equal for a fixed record (every record today: the BPF side reserves
//     sizeof(T)), at least sizeof(T) for a record with a variable tail        (size)
//   - hdr.type is the type the caller expects                                  (type)
//   - the sample is aligned for T (libbpf hands out 8-byte aligned samples)    (misaligned)
// and returns a typed pointer into the sample, or nullptr with the reason. Malformed records
// are counted by reason (MalformedRecords), never silently ignored: only a BPF object from
// another build, or a bug, can send one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/metrics.h"

extern "C" {
#include "ksight_abi.h"
}

namespace ksight {

enum class RecordError : uint8_t { kNone, kShort, kSize, kType, kMisaligned, kCount };
constexpr size_t kRecordErrors = static_cast<size_t>(RecordError::kCount);
// "short", "size", "type", "misaligned" ("" for kNone).
std::string_view RecordErrorName(RecordError e);

// How hdr.size must relate to sizeof(T).
enum class RecordLength : uint8_t {
  kFixed,    // hdr.size == sizeof(T)
  kAtLeast,  // hdr.size >= sizeof(T): T is followed by a variable-length tail
};

// The header of a sample, checked for length (short, size) only: for a probe with several
// record types, to choose which RecordAs<T>() to call. Returns kNone and fills *hdr if sane.
// (Inline, as is RecordAs: decoders that are fuzzed alone need no more than this header.)
inline RecordError PeekRecordHeader(const void* data, size_t size, ks_rec_hdr* hdr) {
  if (data == nullptr || size < sizeof(ks_rec_hdr)) return RecordError::kShort;
  std::memcpy(hdr, data, sizeof(*hdr));
  if (hdr->size < sizeof(ks_rec_hdr) || hdr->size > size) return RecordError::kSize;
  return RecordError::kNone;
}

template <typename T, RecordLength L = RecordLength::kFixed>
const T* RecordAs(const void* data, size_t size, uint16_t type, RecordError* error = nullptr) {
  static_assert(offsetof(T, hdr) == 0, "a ring record starts with struct ks_rec_hdr");
  const auto fail = [&](RecordError e) -> const T* {
    if (error != nullptr) *error = e;
    return nullptr;
  };
  if (data == nullptr || size < sizeof(T)) return fail(RecordError::kShort);
  ks_rec_hdr hdr;
  if (const RecordError e = PeekRecordHeader(data, size, &hdr); e != RecordError::kNone)
    return fail(e);
  if (L == RecordLength::kFixed ? hdr.size != sizeof(T) : hdr.size < sizeof(T))
    return fail(RecordError::kSize);
  if (hdr.type != type) return fail(RecordError::kType);
  if (reinterpret_cast<uintptr_t>(data) % alignof(T) != 0) return fail(RecordError::kMisaligned);
  if (error != nullptr) *error = RecordError::kNone;
  return static_cast<const T*>(data);
}

// Malformed ring records of one probe, by reason. The first one is logged as a warning (it
// means the BPF object and the agent disagree), the rest at debug; all are counted and
// exported as ksight_ring_records_malformed_total{probe,reason}.
class MalformedRecords {
 public:
  void Count(std::string_view probe, RecordError e, const void* data, size_t size);
  uint64_t total() const;
  uint64_t count(RecordError e) const { return by_reason_[static_cast<size_t>(e)]; }
  // One sample per reason, zeros included, so the family never vanishes for a probe.
  void Metrics(MetricsSink& sink, std::string_view probe) const;

 private:
  std::array<uint64_t, kRecordErrors> by_reason_{};
};

}  // namespace ksight
