// Root tests of the tcp_retransmit probe against the real kernel. Each test
// builds a private network namespace (lo up, MTU 1500, TSO/GSO off) with an
// nftables rule on the input hook that drops chosen segments, runs a
// tcp_flow client/server pair in it (nsenter --net: the agent stays outside
// and keeps the host's tracefs), and compares the agent's records with the
// kernel's own counters in that namespace (nstat) and the nft drop counter.
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "harness.h"

namespace ksight::test {
namespace {

constexpr const char* kNsPrefix = "kstcp_";
constexpr const char* kTable = "ksight_tcp_test";

// Run a shell command; its stdout, and its exit status in *rc.
std::string Sh(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) {
    if (rc) *rc = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int st = ::pclose(p);
  if (rc) *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

int FirstCpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i) {
      if (CPU_ISSET(i, &set)) return i;
    }
  }
  return 0;
}

// A network namespace for one test, removed (with its nft table) by the
// destructor, also when an assertion fails. Names carry the test process's
// pid, so namespaces left by a killed run are recognised and removed.
class TestNetns {
 public:
  TestNetns() {
    // Every test here needs these (tools/install-deps.sh test): missing is a failure.
    for (const char* tool : {"ip", "nsenter", "ethtool", "nft", "nstat", "awk"}) {
      if (auto have = HaveTool(tool); !have) {
        error_ = have.message();
        return;
      }
    }
    RemoveStale();
    static std::atomic<int> seq{0};
    name_ = std::string(kNsPrefix) + std::to_string(::getpid()) + "_" + std::to_string(seq++);
    int rc = 0;
    const std::string out = Sh("ip netns add " + name_, &rc);
    if (rc != 0) {
      error_ = "ip netns add: " + out;
      return;
    }
    created_ = true;
    // MTU 1500 and no segmentation offload: one skb is one segment on the wire.
    const std::string setup = Exec(
        "sh -c 'ip link set lo mtu 1500 && ip link set lo up && "
        "ethtool -K lo tso off gso off'",
        &rc);
    if (rc != 0) {
      error_ = "setting up lo: " + setup;
      return;
    }
    struct stat st {};
    if (::stat(path().c_str(), &st) == 0) inode_ = st.st_ino;
  }

  ~TestNetns() {
    if (!created_) return;
    Exec(std::string("nft delete table inet ") + kTable);
    Sh("ip netns del " + name_);
  }

  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;

  const std::string& error() const { return error_; }
  bool ok() const { return error_.empty() && inode_ != 0; }
  std::string path() const { return "/run/netns/" + name_; }
  uint64_t inode() const { return inode_; }

