// sink.h - where formatted lines end up: stdout (any fd the agent does not
// own) or a JSON-lines file with size-based rotation by rename-and-create,
// N backups, optional gzip compression of backups off the write path, and a
// total disk budget. Sinks are used by one writer thread each (writer.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ksight {

class Sink {
 public:
  virtual ~Sink() = default;
  // Write all of data; returns the bytes written before an error and the error.
  virtual size_t Write(std::string_view data, Status& err) = 0;
  // Remove a partial line (n bytes) left by a failed write, where possible.
  virtual void DropTail(size_t /*n*/) {}
  virtual const std::string& name() const = 0;
  virtual bool is_file() const { return false; }
  // Bytes that fit before a rotation is due (UINT64_MAX: never rotates).
  virtual uint64_t RoomBeforeRotation() const { return UINT64_MAX; }
  // Bytes in the current file (0 for streams).
  virtual uint64_t size() const { return 0; }
  // Rename-and-create. On failure the sink keeps writing to the current file.
  virtual Status Rotate() { return {}; }
  // Reopen the path (logrotate `create` mode). On failure the old fd stays.
  virtual Status Reopen() { return {}; }
  virtual uint64_t rotations() const { return 0; }
  // Make a blocked or interrupted Write() give up (shutdown of a stalled sink).
  void Abort() { abort_.store(true); }
  bool aborted() const { return abort_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> abort_{false};
};

// stdout, or any fd the agent does not own.
std::unique_ptr<Sink> MakeFdSink(int fd, std::string name);

struct FileSinkOptions {
  unsigned mode = 0640;
  uint64_t max_size = 0;        // rotate before a file would exceed this (0 = never)
  uint32_t max_backups = 5;     // events.jsonl.1 .. .N
  bool compress = false;        // gzip backups (events.jsonl.N.gz) in a background thread
  uint64_t max_total_size = 0;  // current file + backups; oldest backups deleted (0 = no cap)
};

// A JSON-lines file: O_WRONLY|O_APPEND|O_CREAT|O_NOFOLLOW|O_CLOEXEC, mode 0640;
// refuses symlinks, anything but a regular file, and files owned by another
// user; creates the directory 0750.
Result<std::unique_ptr<Sink>> OpenFileSink(const std::string& path,
                                           const FileSinkOptions& opt = {});

// The backups of one file: events.jsonl.1 (newest) .. .N, each maybe .gz.
// Pure file-system logic, unit-tested. Not thread-safe: the owner locks.
class BackupSet {
 public:
  struct Entry {
    uint64_t id = 0;     // stable across renames
    uint32_t index = 0;  // the N in base.N
    bool compressed = false;
    uint64_t size = 0;
  };
  explicit BackupSet(std::string base) : base_(std::move(base)) {}

  // Read existing backups of base (base.N and base.N.gz) from the directory.
  void Scan();
  // Make room for a new .1: rename every backup to index + 1 (oldest first),
  // deleting those that would exceed max_backups. Returns the first error.
  Status Shift(uint32_t max_backups);
  // base (already renamed to base.1 by the caller) is now the newest backup.
  uint64_t AddNewest(uint64_t size);
  // Delete the oldest backups until current_size + backups <= max_total.
  // Returns the number of files deleted.
  size_t EnforceBudget(uint64_t current_size, uint64_t max_total);
  // Where a backup lives now; empty when it was deleted.
  std::string PathOf(uint64_t id) const;
  // A compressed copy of backup id was written to tmp: move it in place.
  Status FinishCompression(uint64_t id, const std::string& tmp, uint64_t compressed_size);

  std::string Name(uint32_t index, bool compressed) const;
  const std::deque<Entry>& entries() const { return entries_; }  // newest first
  uint64_t total_size() const;

 private:
  std::string base_;
  std::deque<Entry> entries_;
  uint64_t next_id_ = 1;
};

// gzip src into dst (created 0600 then chmod mode); pure, unit-tested.
Status GzipFile(int src_fd, const std::string& dst, unsigned mode);

}  // namespace ksight
