// harness.h - helpers for the root BPF tests: run the real agent binary and
// trigger programs, read the agent's JSON lines back, wait for conditions.
//
// Waiting: never sleep for a fixed time to let something happen. WaitUntil()
// polls the condition until a deadline and fails naming what did not happen;
// the deadline is a bound for a hung run, not an assertion on speed.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ksight::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

inline bool IsRoot() { return ::geteuid() == 0; }

// CI=true: a test that cannot run here is a failure, not a skip.
inline bool InCi() {
  const char* ci = std::getenv("CI");
  return ci && std::string_view(ci) == "true";
}

// Skip (reported to ctest as "Skipped") with a reason, or fail under CI=true,
// where every test must run.
#define KS_SKIP_OR_FAIL_IN_CI(reason)                                        \
  do {                                                                       \
    if (::ksight::test::InCi()) FAIL() << "CI=true, cannot run: " << reason; \
    GTEST_SKIP() << reason;                                                  \
  } while (0)

#define KS_REQUIRE_ROOT() \
  if (!::ksight::test::IsRoot()) KS_SKIP_OR_FAIL_IN_CI("needs root (loads BPF programs)")

// Poll cond every `every` until it holds; fails, naming `what`, if it does not
// hold by the deadline. The one way the tests wait for something to happen.
inline ::testing::AssertionResult WaitUntil(const std::function<bool()>& cond,
                                            std::string_view what,
                                            std::chrono::milliseconds timeout = 30s,
                                            std::chrono::milliseconds every = 20ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      if (cond()) break;
      return ::testing::AssertionFailure()
             << what << " did not happen within " << timeout.count() << " ms";
    }
    std::this_thread::sleep_for(every);  // the poll period, not a wait for an event
  }
  return ::testing::AssertionSuccess();
}

// A program the tests need, on PATH: a failure naming it when it is missing
// (tools/install-deps.sh test installs every one).
inline ::testing::AssertionResult HaveTool(const std::string& name) {
  if (std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << name << " is not installed (tools/install-deps.sh test installs it)";
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Child {
  pid_t pid = -1;
  int stdin_fd = -1;
  int stdout_fd = -1;

  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  Child(Child&& o) noexcept { *this = std::move(o); }
  Child& operator=(Child&& o) noexcept {
    std::swap(pid, o.pid);
    std::swap(stdin_fd, o.stdin_fd);
    std::swap(stdout_fd, o.stdout_fd);
    return *this;
  }

  // Start argv; with pipes for stdin/stdout when asked. Without a pipe, stdout
  // may go to stdout_to (an fd) and stderr to the file stderr_to.
  static Child Spawn(const std::vector<std::string>& argv, bool pipe_in, bool pipe_out,
                     int stdout_to = -1, const std::string& stderr_to = "") {
    if (::access(argv.at(0).c_str(), X_OK) != 0)
      ADD_FAILURE() << argv[0] << " cannot be run: " << std::strerror(errno)
                    << " (built by `make`?)";
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipe_in && ::pipe2(in, O_CLOEXEC) != 0) std::abort();
    if (pipe_out && ::pipe2(out, O_CLOEXEC) != 0) std::abort();
    Child c;
    c.pid = ::fork();
    if (c.pid == 0) {
      if (pipe_in) ::dup2(in[0], 0);
      if (pipe_out) ::dup2(out[1], 1);
      if (!pipe_out && stdout_to >= 0) ::dup2(stdout_to, 1);
      if (!stderr_to.empty()) {
        const int e = ::open(stderr_to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (e >= 0) ::dup2(e, 2);
      }
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    if (pipe_in) {
      ::close(in[0]);
      c.stdin_fd = in[1];
    }
    if (pipe_out) {
      ::close(out[1]);
      c.stdout_fd = out[0];
    }
    return c;
  }

  // One line from the child's stdout ("" on timeout or EOF).
  std::string ReadLine(std::chrono::milliseconds timeout = 10s) const {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{stdout_fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char ch;
      if (::read(stdout_fd, &ch, 1) != 1) break;
      if (ch == '\n') return line;
      line.push_back(ch);
    }
    return line;
  }

  void Go() const {
    const char c = 'g';
    if (::write(stdin_fd, &c, 1) != 1) ADD_FAILURE() << "cannot start trigger";
  }

  // Reap the child if it has exited: true then, with its status in *code.
  bool Reaped(int* code) {
    int st = 0;
    if (pid <= 0 || ::waitpid(pid, &st, WNOHANG) != pid) return false;
    pid = -1;
    *code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return true;
  }

  // Exit status, or -1 after the timeout (the child is killed then).
  int Wait(std::chrono::milliseconds timeout = 30s) {
    if (pid <= 0) return -1;
    int code = -1;
    if (WaitUntil([&] { return Reaped(&code); }, "the child's exit", timeout, 10ms)) return code;
    Kill();
    return -1;
  }

  void Kill() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }

  ~Child() {
    Kill();
    if (stdin_fd >= 0) ::close(stdin_fd);
    if (stdout_fd >= 0) ::close(stdout_fd);
  }
};

#ifdef KSIGHT_TRIGGERS  // the bpf tests; unit tests use only the helpers above and below
// A trigger program built next to the tests (tests/triggers).
inline std::string Trigger(const std::string& name) {
  return std::string(KSIGHT_TRIGGERS) + "/" + name;
}
#endif

inline std::vector<json> ReadRecords(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    out.push_back(json::parse(line));  // throws (fails the test) on a bad line
  }
  return out;
}

// Whether a whole line of the JSON-lines file satisfies pred (lines are
// checked in order; a line still being written is not looked at).
inline bool FileHas(const std::string& path, const std::function<bool(const json&)>& pred) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.back() != '}') continue;
    auto j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && pred(j)) return true;
  }
  return false;
}

