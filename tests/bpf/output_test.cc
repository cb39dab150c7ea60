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

// The agent as a child with its own arguments; stderr goes to a file.
class AgentRun {
 public:
  AgentRun(const std::vector<std::string>& args, const std::string& err_path, int stdout_fd = -1)
      : err_(err_path) {
    std::vector<std::string> argv = {KSIGHT_BINARY, "run"};
    if (std::find(args.begin(), args.end(), "--config") == args.end()) {
      argv.emplace_back("--config");
      argv.emplace_back("/dev/null");
    }
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      const int e = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(e, 2);
      if (stdout_fd >= 0) ::dup2(stdout_fd, 1);
      std::vector<char*> a;
      for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      ::execv(a[0], a.data());
      ::_exit(127);
    }
  }
  ~AgentRun() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  bool Alive() {
    int st = 0;
    if (pid_ > 0 && ::waitpid(pid_, &st, WNOHANG) == pid_) {
      code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      pid_ = -1;
    }
    return pid_ > 0;
  }
  int Stop() {
    if (pid_ <= 0) return code_;
    ::kill(pid_, SIGINT);
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (Alive() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    return Alive() ? -1 : code_;
  }
  std::string Stderr() const {
    std::ifstream in(err_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  pid_t pid_ = -1;
  int code_ = -1;
  std::string err_;
};

// Poll until cond() holds or the time is up (not an assertion on time).
bool Eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

bool FileHas(const std::string& path, const std::function<bool(const json&)>& pred) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.back() != '}') continue;
    auto j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && pred(j)) return true;
  }
  return false;
}

