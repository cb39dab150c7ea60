#include "core/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "core/agent.h"
#include "core/cli.h"

namespace ksight {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

TEST(Duration, ParsesUnits) {
  EXPECT_EQ(*ParseDuration("10s"), 10s);
  EXPECT_EQ(*ParseDuration("100ms"), 100ms);
  EXPECT_EQ(*ParseDuration("250us"), 250us);
  EXPECT_EQ(*ParseDuration("5m"), 5min);
  EXPECT_EQ(*ParseDuration("1h"), 1h);
  EXPECT_EQ(*ParseDuration("0"), 0s);
  EXPECT_EQ(*ParseDuration("7ns"), 7ns);
}

TEST(Duration, RejectsGarbage) {
  for (const char* bad : {"", "s", "10", "10x", "-5s", "1.5s", "10 parsecs"}) {
    auto r = ParseDuration(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) EXPECT_THAT(r.status().message(), HasSubstr("invalid duration")) << bad;
  }
}

TEST(Size, ParsesUnits) {
  EXPECT_EQ(*ParseSize("4MiB"), 4u << 20);
  EXPECT_EQ(*ParseSize("256KiB"), 256u << 10);
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_FALSE(ParseSize("4 furlongs").ok());
}

TEST(ConfigFile, DefaultTextParsesToTheDefaults) {
  Config parsed;
  parsed.interval = 1s;  // make sure the text sets it back
  parsed.output = {"elsewhere"};
  ASSERT_TRUE(ParseConfigText(DefaultConfigText(), "default", parsed).ok());
  const Config def;
  EXPECT_EQ(parsed.interval, def.interval);
  EXPECT_EQ(parsed.output, def.output);
  EXPECT_EQ(parsed.sections, def.sections);
  EXPECT_EQ(parsed.ring_bytes, def.ring_bytes);
  EXPECT_EQ(parsed.drain_interval, def.drain_interval);
  EXPECT_EQ(parsed.probes, def.probes);
  EXPECT_TRUE(ValidateConfig(parsed).ok());
}

TEST(ConfigFile, ReadsEveryKind) {
  Config c;
  const auto st = ParseConfigText(R"(
probes = ["syscalls"]
output = "-"
interval = "2s"
ring_size = "1MiB"
[filter]
pid = [42, 43]
comm = ["nginx"]
cgroup = ["/sys/fs/cgroup/system.slice", 1234]
[syscalls]
slow = "5ms"
watch_errnos = ["EACCES"]
[tcp_retransmit]
ports = [443]
)",
                                  "t.toml", c);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(c.probes, std::vector<std::string>{"syscalls"});
  EXPECT_EQ(c.interval, 2s);
  EXPECT_EQ(c.ring_bytes, 1u << 20);
  EXPECT_EQ(c.pids, (std::vector<uint32_t>{42, 43}));
  EXPECT_EQ(c.cgroups, (std::vector<std::string>{"/sys/fs/cgroup/system.slice", "1234"}));
  EXPECT_EQ(c.Section("syscalls").Duration("slow"), 5ms);
  EXPECT_EQ(c.Section("syscalls").Strings("watch_errnos"), std::vector<std::string>{"EACCES"});
  EXPECT_EQ(c.Section("tcp_retransmit").Uints("ports"), std::vector<uint64_t>{443});
}

struct BadConfig {
  const char* text;
  const char* message;
};

class ConfigErrors : public ::testing::TestWithParam<BadConfig> {};

TEST_P(ConfigErrors, NameTheProblemAndWhere) {
  Config c;
  const auto st = ParseConfigText(GetParam().text, "k.toml", c);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr(GetParam().message));
  EXPECT_THAT(st.message(), HasSubstr("k.toml"));
}

INSTANTIATE_TEST_SUITE_P(
    All, ConfigErrors,
    ::testing::Values(BadConfig{"intervall = \"5s\"", "unknown key 'intervall'"},
                      BadConfig{"interval = 5", "interval must be a duration"},
                      BadConfig{"interval = \"5 fortnights\"", "invalid duration"},
                      BadConfig{"[filter]\npid = [\"x\"]",
                                "filter.pid must be an array of process ids"},
                      BadConfig{"[filter]\nuser = 1", "unknown key 'filter.user'"},
                      BadConfig{"filter = 3", "filter must be a table"},
                      BadConfig{"output = [", "k.toml:1:"},
                      BadConfig{"[syscalls]\nslow = true", "syscalls.slow must be a duration"},
                      BadConfig{"ring_size = \"lots\"", "invalid size"}));

TEST(ConfigValidate, CrossFieldErrors) {
  Config c;
  c.interval = 10ms;
  EXPECT_THAT(ValidateConfig(c).message(), HasSubstr("interval 10ms is too short"));
  c = Config{};
  c.ring_bytes = 5000;
  EXPECT_THAT(ValidateConfig(c).message(), HasSubstr("power of two"));
  c = Config{};
  c.comms = {"a-very-long-process-name"};
  EXPECT_THAT(ValidateConfig(c).message(), HasSubstr("1 to 15 characters"));
  c = Config{};
  c.log_level = "loud";
  EXPECT_THAT(ValidateConfig(c).message(), HasSubstr("log_level 'loud'"));
}

