// job_tracker.cc - see job_tracker.h for the pairing rules.
#include "probes/gpu/job_tracker.h"

#include <iterator>
#include <utility>

namespace ksight::gpu {

size_t JobTracker::KeyHash::operator()(const Key& k) const {
  // splitmix64 finalizer over both halves: seqnos are sequential, contexts often small.
  uint64_t x = k.ctx * 0x9E3779B97F4A7C15ULL ^ k.seqno;
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return static_cast<size_t>(x);
}

JobTracker::JobTracker(size_t max_entries) : max_entries_(max_entries == 0 ? 1 : max_entries) {
  entries_.reserve(max_entries_ < 4096 ? max_entries_ : 4096);
}

std::string JobTracker::RingKey(std::string_view dev, std::string_view ring) {
  std::string key;
  key.reserve(dev.size() + 1 + ring.size());
  key.append(dev);
  key.push_back('\0');
  key.append(ring);
  return key;
}

uint64_t JobTracker::Interval(uint64_t from, uint64_t to) {
  if (to >= from) return to - from;
  ++stats_.clock_skew;
  return 0;
}

JobTracker::Entry& JobTracker::Insert(const Key& key, uint64_t ts_ns) {
  if (entries_.size() >= max_entries_ && !order_.empty()) {
    auto oldest = entries_.find(order_.front());
    if (oldest != entries_.end()) {
      Remove(oldest);
      ++stats_.evicted;
    } else {
      order_.pop_front();  // cannot happen: order_ and entries_ change together
    }
  }
  order_.push_back(key);
  Entry& e = entries_[key];
  e.first_ts = ts_ns;
  e.order = std::prev(order_.end());
  ++stats_.tracked;
  stats_.live = entries_.size();
  return e;
}

void JobTracker::Release(const Entry& e) {
  if (!e.has_queue) return;  // never counted on a ring
  auto it = rings_.find(e.ring_key);
  if (it == rings_.end()) return;
  RingLoad& load = it->second;
  if (e.has_run) {
    if (load.in_flight > 0) --load.in_flight;
  } else {
    if (load.queued > 0) --load.queued;
  }
  if (load.queued == 0 && load.in_flight == 0) rings_.erase(it);
}

void JobTracker::Remove(EntryMap::iterator it) {
  Release(it->second);
  order_.erase(it->second.order);
  entries_.erase(it);
  stats_.live = entries_.size();
}

void JobTracker::on_queue(uint64_t ts_ns, std::string_view ring, std::string_view dev,
                          uint64_t fence_ctx, uint64_t seqno, uint32_t pid, std::string_view comm) {
  ++stats_.queued;
  const Key key{fence_ctx, seqno};
  auto it = entries_.find(key);
  Entry* e = nullptr;
  if (it == entries_.end()) {
    e = &Insert(key, ts_ns);
  } else if (it->second.has_queue) {
    ++stats_.duplicate_queue;
    return;
  } else {
    e = &it->second;  // its run event came first
  }
  e->has_queue = true;
  e->queue_ts = ts_ns;
  e->ring.assign(ring);
  e->device.assign(dev);
  e->ring_key = RingKey(dev, ring);
  if (pid != 0) e->pid = pid;
  if (!comm.empty()) e->comm = std::string(comm);
  RingLoad& load = rings_[e->ring_key];
  e->depth_at_queue = load.queued;
  if (e->has_run) {
    ++load.in_flight;
  } else {
    ++load.queued;
  }
}

void JobTracker::on_run(uint64_t ts_ns, uint64_t fence_ctx, uint64_t seqno) {
  ++stats_.ran;
  const Key key{fence_ctx, seqno};
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    ++stats_.run_without_queue;
    Entry& e = Insert(key, ts_ns);
    e.has_run = true;
    e.run_ts = ts_ns;
    return;
  }
  Entry& e = it->second;
  if (e.has_run) {
    ++stats_.duplicate_run;
    return;
  }
  e.has_run = true;
  e.run_ts = ts_ns;
  if (e.has_queue) {
    RingLoad& load = rings_[e.ring_key];
    if (load.queued > 0) --load.queued;
    e.in_flight_at_run = load.in_flight;
    ++load.in_flight;
  }
}

std::optional<JobRecord> JobTracker::on_done(uint64_t ts_ns, uint64_t fence_ctx, uint64_t seqno) {
  ++stats_.done;
  auto it = entries_.find(Key{fence_ctx, seqno});
  if (it == entries_.end()) {
    ++stats_.done_unmatched;
    return std::nullopt;
  }
  Entry& e = it->second;
  if (!e.has_queue) {
    ++stats_.done_without_queue;
    Remove(it);
    return std::nullopt;
  }
  std::optional<uint64_t> queue_wait;
  std::optional<uint64_t> run;
  if (e.has_run) {
    queue_wait = Interval(e.queue_ts, e.run_ts);
    run = Interval(e.run_ts, ts_ns);
  } else {
    ++stats_.done_without_run;
  }
  // Built in one piece: GCC 12 reports a false maybe-uninitialized for a member-wise
  // move-assignment of optional<string> under ASan.
  JobRecord rec{
      .ring = std::move(e.ring),
      .device = std::move(e.device),
      .fence_ctx = fence_ctx,
      .seqno = seqno,
      .queue_ts_ns = e.queue_ts,
      .done_ts_ns = ts_ns,
      .queue_wait_ns = queue_wait,
      .run_ns = run,
      .total_ns = Interval(e.queue_ts, ts_ns),
      .queue_depth_at_queue = e.depth_at_queue,
      .in_flight_at_run = e.has_run ? e.in_flight_at_run : std::nullopt,
      .pid = e.pid,
      .comm = std::move(e.comm),
  };
  Remove(it);  // uses ring_key, which was not moved from
  ++stats_.emitted;
  return rec;
}

size_t JobTracker::expire(uint64_t now_ns, uint64_t max_age_ns) {
  const uint64_t cutoff = now_ns > max_age_ns ? now_ns - max_age_ns : 0;
  size_t n = 0;
  // Entries sit in arrival order, which is first-seen order up to small reorderings: stop at the
  // first entry young enough to keep.
  while (!order_.empty()) {
    auto it = entries_.find(order_.front());
    if (it == entries_.end()) {
      order_.pop_front();
      continue;
    }
    if (it->second.first_ts >= cutoff) break;
    Remove(it);
    ++stats_.expired;
    ++n;
  }
  return n;
}

RingLoad JobTracker::ring_load(std::string_view dev, std::string_view ring) const {
  auto it = rings_.find(RingKey(dev, ring));
  return it == rings_.end() ? RingLoad{} : it->second;
}

}  // namespace ksight::gpu
