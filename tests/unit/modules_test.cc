// The probe modules and the setting tables, checked as data: every declaration parses, every
// record type has its schema, every flag rejects bad input with one line, and a reload sorts
// every key into "applied" or "restart_needed" as its declaration says.
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/agent.h"
#include "core/cli.h"
#include "core/config.h"
#include "core/metrics.h"
#include "core/probe_module.h"
#include "core/settings.h"

namespace ksight {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// Record types written by the core, not by a probe.
const std::set<std::string> kCoreRecordTypes = {"agent.heartbeat", "agent.loss", "agent.status"};

TEST(ProbeModules, NamesAreUniqueAndWellFormed) {
  std::set<std::string_view> seen;
  for (const ProbeModule* m : ProbeModules()) {
    EXPECT_TRUE(std::regex_match(std::string(m->name), std::regex("[a-z][a-z0-9_]*"))) << m->name;
    EXPECT_TRUE(seen.insert(m->name).second) << "probe listed twice: " << m->name;
    EXPECT_FALSE(m->summary.empty()) << m->name;
    EXPECT_EQ(FindProbeModule(m->name), m);
  }
  EXPECT_FALSE(seen.empty());
  EXPECT_EQ(FindProbeModule("no_such_probe"), nullptr);
}

TEST(ProbeModules, EveryRecordTypeHasASchemaAndEverySchemaAnOwner) {
  const fs::path dir = fs::path(KSIGHT_SOURCE_DIR) / "docs" / "schema";
  std::set<std::string> declared = kCoreRecordTypes;
  for (const ProbeModule* m : ProbeModules()) {
    for (std::string_view t : m->record_types) {
      EXPECT_TRUE(declared.insert(std::string(t)).second) << "record type declared twice: " << t;
      EXPECT_TRUE(fs::exists(dir / (std::string(t) + ".schema.json")))
          << m->name << " writes " << t << " but docs/schema/" << t << ".schema.json is missing";
    }
  }
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string file = e.path().filename().string();
    const std::string type = file.substr(0, file.size() - std::string(".schema.json").size());
    if (type == "envelope") continue;
    EXPECT_TRUE(declared.count(type)) << "docs/schema/" << file << " belongs to no probe module";
  }
}

TEST(ProbeModules, MetricFamiliesAreUniqueAndNamedForPrometheus) {
  std::set<std::string_view> names;
  for (const MetricFamilyDef& f : MetricFamilies()) {
    EXPECT_TRUE(names.insert(f.name).second) << "metric family twice: " << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
  }
  for (const ProbeModule* m : ProbeModules()) {
    for (const MetricFamilyDef& f : m->metrics) {
      EXPECT_TRUE(f.name.starts_with("ksight_")) << f.name;
      EXPECT_TRUE(names.count(f.name)) << f.name << " is declared but not rendered";
    }
  }
}

TEST(Settings, EveryDefaultParsesAndPassesItsChecks) {
  std::set<std::string> flags;
  std::set<std::string> keys;
  for (const SettingSection& s : AllSettingSections()) {
    for (const SettingDef& d : s.keys) {
      const std::string name = SettingName(s, d);
      EXPECT_TRUE(keys.insert(name).second) << "declared twice: " << name;
      EXPECT_FALSE(d.help.empty()) << name;
      const auto v = ParseSettingText(d, d.default_value);
      ASSERT_TRUE(v.ok()) << name << ": " << v.status().message();
      const Status checked = CheckSetting(d, v.value());
      EXPECT_TRUE(checked.ok()) << name << ": " << checked.message();
      EXPECT_EQ(v.value(), SettingDefault(d)) << name;
      if (d.flag.empty()) continue;
      EXPECT_TRUE(d.flag.starts_with("--")) << name;
      const std::string long_flag(d.flag.substr(0, d.flag.find(',')));
      EXPECT_TRUE(flags.insert(long_flag).second) << "flag declared twice: " << long_flag;
    }
  }
}

TEST(Settings, DefaultConfigTextNamesEverySection) {
  const std::string text = DefaultConfigText();
  for (const ProbeModule* m : ProbeModules())
    EXPECT_THAT(text, HasSubstr("[" + std::string(m->name) + "]"));
  Config parsed;
  ASSERT_TRUE(ParseConfigText(text, "default", parsed).ok());
  EXPECT_EQ(parsed.sections, Config{}.sections);
}

