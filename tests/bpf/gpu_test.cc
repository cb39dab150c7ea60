// Root tests of the gpu probe against the real kernel.
//
//  - Real-format Xid / SXid / reset lines (MIG, caused-by, no-process variants, SXid detail
//    lines) and noise (ordinary lines, other NVRM / amdgpu / i915 / xe / [drm] lines, truncated
//    Xids) are written to /dev/kmsg: the agent emits exactly the expected records, every field
//    checked, nothing for the noise, and the BPF filter keeps ordinary lines in the kernel
//    (its seen count is the number of GPU-looking lines, not of all lines).
//  - The printk programs (tp_btf and classic) copy a GPU line whole and drop an ordinary one.
//  - The dma_fence programs load and attach here (both flavors); real fence events come from
//    vgem in the tests/vm guests.
//  - The classic gpu_scheduler and NVIDIA programs pass the verifier with the layouts of the
//    5.10, 6.1/6.12 and 7.2 format files and of the NVIDIA driver (their hooks are absent here).
//  - `ksight check` lists every GPU source with its verdict.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/klog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/host_features.h"
#include "core/json_writer.h"
#include "harness.h"
#include "probes/gpu/gpu_plan.h"
#include "probes/gpu/gpu_records.h"
#include "probes/gpu/gpu_tp_format.h"
#include "probes/gpu/kmsg.h"
#include "probes/gpu/xid_workload.h"

#include "gpu.skel.h"

namespace ksight::test {
namespace {

// ---- helpers ----------------------------------------------------------------------------------

// Before 5.19 printk:console fires only for lines the console prints (level < console_loglevel;
// gpu::ConsoleTracesEveryLine). There, raise console_loglevel for the tests that force the
// tracepoint so the drivers' KERN_WARNING / KERN_INFO lines are traced, and restore it.
class TraceEveryPrintk {
 public:
  TraceEveryPrintk() {
    if (gpu::ConsoleTracesEveryLine(HostFeatures::Probe(true).kernel_release())) return;
    std::ifstream in("/proc/sys/kernel/printk");
    std::getline(in, saved_);
    std::ofstream("/proc/sys/kernel/printk") << "8";
  }
  ~TraceEveryPrintk() {
    if (!saved_.empty()) std::ofstream("/proc/sys/kernel/printk") << saved_;
  }
  TraceEveryPrintk(const TraceEveryPrintk&) = delete;
  TraceEveryPrintk& operator=(const TraceEveryPrintk&) = delete;

