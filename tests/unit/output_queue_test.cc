// The output pipeline without the kernel: admission to the bounded queues,
// seq, per-sink counters, write failures with a backoff, and stopping a sink
// that never drains. Sinks here are in-memory fakes that a test controls.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "../bpf/harness.h"  // WaitUntil
#include "core/output.h"

namespace ksight {
namespace {

using namespace std::chrono_literals;

// Collects lines; can be held (writes block until released) or made to fail.
class FakeSink : public Sink {
 public:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool hold = false;
    int fail_errno = 0;     // next writes fail with this
    size_t fail_after = 0;  // ... after writing this many bytes of the write
    std::string data;
    size_t dropped_tail = 0;
    size_t writes = 0;
  };
  explicit FakeSink(std::shared_ptr<State> st, std::string name = "fake")
      : st_(std::move(st)), name_(std::move(name)) {}

  size_t Write(std::string_view d, Status& err) override {
    std::unique_lock lk(st_->mu);
    while (st_->hold && !aborted()) st_->cv.wait_for(lk, std::chrono::milliseconds(10));
    st_->writes++;
    if (aborted()) {
      err = Status::Errno("write", EINTR);
      return 0;
    }
    if (st_->fail_errno) {
      const size_t n = std::min(st_->fail_after, d.size());
      st_->data.append(d.substr(0, n));
      err = Status::Errno("write", st_->fail_errno);
      return n;
    }
    st_->data.append(d);
    return d.size();
  }
  void DropTail(size_t n) override {
    std::lock_guard lk(st_->mu);
    st_->dropped_tail += n;
    st_->data.resize(st_->data.size() - n);
  }
  const std::string& name() const override { return name_; }

 private:
  std::shared_ptr<State> st_;
  std::string name_;
};

std::vector<uint64_t> Seqs(const std::string& data) {
  std::vector<uint64_t> out;
  size_t pos = 0;
  while ((pos = data.find("\"seq\":", pos)) != std::string::npos) {
    pos += 6;
    out.push_back(std::stoull(data.substr(pos, 20)));
  }
  return out;
}

size_t Lines(const std::string& data) {
  return static_cast<size_t>(std::count(data.begin(), data.end(), '\n'));
}

void Emit(Output& out, ProbeId p, int n, size_t pad = 100) {
  const std::string filler(pad, 'x');
  for (int i = 0; i < n; ++i) {
    auto& w = out.Begin(p, "test.line", 1);
    w.KV("pad", filler);
    out.End();
  }
}

void Release(const std::shared_ptr<FakeSink::State>& st) {
  {
    std::lock_guard lk(st->mu);
    st->hold = false;
  }
  st->cv.notify_all();
}

TEST(OutputQueue, FullQueueDropsBeforeTheSeqAndStaysBounded) {
  auto st = std::make_shared<FakeSink::State>();
  st->hold = true;  // the writer blocks on its first batch
  Output out({"h", "v", "i"});
  out.AddSink(std::make_unique<FakeSink>(st), 64 * 1024);
  const ProbeId p = out.RegisterProbe("t");
  for (int round = 0; round < 20; ++round) {
    Emit(out, p, 200);
    out.Flush();
  }
  const auto snap = out.Snapshot();
  const auto& v = snap.probes[p].sinks[0];
  EXPECT_EQ(snap.probes[p].seen, 4000u);
  EXPECT_GT(v.dropped[static_cast<size_t>(DropReason::kQueueFull)], 0u);
  EXPECT_LE(snap.sinks[0].queued_bytes, 64u * 1024);  // the bound holds
  EXPECT_EQ(snap.probes[p].seen, v.emitted + v.dropped_total() + v.queued);
  Release(st);
  ASSERT_TRUE(out.Settle(10s));
  const auto fin = out.Snapshot();
  const auto& f = fin.probes[p].sinks[0];
  EXPECT_EQ(f.queued, 0u);
  EXPECT_EQ(fin.probes[p].seen, f.emitted + f.dropped_total());
  EXPECT_EQ(Lines(st->data), f.emitted);
  // One sink: queue_full lines never took a seq, so the stream has no gap.
  const auto seqs = Seqs(st->data);
  for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i);
  EXPECT_EQ(fin.sinks[0].seq_gaps, 0u);
  EXPECT_EQ(out.next_seq(), f.emitted);
}

TEST(OutputQueue, TwoSinksCountEachAndTheStalledOneHasCountedGaps) {
  auto fast = std::make_shared<FakeSink::State>();
  auto slow = std::make_shared<FakeSink::State>();
  slow->hold = true;
  Output out({"h", "v", "i"});
  out.AddSink(std::make_unique<FakeSink>(fast, "fast"), 1 << 20);
  out.AddSink(std::make_unique<FakeSink>(slow, "slow"), 64 * 1024);
  const ProbeId p = out.RegisterProbe("t");
  for (int round = 0; round < 10; ++round) {
    Emit(out, p, 300);
    out.Flush();
    ASSERT_TRUE(out.Snapshot().sinks[0].queued_bytes <= (1u << 20));
  }
  Release(slow);
  ASSERT_TRUE(out.Settle(10s));
  Emit(out, p, 1);  // one more line, so the slow sink's drops are gaps before it
  ASSERT_TRUE(out.Settle(10s));
  const auto snap = out.Snapshot();
  const auto& f = snap.probes[p].sinks[0];
  const auto& s = snap.probes[p].sinks[1];
  EXPECT_EQ(f.emitted, 3001u);  // the fast sink took everything
  EXPECT_EQ(f.dropped_total(), 0u);
  EXPECT_GT(s.dropped[static_cast<size_t>(DropReason::kQueueFull)], 0u);
  EXPECT_EQ(snap.probes[p].seen, s.emitted + s.dropped_total());
  EXPECT_EQ(Lines(slow->data), s.emitted);
  // The slow sink's missing seqs are exactly its reported gaps.
  const auto seqs = Seqs(slow->data);
  ASSERT_EQ(seqs.front(), 0u);
  EXPECT_EQ(seqs.back(), 3000u);
  EXPECT_EQ(seqs.back() + 1 - seqs.size(), snap.sinks[1].seq_gaps);
  EXPECT_EQ(snap.sinks[1].seq_gaps, s.dropped_total());
}

