#include "core/privileges.h"

#include <sys/capability.h>
#include <sys/prctl.h>

#include <bpf/bpf.h>

#include <algorithm>

#include <fstream>
#include <memory>
#include <sstream>

namespace ksight {
namespace {

struct CapFree {
  void operator()(cap_t c) const { cap_free(c); }
};
using CapPtr = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

bool Has(cap_t c, cap_value_t v, cap_flag_t f) {
  cap_flag_value_t on = CAP_CLEAR;
  return cap_get_flag(c, v, f, &on) == 0 && on == CAP_SET;
}

std::string Name(cap_value_t v) {
  char* n = cap_to_name(v);
  std::string s = n ? n : std::to_string(v);
  cap_free(n);
  return s;
}

// /proc mounted with hidepid=1/2/noaccess/invisible/ptraceable.
bool ProcHidePid() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string id, parent, dev, root, mnt;
    ss >> id >> parent >> dev >> root >> mnt;
    if (mnt != "/proc") continue;
    const size_t h = line.find("hidepid=");
    if (h == std::string::npos) continue;
    const std::string v = line.substr(h + 8, line.find_first_of(", ", h) - h - 8);
    if (v != "0" && v != "off") return true;
  }
  return false;
}

// Set effective = keep (permitted unchanged).
bool LowerEffective(cap_t cur, const std::vector<cap_value_t>& keep) {
  CapPtr t(cap_dup(cur));
  if (!t) return false;
  if (cap_clear_flag(t.get(), CAP_EFFECTIVE) != 0) return false;
  if (!keep.empty() && cap_set_flag(t.get(), CAP_EFFECTIVE, static_cast<int>(keep.size()),
                                    keep.data(), CAP_SET) != 0) {
    return false;
  }
  return cap_set_proc(t.get()) == 0;
}

}  // namespace

std::string CapabilityDrop::Summary() const {
  if (kept.empty()) return "none";
  std::string s;
  for (size_t i = 0; i < kept.size(); ++i)
    s += fmt::format("{}{} ({})", i ? "; " : "", kept[i], i < why.size() ? why[i] : "");
  return s;
}

Result<CapabilityDrop> DropCapabilities(int map_fd) {
  CapabilityDrop out;
  CapPtr cur(cap_get_proc());
  if (!cur) return Status::Errno("reading this process's capabilities", errno);
  std::vector<cap_value_t> keep;
  auto permitted = [&](cap_value_t v) { return Has(cur.get(), v, CAP_PERMITTED); };

  if (ProcHidePid() && permitted(CAP_SYS_PTRACE)) {
    keep.push_back(CAP_SYS_PTRACE);
    out.why.emplace_back(
        "/proc is mounted with hidepid: other users' processes are visible only with it");
  }
  // Does this kernel gate bpf() on a capability even for fds we hold?
  // Try with the effective set lowered, then restore.
  if (map_fd >= 0) {
    if (!LowerEffective(cur.get(), keep))
      return Status::Errno("lowering the effective capabilities", errno);
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    const int r = bpf_obj_get_info_by_fd(map_fd, &info, &len);
    if (cap_set_proc(cur.get()) != 0) return Status::Errno("restoring the capabilities", errno);
    if (r == -EPERM) {
      const cap_value_t c = permitted(CAP_BPF) ? CAP_BPF : CAP_SYS_ADMIN;
      keep.push_back(c);
      out.why.emplace_back(
          "this kernel checks it on every bpf() call, map reads included "
          "(kernel.unprivileged_bpf_disabled before 6.5)");
    }
  }
  for (cap_value_t c : keep) out.kept.push_back(Name(c));

  // Bounding set first, while CAP_SETPCAP is still effective.
  if (Has(cur.get(), CAP_SETPCAP, CAP_EFFECTIVE)) {
    out.bounding_dropped = true;
    for (cap_value_t c = 0; c < static_cast<cap_value_t>(cap_max_bits()); ++c) {
      if (std::find(keep.begin(), keep.end(), c) != keep.end()) continue;
      if (CAP_IS_SUPPORTED(c) && cap_drop_bound(c) != 0) out.bounding_dropped = false;
    }
  }
  // Fails only where the kernel has no ambient set (before 4.3); the ambient set is a subset
  // of the permitted one, which cap_set_proc() below empties of everything else anyway.
  (void)cap_reset_ambient();
  CapPtr fin(cap_init());
  if (!fin) return Status::Errno("cap_init", errno);
  if (!keep.empty()) {
    const int n = static_cast<int>(keep.size());
    if (cap_set_flag(fin.get(), CAP_PERMITTED, n, keep.data(), CAP_SET) != 0 ||
        cap_set_flag(fin.get(), CAP_EFFECTIVE, n, keep.data(), CAP_SET) != 0) {
      return Status::Errno("building the capability set to keep", errno);
    }
  }
  if (cap_set_proc(fin.get()) != 0) return Status::Errno("dropping capabilities", errno);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return Status::Errno("capabilities dropped, but setting no_new_privs failed", errno);
  return out;
}

}  // namespace ksight
