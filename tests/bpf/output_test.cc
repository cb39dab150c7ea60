// The output pipeline of the real agent under a real syscall flood: rotation,
// logrotate-style rename + SIGUSR1, a full disk (a 1 MiB tmpfs), and a sink
// that stops reading (queue_full, bounded memory). Every test reads every
// line back and checks seq and seen == emitted + dropped (+ queued).
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "harness.h"

namespace ksight::test {
namespace {

namespace fs = std::filesystem;

uint64_t ProcStatusKb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stoull(line.substr(key.size() + 1));
  }
  return 0;
}

class OutputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/ksight_out_" + std::to_string(::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = dir_ + "/events.jsonl";
  }
  void TearDown() override {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    fs::remove_all(dir_);
  }
  std::string dir_, path_;
  bool mounted_ = false;
};

uint64_t CountProbe(const std::vector<json>& recs, const std::string& probe) {
  uint64_t n = 0;
  for (const auto& r : recs) n += r["event"]["probe"] == probe;
  return n;
}

TEST_F(OutputTest, RotationUnderFloodKeepsEveryLine) {
  KS_REQUIRE_ROOT();
  Child trig = Child::Spawn({Trigger("syscall_trigger"), "-w", "-g", "30000"}, true, true);
  ASSERT_FALSE(trig.ReadLine().empty());
  // 30k slow-call records of ~450 bytes in 64 KiB files: ~200 rotations; a
  // large queue so that the only way to lose a line would be the rotation.
  Agent agent({"--output", path_, "--probes", "syscalls", "--slow", "0", "--pid",
               std::to_string(trig.pid), "--interval", "1s", "--max-size", "64KiB", "--max-backups",
               "100000", "--queue-size", "256MiB"},
              "out_rot");
  ASSERT_TRUE(agent.WaitRunning());
  trig.Go();
  EXPECT_EQ(trig.Wait(), 0);
  EXPECT_EQ(agent.Stop(), 0);

  // Oldest backup first (the highest N), then .1, then the current file.
  uint32_t backups = 0;
  while (fs::exists(path_ + "." + std::to_string(backups + 1))) ++backups;
  EXPECT_GE(backups, 100u);
  std::cout << "rotations: " << backups << "\n";
  std::vector<json> recs;
  for (uint32_t i = backups; i >= 1; --i) {
    const std::string f = path_ + "." + std::to_string(i);
    EXPECT_LE(fs::file_size(f), 64u * 1024) << f;
    auto part = ReadRecords(f);  // every line parses
    ASSERT_FALSE(part.empty()) << f;
    recs.insert(recs.end(), part.begin(), part.end());
  }
  const auto cur = ReadRecords(path_);
  recs.insert(recs.end(), cur.begin(), cur.end());
  uint64_t seq = 0;
  for (const auto& r : recs) ASSERT_EQ(r["event"]["seq"].get<uint64_t>(), seq++);
  const auto fin = FinalCounters(recs, "syscalls");
  ASSERT_FALSE(fin.is_null());
  EXPECT_EQ(fin["seen"].get<uint64_t>(),
            fin["emitted"].get<uint64_t>() + fin["dropped"].get<uint64_t>());
  EXPECT_EQ(CountProbe(recs, "syscalls"), fin["emitted"].get<uint64_t>());
  EXPECT_GE(fin["emitted"].get<uint64_t>(), 30000u - fin["dropped"].get<uint64_t>());
  const json hb = OfType(recs, "agent.heartbeat").back();
  EXPECT_EQ(hb["sinks"][path_]["rotations"].get<uint64_t>(), backups);
  EXPECT_EQ(hb["sinks"][path_]["seq_gaps"], 0);
}

