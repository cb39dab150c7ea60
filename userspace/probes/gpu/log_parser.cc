// log_parser.cc - hand-written scanners for the GPU driver log formats listed in log_parser.h.
//
// Every scanner works on a std::string_view that it shrinks from the front as it matches; a
// failed match returns std::nullopt and the caller moves on. Nothing here indexes past size().
#include "probes/gpu/log_parser.h"

#include <cstddef>

namespace ksight::gpu {
namespace {

constexpr size_t kMaxNameLen = 64;  // a ring, hub, engine or switch name longer than this is junk
constexpr size_t kMaxPciDomainDigits = 8;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
char ToLowerHex(char c) { return (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view TrimLeft(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsSpace(s[i])) ++i;
  return s.substr(i);
}

std::string_view TrimRight(std::string_view s) {
  size_t n = s.size();
  while (n > 0 && IsSpace(s[n - 1])) --n;
  return s.substr(0, n);
}

// Consumes lit when s starts with it.
bool Eat(std::string_view& s, std::string_view lit) {
  if (!s.starts_with(lit)) return false;
  s.remove_prefix(lit.size());
  return true;
}

// Consumes 1..max_digits decimal digits (max_digits <= 19, so no overflow). Fails, consuming
// nothing, when there is no digit or when more than max_digits digits follow.
std::optional<uint64_t> EatUint(std::string_view& s, size_t max_digits) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < s.size() && IsDigit(s[i])) {
    if (i == max_digits) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
    ++i;
  }
  if (i == 0) return std::nullopt;
  s.remove_prefix(i);
  return v;
}

std::optional<uint32_t> EatU32(std::string_view& s) {
  std::string_view probe = s;
  auto v = EatUint(probe, 10);
  if (!v || *v > UINT32_MAX) return std::nullopt;
  s = probe;
  return static_cast<uint32_t>(*v);
}

std::optional<int> EatSmallInt(std::string_view& s, size_t max_digits) {
  auto v = EatUint(s, max_digits);
  if (!v) return std::nullopt;
  return static_cast<int>(*v);
}

// Consumes a token of name characters ([A-Za-z0-9_.-]), 1..kMaxNameLen long.
std::optional<std::string_view> EatName(std::string_view& s) {
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    bool ok = IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              c == '-' || c == '.';
    if (!ok) break;
    ++i;
  }
  if (i == 0 || i > kMaxNameLen) return std::nullopt;
  std::string_view name = s.substr(0, i);
  s.remove_prefix(i);
  return name;
}

// Consumes a PCI address "dddd:bb:dd[.f]" (an optional "PCI:" is the caller's business) and
// returns it normalized: lowercase, domain at least four digits without extra leading zeros.
// The function is kept only when keep_function; require_function rejects an address without one.
std::optional<std::string> EatPci(std::string_view& s, bool keep_function, bool require_function) {
  std::string_view p = s;
  size_t nd = 0;
  while (nd < p.size() && IsHex(p[nd])) ++nd;
  if (nd < 4 || nd > kMaxPciDomainDigits) return std::nullopt;
  std::string_view domain = p.substr(0, nd);
  p.remove_prefix(nd);
  if (!Eat(p, ":")) return std::nullopt;
  if (p.size() < 2 || !IsHex(p[0]) || !IsHex(p[1])) return std::nullopt;
  std::string_view bus = p.substr(0, 2);
  p.remove_prefix(2);
  if (!Eat(p, ":")) return std::nullopt;
  if (p.size() < 2 || !IsHex(p[0]) || !IsHex(p[1])) return std::nullopt;
  std::string_view dev = p.substr(0, 2);
  p.remove_prefix(2);
  // A third hex digit would make this something else (e.g. a longer id): reject.
  if (!p.empty() && IsHex(p[0])) return std::nullopt;
  std::optional<char> fn;
  if (p.size() >= 2 && p[0] == '.' && IsHex(p[1]) && (p.size() == 2 || !IsHex(p[2]))) {
    fn = p[1];
    p.remove_prefix(2);
  }
  if (require_function && !fn) return std::nullopt;

  while (domain.size() > 4 && domain[0] == '0') domain.remove_prefix(1);
  std::string out;
  out.reserve(domain.size() + 9);
  for (char c : domain) out.push_back(ToLowerHex(c));
  out.push_back(':');
  for (char c : bus) out.push_back(ToLowerHex(c));
  out.push_back(':');
  for (char c : dev) out.push_back(ToLowerHex(c));
  if (fn && keep_function) {
    out.push_back('.');
    out.push_back(ToLowerHex(*fn));
  }
  s = p;
  return out;
}