 private:
  std::string saved_;
};

void Kmsg(const std::string& line) {
  const int fd = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << "open /dev/kmsg: " << std::strerror(errno);
  const std::string l = line + "\n";
  EXPECT_EQ(::write(fd, l.data(), l.size()), static_cast<ssize_t>(l.size())) << line;
  ::close(fd);
}

std::string SelfComm() {
  std::ifstream in("/proc/self/comm");
  std::string c;
  std::getline(in, c);
  return c;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

uint64_t UnixNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// Every key of want is in got with the same value (recursively for objects).
::testing::AssertionResult Contains(const json& got, const json& want, const std::string& at = "") {
  if (want.is_object()) {
    if (!got.is_object()) return ::testing::AssertionFailure() << at << ": not an object: " << got;
    for (auto it = want.begin(); it != want.end(); ++it) {
      if (!got.contains(it.key()))
        return ::testing::AssertionFailure() << at << "/" << it.key() << " missing in " << got;
      auto r = Contains(got[it.key()], it.value(), at + "/" + it.key());
      if (!r) return r;
    }
    return ::testing::AssertionSuccess();
  }
  if (got != want)
    return ::testing::AssertionFailure() << at << ": got " << got << ", want " << want;
  return ::testing::AssertionSuccess();
}

struct Case {
  std::string line;
  std::string type;                 // "" = noise that passes the BPF prefix test, no record
  json want;                        // subset the record must match
  std::vector<std::string> absent;  // JSON pointers that must not exist
};

// The lines as the drivers print them (formats cited in probes/gpu/log_parser.h), at the
// levels the drivers use: NVIDIA's printk() default (4), dev_err (3), dev_info (6).
std::vector<Case> Cases() {
  return {
      {"<4>NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python3, GPU has fallen off the bus.",
       "gpu.xid",
       json::parse(R"J({"gpu":{"pci_bus_id":"0000:3b:00","driver":"nvidia"},
         "xid":{"code":79,"name":"GPU has fallen off the bus","severity":"critical","cause":"bus",
                "pid":1234,"process_name":"python3","message":"GPU has fallen off the bus.",
                "source":"printk","sources":["printk"]}})J"),
       {"/gpu/gpu_instance", "/gpu/compute_instance", "/xid/caused_by"}},
      {"<4>NVRM: Xid (PCI:0000:3b:00): 48, An uncorrectable double bit error (DBE) has been "
       "detected on GPU in the framebuffer at partition 6, subpartition 0.",
       "gpu.xid",
       json::parse(R"J({"gpu":{"pci_bus_id":"0000:3b:00"},
         "xid":{"code":48,"name":"Double bit ECC error","severity":"critical","cause":"memory",
                "message":"An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at partition 6, subpartition 0."}})J"),
       {"/xid/pid", "/xid/process_name", "/gpu/gpu_instance"}},
      {"<4>NVRM: Xid (PCI:0000:3b:00 GPU-I:01 GPU-CI:00): 94, pid=4242, name=trainer, Contained "
       "ECC error.",
       "gpu.xid",
       json::parse(R"J({"gpu":{"pci_bus_id":"0000:3b:00","gpu_instance":1,"compute_instance":0},
         "xid":{"code":94,"name":"Contained ECC error","severity":"error","pid":4242,
                "process_name":"trainer","message":"Contained ECC error."}})J"),
       {}},
      {"<4>NVRM: Xid (PCI:0000:3b:00 GPU-I:02): 95, pid=4243, name=trainer, Uncontained ECC "
       "error.",
       "gpu.xid",
       json::parse(R"J({"gpu":{"pci_bus_id":"0000:3b:00","gpu_instance":2},
         "xid":{"code":95,"severity":"critical","pid":4243}})J"),
       {"/gpu/compute_instance"}},
      {"<4>NVRM: Xid (PCI:0000:3b:00): 45, pid=77, name=a.out, Ch 00000010 caused by previous "
       "Xid 13",
       "gpu.xid",
       json::parse(R"J({"xid":{"code":45,"severity":"info","pid":77,"process_name":"a.out",
                "message":"Ch 00000010","caused_by":13}})J"),
       {}},
      {"<4>NVRM: Xid (PCI:0000:cb:00): 13, pid='<unknown>', name=<unknown>, Graphics SM Warp "
       "Exception on (GPC 7, TPC 7, SM 0): Illegal Instruction Parameter",
       "gpu.xid",
       json::parse(R"J({"gpu":{"pci_bus_id":"0000:cb:00"},
         "xid":{"code":13,"severity":"warning","cause":"application",
                "message":"Graphics SM Warp Exception on (GPC 7, TPC 7, SM 0): Illegal Instruction Parameter"}})J"),
       {"/xid/pid", "/xid/process_name"}},
      {"<4>NVRM: Xid (PCI:0000:3b:00): 154, GPU recovery action changed from 0x0 (None) to 0x2 "
       "(Node Reboot Required)",
       "gpu.xid",
       json::parse(R"J({"xid":{"code":154,"severity":"critical",
                "recovery_action":"Node Reboot Required"}})J"),
       {"/xid/pid"}},
      {"<4>nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 12028, Non-fatal, Link 32 egress "
       "non-posted PRIV error (First)",
       "gpu.sxid",
       json::parse(
           R"J({"gpu":{"pci_bus_id":"0000:85:00.0","device":"nvidia-nvswitch0","driver":"nvswitch"},
         "xid":{"code":12028,"unit":"NPORT egress","fatal":false,"link":32,
                "message":"Non-fatal, Link 32 egress non-posted PRIV error (First)",
                "source":"printk"}})J"),
       {}},
      // The SXid's detail lines describe the same fault: no record of their own.
      {"<4>nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 12028, Severity 0 Engine instance 32 "
       "Sub-engine instance 00",
       "",
       json::object(),
       {}},
      {"<4>nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 12028, Data {0x00000004, 0x00000000, "
       "0x00000000, 0x00000000, 0x00000000}",
       "",
       json::object(),
       {}},
      {"<4>NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus.",
       "gpu.reset",
       json::parse(R"J({"gpu":{"pci_bus_id":"0000:3b:00.0","driver":"nvidia"},
         "reset":{"kind":"fallen_off_bus","source":"printk"}})J"),
       {}},
      {"<3>amdgpu 0000:03:00.0: amdgpu: ring gfx_0.0.0 timeout, signaled seq=1234, emitted "
       "seq=1236",
       "gpu.reset",
       json::parse(
           R"J({"gpu":{"pci_bus_id":"0000:03:00.0","device":"0000:03:00.0","driver":"amdgpu"},
         "reset":{"kind":"ring_timeout","ring":"gfx_0.0.0","signaled_seq":1234,"emitted_seq":1236}})J"),
       {"/reset/pid"}},
      {"<6>amdgpu 0000:03:00.0: amdgpu: GPU reset(2) succeeded!",
       "gpu.reset",
       json::parse(
           R"J({"gpu":{"driver":"amdgpu"},"reset":{"kind":"reset_succeeded","reset_count":2}})J"),
       {}},
      {"<3>amdgpu 0000:03:00.0: amdgpu: [gfxhub0] retry page fault (src_id:0 ring:0 vmid:3 "
       "pasid:32769, for process python3 pid 4242 thread python3 pid 4242)",
       "gpu.reset",
       json::parse(R"J({"reset":{"kind":"page_fault","hub":"gfxhub0","pasid":32769,"pid":4242,
                "process_name":"python3"}})J"),
       {}},
      {"<6>i915 0000:00:02.0: [drm] GPU HANG: ecode 12:1:85dffffb, in Xorg [1234]",
       "gpu.reset",
       json::parse(R"J({"gpu":{"pci_bus_id":"0000:00:02.0","driver":"i915"},
         "reset":{"kind":"gpu_hang","pid":1234,"process_name":"Xorg"}})J"),
       {}},
      {"<4>xe 0000:03:00.0: [drm] GT0: Timedout job: seqno=4294967169, lrc_seqno=4294967169, "
       "guc_id=2, flags=0x0 in python3 [4242]",
       "gpu.reset",
       json::parse(R"J({"gpu":{"driver":"xe"},
         "reset":{"kind":"job_timeout","gt":0,"seqno":4294967169,"pid":4242,"process_name":"python3"}})J"),
       {}},
      // Noise that looks like a GPU driver line to the BPF filter: parsed, no record.
      {"<6>NVRM: loading NVIDIA UNIX x86_64 Kernel Module  575.51.02  Wed Apr 30 12:00:00 UTC 2025",
       "",
       json::object(),
       {}},
      {"<6>NVRM: GPU at PCI:0000:3b:00: GPU-c0ffee00-0000-0000-0000-000000000000",
       "",
       json::object(),
       {}},
      {"<6>amdgpu 0000:03:00.0: amdgpu: SMU is initialized successfully!", "", json::object(), {}},
      {"<6>[drm] Initialized vgem 1.0.0 20120112 for vgem on minor 0", "", json::object(), {}},
      {"<6>i915 0000:00:02.0: [drm] GuC firmware i915/tgl_guc_70.bin version 70.5.1",
       "",
       json::object(),
       {}},
      {"<6>xe 0000:03:00.0: [drm] Using GuC firmware from xe/lnl_guc_70.bin version 70.29.2",
       "",
       json::object(),
       {}},
      {"<4>NVRM: Xid (PCI:0000:3b", "", json::object(), {}},
  };
}

// Lines the BPF filter must keep in the kernel: no GPU driver prefix.
const std::vector<std::string> kOrdinary = {
    "<6>ksight gpu test: an ordinary kernel log line",
    "<6>nvidia-modeset: Loading NVIDIA Kernel Mode Setting Driver for UNIX platforms",
    "<6>xenbus_probe_frontend: Device with no driver: device/vbd/768",
    "<4>  NVRM: indented is not how the driver prints",
    "<6>e1000e 0000:00:1f.6 eno1: NIC Link is Up 1000 Mbps Full Duplex",
};

// ---- the agent end to end ---------------------------------------------------------------------

