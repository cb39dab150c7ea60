// privileges.h - least privilege: once every probe is attached, the agent
// keeps only the capabilities the rest of the run needs (libcap).
//
// After attach the run reads ring buffers (mmap'd, no capability), reads and
// deletes entries of its own BPF maps through fds it already holds, reads
// /proc/<pid>/cgroup (world-readable), serves /metrics on the socket bound
// before attach, and writes its output files as uid 0 in directories root owns
// (the writer threads rotate, reopen and compress them; SIGHUP reads the
// config file again). So it keeps nothing, except:
//   CAP_BPF (CAP_SYS_ADMIN before 5.8)  when the kernel gates every bpf()
//       call on it (before 6.5 with kernel.unprivileged_bpf_disabled set):
//       learnt by trying a map call with the capability lowered;
//   CAP_SYS_PTRACE  when /proc is mounted with hidepid (other users'
//       processes are hidden without it).
// The bounding set is cut to the same set (when CAP_SETPCAP allows it), the
// ambient set is cleared and no_new_privs is set (an error when that fails,
// after the capabilities are gone). Capabilities are per thread and this
// changes the calling thread only: call it on the agent thread. Helper threads
// (core/thread.h) drop every capability themselves when they start, so they
// may already run; a thread started any other way keeps what it inherited.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace ksight {

struct CapabilityDrop {
  std::vector<std::string> kept;  // "cap_bpf", ...
  std::vector<std::string> why;   // one reason per kept capability
  bool bounding_dropped = false;
  std::string Summary() const;  // "none" or "cap_bpf (reason); ..."
};

// map_fd: the fd of one loaded BPF map (the probe of the bpf() gate).
Result<CapabilityDrop> DropCapabilities(int map_fd);

}  // namespace ksight
