// Root tests of /metrics, /healthz, /readyz, systemd notify and the
// capability drop, against the real agent: real HTTP over real sockets, a
// real unix datagram socket as NOTIFY_SOCKET, real /proc/<pid>/status.
// Values are compared with independent counts (the trigger's exact syscall
// count) and with the agent's own heartbeat record of the same instant
// (ksight_heartbeat_timestamp_seconds names it to the nanosecond), so no
// comparison depends on timing.
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <httplib.h>

#include "core/workload_identity.h"
#include "harness.h"

namespace ksight::test {
namespace {

using ::testing::HasSubstr;

constexpr int kGetppid = 5000;
constexpr int kEnoent = 37;
const char* const kReasons[] = {"ring_full", "queue_full",   "sink_error",  "disk_full",
                                "rotation",  "rate_limited", "kmsg_overrun"};

// A port nothing listens on right now (the kernel's pick).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    std::abort();
  ::close(fd);
  return ntohs(a.sin_port);
}

struct Http {
  int status = -1;  // -1: no answer
  std::string body;
};

Http Get(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(10, 0);
  Http h;
  if (auto r = c.Get(path)) {
    h.status = r->status;
    h.body = r->body;
  }
  return h;
}

// "series" -> value text, for every sample line of an exposition.
std::map<std::string, std::string> ParseSamples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t sp = line.rfind(' ');
    out[line.substr(0, sp)] = line.substr(sp + 1);
  }
  return out;
}

uint64_t U(const std::map<std::string, std::string>& m, const std::string& series) {
  auto it = m.find(series);
  if (it == m.end()) {
    ADD_FAILURE() << "no series " << series;
    return UINT64_MAX;
  }
  return std::stoull(it->second);
}

// "1795329767.248271323" -> 1795329767248271323.
uint64_t NanosFromSeconds(const std::string& s) {
  const size_t dot = s.find('.');
  if (dot == std::string::npos || s.size() - dot - 1 != 9) return 0;
  return std::stoull(s.substr(0, dot)) * 1000000000ULL + std::stoull(s.substr(dot + 1));
}

uint64_t NowUnixNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

int AgentPid(Agent& agent) {
  int pid = -1;
  EXPECT_TRUE(agent.WaitFor(
      [&](const json& j) {
        if (!IsStatus(j, "starting")) return false;
        pid = j["status"]["pid"].get<int>();
        return true;
      },
      30s, "the agent.status starting record"));
  EXPECT_EQ(pid, agent.pid()) << "the starting record names another pid";
  return pid;
}

