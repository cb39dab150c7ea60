#include "core/config.h"
#include "core/k8s_metadata.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "core/metrics.h"
#include "core/probe_module.h"

namespace ksight {
namespace {

struct UnitScale {
  std::string_view unit;
  uint64_t scale;
};

template <size_t N>
Result<uint64_t> ParseScaled(std::string_view s, const UnitScale (&units)[N], std::string_view what,
                             std::string_view example) {
  const auto bad = [&] {
    return Status::Error(fmt::format("invalid {} '{}' (expected e.g. {})", what, s, example));
  };
  if (s.empty()) return bad();
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr == s.data()) return bad();
  std::string_view unit(ptr, static_cast<size_t>(s.data() + s.size() - ptr));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  for (const auto& u : units) {
    if (unit == u.unit) {
      if (u.scale != 0 && v > UINT64_MAX / u.scale) return bad();
      return v * u.scale;
    }
  }
  if (unit.empty() && v == 0) return uint64_t{0};
  return bad();
}

constexpr UnitScale kDurationUnits[] = {
    {"ns", 1},
    {"us", 1000},
    {"µs", 1000},
    {"ms", 1000000},
    {"s", 1000000000ULL},
    {"m", 60000000000ULL},
    {"h", 3600000000000ULL},
};
constexpr UnitScale kSizeUnits[] = {
    {"", 1},          {"B", 1},       {"KiB", 1024},       {"K", 1024},
    {"MiB", 1 << 20}, {"M", 1 << 20}, {"GiB", 1ULL << 30}, {"G", 1ULL << 30},
};

std::string Where(std::string_view source, const toml::node& n) {
  const auto& src = n.source();
  if (src.begin.line == 0) return std::string(source);
  return fmt::format("{}:{}:{}", source, src.begin.line, src.begin.column);
}

std::string Want(const SettingDef& d) {
  const std::string_view items = d.items.empty() ? std::string_view("values") : d.items;
  switch (d.kind) {
    case SettingKind::kDuration:
      return R"(a duration string such as "10s")";
    case SettingKind::kSize:
      return R"(a size such as "4MiB")";
    case SettingKind::kUint:
      return "a non-negative integer";
    case SettingKind::kMode:
      return R"(a file mode such as "0640")";
    case SettingKind::kString:
      return "a string";
    case SettingKind::kPaths:
      return "a path or an array of paths";
    case SettingKind::kStrings:
    case SettingKind::kUints:
    case SettingKind::kIdsOrPaths:
      return fmt::format("an array of {}", items);
  }
  return "a value";
}

// A TOML value of one setting: the node's type must fit the kind; text goes through the same
// parser as the flag. Errors have no location (the caller adds it).
Result<SettingValue> FromToml(const SettingDef& d, const toml::node& n) {
  const Status type_error = Status::Error(fmt::format("must be {}", Want(d)));
  const auto as_uint = [](const toml::node& e) -> std::optional<uint64_t> {
    if (!e.is_integer() || e.as_integer()->get() < 0) return std::nullopt;
    return static_cast<uint64_t>(e.as_integer()->get());
  };
  switch (d.kind) {
    case SettingKind::kDuration:
      if (auto u = as_uint(n); u && *u == 0) return SettingValue(Nanos(0));
      if (!n.is_string()) return type_error;
      return ParseSettingText(d, n.as_string()->get());
    case SettingKind::kSize:
      if (auto u = as_uint(n)) return SettingValue(*u);
      if (!n.is_string()) return type_error;
      return ParseSettingText(d, n.as_string()->get());
    case SettingKind::kUint:
      if (auto u = as_uint(n)) return SettingValue(*u);
      return type_error;
    case SettingKind::kMode:
      if (auto u = as_uint(n); u && *u <= 0777) return SettingValue(*u);
      if (!n.is_string()) return type_error;
      return ParseSettingText(d, n.as_string()->get());
    case SettingKind::kString:
      if (!n.is_string()) return type_error;
      return SettingValue(std::string(n.as_string()->get()));
    case SettingKind::kPaths:
      if (n.is_string()) return SettingValue(std::vector<std::string>{n.as_string()->get()});
      [[fallthrough]];
    case SettingKind::kStrings:
    case SettingKind::kIdsOrPaths:
    case SettingKind::kUints: {
      if (!n.is_array()) return type_error;
      std::vector<std::string> strs;
      std::vector<uint64_t> nums;
      for (const auto& e : *n.as_array()) {
        if (d.kind == SettingKind::kUints) {
          auto u = as_uint(e);
          if (!u) return type_error;
          nums.push_back(*u);
        } else if (e.is_string()) {
          strs.push_back(e.as_string()->get());
        } else if (auto u = as_uint(e); u && d.kind == SettingKind::kIdsOrPaths) {
          strs.push_back(std::to_string(*u));
        } else {
          return type_error;
        }
      }
      if (d.kind == SettingKind::kUints) return SettingValue(std::move(nums));
      return SettingValue(std::move(strs));
    }
  }
  return type_error;
}

// Reads one table of the file against its section's declarations.
Status ReadSection(const toml::table& t, std::string_view source, const SettingSection& sec,
                   std::initializer_list<std::string_view> also_known, Config& cfg) {
  const std::string prefix = sec.name.empty() ? "" : std::string(sec.name) + ".";
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    const bool known = std::any_of(sec.keys.begin(), sec.keys.end(),
                                   [&](const SettingDef& d) { return d.key == key; }) ||
                       std::find(also_known.begin(), also_known.end(), key) != also_known.end();
    if (known) continue;
    std::vector<std::string_view> names;
    for (const auto& d : sec.keys) names.push_back(d.key);
    names.insert(names.end(), also_known.begin(), also_known.end());
    return Status::Error(
        fmt::format("{}: unknown key '{}{}' (known here: {})", Where(source, v), prefix, key,
                    names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
  }
  for (const SettingDef& d : sec.keys) {
    const toml::node* n = t.get(d.key);
    if (!n) continue;
    // A table where a value belongs (e.g. [output] for "output") is read by its own section.
    if (n->is_table() && std::find(also_known.begin(), also_known.end(), d.key) != also_known.end())
      continue;
    auto v = FromToml(d, *n);
    Status st = v.ok() ? CheckSetting(d, *v) : v.status();
    if (!st.ok()) {
      return Status::Error(
          fmt::format("{}: {}{} {}", Where(source, *n), prefix, d.key, st.message()));
    }
    SetSetting(cfg, sec, d, std::move(v.value()));
  }
  return {};
}

// Typed Config fields behind the core's declarations.
SettingValue ToValue(Nanos v) { return v; }
SettingValue ToValue(uint64_t v) { return v; }
SettingValue ToValue(uint32_t v) { return uint64_t{v}; }
SettingValue ToValue(const std::string& v) { return v; }
SettingValue ToValue(const std::vector<std::string>& v) { return v; }
SettingValue ToValue(const std::vector<uint32_t>& v) {
  return std::vector<uint64_t>(v.begin(), v.end());
}
void FromValue(const SettingValue& v, Nanos& out) { out = std::get<Nanos>(v); }
void FromValue(const SettingValue& v, uint64_t& out) { out = std::get<uint64_t>(v); }
void FromValue(const SettingValue& v, uint32_t& out) {
  out = static_cast<uint32_t>(std::get<uint64_t>(v));  // bounded by the declaration's max
}
void FromValue(const SettingValue& v, std::string& out) { out = std::get<std::string>(v); }
void FromValue(const SettingValue& v, std::vector<std::string>& out) {
  out = std::get<std::vector<std::string>>(v);
}
void FromValue(const SettingValue& v, std::vector<uint32_t>& out) {
  const auto& l = std::get<std::vector<uint64_t>>(v);
  out.clear();
  for (uint64_t x : l) out.push_back(static_cast<uint32_t>(x));  // bounded by max
}
template <auto M>
SettingValue GetField(const Config& c) {
  return ToValue(c.*M);
}
template <auto M>
void SetField(Config& c, const SettingValue& v) {
  FromValue(v, c.*M);
}
#define KS_FIELD(member) .get = &GetField<&Config::member>, .set = &SetField<&Config::member>

Status CheckLogLevel(const SettingValue& v) {
  static const std::set<std::string, std::less<>> kLevels = {"trace", "debug",    "info", "warn",
                                                             "error", "critical", "off"};
  const auto& s = std::get<std::string>(v);
  if (kLevels.count(s)) return {};
  return Status::Error(
      fmt::format("'{}' is not one of trace, debug, info, warn, error, critical, off", s));
}

Status CheckMetricsAddr(const SettingValue& v) {
  auto a = ParseListenAddr(std::get<std::string>(v));
  return a.ok() ? Status() : a.status();
}

Status CheckRingSize(const SettingValue& v) {
  const uint64_t rb = std::get<uint64_t>(v);
  if (rb < 4096 || (rb & (rb - 1)) != 0 || rb > (1u << 30)) {
    return Status::Error(
        fmt::format("{} must be a power of two between 4KiB and 1GiB (e.g. 4MiB)", rb));
  }
  return {};
}

Status CheckCompress(const SettingValue& v) {
  const auto& s = std::get<std::string>(v);
  if (s == "none" || s == "gzip") return {};
  return Status::Error(fmt::format(R"('{}' must be "none" or "gzip")", s));
}

Status CheckComms(const SettingValue& v) {
  for (const auto& c : std::get<std::vector<std::string>>(v)) {
    if (c.empty() || c.size() > 15) {
      return Status::Error(fmt::format(
          "comm filter '{}' must be 1 to 15 characters (the kernel's TASK_COMM_LEN)", c));
    }
  }
  return {};
}

Status CheckContainerIds(const SettingValue& v) {
  for (const auto& c : std::get<std::vector<std::string>>(v)) {
    const bool hex = std::all_of(c.begin(), c.end(), [](char ch) {
      return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
    });
    if (!hex || c.size() < 12 || c.size() > 64) {
      return Status::Error(fmt::format(
          "'{}' is not a container id (12 to 64 lower-case hex digits, as `docker ps` or "
          "`crictl ps` show)",
          c));
    }
  }
  return {};
}

Status CheckNotEmpty(const SettingValue& v) {
  for (const auto& c : std::get<std::vector<std::string>>(v)) {
    if (c.empty()) return Status::Error("an empty name");
  }
  return {};
}

Status CheckCgroups(const SettingValue& v) {
  for (const auto& c : std::get<std::vector<std::string>>(v)) {
    if (c.empty()) return Status::Error("a cgroup filter must not be empty");
    if (std::all_of(c.begin(), c.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
      uint64_t id = 0;
      auto [ptr, ec] = std::from_chars(c.data(), c.data() + c.size(), id);
      if (ec != std::errc() || ptr != c.data() + c.size() || id == 0) {
        return Status::Error(fmt::format(
            "cgroup filter '{}' is not a cgroup id (1 to 18446744073709551615) nor a path", c));
      }
    }
  }
  return {};
}

Status CheckProbes(const SettingValue& v) {
  for (const auto& p : std::get<std::vector<std::string>>(v)) {
    if (FindProbeModule(p)) continue;
    std::vector<std::string_view> known;
    for (const ProbeModule* m : ProbeModules()) known.push_back(m->name);
    return Status::Error(
        fmt::format("unknown probe '{}' (known probes: {})", p, fmt::join(known, ", ")));
  }
  return {};
}

Status CheckOutputs(const SettingValue& v) {
  const auto& out = std::get<std::vector<std::string>>(v);
  if (out.empty()) return Status::Error("must name at least one sink (a path, or '-' for stdout)");
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i].empty()) return Status::Error("must not be empty (use '-' for stdout)");
    for (size_t j = 0; j < i; ++j) {
      if (out[i] == out[j]) return Status::Error(fmt::format("'{}' is named twice", out[i]));
    }
  }
  return {};
}

