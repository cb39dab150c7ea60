#include "core/cli.h"

#include <CLI/CLI.hpp>

#include <map>
#include <sstream>
#include <vector>

#include "core/agent.h"

namespace ksight {
namespace {

// The flags of every declared setting (settings.h), as the user typed them: parsed after
// CLI11 with the setting's own parser, so a bad value gets the same one-line error as in the
// config file, prefixed with the flag.
struct Flags {
  std::string config;
  std::map<std::string, std::string, std::less<>> scalars;  // by long flag name
  std::map<std::string, std::vector<std::string>, std::less<>> lists;
};

std::string_view LongName(std::string_view flag) { return flag.substr(0, flag.find(',')); }

bool IsListKind(SettingKind k) {
  return k == SettingKind::kPaths || k == SettingKind::kStrings || k == SettingKind::kUints ||
         k == SettingKind::kIdsOrPaths;
}

Command Fail(std::string msg, int code = kExitUsage) {
  Command c;
  c.exit_now = true;
  c.exit_code = code;
  c.err = std::move(msg);
  return c;
}

void AddRunFlags(CLI::App* app, Flags& f) {
  app->add_option("--config,-c", f.config, "TOML config file (default /etc/ksight/ksight.toml)");
  for (const SettingSection& s : AllSettingSections()) {
    for (const SettingDef& d : s.keys) {
      if (d.flag.empty()) continue;
      const std::string name(LongName(d.flag));
      const std::string help = d.flag_help.empty()
                                   ? std::string(d.help.substr(0, d.help.find('\n')))
                                   : std::string(d.flag_help);
      if (IsListKind(d.kind)) {
        auto* opt = app->add_option(std::string(d.flag), f.lists[name], help);
        if (d.split_commas) opt->delimiter(',');
      } else {
        app->add_option(std::string(d.flag), f.scalars[name], help);
      }
    }
  }
}

// Apply the flags the user gave on top of cfg (file values or defaults).
Status ApplyFlags(CLI::App* app, const Flags& f, Config& cfg) {
  for (const SettingSection& s : AllSettingSections()) {
    for (const SettingDef& d : s.keys) {
      if (d.flag.empty()) continue;
      const std::string_view name = LongName(d.flag);
      if (app->count(std::string(name)) == 0) continue;
      Result<SettingValue> v = IsListKind(d.kind)
                                   ? ParseSettingTexts(d, f.lists.find(name)->second)
                                   : ParseSettingText(d, f.scalars.find(name)->second);
      Status st = v.ok() ? CheckSetting(d, *v) : v.status();
      if (!st.ok()) return st.With(name);
      SetSetting(cfg, s, d, std::move(v.value()));
    }
  }
  return {};
}

}  // namespace

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
  std::vector<std::string> check_probes;
  check->add_option("--probes,-p", check_probes, "probes to check")->delimiter(',');
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
  if (st.ok() && sub == check && sub->count("--probes")) {
    cmd.cfg.probes = check_probes;
    for (const SettingDef& d : AllSettingSections().front().keys) {
      if (d.key == "probes") st = CheckSetting(d, SettingValue(check_probes)).With("--probes");
    }
  }
  if (st.ok()) st = ValidateConfig(cmd.cfg);
  if (!st.ok()) return Fail(st.message());
  return cmd;
}

}  // namespace ksight