  // A command line run in the namespace (the caller's mounts, so tracefs stays visible).
  std::string Exec(const std::string& cmd, int* rc = nullptr) const {
    return Sh("nsenter --net=" + path() + " " + cmd, rc);
  }
  std::vector<std::string> Argv(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"/usr/bin/nsenter", "--net=" + path()});
    return argv;
  }
  // The same, pinned to one CPU: lo then delivers every segment in order (a
  // flow spread over CPUs is reordered between their backlogs, and the
  // sender's loss detection then re-sends segments that were not lost).
  std::vector<std::string> PinnedArgv(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"/usr/bin/taskset", "-c", std::to_string(FirstCpu())});
    return Argv(std::move(argv));
  }

  // Install the test's nft table: `rules` are lines of the input chain.
  bool Nft(const std::vector<std::string>& rules) const {
    std::string text = std::string("table inet ") + kTable + " {\n chain input {\n" +
                       "  type filter hook input priority 0; policy accept;\n";
    for (const auto& r : rules) text += "  " + r + "\n";
    text += " }\n}\n";
    const std::string file = ::testing::TempDir() + "/" + name_ + ".nft";
    std::ofstream(file) << text;
    int rc = 0;
    const std::string out = Exec("nft -f " + file, &rc);
    std::remove(file.c_str());
    if (rc != 0) ADD_FAILURE() << "nft -f failed: " << out << "\n" << text;
    return rc == 0;
  }

  // Packets dropped by the test table's rules (sum of its counters).
  uint64_t NftDrops() const {
    const std::string out = Exec(std::string("nft list table inet ") + kTable);
    static const std::regex re("counter packets ([0-9]+)");
    uint64_t sum = 0;
    for (auto it = std::sregex_iterator(out.begin(), out.end(), re); it != std::sregex_iterator();
         ++it)
      sum += std::stoull((*it)[1]);
    return sum;
  }

  // Wait until the namespace has no TCP socket left but listeners and
  // TIME_WAIT: a FIN or last ACK the kernel still re-sends after both ends
  // exited would otherwise land between the counter reads and the agent's stop.
  void WaitTcpIdle(std::chrono::milliseconds timeout = 10s) const {
    std::string busy;
    EXPECT_TRUE(WaitUntil(
        [&] {
          // st: 06 TIME_WAIT, 0A LISTEN.
          busy = Exec("awk 'FNR > 1 && $4 != \"06\" && $4 != \"0A\"' /proc/net/tcp /proc/net/tcp6");
          return busy.find_first_not_of(" \n") == std::string::npos;
        },
        "no TCP socket but listeners and TIME_WAIT left in " + name_, timeout, 50ms))
        << "; still busy:\n"
        << busy;
  }

  // Absolute SNMP counters of the namespace (nstat -a: no history file kept).
  std::map<std::string, uint64_t> Nstat() const {
    std::map<std::string, uint64_t> m;
    std::istringstream in(Exec("nstat -asz"));
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string k;
      uint64_t v;
      if (ls >> k >> v) m[k] = v;
    }
    return m;
  }

 private:
  // Namespaces of earlier runs of this binary that died before cleaning up.
  static void RemoveStale() {
    DIR* d = ::opendir("/run/netns");
    if (!d) return;
    std::vector<std::string> stale;
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n.rfind(kNsPrefix, 0) != 0) continue;
      const pid_t pid = std::atoi(n.c_str() + std::strlen(kNsPrefix));
      if (pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) stale.push_back(n);
    }
    ::closedir(d);
    for (const auto& n : stale) Sh("ip netns del " + n);
  }

  std::string name_;
  std::string error_;
  bool created_ = false;
  uint64_t inode_ = 0;
};

// Parse "key=value" out of a trigger line ("connected pid=12 local=5001").
int Field(const std::string& line, const std::string& key) {
  const auto pos = line.find(key + "=");
  if (pos == std::string::npos) return -1;
  return std::atoi(line.c_str() + pos + key.size() + 1);
}

std::vector<json> InNetns(const std::vector<json>& recs, const std::string& type, uint64_t ino) {
  std::vector<json> out;
  for (const auto& r : OfType(recs, type)) {
    if (r["network"]["netns_inode"].get<uint64_t>() == ino) out.push_back(r);
  }
  return out;
}

uint64_t Delta(const std::map<std::string, uint64_t>& a, const std::map<std::string, uint64_t>& b,
               const std::string& k) {
  const auto ia = a.find(k), ib = b.find(k);
  return (ib == b.end() ? 0 : ib->second) - (ia == a.end() ? 0 : ia->second);
}

void ExpectLossless(const std::vector<json>& recs) {
  const auto fin = FinalCounters(recs, "tcp_retransmit");
  ASSERT_FALSE(fin.is_null());
  EXPECT_EQ(fin["seen"].get<uint64_t>(),
            fin["emitted"].get<uint64_t>() + fin["dropped"].get<uint64_t>());
  EXPECT_EQ(fin["dropped"], 0);
  EXPECT_EQ(fin["aggregation_lost"], 0);  // the socket-owner map never filled
}

void ExpectSchemaValid(const Agent& agent) { EXPECT_TRUE(SchemaValid(agent.path())); }

// What a client/server run in a namespace produced.
struct Flow {
  int client_pid = -1, server_pid = -1;
  int client_port = -1;
  bool ok = false;
};

// Start server and client (both waiting on stdin), return their pids;
// then Go() them in order once the agents run.
class FlowPair {
 public:
  FlowPair(const TestNetns& ns, const std::string& addr, int port,
           std::vector<std::string> server_args, std::vector<std::string> client_args) {
    std::vector<std::string> s = {Trigger("tcp_flow"), "server", "-w", "-a", addr, "-p",
                                  std::to_string(port)};
    std::vector<std::string> c = {Trigger("tcp_flow"), "client", "-w", "-a", addr, "-p",
                                  std::to_string(port)};
    s.insert(s.end(), server_args.begin(), server_args.end());
    c.insert(c.end(), client_args.begin(), client_args.end());
    server_ = Child::Spawn(ns.PinnedArgv(s), true, true);
    client_ = Child::Spawn(ns.PinnedArgv(c), true, true);
    flow_.server_pid = Field(server_.ReadLine(), "pid");
    flow_.client_pid = Field(client_.ReadLine(), "pid");
  }