TEST(OutputQueue, DiskFullCountsWholeLinesCutsThePartialOneAndRecovers) {
  auto st = std::make_shared<FakeSink::State>();
  st->fail_errno = ENOSPC;
  st->fail_after = 450;  // the disk fills in the middle of the second line (~310 bytes each)
  Output out({"h", "v", "i"});
  out.AddSink(std::make_unique<FakeSink>(st), 1 << 20);
  const ProbeId p = out.RegisterProbe("t");
  Emit(out, p, 10);
  ASSERT_TRUE(out.Settle(10s));
  auto snap = out.Snapshot();
  EXPECT_EQ(snap.sinks[0].state, "disk_full");
  EXPECT_EQ(snap.probes[p].sinks[0].emitted, 1u);
  EXPECT_EQ(snap.probes[p].sinks[0].dropped[static_cast<size_t>(DropReason::kDiskFull)], 9u);
  EXPECT_GT(st->dropped_tail, 0u);
  EXPECT_EQ(st->data.back(), '\n');  // no partial line left
  // While it rests, lines are dropped without write attempts (no busy loop).
  const size_t writes = st->writes;
  Emit(out, p, 5);
  ASSERT_TRUE(out.Settle(10s));
  EXPECT_EQ(st->writes, writes);
  // Space returns: after the backoff, writing resumes.
  {
    std::lock_guard lk(st->mu);
    st->fail_errno = 0;
  }
  // The rest is a timer (min_backoff, 100 ms, not re-armed while resting): let it run out.
  // A duration the product defines, not a wait for another thread to do something.
  std::this_thread::sleep_for(150ms);
  Emit(out, p, 3);
  ASSERT_TRUE(out.Settle(10s));
  snap = out.Snapshot();
  const auto& v = snap.probes[p].sinks[0];
  EXPECT_EQ(snap.sinks[0].state, "ok");
  EXPECT_EQ(v.emitted, 4u);
  EXPECT_EQ(snap.probes[p].seen, v.emitted + v.dropped_total());
  EXPECT_EQ(Lines(st->data), 4u);
  EXPECT_EQ(snap.sinks[0].seq_gaps, v.dropped_total());
}

TEST(OutputQueue, BackpressureWaitsForRoomWithinTheBudget) {
  auto st = std::make_shared<FakeSink::State>();
  st->hold = true;
  Output out({"h", "v", "i"});
  out.AddSink(std::make_unique<FakeSink>(st), 64 * 1024);
  const ProbeId p = out.RegisterProbe("t");
  out.AllowWait(60s);  // far more than the writer needs once released
  // Release the sink only once the queue is full (nothing drains while it is held), so that
  // End() must have waited for room rather than the release beating the emitter to it.
  std::thread release([&] {
    EXPECT_TRUE(test::WaitUntil(
        [&] {
          const SinkSnapshot q = out.Snapshot().sinks[0];
          return q.queued_bytes + 1024 > q.queue_size;  // no room for another ~300-byte line
        },
        "a full queue behind the held sink", 30s, 1ms));
    Release(st);
  });
  Emit(out, p, 2000);  // ~600 KB through a 64 KiB queue: End() waits for room
  release.join();
  ASSERT_TRUE(out.Settle(10s));
  const auto snap = out.Snapshot();
  const auto& v = snap.probes[p].sinks[0];
  EXPECT_EQ(v.emitted, 2000u);
  EXPECT_EQ(v.dropped_total(), 0u);
  EXPECT_EQ(Lines(st->data), 2000u);
  const auto seqs = Seqs(st->data);
  for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i);
}

TEST(OutputQueue, StopGivesUpOnASinkThatNeverDrains) {
  auto st = std::make_shared<FakeSink::State>();
  st->hold = true;
  Output out({"h", "v", "i"});
  out.AddSink(std::make_unique<FakeSink>(st), 1 << 20);
  const ProbeId p = out.RegisterProbe("t");
  Emit(out, p, 50);
  out.StopSinks(200ms);
  const auto snap = out.Snapshot();
  const auto& v = snap.probes[p].sinks[0];
  EXPECT_EQ(v.queued, 0u);
  EXPECT_EQ(v.dropped[static_cast<size_t>(DropReason::kSinkError)], 50u);
  EXPECT_EQ(snap.probes[p].seen, v.emitted + v.dropped_total());
}

}  // namespace
}  // namespace ksight