TEST_F(OutputTest, LogrotateRenameAndSigusr1LoseNothing) {
  KS_REQUIRE_ROOT();
  Child trig = Child::Spawn({Trigger("syscall_trigger"), "-w", "-g", "150000"}, true, true);
  ASSERT_FALSE(trig.ReadLine().empty());
  Agent agent({"--output", path_, "--probes", "syscalls", "--slow", "0", "--pid",
               std::to_string(trig.pid), "--interval", "1s", "--max-size", "0"},
              "out_usr1");
  ASSERT_TRUE(agent.WaitRunning());
  trig.Go();
  // While the flood is being written: rename (logrotate `create`), then SIGUSR1.
  ASSERT_TRUE(agent.WaitFor([](const json& j) { return j["event"]["type"] == "syscall"; }, 30s,
                            "a first syscall record of the flood"));
  const std::string rotated = path_ + ".rotated";
  ASSERT_EQ(::rename(path_.c_str(), rotated.c_str()), 0);
  ASSERT_EQ(::kill(agent.pid(), SIGUSR1), 0);
  ASSERT_TRUE(agent.WaitFor([](const json& j) { return IsStatus(j, "reopened"); }, 30s,
                            "an agent.status reopened record in the new file after SIGUSR1"));
  EXPECT_EQ(trig.Wait(), 0);
  EXPECT_EQ(agent.Stop(), 0);

  const auto old_recs = ReadRecords(rotated);
  const auto new_recs = ReadRecords(path_);
  ASSERT_FALSE(old_recs.empty());
  ASSERT_FALSE(new_recs.empty());
  // The reopened file starts with the reopen record; the renamed file got
  // nothing after it.
  EXPECT_EQ(new_recs[0]["event"]["type"], "agent.status");
  EXPECT_EQ(new_recs[0]["status"]["state"], "reopened");
  const uint64_t reopen_seq = new_recs[0]["event"]["seq"];
  for (const auto& r : old_recs) ASSERT_LT(r["event"]["seq"].get<uint64_t>(), reopen_seq);
  std::vector<json> all = old_recs;
  all.insert(all.end(), new_recs.begin(), new_recs.end());
  uint64_t seq = 0;
  for (const auto& r : all) ASSERT_EQ(r["event"]["seq"].get<uint64_t>(), seq++);
  const auto fin = FinalCounters(all, "syscalls");
  ASSERT_FALSE(fin.is_null());
  EXPECT_EQ(fin["seen"].get<uint64_t>(),
            fin["emitted"].get<uint64_t>() + fin["dropped"].get<uint64_t>());
  EXPECT_EQ(CountProbe(all, "syscalls"), fin["emitted"].get<uint64_t>());
  EXPECT_GT(CountProbe(old_recs, "syscalls"), 0u);
}