  const Flow& flow() const { return flow_; }

  // Run the exchange to its end.
  const Flow& Run(std::chrono::milliseconds timeout = 30s) {
    server_.Go();
    EXPECT_EQ(Field(server_.ReadLine(), "pid"), flow_.server_pid);  // "listening pid=..."
    client_.Go();
    flow_.client_port = Field(client_.ReadLine(), "local");
    client_done_ = client_.ReadLine(timeout);
    server_.ReadLine(timeout);  // "connected ..."
    server_done_ = server_.ReadLine(timeout);
    const int crc = client_.Wait(timeout), src = server_.Wait(timeout);
    flow_.ok = crc == 0 && src == 0;
    EXPECT_EQ(crc, 0) << "client: " << client_done_;
    EXPECT_EQ(src, 0) << "server: " << server_done_;
    return flow_;
  }

  const std::string& client_done() const { return client_done_; }
  const std::string& server_done() const { return server_done_; }

 private:
  Child server_, client_;
  Flow flow_;
  std::string client_done_, server_done_;
};

struct BulkCase {
  const char* name;
  bool ipv6;
  bool server_sends;         // else the client sends
  bool tracepoints = false;  // the classic tracepoint flavor (KSIGHT_TCP_HOOK=tracepoint)
};

void PrintTo(const BulkCase& c, std::ostream* os) { *os << c.name; }

class TcpRetransmitBulk : public ::testing::TestWithParam<BulkCase> {};

