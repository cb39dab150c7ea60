// gpu_xid_merge.h - one record per NVIDIA Xid / NVSwitch SXid when two paths report it
// (pure logic: no libbpf).
//
// The driver reports an Xid twice when it has the nvidia:nvidia_dev_xid tracepoint (>= 575.51.02):
// nvErrorLog() prints the "NVRM: Xid (PCI:...): N, pid=.., name=.., <msg>" line first (printk),
// then nv_report_error() fires the tracepoint with the bus id, the code and the same <msg>. The
// NVSwitch driver does the same for SXids. The merger pairs the two observations of one fault:
//   - key: kind (Xid/SXid), normalized PCI bus id, code; BPF timestamps within window_ns;
//   - 1:1: each observation pairs with at most one of the other source (a burst of Xid 13 from
//     one GPU stays a burst), preferring the one with the same message, else the oldest;
//   - the merged record takes pid, process name, MIG ids and "caused by" from the printk line
//     (the tracepoint carries none of them) and says source=tracepoint: the driver itself
//     confirmed it, whereas a printk line can come from anyone who can write /dev/kmsg.
// While the tracepoint of a kind is attached, an observation waits up to window_ns for its twin
// (Expire() releases it alone after that); when it is not, printk observations pass at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "probes/gpu/log_parser.h"

namespace ksight::gpu {

// Where an observation came from: the driver's tracepoint, or its kernel log line as the
// printk:console tracepoint saw it (printk) or as the agent read it from /dev/kmsg (kmsg).
enum class XidSource : uint8_t { kTracepoint, kPrintk, kKmsg };
std::string_view XidSourceName(XidSource s);  // "tracepoint", "printk", "kmsg"
inline bool IsLogSource(XidSource s) { return s != XidSource::kTracepoint; }

// The task on the CPU when the driver (or a /dev/kmsg writer) reported the fault.
struct Reporter {
  uint32_t pid = 0;
  uint32_t tid = 0;
  std::string comm;
};

struct XidObservation {
  uint64_t ts_ns = 0;  // CLOCK_BOOTTIME, from BPF
  XidSource source = XidSource::kPrintk;
  std::variant<XidEvent, SxidEvent> event;
  Reporter reporter;
};

struct MergedXid {
  uint64_t ts_ns = 0;  // the earlier of the two observations
  XidSource source = XidSource::kPrintk;
  bool seen_tracepoint = false;
  bool seen_log = false;                      // the kernel log line was seen ...
  XidSource log_source = XidSource::kPrintk;  // ... through printk:console or /dev/kmsg
  std::variant<XidEvent, SxidEvent> event;
  Reporter reporter;
};

struct XidMergerStats {
  uint64_t observed = 0;      // Add() calls
  uint64_t merged = 0;        // pairs folded into one record
  uint64_t alone = 0;         // released by Expire()/FlushAll() without a twin
  uint64_t passed = 0;        // released at once (no tracepoint for that kind)
  uint64_t pending_full = 0;  // released early because too many were waiting
};

class XidMerger {
 public:
  struct Options {
    bool xid_tracepoint = false;   // nvidia:nvidia_dev_xid is attached
    bool sxid_tracepoint = false;  // nvswitch:nvswitch_dev_sxid is attached
    uint64_t window_ns = 2'000'000'000;
    size_t max_pending = 4096;
  };
  explicit XidMerger(Options opt) : opt_(opt) {}

  // Takes one observation; appends what is ready to out (in no particular order).
  void Add(XidObservation obs, std::vector<MergedXid>& out);
  // Releases what waited longer than the window before now_ns (BPF clock).
  void Expire(uint64_t now_ns, std::vector<MergedXid>& out);
  // Releases everything (agent stopping).
  void FlushAll(std::vector<MergedXid>& out);

  size_t pending() const { return pending_.size(); }
  const XidMergerStats& stats() const { return stats_; }

 private:
  struct Pending {
    XidObservation obs;
    std::string bus;  // normalized bus id: the pairing key with kind and code
    int code = 0;
    bool sxid = false;
  };
  static MergedXid Alone(XidObservation&& o);
  static MergedXid Merge(XidObservation&& a, XidObservation&& b);

  Options opt_;
  std::deque<Pending> pending_;  // oldest first (by arrival)
  XidMergerStats stats_;
};

}  // namespace ksight::gpu
