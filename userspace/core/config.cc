#include "core/config.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "core/metrics.h"

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

// Reads one table against a schema of known keys, collecting the first error.
class TableReader {
 public:
  TableReader(const toml::table& t, std::string_view source, std::string prefix)
      : t_(t), source_(source), prefix_(std::move(prefix)) {}

  Status Unknown(std::initializer_list<std::string_view> known) const {
    for (const auto& [k, v] : t_) {
      if (std::find(known.begin(), known.end(), k.str()) == known.end()) {
        return Status::Error(fmt::format("{}: unknown key '{}{}' (known here: {})",
                                         Where(source_, v), prefix_, k.str(),
                                         fmt::join(known, ", ")));
      }
    }
    return {};
  }

  Status String(std::string_view key, std::string& out) const {
    const auto* n = t_.get(key);
    if (!n) return {};
    if (!n->is_string()) return TypeError(key, *n, "a string");
    out = n->as_string()->get();
    return {};
  }

  Status Duration(std::string_view key, Nanos& out) const {
    const auto* n = t_.get(key);
    if (!n) return {};
    if (n->is_integer() && n->as_integer()->get() == 0) {
      out = Nanos(0);
      return {};
    }
    if (!n->is_string()) return TypeError(key, *n, "a duration string such as \"10s\"");
    auto d = ParseDuration(n->as_string()->get());
    if (!d) return d.status().With(fmt::format("{}: {}{}", Where(source_, *n), prefix_, key));
    out = *d;
    return {};
  }

  Status Size(std::string_view key, uint32_t& out) const {
    const auto* n = t_.get(key);
    if (!n) return {};
    uint64_t v = 0;
    if (n->is_integer() && n->as_integer()->get() >= 0) {
      v = static_cast<uint64_t>(n->as_integer()->get());
    } else if (n->is_string()) {
      auto s = ParseSize(n->as_string()->get());
      if (!s) return s.status().With(fmt::format("{}: {}{}", Where(source_, *n), prefix_, key));
      v = *s;
    } else {
      return TypeError(key, *n, "a size such as \"4MiB\"");
    }
    if (v > UINT32_MAX) {
      return Status::Error(fmt::format("{}: {}{} is too large", Where(source_, *n), prefix_, key));
    }
    out = static_cast<uint32_t>(v);
    return {};
  }

  Status Size64(std::string_view key, uint64_t& out) const {
    const auto* n = t_.get(key);
    if (!n) return {};
    if (n->is_integer() && n->as_integer()->get() >= 0) {
      out = static_cast<uint64_t>(n->as_integer()->get());
    } else if (n->is_string()) {
      auto s = ParseSize(n->as_string()->get());
      if (!s) return s.status().With(fmt::format("{}: {}{}", Where(source_, *n), prefix_, key));
      out = *s;
    } else {
      return TypeError(key, *n, "a size such as \"16MiB\"");
    }
    return {};
  }

  Status Mode(std::string_view key, unsigned& out) const {
    const auto* n = t_.get(key);
    if (!n) return {};
    if (n->is_integer() && n->as_integer()->get() >= 0 && n->as_integer()->get() <= 0777) {
      out = static_cast<unsigned>(n->as_integer()->get());
      return {};
    }
    if (n->is_string()) {
      auto m = ParseFileMode(n->as_string()->get());
      if (!m) return m.status().With(fmt::format("{}: {}{}", Where(source_, *n), prefix_, key));
      out = *m;
      return {};
    }
    return TypeError(key, *n, "a file mode such as \"0640\"");
  }

  // A string or an array of strings.
  Status StringList(std::string_view key, std::vector<std::string>& out) const {
    const auto* n = t_.get(key);
    if (!n) return {};
    if (n->is_string()) {
      out = {n->as_string()->get()};
      return {};
    }
    if (!n->is_array()) return TypeError(key, *n, "a path or an array of paths");
    std::vector<std::string> vals;
    for (const auto& e : *n->as_array()) {
      if (!e.is_string()) return TypeError(key, e, "a path or an array of paths");
      vals.push_back(e.as_string()->get());
    }
    out = std::move(vals);
    return {};
  }

  Status Uint32(std::string_view key, uint32_t& out) const {
    const auto* n = t_.get(key);
    if (!n) return {};
    if (!n->is_integer() || n->as_integer()->get() < 0 || n->as_integer()->get() > UINT32_MAX)
      return TypeError(key, *n, "a non-negative integer");
    out = static_cast<uint32_t>(n->as_integer()->get());
    return {};
  }

