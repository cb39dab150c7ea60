// Unit tests for the DRM scheduler job pairing (probes/gpu/job_tracker.h): recorded sequences
// replayed from tests/unit/data/gpu_sched_*.txt, plus a randomized run that checks the
// accounting identity and the memory bound on every step.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "probes/gpu/job_tracker.h"

namespace ksight::gpu {
namespace {

// tests/unit/data: from the build's source dir, or next to this file for a direct compile.
std::filesystem::path DataDir() {
#ifdef KSIGHT_SOURCE_DIR
  return std::filesystem::path(KSIGHT_SOURCE_DIR) / "tests" / "unit" / "data";
#else
  return std::filesystem::path(__FILE__).parent_path() / "data";
#endif
}

uint64_t StatField(const JobTrackerStats& s, const std::string& name) {
  const std::map<std::string, uint64_t> fields = {
      {"queued", s.queued},
      {"ran", s.ran},
      {"done", s.done},
      {"tracked", s.tracked},
      {"emitted", s.emitted},
      {"duplicate_queue", s.duplicate_queue},
      {"duplicate_run", s.duplicate_run},
      {"run_without_queue", s.run_without_queue},
      {"done_without_run", s.done_without_run},
      {"done_without_queue", s.done_without_queue},
      {"done_unmatched", s.done_unmatched},
      {"evicted", s.evicted},
      {"expired", s.expired},
      {"clock_skew", s.clock_skew},
      {"live", s.live},
  };
  auto it = fields.find(name);
  EXPECT_NE(it, fields.end()) << "no stats field " << name;
  return it == fields.end() ? 0 : it->second;
}

// Every entry ends in exactly one place (job_tracker.h).
void ExpectAccounting(const JobTracker& t) {
  const JobTrackerStats& s = t.stats();
  EXPECT_EQ(s.tracked, s.emitted + s.done_without_queue + s.evicted + s.expired + s.live);
  EXPECT_EQ(s.live, t.size());
  EXPECT_LE(t.size(), t.max_entries());
}

std::optional<uint64_t> OptU64(const std::string& v) {
  if (v == "-") return std::nullopt;
  return std::stoull(v);
}

void CheckRecordField(const JobRecord& r, const std::string& key, const std::string& v) {
  SCOPED_TRACE(key + "=" + v);
  if (key == "ring") {
    EXPECT_EQ(r.ring, v);
  } else if (key == "dev") {
    EXPECT_EQ(r.device, v);
  } else if (key == "wait") {
    EXPECT_EQ(r.queue_wait_ns, OptU64(v));
  } else if (key == "run") {
    EXPECT_EQ(r.run_ns, OptU64(v));
  } else if (key == "total") {
    EXPECT_EQ(r.total_ns, std::stoull(v));
  } else if (key == "depth") {
    EXPECT_EQ(r.queue_depth_at_queue, std::stoul(v));
  } else if (key == "inflight") {
    auto want = OptU64(v);
    EXPECT_EQ(r.in_flight_at_run.has_value(), want.has_value());
    if (want && r.in_flight_at_run) {
      EXPECT_EQ(*r.in_flight_at_run, *want);
    }
  } else if (key == "pid") {
    auto want = OptU64(v);
    EXPECT_EQ(r.pid.has_value(), want.has_value());
    if (want && r.pid) {
      EXPECT_EQ(*r.pid, *want);
    }
  } else if (key == "comm") {
    if (v == "-") {
      EXPECT_EQ(r.comm, std::nullopt);
    } else {
      EXPECT_EQ(r.comm, v);
    }
  } else {
    ADD_FAILURE() << "unknown record field " << key;
  }
}

// Replays one recorded sequence (format in gpu_sched_two_devices.txt).
void Replay(const std::string& file) {
  std::ifstream in(DataDir() / file);
  ASSERT_TRUE(in.good()) << file;
  std::unique_ptr<JobTracker> t;
  std::string line;
  int lineno = 0;
  int checks = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    SCOPED_TRACE(file + ":" + std::to_string(lineno) + ": " + line);
    std::istringstream ss(line);
    std::string op;
    ss >> op;
    if (op == "tracker") {
      size_t cap = 0;
      ss >> cap;
      t = std::make_unique<JobTracker>(cap);
      continue;
    }
    ASSERT_TRUE(t) << "the file must start with a tracker line";
    if (op == "queue") {
      uint64_t ts = 0, ctx = 0, seqno = 0;
      uint32_t pid = 0;
      std::string dev, ring, comm;
      ss >> ts >> dev >> ring >> ctx >> seqno >> pid >> comm;
      ASSERT_FALSE(ss.fail());
      t->on_queue(ts, ring, dev, ctx, seqno, pid, comm == "-" ? "" : comm);
    } else if (op == "run") {
      uint64_t ts = 0, ctx = 0, seqno = 0;
      ss >> ts >> ctx >> seqno;
      ASSERT_FALSE(ss.fail());
      t->on_run(ts, ctx, seqno);
    } else if (op == "done") {
      uint64_t ts = 0, ctx = 0, seqno = 0;
      std::string arrow;
      ss >> ts >> ctx >> seqno >> arrow;
      ASSERT_FALSE(ss.fail());
      ASSERT_EQ(arrow, "->");
      auto rec = t->on_done(ts, ctx, seqno);
      std::string kv;
      std::vector<std::string> fields;
      while (ss >> kv) fields.push_back(kv);
      if (fields.size() == 1 && fields[0] == "none") {
        EXPECT_FALSE(rec.has_value());
      } else {
        ASSERT_TRUE(rec.has_value());
        EXPECT_EQ(rec->fence_ctx, ctx);
        EXPECT_EQ(rec->seqno, seqno);
        EXPECT_EQ(rec->done_ts_ns, ts);
        for (const auto& f : fields) {
          size_t eq = f.find('=');
          ASSERT_NE(eq, std::string::npos) << f;
          CheckRecordField(*rec, f.substr(0, eq), f.substr(eq + 1));
        }
      }
      ++checks;
    } else if (op == "load") {
      std::string dev, ring, q, f;
      ss >> dev >> ring >> q >> f;
      ASSERT_FALSE(ss.fail());
      RingLoad load = t->ring_load(dev, ring);
      EXPECT_EQ("queued=" + std::to_string(load.queued), q);
      EXPECT_EQ("inflight=" + std::to_string(load.in_flight), f);
      ++checks;
    } else if (op == "stats") {
      std::string kv;
      while (ss >> kv) {
        size_t eq = kv.find('=');
        ASSERT_NE(eq, std::string::npos) << kv;
        EXPECT_EQ(StatField(t->stats(), kv.substr(0, eq)), std::stoull(kv.substr(eq + 1))) << kv;
      }
      ++checks;
    } else if (op == "expire") {
      uint64_t now = 0, age = 0;
      std::string arrow;
      size_t want = 0;
      ss >> now >> age >> arrow >> want;
      ASSERT_FALSE(ss.fail());
      EXPECT_EQ(t->expire(now, age), want);
      ++checks;
    } else {
      FAIL() << "unknown directive " << op;
    }
    ExpectAccounting(*t);
  }
  EXPECT_GT(checks, 3) << file;
}

TEST(GpuJobTracker, RecordedTwoDevices) { Replay("gpu_sched_two_devices.txt"); }
TEST(GpuJobTracker, RecordedLossyStream) { Replay("gpu_sched_lossy.txt"); }
TEST(GpuJobTracker, RecordedEviction) { Replay("gpu_sched_eviction.txt"); }

TEST(GpuJobTracker, FullRecordFields) {
  JobTracker t;
  t.on_queue(1'000, "gfx_0.0.0", "0000:03:00.0", 0xffff'ffff'ffff'fff0ULL, 1ULL << 40, 4242,
             "python3");
  t.on_run(1'250, 0xffff'ffff'ffff'fff0ULL, 1ULL << 40);
  auto r = t.on_done(2'000, 0xffff'ffff'ffff'fff0ULL, 1ULL << 40);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->ring, "gfx_0.0.0");
  EXPECT_EQ(r->device, "0000:03:00.0");
  EXPECT_EQ(r->fence_ctx, 0xffff'ffff'ffff'fff0ULL);
  EXPECT_EQ(r->seqno, 1ULL << 40);
  EXPECT_EQ(r->queue_ts_ns, 1'000u);
  EXPECT_EQ(r->done_ts_ns, 2'000u);
  EXPECT_EQ(r->queue_wait_ns, 250u);
  EXPECT_EQ(r->run_ns, 750u);
  EXPECT_EQ(r->total_ns, 1'000u);
  EXPECT_EQ(r->queue_depth_at_queue, 0u);
  EXPECT_EQ(r->in_flight_at_run, 0u);
  EXPECT_EQ(r->pid, 4242u);
  EXPECT_EQ(r->comm, "python3");
  EXPECT_EQ(t.size(), 0u);
}

TEST(GpuJobTracker, SameSeqnoOnDifferentContextsAreDifferentJobs) {
  JobTracker t;
  t.on_queue(10, "gfx", "d", 1, 5, 0, "");
  t.on_queue(20, "gfx", "d", 2, 5, 0, "");
  EXPECT_EQ(t.stats().duplicate_queue, 0u);
  EXPECT_EQ(t.ring_load("d", "gfx").queued, 2u);
  auto a = t.on_done(30, 2, 5);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->queue_ts_ns, 20u);
  EXPECT_EQ(t.ring_load("d", "gfx").queued, 1u);
}

TEST(GpuJobTracker, ZeroCapacityMeansOne) {
  JobTracker t(0);
  EXPECT_EQ(t.max_entries(), 1u);
  t.on_queue(1, "r", "d", 1, 1, 0, "");
  t.on_queue(2, "r", "d", 1, 2, 0, "");
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.stats().evicted, 1u);
  ExpectAccounting(t);
}

TEST(GpuJobTracker, ExpireWithSmallNow) {
  JobTracker t;
  t.on_queue(5, "r", "d", 1, 1, 0, "");
  EXPECT_EQ(t.expire(10, 100), 0u);  // now < max_age: nothing is old enough
  EXPECT_EQ(t.expire(200, 100), 1u);
  EXPECT_EQ(t.ring_load("d", "r").queued, 0u);
  ExpectAccounting(t);
}

// Random interleavings with loss, duplicates and reordering: the identity holds and memory stays
// bounded on every step, and ring counts never exceed the live entries.
TEST(GpuJobTracker, RandomizedAccounting) {
  std::mt19937_64 rng(20251122);
  for (size_t cap : {1u, 2u, 7u, 64u, 1024u}) {
    JobTracker t(cap);
    uint64_t ts = 0;
    for (int i = 0; i < 20000; ++i) {
      ts += rng() % 100;
      uint64_t jitter = rng() % 50;
      uint64_t at = ts > jitter ? ts - jitter : 0;  // slightly out of order
      uint64_t ctx = rng() % 4;
      uint64_t seqno = rng() % 64;
      switch (rng() % 7) {
        case 0:
        case 1: {
          static const char* kRings[] = {"gfx", "sdma0", "comp"};
          t.on_queue(at, kRings[ctx % 3], ctx < 2 ? "0000:03:00.0" : "0000:83:00.0", ctx, seqno,
                     static_cast<uint32_t>(rng() % 3), rng() % 2 ? "app" : "");
          break;
        }
        case 2:
        case 3:
          t.on_run(at, ctx, seqno);
          break;
        case 4:
        case 5:
          if (auto r = t.on_done(at, ctx, seqno)) {
            ASSERT_FALSE(r->ring.empty());
            if (r->queue_wait_ns && r->run_ns) {
              // Each part is clamped at 0 on its own, so the parts may exceed the total only
              // when a clock went backwards.
              if (t.stats().clock_skew == 0) {
                EXPECT_EQ(*r->queue_wait_ns + *r->run_ns, r->total_ns);
              }
            }
          }
          break;
        default:
          t.expire(ts, rng() % 5000);
          break;
      }
      ExpectAccounting(t);
      uint64_t counted = 0;
      for (const char* dev : {"0000:03:00.0", "0000:83:00.0"}) {
        for (const char* ring : {"gfx", "sdma0", "comp"}) {
          RingLoad l = t.ring_load(dev, ring);
          counted += l.queued + l.in_flight;
        }
      }
      ASSERT_LE(counted, t.size());
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace ksight::gpu
