// output.h - the event stream: schema v1 envelope, seq, per-probe and
// per-sink loss accounting, and the sinks the formatted lines go to.
//
// Counting rules, per probe and per sink, so that for every sink
//   seen == emitted + dropped + queued:
//   seen     every record the probe produced: drained from its ring,
//            generated in user space (rollups), or lost in its BPF ring.
//   emitted  lines this sink wrote in full.
//   dropped  by reason: ring_full / rate_limited (before formatting: every
//            sink counts them), queue_full (this sink's queue was full),
//            sink_error / disk_full / rotation (this sink's write failed).
//   queued   handed to this sink's writer thread, not written yet.
// Lines formatted but not handed to the writers yet are "pending" (Flush()
// hands them over); a heartbeat flushes first, so only `queued` remains.
//
// seq: one per formatted line, the same on every sink. A line that no sink's
// queue can take is dropped before it keeps its seq (queue_full leaves no
// gap when every sink is full, e.g. with one sink). Every line a sink drops
// after that (queue_full while another sink took it, disk_full, sink_error,
// rotation) leaves a gap in that sink, counted in the sink's `seq_gaps`.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_writer.h"
#include "core/sink.h"
#include "core/status.h"
#include "core/writer.h"

namespace ksight {

struct ProbeCounters {
  uint64_t seen = 0;
  uint64_t emitted = 0;
  std::array<uint64_t, kDropReasons> dropped{};
  // Informational, not part of the identity:
  uint64_t bpf_seen = 0;          // records the BPF side tried to send
  uint64_t received = 0;          // records drained from the ring
  uint64_t aggregation_lost = 0;  // in-kernel aggregation updates lost (map full)
  uint64_t dropped_total() const {
    uint64_t t = 0;
    for (uint64_t d : dropped) t += d;
    return t;
  }
};

// One sink's view of one probe.
struct SinkView {
  uint64_t emitted = 0;
  std::array<uint64_t, kDropReasons> dropped{};  // includes the drops before formatting
  uint64_t queued = 0;
  uint64_t dropped_total() const {
    uint64_t t = 0;
    for (uint64_t d : dropped) t += d;
    return t;
  }
};

struct ProbeSnapshot {
  std::string name;
  uint64_t seen = 0;
  uint64_t bpf_seen = 0, received = 0, aggregation_lost = 0;
  std::array<uint64_t, kDropReasons>
      dropped_before_sinks{};   // ring_full, rate_limited, kmsg_overrun
  std::vector<SinkView> sinks;  // index = sink index
};

struct SinkSnapshot {
  std::string name;
  bool file = false;
  std::string_view state;  // ok, disk_full, error
  uint64_t queued_bytes = 0;
  uint64_t queue_size = 0;
  uint64_t seq_gaps = 0;  // lines with a seq this sink did not write
  uint64_t rotations = 0;
};

// Every counter at one instant: exact when taken on the agent thread after
// Flush() (the heartbeat); any thread may take one (e.g. /metrics), where a
// few lines may be between the probe's `seen` and a sink's counters.
struct OutputSnapshot {
  std::vector<ProbeSnapshot> probes;  // index = ProbeId; 0 = "agent"
  std::vector<SinkSnapshot> sinks;
};

struct EnvelopeInfo {
  std::string host_name;
  std::string agent_version;
  std::string instance_id;
};

class Output {
 public:
  explicit Output(EnvelopeInfo info);
  ~Output();
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  // A sink with its own writer thread and queue (queue_bytes). Sinks are added
  // before the first record, or replaced with ReplaceSinks().
  void AddSink(std::unique_ptr<Sink> sink, uint64_t queue_bytes);
  size_t sink_count() const { return sinks_.size(); }

  ProbeId RegisterProbe(std::string name);
  const std::string& probe_name(ProbeId id) const { return probes_[id].name; }
  size_t probe_count() const { return probes_.size(); }