constexpr uint64_t kMs = 1000000;

// The top level, [output] and [filter]. SIGHUP applies output.*, interval,
// drain_interval and log_level; everything else is what the probes, the metrics server and
// the envelope were started with.
const SettingDef kTopLevel[] = {
    {.key = "probes",
     .kind = SettingKind::kStrings,
     .default_value = "",
     .help = "Probes to run; an empty list runs every probe this host supports.\n"
             "Known probes: see `ksight check`.",
     .flag = "--probes,-p",
     .flag_help = "probes to run, comma-separated (default: all)",
     .check = &CheckProbes,
     .split_commas = true,
     .items = "probe names",
     KS_FIELD(probes)},
    {.key = "interval",
     .kind = SettingKind::kDuration,
     .default_value = "10s",
     .help = "Rollup period: syscall.stats, agent.heartbeat and the other per-interval records.",
     .flag = "--interval",
     .flag_help = "rollup period, e.g. 10s",
     .apply = SettingApply::kReload,
     .min = 100 * kMs,
     .max = 24ULL * 3600 * 1000 * kMs,
     KS_FIELD(interval)},
    {.key = "duration",
     .kind = SettingKind::kDuration,
     .default_value = "0",
     .help = "Stop after this long (0 = run until SIGINT/SIGTERM).",
     .flag = "--duration",
     .flag_help = "stop after this long, e.g. 30s (0 = until signalled)",
     KS_FIELD(duration)},
    {.key = "drain_interval",
     .kind = SettingKind::kDuration,
     .default_value = "5ms",
     .help = "How often the agent drains the BPF ring buffers (1ms..1s).",
     .flag = "--drain-interval",
     .flag_help = "ring drain period, e.g. 5ms",
     .apply = SettingApply::kReload,
     .min = 1 * kMs,
     .max = 1000 * kMs,
     KS_FIELD(drain_interval)},
    {.key = "log_level",
     .kind = SettingKind::kString,
     .default_value = "info",
     .help = "The agent's own log level on stderr: trace, debug, info, warn, error, critical, off.",
     .flag = "--log-level",
     .flag_help = "agent log level on stderr (info, debug, ...)",
     .apply = SettingApply::kReload,
     .check = &CheckLogLevel,
     KS_FIELD(log_level)},
    {.key = "host_name",
     .kind = SettingKind::kString,
     .default_value = "",
     .help = "host.name in every record; empty = the kernel's hostname.",
     .flag = "--host-name",
     .flag_help = "host.name in records (default: hostname)",
     KS_FIELD(host_name)},
    {.key = "ring_size",
     .kind = SettingKind::kSize,
     .default_value = "4MiB",
     .help = "BPF ring buffer size per probe (power of two).",
     .flag = "--ring-size",
     .flag_help = "BPF ring buffer per probe, e.g. 4MiB",
     .check = &CheckRingSize,
     KS_FIELD(ring_bytes)},
    {.key = "metrics_addr",
     .kind = SettingKind::kString,
     .default_value = "127.0.0.1:9815",
     .help = "Prometheus /metrics, /healthz and /readyz: HOST:PORT ([::1]:9815 for IPv6), or "
             "\"off\".\nLoopback by default; 0.0.0.0:9815 exposes it to the network.",
     .flag = "--metrics-addr",
     .flag_help = "/metrics, /healthz, /readyz on HOST:PORT, or off (default 127.0.0.1:9815)",
     .check = &CheckMetricsAddr,
     KS_FIELD(metrics_addr)},
};

