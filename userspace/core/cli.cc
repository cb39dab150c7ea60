#include "core/cli.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <sstream>

#include "core/agent.h"
#include "probes/syscalls/syscall_names.h"

namespace ksight {
namespace {

struct Flags {
  std::string config;
  std::vector<std::string> probes;
  std::vector<std::string> output;
  std::string queue_size, max_size, max_backups, compress, max_total_size, file_mode;
  std::string interval, duration, slow, ring_size, log_level, drain_interval, host_name,
      metrics_addr;
  std::vector<uint32_t> pids;
  std::vector<std::string> comms, cgroups, watch_errnos;
  std::vector<uint16_t> ports;
};

Command Fail(std::string msg, int code = kExitUsage) {
  Command c;
  c.exit_now = true;
  c.exit_code = code;
  c.err = std::move(msg);
  return c;
}

void AddRunFlags(CLI::App* app, Flags& f) {
  app->add_option("--config,-c", f.config, "TOML config file (default /etc/ksight/ksight.toml)");
  app->add_option("--probes,-p", f.probes, "probes to run, comma-separated (default: all)")
      ->delimiter(',');
  app->add_option("--output,-o", f.output,
                  "JSON-lines file, or - for stdout (repeatable: every sink gets every line)");
  app->add_option("--queue-size", f.queue_size, "per-sink queue of formatted lines, e.g. 16MiB");
  app->add_option("--max-size", f.max_size,
                  "rotate a file before it exceeds this, e.g. 100MiB (0 = never)");
  app->add_option("--max-backups", f.max_backups, "rotated files kept (events.jsonl.1 .. .N)");
  app->add_option("--compress", f.compress, "compress rotated files: none or gzip");
  app->add_option("--max-total-size", f.max_total_size, "cap on a file and its backups (0 = none)");
  app->add_option("--file-mode", f.file_mode, "mode of created files, octal (default 0640)");
  app->add_option("--interval", f.interval, "rollup period, e.g. 10s");
  app->add_option("--duration", f.duration, "stop after this long, e.g. 30s (0 = until signalled)");
  app->add_option("--pid", f.pids, "trace only this process id (repeatable)");
  app->add_option("--comm", f.comms, "trace only processes with this name (repeatable)");
  app->add_option("--cgroup", f.cgroups, "trace only this cgroup v2 path or id (repeatable)");
  app->add_option("--slow", f.slow,
                  "a syscall record for every call at least this slow (e.g. 100ms)");
  app->add_option("--watch-errno", f.watch_errnos,
                  "a syscall record for every call failing with "
                  "this errno (repeatable, e.g. EACCES)")
      ->delimiter(',');
  app->add_option("--port", f.ports, "tcp_retransmit: only these ports (repeatable)")
      ->delimiter(',');
  app->add_option("--ring-size", f.ring_size, "BPF ring buffer per probe, e.g. 4MiB");
  app->add_option("--drain-interval", f.drain_interval, "ring drain period, e.g. 5ms");
  app->add_option("--log-level", f.log_level, "agent log level on stderr (info, debug, ...)");
  app->add_option("--host-name", f.host_name, "host.name in records (default: hostname)");
  app->add_option("--metrics-addr", f.metrics_addr,
                  "/metrics, /healthz, /readyz on HOST:PORT, or off (default 127.0.0.1:9815)");
}

// Apply the flags the user gave on top of cfg (file values or defaults).
Status ApplyFlags(CLI::App* app, const Flags& f, Config& cfg) {
  auto given = [&](const char* name) { return app->count(name) > 0; };
  if (given("--probes")) cfg.probes = f.probes;
  if (given("--output")) cfg.output = f.output;
  auto size = [&](const char* name, const std::string& v, uint64_t& out) -> Status {
    if (!given(name)) return {};
    auto s = ParseSize(v);
    if (!s) return s.status().With(name);
    out = *s;
    return {};
  };
  KS_RETURN_IF_ERROR(size("--queue-size", f.queue_size, cfg.queue_size));
  KS_RETURN_IF_ERROR(size("--max-size", f.max_size, cfg.max_size));
  KS_RETURN_IF_ERROR(size("--max-total-size", f.max_total_size, cfg.max_total_size));
  if (given("--max-backups")) {
    uint64_t n = 0;
    auto [ptr, ec] =
        std::from_chars(f.max_backups.data(), f.max_backups.data() + f.max_backups.size(), n);
    if (ec != std::errc() || ptr != f.max_backups.data() + f.max_backups.size() || n > UINT32_MAX)
      return Status::Error(fmt::format("--max-backups: '{}' is not a number", f.max_backups));
    cfg.max_backups = static_cast<uint32_t>(n);
  }
  if (given("--compress")) cfg.compress = f.compress;
  if (given("--file-mode")) {
    auto m = ParseFileMode(f.file_mode);
    if (!m) return m.status().With("--file-mode");
    cfg.file_mode = *m;
  }
  auto dur = [&](const char* name, const std::string& v, Nanos& out) -> Status {
    if (!given(name)) return {};
    auto d = ParseDuration(v);
    if (!d) return d.status().With(name);
    out = *d;
    return {};
  };
  KS_RETURN_IF_ERROR(dur("--interval", f.interval, cfg.interval));
  KS_RETURN_IF_ERROR(dur("--duration", f.duration, cfg.duration));
  KS_RETURN_IF_ERROR(dur("--slow", f.slow, cfg.slow));
  KS_RETURN_IF_ERROR(dur("--drain-interval", f.drain_interval, cfg.drain_interval));
  if (given("--pid")) cfg.pids = f.pids;
  if (given("--comm")) cfg.comms = f.comms;
  if (given("--cgroup")) cfg.cgroups = f.cgroups;
  if (given("--watch-errno")) cfg.watch_errnos = f.watch_errnos;
  if (given("--port")) cfg.tcp_ports = f.ports;
  if (given("--log-level")) cfg.log_level = f.log_level;
  if (given("--host-name")) cfg.host_name = f.host_name;
  if (given("--metrics-addr")) cfg.metrics_addr = f.metrics_addr;
  if (given("--ring-size")) {
    auto s = ParseSize(f.ring_size);
    if (!s) return s.status().With("--ring-size");
    if (*s > UINT32_MAX) return Status::Error("--ring-size: too large");
    cfg.ring_bytes = static_cast<uint32_t>(*s);
  }
  return {};
}

Status ValidateNames(const Config& cfg, const std::vector<std::string>& known_probes) {
  for (const auto& p : cfg.probes) {
    if (std::find(known_probes.begin(), known_probes.end(), p) == known_probes.end()) {
      std::string list;
      for (const auto& k : known_probes) list += (list.empty() ? "" : ", ") + k;
      return Status::Error(fmt::format("unknown probe '{}' (known probes: {})", p, list));
    }
  }
  for (const auto& e : cfg.watch_errnos) {
    if (!syscalls::ErrnoNumber(e))
      return Status::Error(fmt::format("watch_errnos: '{}' is not an errno name (e.g. EACCES)", e));
  }
  return {};
}

}  // namespace

// Defined by the agent library (the registry); a weak default keeps the pure
// library linkable into unit tests, which pass their own list.
std::vector<std::string> KnownProbeNames();

Command ParseCommandLine(int argc, const char* const* argv) {
  CLI::App app{"ksight - eBPF kernel tracing agent: syscalls, TCP retransmits, GPU driver events",
               "ksight"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "help for every subcommand");
  Flags run_flags, check_flags;
  CLI::App* run = app.add_subcommand("run", "run the agent in the foreground");
  AddRunFlags(run, run_flags);
  CLI::App* check = app.add_subcommand("check", "show which probes this host can run, and why not");
  check->add_option("--config,-c", check_flags.config, "TOML config file");
  check->add_option("--probes,-p", check_flags.probes, "probes to check")->delimiter(',');
  app.add_subcommand("version", "print the version");
  CLI::App* config = app.add_subcommand("config", "config helpers");
  config->require_subcommand(1);
  config->add_subcommand("default", "print the commented default config");

  if (argc > 1 && argv[1][0] != '-') {
    const std::string_view sub = argv[1];
    if (sub != "run" && sub != "check" && sub != "version" && sub != "config") {
      return Fail(
          fmt::format("unknown command '{}' (commands: run, check, version, config; see "
                      "ksight --help)",
                      sub));
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    Command c;
    c.exit_now = true;
    c.exit_code = 0;
    std::ostringstream os;
    app.exit(e, os, os);
    c.out = os.str();
    return c;
  } catch (const CLI::CallForAllHelp& e) {
    Command c;
    c.exit_now = true;
    std::ostringstream os;
    app.exit(e, os, os);
    c.out = os.str();
    return c;
  } catch (const CLI::ParseError& e) {
    std::string where;
    for (const auto* sub : app.get_subcommands()) where = std::string(" ") + sub->get_name();
    return Fail(fmt::format("{} (see: ksight{} --help)", e.what(), where));
  }

  Command cmd;
  if (app.got_subcommand("version")) {
    cmd.kind = Command::Kind::kVersion;
    return cmd;
  }
  if (app.got_subcommand("config")) {
    cmd.kind = Command::Kind::kConfigDefault;
    return cmd;
  }
  CLI::App* sub = app.got_subcommand("run") ? run : check;
  Flags& f = sub == run ? run_flags : check_flags;
  cmd.kind = sub == run ? Command::Kind::kRun : Command::Kind::kCheck;
  const bool explicit_config = sub->count("--config") > 0;
  cmd.cfg.config_path = explicit_config ? f.config : cmd.cfg.config_path;
  Status st = LoadConfigFile(cmd.cfg.config_path, explicit_config, cmd.cfg);
  if (st.ok()) st = sub == run ? ApplyFlags(run, f, cmd.cfg) : Status();
  if (st.ok() && sub == check && sub->count("--probes")) cmd.cfg.probes = f.probes;
  if (st.ok()) st = ValidateConfig(cmd.cfg);
  if (st.ok()) st = ValidateNames(cmd.cfg, KnownProbeNames());
  if (!st.ok()) return Fail(st.message());
  return cmd;
}

}  // namespace ksight