TEST(GpuProbe, KmsgLinesBecomeExactRecordsAndNoiseStaysInTheKernel) {
  KS_REQUIRE_ROOT();
  TraceEveryPrintk all_levels;
  Agent agent({"--probes", "gpu", "--interval", "1s"}, "gpu_kmsg");
  ASSERT_TRUE(agent.WaitRunning());
  const auto cases = Cases();
  const uint64_t t0 = UnixNowNs();
  size_t prefixed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    Kmsg(cases[i].line);
    ++prefixed;
    if (i < kOrdinary.size()) Kmsg(kOrdinary[i]);  // interleave the noise
  }
  const uint64_t t1 = UnixNowNs();
  size_t want = 0;
  for (const auto& c : cases) want += !c.type.empty();
  // Wait for the last record, then for a heartbeat that counts every line BPF passed on.
  ASSERT_TRUE(agent.WaitFor([&](const json& j) {
    return j["event"]["type"] == "gpu.reset" && j["reset"]["kind"] == "job_timeout";
  })) << "no record for the last line";
  ASSERT_TRUE(agent.WaitFor(
      [&](const json& j) {
        return j["event"]["type"] == "agent.heartbeat" &&
               j["counters"]["gpu"]["received"] == prefixed;
      },
      10s))
      << "the heartbeat never counted " << prefixed << " received lines";
  EXPECT_EQ(agent.Stop(), 0);

  const auto recs = agent.Records();
  std::vector<json> got;
  for (const auto& r : recs) {
    const std::string t = r["event"]["type"];
    if (t.rfind("gpu.", 0) == 0 && t != "gpu.fence.stats") got.push_back(r);
  }
  ASSERT_EQ(got.size(), want) << "one record per fault line, none for the noise";
  const std::string comm = SelfComm();
  size_t k = 0;
  for (const auto& c : cases) {
    if (c.type.empty()) continue;
    const json& r = got[k++];
    SCOPED_TRACE(c.line);
    EXPECT_EQ(r["event"]["type"], c.type);
    EXPECT_EQ(r["event"]["probe"], "gpu");
    EXPECT_TRUE(Contains(r, c.want));
    for (const auto& p : c.absent) EXPECT_FALSE(r.contains(json::json_pointer(p))) << p;
    // The record's time is the printk call's, not the agent's write time.
    const uint64_t ts = r["ts_unix_nano"];
    EXPECT_GE(ts + 50'000'000, t0);
    EXPECT_LE(ts, t1 + 50'000'000);
    // The task that logged it: this test process, through /dev/kmsg.
    EXPECT_EQ(r["reporter"]["pid"], static_cast<uint32_t>(::getpid()));
    EXPECT_EQ(r["reporter"]["comm"], comm);
    if (c.type != "gpu.reset") {
      EXPECT_FALSE(r["xid"]["action"].get<std::string>().empty());
    } else {
      EXPECT_EQ(r["reset"]["message"].get<std::string>().empty(), false);
    }
  }

  // BPF passed on exactly the GPU-looking lines; the ordinary ones never left the kernel.
  const json c = FinalCounters(recs, "gpu");
  EXPECT_EQ(c["bpf_seen"], prefixed);
  EXPECT_EQ(c["received"], prefixed);
  EXPECT_EQ(c["seen"], c["emitted"]);
  EXPECT_EQ(c["dropped"], 0);

  // Every record of the run against docs/schema.
  EXPECT_TRUE(SchemaValid(agent.path()));
}

// A full ring: the agent is stopped (SIGSTOP) while a burst of Xid lines fills its 4 KiB ring;
// every line is then either a record or a counted ring_full drop reported in agent.loss, never
// silently gone.
TEST(GpuProbe, RingFullIsCountedNeverSilent) {
  KS_REQUIRE_ROOT();
  TraceEveryPrintk all_levels;
  Agent agent({"--probes", "gpu", "--interval", "1s", "--ring-size", "4KiB"}, "gpu_ringfull");
  ASSERT_TRUE(agent.WaitRunning());
  const pid_t apid = agent.pid();
  ASSERT_GT(apid, 0);
  constexpr int kLines = 100;
  ASSERT_EQ(::kill(apid, SIGSTOP), 0);
  for (int i = 0; i < kLines; ++i)
    Kmsg("<4>NVRM: Xid (PCI:0000:3b:00): 13, pid=" + std::to_string(1000 + i) +
         ", name=burst, Graphics Exception: ESR 0x" + std::to_string(i));
  ASSERT_EQ(::kill(apid, SIGCONT), 0);
  ASSERT_TRUE(agent.WaitFor(
      [&](const json& j) {
        if (j["event"]["type"] != "agent.heartbeat") return false;
        const json& c = j["counters"]["gpu"];
        return c["emitted"].get<uint64_t>() + c["dropped"].get<uint64_t>() >= kLines;
      },
      20s));
  EXPECT_EQ(agent.Stop(), 0);
  const auto recs = agent.Records();
  const json c = FinalCounters(recs, "gpu");
  const uint64_t xids = OfType(recs, "gpu.xid").size();
  const uint64_t ring_full = c["dropped_by_reason"].value("ring_full", uint64_t{0});
  EXPECT_GT(ring_full, 0u) << "the burst did not overflow a 4 KiB ring: " << c;
  EXPECT_GT(xids, 0u);
  EXPECT_EQ(xids + ring_full, static_cast<uint64_t>(kLines)) << c;
  EXPECT_EQ(c["seen"], c["emitted"].get<uint64_t>() + c["dropped"].get<uint64_t>());
  EXPECT_EQ(c["bpf_seen"], kLines);
  uint64_t reported = 0;
  for (const auto& l : OfType(recs, "agent.loss"))
    if (l["loss"]["probe"] == "gpu" && l["loss"]["reason"] == "ring_full")
      reported += l["loss"]["count"].get<uint64_t>();
  EXPECT_EQ(reported, ring_full);
}

// ---- printk_source kmsg: the gpu probe reads /dev/kmsg itself ---------------------------------
// What kernels before 5.19 use (their printk:console sees only console lines); forced here with
// --gpu-printk-source kmsg. These agents see every line of the host's log, so each test matches
// its records by bus ids no other test uses.

// The fault lines of one level: an Xid, an SXid, an amdgpu ring timeout, an i915 hang; each on
// a bus id of its own (<kind digit><level>), so a record names the line it came from.
struct LevelLine {
  std::string line, type, bus;
};
std::vector<LevelLine> LevelLines(int level) {
  const std::string l = "<" + std::to_string(level) + ">";
  const std::string d = std::to_string(level);
  return {
      {l + "NVRM: Xid (PCI:0000:a" + d +
           ":00): 13, pid=1, name=ksight-level, Graphics "
           "Exception: ESR 0x" +
           d,
       "gpu.xid", "0000:a" + d + ":00"},
      {l + "nvidia-nvswitch0: SXid (PCI:0000:b" + d +
           ":00.0): 12028, Non-fatal, Link 32 egress "
           "non-posted PRIV error (First)",
       "gpu.sxid", "0000:b" + d + ":00.0"},
      {l + "amdgpu 0000:c" + d +
           ":00.0: amdgpu: ring gfx_0.0.0 timeout, signaled seq=1, "
           "emitted seq=2",
       "gpu.reset", "0000:c" + d + ":00.0"},
      {l + "i915 0000:d" + d + ":02.0: [drm] GPU HANG: ecode 12:1:85dffffb, in Xorg [1234]",
       "gpu.reset", "0000:d" + d + ":02.0"},
  };
}

// gpu.* records (fence stats aside) whose pci_bus_id is one of `buses`, keyed by bus id.
std::map<std::string, std::vector<json>> ByBus(const std::vector<json>& recs,
                                               const std::set<std::string>& buses) {
  std::map<std::string, std::vector<json>> out;
  for (const auto& r : recs) {
    const std::string t = r["event"]["type"];
    if (!t.starts_with("gpu.") || !r.contains("gpu")) continue;
    const std::string bus = r["gpu"].value("pci_bus_id", "");
    if (buses.count(bus)) out[bus].push_back(r);
  }
  return out;
}

