// gpu_jobs.cc - see gpu_jobs.h.
#include "probes/gpu/gpu_jobs.h"

#include <cstring>
#include <string_view>

namespace ksight::gpu {
namespace {

std::string_view Field(const char* p, size_t n) { return {p, strnlen(p, n)}; }

}  // namespace

JobAssembler::JobAssembler(size_t max_entries)
    : max_entries_(max_entries == 0 ? 1 : max_entries), tracker_(max_entries_) {}

size_t JobAssembler::KeyHash::operator()(const Key& k) const {
  uint64_t x = k.ctx * 0x9E3779B97F4A7C15ULL ^ k.seqno;
  x ^= x >> 31;
  return static_cast<size_t>(x * 0xBF58476D1CE4E5B9ULL);
}

JobAssembler::Side& JobAssembler::SideOf(const ks_gpu_job_rec& r) {
  if (extras_.size() >= max_entries_ && !extras_.count(Key{r.fence_ctx, r.fence_seqno})) {
    // Bounded like the tracker: forget everything rather than grow (jobs whose done never came).
    extras_dropped_ += extras_.size();
    extras_.clear();
  }
  auto [it, fresh] = extras_.try_emplace(Key{r.fence_ctx, r.fence_seqno});
  if (fresh) it->second.first_ts = r.hdr.ts_ns;
  return it->second;
}

std::optional<FinishedJob> JobAssembler::OnRecord(const ks_gpu_job_rec& r) {
  switch (r.phase) {
    case KS_GPU_JOB_QUEUE: {
      JobExtras& x = SideOf(r).extras;
      x.driver = std::string(Field(r.driver, sizeof(r.driver)));
      if (r.client_id) x.client_id = r.client_id;
      x.job_count = r.job_count;
      if (r.hw_job_count >= 0) x.hw_job_count = r.hw_job_count;
      tracker_.on_queue(r.hdr.ts_ns, Field(r.ring, sizeof(r.ring)), Field(r.dev, sizeof(r.dev)),
                        r.fence_ctx, r.fence_seqno, r.task.pid,
                        Field(r.task.comm, sizeof(r.task.comm)));
      return std::nullopt;
    }
    case KS_GPU_JOB_RUN:
      tracker_.on_run(r.hdr.ts_ns, r.fence_ctx, r.fence_seqno);
      return std::nullopt;
    case KS_GPU_JOB_DEP:
      SideOf(r).extras.dependencies++;
      return std::nullopt;
    case KS_GPU_JOB_DONE: {
      auto rec = tracker_.on_done(r.hdr.ts_ns, r.fence_ctx, r.fence_seqno);
      JobExtras x;
      if (auto it = extras_.find(Key{r.fence_ctx, r.fence_seqno}); it != extras_.end()) {
        x = std::move(it->second.extras);
        extras_.erase(it);
      }
      if (!rec) return std::nullopt;
      return FinishedJob{std::move(*rec), std::move(x)};
    }
    default:
      ++unknown_phases_;
      return std::nullopt;
  }
}

void JobAssembler::Expire(uint64_t now_ns, uint64_t max_age_ns) {
  tracker_.expire(now_ns, max_age_ns);
  for (auto it = extras_.begin(); it != extras_.end();) {
    if (now_ns > it->second.first_ts && now_ns - it->second.first_ts > max_age_ns) {
      it = extras_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace ksight::gpu