  template <typename T, typename Conv>
  Status Array(std::string_view key, std::vector<T>& out, std::string_view what, Conv conv) const {
    const auto* n = t_.get(key);
    if (!n) return {};
    if (!n->is_array()) return TypeError(key, *n, fmt::format("an array of {}", what));
    std::vector<T> vals;
    for (const auto& e : *n->as_array()) {
      auto v = conv(e);
      if (!v) return TypeError(key, e, fmt::format("an array of {}", what));
      vals.push_back(*v);
    }
    out = std::move(vals);
    return {};
  }

 private:
  Status TypeError(std::string_view key, const toml::node& n, std::string_view want) const {
    return Status::Error(fmt::format("{}: {}{} must be {}", Where(source_, n), prefix_, key, want));
  }
  const toml::table& t_;
  std::string_view source_;
  std::string prefix_;
};

std::optional<std::string> AsString(const toml::node& n) {
  if (n.is_string()) return n.as_string()->get();
  return std::nullopt;
}

template <typename T>
std::optional<T> AsUint(const toml::node& n) {
  if (!n.is_integer()) return std::nullopt;
  const int64_t v = n.as_integer()->get();
  if (v < 0 || static_cast<uint64_t>(v) > std::numeric_limits<T>::max()) return std::nullopt;
  return static_cast<T>(v);
}

