// probe_module.h - what a probe declares about itself, without libbpf: its config section,
// its metric families and its record types. The core reads these tables and knows no probe
// by name; the pure library (unit tests, fuzzers) sees them too.
//
// A probe's module is defined in userspace/probes/<probe>/<probe>_module.cc as
// ksight::kModule_<probe>; its loader (userspace/probes/<probe>/<probe>_probe.cc) defines
// ksight::MakeProbe_<probe>(). Both are listed by one line in userspace/probes/probes.inc.
#pragma once

#include <span>
#include <string_view>

#include "core/metrics.h"
#include "core/settings.h"

namespace ksight {

struct ProbeModule {
  std::string_view name;     // the probe's name everywhere: --probes, [name], records' probe
  std::string_view summary;  // one line for `ksight check` and docs
  // [name] in the config file: keys, defaults, flags, checks, reload behaviour.
  std::string_view settings_help;
  std::span<const SettingDef> settings;
  Status (*validate)(const SectionValues& v) = nullptr;  // checks across the section's keys
  // /metrics families the probe fills in Probe::Metrics() (rendered even without samples).
  std::span<const MetricFamilyDef> metrics;
  // The event types it writes; each has docs/schema/<type>.schema.json (checked by a test).
  std::span<const std::string_view> record_types;
};

// Every probe, in start order (userspace/probes/modules.cc, from probes.inc).
std::span<const ProbeModule* const> ProbeModules();
const ProbeModule* FindProbeModule(std::string_view name);

}  // namespace ksight