inline bool IsStatus(const json& j, const std::string& state) {
  return j["event"]["type"] == "agent.status" && j["status"]["state"] == state;
}

// The agent running as a child. Its records go to a temp file unless args
// name --output (then path() is the first one) or config_output names the
// output its --config file sets; its config is /dev/null unless args name
// --config; its stderr goes to a file (Stderr()), printed when the test failed.
class Agent {
 public:
  explicit Agent(std::vector<std::string> args, std::string tag = "agent", int stdout_to = -1,
                 std::string config_output = "") {
    const std::string base =
        ::testing::TempDir() + "/ksight_" + tag + "_" + std::to_string(::getpid());
    err_path_ = base + ".err";
    std::vector<std::string> argv = {KSIGHT_BINARY, "run"};
    if (std::find(args.begin(), args.end(), "--config") == args.end())
      argv.insert(argv.end(), {"--config", "/dev/null"});
    const auto out = std::find(args.begin(), args.end(), "--output");
    if (!config_output.empty()) {
      path_ = std::move(config_output);
    } else if (out == args.end() || out + 1 == args.end()) {
      path_ = base + ".jsonl";
      owns_path_ = true;
      std::remove(path_.c_str());
      argv.insert(argv.end(), {"--output", path_});
    } else {
      path_ = *(out + 1);
    }
    // No /metrics unless the test asks: agents of parallel test runs (and a
    // ksight service on this host) would compete for 127.0.0.1:9815.
    if (std::find(args.begin(), args.end(), "--metrics-addr") == args.end())
      argv.insert(argv.end(), {"--metrics-addr", "off"});
    argv.insert(argv.end(), args.begin(), args.end());
    child_ = Child::Spawn(argv, false, false, stdout_to, err_path_);
  }
  ~Agent() {
    child_.Kill();
    if (::testing::Test::HasFailure()) {
      const std::string err = Stderr();
      if (!err.empty()) std::cerr << "--- agent stderr (" << err_path_ << ") ---\n" << err;
    }
    if (owns_path_) std::remove(path_.c_str());
    std::remove(err_path_.c_str());
  }
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Wait until a record of the output file satisfies pred; fails on timeout
  // or when the agent exits first (after a last look at the file).
  ::testing::AssertionResult WaitFor(const std::function<bool(const json&)>& pred,
                                     std::chrono::milliseconds timeout = 30s,
                                     std::string_view what = "a matching record") {
    bool exited = false;
    auto r = WaitUntil(
        [&] {
          if (FileHas(path_, pred)) return true;
          if (exited || Alive()) return false;
          exited = true;
          return FileHas(path_, pred);  // what it wrote before it exited
        },
        what, timeout);
    if (!r && exited) r << " (the agent exited first with code " << exit_code_ << ")";
    return r;
  }

  ::testing::AssertionResult WaitRunning() {
    return WaitFor([](const json& j) { return IsStatus(j, "running"); }, 30s,
                   "the agent's agent.status running record");
  }

  // SIGINT, then the exit code (-1 if it did not exit in time).
  int Stop() {
    if (child_.pid > 0) {
      ::kill(child_.pid, SIGINT);
      exit_code_ = child_.Wait(60s);
    }
    return exit_code_;
  }

  // Reaps the agent if it exited (its code is Stop()'s then).
  bool Alive() {
    child_.Reaped(&exit_code_);
    return child_.pid > 0;
  }
  pid_t pid() const { return child_.pid; }
  std::vector<json> Records() const { return ReadRecords(path_); }
  const std::string& path() const { return path_; }
  std::string Stderr() const { return ReadFile(err_path_); }

 private:
  Child child_;
  std::string path_, err_path_;
  bool owns_path_ = false;
  int exit_code_ = -1;
};

// The JSON-lines file against docs/schema (tests/schema/validate.py, python3-jsonschema).
// There is no opt-out: a missing validator, python3 or jsonschema fails the check.
inline ::testing::AssertionResult SchemaValid(const std::string& path) {
  const std::string validator = std::string(KSIGHT_SOURCE_DIR) + "/tests/schema/validate.py";
  if (::access(validator.c_str(), R_OK) != 0)
    return ::testing::AssertionFailure() << validator << ": " << std::strerror(errno);
  if (auto py = HaveTool("python3"); !py) return py;
  const std::string cmd = "python3 " + validator + " " + path + " 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return ::testing::AssertionFailure() << "cannot run " << cmd;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int st = ::pclose(p);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return ::testing::AssertionSuccess();
  if (out.size() > 8000) out = out.substr(0, 8000) + "\n...";
  return ::testing::AssertionFailure() << "schema check failed (" << cmd << "):\n" << out;
}

inline std::vector<json> OfType(const std::vector<json>& recs, const std::string& type) {
  std::vector<json> out;
  for (const auto& r : recs) {
    if (r["event"]["type"] == type) out.push_back(r);
  }
  return out;
}

// The last heartbeat's counters for a probe.
inline json FinalCounters(const std::vector<json>& recs, const std::string& probe) {
  json last;
  for (const auto& r : recs) {
    if (r["event"]["type"] == "agent.heartbeat") last = r["counters"][probe];
  }
  return last;
}

// The exit code and stderr of a shell command that is expected to end quickly (a refused start).
struct RunResult {
  int code = -1;
  std::string err;
};
inline RunResult RunCmd(const std::string& cmd) {
  RunResult r;
  std::array<char, 8192> buf{};
  FILE* p = popen((cmd + " 2>&1 >/dev/null").c_str(), "r");
  if (!p) return r;
  const size_t n = fread(buf.data(), 1, buf.size() - 1, p);
  const int st = pclose(p);
  r.err.assign(buf.data(), n);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace ksight::test