std::vector<std::string> KmsgAgentArgs(const std::string& state) {
  return {"--probes",         "gpu", "--interval", "1s", "--gpu-printk-source", "kmsg",
          "--gpu-kmsg-state", state};
}

// Levels 2 to 5, four drivers' fault lines each plus lines that are no fault: exactly one
// record per fault line, source kmsg, no reporter (the kernel does not keep the logging task);
// the console log level is never touched. Then, stopped and restarted with the saved position,
// the agent reports exactly the lines logged while it was down, none of the earlier ones again.
TEST(GpuKmsg, EveryLevelExactlyOnceAndNothingTwiceAcrossARestart) {
  KS_REQUIRE_ROOT();
  const std::string state = ::testing::TempDir() + "/ksight_kmsg_pos_" + std::to_string(::getpid());
  std::remove(state.c_str());
  std::string printk_before;
  std::getline(std::ifstream("/proc/sys/kernel/printk"), printk_before);

  std::set<std::string> buses;
  std::vector<LevelLine> all;
  {
    Agent agent(KmsgAgentArgs(state), "gpu_kmsg_levels");
    ASSERT_TRUE(agent.WaitRunning());
    bool kmsg = false;
    for (const auto& r : agent.Records()) {
      if (IsStatus(r, "attached") && r["status"].value("probe", "") == "gpu")
        kmsg = r["status"]["details"].value("printk", "").starts_with("available: /dev/kmsg");
    }
    ASSERT_TRUE(kmsg) << "the gpu probe did not report printk through /dev/kmsg";
    for (int level = 2; level <= 5; ++level) {
      for (const auto& l : LevelLines(level)) {
        Kmsg(l.line);
        all.push_back(l);
        buses.insert(l.bus);
      }
      Kmsg("<" + std::to_string(level) + ">ksight-test: an ordinary line at level " +
           std::to_string(level));
      Kmsg("<" + std::to_string(level) + ">amdgpu 0000:c" + std::to_string(level) +
           ":00.0: amdgpu: SMU is initialized successfully!");
    }
    ASSERT_TRUE(agent.WaitFor(
        [&](const json&) {
          size_t n = 0;
          for (const auto& [bus, v] : ByBus(agent.Records(), buses)) n += v.size();
          return n >= all.size();
        },
        15s))
        << "not every fault line became a record";
    EXPECT_EQ(agent.Stop(), 0);
    const auto recs = agent.Records();
    const auto got = ByBus(recs, buses);
    for (const auto& l : all) {
      SCOPED_TRACE(l.line);
      const auto it = got.find(l.bus);
      ASSERT_TRUE(it != got.end());
      ASSERT_EQ(it->second.size(), 1u) << "one record per line, at every level";
      const json& r = it->second[0];
      EXPECT_EQ(r["event"]["type"], l.type);
      const json& body = l.type == "gpu.reset" ? r["reset"] : r["xid"];
      EXPECT_EQ(body["source"], "kmsg");
      if (l.type != "gpu.reset") EXPECT_EQ(body["sources"], json::array({"kmsg"}));
      EXPECT_FALSE(r.contains("reporter"));
    }
    const json c = FinalCounters(recs, "gpu");
    EXPECT_EQ(c["seen"], c["emitted"].get<uint64_t>() + c["dropped"].get<uint64_t>()) << c;
    EXPECT_TRUE(SchemaValid(agent.path()));
  }
  std::string printk_after;
  std::getline(std::ifstream("/proc/sys/kernel/printk"), printk_after);
  EXPECT_EQ(printk_after, printk_before) << "the console log level must never change";

  // Logged while no agent runs; the restarted agent starts after its saved position.
  const std::vector<LevelLine> down = {LevelLines(4)[0], LevelLines(5)[3]};
  for (auto l : down) {
    l.line += " (while stopped)";
    Kmsg(l.line);
  }
  Agent again(KmsgAgentArgs(state), "gpu_kmsg_resume");
  ASSERT_TRUE(again.WaitRunning());
  ASSERT_TRUE(again.WaitFor(
      [&](const json&) {
        size_t n = 0;
        for (const auto& [bus, v] : ByBus(again.Records(), buses)) n += v.size();
        return n >= down.size();
      },
      15s));
  // One more heartbeat: anything read twice would be out by now.
  const size_t hb = OfType(again.Records(), "agent.heartbeat").size();
  ASSERT_TRUE(again.WaitFor(
      [&](const json&) { return OfType(again.Records(), "agent.heartbeat").size() > hb + 1; },
      10s));
  EXPECT_EQ(again.Stop(), 0);
  const auto got = ByBus(again.Records(), buses);
  size_t n = 0;
  for (const auto& [bus, v] : got) n += v.size();
  EXPECT_EQ(n, down.size()) << "only the lines logged while it was stopped";
  for (const auto& l : down) {
    ASSERT_EQ(got.count(l.bus), 1u) << l.line;
    EXPECT_NE(got.at(l.bus)[0].dump().find("while stopped"), std::string::npos);
  }
  std::remove(state.c_str());
}

