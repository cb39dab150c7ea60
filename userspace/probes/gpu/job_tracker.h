// job_tracker.h - pairs DRM scheduler events (queue -> run -> done) into one record per job.
//
// The gpu_scheduler tracepoints (drm_sched_job / drm_run_job / drm_sched_process_job up to 6.16,
// drm_sched_job_queue / drm_sched_job_run / drm_sched_job_done from 6.17) identify a job by its
// finished fence: (fence context, seqno). The tracker keeps one entry per job between its events
// and, per ring, how many jobs wait in the queue (queued, not yet run) and how many the hardware
// holds (run, not yet done).
//
// Events get lost (a full ring buffer, an agent that attached mid-stream) and arrive slightly out
// of order (per-CPU clocks, several producers). The rules:
//   queue, run, done           -> a record with queue wait and run time
//   queue, done (run missed)   -> a record without run timing (done_without_run)
//   run before queue           -> kept; the queue event fills it in later (run_without_queue)
//   done without a queue event -> no record: its ring is unknown (done_without_queue)
//   done for an unknown job    -> no record (done_unmatched)
//   repeated queue or run      -> ignored (duplicate_queue, duplicate_run)
//   a negative interval        -> clamped to 0 (clock_skew)
// Memory is bounded: at max_entries the oldest entry is evicted (evicted); expire() drops entries
// whose later events never came (expired). Every entry ends in exactly one of: a record
// (emitted), done_without_queue, evicted, expired, or still live:
//   tracked == emitted + done_without_queue + evicted + expired + live
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ksight::gpu {

struct JobRecord {
  std::string ring;    // scheduler name: "gfx_0.0.0", "sdma0", "vgem"...
  std::string device;  // the device name the queue event gave
  uint64_t fence_ctx = 0;
  uint64_t seqno = 0;
  uint64_t queue_ts_ns = 0;  // timestamps as given to on_queue / on_done
  uint64_t done_ts_ns = 0;
  std::optional<uint64_t> queue_wait_ns;  // run - queue; absent when the run event was missed
  std::optional<uint64_t> run_ns;         // done - run; absent when the run event was missed
  uint64_t total_ns = 0;                  // done - queue
  // Jobs on the same ring queued and not yet run when this one was queued (not counting it).
  uint32_t queue_depth_at_queue = 0;
  // Jobs on the same ring running and not yet done when this one started (not counting it);
  // absent when the run event was missed or came before the queue event.
  std::optional<uint32_t> in_flight_at_run;
  std::optional<uint32_t> pid;  // the submitting process, when the queue event had it
  std::optional<std::string> comm;
};

struct JobTrackerStats {
  uint64_t queued = 0;   // on_queue calls
  uint64_t ran = 0;      // on_run calls
  uint64_t done = 0;     // on_done calls
  uint64_t tracked = 0;  // entries created (by a queue, or by a run seen first)
  uint64_t emitted = 0;  // records returned by on_done
  uint64_t duplicate_queue = 0;
  uint64_t duplicate_run = 0;
  uint64_t run_without_queue = 0;   // a run for a job whose queue event had not been seen
  uint64_t done_without_run = 0;    // records emitted without run timing
  uint64_t done_without_queue = 0;  // dones dropped because the queue event never came
  uint64_t done_unmatched = 0;      // dones for a job never seen (or already done)
  uint64_t evicted = 0;             // entries dropped at the capacity limit
  uint64_t expired = 0;             // entries dropped by expire()
  uint64_t clock_skew = 0;          // intervals that came out negative and were clamped to 0
  uint64_t live = 0;                // entries held now
};

// What a ring holds right now.
struct RingLoad {
  uint32_t queued = 0;     // queued, not yet run
  uint32_t in_flight = 0;  // run, not yet done
};

class JobTracker {
 public:
  static constexpr size_t kDefaultMaxEntries = 16384;

  explicit JobTracker(size_t max_entries = kDefaultMaxEntries);
  // Entries hold iterators into the tracker's own list: moving keeps them valid, copying would not.
  JobTracker(const JobTracker&) = delete;
  JobTracker& operator=(const JobTracker&) = delete;
  JobTracker(JobTracker&&) = default;
  JobTracker& operator=(JobTracker&&) = default;

  // A job was queued on ring `ring` of device `dev`. pid 0 and an empty comm mean unknown.
  void on_queue(uint64_t ts_ns, std::string_view ring, std::string_view dev, uint64_t fence_ctx,
                uint64_t seqno, uint32_t pid, std::string_view comm);
  // The scheduler handed the job to the hardware.
  void on_run(uint64_t ts_ns, uint64_t fence_ctx, uint64_t seqno);
  // The job's fence signaled. Returns the job's record when its queue event was seen.
  std::optional<JobRecord> on_done(uint64_t ts_ns, uint64_t fence_ctx, uint64_t seqno);

  // Drops entries first seen more than max_age_ns before now_ns (their done never came).
  // Returns how many it dropped.
  size_t expire(uint64_t now_ns, uint64_t max_age_ns);

  const JobTrackerStats& stats() const { return stats_; }
  RingLoad ring_load(std::string_view dev, std::string_view ring) const;
  size_t size() const { return entries_.size(); }
  size_t max_entries() const { return max_entries_; }

 private:
  struct Key {
    uint64_t ctx;
    uint64_t seqno;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Entry {
    std::string ring;
    std::string device;
    std::string ring_key;  // device + '\0' + ring: the RingLoad map's key
    uint64_t first_ts = 0;
    uint64_t queue_ts = 0;
    uint64_t run_ts = 0;
    bool has_queue = false;
    bool has_run = false;
    uint32_t depth_at_queue = 0;
    std::optional<uint32_t> in_flight_at_run;
    std::optional<uint32_t> pid;
    std::optional<std::string> comm;
    std::list<Key>::iterator order;
  };
  using EntryMap = std::unordered_map<Key, Entry, KeyHash>;

  static std::string RingKey(std::string_view dev, std::string_view ring);
  // Creates an entry (evicting the oldest at capacity).
  Entry& Insert(const Key& key, uint64_t ts_ns);
  // Takes the entry out of its ring's counts, then out of the maps.
  void Remove(EntryMap::iterator it);
  void Release(const Entry& e);
  uint64_t Interval(uint64_t from, uint64_t to);

  size_t max_entries_;
  EntryMap entries_;
  std::list<Key> order_;  // oldest first
  std::unordered_map<std::string, RingLoad> rings_;
  JobTrackerStats stats_;
};

}  // namespace ksight::gpu
