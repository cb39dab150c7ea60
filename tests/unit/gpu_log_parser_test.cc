// Unit tests for the GPU driver log parsers (probes/gpu/log_parser.h) and the Xid/SXid tables
// (probes/gpu/xid_codes.h). Every accepted format has a row here, taken from the driver's
// format string; every row is also checked with each decoration the log path may add and cut at
// every length.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "probes/gpu/log_parser.h"
#include "probes/gpu/xid_codes.h"

namespace ksight::gpu {
namespace {

// tests/unit/data: from the build's source dir, or next to this file for a direct compile.
std::filesystem::path GpuDataDir() {
#ifdef KSIGHT_SOURCE_DIR
  return std::filesystem::path(KSIGHT_SOURCE_DIR) / "tests" / "unit" / "data";
#else
  return std::filesystem::path(__FILE__).parent_path() / "data";
#endif
}

// ---------------------------------------------------------------------------------------------
// Expected values

struct XidCase {
  const char* name;
  std::string line;
  XidEvent want;
};

XidEvent Xid(std::string bus, int code, std::optional<uint32_t> pid,
             std::optional<std::string> proc, std::string msg,
             std::optional<int> caused_by = std::nullopt, std::optional<int> gi = std::nullopt,
             std::optional<int> ci = std::nullopt) {
  XidEvent e;
  e.pci_bus_id = std::move(bus);
  e.gpu_instance = gi;
  e.compute_instance = ci;
  e.code = code;
  e.pid = pid;
  e.process_name = std::move(proc);
  e.message = std::move(msg);
  e.caused_by = caused_by;
  return e;
}

const std::vector<XidCase>& XidCases() {
  static const std::vector<XidCase> cases = {
      {"fallen_off_bus_with_process",
       "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python3, GPU has fallen off the bus.",
       Xid("0000:3b:00", 79, 1234, "python3", "GPU has fallen off the bus.")},
      {"no_process",
       "NVRM: Xid (PCI:0000:3b:00): 48, An uncorrectable double bit error (DBE) "
       "has been detected on GPU in the framebuffer at partition 2, subpartition 0.",
       Xid("0000:3b:00", 48, std::nullopt, std::nullopt,
           "An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer "
           "at partition 2, subpartition 0.")},
      {"unknown_process_r535",
       "NVRM: Xid (PCI:0000:cb:00): 13, pid='<unknown>', name=<unknown>, Graphics SM Warp "
       "Exception on (GPC 7, TPC 7, SM 0): Illegal Instruction Parameter",
       Xid("0000:cb:00", 13, std::nullopt, std::nullopt,
           "Graphics SM Warp Exception on (GPC 7, TPC 7, SM 0): Illegal Instruction Parameter")},
      {"unknown_process_quoted_name",
       "NVRM: Xid (PCI:0000:00:1e): 79, pid='<unknown>', name='<unknown>', GPU has fallen off "
       "the bus.",
       Xid("0000:00:1e", 79, std::nullopt, std::nullopt, "GPU has fallen off the bus.")},
      {"mig_gpu_and_compute_instance",
       "NVRM: Xid (PCI:0000:3b:00 GPU-I:01 GPU-CI:00): 94, pid=5678, name=trainer, Contained: "
       "CE User Channel (0x2). RST: No, D-RST: No",
       Xid("0000:3b:00", 94, 5678, "trainer",
           "Contained: CE User Channel (0x2). RST: No, D-RST: No", std::nullopt, 1, 0)},
      {"mig_gpu_instance_only",
       "NVRM: Xid (PCI:0000:3b:00 GPU-I:07): 43, pid=99, name=a.out, Ch 00000008",
       Xid("0000:3b:00", 43, 99, "a.out", "Ch 00000008", std::nullopt, 7)},
      {"caused_by_previous",
       "NVRM: Xid (PCI:0000:3b:00): 45, pid=2280636, name=python, Ch 00000010 caused by "
       "previous Xid 13",
       Xid("0000:3b:00", 45, 2280636, "python", "Ch 00000010", 13)},
      {"caused_by_with_empty_message",
       "NVRM: Xid (PCI:0000:41:00): 45,  caused by previous Xid 149",
       Xid("0000:41:00", 45, std::nullopt, std::nullopt, "", 149)},
      {"mig_and_caused_by",
       "NVRM: Xid (PCI:0000:3b:00 GPU-I:02 GPU-CI:01): 45, pid=77, name=srv, Ch 00000001 caused "
       "by previous Xid 95",
       Xid("0000:3b:00", 45, 77, "srv", "Ch 00000001", 95, 2, 1)},
      {"gsp_timeout",
       "NVRM: Xid (PCI:0000:17:00): 119, pid=5678, name=python3, Timeout after 6s of waiting "
       "for RPC response from GPU0 GSP! Expected function 76 (GSP_RM_CONTROL) (0x20800a4c 0x4).",
       Xid("0000:17:00", 119, 5678, "python3",
           "Timeout after 6s of waiting for RPC response from GPU0 GSP! Expected function 76 "
           "(GSP_RM_CONTROL) (0x20800a4c 0x4).")},
      {"recovery_action",
       "NVRM: Xid (PCI:0000:01:00): 154, GPU recovery action changed from 0x0 (None) to 0x2 "
       "(Node Reboot Required)",
       Xid("0000:01:00", 154, std::nullopt, std::nullopt,
           "GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)")},
      {"old_driver_no_pci_prefix", "NVRM: Xid (0000:03:00): 14, Channel 00000001",
       Xid("0000:03:00", 14, std::nullopt, std::nullopt, "Channel 00000001")},
      {"old_driver_pid_without_name",
       "NVRM: Xid (PCI:0000:10:00): 79, pid=4321, GPU has fallen off the bus.",
       Xid("0000:10:00", 79, 4321, std::nullopt, "GPU has fallen off the bus.")},
      {"old_driver_pid_zero", "NVRM: Xid (PCI:0000:10:00): 79, pid=0, GPU has fallen off the bus.",
       Xid("0000:10:00", 79, std::nullopt, std::nullopt, "GPU has fallen off the bus.")},
      {"uppercase_hex_normalized", "NVRM: Xid (PCI:0000:AF:1E): 31, pid=1, name=x, MMU Fault",
       Xid("0000:af:1e", 31, 1, "x", "MMU Fault")},
      {"empty_message", "NVRM: Xid (PCI:0000:3b:00): 62, ",
       Xid("0000:3b:00", 62, std::nullopt, std::nullopt, "")},
      {"name_with_space", "NVRM: Xid (PCI:0000:3b:00): 13, pid=10, name=my app, Graphics Exception",
       Xid("0000:3b:00", 13, 10, "my app", "Graphics Exception")},
  };
  return cases;
}

struct SxidCase {
  const char* name;
  std::string line;
  SxidEvent want;
};

SxidEvent Sxid(std::string dev, std::string bus, int code, std::string msg,
               std::optional<bool> fatal, std::optional<int> link, bool detail = false) {
  SxidEvent e;
  e.device = std::move(dev);
  e.pci_bus_id = std::move(bus);
  e.code = code;
  e.message = std::move(msg);
  e.fatal = fatal;
  e.link = link;
  e.detail = detail;
  return e;
}

const std::vector<SxidCase>& SxidCases() {
  static const std::vector<SxidCase> cases = {
      {"nonfatal_first",
       "nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 12028, Non-fatal, Link 32 egress non-posted "
       "PRIV error (First)",
       Sxid("nvidia-nvswitch0", "0000:85:00.0", 12028,
            "Non-fatal, Link 32 egress non-posted PRIV error (First)", false, 32)},
      {"fatal",
       "nvidia-nvswitch3: SXid (PCI:0000:c1:00.0): 24007, Fatal, Link 30 sourcetrack "
       "timeout error",
       Sxid("nvidia-nvswitch3", "0000:c1:00.0", 24007, "Fatal, Link 30 sourcetrack timeout error",
            true, 30)},
      {"detail_severity",
       "nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 12028, Severity 0 Engine instance 32 "
       "Sub-engine instance 00",
       Sxid("nvidia-nvswitch0", "0000:85:00.0", 12028,
            "Severity 0 Engine instance 32 Sub-engine instance 00", std::nullopt, std::nullopt,
            true)},
      {"detail_data",
       "nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 12028, Data {0x00000004, 0x00000004, "
       "0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000}",
       Sxid("nvidia-nvswitch0", "0000:85:00.0", 12028,
            "Data {0x00000004, 0x00000004, 0x00000000, 0x00000000, 0x00000000, 0x00000000, "
            "0x00000000, 0x00000000, 0x00000000}",
            std::nullopt, std::nullopt, true)},
      {"uppercase_bus",
       "nvidia-nvswitch11: SXid (PCI:0000:C3:00.0): 20009, Non-fatal, Link 28 "
       "RX Short Error Rate",
       Sxid("nvidia-nvswitch11", "0000:c3:00.0", 20009, "Non-fatal, Link 28 RX Short Error Rate",
            false, 28)},
  };
  return cases;
}

struct ResetCase {
  const char* name;
  std::string line;
  ResetEvent want;
};

ResetEvent Reset(std::string driver, ResetKind kind, std::string device, std::string msg) {
  ResetEvent e;
  e.driver = std::move(driver);
  e.kind = kind;
  e.device = std::move(device);
  e.message = std::move(msg);
  return e;
}

template <typename F>
ResetEvent With(ResetEvent e, F f) {
  f(e);
  return e;
}

const std::vector<ResetCase>& ResetCases() {
  static const std::vector<ResetCase> cases = {
      {"nvidia_fallen_off_bus", "NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus.",
       Reset("nvidia", ResetKind::kFallenOffBus, "0000:3b:00.0", "GPU has fallen off the bus.")},
      {"nvidia_fallen_off_bus_old", "NVRM: GPU at 0000:65:00.0 has fallen off the bus.",
       Reset("nvidia", ResetKind::kFallenOffBus, "0000:65:00.0",
             "GPU at 0000:65:00.0 has fallen off the bus.")},
      {"nvidia_fallen_off_bus_probe",
       "NVRM: The NVIDIA GPU 0000:01:00.0\nNVRM: (PCI ID: 10de:1e07) installed in this system "
       "has\nNVRM: fallen off the bus and is not responding to commands.",
       Reset("nvidia", ResetKind::kFallenOffBus, "0000:01:00.0",
             "The NVIDIA GPU 0000:01:00.0 (PCI ID: 10de:1e07) installed in this system has "
             "fallen off the bus and is not responding to commands.")},
      {"amdgpu_ring_timeout_drm_dev_error",
       "amdgpu 0000:03:00.0: [drm:amdgpu_job_timedout [amdgpu]] *ERROR* ring gfx timeout, "
       "signaled seq=1234, emitted seq=1236",
       With(Reset("amdgpu", ResetKind::kRingTimeout, "0000:03:00.0",
                  "ring gfx timeout, signaled seq=1234, emitted seq=1236"),
            [](ResetEvent& e) {
              e.ring = "gfx";
              e.signaled_seq = 1234;
              e.emitted_seq = 1236;
            })},
      {"amdgpu_ring_timeout_dev_err",
       "amdgpu 0000:c1:00.0: amdgpu: ring gfx_0.0.0 timeout, signaled seq=4294967295, emitted "
       "seq=7",
       With(Reset("amdgpu", ResetKind::kRingTimeout, "0000:c1:00.0",
                  "ring gfx_0.0.0 timeout, signaled seq=4294967295, emitted seq=7"),
            [](ResetEvent& e) {
              e.ring = "gfx_0.0.0";
              e.signaled_seq = 4294967295u;
              e.emitted_seq = 7;
            })},
      {"amdgpu_ring_timeout_drm_err",
       "amdgpu 0000:03:00.0: [drm] *ERROR* ring comp_1.2.0 timeout, signaled seq=10, emitted "
       "seq=12",
       With(Reset("amdgpu", ResetKind::kRingTimeout, "0000:03:00.0",
                  "ring comp_1.2.0 timeout, signaled seq=10, emitted seq=12"),
            [](ResetEvent& e) {
              e.ring = "comp_1.2.0";
              e.signaled_seq = 10;
              e.emitted_seq = 12;
            })},
      {"amdgpu_ring_timeout_no_device",
       "[drm:amdgpu_job_timedout [amdgpu]] *ERROR* ring sdma0 timeout, signaled seq=5, emitted "
       "seq=6",
       With(Reset("amdgpu", ResetKind::kRingTimeout, "",
                  "ring sdma0 timeout, signaled seq=5, emitted seq=6"),
            [](ResetEvent& e) {
              e.ring = "sdma0";
              e.signaled_seq = 5;
              e.emitted_seq = 6;
            })},
      {"amdgpu_ring_soft_recovered",
       "amdgpu 0000:03:00.0: amdgpu: ring sdma0 timeout, but soft recovered",
       With(Reset("amdgpu", ResetKind::kRingTimeout, "0000:03:00.0",
                  "ring sdma0 timeout, but soft recovered"),
            [](ResetEvent& e) { e.ring = "sdma0"; })},
      {"amdgpu_reset_succeeded", "amdgpu 0000:03:00.0: amdgpu: GPU reset(2) succeeded!",
       With(Reset("amdgpu", ResetKind::kResetSucceeded, "0000:03:00.0", "GPU reset(2) succeeded!"),
            [](ResetEvent& e) { e.reset_count = 2; })},
      {"amdgpu_reset_failed", "amdgpu 0000:03:00.0: amdgpu: GPU reset(3) failed",
       With(Reset("amdgpu", ResetKind::kResetFailed, "0000:03:00.0", "GPU reset(3) failed"),
            [](ResetEvent& e) { e.reset_count = 3; })},
      {"amdgpu_reset_failed_with_error",
       "amdgpu 0000:03:00.0: amdgpu: GPU reset(4) failed with error -110",
       With(Reset("amdgpu", ResetKind::kResetFailed, "0000:03:00.0",
                  "GPU reset(4) failed with error -110"),
            [](ResetEvent& e) { e.reset_count = 4; })},
      {"amdgpu_retry_page_fault_gmc9",
       "amdgpu 0000:03:00.0: amdgpu: [gfxhub0] retry page fault (src_id:0 ring:0 vmid:3 "
       "pasid:32769, for process python3 pid 4242 thread python3 pid 4243)",
       With(Reset("amdgpu", ResetKind::kPageFault, "0000:03:00.0",
                  "[gfxhub0] retry page fault (src_id:0 ring:0 vmid:3 pasid:32769, for process "
                  "python3 pid 4242 thread python3 pid 4243)"),
            [](ResetEvent& e) {
              e.hub = "gfxhub0";
              e.pasid = 32769;
              e.pid = 4242;
              e.process_name = "python3";
            })},
      {"amdgpu_no_retry_page_fault_mmhub",
       "amdgpu 0000:03:00.0: amdgpu: [mmhub0] no-retry page fault (src_id:0 ring:8 vmid:1 "
       "pasid:32770, for process  pid 0 thread  pid 0)",
       With(Reset("amdgpu", ResetKind::kPageFault, "0000:03:00.0",
                  "[mmhub0] no-retry page fault (src_id:0 ring:8 vmid:1 pasid:32770, for process  "
                  "pid 0 thread  pid 0)"),
            [](ResetEvent& e) {
              e.hub = "mmhub0";
              e.pasid = 32770;
            })},
      {"amdgpu_page_fault_gmc10",
       "amdgpu 0000:0b:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:3 pasid:32769, "
       "for process Xorg pid 1234 thread Xorg:cs0 pid 1240)",
       With(Reset("amdgpu", ResetKind::kPageFault, "0000:0b:00.0",
                  "[gfxhub] page fault (src_id:0 ring:24 vmid:3 pasid:32769, for process Xorg "
                  "pid 1234 thread Xorg:cs0 pid 1240)"),
            [](ResetEvent& e) {
              e.hub = "gfxhub";
              e.pasid = 32769;
              e.pid = 1234;
              e.process_name = "Xorg";
            })},
      {"amdgpu_page_fault_6_10",
       "amdgpu 0000:0b:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:3 pasid:32769)",
       With(Reset("amdgpu", ResetKind::kPageFault, "0000:0b:00.0",
                  "[gfxhub] page fault (src_id:0 ring:24 vmid:3 pasid:32769)"),
            [](ResetEvent& e) {
              e.hub = "gfxhub";
              e.pasid = 32769;
            })},
      {"i915_gpu_hang", "i915 0000:00:02.0: [drm] GPU HANG: ecode 12:1:85dffffb, in Xorg [1234]",
       With(Reset("i915", ResetKind::kGpuHang, "0000:00:02.0",
                  "GPU HANG: ecode 12:1:85dffffb, in Xorg [1234]"),
            [](ResetEvent& e) {
              e.pid = 1234;
              e.process_name = "Xorg";
            })},
      {"i915_gpu_hang_engine",
       "i915 0000:00:02.0: [drm] GPU HANG: ecode 12:1:85dffffb, rcs0 in gnome-shell [2001]",
       With(Reset("i915", ResetKind::kGpuHang, "0000:00:02.0",
                  "GPU HANG: ecode 12:1:85dffffb, rcs0 in gnome-shell [2001]"),
            [](ResetEvent& e) {
              e.ring = "rcs0";
              e.pid = 2001;
              e.process_name = "gnome-shell";
            })},
      {"i915_gpu_hang_no_process", "i915 0000:00:02.0: GPU HANG: ecode 9:1:00000000",
       Reset("i915", ResetKind::kGpuHang, "0000:00:02.0", "GPU HANG: ecode 9:1:00000000")},
      {"i915_gpu_hang_4x",
       "[drm] GPU HANG: ecode 9:0:0x85dffffb, in Xorg [1234], reason: hang on rcs0, action: "
       "reset",
       With(Reset("i915", ResetKind::kGpuHang, "",
                  "GPU HANG: ecode 9:0:0x85dffffb, in Xorg [1234], reason: hang on rcs0, action: "
                  "reset"),
            [](ResetEvent& e) {
              e.pid = 1234;
              e.process_name = "Xorg";
            })},
      {"i915_page_fault",
       "i915 0000:00:02.0: [drm] page fault @ 0x0000000000001000, ccs0 in compute [77]",
       With(Reset("i915", ResetKind::kPageFault, "0000:00:02.0",
                  "page fault @ 0x0000000000001000, ccs0 in compute [77]"),
            [](ResetEvent& e) {
              e.ring = "ccs0";
              e.pid = 77;
              e.process_name = "compute";
            })},
      {"xe_timedout_job",
       "xe 0000:03:00.0: [drm] GT0: Timedout job: seqno=4294967169, lrc_seqno=4294967169, "
       "guc_id=2, flags=0x0 in python3 [4242]",
       With(Reset("xe", ResetKind::kJobTimeout, "0000:03:00.0",
                  "Timedout job: seqno=4294967169, lrc_seqno=4294967169, guc_id=2, flags=0x0 in "
                  "python3 [4242]"),
            [](ResetEvent& e) {
              e.gt = 0;
              e.seqno = 4294967169u;
              e.pid = 4242;
              e.process_name = "python3";
            })},
      {"xe_timedout_job_6_8", "xe 0000:03:00.0: [drm] Timedout job: seqno=12, guc_id=4, flags=0x8",
       With(Reset("xe", ResetKind::kJobTimeout, "0000:03:00.0",
                  "Timedout job: seqno=12, guc_id=4, flags=0x8"),
            [](ResetEvent& e) { e.seqno = 12; })},
      {"xe_timedout_job_kernel_queue",
       "xe 0000:03:00.0: [drm] Tile0: GT1: Timedout job: seqno=5, lrc_seqno=5, guc_id=9, "
       "flags=0x4 in no process [-1]",
       With(Reset("xe", ResetKind::kJobTimeout, "0000:03:00.0",
                  "Timedout job: seqno=5, lrc_seqno=5, guc_id=9, flags=0x4 in no process [-1]"),
            [](ResetEvent& e) {
              e.gt = 1;
              e.seqno = 5;
            })},
      {"xe_engine_reset",
       "xe 0000:03:00.0: [drm] GT0: Engine reset: engine_class=ccs, logical_mask: 0x1, guc_id=2",
       With(Reset("xe", ResetKind::kGpuHang, "0000:03:00.0",
                  "Engine reset: engine_class=ccs, logical_mask: 0x1, guc_id=2"),
            [](ResetEvent& e) {
              e.gt = 0;
              e.ring = "ccs";
            })},
      {"xe_gt_reset_done", "xe 0000:03:00.0: [drm] GT0: reset done",
       With(Reset("xe", ResetKind::kResetSucceeded, "0000:03:00.0", "reset done"),
            [](ResetEvent& e) { e.gt = 0; })},
      {"xe_gt_reset_failed", "xe 0000:03:00.0: [drm] *ERROR* GT1: reset failed (-ETIMEDOUT)",
       With(Reset("xe", ResetKind::kResetFailed, "0000:03:00.0", "reset failed (-ETIMEDOUT)"),
            [](ResetEvent& e) { e.gt = 1; })},
  };
  return cases;
}

// Lines that must not produce an event.
const std::vector<std::string>& NoiseLines() {
  static const std::vector<std::string> lines = {
      "",
      "   ",
      "\n",
      "EXT4-fs (dm-0): mounted filesystem with ordered data mode. Quota mode: none.",
      "hrtimer: interrupt took 11911 ns",
      "NVRM: loading NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024",
      "NVRM: GPU at PCI:0000:01:00: GPU-9ba0f26a-a046-9909-7b2a-17a000456830",
      "NVRM: GPU Board Serial Number: 1234567890",
      "NVRM: A GPU crash dump has been created. If possible, please run",
      "NVRM: GPU 0000:3b:00.0: RmInitAdapter failed! (0x31:0x40:2536)",
      "NVRM: GPU0 nvAssertOkFailedNoLog: Assertion failed: Reset required",
      "NVRM: Xid (PCI:0000:3b:00): abc, pid=1, name=x, msg",
      "NVRM: Xid (PCI:0000:3b:00): 0, zero is not an Xid",
      "NVRM: Xid (PCI:0000:3b:00): 12345, too many digits",
      "NVRM: Xid (PCI:zzzz:3b:00): 79, bad bus",
      "NVRM: Xid (PCI:0000:3b): 79, short bus",
      "NVRM: Xid (PCI:0000:3b:00 GPU-I:): 94, empty instance",
      "NVRM: Xid (PCI:0000:3b:00): 79 no comma after the code",
      "NVRM: Xid (PCI:0000:3b:00): 79, pid=12x4, name=x, bad pid",
      "NVRM: Xid (PCI:0000:3b:00): 79, pid=99999999999, name=x, pid too large",
      "nvidia-nvswitch0: SXid (PCI:0000:85:00.0): garbled, Fatal",
      "nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 1202, four digits",
      "nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 120288, six digits",
      "nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 12028",
      "nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 12028, ",
      "nvidia-nvswitch0: probe of 0000:85:00.0 failed",
      "nvidia-modeset: Loading NVIDIA Kernel Mode Setting Driver for UNIX platforms",
      "amdgpu 0000:03:00.0: amdgpu: GPU reset begin!",
      "amdgpu 0000:03:00.0: amdgpu: VRAM is lost due to GPU reset!",
      "amdgpu 0000:03:00.0: amdgpu: ring gfx timeout, signaled seq=12",
      "amdgpu 0000:03:00.0: amdgpu: ring gfx_0.0.0 test failed (-110)",
      "amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x0000800000000000 from IH "
      "client 0x1b (UTCL2)",
      "amdgpu 0000:03:00.0: amdgpu: Process information: process python3 pid 4242 thread "
      "python3 pid 4243",
      "amdgpu: ring gfx timeout, signaled seq=1, emitted seq=2",
      "amdgpu 0000:03:00: amdgpu: GPU reset(1) succeeded!",
      "[drm] amdgpu kernel modesetting enabled.",
      "[drm:amdgpu_dm_init [amdgpu]] *ERROR* dc_create failed",
      "[drm:drm_atomic_helper_wait_for_flip_done [drm_kms_helper]] *ERROR* flip_done timed out",
      "i915 0000:00:02.0: [drm] Resetting rcs0 for preemption time out",
      "i915 0000:00:02.0: [drm] GuC firmware i915/tgl_guc_70.bin version 70.20.0",
      "xe 0000:03:00.0: [drm] GT0: reset started",
      "xe 0000:03:00.0: [drm] reset done",
      "xe 0000:03:00.0: [drm] Using GuC firmware from xe/lnl_guc_70.bin version 70.29.2",
      "audit: type=1400 audit(1700000000.000:1): apparmor=\"STATUS\" operation=\"profile_load\"",
      "NVRM: GPU 0000:3b:00.0: GPU has fallen",
      "nouveau 0000:01:00.0: fifo: SCHED_ERROR 0a [CTXSW_TIMEOUT]",
  };
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Comparisons

void ExpectXid(const XidEvent& got, const XidEvent& want) {
  EXPECT_EQ(got.pci_bus_id, want.pci_bus_id);
  EXPECT_EQ(got.gpu_instance, want.gpu_instance);
  EXPECT_EQ(got.compute_instance, want.compute_instance);
  EXPECT_EQ(got.code, want.code);
  EXPECT_EQ(got.pid, want.pid);
  EXPECT_EQ(got.process_name, want.process_name);
  EXPECT_EQ(got.message, want.message);
  EXPECT_EQ(got.caused_by, want.caused_by);
}

void ExpectSxid(const SxidEvent& got, const SxidEvent& want) {
  EXPECT_EQ(got.device, want.device);
  EXPECT_EQ(got.pci_bus_id, want.pci_bus_id);
  EXPECT_EQ(got.code, want.code);
  EXPECT_EQ(got.message, want.message);
  EXPECT_EQ(got.fatal, want.fatal);
  EXPECT_EQ(got.link, want.link);
  EXPECT_EQ(got.detail, want.detail);
}

void ExpectReset(const ResetEvent& got, const ResetEvent& want) {
  EXPECT_EQ(got.driver, want.driver);
  EXPECT_EQ(ResetKindName(got.kind), ResetKindName(want.kind));
  EXPECT_EQ(got.device, want.device);
  EXPECT_EQ(got.ring, want.ring);
  EXPECT_EQ(got.signaled_seq, want.signaled_seq);
  EXPECT_EQ(got.emitted_seq, want.emitted_seq);
  EXPECT_EQ(got.seqno, want.seqno);
  EXPECT_EQ(got.reset_count, want.reset_count);
  EXPECT_EQ(got.gt, want.gt);
  EXPECT_EQ(got.hub, want.hub);
  EXPECT_EQ(got.pasid, want.pasid);
  EXPECT_EQ(got.pid, want.pid);
  EXPECT_EQ(got.process_name, want.process_name);
  EXPECT_EQ(got.message, want.message);
}

// The decorations the log path may add around a record's text.
std::vector<std::pair<std::string, std::string>> Decorations() {
  return {
      {"", ""},
      {"", "\n"},
      {"", "\r\n"},
      {"", "  \n"},
      {"   ", ""},
      {"\t", "\n"},
      {"<3>", "\n"},
      {"[   12.345678] ", "\n"},
      {"[ 1936.510073][ T1234] ", ""},
      {"<4>[    5.000001] ", "\n"},
      {"3,4471,3023054882,-;", "\n"},
      {"4,9921,9370042162,-,caller=T77;", ""},
  };
}

// ---------------------------------------------------------------------------------------------
// Tests

TEST(GpuLogParser, XidFormats) {
  for (const auto& c : XidCases()) {
    SCOPED_TRACE(c.name);
    for (const auto& [pre, post] : Decorations()) {
      SCOPED_TRACE("decorated: [" + pre + "] ... [" + post + "]");
      auto ev = ParseGpuLogLine(pre + c.line + post);
      ASSERT_TRUE(ev.has_value());
      ASSERT_TRUE(std::holds_alternative<XidEvent>(*ev));
      ExpectXid(std::get<XidEvent>(*ev), c.want);
    }
  }
}

TEST(GpuLogParser, SxidFormats) {
  for (const auto& c : SxidCases()) {
    SCOPED_TRACE(c.name);
    for (const auto& [pre, post] : Decorations()) {
      auto ev = ParseGpuLogLine(pre + c.line + post);
      ASSERT_TRUE(ev.has_value());
      ASSERT_TRUE(std::holds_alternative<SxidEvent>(*ev));
      ExpectSxid(std::get<SxidEvent>(*ev), c.want);
    }
  }
}

TEST(GpuLogParser, ResetFormats) {
  for (const auto& c : ResetCases()) {
    SCOPED_TRACE(c.name);
    for (const auto& [pre, post] : Decorations()) {
      auto ev = ParseGpuLogLine(pre + c.line + post);
      ASSERT_TRUE(ev.has_value());
      ASSERT_TRUE(std::holds_alternative<ResetEvent>(*ev));
      ExpectReset(std::get<ResetEvent>(*ev), c.want);
    }
  }
}

TEST(GpuLogParser, NoiseIsIgnored) {
  for (const auto& line : NoiseLines()) {
    SCOPED_TRACE(line);
    EXPECT_FALSE(ParseGpuLogLine(line).has_value());
    EXPECT_FALSE(ParseGpuLogLine("[  100.000000] " + line + "\n").has_value());
  }
}

TEST(GpuLogParser, PrefilterNeverHidesAnEvent) {
  std::vector<std::string> all;
  for (const auto& c : XidCases()) all.push_back(c.line);
  for (const auto& c : SxidCases()) all.push_back(c.line);
  for (const auto& c : ResetCases()) all.push_back(c.line);
  for (const auto& line : all) {
    SCOPED_TRACE(line);
    EXPECT_TRUE(MayBeGpuLogLine(line));
    EXPECT_TRUE(MayBeGpuLogLine("<3>[   1.000000] " + line + "\n"));
  }
  for (const auto& line : NoiseLines()) {
    if (!MayBeGpuLogLine(line)) {
      EXPECT_FALSE(ParseGpuLogLine(line).has_value()) << line;
    }
  }
  EXPECT_FALSE(MayBeGpuLogLine("EXT4-fs (dm-0): mounted filesystem"));
  EXPECT_FALSE(MayBeGpuLogLine(""));
}

// Cutting a valid line at any length gives nothing or an event of the same kind whose key
// fields are those of the whole line: a cut never invents a different code, bus or device.
TEST(GpuLogParser, TruncatedLinesAreRejectedOrConsistent) {
  for (const auto& c : XidCases()) {
    for (size_t n = 0; n <= c.line.size(); ++n) {
      std::string cut = c.line.substr(0, n);
      auto ev = ParseGpuLogLine(cut);
      if (!ev) continue;
      SCOPED_TRACE(cut);
      ASSERT_TRUE(std::holds_alternative<XidEvent>(*ev));
      const auto& x = std::get<XidEvent>(*ev);
      EXPECT_EQ(x.code, c.want.code);
      EXPECT_EQ(x.pci_bus_id, c.want.pci_bus_id);
      EXPECT_EQ(x.gpu_instance, c.want.gpu_instance);
      EXPECT_EQ(x.compute_instance, c.want.compute_instance);
      if (x.pid) {
        EXPECT_EQ(x.pid, c.want.pid);
      }
      if (x.process_name) {
        EXPECT_EQ(x.process_name, c.want.process_name);
      }
    }
  }
  for (const auto& c : SxidCases()) {
    for (size_t n = 0; n <= c.line.size(); ++n) {
      std::string cut = c.line.substr(0, n);
      auto ev = ParseGpuLogLine(cut);
      if (!ev) continue;
      SCOPED_TRACE(cut);
      ASSERT_TRUE(std::holds_alternative<SxidEvent>(*ev));
      const auto& x = std::get<SxidEvent>(*ev);
      EXPECT_EQ(x.code, c.want.code);
      EXPECT_EQ(x.device, c.want.device);
      EXPECT_EQ(x.pci_bus_id, c.want.pci_bus_id);
      EXPECT_FALSE(x.message.empty());
    }
  }
  for (const auto& c : ResetCases()) {
    for (size_t n = 0; n <= c.line.size(); ++n) {
      std::string cut = c.line.substr(0, n);
      auto ev = ParseGpuLogLine(cut);
      if (!ev) continue;
      SCOPED_TRACE(cut);
      ASSERT_TRUE(std::holds_alternative<ResetEvent>(*ev));
      const auto& x = std::get<ResetEvent>(*ev);
      EXPECT_EQ(x.driver, c.want.driver);
      EXPECT_EQ(x.device, c.want.device);
      EXPECT_EQ(ResetKindName(x.kind), ResetKindName(c.want.kind));
    }
  }
}

TEST(GpuLogParser, FullLinesNeedTheirKeyFields) {
  // Cut right after the code or inside the process fields: no record.
  EXPECT_FALSE(ParseGpuLogLine("NVRM: Xid (PCI:0000:3b:00): 7").has_value());
  EXPECT_FALSE(ParseGpuLogLine("NVRM: Xid (PCI:0000:3b:00): 79").has_value());
  EXPECT_FALSE(ParseGpuLogLine("NVRM: Xid (PCI:0000:3b:00): 79, pid=12").has_value());
  EXPECT_FALSE(ParseGpuLogLine("NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=pyth").has_value());
  EXPECT_FALSE(ParseGpuLogLine("NVRM: Xid (PCI:0000:3b:00 GPU-I:0").has_value());
  EXPECT_FALSE(ParseGpuLogLine("nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 1202").has_value());
  EXPECT_FALSE(ParseGpuLogLine("amdgpu 0000:03:00.0: amdgpu: GPU reset(2) succ").has_value());
}

TEST(GpuLogParser, NulTerminatedBuffer) {
  std::string buf = "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.\n";
  buf.push_back('\0');
  buf.append("garbage after the terminator");
  auto ev = ParseGpuLogLine(buf);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(std::get<XidEvent>(*ev).message, "GPU has fallen off the bus.");
}

TEST(GpuLogParser, CausedByOnlyAtTheEnd) {
  auto ev = ParseGpuLogLine(
      "NVRM: Xid (PCI:0000:3b:00): 45, caused by previous Xid 13 and something else");
  ASSERT_TRUE(ev.has_value());
  const auto& x = std::get<XidEvent>(*ev);
  EXPECT_EQ(x.caused_by, std::nullopt);
  EXPECT_EQ(x.message, "caused by previous Xid 13 and something else");
}

TEST(GpuLogParser, ResetKindNames) {
  EXPECT_EQ(ResetKindName(ResetKind::kRingTimeout), "ring_timeout");
  EXPECT_EQ(ResetKindName(ResetKind::kResetSucceeded), "reset_succeeded");
  EXPECT_EQ(ResetKindName(ResetKind::kResetFailed), "reset_failed");
  EXPECT_EQ(ResetKindName(ResetKind::kPageFault), "page_fault");
  EXPECT_EQ(ResetKindName(ResetKind::kGpuHang), "gpu_hang");
  EXPECT_EQ(ResetKindName(ResetKind::kJobTimeout), "job_timeout");
  EXPECT_EQ(ResetKindName(ResetKind::kFallenOffBus), "fallen_off_bus");
}

TEST(GpuLogParser, NormalizePciBusId) {
  struct Row {
    const char* in;
    bool keep_function;
    std::optional<std::string> want;
  };
  const Row rows[] = {
      {"0000:3b:00", false, "0000:3b:00"},
      {"0000:3B:00.0", false, "0000:3b:00"},
      {"0000:3B:00.0", true, "0000:3b:00.0"},
      {"PCI:0000:3b:00", false, "0000:3b:00"},
      {"00000000:3B:00.0", false, "0000:3b:00"},  // nvidia-smi's eight-digit domain
      {"10000:01:00.0", true, "10000:01:00.0"},   // Intel VMD domains have five digits
      {" 0000:85:00.0\n", true, "0000:85:00.0"},
      {"3b:00.0", false, std::nullopt},
      {"0000:3b:00.0 extra", false, std::nullopt},
      {"0000:3g:00", false, std::nullopt},
      {"", false, std::nullopt},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.in);
    EXPECT_EQ(NormalizePciBusId(r.in, r.keep_function), r.want);
  }
}

// A dmesg capture with GPU events among ordinary lines; the file's "#expect" lines give the
// counts per event type.
TEST(GpuLogParser, RecordedKernelLog) {
  std::filesystem::path path = GpuDataDir() / "gpu_kmsg_mixed.txt";
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << path;
  std::map<std::string, int> want;
  std::map<std::string, int> got;
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    if (line.starts_with("#expect ")) {
      std::string rest = line.substr(8);
      size_t sp = rest.find(' ');
      want[rest.substr(0, sp)] = std::stoi(rest.substr(sp + 1));
      continue;
    }
    if (line.starts_with("#")) continue;
    ++lines;
    auto ev = ParseGpuLogLine(line);
    if (!ev) continue;
    if (std::holds_alternative<XidEvent>(*ev)) {
      ++got["xid"];
    } else if (const auto* s = std::get_if<SxidEvent>(&*ev)) {
      ++got[s->detail ? "sxid_detail" : "sxid"];
    } else {
      ++got["reset." + std::string(ResetKindName(std::get<ResetEvent>(*ev).kind))];
    }
  }
  EXPECT_GT(lines, 20);
  EXPECT_EQ(got, want);
}

// ---------------------------------------------------------------------------------------------
// Xid / SXid tables

TEST(XidCodes, DocumentedCodesArePresent) {
  const int required[] = {13, 31, 43, 45, 48, 61, 62, 63, 64, 74, 79, 92, 94, 95, 119, 120, 154};
  for (int code : required) {
    SCOPED_TRACE(code);
    XidInfo info = LookupXid(code);
    EXPECT_EQ(info.code, code);
    EXPECT_NE(info.name, "unknown");
    EXPECT_FALSE(info.action.empty());
    EXPECT_FALSE(info.cause.empty());
  }
  for (const auto& info : kXidTable) {
    EXPECT_GT(info.code, 0);
    EXPECT_FALSE(info.name.empty());
    EXPECT_LE(info.action.size(), 200u) << info.code;
  }
}

TEST(XidCodes, SeveritiesMatchTheCatalog) {
  static_assert(LookupXid(79).severity == Severity::kCritical);
  static_assert(LookupXid(13).severity == Severity::kWarning);
  static_assert(LookupXid(45).severity == Severity::kInfo);
  static_assert(LookupXid(48).severity == Severity::kCritical);
  static_assert(LookupXid(94).severity == Severity::kError);
  static_assert(LookupXid(95).severity == Severity::kCritical);
  static_assert(LookupXid(63).severity == Severity::kWarning);
  EXPECT_EQ(SeverityName(Severity::kInfo), "info");
  EXPECT_EQ(SeverityName(Severity::kWarning), "warning");
  EXPECT_EQ(SeverityName(Severity::kError), "error");
  EXPECT_EQ(SeverityName(Severity::kCritical), "critical");
}

TEST(XidCodes, UnknownCodes) {
  for (int code : {0, 1, 7, 155, 999, 9999, -1}) {
    XidInfo info = LookupXid(code);
    EXPECT_EQ(info.code, code);
    EXPECT_EQ(info.name, "unknown");
    EXPECT_EQ(info.severity, Severity::kWarning);
    EXPECT_FALSE(info.action.empty());
  }
}

TEST(XidCodes, RecoveryAction) {
  EXPECT_EQ(XidRecoveryAction("GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot "
                              "Required)"),
            "Node Reboot Required");
  EXPECT_EQ(XidRecoveryAction("GPU recovery action changed from 0x1 (GPU Reset Required) to 0x0 "
                              "(None)"),
            "None");
  EXPECT_EQ(XidRecoveryAction("GPU has fallen off the bus."), std::nullopt);
  EXPECT_EQ(XidRecoveryAction("GPU recovery action changed from 0x0 (None) to 0x2"), std::nullopt);
  EXPECT_EQ(XidSeverity(154,
                        "GPU recovery action changed from 0x0 (None) to 0x1 (GPU Reset "
                        "Required)"),
            Severity::kCritical);
  EXPECT_EQ(XidSeverity(154,
                        "GPU recovery action changed from 0x1 (GPU Reset Required) to "
                        "0x0 (None)"),
            Severity::kInfo);
  EXPECT_EQ(XidSeverity(13, "anything"), Severity::kWarning);
}

TEST(XidCodes, SxidUnitsAndSeverity) {
  EXPECT_EQ(LookupSxid(12028, false).unit, "NPORT egress");
  EXPECT_EQ(LookupSxid(12028, false).severity, Severity::kWarning);
  EXPECT_EQ(LookupSxid(24007, true).unit, "NPORT sourcetrack");
  EXPECT_EQ(LookupSxid(24007, true).severity, Severity::kCritical);
  EXPECT_EQ(LookupSxid(20009, std::nullopt).unit, "DLPL (link layer)");
  EXPECT_EQ(LookupSxid(20009, std::nullopt).severity, Severity::kWarning);
  EXPECT_EQ(LookupSxid(10006, false).severity, Severity::kCritical);
  EXPECT_EQ(LookupSxid(99999, true).unit, "unknown");
  EXPECT_EQ(LookupSxid(99999, true).severity, Severity::kCritical);
  EXPECT_FALSE(LookupSxid(11004, std::nullopt).action.empty());
}

}  // namespace
}  // namespace ksight::gpu