TEST(Metrics, ScrapeAgreesWithHeartbeatAndTriggerCounts) {
  KS_REQUIRE_ROOT();
  const int port = FreePort();
  Child trig = Child::Spawn({Trigger("syscall_trigger"), "-w", "-g", std::to_string(kGetppid), "-e",
                             std::to_string(kEnoent)},
                            true, true);
  const int tpid = trig.pid;
  ASSERT_EQ(trig.ReadLine(), "pid " + std::to_string(tpid));
  Agent agent({"--probes", "syscalls", "--interval", "1s", "--pid", std::to_string(tpid),
               "--metrics-addr", "127.0.0.1:" + std::to_string(port)},
              "metrics");
  ASSERT_TRUE(agent.WaitRunning());

  // Serving once running; the agent is alive and ready.
  const Http health = Get(port, "/healthz");
  EXPECT_EQ(health.status, 200) << health.body;
  const Http ready = Get(port, "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.body, "ready\n");
  EXPECT_EQ(Get(port, "/nothing").status, 404);

  trig.Go();
  EXPECT_EQ(trig.ReadLine(30s),
            fmt::format("done getppid={} enoent={} sleep_ms=0", kGetppid, kEnoent));
  EXPECT_EQ(trig.Wait(), 0);
  const uint64_t done_ns = NowUnixNs();

  // The first snapshot taken at a heartbeat after the trigger finished: its
  // rollup read the maps after every one of the trigger's syscalls.
  std::map<std::string, std::string> m;
  Http scrape;
  uint64_t hb_ns = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        scrape = Get(port, "/metrics");
        if (scrape.status != 200) return false;
        m = ParseSamples(scrape.body);
        hb_ns = NanosFromSeconds(m["ksight_heartbeat_timestamp_seconds"]);
        return hb_ns > done_ns;
      },
      "a /metrics scrape of a heartbeat after the trigger finished", 30s, 100ms));
  ASSERT_EQ(scrape.status, 200);

  // Exact counts from the trigger.
  EXPECT_EQ(U(m, R"(ksight_syscalls_total{syscall="getppid"})"), static_cast<uint64_t>(kGetppid));
  EXPECT_EQ(U(m, R"(ksight_syscalls_total{syscall="openat"})"), static_cast<uint64_t>(kEnoent));
  EXPECT_EQ(U(m, R"(ksight_syscall_errors_total{syscall="openat"})"),
            static_cast<uint64_t>(kEnoent));
  EXPECT_EQ(U(m, R"(ksight_syscall_errors_total{syscall="getppid"})"), 0u);
  EXPECT_EQ(U(m, R"(ksight_probe_up{probe="syscalls"})"), 1u);
  EXPECT_THAT(scrape.body,
              HasSubstr("ksight_build_info{version=\"" KSIGHT_VERSION "\",revision=\""));
  EXPECT_GT(U(m, "process_resident_memory_bytes"), 1u << 20);
  EXPECT_GE(std::stod(m.at("process_cpu_seconds_total")), 0.0);
  EXPECT_THAT(scrape.body, HasSubstr("# TYPE ksight_gpu_xid_total counter"));

  // The heartbeat record of that same instant says the same.
  json hb;
  ASSERT_TRUE(agent.WaitFor(
      [&](const json& j) {
        if (j["event"]["type"] != "agent.heartbeat" || j["ts_unix_nano"].get<uint64_t>() != hb_ns)
          return false;
        hb = j;
        return true;
      },
      10s))
      << "no agent.heartbeat with ts_unix_nano " << hb_ns;
  for (const auto& [probe, c] : hb["counters"].items()) {
    SCOPED_TRACE(probe);
    EXPECT_EQ(U(m, "ksight_events_seen_total{probe=\"" + probe + "\"}"), c["seen"].get<uint64_t>());
    EXPECT_EQ(U(m, "ksight_events_emitted_total{probe=\"" + probe + "\"}"),
              c["emitted"].get<uint64_t>());
    uint64_t dropped = 0;
    for (const char* r : kReasons) {
      const uint64_t v =
          U(m, "ksight_events_dropped_total{probe=\"" + probe + "\",reason=\"" + r + "\"}");
      EXPECT_EQ(v, c["dropped_by_reason"].value(r, uint64_t{0})) << r;
      dropped += v;
    }
    EXPECT_EQ(dropped, c["dropped"].get<uint64_t>());
    EXPECT_EQ(U(m, "ksight_aggregation_lost_total{probe=\"" + probe + "\"}"),
              c["aggregation_lost"].get<uint64_t>());
  }
  EXPECT_GT(U(m, R"(ksight_events_seen_total{probe="syscalls"})"), 0u);

  // Records produced per type = the records of that type before the heartbeat.
  const auto recs = agent.Records();
  const uint64_t hb_seq = hb["event"]["seq"].get<uint64_t>();
  for (const char* type : {"syscall.stats", "syscall"}) {
    uint64_t n = 0;
    for (const auto& r : OfType(recs, type)) n += r["event"]["seq"].get<uint64_t>() < hb_seq;
    EXPECT_EQ(U(m, std::string("ksight_events_total{probe=\"syscalls\",type=\"") + type + "\"}"), n)
        << type;
  }
  EXPECT_EQ(agent.Stop(), 0);
}

// Poll /metrics until its heartbeat is later than after_ns; that heartbeat's ns (0: none came).
uint64_t ScrapeAfter(int port, uint64_t after_ns, std::map<std::string, std::string>& m) {
  uint64_t hb = 0;
  const auto r = WaitUntil(
      [&] {
        const Http h = Get(port, "/metrics");
        if (h.status != 200) return false;
        m = ParseSamples(h.body);
        hb = NanosFromSeconds(m["ksight_heartbeat_timestamp_seconds"]);
        return hb > after_ns;
      },
      "a /metrics scrape of a heartbeat after " + std::to_string(after_ns) + " ns", 30s, 100ms);
  EXPECT_TRUE(r);
  return r ? hb : 0;
}