// Every 50th data segment of a 4 MB transfer is dropped on input: the
// sender retransmits. The agent's count must equal TcpRetransSegs, each
// record must name the sender (not the CPU's task) and the flow's tuple.
TEST_P(TcpRetransmitBulk, CountsMatchTheKernelAndNameTheOwner) {
  KS_REQUIRE_ROOT();
  const BulkCase& tc = GetParam();
  TestNetns ns;
  ASSERT_TRUE(ns.ok()) << ns.error();
  constexpr int kPort = 5001;
  constexpr uint64_t kBytes = 4000000;
  const std::string addr = tc.ipv6 ? "::1" : "127.0.0.1";
  // A data segment: not SYN/RST, longer than IP + TCP header with timestamps (20/40 + 32).
  const std::string dir = tc.server_sends ? "sport" : "dport";
  const std::string len =
      tc.ipv6 ? "meta nfproto ipv6 meta length > 72" : "meta nfproto ipv4 meta length > 52";
  ASSERT_TRUE(ns.Nft(
      {fmt::format("tcp {} {} tcp flags & (syn|rst) == 0 {} numgen inc mod 50 == 0 counter drop",
                   dir, kPort, len)}));

  const std::string n = std::to_string(kBytes);
  FlowPair pair(
      ns, addr, kPort,
      tc.server_sends ? std::vector<std::string>{"-n", n} : std::vector<std::string>{"-R", n},
      tc.server_sends ? std::vector<std::string>{"-R", n} : std::vector<std::string>{"-n", n});
  const int sender = tc.server_sends ? pair.flow().server_pid : pair.flow().client_pid;
  const int receiver = tc.server_sends ? pair.flow().client_pid : pair.flow().server_pid;
  ASSERT_GT(sender, 0);
  ASSERT_GT(receiver, 0);

  const std::string tag = std::string("tcp_") + tc.name;
  // The agents inherit the hook choice from the environment.
  struct HookEnv {
    explicit HookEnv(bool tp) {
      if (tp) ::setenv("KSIGHT_TCP_HOOK", "tracepoint", 1);
    }
    ~HookEnv() { ::unsetenv("KSIGHT_TCP_HOOK"); }
  } hook_env(tc.tracepoints);
  // The sender's owner filter and the test port pass everything of the flow...
  Agent agent({"--probes", "tcp_retransmit", "--interval", "1s", "--pid", std::to_string(sender),
               "--port", std::to_string(kPort)},
              tag);
  // ...the receiver's owner and another port pass nothing of it.
  Agent other_pid({"--probes", "tcp_retransmit", "--pid", std::to_string(receiver)}, tag + "_pid");
  Agent other_port({"--probes", "tcp_retransmit", "--port", "1"}, tag + "_port");
  ASSERT_TRUE(agent.WaitRunning());
  ASSERT_TRUE(other_pid.WaitRunning());
  ASSERT_TRUE(other_port.WaitRunning());
  for (const auto& st : OfType(agent.Records(), "agent.status")) {
    if (st["status"].value("probe", "") == "tcp_retransmit")
      EXPECT_EQ(st["status"]["details"]["tcp_retransmit_skb"],
                tc.tracepoints ? "tracepoint" : "tp_btf");
  }

  const auto before = ns.Nstat();
  const Flow& f = pair.Run();
  ASSERT_TRUE(f.ok);
  EXPECT_EQ(pair.client_done(),
            tc.server_sends ? "done sent=0 received=" + n : "done sent=" + n + " received=0");
  ns.WaitTcpIdle();
  const auto after = ns.Nstat();
  const uint64_t drops = ns.NftDrops();
  EXPECT_EQ(agent.Stop(), 0);
  EXPECT_EQ(other_pid.Stop(), 0);
  EXPECT_EQ(other_port.Stop(), 0);

  const auto recs = agent.Records();
  const auto rtx = InNetns(recs, "tcp.retransmit", ns.inode());
  const uint64_t kernel = Delta(before, after, "TcpRetransSegs");
  const uint64_t probes = Delta(before, after, "TcpExtTCPLossProbes");
  // Duplicate data the receiver got (and answered with a D-SACK): spurious retransmits.
  const uint64_t dups =
      Delta(before, after, "TcpExtTCPDSACKOldSent") + Delta(before, after, "TcpExtTCPDSACKOfoSent");
  uint64_t segs = 0, tlp = 0;
  for (const auto& r : rtx) {
    segs += r["tcp"]["segs"].get<uint64_t>();
    tlp += r["tcp"]["kind"] == "tlp";
  }
  std::printf(
      "[ counts   ] %s: records=%zu segs=%lu TcpRetransSegs=%lu nft_drops=%lu dsack_sent=%lu "
      "tlp=%lu TCPLossProbes=%lu\n",
      tc.name, rtx.size(), segs, kernel, drops, dups, tlp, probes);
  EXPECT_GT(drops, 20u);
  // The kernel's count, exactly: TcpRetransSegs counts segments, and so does
  // the records' segs (one per record with TSO/GSO off, but a retransmit
  // may carry two merged segments).
  EXPECT_EQ(segs, kernel);
  EXPECT_LE(rtx.size(), segs);
  // Every dropped segment was retransmitted. More retransmits than drops are
  // spurious ones (the sender judged a segment lost that was only late): the
  // receiver then got the data twice and said so with a D-SACK, so any
  // excess must show as duplicates in the namespace's own counters.
  EXPECT_GE(segs, drops);
  if (segs > drops) EXPECT_GT(dups, 0u) << "retransmits beyond the drops without a D-SACK";
  EXPECT_LE(tlp, probes);

  const int sender_port = tc.server_sends ? kPort : f.client_port;
  const int receiver_port = tc.server_sends ? f.client_port : kPort;
  for (const auto& r : rtx) {
    SCOPED_TRACE(r.dump());
    EXPECT_EQ(r["process"]["pid"], sender);
    EXPECT_EQ(r["process"]["comm"], "tcp_flow");
    EXPECT_EQ(r["process"]["source"], "socket_owner");
    EXPECT_EQ(r["tcp"]["owner_from"], tc.server_sends ? "listener" : "connect");
    EXPECT_EQ(r["source"]["address"], addr);
    EXPECT_EQ(r["source"]["port"], sender_port);
    EXPECT_EQ(r["destination"]["address"], addr);
    EXPECT_EQ(r["destination"]["port"], receiver_port);
    EXPECT_EQ(r["network"]["type"], tc.ipv6 ? "ipv6" : "ipv4");
    EXPECT_EQ(r["network"]["transport"], "tcp");
    const std::string state = r["tcp"]["state"];
    EXPECT_TRUE(state == "ESTABLISHED" || state == "FIN_WAIT1" || state == "CLOSING") << state;
    const std::string kind = r["tcp"]["kind"];
    EXPECT_TRUE(kind == "retransmit" || kind == "tlp") << kind;
    EXPECT_EQ(r["tcp"]["mss"], tc.ipv6 ? 1428 : 1448);  // MTU 1500 - IP - TCP - timestamps
    EXPECT_GT(r["tcp"]["snd_cwnd"].get<uint64_t>(), 0u);
    EXPECT_GT(r["tcp"]["srtt_us"].get<uint64_t>(), 0u);
    EXPECT_GE(r["tcp"]["rto_ms"].get<uint64_t>(), 200u);  // TCP_RTO_MIN
    EXPECT_GE(r["tcp"]["total_retrans"].get<uint64_t>(), 1u);
  }
  // Per interval and flow, the stats add up to the records.
  uint64_t stats_count = 0, stats_kinds = 0;
  for (const auto& s : InNetns(recs, "tcp.retransmit.stats", ns.inode())) {
    EXPECT_EQ(s["source"]["port"], sender_port);
    EXPECT_EQ(s["process"]["pid"], sender);
    stats_count += s["tcp"]["count"].get<uint64_t>();
    for (const auto& [k, v] : s["tcp"]["by_kind"].items()) stats_kinds += v.get<uint64_t>();
  }
  EXPECT_EQ(stats_count, rtx.size());
  EXPECT_EQ(stats_kinds, rtx.size());
  ExpectLossless(recs);
  ExpectSchemaValid(agent);

  EXPECT_TRUE(InNetns(other_pid.Records(), "tcp.retransmit", ns.inode()).empty());
  EXPECT_TRUE(InNetns(other_port.Records(), "tcp.retransmit", ns.inode()).empty());
}

