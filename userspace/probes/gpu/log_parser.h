// log_parser.h - turns one kernel log record from a GPU driver into a structured event.
//
// The input is the text of one printk record as the printk:console tracepoint gives it: no
// syslog header, no "[   12.345678] " timestamp, possibly a trailing newline. The parser is
// tolerant of leading whitespace, of a "<3>" level prefix, of "[  12.345678]" / "[T1234]"
// timestamp and caller-id blocks and of /dev/kmsg's "3,4471,3023054882,-;" framing, so the same
// code can read dmesg output and recorded logs.
//
// Everything that is not one of the formats below yields std::nullopt: ordinary log noise,
// other NVRM/amdgpu/i915/xe lines, and lines that are cut short before the fields that make the
// record. No exceptions, no regex: hand-written scanning over a std::string_view, O(n) in the
// line length, never reading outside it.
//
// Accepted formats (the source of each is cited next to its parser in log_parser.cc):
//   NVIDIA Xid (open-gpu-kernel-modules src/nvidia/src/kernel/gpu/rc/kernel_rc.c, krcReportXid):
//     NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python3, GPU has fallen off the bus.
//     NVRM: Xid (PCI:0000:3b:00): 48, <msg>                      (no process context)
//     NVRM: Xid (PCI:0000:3b:00): 13, pid='<unknown>', name=<unknown>, <msg>  (some branches)
//     NVRM: Xid (PCI:0000:3b:00 GPU-I:01 GPU-CI:00): 94, pid=..., name=..., <msg>   (MIG)
//     NVRM: Xid (PCI:0000:3b:00 GPU-I:01): 94, ...                (GPU instance only)
//     NVRM: Xid (PCI:0000:3b:00): 45, pid=..., name=..., Ch 00000010 caused by previous Xid 13
//     NVRM: Xid (0000:3b:00): 14, <msg>                          (older drivers: no "PCI:")
//     NVRM: Xid (PCI:0000:10:00): 79, pid=0, GPU has fallen off the bus.  (older: pid, no name)
//   NVSwitch SXid (src/common/nvswitch/kernel/inc/common_nvswitch.h, NVSWITCH_PRINT_SXID):
//     nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 12028, Non-fatal, Link 32 egress ... (First)
//     nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 12028, Severity 0 Engine instance 32 ...  (detail)
//     nvidia-nvswitch0: SXid (PCI:0000:85:00.0): 12028, Data {0x00000004, ...}             (detail)
//   NVIDIA fallen off the bus (src/nvidia/arch/nvalloc/unix/src/osinit.c, osHandleGpuLost, via
//   NV_DEV_PRINTF's "NVRM: GPU %04x:%02x:%02x.%x: " prefix; and the adapter-init check that finds
//   PMC_BOOT_0 == 0xFFFFFFFF, one record with embedded newlines):
//     NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus.
//     NVRM: GPU at 0000:3b:00.0 has fallen off the bus.          (older drivers)
//     NVRM: The NVIDIA GPU 0000:3b:00.0\nNVRM: (PCI ID: 10de:2330) installed in this system has
//         \nNVRM: fallen off the bus and is not responding to commands.
//   amdgpu (drivers/gpu/drm/amd/amdgpu: amdgpu_job.c, amdgpu_device.c, gmc_v9_0.c, gmc_v10_0.c):
//     amdgpu 0000:03:00.0: amdgpu: ring gfx_0.0.0 timeout, signaled seq=1234, emitted seq=1236
//     amdgpu 0000:03:00.0: [drm:amdgpu_job_timedout [amdgpu]] *ERROR* ring gfx timeout, ...
//     [drm:amdgpu_job_timedout [amdgpu]] *ERROR* ring gfx timeout, signaled seq=.., emitted seq=..
//     amdgpu 0000:03:00.0: amdgpu: ring sdma0 timeout, but soft recovered
//     amdgpu 0000:03:00.0: amdgpu: GPU reset(2) succeeded!
//     amdgpu 0000:03:00.0: amdgpu: GPU reset(2) failed        (also "... failed with error -110")
//     amdgpu 0000:03:00.0: amdgpu: [gfxhub0] retry page fault (src_id:0 ring:0 vmid:3 pasid:32769,
//         for process python3 pid 4242 thread python3 pid 4242)
//     amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:3 pasid:32769)
//   i915 (drivers/gpu/drm/i915/i915_gpu_error.c, error_msg + i915_error_state_store):
//     i915 0000:00:02.0: [drm] GPU HANG: ecode 12:1:85dffffb, in Xorg [1234]
//     i915 0000:00:02.0: [drm] GPU HANG: ecode 12:1:85dffffb, rcs0 in Xorg [1234]
//     i915 0000:00:02.0: GPU HANG: ecode 9:1:85dffffb                     (5.x: dev_info)
//     [drm] GPU HANG: ecode 9:0:0x85dffffb, in Xorg [1234], reason: hang on rcs0, action: reset
//   xe (drivers/gpu/drm/xe: xe_guc_submit.c, xe_gt.c; lines come through xe_gt_printk "GT%u: "):
//     xe 0000:03:00.0: [drm] GT0: Timedout job: seqno=4294967169, lrc_seqno=4294967169,
//         guc_id=2, flags=0x0 in python3 [4242]    (older: no lrc_seqno, no process part)
//     xe 0000:03:00.0: [drm] GT0: Engine reset: engine_class=ccs, logical_mask: 0x1, guc_id=2
//     xe 0000:03:00.0: [drm] GT0: reset done
//     xe 0000:03:00.0: [drm] *ERROR* GT0: reset failed (-ETIMEDOUT)
//     xe 0000:03:00.0: [drm] Tile0: GT0: ...                     (accepted if a tile is named)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace ksight::gpu {