// Removes what may precede the message text: leading whitespace, /dev/kmsg framing
// ("6,1234,5678901,-;"), a "<3>" level, "[   12.345678]" timestamps and "[T1234]" caller ids.
std::string_view StripLogPrefixes(std::string_view s) {
  s = TrimLeft(s);
  // /dev/kmsg: "<level>,<seq>,<usec>,<flags>[,more];text"
  {
    std::string_view p = s;
    if (EatUint(p, 19) && Eat(p, ",") && EatUint(p, 19) && Eat(p, ",") && EatUint(p, 19) &&
        Eat(p, ",")) {
      size_t semi = p.substr(0, 64).find(';');
      if (semi != std::string_view::npos) s = p.substr(semi + 1);
    }
  }
  // "<3>"
  if (s.size() >= 3 && s[0] == '<') {
    std::string_view p = s.substr(1);
    if (EatUint(p, 4) && Eat(p, ">")) s = p;
  }
  // "[   12.345678]", "[T1234]", "[ C2]": brackets holding only digits, dots, spaces, T and C.
  for (int i = 0; i < 3 && !s.empty() && s[0] == '['; ++i) {
    size_t close = s.substr(0, 40).find(']');
    if (close == std::string_view::npos || close < 2) break;
    bool stamp = true;
    bool any_digit = false;
    for (char c : s.substr(1, close - 1)) {
      if (IsDigit(c)) {
        any_digit = true;
      } else if (c != '.' && c != ' ' && c != 'T' && c != 'C') {
        stamp = false;
        break;
      }
    }
    if (!stamp || !any_digit) break;
    s = TrimLeft(s.substr(close + 1));
  }
  return s;
}

// Consumes a "[drm]" or "[drm:func [module]]" tag (brackets may nest) and the blanks after it.
// Returns the tag's text, or nullopt (consuming nothing) when s does not start with one.
std::optional<std::string_view> EatDrmTag(std::string_view& s) {
  if (!s.starts_with("[drm:") && !s.starts_with("[drm]")) return std::nullopt;
  int depth = 0;
  size_t limit = s.size() < 160 ? s.size() : 160;
  for (size_t i = 0; i < limit; ++i) {
    if (s[i] == '[') {
      ++depth;
    } else if (s[i] == ']') {
      if (--depth == 0) {
        std::string_view tag = s.substr(0, i + 1);
        s = TrimLeft(s.substr(i + 1));
        return tag;
      }
    }
  }
  return std::nullopt;
}

// "*ERROR* " and friends that drm_err and DRM_ERROR put before the text.
void EatDrmLevel(std::string_view& s) {
  if (Eat(s, "*ERROR*")) s = TrimLeft(s);
}

// Consumes "<driver> <pci>: " (the dev_printk prefix) and returns the device name.
std::optional<std::string> EatDevPrefix(std::string_view& s, std::string_view driver) {
  std::string_view p = s;
  if (!Eat(p, driver) || !Eat(p, " ")) return std::nullopt;
  auto pci = EatPci(p, /*keep_function=*/true, /*require_function=*/true);
  if (!pci || !Eat(p, ":")) return std::nullopt;
  s = TrimLeft(p);
  return pci;
}

// A value that newer NVIDIA drivers print when they know no process: '<unknown>' or <unknown>.
bool IsUnknownValue(std::string_view v) {
  return v.empty() || v == "<unknown>" || v == "'<unknown>'" || v == "\"<unknown>\"";
}

// Splits "... in <comm> [<pid>]" at the end of text (i915 GPU HANG, xe Timedout job).
// text must end with the bracket; comm may contain spaces.
void ParseTrailingProcess(std::string_view text, std::optional<std::string>* comm,
                          std::optional<uint32_t>* pid) {
  text = TrimRight(text);
  if (text.empty() || text.back() != ']') return;
  size_t open = text.rfind('[');
  if (open == std::string_view::npos || open == 0) return;
  std::string_view num = text.substr(open + 1, text.size() - open - 2);
  std::string_view name = TrimRight(text.substr(0, open));
  // The pid may be -1 (xe prints "[-1]" for a kernel queue): then there is no process.
  std::string_view digits = num;
  auto v = EatU32(digits);
  if (v && digits.empty() && *v != 0) *pid = *v;
  if (!name.empty() && name != "no process" && name != "<unknown>") *comm = std::string(name);
}

