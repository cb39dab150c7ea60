// config.h - the agent's settings: defaults, the TOML file, validation.
// Flags (cli.h) and the file name the same settings; flags win.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/settings.h"
#include "core/status.h"

namespace ksight {

using Nanos = std::chrono::nanoseconds;

struct Config {
  std::string config_path = "/etc/ksight/ksight.toml";
  std::vector<std::string> probes;  // empty = every probe this host can run
  // Sinks: JSON-lines files and/or "-" (stdout), each with its own writer thread.
  std::vector<std::string> output = {"/var/log/ksight/events.jsonl"};
  uint64_t queue_size = 16u << 20;  // per sink, bytes of formatted lines waiting
  unsigned file_mode = 0640;
  uint64_t max_size = 100u << 20;  // rotate a file before it exceeds this (0 = never)
  uint32_t max_backups = 5;
  std::string compress = "none";  // "none" or "gzip" (backups)
  uint64_t max_total_size = 0;    // per file sink: current + backups (0 = no cap)
  Nanos interval = std::chrono::seconds(10);
  Nanos duration{0};  // 0 = run until signalled
  Nanos drain_interval = std::chrono::milliseconds(5);
  std::string log_level = "info";
  std::string host_name;  // empty = gethostname()
  // /metrics, /healthz, /readyz: "HOST:PORT", "[V6]:PORT" or "off".
  std::string metrics_addr = "127.0.0.1:9815";

  // Filters (repeatable): a process must match every kind that is set.
  std::vector<uint32_t> pids;
  std::vector<std::string> comms;
  std::vector<std::string> cgroups;  // cgroup v2 paths or numeric ids
  // Workload filters (core/workload_filter.h): container ids (or prefixes), pods (UID, name or
  // namespace/name), namespaces; resolved to cgroup ids while the agent runs.
  std::vector<std::string> containers, pods, namespaces;

  // BPF ring buffer per probe, bytes (power of two, multiple of the page size).
  uint32_t ring_bytes = 4u << 20;

  // Every probe's own [section] (ProbeModule::settings), defaults filled in.
  std::map<std::string, SectionValues, std::less<>> sections = ProbeSectionDefaults();

  // A probe's section (every registered probe has one, possibly with no keys).
  const SectionValues& Section(std::string_view probe) const;
  SectionValues& Section(std::string_view probe);

  static std::map<std::string, SectionValues, std::less<>> ProbeSectionDefaults();
};

// Every setting table: the top level, [output], [filter], then each probe's section. Built once
// (the tables are static), so a loop over a member of the result never dangles.
const std::vector<SettingSection>& AllSettingSections();
SettingValue GetSetting(const Config& cfg, const SettingSection& s, const SettingDef& d);
void SetSetting(Config& cfg, const SettingSection& s, const SettingDef& d, SettingValue v);

// What a SIGHUP does with a new config: the keys it applies and the keys that changed but
// stay as started until a restart (SettingDef::apply), each as "section.key".
struct ReloadPlan {
  Config next;  // the new config with every restart-only key kept as started
  std::vector<std::string> applied;
  std::vector<std::string> restart_needed;
  bool Changed(std::string_view section) const;  // an applied key of this section
};
ReloadPlan PlanReload(const Config& started, const Config& live, const Config& next);

// Parse "10s", "100ms", "250us", "5m", "1h", "0" into nanoseconds.
Result<Nanos> ParseDuration(std::string_view s);
// Parse "4MiB", "256KiB", "1048576" into bytes.
Result<uint64_t> ParseSize(std::string_view s);
std::string FormatDuration(Nanos d);
// Parse an octal file mode such as "0640".
Result<unsigned> ParseFileMode(std::string_view s);

// Load a TOML file on top of cfg. A missing file is an error only when
// required (the user named it); unknown keys and bad values are errors that
// name the file, line and key.
Status LoadConfigFile(const std::string& path, bool required, Config& cfg);
// Parse TOML text (for tests and for LoadConfigFile).
Status ParseConfigText(std::string_view text, std::string_view source_name, Config& cfg);
// Cross-field checks after file and flags are merged.
Status ValidateConfig(const Config& cfg);

// The commented default config (`ksight config default`).
std::string DefaultConfigText();

}  // namespace ksight