TEST(Metrics, GpuXidCountsMatchTheLinesWritten) {
  KS_REQUIRE_ROOT();
  const int port = FreePort();
  Agent agent({"--probes", "gpu", "--interval", "1s", "--metrics-addr",
               "127.0.0.1:" + std::to_string(port)},
              "metrics_gpu");
  ASSERT_TRUE(agent.WaitRunning());
  // printk:console, which the gpu probe needs, exists on every kernel the agent supports
  // (docs/compatibility.md): a gpu probe that is not attached is a regression, not a skip.
  bool attached = false;
  for (const auto& r : agent.Records())
    attached |= IsStatus(r, "attached") && r["status"].value("probe", "") == "gpu";
  ASSERT_TRUE(attached) << "the gpu probe did not attach";
  // Codes no real driver on a test host reports, so a parallel test's lines cannot count.
  const std::map<std::string, int> written = {{"9971", 3}, {"9972", 2}};
  const int fd = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (const auto& [code, n] : written) {
    for (int i = 0; i < n; ++i) {
      const std::string l = fmt::format(
          "<4>NVRM: Xid (PCI:0000:9f:00): {}, pid=1, name=ksight-test, metrics {}\n", code, i);
      ASSERT_EQ(::write(fd, l.data(), l.size()), static_cast<ssize_t>(l.size()));
    }
  }
  ::close(fd);
  // Two heartbeats later every line was drained before the second one's rollup.
  std::map<std::string, std::string> m;
  const uint64_t first = ScrapeAfter(port, NowUnixNs(), m);
  ASSERT_GT(first, 0u);
  ASSERT_GT(ScrapeAfter(port, first, m), 0u);
  // One series per GPU and code, labelled like the records: bus id, code, name, severity.
  for (const auto& [code, n] : written) {
    const std::string series = fmt::format(
        "ksight_gpu_xid_total{{pci_bus_id=\"0000:9f:00\",code=\"{}\",name=\"{}\",severity=\"{}\"}}",
        code, "unknown", "warning");
    EXPECT_EQ(U(m, series), static_cast<uint64_t>(n)) << series;
  }
  EXPECT_EQ(U(m, R"(ksight_probe_up{probe="gpu"})"), 1u);
  EXPECT_EQ(agent.Stop(), 0);
  // And the stream has one gpu.xid record per line.
  std::map<std::string, int> seen;
  for (const auto& r : OfType(agent.Records(), "gpu.xid")) {
    const std::string code = std::to_string(r["xid"]["code"].get<int>());
    if (written.count(code)) ++seen[code];
  }
  EXPECT_EQ(seen, written);
}

// CapEff/CapPrm/CapBnd/CapAmb of every thread, from /proc/<pid>/task/*/status.
std::vector<std::map<std::string, uint64_t>> ThreadCaps(int pid) {
  std::vector<std::map<std::string, uint64_t>> out;
  for (const auto& t : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid))) {
    std::ifstream in(t.path() / "status");
    std::map<std::string, uint64_t> caps;
    std::string line;
    while (std::getline(in, line)) {
      for (const char* k : {"CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs"}) {
        if (line.rfind(std::string(k) + ":", 0) == 0)
          caps[k] = std::stoull(line.substr(std::strlen(k) + 1), nullptr, k[0] == 'C' ? 16 : 10);
      }
    }
    out.push_back(caps);
  }
  return out;
}

TEST(Metrics, CapabilitiesDroppedAfterAttachOnEveryThread) {
  KS_REQUIRE_ROOT();
  const int port = FreePort();
  Agent agent({"--probes", "syscalls", "--interval", "1s", "--metrics-addr",
               "127.0.0.1:" + std::to_string(port)},
              "caps");
  const int pid = AgentPid(agent);
  ASSERT_GT(pid, 0);
  json running;
  ASSERT_TRUE(agent.WaitFor([&](const json& j) {
    if (j["event"]["type"] != "agent.status" || j["status"]["state"] != "running") return false;
    running = j;
    return true;
  }));
  // What the agent says it kept; on this kernel (>= 6.5, map access needs no
  // capability on a held fd) that is nothing, unless /proc has hidepid.
  const std::string kept = running["status"]["details"]["capabilities"].get<std::string>();
  uint64_t want = 0;
  if (kept != "none") {
    const std::map<std::string, int> bits = {
        {"cap_sys_ptrace", CAP_SYS_PTRACE}, {"cap_sys_admin", CAP_SYS_ADMIN}, {"cap_bpf", CAP_BPF}};
    for (const auto& [name, bit] : bits)
      if (kept.find(name) != std::string::npos) want |= uint64_t{1} << bit;
    ASSERT_NE(want, 0u) << "unexpected capability summary: " << kept;
  }
  // Serving /metrics means the HTTP threads exist now: every thread counts.
  ASSERT_EQ(Get(port, "/healthz").status, 200);
  const auto threads = ThreadCaps(pid);
  ASSERT_GE(threads.size(), 2u) << "the HTTP server runs in its own thread";
  // The main thread keeps exactly what it announced; helper threads (output writers) keep
  // nothing (core/thread.h), HTTP threads inherit the main thread's set: none keeps more.
  for (const auto& t : threads) {
    EXPECT_EQ(t.at("CapEff") & ~want, 0u) << kept;
    EXPECT_EQ(t.at("CapPrm") & ~want, 0u);
    EXPECT_EQ(t.at("CapBnd") & ~want, 0u);  // root has CAP_SETPCAP: the bounding set is cut too
    EXPECT_EQ(t.at("CapAmb"), 0u);
    EXPECT_EQ(t.at("NoNewPrivs"), 1u);
  }
  // And the run still works without them: heartbeats keep coming (map reads).
  ASSERT_TRUE(agent.WaitFor([](const json& j) { return j["event"]["type"] == "syscall.stats"; }));
  EXPECT_EQ(agent.Stop(), 0);
  const auto recs = agent.Records();
  const json fin = FinalCounters(recs, "syscalls");
  EXPECT_EQ(fin["seen"], fin["emitted"].get<uint64_t>() + fin["dropped"].get<uint64_t>());
}

