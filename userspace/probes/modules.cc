// modules.cc - the probes' declarations (pure: no libbpf), in the order of probes.inc.
#include "core/probe_module.h"

namespace ksight {

#define KSIGHT_PROBE(name) extern const ProbeModule kModule_##name;
#include "probes/probes.inc"
#undef KSIGHT_PROBE

std::span<const ProbeModule* const> ProbeModules() {
  static const ProbeModule* const kModules[] = {
#define KSIGHT_PROBE(name) &kModule_##name,
#include "probes/probes.inc"
#undef KSIGHT_PROBE
  };
  return kModules;
}

const ProbeModule* FindProbeModule(std::string_view name) {
  for (const ProbeModule* m : ProbeModules()) {
    if (m->name == name) return m;
  }
  return nullptr;
}

}  // namespace ksight
