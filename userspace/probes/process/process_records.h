// process_records.h - the process probe's pure logic: decoding its ring records, the objects of
// process.exec / process.exit / process.oom_kill, folding floods past the per-interval limit,
// and joining an OOM victim (oom:mark_victim names it by pid) with its exit (which has its
// cgroup). No libbpf: unit-tested and fuzzed alone.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "core/json_writer.h"
#include "core/workload_identity.h"

extern "C" {
#include "process/process.h"
}

namespace ksight::process {

// A wait status (struct ks_proc_exit_rec::exit_code) taken apart.
struct ExitStatus {
  int code = 0;    // exit(code), when signal == 0
  int signal = 0;  // the signal that ended it, 0 = none
  bool core_dumped = false;
};
ExitStatus DecodeExitStatus(uint32_t wait_status);
// "SIGKILL", ..., or "SIG<n>" for a number without a name.
std::string SignalName(int sig);

// argv as the kernel keeps it (NUL-separated, maybe without a final NUL) -> its arguments.
std::vector<std::string_view> SplitArgs(const char* args, size_t len);

// Processes past the per-interval limit, folded by what they share.
struct FoldKey {
  uint16_t type = 0;  // KS_REC_PROC_EXEC / KS_REC_PROC_EXIT
  std::string comm;
  uint64_t cgroup_id = 0;
  uint32_t exit_status = 0;  // exits only
  bool operator<(const FoldKey& o) const {
    return std::tie(type, comm, cgroup_id, exit_status) <
           std::tie(o.type, o.comm, o.cgroup_id, o.exit_status);
  }
};
struct Folded {
  uint64_t count = 0;
  uint64_t first_ns = 0, last_ns = 0;  // CLOCK_BOOTTIME of the first and last folded one
  // The last folded record, as the example the folded record shows.
  std::optional<ks_proc_exec_rec> exec;
  std::optional<ks_proc_exit_rec> exit;
};

class Folder {
 public:
  explicit Folder(uint64_t limit) : limit_(limit) {}
  // True: write this record on its own; false: it was folded (counted in the interval's fold).
  bool Admit(const ks_proc_exec_rec& r);
  bool Admit(const ks_proc_exit_rec& r);
  // The interval's folds (and a fresh allowance for the next interval).
  std::map<FoldKey, Folded> Drain();
  uint64_t folded_total(uint16_t type) const;

 private:
  bool Take(uint16_t type);
  // The fold a record past the limit joins (counted in it); *other: the one past kMaxFolds keys.
  Folded& FoldOf(uint16_t type, const ks_rec_hdr& hdr, const ks_task& t, uint32_t status,
                 bool* other);
  uint64_t limit_;
  uint64_t used_exec_ = 0, used_exit_ = 0;
  uint64_t total_exec_ = 0, total_exit_ = 0;
  std::map<FoldKey, Folded> folds_;
  static constexpr size_t kMaxFolds = 4096;  // distinct keys per interval; then one "other"
};

// An OOM victim waiting for its exit record (which carries its cgroup), or for the deadline.
struct OomKill {
  ks_proc_oom_rec oom{};
  std::optional<ks_proc_exit_rec> exit;  // the victim's exit, when it came
  uint64_t deadline_ns = 0;
};

class OomJoiner {
 public:
  explicit OomJoiner(uint64_t wait_ns) : wait_ns_(wait_ns) {}
  // A victim to wait for; when kMaxPending are waiting already, the one waiting longest is
  // returned to be written now, without its exit (nothing is dropped).
  std::optional<OomKill> OnOom(const ks_proc_oom_rec& r);
  // The victim's exit: the OOM kill it completes, if one is pending for this pid (or an
  // exit marked oom_victim that came without a mark_victim record: a kill all the same).
  std::optional<OomKill> OnExit(const ks_proc_exit_rec& r);
  // Victims whose exit did not come in time (CLOCK_BOOTTIME now).
  std::vector<OomKill> Expired(uint64_t now_ns);
  size_t pending() const { return pending_.size(); }

 private:
  uint64_t wait_ns_;
  std::unordered_map<uint32_t, OomKill> pending_;
  static constexpr size_t kMaxPending = 1024;
};

// The objects of a process.exec record: process (with parent_pid, executable, command_args,
// user), container, k8s.
void WriteExec(JsonWriter& w, const ks_proc_exec_rec& r, IdentityCache& identity,
               int64_t boot_to_unix_ns);
// process.exit: process (with parent_pid, exit, creation, runtime, cpu), container, k8s.
void WriteExit(JsonWriter& w, const ks_proc_exit_rec& r, IdentityCache& identity,
               int64_t boot_to_unix_ns);
// "folded":{"count":..,"first":..,"last":..} of a folded record (this record is the last one).
void WriteFolded(JsonWriter& w, const Folded& f, int64_t boot_to_unix_ns);
// process.oom_kill: process (the victim), container, k8s, oom (trigger, memory, cgroup limit).
// `memory_limit` is the victim cgroup's limit in bytes, when known.
void WriteOomKill(JsonWriter& w, const OomKill& k, IdentityCache& identity,
                  std::optional<uint64_t> memory_limit);

// The memory limit of a cgroup: cgroup v2 "memory.max" ("max" = none) or v1
// "memory.limit_in_bytes" (a huge value = none). nullopt when unlimited or unreadable.
std::optional<uint64_t> ParseMemoryLimit(std::string_view text);

}  // namespace ksight::process
