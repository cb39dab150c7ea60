// host_features.h - what this kernel and this process can do, probed once at
// start: BTF, tracefs, each tracepoint, tp_btf targets, privileges.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

struct btf;

namespace ksight {

class HostFeatures {
 public:
  // Probe the host. With mount_tracefs, mount tracefs at /sys/kernel/tracing
  // when no tracefs is mounted (fresh VMs and containers often lack it).
  static HostFeatures Probe(bool mount_tracefs);
  HostFeatures() = default;
  ~HostFeatures();
  HostFeatures(HostFeatures&&) noexcept;
  HostFeatures& operator=(HostFeatures&&) noexcept;
  HostFeatures(const HostFeatures&) = delete;
  HostFeatures& operator=(const HostFeatures&) = delete;

  const std::string& kernel_release() const { return kernel_release_; }
  bool btf() const { return vmlinux_btf_ != nullptr; }
  const std::string& btf_error() const { return btf_error_; }
  bool tracefs() const { return !tracefs_path_.empty(); }
  const std::string& tracefs_path() const { return tracefs_path_; }
  const std::string& tracefs_error() const { return tracefs_error_; }
  bool tracefs_mounted_by_us() const { return tracefs_mounted_by_us_; }
  // CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN; before 5.11 also CAP_SYS_RESOURCE
  // (or an unlimited RLIMIT_MEMLOCK). The error names what is missing.
  bool privileged() const { return privileged_; }
  const std::string& privilege_error() const { return privilege_error_; }

  // The classic tracepoint category:name exists (needs tracefs).
  bool TracepointExists(std::string_view category, std::string_view name) const;
  // A tp_btf program can target this raw tracepoint (btf_trace_<name> in vmlinux BTF).
  bool TpBtfExists(std::string_view name) const;
  // vmlinux BTF has a struct / function of this name.
  bool BtfHasStruct(std::string_view name) const;
  bool BtfHasFunc(std::string_view name) const;
  // Why a tracepoint is unusable, for status lines.
  std::string TracepointMissingReason(std::string_view category, std::string_view name) const;

 private:
  std::string kernel_release_;
  struct ::btf* vmlinux_btf_ = nullptr;
  std::string btf_error_;
  std::string tracefs_path_;
  std::string tracefs_error_;
  bool tracefs_mounted_by_us_ = false;
  bool privileged_ = false;
  std::string privilege_error_;
};

}  // namespace ksight