// ---------------------------------------------------------------------------------------------
// NVIDIA

// "NVRM: Xid (" has been consumed. Format (kernel_rc.c, krcReportXid_IMPL):
//   "NVRM: Xid (" attr "): %d, pid=%s, name=%s, %s%s\n"   when the channel's process is known
//   "NVRM: Xid (" attr "): %d, %s%s\n"                    otherwise
// attr is "PCI:%04x:%02x:%02x", optionally followed by " GPU-I:%02u" and " GPU-CI:%02u" (MIG);
// the last %s is "" or " caused by previous Xid %d". Older drivers printed "(%04x:%02x:%02x)"
// without "PCI:" and "pid=%d, " without a name; some branches print "pid='<unknown>',
// name=<unknown>" when no process is known, which counts as no process.
std::optional<GpuLogEvent> ParseXid(std::string_view s) {
  XidEvent ev;
  Eat(s, "PCI:");
  auto pci = EatPci(s, /*keep_function=*/false, /*require_function=*/false);
  if (!pci) return std::nullopt;
  ev.pci_bus_id = std::move(*pci);
  if (Eat(s, " GPU-I:")) {
    ev.gpu_instance = EatSmallInt(s, 5);
    if (!ev.gpu_instance) return std::nullopt;
    if (Eat(s, " GPU-CI:")) {
      ev.compute_instance = EatSmallInt(s, 5);
      if (!ev.compute_instance) return std::nullopt;
    }
  }
  if (!Eat(s, "): ")) return std::nullopt;
  auto code = EatSmallInt(s, 4);
  if (!code || *code == 0) return std::nullopt;
  ev.code = *code;
  // The driver always prints ", " after the code; without it the line was cut inside the code.
  if (!Eat(s, ",")) return std::nullopt;
  Eat(s, " ");

  if (Eat(s, "pid=")) {
    size_t comma = s.find(',');
    if (comma == std::string_view::npos) return std::nullopt;  // cut inside the field
    std::string_view value = s.substr(0, comma);
    s.remove_prefix(comma + 1);
    Eat(s, " ");
    if (!IsUnknownValue(value)) {
      if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
        value = value.substr(1, value.size() - 2);
      }
      auto pid = EatU32(value);
      if (!pid || !value.empty()) return std::nullopt;
      if (*pid != 0) ev.pid = *pid;  // old drivers print pid=0 when no process is involved
    }
    if (Eat(s, "name=")) {
      comma = s.find(',');
      if (comma == std::string_view::npos) return std::nullopt;
      std::string_view name = s.substr(0, comma);
      s.remove_prefix(comma + 1);
      Eat(s, " ");
      if (name.size() >= 2 && name.front() == '\'' && name.back() == '\'' &&
          !IsUnknownValue(name)) {
        name = name.substr(1, name.size() - 2);
      }
      if (!IsUnknownValue(name)) ev.process_name = std::string(name);
    }
  }

  // " caused by previous Xid %d" ends the line when present.
  constexpr std::string_view kCausedBy = "caused by previous Xid ";
  size_t at = s.rfind(kCausedBy);
  if (at != std::string_view::npos && (at == 0 || s[at - 1] == ' ')) {
    std::string_view tail = s.substr(at + kCausedBy.size());
    auto prev = EatSmallInt(tail, 4);
    if (prev && tail.empty()) {
      ev.caused_by = *prev;
      s = TrimRight(s.substr(0, at));
    }
  }
  ev.message = std::string(s);
  return ev;
}

