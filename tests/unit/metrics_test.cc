// The /metrics renderer (Prometheus text format 0.0.4), the health verdicts,
// /proc/self/stat parsing and the listen address syntax.
#include "core/metrics.h"

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config.h"
#include "probes/syscalls/syscalls_module.h"
#include "probes/tcp_retransmit/tcp_retransmit_module.h"

namespace ksight {
namespace {

using ::testing::HasSubstr;

// A parsed exposition: family -> TYPE, and every sample line as (series, value text).
struct Parsed {
  std::vector<std::string> help_order;
  std::map<std::string, std::string> types;
  std::map<std::string, std::string> samples;  // "name{labels}" -> value
  std::vector<std::string> errors;
};

Parsed Parse(const std::string& text) {
  // name, optional {label="value",...} with the format's escapes, one space, a value.
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")"
      R"((?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? ([-+0-9.eE]+|NaN|[+-]Inf)$)");
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$)");
  static const std::regex kType(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$)");
  Parsed p;
  std::istringstream in(text);
  std::string line;
  std::string current;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, kHelp)) {
      p.help_order.push_back(m[1]);
      current = m[1];
    } else if (std::regex_match(line, m, kType)) {
      if (m[1] != current) p.errors.push_back("TYPE without its HELP: " + line);
      if (p.types.count(m[1])) p.errors.push_back("family declared twice: " + line);
      p.types[m[1]] = m[2];
    } else if (std::regex_match(line, m, kSample)) {
      if (m[1] != current) p.errors.push_back("sample outside its family: " + line);
      const std::string series = m[1].str() + m[2].str();
      if (p.samples.count(series)) p.errors.push_back("duplicate series: " + line);
      p.samples[series] = m[3];
    } else {
      p.errors.push_back("bad line: " + line);
    }
  }
  if (!text.empty() && text.back() != '\n') p.errors.push_back("no final newline");
  return p;
}

MetricsSnapshot Sample() {
  MetricsSnapshot s;
  s.version = "0.1.0";
  s.revision = "abc\"1\\2";
  s.heartbeat_unix_ns = 1795329767000000005ULL;
  ProbeMetrics agent;
  agent.name = "agent";
  agent.is_probe = false;
  agent.seen = 4;
  agent.emitted = 4;
  for (const char* r : {"ring_full", "queue_full", "sink_error", "disk_full", "rotation",
                        "rate_limited", "kmsg_overrun"})
    agent.dropped.emplace_back(r, 0);
  ProbeMetrics sys = agent;
  sys.name = "syscalls";
  sys.is_probe = true;
  sys.state = ProbeRunState::kAttached;
  sys.seen = 110;
  sys.emitted = 100;
  sys.dropped[0].second = 10;
  sys.aggregation_lost = 3;
  ProbeMetrics gpu = agent;
  gpu.name = "gpu";
  gpu.is_probe = true;
  gpu.state = ProbeRunState::kDisabled;
  s.probes = {agent, sys, gpu};
  MetricsSink sink(s.probe_samples, "syscalls");
  sink.Events("syscall.stats", 7);
  sink.Counter(syscalls::kMetricSyscalls, {{"syscall", "getppid"}}, 5000);
  sink.Counter(syscalls::kMetricErrors, {{"syscall", "openat"}}, 37);
  MetricsSink tcp(s.probe_samples, "tcp_retransmit");
  tcp.Counter(tcp::kMetricRetransmits, {{"kind", "tlp"}}, 2);
  return s;
}

ProcessStats Proc() {
  ProcessStats p;
  p.ok = true;
  p.cpu_seconds = 1.25;
  p.resident_bytes = 4096 * 100;
  p.start_time_seconds = 1795329700.5;
  return p;
}

TEST(MetricsRender, EveryFamilyOnceWithHelpAndTypeInOrder) {
  const Parsed p = Parse(RenderPrometheus(Sample(), Proc()));
  EXPECT_THAT(p.errors, ::testing::IsEmpty());
  std::vector<std::string> want;
  for (const auto& f : MetricFamilies()) want.emplace_back(f.name);
  EXPECT_EQ(p.help_order, want);
  for (const char* f :
       {"ksight_build_info", "ksight_probe_up", "ksight_events_total",
        "ksight_events_dropped_total", "ksight_events_seen_total", "ksight_syscalls_total",
        "ksight_syscall_errors_total", "ksight_tcp_retransmits_total", "ksight_gpu_xid_total",
        "process_cpu_seconds_total", "process_resident_memory_bytes",
        "ksight_heartbeat_timestamp_seconds"})
    EXPECT_TRUE(p.types.count(f)) << f;
  EXPECT_EQ(p.types.at("ksight_events_total"), "counter");
  EXPECT_EQ(p.types.at("ksight_probe_up"), "gauge");
  // Counters end in _total (the exposition convention), gauges do not.
  for (const auto& f : MetricFamilies()) {
    const bool total = std::string_view(f.name).ends_with("_total");
    EXPECT_EQ(total, f.type == MetricType::kCounter) << f.name;
  }
}