const SettingDef kOutput[] = {
    {.key = "path",
     .kind = SettingKind::kPaths,
     .default_value = "/var/log/ksight/events.jsonl",
     .help = "Where events go: a JSON-lines file, \"-\" for stdout, or an array of both\n"
             "(e.g. [\"/var/log/ksight/events.jsonl\", \"-\"]); each sink has its own writer.\n"
             "`output = \"PATH\"` at the top level is the short form of `path`.",
     .flag = "--output,-o",
     .flag_help = "JSON-lines file, or - for stdout (repeatable: every sink gets every line)",
     .apply = SettingApply::kReload,
     .check = &CheckOutputs,
     KS_FIELD(output)},
    {.key = "queue_size",
     .kind = SettingKind::kSize,
     .default_value = "16MiB",
     .help = "Formatted lines waiting for each sink's writer; when full, lines are\n"
             "dropped and counted (queue_full) instead of stalling the probes.",
     .flag = "--queue-size",
     .flag_help = "per-sink queue of formatted lines, e.g. 16MiB",
     .apply = SettingApply::kReload,
     .min = 64u << 10,
     .max = 4ULL << 30,
     KS_FIELD(queue_size)},
    {.key = "file_mode",
     .kind = SettingKind::kMode,
     .default_value = "0640",
     .help = "Mode of files the agent creates (the directory is created 0750).",
     .flag = "--file-mode",
     .flag_help = "mode of created files, octal (default 0640)",
     .apply = SettingApply::kReload,
     .max = 0777,
     KS_FIELD(file_mode)},
    {.key = "max_size",
     .kind = SettingKind::kSize,
     .default_value = "100MiB",
     .help = "Rotate a file (events.jsonl -> events.jsonl.1 ...) before it exceeds this; 0 = "
             "never.",
     .flag = "--max-size",
     .flag_help = "rotate a file before it exceeds this, e.g. 100MiB (0 = never)",
     .apply = SettingApply::kReload,
     KS_FIELD(max_size)},
    {.key = "max_backups",
     .kind = SettingKind::kUint,
     .default_value = "5",
     .help = "Backups kept: events.jsonl.1 (newest) .. events.jsonl.N.",
     .flag = "--max-backups",
     .flag_help = "rotated files kept (events.jsonl.1 .. .N)",
     .apply = SettingApply::kReload,
     .max = 100000,
     KS_FIELD(max_backups)},
    {.key = "compress",
     .kind = SettingKind::kString,
     .default_value = "none",
     .help = "\"gzip\" compresses backups (events.jsonl.N.gz) in the background; \"none\" keeps "
             "them as is.",
     .flag = "--compress",
     .flag_help = "compress rotated files: none or gzip",
     .apply = SettingApply::kReload,
     .check = &CheckCompress,
     KS_FIELD(compress)},
    {.key = "max_total_size",
     .kind = SettingKind::kSize,
     .default_value = "0",
     .help = "Cap on the current file + its backups; the oldest backups are deleted (0 = no cap).",
     .flag = "--max-total-size",
     .flag_help = "cap on a file and its backups (0 = none)",
     .apply = SettingApply::kReload,
     KS_FIELD(max_total_size)},
};