ResetEvent NvidiaFallenOffBus(std::string device, std::string_view message) {
  ResetEvent ev;
  ev.driver = "nvidia";
  ev.kind = ResetKind::kFallenOffBus;
  ev.device = std::move(device);
  // A multi-line record ("...has\nNVRM: fallen off the bus...") reads as one sentence.
  ev.message.reserve(message.size());
  while (!message.empty()) {
    size_t nl = message.find('\n');
    ev.message.append(TrimRight(message.substr(0, nl)));
    if (nl == std::string_view::npos) break;
    message = TrimLeft(message.substr(nl + 1));
    Eat(message, "NVRM: ");
    if (!message.empty()) ev.message.push_back(' ');
  }
  return ev;
}

// "NVRM: " has been consumed.
std::optional<GpuLogEvent> ParseNvrm(std::string_view s) {
  const std::string_view text = s;
  if (Eat(s, "Xid (")) return ParseXid(s);
  // osinit.c, osHandleGpuLost: NV_DEV_PRINTF(NV_DBG_ERRORS, nv, "GPU has fallen off the bus.\n")
  // with NV_DEV_PRINTF's prefix "NVRM: GPU " NV_PCI_DEV_FMT ": ".
  if (Eat(s, "GPU at ")) {
    // Older drivers: "NVRM: GPU at %04x:%02x:%02x.%x has fallen off the bus."
    auto pci = EatPci(s, /*keep_function=*/true, /*require_function=*/false);
    if (!pci || !s.starts_with(" has fallen off the bus")) return std::nullopt;
    return NvidiaFallenOffBus(std::move(*pci), text);
  }
  if (Eat(s, "GPU ")) {
    auto pci = EatPci(s, /*keep_function=*/true, /*require_function=*/false);
    if (!pci || !Eat(s, ": ") || !s.starts_with("GPU has fallen off the bus")) {
      return std::nullopt;
    }
    return NvidiaFallenOffBus(std::move(*pci), s);
  }
  // Adapter init, when the GPU's registers read all ones: one nv_printf of
  //   "NVRM: The NVIDIA GPU %04x:%02x:%02x.%x\n"
  //   "NVRM: (PCI ID: %04x:%04x) installed in this system has\n"
  //   "NVRM: fallen off the bus and is not responding to commands.\n"
  // i.e. one record with embedded newlines. Should a reader split it into lines, the first line
  // alone does not say "fallen off the bus" and is not reported.
  if (Eat(s, "The NVIDIA GPU ")) {
    auto pci = EatPci(s, /*keep_function=*/true, /*require_function=*/false);
    if (!pci || s.find("fallen off the bus") == std::string_view::npos) return std::nullopt;
    return NvidiaFallenOffBus(std::move(*pci), text);
  }
  return std::nullopt;
}

// "nvidia-" has been consumed. NVSWITCH_PRINT_SXID:
//   "nvidia-%s: SXid (PCI:" NVLINK_PCI_DEV_FMT "): %05d, " fmt     (NVLINK_PCI_DEV_FMT has .%x)
// with fmt "Non-fatal, Link %02d %s%s" / "Fatal, Link %02d %s%s" for the first line and
// "Severity %d Engine instance %02d Sub-engine instance %02d" / "Data {0x%08x, ...}" for the
// detail lines (_nvswitch_dump_error_entry).
std::optional<GpuLogEvent> ParseSxid(std::string_view s) {
  SxidEvent ev;
  auto name = EatName(s);
  if (!name || !Eat(s, ": SXid (")) return std::nullopt;
  ev.device = "nvidia-" + std::string(*name);
  Eat(s, "PCI:");
  auto pci = EatPci(s, /*keep_function=*/true, /*require_function=*/false);
  if (!pci || !Eat(s, "): ")) return std::nullopt;
  ev.pci_bus_id = std::move(*pci);
  std::string_view digits = s;
  auto code = EatUint(s, 5);
  if (!code || digits.size() - s.size() != 5 || *code < 10000) return std::nullopt;
  ev.code = static_cast<int>(*code);
  if (!Eat(s, ",")) return std::nullopt;
  s = TrimLeft(s);
  if (s.empty()) return std::nullopt;  // the driver always prints a text; this line was cut
  ev.message = std::string(s);
  std::string_view m = s;
  if (Eat(m, "Fatal,")) {
    ev.fatal = true;
  } else if (Eat(m, "Non-fatal,")) {
    ev.fatal = false;
  }
  if (ev.fatal) {
    m = TrimLeft(m);
    if (Eat(m, "Link ")) ev.link = EatSmallInt(m, 4);
  }
  ev.detail = s.starts_with("Severity ") || s.starts_with("Data {");
  return ev;
}

