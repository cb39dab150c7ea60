// kmsg.h - the kernel log read from /dev/kmsg: the gpu probe's printk source on kernels whose
// printk:console tracepoint fires only for the lines a console prints (see gpu_plan.h).
//
// /dev/kmsg (Documentation/ABI/testing/dev-kmsg): every read() returns one record,
//   "PRI,SEQ,TS_USEC,FLAGS[,...];TEXT\n" then optional " KEY=VALUE\n" dictionary lines,
// PRI = facility * 8 + level, SEQ the record's 64-bit sequence number, TS_USEC the printk
// time stamp (local_clock(), microseconds since boot). Bytes outside printable ASCII are
// escaped as \xNN. read() fails with EPIPE when the records after the reader's position were
// overwritten (the reader moves on to the oldest record still stored) and EAGAIN (O_NONBLOCK)
// when there is nothing new.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ksight::gpu {

struct KmsgRecord {
  int level = 0;     // 0 (emerg) .. 7 (debug)
  int facility = 0;  // 0 = kernel, 1 = user (a /dev/kmsg writer without a facility) ...
  uint64_t seq = 0;
  uint64_t ts_usec = 0;
  std::string text;  // the message, \xNN escapes decoded, without the dictionary lines
};

// One record as read() returns it; nullopt when it is not in that format.
std::optional<KmsgRecord> ParseKmsgRecord(std::string_view rec);

// Which records are new, and how many were lost: records are delivered in sequence order,
// so a jump in SEQ is records that were overwritten before they were read (while the agent
// ran, or while it was stopped when resumed from a saved position). A record at or before
// the last one delivered (read again after a restart) is not new.
class KmsgCursor {
 public:
  // Continue after `seq` (the last record delivered before a restart, same boot).
  void ResumeAfter(uint64_t seq) {
    last_ = seq;
    have_last_ = true;
  }
  // True when the record is new (deliver it); counts the records skipped before it.
  bool Accept(uint64_t seq);
  bool has_last() const { return have_last_; }
  uint64_t last() const { return last_; }
  uint64_t lost() const { return lost_; }

 private:
  uint64_t last_ = 0;
  bool have_last_ = false;
  uint64_t lost_ = 0;
};

// The saved position: "<boot_id> <seq>\n". A position of another boot (or unreadable text)
// gives nullopt: the sequence numbers restart with each boot.
std::string KmsgStateText(std::string_view boot_id, uint64_t seq);
std::optional<uint64_t> KmsgStateSeq(std::string_view text, std::string_view boot_id);

// Reads /dev/kmsg without blocking. Open() positions at the end (nothing old is reported)
// unless a state file from this boot names the last record delivered: then at that record's
// successor, with any records overwritten meanwhile counted as lost. Poll() delivers every
// new record; Save() writes the position (called at each rollup and at stop).
class KmsgReader {
 public:
  struct Options {
    std::string path = "/dev/kmsg";
    std::string state_file;  // "" = no saved position (start at the end every time)
    std::string boot_id;     // /proc/sys/kernel/random/boot_id
  };
  KmsgReader() = default;
  ~KmsgReader();
  KmsgReader(const KmsgReader&) = delete;
  KmsgReader& operator=(const KmsgReader&) = delete;

  Status Open(Options opt);
  // Every record available now, in order; returns how many were delivered.
  size_t Poll(const std::function<void(const KmsgRecord&)>& deliver);
  // Write the position to the state file (no-op without one); the error, if any.
  Status Save();

  bool open() const { return fd_ >= 0; }
  bool resumed() const { return resumed_; }
  uint64_t lost() const { return cursor_.lost(); }       // records overwritten before read
  uint64_t malformed() const { return malformed_; }      // records not in the kmsg format
  uint64_t read_errors() const { return read_errors_; }  // read() errors other than EPIPE

 private:
  Options opt_;
  int fd_ = -1;
  bool resumed_ = false;
  KmsgCursor cursor_;
  uint64_t saved_ = UINT64_MAX;
  uint64_t malformed_ = 0;
  uint64_t read_errors_ = 0;
};

// This boot's id (/proc/sys/kernel/random/boot_id, trimmed), "" when unreadable.
std::string ReadBootId();

}  // namespace ksight::gpu