INSTANTIATE_TEST_SUITE_P(
    Flows, TcpRetransmitBulk,
    ::testing::Values(BulkCase{"ipv4_client_sends", false, false},
                      BulkCase{"ipv4_server_sends", false, true},
                      BulkCase{"ipv6_client_sends", true, false},
                      BulkCase{"ipv6_server_sends", true, true},
                      BulkCase{"ipv4_client_sends_tracepoints", false, false, true},
                      BulkCase{"ipv6_server_sends_tracepoints", true, true, true}),
    [](const auto& info) { return std::string(info.param.name); });

// The client's final handshake ACK is dropped once: the listener re-sends its
// SYN-ACK after the initial RTO (1 s), the client ACKs again, and the flow
// goes on. One record, kind synack, owned by the listening server.
TEST(TcpRetransmit, SynAckRetransmitIsKindSynack) {
  KS_REQUIRE_ROOT();
  TestNetns ns;
  ASSERT_TRUE(ns.ok()) << ns.error();
  constexpr int kPort = 5002;
  // Only the first pure ACK to the server (IP 20 + TCP 32 with timestamps).
  ASSERT_TRUE(
      ns.Nft({fmt::format("tcp dport {} tcp flags == ack meta nfproto ipv4 meta length <= 52 "
                          "numgen inc mod 1000000 == 0 counter drop",
                          kPort)}));
  // The server speaks first, so the client sends nothing that could complete
  // the handshake before the SYN-ACK is re-sent.
  FlowPair pair(ns, "127.0.0.1", kPort, {"-n", "5"}, {"-r", "5"});
  ASSERT_GT(pair.flow().server_pid, 0);
  Agent agent({"--probes", "tcp_retransmit", "--interval", "1s"}, "tcp_synack");
  ASSERT_TRUE(agent.WaitRunning());
  const auto before = ns.Nstat();
  const Flow& f = pair.Run();
  ASSERT_TRUE(f.ok);
  ns.WaitTcpIdle();
  const auto after = ns.Nstat();
  EXPECT_EQ(ns.NftDrops(), 1u);
  EXPECT_EQ(agent.Stop(), 0);

  const auto recs = agent.Records();
  const auto rtx = InNetns(recs, "tcp.retransmit", ns.inode());
  EXPECT_EQ(Delta(before, after, "TcpExtTCPSynRetrans"), 1u);
  EXPECT_EQ(rtx.size(), Delta(before, after, "TcpRetransSegs"));
  ASSERT_EQ(rtx.size(), 1u);
  const json& r = rtx[0];
  SCOPED_TRACE(r.dump());
  EXPECT_EQ(r["tcp"]["kind"], "synack");
  EXPECT_EQ(r["tcp"]["state"], "NEW_SYN_RECV");
  EXPECT_EQ(r["tcp"]["mss"], 1460);             // the MSS the client's SYN offered (MTU 1500)
  EXPECT_FALSE(r["tcp"].contains("snd_cwnd"));  // a request socket has no tcp_sock state
  EXPECT_EQ(r["process"]["pid"], f.server_pid);
  EXPECT_EQ(r["process"]["source"], "socket_owner");
  EXPECT_EQ(r["tcp"]["owner_from"], "listen");
  EXPECT_EQ(r["source"]["address"], "127.0.0.1");
  EXPECT_EQ(r["source"]["port"], kPort);
  EXPECT_EQ(r["destination"]["port"], f.client_port);
  const auto stats = InNetns(recs, "tcp.retransmit.stats", ns.inode());
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0]["tcp"]["by_kind"]["synack"], 1);
  ExpectLossless(recs);
  ExpectSchemaValid(agent);
}