RunResult RunAgentCmd(const std::string& args) {
  return RunCmd(std::string(KSIGHT_BINARY) + " run --config /dev/null --output " +
                ::testing::TempDir() + "/ksight_metrics_err.jsonl --duration 1s " + args);
}

TEST(Metrics, BadAddressIsAUsageError) {
  for (const char* bad : {"nonsense", "127.0.0.1:70000", "::1:9815"}) {
    const RunResult r = RunAgentCmd(std::string("--metrics-addr ") + bad);
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_THAT(r.err, HasSubstr(std::string("metrics_addr '") + bad + "'"));
    EXPECT_THAT(r.err, HasSubstr("expected HOST:PORT"));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(Metrics, BusyPortOrForeignAddressExitsOneWithOneLine) {
  KS_REQUIRE_ROOT();
  // A real listener holds the port.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const int port = ntohs(a.sin_port);
  RunResult r = RunAgentCmd("--metrics-addr 127.0.0.1:" + std::to_string(port));
  ::close(fd);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(fmt::format("cannot serve /metrics on 127.0.0.1:{}", port)));
  EXPECT_THAT(r.err, HasSubstr("already in use"));
  EXPECT_THAT(r.err, HasSubstr("--metrics-addr"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  // TEST-NET-1 is on no interface of this host.
  r = RunAgentCmd("--metrics-addr 192.0.2.1:9815");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no interface of this host has that address"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// A unix datagram socket standing in for systemd's notify socket.
class NotifySocket {
 public:
  NotifySocket() {
    path_ = ::testing::TempDir() + "/ksight_notify_" + std::to_string(::getpid()) + ".sock";
    std::remove(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path_.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) std::abort();
  }
  ~NotifySocket() {
    ::close(fd_);
    std::remove(path_.c_str());
  }
  const std::string& path() const { return path_; }
  // Messages until one contains want (or the timeout); returns them all.
  std::vector<std::string> Until(const std::string& want, std::chrono::milliseconds timeout = 30s) {
    std::vector<std::string> got;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) continue;
      got.emplace_back(buf, static_cast<size_t>(n));
      if (got.back().find(want) != std::string::npos) break;
    }
    return got;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

bool AnyHas(const std::vector<std::string>& msgs, const std::string& s) {
  return std::any_of(msgs.begin(), msgs.end(),
                     [&](const std::string& m) { return m.find(s) != std::string::npos; });
}

TEST(Metrics, SystemdNotifyReadyWatchdogStopping) {
  KS_REQUIRE_ROOT();
  NotifySocket sock;
  ::setenv("NOTIFY_SOCKET", sock.path().c_str(), 1);
  ::setenv("WATCHDOG_USEC", "400000", 1);  // pings every 200 ms
  Agent agent({"--probes", "syscalls", "--interval", "1s"}, "notify");
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");

  auto msgs = sock.Until("READY=1");
  const auto ready_at = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  ASSERT_TRUE(AnyHas(msgs, "READY=1")) << "no READY=1";
  EXPECT_FALSE(AnyHas(msgs, "STOPPING=1"));
  EXPECT_THAT(msgs.back(), HasSubstr("STATUS=1 probe(s) attached"));
  // READY comes after every probe is attached: the probe's `attached` record
  // was made before READY arrived (a writer thread puts it in the file, so
  // it may reach the file a little after READY).
  EXPECT_TRUE(agent.WaitFor([&](const json& r) {
    return r["event"]["type"] == "agent.status" && r["status"]["state"] == "attached" &&
           r["status"]["probe"] == "syscalls" && r["ts_unix_nano"].get<int64_t>() <= ready_at;
  })) << "no agent.status attached record for syscalls made before READY";

  msgs = sock.Until("WATCHDOG=1");
  EXPECT_TRUE(AnyHas(msgs, "WATCHDOG=1")) << "no watchdog ping";
  EXPECT_EQ(agent.Stop(), 0);
  msgs = sock.Until("STOPPING=1", 5s);
  EXPECT_TRUE(AnyHas(msgs, "STOPPING=1"));
  EXPECT_FALSE(AnyHas(msgs, "READY=1"));
}

// Per-container series are bounded and never go down: with container_series = 1, the first
// container that fails syscalls gets the one series (counting from the rollup after it was
// first seen), the second goes to "other", and every error in the stream is in exactly one
// series. The stream's own syscall.stats errors are the independent count.
TEST(Metrics, PerContainerSeriesAreBoundedAndMonotonic) {
  KS_REQUIRE_ROOT();
  const std::string cg2 = Cgroup2Mount();
  if (cg2.empty()) KS_SKIP_OR_FAIL_IN_CI("no cgroup2 mount on this host");
  const std::string ida(64, 'a'), idb(64, 'b');
  const std::string top = cg2 + "/ksight-cmetrics-" + std::to_string(::getpid());
  const std::string a = top + "/docker-" + ida + ".scope", b = top + "/docker-" + idb + ".scope";
  std::filesystem::create_directories(a);
  std::filesystem::create_directories(b);
  const std::string cfg = ::testing::TempDir() + "/ksight_cmetrics.toml";
  std::ofstream(cfg) << "[syscalls]\ncontainer_series = 1\n";
  const int port = FreePort();
  Agent agent({"--config", cfg, "--probes", "syscalls", "--interval", "1s", "--cgroup", a,
               "--cgroup", b, "--metrics-addr", "127.0.0.1:" + std::to_string(port)},
              "cmetrics");
  ASSERT_TRUE(agent.WaitRunning());
  // A process in DIR making N failing openat calls; its pid.
  auto burst = [&](const std::string& dir, int n) {
    Child c = Child::Spawn({"/bin/sh", "-c",
                            "echo $$ > " + dir + "/cgroup.procs && exec " +
                                Trigger("syscall_trigger") + " -e " + std::to_string(n)},
                           false, true);
    const int pid = c.pid;
    c.ReadLine(30s);
    EXPECT_EQ(c.Wait(), 0);
    EXPECT_TRUE(agent.WaitFor(
        [&](const json& j) {
          return j["event"]["type"] == "syscall.stats" && j["process"]["pid"] == pid;
        },
        15s));
    return pid;
  };
  burst(a, 5);
  burst(b, 6);
  const int last = burst(a, 7);
  // Two more heartbeats: every record of the bursts is rolled up and published.
  size_t hb = OfType(agent.Records(), "agent.heartbeat").size();
  ASSERT_TRUE(agent.WaitFor(
      [&](const json&) { return OfType(agent.Records(), "agent.heartbeat").size() >= hb + 2; },
      15s));
  const Http m = Get(port, "/metrics");
  EXPECT_EQ(agent.Stop(), 0);
  ::rmdir(a.c_str());
  ::rmdir(b.c_str());
  ::rmdir(top.c_str());
  ASSERT_EQ(m.status, 200);
  const auto samples = ParseSamples(m.body);
  std::map<std::string, uint64_t> series;
  for (const auto& [k, v] : samples) {
    const std::string prefix = "ksight_syscall_container_errors_total{container_id=\"";
    if (k.rfind(prefix, 0) == 0)
      series[k.substr(prefix.size(), k.size() - prefix.size() - 2)] = std::stoull(v);
  }
  // From the stream: errors per container, and those of A after A's first rollup.
  uint64_t total = 0, a_after = 0;
  std::string a_first;
  for (const auto& r : OfType(agent.Records(), "syscall.stats")) {
    const uint64_t e = r["stats"]["errors"].get<uint64_t>();
    total += e;
    if (r.contains("container") && r["container"]["id"] == ida) {
      if (a_first.empty())
        a_first = r["time"];
      else if (r["time"].get<std::string>() > a_first)
        a_after += e;
    }
  }
  EXPECT_GT(last, 0);
  EXPECT_GE(a_after, 7u) << "the second burst in A came after A had its series";
  EXPECT_EQ(series.size(), 3u) << m.body;  // A, other, none: B has no series of its own
  EXPECT_EQ(series[ida], a_after);
  EXPECT_FALSE(series.contains(idb));
  EXPECT_EQ(series["none"], 0u);  // the filter keeps processes outside both cgroups out
  EXPECT_EQ(series[ida] + series["other"] + series["none"], total);
  EXPECT_GE(series["other"], 5u + 6u);
}

}  // namespace
}  // namespace ksight::test