TEST_F(OutputTest, DiskFullIsCountedAndWritingResumes) {
  KS_REQUIRE_ROOT();
  ASSERT_EQ(::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=1m"), 0) << std::strerror(errno);
  mounted_ = true;
  const std::string filler = dir_ + "/filler";
  {
    std::ofstream f(filler);
    f << std::string(700 * 1024, 'f');
  }
  Child trig = Child::Spawn({Trigger("syscall_trigger"), "-w", "-g", "20000"}, true, true);
  ASSERT_FALSE(trig.ReadLine().empty());
  Agent agent({"--output", path_, "--probes", "syscalls", "--slow", "0", "--pid",
               std::to_string(trig.pid), "--interval", "1s", "--max-size", "0"},
              "out_enospc");
  ASSERT_TRUE(agent.WaitRunning());
  trig.Go();
  EXPECT_EQ(trig.Wait(), 0);
  // ~9 MB of records into ~300 KiB of space: the sink reports the full disk.
  ASSERT_TRUE(WaitUntil([&] { return agent.Stderr().find("disk_full") != std::string::npos; },
                        "a disk_full line on the agent's stderr"));
  EXPECT_TRUE(agent.Alive());
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  // Space is back: the agent resumes and reports the loss in the stream.
  ASSERT_TRUE(agent.WaitFor(
      [](const json& j) {
        return j["event"]["type"] == "agent.loss" && j["loss"]["reason"] == "disk_full";
      },
      30s, "an agent.loss disk_full record once space was back"));
  EXPECT_EQ(agent.Stop(), 0);

  const auto recs = ReadRecords(path_);  // every line whole
  ASSERT_FALSE(recs.empty());
  EXPECT_EQ(recs.back()["status"]["state"], "stopped");
  const auto fin = FinalCounters(recs, "syscalls");
  ASSERT_FALSE(fin.is_null());
  const uint64_t disk_full = fin["dropped_by_reason"].value("disk_full", uint64_t{0});
  EXPECT_GT(disk_full, 0u);
  EXPECT_EQ(fin["seen"].get<uint64_t>(),
            fin["emitted"].get<uint64_t>() + fin["dropped"].get<uint64_t>());
  EXPECT_EQ(CountProbe(recs, "syscalls"), fin["emitted"].get<uint64_t>());
  // Every seq missing from the file is a counted drop of this sink.
  const json hb = OfType(recs, "agent.heartbeat").back();
  uint64_t missing = 0, prev = 0;
  for (size_t i = 0; i < recs.size(); ++i) {
    const uint64_t s = recs[i]["event"]["seq"];
    if (i > 0) missing += s - prev - 1;
    prev = s;
  }
  const uint64_t hb_seq = hb["event"]["seq"];
  uint64_t missing_before_hb = 0;
  prev = 0;
  for (size_t i = 0; i < recs.size() && recs[i]["event"]["seq"].get<uint64_t>() <= hb_seq; ++i) {
    const uint64_t s = recs[i]["event"]["seq"];
    if (i > 0) missing_before_hb += s - prev - 1;
    prev = s;
  }
  EXPECT_EQ(missing_before_hb, hb["sinks"][path_]["seq_gaps"].get<uint64_t>());
  EXPECT_EQ(missing, missing_before_hb);  // nothing lost after the final heartbeat
  EXPECT_GT(missing, 0u);
}

TEST_F(OutputTest, StalledSinkDropsQueueFullWithBoundedMemory) {
  KS_REQUIRE_ROOT();
  int pfd[2];
  ASSERT_EQ(::pipe2(pfd, O_CLOEXEC), 0);  // nobody reads pfd[0]
  Child trig = Child::Spawn({Trigger("syscall_trigger"), "-w", "-g", "200000"}, true, true);
  ASSERT_FALSE(trig.ReadLine().empty());
  Agent agent({"--output", path_, "--output", "-", "--probes", "syscalls", "--slow", "0", "--pid",
               std::to_string(trig.pid), "--interval", "1s", "--queue-size", "1MiB"},
              "out_stall", pfd[1]);
  ASSERT_TRUE(agent.WaitRunning());
  trig.Go();
  EXPECT_EQ(trig.Wait(), 0);
  // The flood (~90 MB of lines for each sink) is over once a heartbeat counts it.
  ASSERT_TRUE(agent.WaitFor(
      [](const json& j) {
        if (j["event"]["type"] != "agent.heartbeat") return false;
        const json& c = j["counters"]["syscalls"]["sinks"]["stdout"];
        return c["dropped_by_reason"].value("queue_full", uint64_t{0}) > 100000;
      },
      30s, "a heartbeat counting > 100000 queue_full drops on the stalled stdout"));
  // Peak resident memory stays far below what the unread lines would need.
  const uint64_t hwm_kb = ProcStatusKb(agent.pid(), "VmHWM");
  EXPECT_GT(hwm_kb, 0u);
  std::cout << "agent peak RSS (VmHWM): " << hwm_kb << " KiB\n";
  EXPECT_LT(hwm_kb, 64u * 1024) << "peak RSS " << hwm_kb << " KiB";
  EXPECT_EQ(agent.Stop(), 0);
  ::close(pfd[0]);
  ::close(pfd[1]);

  const auto recs = ReadRecords(path_);
  const auto fin = FinalCounters(recs, "syscalls");
  ASSERT_FALSE(fin.is_null());
  // The file (first sink) kept up: everything seen is there.
  EXPECT_EQ(fin["seen"].get<uint64_t>(),
            fin["emitted"].get<uint64_t>() + fin["dropped"].get<uint64_t>());
  EXPECT_EQ(CountProbe(recs, "syscalls"), fin["emitted"].get<uint64_t>());
  // The stalled stdout: counted, never silent; what is stuck is `queued`.
  const json& so = fin["sinks"]["stdout"];
  const uint64_t qf = so["dropped_by_reason"].value("queue_full", uint64_t{0});
  EXPECT_GT(qf, 0u);
  EXPECT_EQ(
      fin["seen"].get<uint64_t>(),
      so["emitted"].get<uint64_t>() + so["dropped"].get<uint64_t>() + so["queued"].get<uint64_t>());
  uint64_t reported = 0;
  for (const auto& r : OfType(recs, "agent.loss")) {
    if (r["loss"]["probe"] == "syscalls" && r["loss"]["reason"] == "queue_full" &&
        r["loss"].value("sink", "") == "stdout")
      reported += r["loss"]["count"].get<uint64_t>();
  }
  EXPECT_EQ(reported, qf);
}

}  // namespace
}  // namespace ksight::test