// More lines than the kernel's log buffer holds, logged while the agent is stopped: the lines
// overwritten before the restarted agent could read them are counted (kmsg_overrun, in the
// heartbeat and in agent.loss), never silently gone. The expected count comes from the kernel:
// the oldest sequence number still stored after the flood minus the saved position.
TEST(GpuKmsg, OverrunWhileStoppedIsCounted) {
  KS_REQUIRE_ROOT();
  const std::string state =
      ::testing::TempDir() + "/ksight_kmsg_over_" + std::to_string(::getpid());
  std::remove(state.c_str());
  {
    Agent agent(KmsgAgentArgs(state), "gpu_kmsg_over1");
    ASSERT_TRUE(agent.WaitRunning());
    Kmsg("<4>ksight-test: a line so the saved position is this run's");
    const size_t hb = OfType(agent.Records(), "agent.heartbeat").size();
    ASSERT_TRUE(agent.WaitFor(
        [&](const json&) { return OfType(agent.Records(), "agent.heartbeat").size() > hb; }, 10s));
    EXPECT_EQ(agent.Stop(), 0);
  }
  std::string saved;
  std::getline(std::ifstream(state), saved);
  ASSERT_FALSE(saved.empty()) << "no position saved in " << state;
  const uint64_t saved_seq = std::stoull(saved.substr(saved.find(' ') + 1));

  // /dev/kmsg writes are rate limited per open file unless printk_devkmsg is "on": one open
  // per line. The buffer size from syslog(SYSLOG_ACTION_SIZE_BUFFER).
  const int buf = ::klogctl(10, nullptr, 0);
  ASSERT_GT(buf, 0);
  const std::string pad(800, 'x');
  const int lines = 2 * buf / 800 + 200;
  for (int i = 0; i < lines; ++i) Kmsg("<6>ksight-test: flood " + std::to_string(i) + " " + pad);

  // The oldest record the kernel still has.
  uint64_t oldest = 0;
  {
    const int fd = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::lseek(fd, 0, SEEK_SET), 0);
    char rec[8192];
    const ssize_t n = ::read(fd, rec, sizeof(rec));
    ::close(fd);
    ASSERT_GT(n, 0);
    auto r = gpu::ParseKmsgRecord(std::string_view(rec, static_cast<size_t>(n)));
    ASSERT_TRUE(r);
    oldest = r->seq;
  }
  ASSERT_GT(oldest, saved_seq + 1) << "the flood did not wrap the log buffer";
  const uint64_t expected = oldest - saved_seq - 1;

  Agent agent(KmsgAgentArgs(state), "gpu_kmsg_over2");
  ASSERT_TRUE(agent.WaitRunning());
  ASSERT_TRUE(agent.WaitFor(
      [&](const json& j) {
        return j["event"]["type"] == "agent.heartbeat" &&
               j["counters"]["gpu"]["dropped_by_reason"].value("kmsg_overrun", uint64_t{0}) > 0;
      },
      15s))
      << "no kmsg_overrun in a heartbeat";
  EXPECT_EQ(agent.Stop(), 0);
  const auto recs = agent.Records();
  const json c = FinalCounters(recs, "gpu");
  const uint64_t lost = c["dropped_by_reason"].value("kmsg_overrun", uint64_t{0});
  // Exact unless the kernel logged more lines between the read above and the agent's start
  // (each evicts one more old record): a quiet test host logs none.
  EXPECT_GE(lost, expected) << c;
  EXPECT_LE(lost, expected + 16) << c;
  EXPECT_EQ(c["seen"], c["emitted"].get<uint64_t>() + c["dropped"].get<uint64_t>()) << c;
  uint64_t reported = 0;
  for (const auto& l : OfType(recs, "agent.loss"))
    if (l["loss"]["probe"] == "gpu" && l["loss"]["reason"] == "kmsg_overrun")
      reported += l["loss"]["count"].get<uint64_t>();
  EXPECT_EQ(reported, lost);
  std::remove(state.c_str());
}

// ---- the workload an Xid names ----------------------------------------------------------------

