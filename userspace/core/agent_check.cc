// agent_check.cc - `ksight check`: what this host can run, per probe and per hook.
#include <cstdio>

#include "core/agent_internal.h"

namespace ksight {

int CheckHost(const Config& cfg) {
  HostFeatures host = HostFeatures::Probe(/*mount_tracefs=*/true);
  std::printf("kernel   %s\n", host.kernel_release().c_str());
  std::printf("btf      %s\n",
              host.btf() ? "yes (/sys/kernel/btf/vmlinux)" : host.btf_error().c_str());
  std::printf("tracefs  %s\n",
              host.tracefs() ? host.tracefs_path().c_str() : host.tracefs_error().c_str());
  std::printf("privs    %s\n", host.privileged() ? "ok" : host.privilege_error().c_str());
  std::printf("\n%-16s %-9s %s\n", "PROBE", "VERDICT", "DETAIL");
  int runnable = 0;
  for (const auto& info : ProbeRegistry()) {
    if (!cfg.probes.empty() &&
        std::find(cfg.probes.begin(), cfg.probes.end(), info.name()) == cfg.probes.end())
      continue;
    auto p = info.make();
    const ProbeCheck c = p->Check(host);
    const bool ok = c.runnable && host.privileged();
    runnable += ok;
    std::printf("%-16.*s %-9s %s\n", static_cast<int>(info.name().size()), info.name().data(),
                ok ? "ok" : "disabled", ok || !c.runnable ? c.reason.c_str() : "needs privileges");
    for (const auto& [k, v] : c.details)
      std::printf("%-16s   %-24s %s\n", "", k.c_str(), v.c_str());
  }
  if (runnable == 0) {
    std::fprintf(stderr, "ksight: no probe can run on this host\n");
    return kExitRuntime;
  }
  return kExitOk;
}

}  // namespace ksight