// A value of d's kind that differs from v (bounds are not the point here: PlanReload does not
// validate).
SettingValue Changed(const SettingDef& d, const SettingValue& v) {
  if (const auto* n = std::get_if<std::chrono::nanoseconds>(&v))
    return *n + std::chrono::seconds(1);
  if (const auto* u = std::get_if<uint64_t>(&v)) return *u + 1;
  if (const auto* s = std::get_if<std::string>(&v)) return *s + "x";
  if (const auto* l = std::get_if<std::vector<std::string>>(&v)) {
    auto c = *l;
    c.emplace_back("x");
    return c;
  }
  auto c = std::get<std::vector<uint64_t>>(v);
  c.push_back(d.min == 0 ? 1 : d.min);
  return c;
}

TEST(Reload, EveryKeyIsEitherAppliedOrKeptUntilRestart) {
  const Config started;
  for (const SettingSection& s : AllSettingSections()) {
    for (const SettingDef& d : s.keys) {
      const std::string name = SettingName(s, d);
      Config next = started;
      const SettingValue changed = Changed(d, GetSetting(started, s, d));
      SetSetting(next, s, d, changed);
      ASSERT_EQ(GetSetting(next, s, d), changed) << name << ": set/get do not round-trip";
      const ReloadPlan plan = PlanReload(started, started, next);
      if (d.apply == SettingApply::kReload) {
        EXPECT_EQ(plan.applied, std::vector<std::string>{name});
        EXPECT_TRUE(plan.restart_needed.empty()) << name;
        EXPECT_EQ(GetSetting(plan.next, s, d), changed) << name;
        EXPECT_TRUE(plan.Changed(s.name)) << name;
      } else {
        EXPECT_EQ(plan.restart_needed, std::vector<std::string>{name});
        EXPECT_TRUE(plan.applied.empty()) << name;
        EXPECT_EQ(GetSetting(plan.next, s, d), GetSetting(started, s, d))
            << name << " must stay as started";
      }
    }
  }
}

TEST(Reload, ASecondReloadComparesWithTheLiveConfig) {
  // interval is applied by SIGHUP: after one reload to 20s, reloading 20s again changes nothing.
  const Config started;
  Config next = started;
  next.interval = std::chrono::seconds(20);
  const ReloadPlan first = PlanReload(started, started, next);
  EXPECT_EQ(first.applied, std::vector<std::string>{"interval"});
  const ReloadPlan second = PlanReload(started, first.next, next);
  EXPECT_TRUE(second.applied.empty());
}

Command ParseArgs(std::vector<std::string> args) {
  std::vector<const char*> argv = {"ksight", "run", "--config", "/dev/null"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

// Every flag that takes a number, a size, a duration or a mode: a word is one clear line and
// exit code 2 naming the flag; so is a value above its bound.
TEST(Flags, EveryTypedFlagRejectsBadInputWithOneLine) {
  int tried = 0;
  for (const SettingSection& s : AllSettingSections()) {
    for (const SettingDef& d : s.keys) {
      if (d.flag.empty()) continue;
      const std::string flag(d.flag.substr(0, d.flag.find(',')));
      std::vector<std::string> bad;
      switch (d.kind) {
        case SettingKind::kDuration:
          bad = {"soon", "-1s"};
          break;
        case SettingKind::kSize:
          bad = {"lots", "4 furlongs"};
          break;
        case SettingKind::kUint:
        case SettingKind::kUints:
          bad = {"many", "-1", "99999999999999999999999"};
          break;
        case SettingKind::kMode:
          bad = {"rw", "0999"};
          break;
        case SettingKind::kIdsOrPaths:
          bad = {"99999999999999999999999", "0"};
          break;
        default:
          continue;
      }
      if (d.max != UINT64_MAX && d.kind == SettingKind::kUint)
        bad.push_back(std::to_string(d.max + 1));
      for (const auto& v : bad) {
        const Command c = ParseArgs({flag, v});
        ++tried;
        EXPECT_TRUE(c.exit_now) << flag << " " << v;
        EXPECT_EQ(c.exit_code, kExitUsage) << flag << " " << v << ": " << c.err;
        EXPECT_THAT(c.err, HasSubstr(flag)) << v;
        EXPECT_EQ(c.err.find('\n'), std::string::npos) << c.err;
      }
    }
  }
  EXPECT_GT(tried, 10);
}

}  // namespace
}  // namespace ksight