// An Xid naming a live process in a cgroup of its own (as a container would be) names that
// cgroup; once the process has exited, the next Xid naming its pid still does (the exit cache
// of sched:sched_process_exit); pid='<unknown>' gives no process at all.
TEST(GpuWorkload, XidNamesTheCgroupOfALiveAndAnExitedPid) {
  KS_REQUIRE_ROOT();
  const std::string cg2 = Cgroup2Mount();
  if (cg2.empty()) GTEST_SKIP() << "no cgroup2 mount on this host";
  // Laid out as the kubelet (systemd driver) and containerd lay out a container's cgroup.
  const std::string cid(64, 'd');
  const std::string uid = "11111111-2222-3333-4444-555555555555";
  const std::string top = "/ksight-xid-" + std::to_string(::getpid());
  const std::string rel = top + "/kubepods-besteffort-pod11111111_2222_3333_4444_555555555555" +
                          ".slice/cri-containerd-" + cid + ".scope";
  const std::string dir = cg2 + rel;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  ASSERT_FALSE(ec) << dir << ": " << ec.message();
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  const uint64_t cg_id = st.st_ino;

  Agent agent({"--probes", "gpu", "--interval", "1s"}, "gpu_workload");
  ASSERT_TRUE(agent.WaitRunning());
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[1]);
    char c;
    while (::read(fds[0], &c, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  ::close(fds[0]);
  std::ofstream(dir + "/cgroup.procs") << child << std::flush;
  const std::string pid = std::to_string(child);
  auto xid_on = [&](const std::string& bus) {
    return [&agent, bus](const json&) {
      for (const auto& r : OfType(agent.Records(), "gpu.xid"))
        if (r["gpu"].value("pci_bus_id", "") == bus) return true;
      return false;
    };
  };
  Kmsg("<4>NVRM: Xid (PCI:0000:e1:00): 13, pid=" + pid + ", name=ksight-w, Graphics Exception");
  ASSERT_TRUE(agent.WaitFor(xid_on("0000:e1:00"), 10s));
  ::close(fds[1]);  // the child exits
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  Kmsg("<4>NVRM: Xid (PCI:0000:e2:00): 13, pid=" + pid + ", name=ksight-w, Graphics Exception");
  Kmsg("<4>NVRM: Xid (PCI:0000:e3:00): 13, pid='<unknown>', name=<unknown>, Graphics Exception");
  ASSERT_TRUE(agent.WaitFor(xid_on("0000:e3:00"), 10s));
  ASSERT_TRUE(agent.WaitFor(xid_on("0000:e2:00"), 10s));
  EXPECT_EQ(agent.Stop(), 0);
  for (std::filesystem::path d = dir; d.string().size() >= (cg2 + top).size(); d = d.parent_path())
    ::rmdir(d.c_str());

  std::map<std::string, json> by_bus;
  for (const auto& r : OfType(agent.Records(), "gpu.xid"))
    by_bus[r["gpu"].value("pci_bus_id", "")] = r;
  const json& live = by_bus["0000:e1:00"];
  ASSERT_TRUE(live.contains("process")) << live;
  EXPECT_EQ(live["process"]["pid"], child);
  EXPECT_EQ(live["process"]["source"], "proc");
  EXPECT_EQ(live["process"]["cgroup_path"], rel) << live;
  EXPECT_EQ(live["process"]["cgroup_id"], cg_id) << live;
  EXPECT_EQ(live["container"]["id"], cid) << live;
  EXPECT_EQ(live["container"]["runtime"]["name"], "containerd") << live;
  EXPECT_EQ(live["k8s"]["pod"]["uid"], uid) << live;
  const json& gone = by_bus["0000:e2:00"];
  ASSERT_TRUE(gone.contains("process")) << gone;
  EXPECT_EQ(gone["process"]["pid"], child);
  EXPECT_EQ(gone["process"]["source"], "exit_cache");
  EXPECT_EQ(gone["process"]["cgroup_id"], cg_id) << gone;
  EXPECT_EQ(gone["process"]["cgroup_path"], rel) << gone;
  EXPECT_EQ(gone["container"]["id"], cid) << gone;
  EXPECT_EQ(gone["k8s"]["pod"]["uid"], uid) << gone;
  EXPECT_EQ(gone["process"]["comm"], live["process"]["comm"]);
  const json& unknown = by_bus["0000:e3:00"];
  ASSERT_FALSE(unknown.is_null());
  EXPECT_FALSE(unknown.contains("process")) << unknown;
  EXPECT_FALSE(unknown["xid"].contains("pid"));
  EXPECT_TRUE(SchemaValid(agent.path()));
}

// The records the kernel here cannot produce (no DRM scheduler driver, no fences), built by the
// same writers the probe uses, against their schemas.
TEST(GpuSchema, JobAndFenceStatsBodiesValidate) {
  const std::string path = ::testing::TempDir() + "/ksight_gpu_bodies.jsonl";
  std::ofstream out(path);
  auto record = [&](const char* type, const std::function<void(JsonWriter&)>& body) {
    std::string line;
    JsonWriter w(line);
    w.BeginObject().Key("time").Rfc3339(1795324756123456789ULL);
    w.KV("ts_unix_nano", uint64_t{1795324756123456789ULL}).KV("schema_version", uint64_t{1});
    w.KObject("event").KV("type", type).KV("probe", "gpu").KV("seq", uint64_t{7}).EndObject();
    w.KObject("host").KV("name", "h").EndObject();
    w.KObject("agent").KV("name", "ksight").KV("version", KSIGHT_VERSION);
    w.KV("instance_id", "0123456789abcdef0123456789abcdef").EndObject();
    body(w);
    w.EndObject();
    out << line << "\n";
  };
  gpu::JobRecord j;
  j.ring = "gfx_0.0.0";
  j.device = "0000:03:00.0";
  j.fence_ctx = 12;
  j.seqno = 34;
  j.queue_wait_ns = 1000;
  j.run_ns = 2000;
  j.total_ns = 3000;
  j.queue_depth_at_queue = 1;
  j.in_flight_at_run = 2;
  j.pid = 42;
  j.comm = "python3";
  gpu::JobExtras x;
  x.driver = "amdgpu";
  x.client_id = 5;
  x.job_count = 1;
  x.hw_job_count = 2;
  record("gpu.job", [&](JsonWriter& w) { gpu::WriteJobBody(w, j, x); });
  gpu::JobRecord bare;  // run missed, no task, not a PCI device
  bare.ring = "v3d_bin";
  bare.device = "fec00000.v3d";
  record("gpu.job", [&](JsonWriter& w) { gpu::WriteJobBody(w, bare, gpu::JobExtras{}); });
  gpu::FenceStats d;
  d.init_to_signal.count = 3;
  d.init_to_signal.sum_ns = 3000;
  d.init_to_signal.max_ns = 1500;
  d.init_to_signal.hist[10] = 3;
  d.wait = d.init_to_signal;
  record("gpu.fence.stats", [&](JsonWriter& w) {
    gpu::WriteFenceStatsBody(w, "vgem", "unbound", d);
    w.KObject("interval").Key("start").Rfc3339(1795324746123456789ULL);
    w.Key("end").Rfc3339(1795324756123456789ULL).KV("duration_ns", uint64_t{10000000000ULL});
    w.EndObject();
  });
  out.close();
  EXPECT_TRUE(SchemaValid(path));
  std::remove(path.c_str());
}

TEST(GpuProbe, StatusAndCheckNameEverySource) {
  KS_REQUIRE_ROOT();
  Agent agent({"--probes", "gpu", "--interval", "1s", "--duration", "1s"}, "gpu_status");
  ASSERT_TRUE(agent.WaitRunning());
  EXPECT_EQ(agent.Stop(), 0);
  json st;
  for (const auto& r : OfType(agent.Records(), "agent.status"))
    if (r["status"].value("probe", "") == "gpu") st = r["status"];
  ASSERT_EQ(st["state"], "attached") << st;
  const json& d = st["details"];
  for (const char* k : {"printk", "nvidia_dev_xid", "nvswitch_dev_sxid", "dma_fence",
                        "gpu_scheduler (<=6.16)", "gpu_scheduler (>=6.17)", "exited_processes"})
    EXPECT_TRUE(d.contains(k)) << k << " missing in " << d;
  // sched:sched_process_exit exists on every kernel: the exit cache is on with printk.
  EXPECT_EQ(d["exited_processes"].get<std::string>().rfind("available: ", 0), 0u)
      << d["exited_processes"];

  const HostFeatures host = HostFeatures::Probe(true);
  // printk:console exists on every kernel the agent supports.
  EXPECT_EQ(d["printk"].get<std::string>().rfind("available: ", 0), 0u) << d["printk"];
  if (!host.TracepointExists("nvidia", "nvidia_dev_xid"))
    EXPECT_EQ(d["nvidia_dev_xid"].get<std::string>().rfind("unavailable: ", 0), 0u);
  if (host.TracepointExists("dma_fence", "dma_fence_signaled"))
    EXPECT_EQ(d["dma_fence"].get<std::string>().rfind("available: ", 0), 0u) << d["dma_fence"];
  if (!host.TracepointExists("gpu_scheduler", "drm_sched_job") &&
      !host.TracepointExists("gpu_scheduler", "drm_sched_job_queue")) {
    EXPECT_EQ(d["gpu_scheduler (<=6.16)"].get<std::string>().rfind("unavailable: ", 0), 0u);
    EXPECT_EQ(d["gpu_scheduler (>=6.17)"].get<std::string>().rfind("unavailable: ", 0), 0u);
  }

  // `ksight check` prints the same verdicts.
  const std::string path = ::testing::TempDir() + "/ksight_gpu_check.txt";
  Child check = Child::Spawn(
      {"/bin/sh", "-c", std::string(KSIGHT_BINARY) + " check --probes gpu >" + path}, false, false);
  EXPECT_EQ(check.Wait(), 0);
  std::ifstream in(path);
  const std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(path.c_str());
  EXPECT_NE(out.find("gpu              ok"), std::string::npos) << out;
  for (const char* k : {"printk", "nvidia_dev_xid", "nvswitch_dev_sxid", "dma_fence",
                        "gpu_scheduler (<=6.16)", "gpu_scheduler (>=6.17)", "exited_processes"})
    EXPECT_NE(out.find(k), std::string::npos) << k << " not in:\n" << out;
}

// ---- the programs directly --------------------------------------------------------------------

struct SkelDel {
  void operator()(ks_gpu* s) const { ks_gpu__destroy(s); }
};
using Skel = std::unique_ptr<ks_gpu, SkelDel>;

// Autoload exactly the programs named.
void Only(ks_gpu* s, const std::vector<std::string>& names) {
  bpf_program* p;
  bpf_object__for_each_program(p, s->obj) {
    bool on = false;
    for (const auto& n : names) on = on || n == bpf_program__name(p);
    bpf_program__set_autoload(p, on);
  }
}

struct LineSink {
  std::vector<std::string> lines;
  static int On(void* ctx, void* data, size_t size) {
    auto* self = static_cast<LineSink*>(ctx);
    if (size < sizeof(ks_gpu_log_rec)) return 0;
    const auto* r = static_cast<const ks_gpu_log_rec*>(data);
    if (r->hdr.type != KS_REC_GPU_LOG) return 0;
    self->lines.emplace_back(r->text, strnlen(r->text, r->len));
    return 0;
  }
};

void ConsoleFlavor(const std::string& prog) {
  TraceEveryPrintk all_levels;
  Skel s(ks_gpu__open());
  ASSERT_TRUE(s);
  s->rodata->ks_self_tgid = 0;
  Only(s.get(), {prog});
  ASSERT_EQ(ks_gpu__load(s.get()), 0);
  bpf_link* link = bpf_program__attach(bpf_object__find_program_by_name(s->obj, prog.c_str()));
  ASSERT_NE(link, nullptr) << prog << ": " << std::strerror(errno);
  LineSink sink;
  ring_buffer* rb = ring_buffer__new(bpf_map__fd(s->maps.ring), &LineSink::On, &sink, nullptr);
  ASSERT_NE(rb, nullptr);
  const std::string xid =
      "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python3, GPU has fallen off the bus.";
  Kmsg("<6>ksight gpu test: ordinary line before");
  Kmsg("<4>" + xid);
  Kmsg("<6>ksight gpu test: ordinary line after");
  const std::string longer = "amdgpu 0000:03:00.0: amdgpu: " + std::string(700, 'x');
  Kmsg("<3>" + longer);
  // Records are submitted without a wakeup (the agent drains on a timer): consume, not poll.
  EXPECT_TRUE(WaitUntil(
      [&] {
        ring_buffer__consume(rb);
        return sink.lines.size() >= 2;
      },
      "two GPU lines in the ring", 10s, 10ms));
  ring_buffer__free(rb);
  bpf_link__destroy(link);
  ASSERT_EQ(sink.lines.size(), 2u);
  // Kernels before 5.19 trace the console text: "[    5.123456] " first, "\n" last.
  auto stamp_of = [](const std::string& line, const std::string& text) {
    const size_t at = line.find(text.substr(0, 12));
    return at == std::string::npos ? line : line.substr(0, at);
  };
  std::string a = sink.lines[0];
  if (!a.empty() && a.back() == '\n') a.pop_back();
  const std::string sa = stamp_of(a, xid);
  EXPECT_TRUE(sa.empty() || (sa.front() == '[' && sa.back() == ' ')) << a;
  EXPECT_EQ(a, sa + xid);
  // Longer than the record's text: cut at KS_GPU_LOG_TEXT - 1 bytes.
  const std::string sb = stamp_of(sink.lines[1], longer);
  EXPECT_EQ(sink.lines[1], (sb + longer).substr(0, KS_GPU_LOG_TEXT - 1));
}

TEST(GpuPrograms, ConsoleTpBtfKeepsGpuLinesOnly) {
  KS_REQUIRE_ROOT();
  // Every kernel the agent supports has vmlinux BTF and printk:console (docs/compatibility.md).
  ASSERT_TRUE(HostFeatures::Probe(true).TpBtfExists("console")) << "no btf_trace_console";
  ConsoleFlavor("console_btf");
}

TEST(GpuPrograms, ConsoleClassicKeepsGpuLinesOnly) {
  KS_REQUIRE_ROOT();
  ASSERT_TRUE(HostFeatures::Probe(true).TracepointExists("printk", "console"))
      << "no printk:console";
  ConsoleFlavor("console_tp");
}

TEST(GpuPrograms, DmaFenceProgramsLoadAndAttach) {
  KS_REQUIRE_ROOT();
  const HostFeatures host = HostFeatures::Probe(true);
  // dma_fence tracepoints exist on every kernel of the matrix and on the host
  // (docs/compatibility.md): their absence is a regression of the feature probing.
  ASSERT_TRUE(host.TracepointExists("dma_fence", "dma_fence_signaled")) << "no dma_fence";
  // Both flavors of the hot events, and the classic ones that carry the names.
  std::vector<std::string> progs = {"fence_init_tp", "fence_signaled_tp", "fence_wait_start_tp",
                                    "fence_wait_end_tp"};
  if (host.TracepointExists("dma_fence", "dma_fence_emit")) progs.push_back("fence_emit_tp");
  if (host.TpBtfExists("dma_fence_signaled")) progs.push_back("fence_signaled_btf");
  if (host.TpBtfExists("dma_fence_wait_end")) progs.push_back("fence_wait_end_btf");
  Skel s(ks_gpu__open());
  ASSERT_TRUE(s);
  Only(s.get(), progs);
  ASSERT_EQ(ks_gpu__load(s.get()), 0);
  for (const auto& n : progs) {
    bpf_program* p = bpf_object__find_program_by_name(s->obj, n.c_str());
    ASSERT_NE(p, nullptr) << n;
    bpf_link* l = bpf_program__attach(p);
    EXPECT_NE(l, nullptr) << n << " (" << bpf_program__section_name(p)
                          << ") did not attach: " << std::strerror(errno);
    if (l) bpf_link__destroy(l);
  }
}

// Format files of the matrix kernels (see tests/unit/gpu_tp_format_test.cc for the full texts).
std::string Field(const char* decl, int off, int size, int sign = 0) {
  return "\tfield:" + std::string(decl) + ";\toffset:" + std::to_string(off) +
         ";\tsize:" + std::to_string(size) + ";\tsigned:" + std::to_string(sign) + ";\n";
}

ks_gpu_sched_layout Layout(const std::string& fields, ks_gpu_job_phase ph) {
  auto l = gpu::SchedLayoutFromFormat(gpu::ParseTpFormat(fields), ph);
  EXPECT_TRUE(l.ok()) << l.status().message();
  return l.ok() ? *l : gpu::EmptySchedLayout();
}

void LoadClassic(const std::vector<std::string>& progs, const ks_gpu_sched_layout& q,
                 const ks_gpu_sched_layout& r, const ks_gpu_sched_layout& d,
                 const ks_gpu_sched_layout& dep) {
  Skel s(ks_gpu__open());
  ASSERT_TRUE(s);
  s->rodata->sched_queue_layout = q;
  s->rodata->sched_run_layout = r;
  s->rodata->sched_done_layout = d;
  s->rodata->sched_dep_layout = dep;
  Only(s.get(), progs);
  EXPECT_EQ(ks_gpu__load(s.get()), 0);
  // With the layout set, the programs are not the stubs the default rodata gives.
  for (const auto& n : progs) {
    bpf_program* p = bpf_object__find_program_by_name(s->obj, n.c_str());
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    ASSERT_EQ(bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len), 0);
    EXPECT_GT(info.xlated_prog_len / 8, 60u) << n << " was reduced to a stub";
  }
}