bool IsRunning(const json& j) {
  return j["event"]["type"] == "agent.status" && j["status"]["state"] == "running";
}

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
  AgentRun agent({"--output", path_, "--probes", "syscalls", "--slow", "0", "--pid",
                  std::to_string(trig.pid), "--interval", "1s", "--max-size", "64KiB",
                  "--max-backups", "100000", "--queue-size", "256MiB"},
                 dir_ + "/../ksight_out_rot.err");
  ASSERT_TRUE(Eventually([&] { return FileHas(path_, IsRunning); })) << agent.Stderr();
  trig.Go();
  EXPECT_EQ(trig.Wait(), 0);
  EXPECT_EQ(agent.Stop(), 0) << agent.Stderr();

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
  AgentRun agent({"--output", path_, "--probes", "syscalls", "--slow", "0", "--pid",
                  std::to_string(trig.pid), "--interval", "1s", "--max-size", "0"},
                 dir_ + "/../ksight_out_usr1.err");
  ASSERT_TRUE(Eventually([&] { return FileHas(path_, IsRunning); })) << agent.Stderr();
  trig.Go();
  // While the flood is being written: rename (logrotate `create`), then SIGUSR1.
  ASSERT_TRUE(Eventually([&] {
    return FileHas(path_, [](const json& j) { return j["event"]["type"] == "syscall"; });
  }));
  const std::string rotated = path_ + ".rotated";
  ASSERT_EQ(::rename(path_.c_str(), rotated.c_str()), 0);
  ASSERT_EQ(::kill(agent.pid(), SIGUSR1), 0);
  ASSERT_TRUE(Eventually([&] {
    return FileHas(path_, [](const json& j) {
      return j["event"]["type"] == "agent.status" && j["status"]["state"] == "reopened";
    });
  })) << agent.Stderr();
  EXPECT_EQ(trig.Wait(), 0);
  EXPECT_EQ(agent.Stop(), 0) << agent.Stderr();

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
  const std::string err = ::testing::TempDir() + "/ksight_out_enospc.err";
  AgentRun agent({"--output", path_, "--probes", "syscalls", "--slow", "0", "--pid",
                  std::to_string(trig.pid), "--interval", "1s", "--max-size", "0"},
                 err);
  ASSERT_TRUE(Eventually([&] { return FileHas(path_, IsRunning); })) << agent.Stderr();
  trig.Go();
  EXPECT_EQ(trig.Wait(), 0);
  // ~9 MB of records into ~300 KiB of space: the sink reports the full disk.
  ASSERT_TRUE(Eventually([&] { return agent.Stderr().find("disk_full") != std::string::npos; }))
      << agent.Stderr();
  EXPECT_TRUE(agent.Alive());
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  // Space is back: the agent resumes and reports the loss in the stream.
  ASSERT_TRUE(Eventually([&] {
    return FileHas(path_, [](const json& j) {
      return j["event"]["type"] == "agent.loss" && j["loss"]["reason"] == "disk_full";
    });
  })) << agent.Stderr();
  EXPECT_EQ(agent.Stop(), 0) << agent.Stderr();

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
  AgentRun agent({"--output", path_, "--output", "-", "--probes", "syscalls", "--slow", "0",
                  "--pid", std::to_string(trig.pid), "--interval", "1s", "--queue-size", "1MiB"},
                 ::testing::TempDir() + "/ksight_out_stall.err", pfd[1]);
  ASSERT_TRUE(Eventually([&] { return FileHas(path_, IsRunning); })) << agent.Stderr();
  trig.Go();
  EXPECT_EQ(trig.Wait(), 0);
  // The flood (~90 MB of lines for each sink) is over once a heartbeat counts it.
  ASSERT_TRUE(Eventually([&] {
    return FileHas(path_, [](const json& j) {
      if (j["event"]["type"] != "agent.heartbeat") return false;
      const json& c = j["counters"]["syscalls"]["sinks"]["stdout"];
      return c["dropped_by_reason"].value("queue_full", uint64_t{0}) > 100000;
    });
  })) << agent.Stderr();
  // Peak resident memory stays far below what the unread lines would need.
  const uint64_t hwm_kb = ProcStatusKb(agent.pid(), "VmHWM");
  EXPECT_GT(hwm_kb, 0u);
  std::cout << "agent peak RSS (VmHWM): " << hwm_kb << " KiB\n";
  EXPECT_LT(hwm_kb, 64u * 1024) << "peak RSS " << hwm_kb << " KiB";
  EXPECT_EQ(agent.Stop(), 0) << agent.Stderr();
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
  AgentRun agent({"--config", conf}, ::testing::TempDir() + "/ksight_out_hup.err");
  ASSERT_TRUE(Eventually([&] { return FileHas(path_, IsRunning); })) << agent.Stderr();
  auto status = [](const std::string& state) {
    return [state](const json& j) {
      return j["event"]["type"] == "agent.status" && j["status"]["state"] == state;
    };
  };
  // A second sink and a probe setting: the sink starts, the probe setting waits for a restart.
  std::ofstream(conf) << "probes = [\"syscalls\"]\ninterval = \"1s\"\noutput = [\"" << path_
                      << "\", \"" << second << "\"]\n[syscalls]\nslow = \"5ms\"\n";
  ASSERT_EQ(::kill(agent.pid(), SIGHUP), 0);
  ASSERT_TRUE(Eventually([&] { return FileHas(second, status("reloaded")); })) << agent.Stderr();
  ASSERT_TRUE(Eventually([&] {
    return FileHas(second, [](const json& j) { return j["event"]["type"] == "agent.heartbeat"; });
  }));
  // A broken file: one clear line, an agent.status, and the agent goes on as it was.
  std::ofstream(conf) << "interval = [\n";
  ASSERT_EQ(::kill(agent.pid(), SIGHUP), 0);
  ASSERT_TRUE(Eventually([&] { return FileHas(second, status("reload_failed")); }))
      << agent.Stderr();
  EXPECT_TRUE(agent.Alive());
  EXPECT_EQ(agent.Stop(), 0) << agent.Stderr();
  EXPECT_NE(agent.Stderr().find("config not reloaded, still running with the previous one"),
            std::string::npos);

  const auto recs = ReadRecords(second);
  json reloaded;
  for (const auto& r : OfType(recs, "agent.status")) {
    if (r["status"]["state"] == "reloaded") reloaded = r;
  }
  ASSERT_FALSE(reloaded.is_null());
  EXPECT_EQ(reloaded["status"]["details"]["applied"], "output");
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