Command Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "ksight");
  return ParseCommandLine(static_cast<int>(args.size()), args.data());
}

TEST(CommandLine, FlagsOverrideDefaults) {
  auto c = Parse({"run", "--config", "/dev/null", "--output", "-", "--interval", "1s", "--pid", "7",
                  "--pid", "8", "--probes", "syscalls", "--slow", "0", "--watch-errno",
                  "ENOENT,EACCES"});
  ASSERT_FALSE(c.exit_now) << c.err;
  EXPECT_EQ(c.kind, Command::Kind::kRun);
  EXPECT_EQ(c.cfg.output, std::vector<std::string>{"-"});
  EXPECT_EQ(c.cfg.interval, 1s);
  EXPECT_EQ(c.cfg.pids, (std::vector<uint32_t>{7, 8}));
  EXPECT_EQ(c.cfg.Section("syscalls").Duration("slow"), 0s);
  EXPECT_EQ(c.cfg.Section("syscalls").Strings("watch_errnos"),
            (std::vector<std::string>{"ENOENT", "EACCES"}));
}

TEST(CommandLine, FlagsWinOverTheFile) {
  const std::string path = ::testing::TempDir() + "/ksight_flags.toml";
  std::ofstream(path) << "interval = \"30s\"\noutput = \"/tmp/x.jsonl\"\n";
  auto c = Parse({"run", "--config", path.c_str(), "--interval", "2s"});
  ASSERT_FALSE(c.exit_now) << c.err;
  EXPECT_EQ(c.cfg.interval, 2s);                                      // flag
  EXPECT_EQ(c.cfg.output, std::vector<std::string>{"/tmp/x.jsonl"});  // file
}

struct BadArgs {
  std::vector<const char*> args;
  const char* message;
};

class CommandLineErrors : public ::testing::TestWithParam<BadArgs> {};

TEST_P(CommandLineErrors, ExitTwoWithOneClearLine) {
  auto c = Parse(GetParam().args);
  EXPECT_TRUE(c.exit_now);
  EXPECT_EQ(c.exit_code, kExitUsage);
  EXPECT_THAT(c.err, HasSubstr(GetParam().message));
  EXPECT_EQ(c.err.find('\n'), std::string::npos) << c.err;
}

INSTANTIATE_TEST_SUITE_P(
    All, CommandLineErrors,
    ::testing::Values(
        BadArgs{{}, "A subcommand is required"}, BadArgs{{"frobnicate"}, "frobnicate"},
        BadArgs{{"run", "--config", "/dev/null", "--interval", "soon"},
                "--interval: invalid duration 'soon'"},
        BadArgs{{"run", "--config", "/dev/null", "--interval", "1ms"},
                "must be between 100ms and 24h"},
        BadArgs{{"run", "--config", "/dev/null", "--pid", "abc"}, "--pid"},
        BadArgs{{"run", "--config", "/dev/null", "--probes", "sycalls"}, "unknown probe 'sycalls'"},
        BadArgs{{"run", "--config", "/dev/null", "--watch-errno", "EWHAT"},
                "'EWHAT' is not an errno"},
        BadArgs{{"run", "--config", "/nonexistent/ksight.toml"},
                "cannot read config file /nonexistent/ksight.toml"},
        BadArgs{{"run", "--config", "/dev/null", "--no-such-flag"}, "--no-such-flag"},
        BadArgs{{"run", "--config", "/dev/null", "--ring-size", "3KiB"}, "power of two"}));

TEST(CommandLine, MissingDefaultConfigIsFine) {
  // /etc/ksight/ksight.toml is optional; only a named --config must exist.
  auto c = Parse({"check"});
  if (c.exit_now) EXPECT_THAT(c.err, ::testing::Not(HasSubstr("/etc/ksight/ksight.toml: No such")));
}

// The real binary: bad input -> exit code 2 and one line on stderr, no crash.
TEST(Binary, BadFlagExitsTwoWithOneLine) {
  std::array<char, 4096> buf{};
  const std::string cmd =
      std::string(KSIGHT_BINARY) + " run --config /dev/null --interval soon 2>&1 >/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  const size_t n = fread(buf.data(), 1, buf.size() - 1, p);
  const int status = pclose(p);
  const std::string out(buf.data(), n);
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_EQ(out,
            "ksight: --interval: invalid duration 'soon' (expected e.g. 10s, 100ms, 250us, 5m)\n");
}

TEST(Binary, ConfigDefaultRoundTrips) {
  const std::string path = ::testing::TempDir() + "/ksight_default.toml";
  const std::string cmd = std::string(KSIGHT_BINARY) + " config default > " + path;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  Config c;
  EXPECT_TRUE(LoadConfigFile(path, true, c).ok());
}

}  // namespace
}  // namespace ksight