// ---------------------------------------------------------------------------------------------
// amdgpu

// The text after "amdgpu <pci>: " (or after a "[drm:... [amdgpu]]" tag on old kernels).
std::optional<GpuLogEvent> ParseAmdgpuBody(std::string device, std::string_view s) {
  Eat(s, "amdgpu: ");  // amdgpu.h dev_fmt(fmt) "amdgpu: " fmt (dropped by newer kernels)
  EatDrmTag(s);        // DRM_DEV_ERROR / drm_err: "[drm:amdgpu_job_timedout [amdgpu]] " or "[drm] "
  EatDrmLevel(s);
  ResetEvent ev;
  ev.driver = "amdgpu";
  ev.device = std::move(device);
  ev.message = std::string(s);
  std::string_view p = s;

  // amdgpu_job.c, amdgpu_job_timedout():
  //   "ring %s timeout, signaled seq=%u, emitted seq=%u\n"
  //   "ring %s timeout, but soft recovered\n"
  if (Eat(p, "ring ")) {
    auto ring = EatName(p);
    if (!ring || !Eat(p, " timeout, ")) return std::nullopt;
    ev.kind = ResetKind::kRingTimeout;
    ev.ring = std::string(*ring);
    if (Eat(p, "but soft recovered")) return ev;
    if (!Eat(p, "signaled seq=")) return std::nullopt;
    auto sig = EatU32(p);
    if (!sig || !Eat(p, ", emitted seq=")) return std::nullopt;
    auto emi = EatU32(p);
    if (!emi) return std::nullopt;
    ev.signaled_seq = *sig;
    ev.emitted_seq = *emi;
    return ev;
  }

  // amdgpu_device.c, amdgpu_device_gpu_recover() / amdgpu_device_sched_resume():
  //   "GPU reset(%d) succeeded!\n", "GPU reset(%d) failed\n"
  //   (a 2025 change prints "GPU reset(%d) failed with error %d")
  if (Eat(p, "GPU reset(")) {
    auto count = EatSmallInt(p, 9);
    if (!count || !Eat(p, ") ")) return std::nullopt;
    ev.reset_count = *count;
    if (p.starts_with("succeeded")) {
      ev.kind = ResetKind::kResetSucceeded;
      return ev;
    }
    if (p.starts_with("failed")) {
      ev.kind = ResetKind::kResetFailed;
      return ev;
    }
    return std::nullopt;
  }

  // gmc_v9_0.c: "[%s] %s page fault (src_id:%u ring:%u vmid:%u pasid:%u, for process %s pid %d
  //              thread %s pid %d)\n" (hub "gfxhub0"/"mmhub0"/..., "retry"/"no-retry");
  // gmc_v10_0.c, gmc_v11_0.c: "[%s] page fault (src_id:... pasid:%u, for process ...)" with hub
  // "gfxhub"/"mmhub"; newer kernels end the line after "pasid:%u)" and print the process on a
  // line of its own (not parsed).
  if (Eat(p, "[")) {
    auto hub = EatName(p);
    if (!hub || !Eat(p, "] ")) return std::nullopt;
    if (!Eat(p, "retry ")) Eat(p, "no-retry ");
    if (!Eat(p, "page fault (src_id:")) return std::nullopt;
    if (!EatU32(p) || !Eat(p, " ring:") || !EatU32(p) || !Eat(p, " vmid:") || !EatU32(p) ||
        !Eat(p, " pasid:")) {
      return std::nullopt;
    }
    auto pasid = EatU32(p);
    if (!pasid) return std::nullopt;
    ev.kind = ResetKind::kPageFault;
    ev.hub = std::string(*hub);
    ev.pasid = *pasid;
    if (Eat(p, ", for process ")) {
      // "%s pid %d thread %s pid %d)": the name may be empty ("for process  pid 0 ...").
      size_t at = p.find(" pid ");
      if (at != std::string_view::npos) {
        std::string_view name = p.substr(0, at);
        p.remove_prefix(at + 5);
        auto pid = EatU32(p);
        if (pid && *pid != 0) ev.pid = *pid;
        if (!name.empty()) ev.process_name = std::string(name);
      }
    }
    return ev;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// i915 and xe

// i915_gpu_error.c, error_msg():
//   "GPU HANG: ecode %d:%x:%08x" then ", in %s [%d]" (5.x..6.x) or ", %s in %s [%d]" (engine
//   first, newer), or "page fault @ 0x%016llx" instead of the GPU HANG part; 4.x added
//   ", reason: %s, action: %s". Printed by i915_error_state_store with dev_info (5.x) or drm_info.
std::optional<GpuLogEvent> ParseHang(std::string driver, std::string device, std::string_view s) {
  ResetEvent ev;
  ev.driver = std::move(driver);
  ev.device = std::move(device);
  ev.message = std::string(s);
  std::string_view p = s;
  if (Eat(p, "GPU HANG: ecode ")) {
    ev.kind = ResetKind::kGpuHang;
    size_t n = 0;
    while (n < p.size() && (IsHex(p[n]) || p[n] == ':' || p[n] == 'x')) ++n;
    if (n == 0) return std::nullopt;
    p.remove_prefix(n);
  } else if (Eat(p, "GPU HANG")) {
    ev.kind = ResetKind::kGpuHang;  // any other "GPU HANG" text: keep the message as it is
    return ev;
  } else if (Eat(p, "page fault @ 0x")) {
    ev.kind = ResetKind::kPageFault;
    size_t n = 0;
    while (n < p.size() && IsHex(p[n])) ++n;
    if (n == 0) return std::nullopt;
    p.remove_prefix(n);
  } else {
    return std::nullopt;
  }
  if (!Eat(p, ", ")) return ev;
  size_t reason = p.find(", reason:");
  std::string_view seg = reason == std::string_view::npos ? p : p.substr(0, reason);
  std::string_view who;
  if (Eat(seg, "in ")) {
    who = seg;
  } else {
    size_t in = seg.find(" in ");
    if (in == std::string_view::npos) return ev;
    std::string_view engine = seg.substr(0, in);
    std::string_view e = engine;
    if (EatName(e) && e.empty()) ev.ring = std::string(engine);
    who = seg.substr(in + 4);
  }
  ParseTrailingProcess(who, &ev.process_name, &ev.pid);
  return ev;
}

std::optional<GpuLogEvent> ParseI915Body(std::string device, std::string_view s) {
  EatDrmTag(s);
  EatDrmLevel(s);
  return ParseHang("i915", std::move(device), s);
}

// The text after "xe <pci>: ". xe_gt_printk prefixes "GT%u: " (and newer trees "Tile%u: ").
std::optional<GpuLogEvent> ParseXeBody(std::string device, std::string_view s) {
  EatDrmTag(s);
  EatDrmLevel(s);
  std::string_view p = s;
  if (Eat(p, "Tile")) {
    if (!EatSmallInt(p, 3) || !Eat(p, ": ")) return std::nullopt;
  }
  std::optional<int> gt;
  if (Eat(p, "GT")) {
    gt = EatSmallInt(p, 3);
    if (!gt || !Eat(p, ": ")) return std::nullopt;
  }
  ResetEvent ev;
  ev.driver = "xe";
  ev.device = std::move(device);
  ev.gt = gt;
  ev.message = std::string(p);

  // xe_guc_submit.c, guc_exec_queue_timedout_job():
  //   "Timedout job: seqno=%u, guc_id=%d, flags=0x%lx"                       (first version)
  //   "Timedout job: seqno=%u, lrc_seqno=%u, guc_id=%d, flags=0x%lx"         (later)
  //   "... flags=0x%lx in %s [%d]"                                           (later still)
  if (Eat(p, "Timedout job: seqno=")) {
    auto seqno = EatU32(p);
    if (!seqno) return std::nullopt;
    ev.kind = ResetKind::kJobTimeout;
    ev.seqno = *seqno;
    size_t flags = p.find("flags=");
    if (flags != std::string_view::npos) {
      std::string_view rest = p.substr(flags);
      size_t in = rest.find(" in ");
      if (in != std::string_view::npos) {
        ParseTrailingProcess(rest.substr(in + 4), &ev.process_name, &ev.pid);
      }
    }
    return ev;
  }
  // xe_guc_submit.c, xe_guc_exec_queue_reset_handler(): the GuC reset a hung engine.
  //   "Engine reset: engine_class=%s, logical_mask: 0x%x, guc_id=%d"
  if (Eat(p, "Engine reset: engine_class=")) {
    auto cls = EatName(p);
    if (!cls) return std::nullopt;
    ev.kind = ResetKind::kGpuHang;
    ev.ring = std::string(*cls);
    return ev;
  }
  // xe_gt.c, gt_reset(): "reset done", "reset failed (%pe)". Only with the GT prefix: without
  // it these words are too common to mean a GT reset.
  if (gt) {
    if (p == "reset done") {
      ev.kind = ResetKind::kResetSucceeded;
      return ev;
    }
    if (p.starts_with("reset failed")) {
      ev.kind = ResetKind::kResetFailed;
      return ev;
    }
  }
  if (p.starts_with("GPU HANG")) {
    ev.kind = ResetKind::kGpuHang;
    return ev;
  }
  return std::nullopt;
}

// A line that starts with a DRM tag and names no device (DRM_ERROR / DRM_INFO on old kernels).
std::optional<GpuLogEvent> ParseDeviceless(std::string_view s) {
  std::string_view p = s;
  auto tag = EatDrmTag(p);
  if (!tag) return std::nullopt;
  if (tag->find("[amdgpu]") != std::string_view::npos) return ParseAmdgpuBody("", p);
  if (*tag == "[drm]" && p.starts_with("GPU HANG: ecode ")) return ParseHang("i915", "", p);
  return std::nullopt;
}

}  // namespace

std::string_view ResetKindName(ResetKind kind) {
  switch (kind) {
    case ResetKind::kRingTimeout:
      return "ring_timeout";
    case ResetKind::kResetSucceeded:
      return "reset_succeeded";
    case ResetKind::kResetFailed:
      return "reset_failed";
    case ResetKind::kPageFault:
      return "page_fault";
    case ResetKind::kGpuHang:
      return "gpu_hang";
    case ResetKind::kJobTimeout:
      return "job_timeout";
    case ResetKind::kFallenOffBus:
      return "fallen_off_bus";
  }
  return "unknown";
}

std::optional<std::string> NormalizePciBusId(std::string_view text, bool keep_function) {
  std::string_view s = TrimRight(TrimLeft(text));
  Eat(s, "PCI:");
  auto pci = EatPci(s, keep_function, /*require_function=*/false);
  if (!pci || !s.empty()) return std::nullopt;
  return pci;
}

bool MayBeGpuLogLine(std::string_view line) {
  size_t nul = line.find('\0');
  if (nul != std::string_view::npos) line = line.substr(0, nul);
  std::string_view s = StripLogPrefixes(line);
  return s.starts_with("NVRM: ") || s.starts_with("nvidia-") || s.starts_with("amdgpu ") ||
         s.starts_with("i915 ") || s.starts_with("xe ") || s.starts_with("[drm:") ||
         s.starts_with("[drm]");
}

std::optional<GpuLogEvent> ParseGpuLogLine(std::string_view line) {
  // A fixed-size BPF buffer may carry the text NUL-terminated: printk text never holds a NUL.
  size_t nul = line.find('\0');
  if (nul != std::string_view::npos) line = line.substr(0, nul);
  std::string_view s = TrimRight(StripLogPrefixes(line));
  if (s.empty()) return std::nullopt;

  if (Eat(s, "NVRM: ")) return ParseNvrm(s);
  if (Eat(s, "nvidia-")) return ParseSxid(s);
  if (s.starts_with("amdgpu ")) {
    auto dev = EatDevPrefix(s, "amdgpu");
    if (!dev) return std::nullopt;
    return ParseAmdgpuBody(std::move(*dev), s);
  }
  if (s.starts_with("i915 ")) {
    auto dev = EatDevPrefix(s, "i915");
    if (!dev) return std::nullopt;
    return ParseI915Body(std::move(*dev), s);
  }
  if (s.starts_with("xe ")) {
    auto dev = EatDevPrefix(s, "xe");
    if (!dev) return std::nullopt;
    return ParseXeBody(std::move(*dev), s);
  }
  if (s.starts_with("[drm:") || s.starts_with("[drm]")) return ParseDeviceless(s);
  return std::nullopt;
}

}  // namespace ksight::gpu