const SettingDef kFilter[] = {
    {.key = "pid",
     .kind = SettingKind::kUints,
     .default_value = "",
     .help = "Process ids (tgid).",
     .flag = "--pid",
     .flag_help = "trace only this process id (repeatable)",
     .min = 1,
     .max = 4194304,  // PID_MAX_LIMIT
     .items = "process ids",
     KS_FIELD(pids)},
    {.key = "comm",
     .kind = SettingKind::kStrings,
     .default_value = "",
     .help = "Process names, as in /proc/PID/comm.",
     .flag = "--comm",
     .flag_help = "trace only processes with this name (repeatable)",
     .check = &CheckComms,
     .items = "strings",
     KS_FIELD(comms)},
    {.key = "cgroup",
     .kind = SettingKind::kIdsOrPaths,
     .default_value = "",
     .help = "cgroup v2 paths (/sys/fs/cgroup/...) or cgroup ids.",
     .flag = "--cgroup",
     .flag_help = "trace only this cgroup v2 path or id (repeatable)",
     .check = &CheckCgroups,
     .items = "cgroup paths or ids",
     KS_FIELD(cgroups)},
    {.key = "container",
     .kind = SettingKind::kStrings,
     .default_value = "",
     .help = "Container ids (64 hex digits, or a prefix of at least 12 as `docker ps` shows).",
     .flag = "--container",
     .flag_help = "trace only this container (id or 12+ digit prefix; repeatable)",
     .check = &CheckContainerIds,
     .split_commas = true,
     .items = "container ids",
     KS_FIELD(containers)},
    {.key = "pod",
     .kind = SettingKind::kStrings,
     .default_value = "",
     .help = "Kubernetes pods: a pod UID, or a name or namespace/name (names need [kubernetes] "
             "metadata).",
     .flag = "--pod",
     .flag_help = "trace only this pod (UID, name or namespace/name; repeatable)",
     .check = &CheckNotEmpty,
     .split_commas = true,
     .items = "pods",
     KS_FIELD(pods)},
    {.key = "namespace",
     .kind = SettingKind::kStrings,
     .default_value = "",
     .help = "Kubernetes namespaces (need [kubernetes] metadata).",
     .flag = "--namespace",
     .flag_help = "trace only pods of this Kubernetes namespace (repeatable)",
     .check = &CheckNotEmpty,
     .split_commas = true,
     .items = "namespaces",
     KS_FIELD(namespaces)},
};

