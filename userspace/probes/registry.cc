// registry.cc - every probe the agent knows, in start order. Adding a probe:
// bpf/probes/<probe>/, userspace/probes/<probe>/<probe>_probe.cc defining
// Make<Probe>Probe(), and one line here.
#include "core/probe.h"

namespace ksight {

std::unique_ptr<Probe> MakeSyscallsProbe();
std::unique_ptr<Probe> MakeTcpRetransmitProbe();
std::unique_ptr<Probe> MakeGpuProbe();

std::span<const ProbeInfo> ProbeRegistry() {
  static const ProbeInfo kProbes[] = {
      {"syscalls", "per-process syscall counts, errors and latency; slow and failed calls",
       &MakeSyscallsProbe},
      {"tcp_retransmit", "TCP retransmits: owner, tuple and socket state", &MakeTcpRetransmitProbe},
      {"gpu", "GPU Xid/SXid faults, resets, DRM scheduler jobs, dma_fence latency", &MakeGpuProbe},
  };
  return kProbes;
}

}  // namespace ksight
