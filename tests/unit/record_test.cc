// The ring record decoding helper (core/record.h): every check that RecordAs() makes, on
// real record types of the ABI, and the malformed-record counter with its /metrics family.
#include "core/record.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/metrics.h"

extern "C" {
#include "gpu/gpu.h"
#include "syscalls/syscalls.h"
}

namespace ksight {
namespace {

// A ring sample: 8-byte aligned, as libbpf hands them out, with room to spare.
struct alignas(8) Sample {
  unsigned char bytes[2 * sizeof(ks_gpu_log_rec)] = {};
  template <typename T>
  T& as() {
    return *reinterpret_cast<T*>(bytes);
  }
};

Sample Syscall(uint16_t type = KS_REC_SYSCALL, uint16_t size = sizeof(ks_syscall_rec)) {
  Sample s;
  auto& r = s.as<ks_syscall_rec>();
  r.hdr.type = type;
  r.hdr.size = size;
  r.nr = 42;
  return s;
}

TEST(RecordAs, AcceptsAWellFormedRecord) {
  Sample s = Syscall();
  RecordError e = RecordError::kType;
  const auto* r = RecordAs<ks_syscall_rec>(s.bytes, sizeof(ks_syscall_rec), KS_REC_SYSCALL, &e);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(e, RecordError::kNone);
  EXPECT_EQ(r->nr, 42u);
  EXPECT_EQ(static_cast<const void*>(r), static_cast<const void*>(s.bytes));  // no copy
}

TEST(RecordAs, RejectsAShortSample) {
  Sample s = Syscall();
  RecordError e{};
  EXPECT_EQ(RecordAs<ks_syscall_rec>(s.bytes, sizeof(ks_syscall_rec) - 1, KS_REC_SYSCALL, &e),
            nullptr);
  EXPECT_EQ(e, RecordError::kShort);
  EXPECT_EQ(RecordAs<ks_syscall_rec>(s.bytes, sizeof(ks_rec_hdr) - 1, KS_REC_SYSCALL, &e), nullptr);
  EXPECT_EQ(e, RecordError::kShort);
  EXPECT_EQ(RecordAs<ks_syscall_rec>(nullptr, 0, KS_REC_SYSCALL, &e), nullptr);
  EXPECT_EQ(e, RecordError::kShort);
}

TEST(RecordAs, RejectsAHeaderSizeLargerThanTheSample) {
  Sample s = Syscall(KS_REC_SYSCALL, sizeof(ks_syscall_rec) + 8);
  RecordError e{};
  EXPECT_EQ(RecordAs<ks_syscall_rec>(s.bytes, sizeof(ks_syscall_rec), KS_REC_SYSCALL, &e), nullptr);
  EXPECT_EQ(e, RecordError::kSize);
}

TEST(RecordAs, FixedRecordsNeedTheExactSize) {
  RecordError e{};
  // Smaller than the type, though the sample is long enough.
  Sample s = Syscall(KS_REC_SYSCALL, sizeof(ks_syscall_rec) - 8);
  EXPECT_EQ(RecordAs<ks_syscall_rec>(s.bytes, sizeof(ks_syscall_rec), KS_REC_SYSCALL, &e), nullptr);
  EXPECT_EQ(e, RecordError::kSize);
  // Larger than the type: not this ABI's record.
  s = Syscall(KS_REC_SYSCALL, sizeof(ks_syscall_rec) + 8);
  EXPECT_EQ(RecordAs<ks_syscall_rec>(s.bytes, sizeof(ks_syscall_rec) + 8, KS_REC_SYSCALL, &e),
            nullptr);
  EXPECT_EQ(e, RecordError::kSize);
  // Smaller than the common header itself.
  s = Syscall(KS_REC_SYSCALL, 4);
  EXPECT_EQ(RecordAs<ks_syscall_rec>(s.bytes, sizeof(ks_syscall_rec), KS_REC_SYSCALL, &e), nullptr);
  EXPECT_EQ(e, RecordError::kSize);
}

TEST(RecordAs, VariableRecordsTakeATail) {
  Sample s = Syscall(KS_REC_SYSCALL, sizeof(ks_syscall_rec) + 8);
  RecordError e{};
  using V = ks_syscall_rec;
  EXPECT_NE((RecordAs<V, RecordLength::kAtLeast>(s.bytes, sizeof(V) + 8, KS_REC_SYSCALL, &e)),
            nullptr);
  EXPECT_EQ(e, RecordError::kNone);
  s = Syscall(KS_REC_SYSCALL, sizeof(V) - 1);
  EXPECT_EQ((RecordAs<V, RecordLength::kAtLeast>(s.bytes, sizeof(V) + 8, KS_REC_SYSCALL, &e)),
            nullptr);
  EXPECT_EQ(e, RecordError::kSize);
}

TEST(RecordAs, RejectsTheWrongType) {
  Sample s = Syscall(KS_REC_TCP_RETRANSMIT);
  RecordError e{};
  EXPECT_EQ(RecordAs<ks_syscall_rec>(s.bytes, sizeof(ks_syscall_rec), KS_REC_SYSCALL, &e), nullptr);
  EXPECT_EQ(e, RecordError::kType);
  // A record of another type and size: its size is checked against what it claims to be.
  Sample g;
  g.as<ks_gpu_job_rec>().hdr = {KS_REC_GPU_JOB, sizeof(ks_gpu_job_rec), 0, 0};
  EXPECT_EQ(RecordAs<ks_gpu_log_rec>(g.bytes, sizeof(ks_gpu_log_rec), KS_REC_GPU_LOG, &e), nullptr);
  EXPECT_EQ(e, RecordError::kSize);
}

TEST(RecordAs, RejectsAMisalignedSample) {
  Sample s;
  ks_syscall_rec r{};
  r.hdr = {KS_REC_SYSCALL, sizeof(r), 0, 0};
  std::memcpy(s.bytes + 4, &r, sizeof(r));
  RecordError e{};
  EXPECT_EQ(RecordAs<ks_syscall_rec>(s.bytes + 4, sizeof(r), KS_REC_SYSCALL, &e), nullptr);
  EXPECT_EQ(e, RecordError::kMisaligned);
}

TEST(PeekRecordHeader, ChecksLengthsOnly) {
  Sample s = Syscall(999);
  ks_rec_hdr h{};
  EXPECT_EQ(PeekRecordHeader(s.bytes, sizeof(ks_syscall_rec), &h), RecordError::kNone);
  EXPECT_EQ(h.type, 999);
  EXPECT_EQ(PeekRecordHeader(s.bytes, 8, &h), RecordError::kShort);
  EXPECT_EQ(PeekRecordHeader(s.bytes, sizeof(ks_syscall_rec) - 1, &h), RecordError::kSize);
}

TEST(MalformedRecords, CountsByReasonAndExportsEveryReason) {
  MalformedRecords m;
  Sample s = Syscall(7);
  m.Count("syscalls", RecordError::kType, s.bytes, sizeof(ks_syscall_rec));
  m.Count("syscalls", RecordError::kType, s.bytes, sizeof(ks_syscall_rec));
  m.Count("syscalls", RecordError::kShort, s.bytes, 3);
  m.Count("syscalls", RecordError::kNone, s.bytes, 3);  // not malformed: not counted
  EXPECT_EQ(m.total(), 3u);
  EXPECT_EQ(m.count(RecordError::kType), 2u);
  EXPECT_EQ(m.count(RecordError::kShort), 1u);

  MetricSet set;
  MetricsSink sink(set, "syscalls");
  m.Metrics(sink, "syscalls");
  const auto& samples = set.samples().at(std::string(metrics::kRingRecordsMalformed));
  ASSERT_EQ(samples.size(), 4u);  // short, size, type, misaligned
  uint64_t type = 0, size = 99;
  for (const auto& smp : samples) {
    EXPECT_EQ(smp.labels.at(0), (std::pair<std::string, std::string>{"probe", "syscalls"}));
    if (smp.labels.at(1).second == "type") type = smp.u;
    if (smp.labels.at(1).second == "size") size = smp.u;
  }
  EXPECT_EQ(type, 2u);
  EXPECT_EQ(size, 0u);
}

}  // namespace
}  // namespace ksight