std::string Comment(std::string_view help) {
  std::string out;
  size_t start = 0;
  while (start <= help.size()) {
    const size_t nl = help.find('\n', start);
    const std::string_view line =
        help.substr(start, nl == std::string_view::npos ? help.npos : nl - start);
    out += line.empty() ? "#\n" : fmt::format("# {}\n", line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return out;
}

}  // namespace

Result<Nanos> ParseDuration(std::string_view s) {
  auto v = ParseScaled(s, kDurationUnits, "duration", "10s, 100ms, 250us, 5m");
  if (!v) return v.status();
  return Nanos(static_cast<int64_t>(std::min<uint64_t>(*v, INT64_MAX)));
}

Result<unsigned> ParseFileMode(std::string_view s) {
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 8);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || v > 0777)
    return Status::Error(fmt::format("invalid file mode '{}' (expected octal such as 0640)", s));
  return v;
}

Result<uint64_t> ParseSize(std::string_view s) {
  return ParseScaled(s, kSizeUnits, "size", "4MiB, 256KiB, 1048576");
}

std::string FormatDuration(Nanos d) {
  const int64_t ns = d.count();
  if (ns == 0) return "0";
  if (ns % 3600000000000LL == 0) return fmt::format("{}h", ns / 3600000000000LL);
  if (ns % 60000000000LL == 0) return fmt::format("{}m", ns / 60000000000LL);
  if (ns % 1000000000LL == 0) return fmt::format("{}s", ns / 1000000000LL);
  if (ns % 1000000LL == 0) return fmt::format("{}ms", ns / 1000000LL);
  if (ns % 1000LL == 0) return fmt::format("{}us", ns / 1000LL);
  return fmt::format("{}ns", ns);
}