  // Start a record; returns the writer positioned inside the top-level
  // object, after the envelope. ts_unix_ns is the event's own time.
  JsonWriter& Begin(ProbeId probe, std::string_view type, uint64_t ts_unix_ns);
  // Finish the record started by Begin(); flushes when the buffer is large.
  void End();

  // Hand the formatted lines to the sinks' writers.
  void Flush();
  // Backpressure: until the next call, End() may wait this long in total
  // for a full queue to make room before it drops a line (queue_full). The
  // agent grants one drain interval per loop, so a burst waits for the
  // writer (the BPF ring holds what arrives meanwhile) while a stalled sink
  // costs the loop at most that much per cycle. 0 (the default): never wait.
  void AllowWait(std::chrono::nanoseconds budget) { wait_budget_ = budget; }
  // Flush, then wait until every writer wrote (or dropped) what it has.
  bool Settle(std::chrono::milliseconds timeout);
  // Reopen every file sink after what is queued (SIGUSR1). Per sink: the result.
  std::vector<std::pair<std::string, Status>> ReopenFiles(std::chrono::milliseconds timeout);
  // Flush, stop the writers (waiting up to timeout for each), keep the counters.
  void StopSinks(std::chrono::milliseconds timeout);
  // Stop the current sinks and start these (config reload). Counters of
  // sinks with the same name carry over.
  void ReplaceSinks(std::vector<std::pair<std::unique_ptr<Sink>, uint64_t>> sinks,
                    std::chrono::milliseconds timeout);

  // BPF-side counts, as cumulative totals read from the probe's counters map.
  void SetBpfTotals(ProbeId probe, uint64_t bpf_seen, uint64_t ring_full, uint64_t map_full);
  // A ring record reached user space.
  void CountReceived(ProbeId probe) { probes_[probe].received.add(1); }
  // A drop that happened before formatting (ring_full, rate_limited): every sink counts it.
  void CountDrop(ProbeId probe, DropReason r, uint64_t n = 1);

  OutputSnapshot Snapshot() const;
  // The first sink's view (the heartbeat's top-level per-probe numbers).
  ProbeCounters counters(ProbeId probe) const;
  uint64_t next_seq() const { return seq_; }
  size_t buffered_bytes() const { return buf_.size(); }

 private:
  // Written by the agent thread only, read by any.
  struct Counter {
    std::atomic<uint64_t> v{0};
    void add(uint64_t n) {
      v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void set(uint64_t n) { v.store(n, std::memory_order_relaxed); }
    uint64_t get() const { return v.load(std::memory_order_relaxed); }
  };
  struct ProbeEntry {
    std::string name;
    Counter seen, bpf_seen, received, aggregation_lost;
    std::array<Counter, kDropReasons> pre;  // drops before formatting
    uint64_t ring_full_seen = 0;            // already folded into pre
  };
  struct SinkProbe {
    Counter submitted;   // handed to the writer
    Counter queue_full;  // refused at admission
  };
  struct SinkSlot {
    std::unique_ptr<SinkWriter> w;
    std::deque<SinkProbe> probes;
    Counter gaps;  // queue_full lines that kept their seq (another sink took them)
    // Settled counters of an earlier writer with the same name (reload).
    std::vector<SinkProbeCounters> carried;
    // The pending batch: this sink takes its first pending_lines lines.
    size_t pending_lines = 0;
    size_t pending_bytes = 0;
    bool closed = false;
  };

  EnvelopeInfo info_;
  std::string envelope_tail_;  // ,"host":{...},"agent":{...}
  mutable std::mutex mu_;      // the shape of probes_ and sinks_ (not the counters)
  std::deque<ProbeEntry> probes_;
  std::deque<SinkSlot> sinks_;
  std::string buf_;
  std::vector<LineMark> lines_;
  JsonWriter w_;
  ProbeId cur_probe_ = 0;
  size_t line_start_ = 0;
  uint64_t seq_ = 0;
  size_t flush_bytes_ = kFlushBytes;
  std::chrono::nanoseconds wait_budget_{0};
  static constexpr size_t kFlushBytes = size_t{256} << 10;
};

}  // namespace ksight
