// Root tests of the syscalls probe against the real kernel: exact counts from
// a trigger program, the slow-call record, filters, and loss accounting.
#include <fcntl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "harness.h"

namespace ksight::test {
namespace {

constexpr int kGetppid = 5000;
constexpr int kEnoent = 37;
constexpr int kSleepMs = 200;  // the trigger's one slow call (the workload, not a wait)

// The trigger's last line: "done getppid=N enoent=M sleep_ms=S".
std::string DoneLine(int getppid, int enoent, int sleep_ms) {
  return "done getppid=" + std::to_string(getppid) + " enoent=" + std::to_string(enoent) +
         " sleep_ms=" + std::to_string(sleep_ms);
}

struct Counts {
  uint64_t getppid = 0, openat = 0, openat_errors = 0, enoent = 0;
  bool any = false;
};

Counts StatsFor(const std::vector<json>& recs, int pid) {
  Counts c;
  for (const auto& r : OfType(recs, "syscall.stats")) {
    if (r["process"]["pid"] != pid) continue;
    c.any = true;
    const auto name = r["syscall"]["name"].get<std::string>();
    const auto& s = r["stats"];
    if (name == "getppid") c.getppid += s["count"].get<uint64_t>();
    if (name == "openat") {
      c.openat += s["count"].get<uint64_t>();
      c.openat_errors += s["errors"].get<uint64_t>();
      c.enoent += s["errors_by_errno"].value("ENOENT", uint64_t{0});
    }
  }
  return c;
}

TEST(SyscallsProbe, ExactCountsSlowCallAndPidFilter) {
  KS_REQUIRE_ROOT();
  Child trig = Child::Spawn({Trigger("syscall_trigger"), "-w", "-g", std::to_string(kGetppid), "-e",
                             std::to_string(kEnoent), "-s", std::to_string(kSleepMs)},
                            true, true);
  Child other = Child::Spawn({Trigger("syscall_trigger"), "-w", "-g", "100"}, true, true);
  const int tpid = trig.pid, opid = other.pid;  // Wait() forgets them
  const std::string hello = trig.ReadLine();
  ASSERT_EQ(hello, "pid " + std::to_string(tpid));
  ASSERT_FALSE(other.ReadLine().empty());

  Agent agent({"--probes", "syscalls", "--interval", "1s", "--pid", std::to_string(tpid)});
  ASSERT_TRUE(agent.WaitRunning());
  trig.Go();
  other.Go();
  EXPECT_EQ(trig.ReadLine(30s), DoneLine(kGetppid, kEnoent, kSleepMs));
  EXPECT_EQ(trig.Wait(), 0);
  EXPECT_EQ(other.Wait(), 0);
  EXPECT_EQ(agent.Stop(), 0);

  const auto recs = agent.Records();
  const Counts c = StatsFor(recs, tpid);
  EXPECT_EQ(c.getppid, static_cast<uint64_t>(kGetppid));
  EXPECT_EQ(c.openat, static_cast<uint64_t>(kEnoent));
  EXPECT_EQ(c.openat_errors, static_cast<uint64_t>(kEnoent));
  EXPECT_EQ(c.enoent, static_cast<uint64_t>(kEnoent));

  // Exactly one slow call: the trigger's nanosleep.
  std::vector<json> slow;
  for (const auto& r : OfType(recs, "syscall")) {
    EXPECT_EQ(r["process"]["pid"], tpid);
    if (r["syscall"]["name"] == "nanosleep") slow.push_back(r);
  }
  ASSERT_EQ(slow.size(), 1u);
  EXPECT_GE(slow[0]["syscall"]["latency_ns"].get<uint64_t>(), uint64_t{kSleepMs} * 1000000);
  EXPECT_EQ(slow[0]["syscall"]["nr"], SYS_nanosleep);
  EXPECT_EQ(slow[0]["syscall"]["ret"], 0);
  EXPECT_EQ(slow[0]["syscall"]["reasons"], json::array({"slow"}));
  EXPECT_EQ(slow[0]["process"]["comm"], "syscall_trigger");
  EXPECT_EQ(slow[0]["process"]["tid"], tpid);

  // The filter: the other trigger never appears.
  EXPECT_FALSE(StatsFor(recs, opid).any);
  for (const auto& r : recs) {
    if (r.contains("process")) EXPECT_NE(r["process"]["pid"], opid);
  }

  // Envelope: gap-free seq from 0, schema version, probe names.
  uint64_t seq = 0;
  for (const auto& r : recs) {
    EXPECT_EQ(r["event"]["seq"].get<uint64_t>(), seq++);
    EXPECT_EQ(r["schema_version"], 1);
  }
  const auto fin = FinalCounters(recs, "syscalls");
  ASSERT_FALSE(fin.is_null());
  EXPECT_EQ(fin["seen"].get<uint64_t>(),
            fin["emitted"].get<uint64_t>() + fin["dropped"].get<uint64_t>());
  EXPECT_EQ(fin["dropped"], 0);
}

TEST(SyscallsProbe, WatchedErrnoGivesOneRecordPerFailure) {
  KS_REQUIRE_ROOT();
  constexpr int kFailures = 9;
  Child trig =
      Child::Spawn({Trigger("syscall_trigger"), "-w", "-e", std::to_string(kFailures)}, true, true);
  ASSERT_FALSE(trig.ReadLine().empty());
  Agent agent(
      {"--probes", "syscalls", "--pid", std::to_string(trig.pid), "--watch-errno", "ENOENT"});
  ASSERT_TRUE(agent.WaitRunning());
  trig.Go();
  EXPECT_EQ(trig.Wait(), 0);
  EXPECT_EQ(agent.Stop(), 0);
  int n = 0;
  for (const auto& r : OfType(agent.Records(), "syscall")) {
    if (r["syscall"]["name"] != "openat") continue;
    ++n;
    EXPECT_EQ(r["syscall"]["nr"], SYS_openat);
    EXPECT_EQ(r["syscall"]["errno"], "ENOENT");
    EXPECT_EQ(r["syscall"]["ret"], -ENOENT);
    EXPECT_EQ(r["syscall"]["reasons"], json::array({"errno"}));
    EXPECT_EQ(r["syscall"]["args"][2], O_RDONLY);
  }
  EXPECT_EQ(n, kFailures);
}

TEST(SyscallsProbe, LossIsCountedNeverSilent) {
  KS_REQUIRE_ROOT();
  constexpr int kFlood = 200000;
  Child trig =
      Child::Spawn({Trigger("syscall_trigger"), "-w", "-g", std::to_string(kFlood)}, true, true);
  const int tpid = trig.pid;
  ASSERT_FALSE(trig.ReadLine().empty());
  // A 4 KiB ring drained once a second cannot hold 200k records.
  Agent agent({"--probes", "syscalls", "--pid", std::to_string(trig.pid), "--slow", "0",
               "--ring-size", "4KiB", "--drain-interval", "1s", "--interval", "1s"});
  ASSERT_TRUE(agent.WaitRunning());
  trig.Go();
  EXPECT_EQ(trig.Wait(), 0);
  EXPECT_EQ(agent.Stop(), 0);
  const auto recs = agent.Records();
  const auto fin = FinalCounters(recs, "syscalls");
  ASSERT_FALSE(fin.is_null());
  const uint64_t seen = fin["seen"], emitted = fin["emitted"], dropped = fin["dropped"];
  const uint64_t ring_full = fin["dropped_by_reason"].value("ring_full", uint64_t{0});
  EXPECT_GT(ring_full, 0u);
  EXPECT_EQ(seen, emitted + dropped);
  // The kernel's own count of attempts against what user space received.
  EXPECT_EQ(fin["bpf_seen"].get<uint64_t>(), fin["received"].get<uint64_t>() + ring_full);
  // Every getppid was attempted as a record (slow = 0) and is in the lossless stats.
  EXPECT_EQ(StatsFor(recs, tpid).getppid, static_cast<uint64_t>(kFlood));
  EXPECT_GE(fin["bpf_seen"].get<uint64_t>(), static_cast<uint64_t>(kFlood));
  // What the file holds for the probe is what the counters call emitted
  // (every record of the probe was written before the final heartbeat).
  uint64_t lines = 0;
  for (const auto& r : recs) lines += r["event"]["probe"] == "syscalls";
  EXPECT_EQ(lines, emitted);
  // The drop reached the stream.
  uint64_t reported = 0;
  for (const auto& r : OfType(recs, "agent.loss")) {
    if (r["loss"]["probe"] == "syscalls" && r["loss"]["reason"] == "ring_full")
      reported += r["loss"]["count"].get<uint64_t>();
  }
  EXPECT_EQ(reported, ring_full);
}

}  // namespace
}  // namespace ksight::test
