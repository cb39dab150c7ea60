// xid_codes.h - what an NVIDIA Xid or NVSwitch SXid code means and what an SRE does about it.
//
// Xid names and actions follow NVIDIA's published catalog ("Xid Errors" and "Analyzing Xid
// Errors with the Xid Catalog", docs.nvidia.com/deploy/xid-errors) and the A100/H100 memory error
// management guide (docs.nvidia.com/deploy/a100-gpu-mem-error-mgmt). The severity is ours, for
// alert routing:
//   info      nothing to do by itself (a consequence of something else)
//   warning   an application fault or a condition to watch; the GPU is healthy
//   error     the workload died or the GPU needs a reset soon; fix at the next window
//   critical  the GPU (or node) is unusable or failing: drain, reset/reboot, maybe RMA
// The table is constexpr so tests (and callers) can check it at compile time.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ksight::gpu {

enum class Severity : uint8_t { kInfo, kWarning, kError, kCritical };

// "info", "warning", "error", "critical".
constexpr std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kError:
      return "error";
    case Severity::kCritical:
      return "critical";
  }
  return "warning";
}

struct XidInfo {
  int code;
  std::string_view name;  // short description, as in NVIDIA's catalog
  Severity severity;
  std::string_view cause;   // "application", "driver", "firmware", "memory", "nvlink", "bus"
  std::string_view action;  // one line for the SRE on call
};

// Sorted by code (checked below).
inline constexpr std::array kXidTable = {
    XidInfo{8, "GPU stopped processing", Severity::kError, "driver",
            "restart the application; reset the GPU if it recurs"},
    XidInfo{13, "Graphics engine exception", Severity::kWarning, "application",
            "restart the application and debug it (compute-sanitizer); suspect hardware only if "
            "it follows other Xids on this GPU"},
    XidInfo{31, "GPU memory page fault", Severity::kWarning, "application",
            "restart the application: an illegal memory access in the application (or a driver "
            "bug), not a hardware fault"},
    XidInfo{32, "Invalid or corrupted push buffer stream", Severity::kError, "driver",
            "restart the application; if it recurs check PCIe and system memory, update the "
            "driver"},
    XidInfo{38, "Driver firmware error", Severity::kError, "driver",
            "reset the GPU; update the driver if it recurs"},
    XidInfo{43, "GPU stopped processing (reset channel verification error)", Severity::kWarning,
            "application", "restart the application; the GPU stays healthy"},
    XidInfo{45, "Preemptive cleanup, due to previous errors", Severity::kInfo, "application",
            "none by itself: the driver killed the channels (application exit or an earlier "
            "Xid); act on the earlier Xid"},
    XidInfo{48, "Double bit ECC error", Severity::kCritical, "memory",
            "drain the GPU and reset it to retire or remap the page; RMA if double bit errors "
            "recur"},
    XidInfo{61, "Internal micro-controller breakpoint/warning", Severity::kError, "firmware",
            "reset the GPU; contact NVIDIA support if it recurs"},
    XidInfo{62, "Internal micro-controller halt", Severity::kCritical, "firmware",
            "drain and reset the GPU; RMA if it recurs"},
    XidInfo{63, "ECC page retirement or row remapping recording event", Severity::kWarning,
            "memory", "reset the GPU at the next maintenance window to apply the retirement/remap"},
    XidInfo{64, "ECC page retirement or row remapper recording failure", Severity::kCritical,
            "memory", "drain the node and reset the GPU; RMA if the remap keeps failing"},
    XidInfo{69, "Graphics engine class error", Severity::kError, "application",
            "restart the application; reset the GPU if it recurs"},
    XidInfo{74, "NVLink error", Severity::kCritical, "nvlink",
            "drain the node, reset the GPU and check the NVLink/NVSwitch links; RMA if it "
            "recurs"},
    XidInfo{79, "GPU has fallen off the bus", Severity::kCritical, "bus",
            "drain the node; check power, thermals and PCIe seating; reboot; RMA if it recurs"},
    XidInfo{92, "High single-bit ECC error rate", Severity::kWarning, "memory",
            "watch the corrected-error rate; reset the GPU at a maintenance window; RMA if it "
            "persists"},
    XidInfo{94, "Contained ECC error", Severity::kError, "memory",
            "restart the affected application; reset the GPU at the next maintenance window to "
            "remap the row"},
    XidInfo{95, "Uncontained ECC error", Severity::kCritical, "memory",
            "drain and reset the GPU (every application on it was hit); RMA if it recurs"},
    XidInfo{109, "Context switch timeout", Severity::kError, "driver",
            "restart the application; reset the GPU if it recurs"},
    XidInfo{119, "GSP RPC timeout", Severity::kCritical, "firmware",
            "drain and reset the GPU (reboot if the reset fails); update the driver; contact "
            "support if it recurs"},
    XidInfo{120, "GSP error", Severity::kCritical, "firmware",
            "drain and reset the GPU (reboot if the reset fails); update the driver; contact "
            "support if it recurs"},
    XidInfo{121, "C2C link error", Severity::kError, "bus",
            "reset the GPU; contact support if the chip-to-chip link keeps failing"},
    XidInfo{140, "Unrecovered ECC error", Severity::kCritical, "memory",
            "drain and reset the GPU; RMA if it recurs"},
    XidInfo{144, "NVLink error", Severity::kError, "nvlink",
            "check the link named in the message; follow the Xid 154 recovery action that comes "
            "with a fatal link error"},
    XidInfo{145, "NVLink error", Severity::kError, "nvlink",
            "check the link named in the message; follow the Xid 154 recovery action that comes "
            "with a fatal link error"},
    XidInfo{146, "NVLink error", Severity::kError, "nvlink",
            "check the link named in the message; follow the Xid 154 recovery action that comes "
            "with a fatal link error"},
    XidInfo{147, "NVLink error", Severity::kError, "nvlink",
            "check the link named in the message; follow the Xid 154 recovery action that comes "
            "with a fatal link error"},
    XidInfo{148, "NVLink error", Severity::kError, "nvlink",
            "check the link named in the message; follow the Xid 154 recovery action that comes "
            "with a fatal link error"},
    XidInfo{149, "NVLink error", Severity::kError, "nvlink",
            "check the link named in the message; follow the Xid 154 recovery action that comes "
            "with a fatal link error"},
    XidInfo{150, "NVLink error", Severity::kError, "nvlink",
            "check the link named in the message; follow the Xid 154 recovery action that comes "
            "with a fatal link error"},
    XidInfo{154, "GPU recovery action changed", Severity::kCritical, "driver",
            "do the recovery action the message names (GPU reset, node reboot, drain P2P)"},
};

