// Unit tests for the JSON bodies of the gpu probe's records (probes/gpu/gpu_records.h): every
// field, and the absence of the ones a line does not carry.
#include "probes/gpu/gpu_records.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>

namespace ksight::gpu {
namespace {

using json = nlohmann::json;

json Body(const std::function<void(JsonWriter&)>& f) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  f(w);
  w.EndObject();
  return json::parse(out);
}

MergedXid FromLine(const std::string& line, XidSource src = XidSource::kPrintk) {
  auto ev = ParseGpuLogLine(line);
  EXPECT_TRUE(ev.has_value()) << line;
  MergedXid m;
  m.ts_ns = 1;
  m.source = src;
  m.seen_log = src != XidSource::kTracepoint;
  m.log_source = src == XidSource::kTracepoint ? XidSource::kPrintk : src;
  m.seen_tracepoint = src == XidSource::kTracepoint;
  if (std::holds_alternative<XidEvent>(*ev)) m.event = std::get<XidEvent>(*ev);
  if (std::holds_alternative<SxidEvent>(*ev)) m.event = std::get<SxidEvent>(*ev);
  m.reporter = {42, 43, "kworker/3:1"};
  return m;
}

TEST(GpuRecords, XidWithProcessAndMig) {
  const MergedXid m = FromLine(
      "NVRM: Xid (PCI:0000:3b:00 GPU-I:01 GPU-CI:00): 94, pid=4242, name=trainer, Contained ECC "
      "error.");
  EXPECT_EQ(XidRecordType(m), "gpu.xid");
  const json j = Body([&](JsonWriter& w) { WriteXidBody(w, m); });
  EXPECT_EQ(
      j["gpu"],
      json::parse(
          R"({"pci_bus_id":"0000:3b:00","gpu_instance":1,"compute_instance":0,"driver":"nvidia"})"));
  const json& x = j["xid"];
  EXPECT_EQ(x["code"], 94);
  EXPECT_EQ(x["name"], "Contained ECC error");
  EXPECT_EQ(x["severity"], "error");
  EXPECT_EQ(x["cause"], "memory");
  EXPECT_FALSE(x["action"].get<std::string>().empty());
  EXPECT_EQ(x["pid"], 4242);
  EXPECT_EQ(x["process_name"], "trainer");
  EXPECT_EQ(x["message"], "Contained ECC error.");
  EXPECT_FALSE(x.contains("caused_by"));
  EXPECT_EQ(x["source"], "printk");
  EXPECT_EQ(x["sources"], json::parse(R"(["printk"])"));
  EXPECT_EQ(j["reporter"], json::parse(R"({"pid":42,"tid":43,"comm":"kworker/3:1"})"));
}

TEST(GpuRecords, XidWithoutProcessHasNoPidOrName) {
  MergedXid m = FromLine(
      "NVRM: Xid (PCI:0000:3b:00): 48, An uncorrectable double bit error (DBE) has been detected.",
      XidSource::kTracepoint);
  m.seen_log = true;
  const json j = Body([&](JsonWriter& w) { WriteXidBody(w, m); });
  EXPECT_FALSE(j["xid"].contains("pid"));
  EXPECT_FALSE(j["xid"].contains("process_name"));
  EXPECT_FALSE(j["gpu"].contains("gpu_instance"));
  EXPECT_EQ(j["xid"]["severity"], "critical");
  EXPECT_EQ(j["xid"]["source"], "tracepoint");
  EXPECT_EQ(j["xid"]["sources"], json::parse(R"(["tracepoint","printk"])"));
}

TEST(GpuRecords, XidCausedByAndRecoveryAction) {
  const json a = Body([&](JsonWriter& w) {
    WriteXidBody(w, FromLine("NVRM: Xid (PCI:0000:3b:00): 45, pid=77, name=a.out, Ch 00000010 "
                             "caused by previous Xid 13"));
  });
  EXPECT_EQ(a["xid"]["caused_by"], 13);
  EXPECT_EQ(a["xid"]["message"], "Ch 00000010");
  const json b = Body([&](JsonWriter& w) {
    WriteXidBody(w, FromLine("NVRM: Xid (PCI:0000:3b:00): 154, GPU recovery action changed from "
                             "0x0 (None) to 0x2 (Node Reboot Required)"));
  });
  EXPECT_EQ(b["xid"]["recovery_action"], "Node Reboot Required");
}

TEST(GpuRecords, Sxid) {
  const MergedXid m = FromLine(
      "nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 12028, Non-fatal, Link 32 egress non-posted PRIV "
      "error (First)");
  EXPECT_EQ(XidRecordType(m), "gpu.sxid");
  const json j = Body([&](JsonWriter& w) { WriteXidBody(w, m); });
  EXPECT_EQ(
      j["gpu"],
      json::parse(
          R"({"pci_bus_id":"0000:85:00.0","device":"nvidia-nvswitch0","driver":"nvswitch"})"));
  EXPECT_EQ(j["xid"]["code"], 12028);
  EXPECT_EQ(j["xid"]["unit"], "NPORT egress");
  EXPECT_EQ(j["xid"]["fatal"], false);
  EXPECT_EQ(j["xid"]["link"], 32);
  EXPECT_EQ(j["xid"]["source"], "printk");
}

TEST(GpuRecords, ResetAmdgpuRingTimeout) {
  auto ev = ParseGpuLogLine(
      "amdgpu 0000:03:00.0: amdgpu: ring gfx_0.0.0 timeout, signaled seq=1234, emitted seq=1236");
  ASSERT_TRUE(ev && std::holds_alternative<ResetEvent>(*ev));
  const json j = Body([&](JsonWriter& w) {
    WriteResetBody(w, std::get<ResetEvent>(*ev), Reporter{1, 2, "kworker/u8:0"});
  });
  EXPECT_EQ(
      j["gpu"],
      json::parse(R"({"pci_bus_id":"0000:03:00.0","device":"0000:03:00.0","driver":"amdgpu"})"));
  EXPECT_EQ(j["reset"]["kind"], "ring_timeout");
  EXPECT_EQ(j["reset"]["ring"], "gfx_0.0.0");
  EXPECT_EQ(j["reset"]["signaled_seq"], 1234);
  EXPECT_EQ(j["reset"]["emitted_seq"], 1236);
  EXPECT_EQ(j["reset"]["source"], "printk");
  EXPECT_FALSE(j["reset"].contains("pid"));
}

TEST(GpuRecords, Job) {
  JobRecord r;
  r.ring = "gfx_0.0.0";
  r.device = "0000:03:00.0";
  r.fence_ctx = 7;
  r.seqno = 99;
  r.queue_wait_ns = 1000;
  r.run_ns = 5000;
  r.total_ns = 6000;
  r.queue_depth_at_queue = 2;
  r.in_flight_at_run = 1;
  r.pid = 4242;
  r.comm = "python3";
  JobExtras x;
  x.driver = "amdgpu";
  x.dependencies = 3;
  x.client_id = 12;
  x.job_count = 3;
  x.hw_job_count = 1;
  const json j = Body([&](JsonWriter& w) { WriteJobBody(w, r, x); });
  EXPECT_EQ(
      j["gpu"],
      json::parse(R"({"pci_bus_id":"0000:03:00.0","device":"0000:03:00.0","driver":"amdgpu"})"));
  EXPECT_EQ(j["job"], json::parse(R"({"ring":"gfx_0.0.0","fence_context":7,"fence_seqno":99,
      "queue_wait_ns":1000,"run_ns":5000,"total_ns":6000,"queue_depth":2,"in_flight":1,
      "dependencies":3,"client_id":12,"entity_job_count":3,"hw_job_count":1})"));
  EXPECT_EQ(j["process"], json::parse(R"({"pid":4242,"comm":"python3"})"));

  // A job whose run event was missed, on a device that is not a PCI address.
  JobRecord s;
  s.ring = "v3d_bin";
  s.device = "fec00000.v3d";
  s.total_ns = 10;
  const json k = Body([&](JsonWriter& w) { WriteJobBody(w, s, JobExtras{}); });
  EXPECT_FALSE(k["gpu"].contains("pci_bus_id"));
  EXPECT_EQ(k["gpu"]["device"], "fec00000.v3d");
  EXPECT_FALSE(k["job"].contains("run_ns"));
  EXPECT_FALSE(k["job"].contains("in_flight"));
  EXPECT_FALSE(k.contains("process"));
}

TEST(GpuRecords, FenceStatsOnlyKindsThatMoved) {
  FenceStats d;
  d.wait.count = 2;
  d.wait.sum_ns = 3000;
  d.wait.max_ns = 2000;
  d.wait.hist[10] = 2;
  const json j = Body([&](JsonWriter& w) { WriteFenceStatsBody(w, "vgem", "unbound", d); });
  EXPECT_EQ(j["gpu"], json::parse(R"({"driver":"vgem","timeline":"unbound"})"));
  EXPECT_FALSE(j["stats"].contains("emit_to_signal"));
  EXPECT_FALSE(j["stats"].contains("init_to_signal"));
  EXPECT_EQ(j["stats"]["wait"]["count"], 2);
  EXPECT_EQ(j["stats"]["wait"]["sum_ns"], 3000);
  EXPECT_EQ(j["stats"]["wait"]["max_ns"], 2000);
  EXPECT_GE(j["stats"]["wait"]["p50_ns"].get<uint64_t>(), 1024u);
  EXPECT_LE(j["stats"]["wait"]["p99_ns"].get<uint64_t>(), 2000u);
}

}  // namespace
}  // namespace ksight::gpu