const SectionValues& Config::Section(std::string_view probe) const {
  static const SectionValues kEmpty;
  auto it = sections.find(probe);
  return it == sections.end() ? kEmpty : it->second;
}

SectionValues& Config::Section(std::string_view probe) {
  auto it = sections.find(probe);
  if (it == sections.end()) it = sections.emplace(std::string(probe), SectionValues{}).first;
  return it->second;
}

std::map<std::string, SectionValues, std::less<>> Config::ProbeSectionDefaults() {
  std::map<std::string, SectionValues, std::less<>> out;
  for (const ProbeModule* m : ProbeModules()) {
    SectionValues& v = out[std::string(m->name)];
    for (const SettingDef& d : m->settings) v.Set(d.key, SettingDefault(d));
  }
  // The core sections kept as SectionValues (no typed Config field).
  SectionValues& k8s = out[std::string(kKubernetesSection)];
  for (const SettingDef& d : KubernetesSettings()) k8s.Set(d.key, SettingDefault(d));
  return out;
}

const std::vector<SettingSection>& AllSettingSections() {
  static const std::vector<SettingSection> kAll = [] {
    std::vector<SettingSection> out = {
        {"", "", kTopLevel},
        {"output", "", kOutput},
        {"filter", "Trace only matching processes (a process must match every kind that is set).",
         kFilter},
        {kKubernetesSection,
         "Kubernetes metadata for records (pod name, namespace, container name, labels).",
         KubernetesSettings()},
    };
    for (const ProbeModule* m : ProbeModules())
      out.push_back({m->name, m->settings_help, m->settings, m->validate});
    return out;
  }();
  return kAll;
}

SettingValue GetSetting(const Config& cfg, const SettingSection& s, const SettingDef& d) {
  if (d.get) return d.get(cfg);
  const SettingValue* v = cfg.Section(s.name).Find(d.key);
  return v ? *v : SettingDefault(d);
}

void SetSetting(Config& cfg, const SettingSection& s, const SettingDef& d, SettingValue v) {
  if (d.set) {
    d.set(cfg, v);
    return;
  }
  cfg.Section(s.name).Set(d.key, std::move(v));
}

bool ReloadPlan::Changed(std::string_view section) const {
  // Top-level keys have no "section." prefix.
  const std::string prefix = std::string(section) + ".";
  return std::any_of(applied.begin(), applied.end(), [&](const std::string& k) {
    return section.empty() ? k.find('.') == std::string::npos : k.rfind(prefix, 0) == 0;
  });
}

