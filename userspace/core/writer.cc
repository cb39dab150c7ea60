#include "core/writer.h"

#include <pthread.h>
#include <csignal>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

namespace ksight {

std::string_view DropReasonName(DropReason r) {
  switch (r) {
    case DropReason::kRingFull:
      return "ring_full";
    case DropReason::kQueueFull:
      return "queue_full";
    case DropReason::kSinkError:
      return "sink_error";
    case DropReason::kDiskFull:
      return "disk_full";
    case DropReason::kRotation:
      return "rotation";
    case DropReason::kRateLimited:
      return "rate_limited";
    case DropReason::kKmsgOverrun:
      return "kmsg_overrun";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

namespace {

// SIGUSR2 interrupts a writer blocked in write() on a stalled pipe at stop.
// No SA_RESTART, so the write returns EINTR (or a short count).
constexpr int kWakeSignal = SIGUSR2;
void OnWake(int) {}
void InstallWakeHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = OnWake;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    // Without the handler, the wake signal's default action would kill the agent.
    if (sigaction(kWakeSignal, &sa, nullptr) != 0) {
      std::fprintf(stderr, "ksight: cannot install the writer wake handler: %s\n",
                   std::strerror(errno));
      std::abort();
    }
  });
}

}  // namespace

SinkWriter::SinkWriter(std::unique_ptr<Sink> sink, Options opt)
    : sink_(std::move(sink)), opt_(opt) {
  InstallWakeHandler();
  backoff_ = opt_.min_backoff;
  // The writer never takes the agent's signals (SIGINT, SIGTERM, SIGHUP,
  // SIGUSR1 go to its signalfd): it starts with all but the wake signal blocked.
  sigset_t all, old;
  sigfillset(&all);
  sigdelset(&all, kWakeSignal);
  // Both fail only for a bad `how` (EINVAL): a writer that took SIGTERM would kill the agent
  // without its stop sequence, so a failure is fatal, not ignored.
  if (const int rc = pthread_sigmask(SIG_BLOCK, &all, &old); rc != 0) {
    std::fprintf(stderr, "ksight: pthread_sigmask: %s\n", std::strerror(rc));
    std::abort();
  }
  thread_ = Thread([this] { Loop(); });
  if (const int rc = pthread_sigmask(SIG_SETMASK, &old, nullptr); rc != 0) {
    std::fprintf(stderr, "ksight: pthread_sigmask: %s\n", std::strerror(rc));
    std::abort();
  }
}

SinkWriter::~SinkWriter() { Stop(std::chrono::seconds(5)); }

void SinkWriter::Submit(std::shared_ptr<const Batch> b, size_t nlines, size_t nbytes) {
  if (nlines == 0) return;
  queued_bytes_.fetch_add(nbytes, std::memory_order_relaxed);
  {
    std::lock_guard lk(mu_);
    q_.push_back({std::move(b), nlines, nbytes, nullptr});
  }
  cv_.notify_one();
}

Status SinkWriter::Reopen(std::chrono::milliseconds timeout) {
  auto p = std::make_shared<std::promise<Status>>();
  auto f = p->get_future();
  {
    std::lock_guard lk(mu_);
    if (stop_) return Status::Error("the writer is stopping");
    q_.push_back({nullptr, 0, 0, p});
  }
  cv_.notify_one();
  if (f.wait_for(timeout) != std::future_status::ready)
    return Status::Error(fmt::format("{}: the writer is busy; it reopens when it is free", name()));
  return f.get();
}

bool SinkWriter::WaitForRoom(uint64_t bytes, std::chrono::nanoseconds timeout) {
  std::unique_lock lk(mu_);
  return idle_cv_.wait_for(lk, timeout,
                           [&] { return queued_bytes() + bytes <= opt_.capacity || stop_; });
}

bool SinkWriter::Settle(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return idle_cv_.wait_for(lk, timeout, [&] { return q_.empty() && !busy_; });
}

void SinkWriter::Stop(std::chrono::milliseconds timeout) {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (!Settle(timeout)) {
    spdlog::warn("{}: not writable for {} ms at stop; dropping what is still queued", name(),
                 timeout.count());
    abort_.store(true);
    sink_->Abort();
  }
  // Interrupt a write blocked on a stalled pipe until the thread is out.
  while (!exited_.load()) {
    if (abort_.load()) pthread_kill(thread_.native_handle(), kWakeSignal);
    std::unique_lock lk(mu_);
    idle_cv_.wait_for(lk, std::chrono::milliseconds(20));
  }
  thread_.join();
}

std::vector<SinkProbeCounters> SinkWriter::Counters() const {
  std::lock_guard lk(cnt_mu_);
  return counters_;
}