TEST(MetricsRender, ValuesLabelsAndEveryDropReason) {
  const Parsed p = Parse(RenderPrometheus(Sample(), Proc()));
  const auto& s = p.samples;
  EXPECT_EQ(s.at(R"(ksight_build_info{version="0.1.0",revision="abc\"1\\2"})"), "1");
  EXPECT_EQ(s.at(R"(ksight_probe_up{probe="syscalls"})"), "1");
  EXPECT_EQ(s.at(R"(ksight_probe_up{probe="gpu"})"), "0");
  EXPECT_FALSE(s.count(R"(ksight_probe_up{probe="agent"})"));  // the agent is no probe
  EXPECT_EQ(s.at(R"(ksight_events_seen_total{probe="syscalls"})"), "110");
  EXPECT_EQ(s.at(R"(ksight_events_emitted_total{probe="syscalls"})"), "100");
  EXPECT_EQ(s.at(R"(ksight_aggregation_lost_total{probe="syscalls"})"), "3");
  for (const char* probe : {"agent", "syscalls", "gpu"}) {
    for (const char* r : {"ring_full", "queue_full", "sink_error", "disk_full", "rotation",
                          "rate_limited", "kmsg_overrun"}) {
      const std::string series =
          fmt::format(R"(ksight_events_dropped_total{{probe="{}",reason="{}"}})", probe, r);
      ASSERT_TRUE(s.count(series)) << series;
      EXPECT_EQ(s.at(series),
                probe == std::string("syscalls") && r == std::string("ring_full") ? "10" : "0");
    }
  }
  EXPECT_EQ(s.at(R"(ksight_events_total{probe="syscalls",type="syscall.stats"})"), "7");
  EXPECT_EQ(s.at(R"(ksight_syscalls_total{syscall="getppid"})"), "5000");
  EXPECT_EQ(s.at(R"(ksight_syscall_errors_total{syscall="openat"})"), "37");
  EXPECT_EQ(s.at(R"(ksight_tcp_retransmits_total{kind="tlp"})"), "2");
  EXPECT_EQ(s.at("ksight_heartbeat_timestamp_seconds"), "1795329767.000000005");
  EXPECT_EQ(s.at("process_cpu_seconds_total"), "1.25");
  EXPECT_EQ(s.at("process_resident_memory_bytes"), "409600");
  EXPECT_EQ(s.at("process_start_time_seconds"), "1795329700.5");
  // No per-process label anywhere.
  for (const auto& [series, v] : s) {
    EXPECT_EQ(series.find("pid="), std::string::npos) << series;
    EXPECT_EQ(series.find("comm="), std::string::npos) << series;
  }
}

TEST(MetricsRender, EmptySnapshotStillListsEveryFamily) {
  const std::string text = RenderPrometheus(MetricsSnapshot{}, ProcessStats{});
  const Parsed p = Parse(text);
  EXPECT_THAT(p.errors, ::testing::IsEmpty());
  EXPECT_EQ(p.help_order.size(), MetricFamilies().size());
  EXPECT_EQ(p.samples.at("ksight_heartbeat_timestamp_seconds"), "0.000000000");
  EXPECT_FALSE(p.samples.count("process_cpu_seconds_total"));  // /proc unreadable: no sample
}

TEST(MetricsRender, UndeclaredFamilyIsNotRendered) {
  MetricsSnapshot s;
  s.probe_samples.Add("ksight_made_up_total", {}, 1);
  EXPECT_THAT(RenderPrometheus(s, ProcessStats{}), ::testing::Not(HasSubstr("ksight_made_up")));
}

TEST(MetricsEscape, LabelValueAndHelp) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapeHelp("a\\b\"c\nd"), "a\\\\b\"c\\nd");  // quotes stay in HELP
  MetricsSnapshot s;
  MetricsSink sink(s.probe_samples, "odd\nprobe\"");
  sink.Events("t\\y", 1);
  const Parsed p = Parse(RenderPrometheus(s, ProcessStats{}));
  EXPECT_THAT(p.errors, ::testing::IsEmpty());
  EXPECT_EQ(p.samples.at(R"(ksight_events_total{probe="odd\nprobe\"",type="t\\y"})"), "1");
}