ReloadPlan PlanReload(const Config& started, const Config& live, const Config& next) {
  ReloadPlan plan{next, {}, {}};
  for (const SettingSection& s : AllSettingSections()) {
    for (const SettingDef& d : s.keys) {
      if (d.apply == SettingApply::kReload) {
        if (!(GetSetting(live, s, d) == GetSetting(next, s, d)))
          plan.applied.push_back(SettingName(s, d));
      } else {
        const SettingValue was = GetSetting(started, s, d);
        if (!(was == GetSetting(next, s, d))) plan.restart_needed.push_back(SettingName(s, d));
        SetSetting(plan.next, s, d, was);
      }
    }
  }
  plan.next.config_path = next.config_path;
  return plan;
}

Status ParseConfigText(std::string_view text, std::string_view source, Config& cfg) {
  // Debian's toml++ is a shared library built with exceptions: keep them here.
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& err) {
    return Status::Error(fmt::format("{}:{}:{}: {}", source, err.source().begin.line,
                                     err.source().begin.column, err.description()));
  }
  const std::vector<SettingSection>& sections = AllSettingSections();
  std::vector<std::string_view> tables;
  for (const auto& s : sections) {
    if (!s.name.empty()) tables.push_back(s.name);
  }
  // The top level: its own keys, the section tables, and `output = PATH` (short form).
  for (const auto& [k, v] : root) {
    const std::string_view key = k.str();
    const bool is_table_name = std::find(tables.begin(), tables.end(), key) != tables.end();
    if (is_table_name && !v.is_table() && key != "output") {
      return Status::Error(
          fmt::format("{}: {} must be a table ([{}])", Where(source, v), key, key));
    }
  }
  std::vector<std::string_view> top_known = tables;
  top_known.emplace_back("output");
  // Unknown top-level keys: not a top-level setting, not a section.
  for (const auto& [k, v] : root) {
    const std::string_view key = k.str();
    const bool known = std::find(top_known.begin(), top_known.end(), key) != top_known.end() ||
                       std::any_of(std::begin(kTopLevel), std::end(kTopLevel),
                                   [&](const SettingDef& d) { return d.key == key; });
    if (!known) {
      std::vector<std::string_view> names;
      for (const auto& d : kTopLevel) names.push_back(d.key);
      names.insert(names.end(), top_known.begin(), top_known.end());
      return Status::Error(fmt::format("{}: unknown key '{}' (known here: {})", Where(source, v),
                                       key, fmt::join(names, ", ")));
    }
  }
  toml::table top;
  for (const auto& [k, v] : root) {
    if (std::find(top_known.begin(), top_known.end(), k.str()) == top_known.end()) top.insert(k, v);
  }
  KS_RETURN_IF_ERROR(ReadSection(top, source, sections[0], {}, cfg));
  for (size_t i = 1; i < sections.size(); ++i) {
    const SettingSection& s = sections[i];
    const toml::node* n = root.get(s.name);
    if (!n) continue;
    if (s.name == "output" && !n->is_table()) {
      // output = "PATH" / ["PATH", "-"]: the short form of output.path.
      toml::table short_form;
      short_form.insert("path", *n);
      KS_RETURN_IF_ERROR(ReadSection(short_form, source, s, {}, cfg));
      continue;
    }
    KS_RETURN_IF_ERROR(ReadSection(*n->as_table(), source, s, {}, cfg));
  }
  return {};
}

