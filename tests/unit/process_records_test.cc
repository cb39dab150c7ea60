// The process probe's pure logic: wait statuses, argv, folding past the per-interval limit,
// the OOM victim joined with its exit, memory limits, and the records' JSON.
#include "probes/process/process_records.h"

#include <csignal>
#include <cstring>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ksight::process {
namespace {

using json = nlohmann::json;

TEST(ExitStatus, CodesSignalsAndCores) {
  EXPECT_EQ(DecodeExitStatus(3 << 8).code, 3);
  EXPECT_EQ(DecodeExitStatus(3 << 8).signal, 0);
  EXPECT_EQ(DecodeExitStatus(SIGKILL).signal, SIGKILL);
  EXPECT_EQ(DecodeExitStatus(SIGKILL).code, 0);
  EXPECT_TRUE(DecodeExitStatus(SIGSEGV | 0x80).core_dumped);
  EXPECT_EQ(DecodeExitStatus(SIGSEGV | 0x80).signal, SIGSEGV);
  EXPECT_EQ(SignalName(SIGKILL), "SIGKILL");
  EXPECT_EQ(SignalName(SIGTERM), "SIGTERM");
  EXPECT_EQ(SignalName(0), "SIG0");
  EXPECT_EQ(SignalName(99), "SIG99");
}

TEST(SplitArgs, NulSeparatedWithOrWithoutTheLastNul) {
  const char a[] = "ls\0-l\0/tmp";  // 11 bytes + the literal's NUL
  EXPECT_EQ(SplitArgs(a, sizeof(a)), (std::vector<std::string_view>{"ls", "-l", "/tmp"}));
  EXPECT_EQ(SplitArgs(a, 9), (std::vector<std::string_view>{"ls", "-l", "/tm"}));  // truncated
  EXPECT_TRUE(SplitArgs(a, 0).empty());
  const char e[] = "a\0\0b";
  EXPECT_EQ(SplitArgs(e, 4), (std::vector<std::string_view>{"a", "", "b"}));
}

ks_proc_exit_rec Exit(uint32_t pid, const char* comm, uint64_t cg, uint32_t status, uint64_t ts) {
  ks_proc_exit_rec r{};
  r.hdr.type = KS_REC_PROC_EXIT;
  r.hdr.size = sizeof(r);
  r.hdr.ts_ns = ts;
  r.task.pid = r.task.tid = pid;
  std::strncpy(r.task.comm, comm, sizeof(r.task.comm));
  r.task.cgroup_id = cg;
  r.exit_code = status;
  return r;
}

TEST(Folder, PastTheLimitFoldsByCommCgroupAndStatus) {
  Folder f(2);
  EXPECT_TRUE(f.Admit(Exit(1, "a", 10, 0, 100)));
  EXPECT_TRUE(f.Admit(Exit(2, "a", 10, 0, 101)));
  EXPECT_FALSE(f.Admit(Exit(3, "a", 10, 0, 102)));
  EXPECT_FALSE(f.Admit(Exit(4, "a", 10, 0, 103)));
  EXPECT_FALSE(f.Admit(Exit(5, "a", 10, 1 << 8, 104)));  // another status
  EXPECT_FALSE(f.Admit(Exit(6, "a", 11, 0, 105)));       // another cgroup
  EXPECT_FALSE(f.Admit(Exit(7, "b", 10, 0, 106)));       // another comm
  ks_proc_exec_rec e{};
  e.hdr.type = KS_REC_PROC_EXEC;
  EXPECT_TRUE(f.Admit(e));  // execs have their own allowance
  auto folds = f.Drain();
  ASSERT_EQ(folds.size(), 4u);
  const Folded& same = folds.at(FoldKey{KS_REC_PROC_EXIT, "a", 10, 0});
  EXPECT_EQ(same.count, 2u);
  EXPECT_EQ(same.first_ns, 102u);
  EXPECT_EQ(same.last_ns, 103u);
  EXPECT_EQ(same.exit->task.pid, 4u);  // the last one is the example
  EXPECT_EQ(f.folded_total(KS_REC_PROC_EXIT), 5u);
  // A new interval: a new allowance, nothing carried over.
  EXPECT_TRUE(f.Admit(Exit(8, "a", 10, 0, 200)));
  EXPECT_TRUE(f.Drain().empty());
}

TEST(Folder, ZeroLimitFoldsEverythingAndDistinctKeysAreBounded) {
  Folder f(0);
  for (uint32_t i = 0; i < 10000; ++i) EXPECT_FALSE(f.Admit(Exit(i, "x", i, 0, i)));
  const auto folds = f.Drain();
  EXPECT_LE(folds.size(), 4097u);
  uint64_t n = 0;
  for (const auto& [k, v] : folds) n += v.count;
  EXPECT_EQ(n, 10000u);  // past the key bound, into one "other" fold: still counted
}

TEST(OomJoiner, VictimJoinedWithItsExitOrReleasedAtTheDeadline) {
  OomJoiner j(1000);
  ks_proc_oom_rec o{};
  o.hdr.ts_ns = 50;
  o.victim_pid = 42;
  EXPECT_FALSE(j.OnOom(o));
  o.victim_pid = 43;
  EXPECT_FALSE(j.OnOom(o));
  EXPECT_FALSE(j.OnExit(Exit(41, "x", 1, 0, 60)));  // not a victim
  auto k = j.OnExit(Exit(42, "x", 7, SIGKILL, 70));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->exit->task.cgroup_id, 7u);
  EXPECT_EQ(k->oom.victim_pid, 42u);
  EXPECT_TRUE(j.Expired(1049).empty());
  const auto late = j.Expired(1050);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].oom.victim_pid, 43u);
  EXPECT_FALSE(late[0].exit);
  EXPECT_EQ(j.pending(), 0u);
  // An exit the kernel marked as an OOM victim without a mark_victim record is a kill too.
  ks_proc_exit_rec marked = Exit(44, "y", 9, SIGKILL, 80);
  marked.oom_victim = 1;
  auto m = j.OnExit(marked);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->oom.victim_pid, 44u);
}

