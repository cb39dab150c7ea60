// gpu_jobs.h - turns the probe's KS_REC_GPU_JOB ring records into finished jobs (pure logic:
// no libbpf). The pairing itself is JobTracker's (job_tracker.h); this adds what the records
// carry beyond it (the device's driver, the DRM client id, the kernel's queue counters) and
// counts dependency events per job, all keyed by the job's finished fence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>

#include "probes/gpu/gpu_records.h"
#include "probes/gpu/job_tracker.h"

extern "C" {
#include "gpu/gpu.h"
}

namespace ksight::gpu {

struct FinishedJob {
  JobRecord record;
  JobExtras extras;
};

class JobAssembler {
 public:
  explicit JobAssembler(size_t max_entries = JobTracker::kDefaultMaxEntries);

  // One ring record; a finished job when it completes one whose queue event was seen.
  std::optional<FinishedJob> OnRecord(const ks_gpu_job_rec& r);
  // Drops jobs (and their extras) first seen more than max_age_ns before now_ns.
  void Expire(uint64_t now_ns, uint64_t max_age_ns);

  const JobTrackerStats& tracker_stats() const { return tracker_.stats(); }
  uint64_t unknown_phases() const { return unknown_phases_; }
  uint64_t extras_dropped() const { return extras_dropped_; }  // at the capacity limit
  size_t extras_size() const { return extras_.size(); }

 private:
  struct Side {
    uint64_t first_ts = 0;
    JobExtras extras;
  };
  struct Key {
    uint64_t ctx;
    uint64_t seqno;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  Side& SideOf(const ks_gpu_job_rec& r);

  size_t max_entries_;
  JobTracker tracker_;
  std::unordered_map<Key, Side, KeyHash> extras_;
  uint64_t unknown_phases_ = 0;
  uint64_t extras_dropped_ = 0;
};

}  // namespace ksight::gpu
