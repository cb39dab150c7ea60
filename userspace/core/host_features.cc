#include "core/host_features.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

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
    if (line.rfind("CapEff:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  }
  return 0;
}

constexpr int kCapSysAdmin = 21;
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
  h.privileged_ = has(kCapSysAdmin) || (has(kCapBpf) && has(kCapPerfmon));
  if (!h.privileged_) {
    h.privilege_error_ = fmt::format(
        "ksight needs root, or CAP_BPF and CAP_PERFMON (effective capabilities here: {:#x}); run it "
        "with sudo, or grant them: setcap cap_bpf,cap_perfmon+ep ksight", caps);
  }

  h.vmlinux_btf_ = btf__load_vmlinux_btf();
  if (!h.vmlinux_btf_) {
    h.btf_error_ = fmt::format("no kernel BTF (/sys/kernel/btf/vmlinux: {}); this kernel was built "
                               "without CONFIG_DEBUG_INFO_BTF", std::strerror(errno));
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
      h.tracefs_error_ = fmt::format("tracefs is not mounted and {} does not exist (kernel without "
                                     "CONFIG_TRACING, or /sys is not the host's)", target);
    } else if (::mount("tracefs", target, "tracefs", 0, nullptr) != 0) {
      h.tracefs_error_ = fmt::format(
          "tracefs is not mounted at {} and mounting it failed: {} (mount it: mount -t tracefs "
          "tracefs {}; in a container, bind-mount the host's {})", target, std::strerror(errno),
          target, target);
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