namespace ksight::test {
namespace {

TEST_F(OutputTest, SighupReloadsOutputsAndKeepsRunningOnErrors) {
  KS_REQUIRE_ROOT();
  const std::string conf = dir_ + "/ksight.toml";
  const std::string second = dir_ + "/second.jsonl";
  std::ofstream(conf) << "probes = [\"syscalls\"]\ninterval = \"1s\"\noutput = \"" << path_
                      << "\"\n";
  Agent agent({"--config", conf}, "out_hup", -1, path_);
  ASSERT_TRUE(agent.WaitRunning());
  auto status = [](const std::string& state) {
    return [state](const json& j) { return IsStatus(j, state); };
  };
  // A second sink and a probe setting: the sink starts, the probe setting waits for a restart.
  std::ofstream(conf) << "probes = [\"syscalls\"]\ninterval = \"1s\"\noutput = [\"" << path_
                      << "\", \"" << second << "\"]\n[syscalls]\nslow = \"5ms\"\n";
  ASSERT_EQ(::kill(agent.pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitUntil([&] { return FileHas(second, status("reloaded")); },
                        "an agent.status reloaded record in the new sink after SIGHUP"));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return FileHas(second,
                       [](const json& j) { return j["event"]["type"] == "agent.heartbeat"; });
      },
      "a heartbeat in the new sink"));
  // A broken file: one clear line, an agent.status, and the agent goes on as it was.
  std::ofstream(conf) << "interval = [\n";
  ASSERT_EQ(::kill(agent.pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitUntil([&] { return FileHas(second, status("reload_failed")); },
                        "an agent.status reload_failed record after a broken config"));
  EXPECT_TRUE(agent.Alive());
  EXPECT_EQ(agent.Stop(), 0);
  EXPECT_NE(agent.Stderr().find("config not reloaded, still running with the previous one"),
            std::string::npos);

  const auto recs = ReadRecords(second);
  json reloaded;
  for (const auto& r : OfType(recs, "agent.status")) {
    if (r["status"]["state"] == "reloaded") reloaded = r;
  }
  ASSERT_FALSE(reloaded.is_null());
  EXPECT_EQ(reloaded["status"]["details"]["applied"], "output.path");
  EXPECT_EQ(reloaded["status"]["details"]["restart_needed"], "syscalls.slow");
  // Both sinks count the same records; the first file has every line since start.
  const auto first = ReadRecords(path_);
  uint64_t seq = 0;
  for (const auto& r : first) ASSERT_EQ(r["event"]["seq"].get<uint64_t>(), seq++);
  const json hb = OfType(first, "agent.heartbeat").back();
  EXPECT_TRUE(hb["sinks"].contains(second));
  EXPECT_EQ(recs.back()["status"]["state"], "stopped");
  EXPECT_EQ(first.back()["event"]["seq"], recs.back()["event"]["seq"]);
}

}  // namespace
}  // namespace ksight::test