TEST(GpuPrograms, ClassicSchedulerProgramsVerifyWithEachKernelsLayout) {
  KS_REQUIRE_ROOT();
  const std::string job510 = Field("struct drm_sched_entity * entity", 8, 8) +
                             Field("struct dma_fence * fence", 16, 8) +
                             Field("const char * name", 24, 8) + Field("uint64_t id", 32, 8) +
                             Field("u32 job_count", 40, 4) + Field("int hw_job_count", 44, 4, 1);
  const std::string job612 = Field("struct drm_sched_entity * entity", 8, 8) +
                             Field("struct dma_fence * fence", 16, 8) +
                             Field("__data_loc char[] name", 24, 4) + Field("uint64_t id", 32, 8) +
                             Field("u32 job_count", 40, 4) + Field("int hw_job_count", 44, 4, 1);
  const std::string done_old = Field("struct dma_fence * fence", 8, 8);
  const std::string queue72 = Field("__data_loc char[] name", 8, 4) +
                              Field("u32 job_count", 12, 4) + Field("int hw_job_count", 16, 4, 1) +
                              Field("__data_loc char[] dev", 20, 4) +
                              Field("u64 fence_context", 24, 8) + Field("u64 fence_seqno", 32, 8) +
                              Field("u64 client_id", 40, 8);
  const std::string done72 = Field("u64 fence_context", 8, 8) + Field("u64 fence_seqno", 16, 8);
  const std::string dep72 = done72 + Field("u64 ctx", 24, 8) + Field("u64 seqno", 32, 8);
  const std::vector<std::string> old_progs = {"sched_queue_old_tp", "sched_run_old_tp",
                                              "sched_done_old_tp"};
  const auto none = gpu::EmptySchedLayout();
  {
    SCOPED_TRACE("5.10");
    LoadClassic(old_progs, Layout(job510, KS_GPU_JOB_QUEUE), Layout(job510, KS_GPU_JOB_RUN),
                Layout(done_old, KS_GPU_JOB_DONE), none);
  }
  {
    SCOPED_TRACE("6.1 / 6.12");
    LoadClassic(old_progs, Layout(job612, KS_GPU_JOB_QUEUE), Layout(job612, KS_GPU_JOB_RUN),
                Layout(done_old, KS_GPU_JOB_DONE), none);
  }
  {
    SCOPED_TRACE("7.2");
    LoadClassic({"sched_queue_tp", "sched_run_tp", "sched_done_tp", "sched_dep_tp"},
                Layout(queue72, KS_GPU_JOB_QUEUE), Layout(queue72, KS_GPU_JOB_RUN),
                Layout(done72, KS_GPU_JOB_DONE), Layout(dep72, KS_GPU_JOB_DEP));
  }
}