inline constexpr XidInfo kUnknownXid{
    0, "unknown", Severity::kWarning, "unknown",
    "look the code up in NVIDIA's Xid catalog (docs.nvidia.com/deploy/xid-errors)"};

constexpr bool XidTableSorted() {
  for (size_t i = 1; i < kXidTable.size(); ++i) {
    if (kXidTable[i - 1].code >= kXidTable[i].code) return false;
  }
  return true;
}
static_assert(XidTableSorted(), "kXidTable must be sorted by code, without duplicates");

// The table entry for code, or kUnknownXid (with the code filled in) for any other code.
constexpr XidInfo LookupXid(int code) {
  size_t lo = 0;
  size_t hi = kXidTable.size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (kXidTable[mid].code < code) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < kXidTable.size() && kXidTable[lo].code == code) return kXidTable[lo];
  XidInfo unknown = kUnknownXid;
  unknown.code = code;
  return unknown;
}

// Xid 154 states the recovery the driver now requires: "GPU recovery action changed from 0x0
// (None) to 0x2 (Node Reboot Required)". Returns the text of the new action ("Node Reboot
// Required"), or nullopt when the message does not have that shape.
std::optional<std::string_view> XidRecoveryAction(std::string_view message);

// The severity of one Xid event: the table's, except that an Xid 154 whose new recovery action
// is "None" is info (the GPU needs nothing any more).
Severity XidSeverity(int code, std::string_view message);

// NVSwitch SXid codes are grouped by the switch unit that raised them, one thousand per unit
// (NVSWITCH_ERR_TYPE in src/common/nvswitch/interface/ctrl_dev_nvswitch.h: 10000 host,
// 11000 NPORT ingress, 12000 NPORT egress, ..., 20000 DLPL, 22000 MINION, 24000 sourcetrack ...).
struct SxidInfo {
  int code;
  std::string_view unit;  // "NPORT egress", "DLPL (link layer)", ... or "unknown"
  Severity severity;
  std::string_view action;
};

// fatal is the "Fatal," / "Non-fatal," word of the SXid line, when it had one.
SxidInfo LookupSxid(int code, std::optional<bool> fatal);

}  // namespace ksight::gpu
