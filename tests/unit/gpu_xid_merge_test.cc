// Unit tests for the gpu probe's Xid/SXid de-duplication across the NVIDIA tracepoint and printk
// (probes/gpu/gpu_xid_merge.h): one record per fault, bursts kept, fields from the richer path.
#include "probes/gpu/gpu_xid_merge.h"

#include <gtest/gtest.h>

namespace ksight::gpu {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kWindow = 2000 * kMs;

XidObservation Printk(uint64_t ts, std::string line) {
  auto ev = ParseGpuLogLine(line);
  EXPECT_TRUE(ev.has_value()) << line;
  XidObservation o;
  o.ts_ns = ts;
  o.source = XidSource::kPrintk;
  if (ev && std::holds_alternative<XidEvent>(*ev)) o.event = std::get<XidEvent>(*ev);
  if (ev && std::holds_alternative<SxidEvent>(*ev)) o.event = std::get<SxidEvent>(*ev);
  o.reporter = {100, 101, "python3"};
  return o;
}

// What the probe builds from an nvidia_dev_xid record: no pid, no name, no MIG ids.
XidObservation Tp(uint64_t ts, std::string bus, int code, std::string msg) {
  XidObservation o;
  o.ts_ns = ts;
  o.source = XidSource::kTracepoint;
  XidEvent x;
  x.pci_bus_id = std::move(bus);
  x.code = code;
  x.message = std::move(msg);
  o.event = x;
  o.reporter = {100, 101, "python3"};
  return o;
}

XidMerger Both() {
  return XidMerger({.xid_tracepoint = true, .sxid_tracepoint = true, .window_ns = kWindow});
}

TEST(GpuXidMerge, PrintkOnlyPassesAtOnce) {
  XidMerger m({.xid_tracepoint = false, .sxid_tracepoint = false, .window_ns = kWindow});
  std::vector<MergedXid> out;
  m.Add(
      Printk(10 * kMs,
             "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python3, GPU has fallen off the bus."),
      out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].source, XidSource::kPrintk);
  EXPECT_TRUE(out[0].seen_log);
  EXPECT_FALSE(out[0].seen_tracepoint);
  EXPECT_EQ(m.pending(), 0u);
  EXPECT_EQ(m.stats().passed, 1u);
}