std::string_view SinkWriter::state() const {
  switch (state_.load()) {
    case 1:
      return "disk_full";
    case 2:
      return "error";
    default:
      return "ok";
  }
}

void SinkWriter::Loop() {
  for (;;) {
    Entry e;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !q_.empty(); });
      if (q_.empty()) break;  // stopping, nothing left
      e = std::move(q_.front());
      q_.pop_front();
      busy_ = true;
    }
    if (e.reopen) {
      e.reopen->set_value(abort_.load() ? Status::Error("stopping") : sink_->Reopen());
    } else {
      Process(e);
    }
    {
      std::lock_guard lk(mu_);
      queued_bytes_.fetch_sub(e.nbytes, std::memory_order_relaxed);
      busy_ = false;
    }
    e = {};  // release the batch before telling anyone we are idle
    idle_cv_.notify_all();
  }
  exited_.store(true);
  idle_cv_.notify_all();
}

void SinkWriter::Account(const Batch& b, size_t from, size_t to, int reason,
                         std::vector<SinkProbeCounters>& delta) {
  for (size_t i = from; i < to; ++i) {
    const ProbeId p = b.lines[i].probe;
    if (delta.size() <= p) delta.resize(p + 1u);
    if (reason < 0) {
      delta[p].emitted++;
    } else {
      delta[p].dropped[static_cast<size_t>(reason)]++;
    }
  }
}

void SinkWriter::Process(const Entry& e) {
  const Batch& b = *e.batch;
  const size_t n = e.nlines;
  std::vector<SinkProbeCounters> delta;
  auto start_of = [&](size_t i) -> size_t { return i == 0 ? 0 : b.lines[i - 1].end; };
  const auto now = std::chrono::steady_clock::now();
  size_t i = 0;
  if (abort_.load()) {
    Account(b, 0, n, static_cast<int>(DropReason::kSinkError), delta);
    i = n;
  } else if (failing_ && now < retry_at_) {
    // The sink failed recently: do not hammer it; these lines are lost to the same cause.
    Account(b, 0, n, static_cast<int>(fail_reason_), delta);
    dropped_while_failing_ += n;
    i = n;
  }
  bool rotate_failed = false;
  while (i < n) {
    // The longest run of whole lines that fits before the rotation limit.
    const uint64_t room = rotate_failed ? UINT64_MAX : sink_->RoomBeforeRotation();
    size_t j = i;
    const size_t base = start_of(i);
    while (j < n && b.lines[j].end - base <= room) ++j;
    if (j == i) {
      if (sink_->size() > 0) {
        if (!sink_->Rotate().ok()) rotate_failed = true;
        continue;
      }
      j = i + 1;  // one line larger than the limit: it gets a file of its own
    }
    const size_t end = b.lines[j - 1].end;
    Status err;
    const size_t written = sink_->Write(std::string_view(b.data).substr(base, end - base), err);
    if (written == end - base) {
      Account(b, i, j, -1, delta);
      if (failing_) {
        spdlog::info("{}: writing again after {} lines were dropped", name(),
                     dropped_while_failing_);
        failing_ = false;
        dropped_while_failing_ = 0;
        backoff_ = opt_.min_backoff;
        state_.store(0);
      }
      i = j;
      continue;
    }
    // A failed write: lines written whole count; a partial line is cut off;
    // the rest of the batch is dropped, and the sink rests for a backoff.
    size_t k = i;
    while (k < j && b.lines[k].end - base <= written) ++k;
    Account(b, i, k, -1, delta);
    const size_t partial = written - (start_of(k) - base);
    if (partial) sink_->DropTail(partial);
    const bool full = err.err() == ENOSPC || err.err() == EDQUOT;
    fail_reason_ = full ? DropReason::kDiskFull : DropReason::kSinkError;
    Account(b, k, n, static_cast<int>(fail_reason_), delta);
    if (!failing_) {
      spdlog::warn("{}: {}; dropping lines (counted as {}) and retrying", name(), err.message(),
                   DropReasonName(fail_reason_));
      failing_ = true;
    } else {
      backoff_ = std::min(backoff_ * 2, opt_.max_backoff);
    }
    dropped_while_failing_ += n - k;
    retry_at_ = std::chrono::steady_clock::now() + backoff_;
    state_.store(full ? 1 : 2);
    break;
  }
  std::lock_guard lk(cnt_mu_);
  if (counters_.size() < delta.size()) counters_.resize(delta.size());
  for (size_t p = 0; p < delta.size(); ++p) {
    counters_[p].emitted += delta[p].emitted;
    for (size_t r = 0; r < kDropReasons; ++r) counters_[p].dropped[r] += delta[p].dropped[r];
  }
}

}  // namespace ksight
