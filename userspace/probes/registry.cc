// registry.cc - every probe the agent can load, in the order of probes.inc: each module
// (pure declarations) with its loader's factory.
#include "core/probe.h"

namespace ksight {

#define KSIGHT_PROBE(name)                 \
  extern const ProbeModule kModule_##name; \
  std::unique_ptr<Probe> MakeProbe_##name();
#include "probes/probes.inc"
#undef KSIGHT_PROBE

std::span<const ProbeInfo> ProbeRegistry() {
  static const ProbeInfo kProbes[] = {
#define KSIGHT_PROBE(name) {&kModule_##name, &MakeProbe_##name},
#include "probes/probes.inc"
#undef KSIGHT_PROBE
  };
  return kProbes;
}

}  // namespace ksight