TEST(OomJoiner, FullWritesTheLongestWaitingNowNeverDrops) {
  OomJoiner j(1000);
  ks_proc_oom_rec o{};
  size_t evicted = 0;
  for (uint32_t pid = 1; pid <= 1100; ++pid) {
    o.victim_pid = pid;
    o.hdr.ts_ns = pid;
    if (auto k = j.OnOom(o)) {
      ++evicted;
      EXPECT_EQ(k->oom.victim_pid, evicted);  // oldest first
      EXPECT_FALSE(k->exit);
    }
  }
  EXPECT_EQ(evicted, 76u);
  EXPECT_EQ(j.pending() + evicted, 1100u);
}

TEST(Folder, TheFoldPastTheKeyBoundNamesNoOne) {
  Folder f(0);
  for (uint32_t i = 0; i < 4100; ++i) f.Admit(Exit(i + 1, "x", i + 1, 0, i));
  for (const auto& [k, v] : f.Drain()) {
    if (!k.comm.empty()) continue;
    EXPECT_EQ(v.exit->task.pid, 0u);
    EXPECT_EQ(v.exit->task.cgroup_id, 0u);
    EXPECT_EQ(v.count, 4u);
  }
}

TEST(MemoryLimit, V2AndV1) {
  EXPECT_EQ(ParseMemoryLimit("33554432\n"), 33554432u);
  EXPECT_FALSE(ParseMemoryLimit("max\n"));
  EXPECT_FALSE(ParseMemoryLimit("9223372036854771712\n"));  // v1 "unlimited"
  EXPECT_FALSE(ParseMemoryLimit(""));
  EXPECT_FALSE(ParseMemoryLimit("12k"));
}

json Body(const std::function<void(JsonWriter&)>& f) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  f(w);
  w.EndObject();
  return json::parse(out);
}

TEST(Records, ExecExitAndOomKillBodies) {
  IdentityCache id{IdentityCache::Options{}};
  id.Learn(77, "/system.slice/docker-" + std::string(64, 'c') + ".scope");
  ks_proc_exec_rec e{};
  e.task.pid = e.task.tid = 10;
  e.task.cgroup_id = 77;
  std::strncpy(e.task.comm, "ls", sizeof(e.task.comm));
  e.ppid = 9;
  e.uid = 1000;
  e.start_ns = 5;
  std::strncpy(e.filename, "/usr/bin/ls", sizeof(e.filename));
  std::memcpy(e.args, "ls\0-l", 6);
  e.args_len = 6;
  e.args_truncated = 1;
  const json x = Body([&](JsonWriter& w) { WriteExec(w, e, id, 1000); });
  SCOPED_TRACE(x.dump());
  EXPECT_EQ(x["process"]["executable"]["path"], "/usr/bin/ls");
  EXPECT_EQ(x["process"]["command_args"], json::array({"ls", "-l"}));
  EXPECT_EQ(x["process"]["command_args_truncated"], true);
  EXPECT_EQ(x["process"]["parent_pid"], 9);
  EXPECT_EQ(x["process"]["user"]["id"], 1000);
  EXPECT_EQ(x["container"]["runtime"]["name"], "docker");

  ks_proc_exit_rec ex = Exit(10, "ls", 77, SIGKILL, 2005);
  ex.start_ns = 5;
  ex.cpu_ns = 33;
  ex.oom_victim = 1;
  const json y = Body([&](JsonWriter& w) { WriteExit(w, ex, id, 0); });
  SCOPED_TRACE(y.dump());
  EXPECT_EQ(y["process"]["exit"], json::parse(R"({"signal":"SIGKILL","signal_number":9,
      "core_dumped":false,"oom_killed":true})"));
  EXPECT_EQ(y["process"]["runtime_ns"], 2000);
  EXPECT_EQ(y["process"]["cpu_ns"], 33);

  OomKill k;
  k.oom.victim_pid = 10;
  k.oom.flags = KS_PROC_OOM_MEMORY;
  k.oom.anon_rss_kb = 100;
  k.oom.oom_score_adj = -5;
  k.exit = ex;
  const json z = Body([&](JsonWriter& w) { WriteOomKill(w, k, id, uint64_t{1} << 25); });
  SCOPED_TRACE(z.dump());
  EXPECT_EQ(z["process"]["cgroup_id"], 77);
  EXPECT_EQ(z["oom"]["victim_from"], "exit");
  EXPECT_EQ(z["oom"]["memory"]["anon_rss_bytes"], 102400);
  EXPECT_EQ(z["oom"]["oom_score_adj"], -5);
  EXPECT_EQ(z["oom"]["cgroup"]["memory_limit_bytes"], 1 << 25);
  EXPECT_FALSE(z["oom"].contains("trigger"));
  OomKill none;
  none.oom.victim_pid = 11;
  const json n = Body([&](JsonWriter& w) { WriteOomKill(w, none, id, std::nullopt); });
  EXPECT_EQ(n["oom"]["victim_from"], "none");
  EXPECT_FALSE(n["oom"].contains("memory"));
  EXPECT_FALSE(n.contains("container"));
}

}  // namespace
}  // namespace ksight::process
