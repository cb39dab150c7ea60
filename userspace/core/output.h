// output.h - the event stream: schema v1 envelope, gap-free seq, per-probe
// loss accounting, and the sinks the formatted lines go to.
//
// Counting rules (per probe), so that seen == emitted + dropped:
//   seen     every record the probe produced: drained from its ring,
//            generated in user space (rollups), or lost in its BPF ring.
//   emitted  records written to the sink in full.
//   dropped  by reason: ring_full (BPF), queue_full, sink_error, disk_full.
// Records formatted but not yet flushed are "in flight" (seen, neither
// emitted nor dropped); Flush() settles them.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_writer.h"
#include "core/status.h"

namespace ksight {

enum class DropReason : uint8_t {
  kRingFull,
  kQueueFull,
  kSinkError,
  kDiskFull,
  kRotation,
  kRateLimited,
  kCount,
};
constexpr size_t kDropReasons = static_cast<size_t>(DropReason::kCount);
std::string_view DropReasonName(DropReason r);

using ProbeId = uint16_t;

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

// Where formatted lines go.
class Sink {
 public:
  virtual ~Sink() = default;
  // Write all of data; returns the bytes written before an error and the error.
  virtual size_t Write(std::string_view data, Status& err) = 0;
  // Remove a partial line (n bytes) left by a failed write, where possible.
  virtual void DropTail(size_t /*n*/) {}
  virtual const std::string& name() const = 0;
};

// stdout, or any fd the agent does not own.
std::unique_ptr<Sink> MakeFdSink(int fd, std::string name);
// A JSON-lines file: O_WRONLY|O_APPEND|O_CREAT|O_NOFOLLOW|O_CLOEXEC, mode 0640;
// refuses symlinks and anything but a regular file; creates the directory 0750.
Result<std::unique_ptr<Sink>> OpenFileSink(const std::string& path, unsigned mode = 0640);

struct EnvelopeInfo {
  std::string host_name;
  std::string agent_version;
  std::string instance_id;
};

class Output {
 public:
  Output(EnvelopeInfo info, std::unique_ptr<Sink> sink);

  ProbeId RegisterProbe(std::string name);
  const std::string& probe_name(ProbeId id) const { return probes_[id].name; }
  size_t probe_count() const { return probes_.size(); }

  // Start a record; returns the writer positioned inside the top-level
  // object, after the envelope. ts_unix_ns is the event's own time.
  JsonWriter& Begin(ProbeId probe, std::string_view type, uint64_t ts_unix_ns);
  // Finish the record started by Begin(); flushes when the buffer is large.
  void End();

  // Write buffered lines to the sink.
  void Flush();

  // BPF-side counts, as cumulative totals read from the probe's counters map.
  void SetBpfTotals(ProbeId probe, uint64_t bpf_seen, uint64_t ring_full, uint64_t map_full);
  // A ring record reached user space.
  void CountReceived(ProbeId probe) { probes_[probe].counters.received++; }
  // A drop that happened before formatting (e.g. queue_full).
  void CountDrop(ProbeId probe, DropReason r, uint64_t n = 1);

  const ProbeCounters& counters(ProbeId probe) const { return probes_[probe].counters; }
  uint64_t next_seq() const { return seq_; }
  size_t buffered_bytes() const { return buf_.size(); }

 private:
  struct ProbeEntry {
    std::string name;
    ProbeCounters counters;
    uint64_t ring_full_seen = 0;  // already folded into counters
  };
  struct LineMark {
    uint32_t end;  // offset just past the line's '\n'
    ProbeId probe;
  };

  EnvelopeInfo info_;
  std::string envelope_tail_;  // ,"host":{...},"agent":{...}
  std::unique_ptr<Sink> sink_;
  std::vector<ProbeEntry> probes_;
  std::string buf_;
  std::vector<LineMark> lines_;
  JsonWriter w_;
  ProbeId cur_probe_ = 0;
  uint64_t seq_ = 0;
  static constexpr size_t kFlushBytes = 256 * 1024;
};

}  // namespace ksight