std::optional<std::string> AsCgroup(const toml::node& n) {
  if (n.is_string()) return n.as_string()->get();
  if (n.is_integer() && n.as_integer()->get() >= 0) return std::to_string(n.as_integer()->get());
  return std::nullopt;
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

Status ParseConfigText(std::string_view text, std::string_view source, Config& cfg) {
  // Debian's toml++ is a shared library built with exceptions: keep them here.
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& err) {
    return Status::Error(fmt::format("{}:{}:{}: {}", source, err.source().begin.line,
                                     err.source().begin.column, err.description()));
  }
  TableReader r(root, source, "");
  KS_RETURN_IF_ERROR(r.Unknown({"probes", "output", "interval", "duration", "drain_interval",
                                "log_level", "host_name", "ring_size", "metrics_addr", "filter",
                                "syscalls", "tcp_retransmit"}));
  KS_RETURN_IF_ERROR(r.Array(std::string_view("probes"), cfg.probes, "strings", AsString));
  if (const auto* o = root.get("output"); o && o->is_table()) {
    TableReader t(*o->as_table(), source, "output.");
    KS_RETURN_IF_ERROR(t.Unknown({"path", "queue_size", "file_mode", "max_size", "max_backups",
                                  "compress", "max_total_size"}));
    KS_RETURN_IF_ERROR(t.StringList("path", cfg.output));
    KS_RETURN_IF_ERROR(t.Size64("queue_size", cfg.queue_size));
    KS_RETURN_IF_ERROR(t.Mode("file_mode", cfg.file_mode));
    KS_RETURN_IF_ERROR(t.Size64("max_size", cfg.max_size));
    KS_RETURN_IF_ERROR(t.Uint32("max_backups", cfg.max_backups));
    KS_RETURN_IF_ERROR(t.String("compress", cfg.compress));
    KS_RETURN_IF_ERROR(t.Size64("max_total_size", cfg.max_total_size));
  } else {
    KS_RETURN_IF_ERROR(r.StringList("output", cfg.output));
  }
  KS_RETURN_IF_ERROR(r.Duration("interval", cfg.interval));
  KS_RETURN_IF_ERROR(r.Duration("duration", cfg.duration));
  KS_RETURN_IF_ERROR(r.Duration("drain_interval", cfg.drain_interval));
  KS_RETURN_IF_ERROR(r.String("log_level", cfg.log_level));
  KS_RETURN_IF_ERROR(r.String("host_name", cfg.host_name));
  KS_RETURN_IF_ERROR(r.Size("ring_size", cfg.ring_bytes));
  KS_RETURN_IF_ERROR(r.String("metrics_addr", cfg.metrics_addr));

  auto sub = [&](std::string_view name) -> Result<const toml::table*> {
    const auto* n = root.get(name);
    if (!n) return static_cast<const toml::table*>(nullptr);
    if (!n->is_table()) {
      return Status::Error(
          fmt::format("{}: {} must be a table ([{}])", Where(source, *n), name, name));
    }
    return n->as_table();
  };
  auto filter = sub("filter");
  if (!filter) return filter.status();
  if (*filter) {
    TableReader f(**filter, source, "filter.");
    KS_RETURN_IF_ERROR(f.Unknown({"pid", "comm", "cgroup"}));
    KS_RETURN_IF_ERROR(f.Array(std::string_view("pid"), cfg.pids, "process ids", AsUint<uint32_t>));
    KS_RETURN_IF_ERROR(f.Array(std::string_view("comm"), cfg.comms, "strings", AsString));
    KS_RETURN_IF_ERROR(
        f.Array(std::string_view("cgroup"), cfg.cgroups, "cgroup paths or ids", AsCgroup));
  }
  auto sys = sub("syscalls");
  if (!sys) return sys.status();
  if (*sys) {
    TableReader s(**sys, source, "syscalls.");
    KS_RETURN_IF_ERROR(s.Unknown({"slow", "watch_errnos", "stats_entries"}));
    KS_RETURN_IF_ERROR(s.Duration("slow", cfg.slow));
    KS_RETURN_IF_ERROR(
        s.Array(std::string_view("watch_errnos"), cfg.watch_errnos, "errno names", AsString));
    KS_RETURN_IF_ERROR(s.Uint32("stats_entries", cfg.syscall_stats_entries));
  }
  auto tcp = sub("tcp_retransmit");
  if (!tcp) return tcp.status();
  if (*tcp) {
    TableReader t(**tcp, source, "tcp_retransmit.");
    KS_RETURN_IF_ERROR(t.Unknown({"ports"}));
    KS_RETURN_IF_ERROR(
        t.Array(std::string_view("ports"), cfg.tcp_ports, "port numbers", AsUint<uint16_t>));
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
  if (cfg.syscall_stats_entries < 16)
    return Status::Error("syscalls.stats_entries must be at least 16");
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
  return {};
}

std::string DefaultConfigText() {
  return R"(# ksight configuration (TOML). Every setting has a flag of the same name:
# `ksight run --interval 5s` overrides `interval = "5s"` here.

# Probes to run; an empty list runs every probe this host supports.
# Known probes: see `ksight check`.
probes = []

# Rollup period: syscall.stats, agent.heartbeat and the other per-interval records.
interval = "10s"

# Stop after this long (0 = run until SIGINT/SIGTERM).
duration = 0

# How often the agent drains the BPF ring buffers (1ms..1s).
drain_interval = "5ms"

# The agent's own log level on stderr: trace, debug, info, warn, error, critical, off.
log_level = "info"

# host.name in every record; empty = the kernel's hostname.
host_name = ""

# BPF ring buffer size per probe (power of two).
ring_size = "4MiB"

# Prometheus /metrics, /healthz and /readyz: HOST:PORT ([::1]:9815 for IPv6), or "off".
# Loopback by default; 0.0.0.0:9815 exposes it to the network.
metrics_addr = "127.0.0.1:9815"

[output]
# Where events go: a JSON-lines file, "-" for stdout, or an array of both
# (e.g. ["/var/log/ksight/events.jsonl", "-"]); each sink has its own writer.
# `output = "PATH"` at the top level is the short form of `path`.
path = "/var/log/ksight/events.jsonl"
# Formatted lines waiting for each sink's writer; when full, lines are
# dropped and counted (queue_full) instead of stalling the probes.
queue_size = "16MiB"
# Mode of files the agent creates (the directory is created 0750).
file_mode = "0640"
# Rotate a file (events.jsonl -> events.jsonl.1 ...) before it exceeds this; 0 = never.
max_size = "100MiB"
# Backups kept: events.jsonl.1 (newest) .. events.jsonl.N.
max_backups = 5
# "gzip" compresses backups (events.jsonl.N.gz) in the background; "none" keeps them as is.
compress = "none"
# Cap on the current file + its backups; the oldest backups are deleted (0 = no cap).
max_total_size = 0

[filter]
# Trace only matching processes (a process must match every kind that is set).
pid = []        # process ids (tgid)
comm = []       # process names, as in /proc/PID/comm
cgroup = []     # cgroup v2 paths (/sys/fs/cgroup/...) or cgroup ids

[syscalls]
# A `syscall` record for every call at least this slow.
slow = "100ms"
# A `syscall` record for every call failing with one of these errnos, e.g. ["EACCES", "EPERM"].
watch_errnos = []
# Most (process, syscall) pairs aggregated in the kernel at once.
stats_entries = 16384

[tcp_retransmit]
# Only retransmits on these local or remote ports (empty = all).
ports = []
)";
}

}  // namespace ksight