TEST(GpuXidMerge, PrintkThenTracepointIsOneRecordWithPrintkFields) {
  XidMerger m = Both();
  std::vector<MergedXid> out;
  m.Add(Printk(10 * kMs,
               "NVRM: Xid (PCI:0000:3b:00 GPU-I:01 GPU-CI:00): 94, pid=4242, name=trainer, "
               "Contained ECC error."),
        out);
  EXPECT_TRUE(out.empty());  // waits for its twin
  EXPECT_EQ(m.pending(), 1u);
  m.Add(Tp(10 * kMs + 50'000, "0000:3b:00.0", 94, "Contained ECC error."), out);
  ASSERT_EQ(out.size(), 1u);
  const MergedXid& r = out[0];
  EXPECT_EQ(r.source, XidSource::kTracepoint);
  EXPECT_TRUE(r.seen_log);
  EXPECT_TRUE(r.seen_tracepoint);
  EXPECT_EQ(r.ts_ns, 10 * kMs);
  const auto& x = std::get<XidEvent>(r.event);
  EXPECT_EQ(x.pci_bus_id, "0000:3b:00");
  EXPECT_EQ(x.code, 94);
  EXPECT_EQ(x.pid, 4242u);
  EXPECT_EQ(x.process_name, "trainer");
  EXPECT_EQ(x.gpu_instance, 1);
  EXPECT_EQ(x.compute_instance, 0);
  EXPECT_EQ(m.pending(), 0u);
  EXPECT_EQ(m.stats().merged, 1u);
}

TEST(GpuXidMerge, TracepointThenPrintkAlsoMerges) {
  XidMerger m = Both();
  std::vector<MergedXid> out;
  m.Add(Tp(5 * kMs, "0000:3B:00.0", 45, "Ch 00000010"), out);
  m.Add(Printk(6 * kMs,
               "NVRM: Xid (PCI:0000:3b:00): 45, pid=77, name=a.out, Ch 00000010 caused by previous "
               "Xid 13"),
        out);
  ASSERT_EQ(out.size(), 1u);
  const auto& x = std::get<XidEvent>(out[0].event);
  EXPECT_EQ(out[0].ts_ns, 5 * kMs);
  EXPECT_EQ(x.caused_by, 13);
  EXPECT_EQ(x.pid, 77u);
}

TEST(GpuXidMerge, BurstPairsOneToOne) {
  // Three Xid 13 on one GPU in one millisecond, each reported by both paths: three records.
  XidMerger m = Both();
  std::vector<MergedXid> out;
  const char* msgs[] = {
      "Graphics SM Warp Exception on (GPC 7, TPC 7, SM 0): Illegal Instruction Parameter",
      "Graphics SM Global Exception on (GPC 7, TPC 7, SM 0): Multiple Warp Errors",
      "Graphics Exception: ESR 0x57c730=0xc04000b"};
  uint64_t t = 100 * kMs;
  for (const char* msg : msgs) {
    m.Add(
        Printk(t, std::string("NVRM: Xid (PCI:0000:cb:00): 13, pid='<unknown>', name=<unknown>, ") +
                      msg),
        out);
    t += 1000;
  }
  // The tracepoint records arrive after all three lines, in order.
  for (const char* msg : msgs) {
    m.Add(Tp(t, "0000:cb:00.0", 13, msg), out);
    t += 1000;
  }
  ASSERT_EQ(out.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(std::get<XidEvent>(out[i].event).message, msgs[i]);
    EXPECT_EQ(out[i].source, XidSource::kTracepoint);
  }
  EXPECT_EQ(m.pending(), 0u);
}

TEST(GpuXidMerge, SameMessagePreferredOverOldest) {
  XidMerger m = Both();
  std::vector<MergedXid> out;
  m.Add(Printk(1 * kMs, "NVRM: Xid (PCI:0000:cb:00): 13, first"), out);
  m.Add(Printk(2 * kMs, "NVRM: Xid (PCI:0000:cb:00): 13, second"), out);
  m.Add(Tp(3 * kMs, "0000:cb:00.0", 13, "second"), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<XidEvent>(out[0].event).message, "second");
  EXPECT_EQ(m.pending(), 1u);
}

TEST(GpuXidMerge, DifferentGpuOrCodeDoesNotMerge) {
  XidMerger m = Both();
  std::vector<MergedXid> out;
  m.Add(
      Printk(1 * kMs, "NVRM: Xid (PCI:0000:3b:00): 79, pid=1, name=x, GPU has fallen off the bus."),
      out);
  m.Add(Tp(1 * kMs, "0000:3c:00.0", 79, "GPU has fallen off the bus."), out);
  m.Add(Tp(1 * kMs, "0000:3b:00.0", 48, "DBE"), out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(m.pending(), 3u);
  m.FlushAll(out);
  ASSERT_EQ(out.size(), 3u);
  for (const auto& r : out) {
    EXPECT_TRUE(r.seen_log != r.seen_tracepoint);
  }
  EXPECT_EQ(m.stats().alone, 3u);
}

TEST(GpuXidMerge, OutsideTheWindowIsNotATwin) {
  XidMerger m = Both();
  std::vector<MergedXid> out;
  m.Add(Printk(1 * kMs, "NVRM: Xid (PCI:0000:3b:00): 31, pid=1, name=x, MMU Fault"), out);
  // The next observation, 3 s later, releases the first alone and waits itself.
  m.Add(Tp(1 * kMs + 3 * kWindow / 2, "0000:3b:00.0", 31, "MMU Fault"), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].source, XidSource::kPrintk);
  EXPECT_EQ(m.pending(), 1u);
  m.Expire(1 * kMs + 3 * kWindow, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].source, XidSource::kTracepoint);
}

TEST(GpuXidMerge, SxidMergesByFullBusIdWithItsOwnSwitch) {
  XidMerger m({.xid_tracepoint = false, .sxid_tracepoint = true, .window_ns = kWindow});
  std::vector<MergedXid> out;
  m.Add(Printk(1 * kMs,
               "nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 12028, Non-fatal, Link 32 egress "
               "non-posted PRIV error (First)"),
        out);
  EXPECT_TRUE(out.empty());
  XidObservation tp;
  tp.ts_ns = 1 * kMs + 10;
  tp.source = XidSource::kTracepoint;
  SxidEvent s;
  s.pci_bus_id = "0000:85:00.0";
  s.code = 12028;
  s.message = "Non-fatal, Link 32 egress non-posted PRIV error (First)";
  tp.event = s;
  m.Add(tp, out);
  ASSERT_EQ(out.size(), 1u);
  const auto& r = std::get<SxidEvent>(out[0].event);
  EXPECT_EQ(r.device, "nvidia-nvswitch0");
  EXPECT_EQ(r.link, 32);
  EXPECT_EQ(out[0].source, XidSource::kTracepoint);
  // Xids still pass at once: no nvidia_dev_xid tracepoint in these options.
  m.Add(Printk(2 * kMs,
               "NVRM: Xid (PCI:0000:3b:00): 48, An uncorrectable double bit error (DBE) has been "
               "detected on GPU in the framebuffer at partition 6, subpartition 0."),
        out);
  EXPECT_EQ(out.size(), 2u);
}

TEST(GpuXidMerge, PendingIsBounded) {
  XidMerger m(
      {.xid_tracepoint = true, .sxid_tracepoint = false, .window_ns = kWindow, .max_pending = 4});
  std::vector<MergedXid> out;
  for (int i = 0; i < 10; ++i)
    m.Add(Printk(1 * kMs + static_cast<uint64_t>(i), "NVRM: Xid (PCI:0000:3b:00): 13, x"), out);
  EXPECT_EQ(m.pending(), 4u);
  EXPECT_EQ(out.size(), 6u);
  EXPECT_EQ(m.stats().pending_full, 6u);
}

}  // namespace
}  // namespace ksight::gpu