// A request/response whose only data segment is lost: nothing follows it,
// so no duplicate ACK can trigger a fast retransmit; the tail loss probe
// re-sends it. One record, kind tlp, and the kernel counted one probe.
TEST(TcpRetransmit, TailLossProbeIsKindTlp) {
  KS_REQUIRE_ROOT();
  TestNetns ns;
  ASSERT_TRUE(ns.ok()) << ns.error();
  constexpr int kPort = 5003;
  ASSERT_TRUE(ns.Nft(
      {fmt::format("tcp dport {} tcp flags & (syn|rst) == 0 meta nfproto ipv6 meta length > 72 "
                   "numgen inc mod 1000000 == 0 counter drop",
                   kPort)}));
  FlowPair pair(ns, "::1", kPort, {"-R", "100", "-n", "100"}, {"-n", "100", "-r", "100"});
  ASSERT_GT(pair.flow().client_pid, 0);
  Agent agent({"--probes", "tcp_retransmit", "--interval", "1s"}, "tcp_tlp");
  ASSERT_TRUE(agent.WaitRunning());
  const auto before = ns.Nstat();
  const Flow& f = pair.Run();
  ASSERT_TRUE(f.ok);
  ns.WaitTcpIdle();
  const auto after = ns.Nstat();
  EXPECT_EQ(ns.NftDrops(), 1u);
  EXPECT_EQ(agent.Stop(), 0);

  const auto rtx = InNetns(agent.Records(), "tcp.retransmit", ns.inode());
  EXPECT_EQ(Delta(before, after, "TcpExtTCPLossProbes"), 1u);
  EXPECT_EQ(rtx.size(), Delta(before, after, "TcpRetransSegs"));
  ASSERT_EQ(rtx.size(), 1u);
  SCOPED_TRACE(rtx[0].dump());
  EXPECT_EQ(rtx[0]["tcp"]["kind"], "tlp");
  EXPECT_EQ(rtx[0]["process"]["pid"], f.client_pid);
  EXPECT_EQ(rtx[0]["source"]["address"], "::1");
  EXPECT_EQ(rtx[0]["network"]["type"], "ipv6");
}

// The cgroup v2 id of a process: the inode of its cgroup directory.
uint64_t CgroupIdOf(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) != 0) continue;
    struct stat st {};
    if (::stat(("/sys/fs/cgroup" + line.substr(3)).c_str(), &st) == 0) return st.st_ino;
  }
  return 0;
}