// An NVIDIA Xid from an "NVRM: Xid (...)" line.
struct XidEvent {
  std::string pci_bus_id;                   // "0000:3b:00": domain:bus:device, lowercase hex
  std::optional<int> gpu_instance;          // MIG "GPU-I:01"
  std::optional<int> compute_instance;      // MIG "GPU-CI:00"
  int code = 0;                             // 1..9999
  std::optional<uint32_t> pid;              // absent for "pid='<unknown>'" and lines without one
  std::optional<std::string> process_name;  // absent for "name=<unknown>" and lines without one
  std::string message;                      // the driver's text, without the caused-by suffix
  std::optional<int> caused_by;             // " caused by previous Xid 13" -> 13
};

// An NVSwitch SXid from an "nvidia-nvswitchN: SXid (...)" line.
struct SxidEvent {
  std::string device;         // "nvidia-nvswitch0"
  std::string pci_bus_id;     // "0000:85:00.0" (the switch prints the function)
  int code = 0;               // five digits, 10000..99999
  std::string message;        // "Non-fatal, Link 32 egress non-posted PRIV error (First)"
  std::optional<bool> fatal;  // from a leading "Fatal," / "Non-fatal,"
  std::optional<int> link;    // from "Link 32"
  // True for the "Severity ..." and "Data {...}" lines the driver prints after the first line of
  // the same error: they describe the SXid already reported and must not be counted again.
  bool detail = false;
};

enum class ResetKind : uint8_t {
  kRingTimeout,
  kResetSucceeded,
  kResetFailed,
  kPageFault,
  kGpuHang,
  kJobTimeout,
  kFallenOffBus,
};

// "ring_timeout", "reset_succeeded", "reset_failed", "page_fault", "gpu_hang", "job_timeout",
// "fallen_off_bus".
std::string_view ResetKindName(ResetKind kind);

// A hang, timeout, reset or bus loss from any GPU driver.
struct ResetEvent {
  std::string driver;  // "amdgpu", "i915", "xe" or "nvidia"
  ResetKind kind = ResetKind::kGpuHang;
  std::string device;                    // PCI device name as printed ("0000:03:00.0"), or ""
  std::string ring;                      // amdgpu ring, i915 engine, xe engine class, or ""
  std::optional<uint64_t> signaled_seq;  // amdgpu ring timeout
  std::optional<uint64_t> emitted_seq;   // amdgpu ring timeout
  std::optional<uint64_t> seqno;         // xe timed-out job seqno
  std::optional<int> reset_count;        // amdgpu "GPU reset(2)"
  std::optional<int> gt;                 // xe "GT0"
  std::string hub;                       // amdgpu page fault hub: "gfxhub0", "mmhub0", ...
  std::optional<uint32_t> pasid;         // amdgpu page fault
  std::optional<uint32_t> pid;           // the process the driver blamed, when it names one
  std::optional<std::string> process_name;
  std::string message;  // the line after the device prefix, trimmed
};

using GpuLogEvent = std::variant<XidEvent, SxidEvent, ResetEvent>;

// Parses one kernel log line. std::nullopt for anything that is not an accepted format.
std::optional<GpuLogEvent> ParseGpuLogLine(std::string_view line);

// Normalizes a PCI address the way the events carry it: lowercase hex, the domain padded to four
// digits, and the function kept only when keep_function is set (Xids name the GPU by
// domain:bus:device, so "0000:3B:00.0" -> "0000:3b:00"). Accepts an optional "PCI:" prefix.
// std::nullopt when the text is not a PCI address. Use it on the nvidia_dev_xid tracepoint's
// `dev` field so both Xid sources name a GPU the same way.
std::optional<std::string> NormalizePciBusId(std::string_view text, bool keep_function);

// Cheap pre-filter: true when the line could be one of the accepted formats (same prefix rules
// as the parser). Lines for which it is false always parse to std::nullopt.
bool MayBeGpuLogLine(std::string_view line);

}  // namespace ksight::gpu