Status LoadConfigFile(const std::string& path, bool required, Config& cfg) {
  std::ifstream in(path);
  if (!in) {
    if (!required && errno == ENOENT) return {};
    return Status::Errno(fmt::format("cannot read config file {}", path), errno);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfigText(ss.str(), path, cfg);
}

Status ValidateConfig(const Config& cfg) {
  using std::chrono::milliseconds;
  if (cfg.interval < milliseconds(100)) {
    return Status::Error(
        fmt::format("interval {} is too short (minimum 100ms)", FormatDuration(cfg.interval)));
  }
  if (cfg.duration.count() < 0) return Status::Error("duration must not be negative");
  if (cfg.drain_interval < milliseconds(1) || cfg.drain_interval > milliseconds(1000)) {
    return Status::Error(fmt::format("drain_interval {} must be between 1ms and 1s",
                                     FormatDuration(cfg.drain_interval)));
  }
  const uint32_t rb = cfg.ring_bytes;
  if (rb < 4096 || (rb & (rb - 1)) != 0) {
    return Status::Error(
        fmt::format("ring_size {} must be a power of two and at least 4KiB (e.g. 4MiB)", rb));
  }
  if (cfg.output.empty())
    return Status::Error("output must name at least one sink (a path, or '-' for stdout)");
  for (size_t i = 0; i < cfg.output.size(); ++i) {
    if (cfg.output[i].empty())
      return Status::Error("output must not be empty (use '-' for stdout)");
    for (size_t j = 0; j < i; ++j) {
      if (cfg.output[i] == cfg.output[j])
        return Status::Error(fmt::format("output '{}' is named twice", cfg.output[i]));
    }
  }
  if (cfg.queue_size < (64u << 10) || cfg.queue_size > (4ULL << 30)) {
    return Status::Error(fmt::format(
        "output.queue_size {} must be between 64KiB and 4GiB (e.g. 16MiB)", cfg.queue_size));
  }
  if (cfg.max_size != 0 && cfg.max_size < 4096) {
    return Status::Error(
        fmt::format("output.max_size {} must be 0 (never rotate) or at least 4KiB", cfg.max_size));
  }
  if (cfg.max_size != 0 && (cfg.max_backups < 1 || cfg.max_backups > 100000)) {
    return Status::Error(
        fmt::format("output.max_backups {} must be between 1 and 100000", cfg.max_backups));
  }
  if (cfg.compress != "none" && cfg.compress != "gzip") {
    return Status::Error(
        fmt::format(R"(output.compress '{}' must be "none" or "gzip")", cfg.compress));
  }
  if (cfg.max_total_size != 0 && cfg.max_total_size < cfg.max_size) {
    return Status::Error(
        fmt::format("output.max_total_size {} must be 0 (no cap) or at least "
                    "output.max_size ({})",
                    cfg.max_total_size, cfg.max_size));
  }
  static const std::set<std::string, std::less<>> kLevels = {"trace", "debug",    "info", "warn",
                                                             "error", "critical", "off"};
  if (!kLevels.count(cfg.log_level)) {
    return Status::Error(
        fmt::format("log_level '{}' is not one of trace, debug, info, warn, error, "
                    "critical, off",
                    cfg.log_level));
  }
  if (auto a = ParseListenAddr(cfg.metrics_addr); !a) return a.status();
  for (const auto& c : cfg.comms) {
    if (c.empty() || c.size() > 15) {
      return Status::Error(
          fmt::format("comm filter '{}' must be 1 to 15 characters (the kernel's "
                      "TASK_COMM_LEN)",
                      c));
    }
  }
  for (uint32_t p : cfg.pids) {
    if (p == 0) return Status::Error("pid filter 0 is not a process");
  }
  // Every declared setting's bounds and checks (flags and files both went through them;
  // this also covers values set in code), then each section's checks across its keys.
  for (const SettingSection& s : AllSettingSections()) {
    for (const SettingDef& d : s.keys) {
      if (Status st = CheckSetting(d, GetSetting(cfg, s, d)); !st.ok())
        return st.With(SettingName(s, d));
    }
    if (s.validate) {
      if (Status st = s.validate(cfg.Section(s.name)); !st.ok()) return st.With(s.name);
    }
  }
  return {};
}

std::string DefaultConfigText() {
  std::string out =
      "# ksight configuration (TOML). Every setting with a flag has the same name:\n"
      "# `ksight run --interval 5s` overrides `interval = \"5s\"` here.\n"
      "# SIGHUP reloads this file: output.*, interval, drain_interval and log_level apply at\n"
      "# once; other changes are reported (agent.status restart_needed) and apply at the next "
      "start.\n";
  const Config def;
  for (const SettingSection& s : AllSettingSections()) {
    if (!s.name.empty()) {
      out += "\n";
      if (!s.help.empty()) out += Comment(s.help);
      out += fmt::format("[{}]\n", s.name);
    }
    for (const SettingDef& d : s.keys) {
      if (s.name.empty()) out += "\n";
      out += Comment(d.help);
      out += fmt::format("{} = {}\n", d.key, SettingToToml(d, GetSetting(def, s, d)));
    }
  }
  return out;
}

}  // namespace ksight
