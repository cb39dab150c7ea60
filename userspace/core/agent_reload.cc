// agent_reload.cc - SIGHUP reloads the config: the keys declared SettingApply::kReload are
// applied, every other changed key is reported as restart_needed (core/config.h PlanReload);
// SIGUSR1 reopens the output files (logrotate).
#include <spdlog/spdlog.h>

#include "core/agent_internal.h"

namespace ksight::agent_internal {

using SinkList = std::vector<std::pair<std::unique_ptr<Sink>, uint64_t>>;

Result<SinkList> OpenSinks(const Config& cfg) {
  SinkList sinks;
  FileSinkOptions fo;
  fo.mode = cfg.file_mode;
  fo.max_size = cfg.max_size;
  fo.max_backups = cfg.max_backups;
  fo.compress = cfg.compress == "gzip";
  fo.max_total_size = cfg.max_total_size;
  for (const auto& o : cfg.output) {
    if (o == "-") {
      sinks.emplace_back(MakeFdSink(STDOUT_FILENO, "stdout"), cfg.queue_size);
      continue;
    }
    auto s = OpenFileSink(o, fo);
    if (!s) return s.status();
    sinks.emplace_back(std::move(s.value()), cfg.queue_size);
  }
  return sinks;
}

void Agent::Reload() {
  if (!reload_) return;
  auto next = reload_();
  if (!next) {
    const std::string msg = next.status().message();
    spdlog::error("SIGHUP: config not reloaded, still running with the previous one: {}", msg);
    EmitStatus("reload_failed", "", msg);
    out_->Flush();
    return;
  }
  ReloadPlan plan = PlanReload(cfg_, live_, next.value());
  if (plan.Changed("output")) {
    auto sinks = OpenSinks(plan.next);
    if (!sinks) {
      const std::string msg = sinks.status().message();
      spdlog::error("SIGHUP: config not reloaded, still running with the previous one: {}", msg);
      EmitStatus("reload_failed", "", msg);
      out_->Flush();
      return;
    }
    out_->ReplaceSinks(std::move(*sinks), kStopTimeout);
  }
  if (plan.next.log_level != live_.log_level)
    spdlog::set_level(spdlog::level::from_str(plan.next.log_level));
  // interval and drain_interval: the event loop reads them from live_.
  live_ = std::move(plan.next);
  const auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& k : v) s += (s.empty() ? "" : ", ") + k;
    return s.empty() ? std::string("none") : s;
  };
  Details d{{"applied", join(plan.applied)}, {"restart_needed", join(plan.restart_needed)}};
  std::string reason =
      plan.applied.empty() ? "SIGHUP: nothing to apply" : "SIGHUP: applied " + join(plan.applied);
  if (!plan.restart_needed.empty()) {
    reason += "; changed but kept until a restart: " + join(plan.restart_needed);
    spdlog::warn("SIGHUP: {} changed; these apply at the next restart", join(plan.restart_needed));
  }
  spdlog::info("{}", reason);
  EmitStatus("reloaded", "", reason, d);
  out_->Flush();
}

void Agent::ReopenOutputs() {
  // Everything formatted before the signal goes to the old file; the
  // agent.status that follows is the first line each reopened file gets.
  const auto results = out_->ReopenFiles(std::chrono::milliseconds(kStopTimeout));
  if (results.empty()) {
    spdlog::info("SIGUSR1: no output file to reopen");
    return;
  }
  Details details;
  std::string failed;
  for (const auto& [name, st] : results) {
    details.emplace_back(name, st.ok() ? "reopened" : st.message());
    if (!st.ok()) {
      spdlog::error("SIGUSR1: cannot reopen {}, still writing to the old file: {}", name,
                    st.message());
      failed += (failed.empty() ? "" : "; ") + st.message();
    }
  }
  if (failed.empty()) spdlog::info("SIGUSR1: reopened {} output file(s)", results.size());
  EmitStatus(failed.empty() ? "reopened" : "reopen_failed", "",
             failed.empty() ? "SIGUSR1" : "SIGUSR1: " + failed, details);
  out_->Flush();
}

}  // namespace ksight::agent_internal