// Where this kernel has gpu_scheduler tracepoints (the tests/vm guests load gpu-sched): the
// classic programs with the layout of its own format files, loaded and attached.
TEST(GpuPrograms, ClassicSchedulerProgramsAttachWithThisKernelsLayout) {
  KS_REQUIRE_ROOT();
  const HostFeatures host = HostFeatures::Probe(true);
  const bool old_names = host.TracepointExists("gpu_scheduler", "drm_sched_job");
  const bool new_names = host.TracepointExists("gpu_scheduler", "drm_sched_job_queue");
  // Legitimately absent without a DRM scheduler driver (the host; see docs/compatibility.md).
  if (!old_names && !new_names)
    GTEST_SKIP() << "no gpu_scheduler tracepoints on this host (no DRM scheduler driver loaded)";
  struct Ev {
    const char* event;
    const char* prog;
    ks_gpu_job_phase phase;
  };
  const std::vector<Ev> evs =
      old_names ? std::vector<Ev>{{"drm_sched_job", "sched_queue_old_tp", KS_GPU_JOB_QUEUE},
                                  {"drm_run_job", "sched_run_old_tp", KS_GPU_JOB_RUN},
                                  {"drm_sched_process_job", "sched_done_old_tp", KS_GPU_JOB_DONE}}
                : std::vector<Ev>{{"drm_sched_job_queue", "sched_queue_tp", KS_GPU_JOB_QUEUE},
                                  {"drm_sched_job_run", "sched_run_tp", KS_GPU_JOB_RUN},
                                  {"drm_sched_job_done", "sched_done_tp", KS_GPU_JOB_DONE},
                                  {"drm_sched_job_add_dep", "sched_dep_tp", KS_GPU_JOB_DEP}};
  Skel s(ks_gpu__open());
  ASSERT_TRUE(s);
  std::vector<std::string> progs;
  for (const auto& e : evs) {
    const std::string fmt =
        ReadAll(host.tracefs_path() + "/events/gpu_scheduler/" + e.event + "/format");
    const ks_gpu_sched_layout l = Layout(fmt, e.phase);
    if (e.phase == KS_GPU_JOB_QUEUE) s->rodata->sched_queue_layout = l;
    if (e.phase == KS_GPU_JOB_RUN) s->rodata->sched_run_layout = l;
    if (e.phase == KS_GPU_JOB_DONE) s->rodata->sched_done_layout = l;
    if (e.phase == KS_GPU_JOB_DEP) s->rodata->sched_dep_layout = l;
    progs.emplace_back(e.prog);
  }
  Only(s.get(), progs);
  ASSERT_EQ(ks_gpu__load(s.get()), 0);
  for (const auto& n : progs) {
    bpf_link* l = bpf_program__attach(bpf_object__find_program_by_name(s->obj, n.c_str()));
    EXPECT_NE(l, nullptr) << n << ": " << std::strerror(errno);
    if (l) bpf_link__destroy(l);
  }
}

TEST(GpuPrograms, NvidiaTracepointProgramsVerifyWithTheDriverLayout) {
  KS_REQUIRE_ROOT();
  const std::string fmt = Field("__data_loc char[] dev", 8, 4) + Field("u32 error_code", 12, 4) +
                          Field("__data_loc char[] msg", 16, 4);
  auto l = gpu::XidLayoutFromFormat(gpu::ParseTpFormat(fmt));
  ASSERT_TRUE(l.ok());
  Skel s(ks_gpu__open());
  ASSERT_TRUE(s);
  s->rodata->xid_layout = *l;
  s->rodata->sxid_layout = *l;
  Only(s.get(), {"nvidia_dev_xid", "nvswitch_dev_sxid"});
  ASSERT_EQ(ks_gpu__load(s.get()), 0);
  for (const char* n : {"nvidia_dev_xid", "nvswitch_dev_sxid"}) {
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    ASSERT_EQ(bpf_obj_get_info_by_fd(bpf_program__fd(bpf_object__find_program_by_name(s->obj, n)),
                                     &info, &len),
              0);
    EXPECT_GT(info.xlated_prog_len / 8, 40u) << n << " was reduced to a stub";
  }
}

}  // namespace
}  // namespace ksight::test
