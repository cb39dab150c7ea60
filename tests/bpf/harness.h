// harness.h - helpers for the root BPF tests: run the real agent binary and
// trigger programs, read the agent's JSON lines back.
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
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ksight::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

inline bool IsRoot() { return ::geteuid() == 0; }

#define KS_REQUIRE_ROOT() \
  if (!::ksight::test::IsRoot()) GTEST_SKIP() << "needs root (loads BPF programs)"

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

  // Start argv; with pipes for stdin/stdout when asked.
  static Child Spawn(const std::vector<std::string>& argv, bool pipe_in, bool pipe_out) {
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipe_in && ::pipe2(in, O_CLOEXEC) != 0) std::abort();
    if (pipe_out && ::pipe2(out, O_CLOEXEC) != 0) std::abort();
    Child c;
    c.pid = ::fork();
    if (c.pid == 0) {
      if (pipe_in) ::dup2(in[0], 0);
      if (pipe_out) ::dup2(out[1], 1);
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

  // Exit status, or -1 after the timeout (the child is killed then).
  int Wait(std::chrono::milliseconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int st = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      const pid_t r = ::waitpid(pid, &st, WNOHANG);
      if (r == pid) {
        pid = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(10ms);
    }
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

inline std::string Trigger(const std::string& name) {
  return std::string(KSIGHT_TRIGGERS) + "/" + name;
}

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

// The agent running as a child, writing to a temp file.
class Agent {
 public:
  explicit Agent(std::vector<std::string> args, std::string tag = "agent") {
    path_ = ::testing::TempDir() + "/ksight_" + tag + "_" + std::to_string(::getpid()) + ".jsonl";
    std::remove(path_.c_str());
    std::vector<std::string> argv = {KSIGHT_BINARY, "run",      "--config",
                                     "/dev/null",   "--output", path_};
    // No /metrics unless the test asks: agents of parallel test runs (and a
    // ksight service on this host) would compete for 127.0.0.1:9815.
    if (std::find(args.begin(), args.end(), "--metrics-addr") == args.end())
      argv.insert(argv.end(), {"--metrics-addr", "off"});
    argv.insert(argv.end(), args.begin(), args.end());
    child_ = Child::Spawn(argv, false, false);
  }
  ~Agent() { std::remove(path_.c_str()); }

  // Wait until a record satisfies pred; false on timeout or agent exit.
  bool WaitFor(const std::function<bool(const json&)>& pred,
               std::chrono::milliseconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(path_);
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty() || line.back() != '}') continue;
        auto j = json::parse(line, nullptr, false);
        if (!j.is_discarded() && pred(j)) return true;
      }
      int st = 0;
      if (::waitpid(child_.pid, &st, WNOHANG) == child_.pid) {
        child_.pid = -1;
        exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return false;
      }
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  bool WaitRunning() {
    return WaitFor([](const json& j) {
      return j["event"]["type"] == "agent.status" && j["status"]["state"] == "running";
    });
  }

  // SIGINT, then the exit code.
  int Stop() {
    if (child_.pid > 0) {
      ::kill(child_.pid, SIGINT);
      exit_code_ = child_.Wait(30s);
    }
    return exit_code_;
  }

  std::vector<json> Records() const { return ReadRecords(path_); }
  const std::string& path() const { return path_; }

 private:
  Child child_;
  std::string path_;
  int exit_code_ = -1;
};

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