// A connection made before the agent started has no entry in the owner map.
// A retransmit then names the task holding the socket lock (process context:
// the sender itself, source on_cpu) or nobody (softirq: source unknown, pid
// 0, but still the socket's cgroup). Never a task merely on the CPU.
TEST(TcpRetransmit, SocketsOlderThanTheAgentFallBackToOnCpuOrUnknown) {
  KS_REQUIRE_ROOT();
  TestNetns ns;
  ASSERT_TRUE(ns.ok()) << ns.error();
  constexpr int kPort = 5005;
  ASSERT_TRUE(ns.Nft(
      {fmt::format("tcp dport {} tcp flags & (syn|rst) == 0 meta nfproto ipv4 meta length > 52 "
                   "numgen inc mod 50 == 0 counter drop",
                   kPort)}));
  Child server = Child::Spawn(ns.PinnedArgv({Trigger("tcp_flow"), "server", "-a", "127.0.0.1", "-p",
                                             std::to_string(kPort), "-R", "4000000"}),
                              false, true);
  ASSERT_FALSE(server.ReadLine().empty());  // listening
  Child client = Child::Spawn(ns.PinnedArgv({Trigger("tcp_flow"), "client", "-W", "-a", "127.0.0.1",
                                             "-p", std::to_string(kPort), "-n", "4000000"}),
                              true, true);
  const std::string connected = client.ReadLine();
  const int cpid = Field(connected, "pid");
  ASSERT_GT(cpid, 0) << connected;
  const uint64_t cgroup = CgroupIdOf(cpid);

  Agent agent({"--probes", "tcp_retransmit"}, "tcp_older");
  ASSERT_TRUE(agent.WaitRunning());
  const auto before = ns.Nstat();
  client.Go();
  EXPECT_EQ(client.Wait(), 0);
  EXPECT_EQ(server.Wait(), 0);
  ns.WaitTcpIdle();
  const auto after = ns.Nstat();
  EXPECT_EQ(agent.Stop(), 0);

  const auto rtx = InNetns(agent.Records(), "tcp.retransmit", ns.inode());
  uint64_t segs = 0, on_cpu = 0, unknown = 0;
  for (const auto& r : rtx) {
    SCOPED_TRACE(r.dump());
    segs += r["tcp"]["segs"].get<uint64_t>();
    EXPECT_FALSE(r["tcp"].contains("owner_from"));
    if (r["process"]["source"] == "on_cpu") {
      ++on_cpu;
      EXPECT_EQ(r["process"]["pid"], cpid);
    } else {
      ++unknown;
      EXPECT_EQ(r["process"]["source"], "unknown");
      EXPECT_EQ(r["process"]["pid"], 0);
      EXPECT_EQ(r["process"]["comm"], "");
      if (cgroup != 0) EXPECT_EQ(r["process"]["cgroup_id"], cgroup);
    }
  }
  std::printf("[ counts   ] older sockets: records=%zu on_cpu=%lu unknown=%lu TcpRetransSegs=%lu\n",
              rtx.size(), on_cpu, unknown, Delta(before, after, "TcpRetransSegs"));
  EXPECT_GT(rtx.size(), 0u);
  EXPECT_EQ(segs, Delta(before, after, "TcpRetransSegs"));
}

// A v4 client on a dual-stack v6 listener: the server's socket is AF_INET6
// with v4-mapped addresses, which the records show as IPv4.
TEST(TcpRetransmit, V4MappedAddressesAreShownAsIpv4) {
  KS_REQUIRE_ROOT();
  TestNetns ns;
  ASSERT_TRUE(ns.ok()) << ns.error();
  constexpr int kPort = 5004;
  ASSERT_TRUE(ns.Nft(
      {fmt::format("tcp sport {} tcp flags & (syn|rst) == 0 meta nfproto ipv4 meta length > 52 "
                   "numgen inc mod 50 == 0 counter drop",
                   kPort)}));
  // Server on "::" (dual stack), client to 127.0.0.1; the server sends.
  Child server = Child::Spawn(ns.Argv({Trigger("tcp_flow"), "server", "-w", "-a", "::", "-p",
                                       std::to_string(kPort), "-n", "1000000"}),
                              true, true);
  const int spid = Field(server.ReadLine(), "pid");
  ASSERT_GT(spid, 0);
  Agent agent({"--probes", "tcp_retransmit", "--pid", std::to_string(spid)}, "tcp_mapped");
  ASSERT_TRUE(agent.WaitRunning());
  server.Go();
  ASSERT_FALSE(server.ReadLine().empty());
  Child client = Child::Spawn(ns.Argv({Trigger("tcp_flow"), "client", "-a", "127.0.0.1", "-p",
                                       std::to_string(kPort), "-R", "1000000"}),
                              false, true);
  EXPECT_EQ(client.Wait(), 0);
  EXPECT_EQ(server.Wait(), 0);
  EXPECT_GT(ns.NftDrops(), 0u);
  EXPECT_EQ(agent.Stop(), 0);
  const auto rtx = InNetns(agent.Records(), "tcp.retransmit", ns.inode());
  ASSERT_FALSE(rtx.empty());
  for (const auto& r : rtx) {
    EXPECT_EQ(r["source"]["address"], "127.0.0.1");
    EXPECT_EQ(r["destination"]["address"], "127.0.0.1");
    EXPECT_EQ(r["network"]["type"], "ipv4");
    EXPECT_EQ(r["process"]["pid"], spid);
  }
}

}  // namespace
}  // namespace ksight::test
