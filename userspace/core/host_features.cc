#include "core/host_features.h"

#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <string>

namespace ksight {
namespace {

bool IsDir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

uint64_t CapEff() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    // "CapEff:\t000001ffffffffff"; unparsable reads as no capability (from_chars never throws).
    std::string_view v(line);
    v.remove_prefix(7);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    uint64_t caps = 0;
    std::from_chars(v.data(), v.data() + v.size(), caps, 16);
    return caps;
  }
  return 0;
}

constexpr int kCapSysAdmin = 21;
constexpr int kCapSysResource = 24;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

}  // namespace

HostFeatures::~HostFeatures() { btf__free(vmlinux_btf_); }
HostFeatures::HostFeatures(HostFeatures&& o) noexcept { *this = std::move(o); }
HostFeatures& HostFeatures::operator=(HostFeatures&& o) noexcept {
  if (this != &o) {
    btf__free(vmlinux_btf_);
    kernel_release_ = std::move(o.kernel_release_);
    vmlinux_btf_ = o.vmlinux_btf_;
    o.vmlinux_btf_ = nullptr;
    btf_error_ = std::move(o.btf_error_);
    tracefs_path_ = std::move(o.tracefs_path_);
    tracefs_error_ = std::move(o.tracefs_error_);
    tracefs_mounted_by_us_ = o.tracefs_mounted_by_us_;
    privileged_ = o.privileged_;
    privilege_error_ = std::move(o.privilege_error_);
  }
  return *this;
}

HostFeatures HostFeatures::Probe(bool mount_tracefs) {
  HostFeatures h;
  struct utsname u {};
  if (::uname(&u) == 0) h.kernel_release_ = u.release;

  const uint64_t caps = CapEff();
  auto has = [&](int cap) { return (caps >> cap) & 1; };
  int major = 0, minor = 0;
  std::sscanf(h.kernel_release_.c_str(), "%d.%d", &major, &minor);
  const auto before = [&](int ma, int mi) { return major < ma || (major == ma && minor < mi); };
  h.privileged_ = has(kCapSysAdmin) || (has(kCapBpf) && has(kCapPerfmon));
  if (!h.privileged_) {
    std::string missing;
    if (before(5, 8)) {
      missing = "CAP_SYS_ADMIN (this kernel predates CAP_BPF and CAP_PERFMON, added in 5.8)";
    } else {
      if (!has(kCapBpf)) missing = "CAP_BPF";
      if (!has(kCapPerfmon)) missing += missing.empty() ? "CAP_PERFMON" : " and CAP_PERFMON";
    }
    h.privilege_error_ = fmt::format(
        "ksight needs root, or CAP_BPF and CAP_PERFMON (missing here: {}; effective capabilities: "
        "{:#x}); run it with sudo, or grant them: setcap cap_bpf,cap_perfmon+ep ksight",
        missing, caps);
  } else if (before(5, 11) && !has(kCapSysResource)) {
    // Before 5.11 BPF maps are charged to RLIMIT_MEMLOCK; libbpf raises it,
    // which needs CAP_SYS_RESOURCE unless the limit is already unlimited.
    rlimit rl{};
    if (::getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
      h.privileged_ = false;
      h.privilege_error_ = fmt::format(
          "ksight needs CAP_SYS_RESOURCE on kernels before 5.11 ({} here: BPF maps count against "
          "RLIMIT_MEMLOCK, {} KiB now); run it as root, grant cap_sys_resource, or raise the "
          "limit (LimitMEMLOCK=infinity in the unit, ulimit -l unlimited)",
          h.kernel_release_, rl.rlim_cur / 1024);
    }
  }

  h.vmlinux_btf_ = btf__load_vmlinux_btf();
  if (!h.vmlinux_btf_) {
    h.btf_error_ = fmt::format(
        "no kernel BTF (/sys/kernel/btf/vmlinux: {}); this kernel was built "
        "without CONFIG_DEBUG_INFO_BTF",
        std::strerror(errno));
  }

  for (const char* p : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
    if (IsDir(std::string(p) + "/events")) {
      h.tracefs_path_ = p;
      break;
    }
  }
  if (h.tracefs_path_.empty()) {
    const char* target = "/sys/kernel/tracing";
    if (!mount_tracefs) {
      h.tracefs_error_ = "tracefs is not mounted at /sys/kernel/tracing";
    } else if (!IsDir(target)) {
      h.tracefs_error_ = fmt::format(
          "tracefs is not mounted and {} does not exist (kernel without "
          "CONFIG_TRACING, or /sys is not the host's)",
          target);
    } else if (::mount("tracefs", target, "tracefs", 0, nullptr) != 0) {
      h.tracefs_error_ = fmt::format(
          "tracefs is not mounted at {} and mounting it failed: {} (mount it: mount -t tracefs "
          "tracefs {}; in a container, bind-mount the host's {})",
          target, std::strerror(errno), target, target);
    } else {
      h.tracefs_path_ = target;
      h.tracefs_mounted_by_us_ = true;
    }
  }
  return h;
}

bool HostFeatures::TracepointExists(std::string_view category, std::string_view name) const {
  if (tracefs_path_.empty()) return false;
  return IsDir(fmt::format("{}/events/{}/{}", tracefs_path_, category, name));
}

std::string HostFeatures::TracepointMissingReason(std::string_view category,
                                                  std::string_view name) const {
  if (tracefs_path_.empty()) return tracefs_error_;
  return fmt::format("tracepoint {}:{} not found in {}/events", category, name, tracefs_path_);
}

bool HostFeatures::TpBtfExists(std::string_view name) const {
  if (!vmlinux_btf_) return false;
  const std::string t = fmt::format("btf_trace_{}", name);
  return btf__find_by_name_kind(vmlinux_btf_, t.c_str(), BTF_KIND_TYPEDEF) > 0;
}

bool HostFeatures::BtfHasStruct(std::string_view name) const {
  if (!vmlinux_btf_) return false;
  const std::string t(name);
  return btf__find_by_name_kind(vmlinux_btf_, t.c_str(), BTF_KIND_STRUCT) > 0;
}

bool HostFeatures::BtfHasFunc(std::string_view name) const {
  if (!vmlinux_btf_) return false;
  const std::string t(name);
  return btf__find_by_name_kind(vmlinux_btf_, t.c_str(), BTF_KIND_FUNC) > 0;
}

}  // namespace ksight
