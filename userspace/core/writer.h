// writer.h - one writer thread per sink, fed through a queue bounded in
// bytes. The agent thread formats lines into batches and hands each sink the
// prefix of a batch it admitted (output.h decides admission, so a full queue
// is a counted queue_full drop and memory stays bounded). The writer writes
// whole lines, rotates files between lines, retries a failing sink with a
// backoff (dropping and counting what arrives meanwhile), and counts every
// line as emitted or dropped by reason, per probe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/sink.h"
#include "core/status.h"
#include "core/thread.h"

namespace ksight {

enum class DropReason : uint8_t {
  kRingFull,
  kQueueFull,
  kSinkError,
  kDiskFull,
  kRotation,
  kRateLimited,
  kKmsgOverrun,  // kernel log lines overwritten before the gpu probe read /dev/kmsg
  kCount,
};
constexpr size_t kDropReasons = static_cast<size_t>(DropReason::kCount);
std::string_view DropReasonName(DropReason r);

using ProbeId = uint16_t;

struct LineMark {
  uint32_t end;  // offset just past the line's '\n'
  ProbeId probe;
};

// Formatted lines, shared by every sink that admitted (a prefix of) them.
struct Batch {
  std::string data;
  std::vector<LineMark> lines;
};

// What one sink did with one probe's lines (settled lines only).
struct SinkProbeCounters {
  uint64_t emitted = 0;
  std::array<uint64_t, kDropReasons> dropped{};
  uint64_t dropped_total() const {
    uint64_t t = 0;
    for (uint64_t d : dropped) t += d;
    return t;
  }
};

class SinkWriter {
 public:
  struct Options {
    uint64_t capacity = 16u << 20;  // queued bytes
    std::chrono::milliseconds min_backoff{100};
    std::chrono::milliseconds max_backoff{1000};
  };
  SinkWriter(std::unique_ptr<Sink> sink, Options opt);
  ~SinkWriter();
  SinkWriter(const SinkWriter&) = delete;
  SinkWriter& operator=(const SinkWriter&) = delete;

  // Queue the first nlines lines (nbytes) of b. The caller checked the room.
  void Submit(std::shared_ptr<const Batch> b, size_t nlines, size_t nbytes);
  uint64_t queued_bytes() const { return queued_bytes_.load(std::memory_order_relaxed); }
  uint64_t capacity() const { return opt_.capacity; }

  // Wait until bytes more fit in the queue; false on timeout.
  bool WaitForRoom(uint64_t bytes, std::chrono::nanoseconds timeout);
  // Reopen the sink after everything queued so far; waits up to timeout.
  Status Reopen(std::chrono::milliseconds timeout);
  // Wait until everything queued was written or dropped; false on timeout.
  bool Settle(std::chrono::milliseconds timeout);
  // Stop: write what is queued (up to timeout), then give up on a stalled
  // sink, counting what is left as sink_error.
  void Stop(std::chrono::milliseconds timeout);

  // Settled counters per probe (index = ProbeId); thread-safe.
  std::vector<SinkProbeCounters> Counters() const;
  const std::string& name() const { return sink_->name(); }
  bool is_file() const { return sink_->is_file(); }
  uint64_t rotations() const { return sink_->rotations(); }
  // "ok", "disk_full" or "error" (the last write failed; retrying).
  std::string_view state() const;

 private:
  struct Entry {
    std::shared_ptr<const Batch> batch;
    size_t nlines = 0;
    size_t nbytes = 0;
    std::shared_ptr<std::promise<Status>> reopen;
  };
  void Loop();
  void Process(const Entry& e);
  void Account(const Batch& b, size_t from, size_t to, int reason /* -1 = emitted */,
               std::vector<SinkProbeCounters>& delta);

  std::unique_ptr<Sink> sink_;
  Options opt_;
  std::atomic<uint64_t> queued_bytes_{0};

  mutable std::mutex mu_;  // q_, busy_, stop_
  std::condition_variable cv_, idle_cv_;
  std::deque<Entry> q_;
  bool busy_ = false;
  bool stop_ = false;
  std::atomic<bool> abort_{false};
  std::atomic<bool> exited_{false};

  mutable std::mutex cnt_mu_;
  std::vector<SinkProbeCounters> counters_;

  // Writer thread only.
  bool failing_ = false;
  DropReason fail_reason_ = DropReason::kSinkError;
  std::chrono::steady_clock::time_point retry_at_{};
  std::chrono::milliseconds backoff_{0};
  uint64_t dropped_while_failing_ = 0;
  std::atomic<uint8_t> state_{0};

  Thread thread_;  // not std::thread: see core/thread.h
};

}  // namespace ksight