TEST(ProcStat, ParsesCommWithSpacesAndParens) {
  // Fields as in proc(5); comm "a) (b" has both.
  const std::string stat =
      "4242 (a) (b) S 1 4242 4242 0 -1 4194560 500 0 0 0 150 50 0 0 20 0 3 0 12345 "
      "123456789 2500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  const ProcessStats p = ParseProcStat(stat, 100, 4096, 1795000000);
  ASSERT_TRUE(p.ok);
  EXPECT_DOUBLE_EQ(p.cpu_seconds, 2.0);  // (150 + 50) / 100
  EXPECT_EQ(p.resident_bytes, 2500u * 4096);
  EXPECT_DOUBLE_EQ(p.start_time_seconds, 1795000000 + 123.45);
  EXPECT_FALSE(ParseProcStat("garbage", 100, 4096, 0).ok);
  EXPECT_FALSE(ParseProcStat("1 (x) S 1 2 3", 100, 4096, 0).ok);
}

HealthInputs Healthy() {
  HealthInputs in;
  in.phase = AgentPhase::kRunning;
  in.now_ns = 100'000'000'000;
  in.last_loop_ns = in.last_drain_ns = 99'000'000'000;
  in.live_stale_ns = 30'000'000'000;
  in.ready_stale_ns = 5'000'000'000;
  in.probes = {{"syscalls", ProbeRunState::kAttached}, {"gpu", ProbeRunState::kDisabled}};
  in.probe_reasons = {"", "no GPU source on this host"};
  return in;
}

TEST(Health, LivenessFollowsTheLoop) {
  HealthInputs in = Healthy();
  EXPECT_TRUE(EvaluateLiveness(in).ok);
  in.last_loop_ns = in.now_ns - 31'000'000'000;
  const auto v = EvaluateLiveness(in);
  EXPECT_FALSE(v.ok);
  EXPECT_THAT(v.reason, HasSubstr("main loop stalled: last iteration 31.0s ago"));
  EXPECT_EQ(v.reason.find('\n'), std::string::npos);
  in = Healthy();
  in.phase = AgentPhase::kStarting;
  EXPECT_TRUE(EvaluateLiveness(in).ok);  // alive while attaching
}

TEST(Health, ReadinessNeedsAttachedProbesAndRecentDrains) {
  HealthInputs in = Healthy();
  EXPECT_EQ(EvaluateReadiness(in).reason, "ready");  // a disabled probe does not block
  EXPECT_TRUE(EvaluateReadiness(in).ok);
  in.probes[1].second = ProbeRunState::kFailed;
  in.probe_reasons[1] = "attaching: Permission denied";
  EXPECT_EQ(EvaluateReadiness(in).reason,
            "probe gpu failed to start: attaching: Permission denied");
  in = Healthy();
  in.last_drain_ns = in.now_ns - 6'000'000'000;
  EXPECT_FALSE(EvaluateReadiness(in).ok);
  EXPECT_THAT(EvaluateReadiness(in).reason,
              HasSubstr("ring drain is not keeping up: last drain 6.0s ago"));
  in = Healthy();
  in.last_drain_ns = 0;
  EXPECT_FALSE(EvaluateReadiness(in).ok);
  in = Healthy();
  in.phase = AgentPhase::kStarting;
  EXPECT_EQ(EvaluateReadiness(in).reason, "starting: attaching probes");
  in.phase = AgentPhase::kStopping;
  EXPECT_EQ(EvaluateReadiness(in).reason, "stopping");
}

TEST(ListenAddr, Syntax) {
  auto a = ParseListenAddr("127.0.0.1:9815");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9815);
  a = ParseListenAddr("[::1]:80");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 80);
  a = ParseListenAddr("localhost:1");
  ASSERT_TRUE(a);
  EXPECT_TRUE(ParseListenAddr("off")->off);
  for (const char* bad : {"", "9815", ":9815", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:80x", "::1:9815", "[::1]9815", "a b:1", "host/x:1"}) {
    auto r = ParseListenAddr(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) EXPECT_THAT(r.status().message(), HasSubstr("expected HOST:PORT")) << bad;
  }
}

TEST(ListenAddr, ConfigKeyAndValidation) {
  Config c;
  EXPECT_EQ(c.metrics_addr, "127.0.0.1:9815");  // loopback by default
  ASSERT_TRUE(ParseConfigText("metrics_addr = \"0.0.0.0:9100\"\n", "t.toml", c).ok());
  EXPECT_EQ(c.metrics_addr, "0.0.0.0:9100");
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.metrics_addr = "nowhere";
  const Status st = ValidateConfig(c);
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("metrics_addr 'nowhere': no port"));
  EXPECT_THAT(DefaultConfigText(), HasSubstr("metrics_addr = \"127.0.0.1:9815\""));
}

}  // namespace
}  // namespace ksight
