// tcp_retransmit_module.cc - the tcp_retransmit probe's config section, metrics and record
// types.
#include <fmt/format.h>

#include "core/probe_module.h"
#include "probes/tcp_retransmit/tcp_retransmit_module.h"

extern "C" {
#include "tcp_retransmit/tcp_retransmit.h"
}

namespace ksight {
namespace {

Status CheckPorts(const SettingValue& v) {
  const auto& ports = std::get<std::vector<uint64_t>>(v);
  if (ports.size() > KS_TCP_MAX_PORTS) {
    return Status::Error(
        fmt::format("at most {} ports can be filtered ({} given)", KS_TCP_MAX_PORTS, ports.size()));
  }
  return {};
}

const SettingDef kSettings[] = {
    {.key = "ports",
     .kind = SettingKind::kUints,
     .default_value = "",
     .help = "Only retransmits on these local or remote ports (empty = all).",
     .flag = "--port",
     .flag_help = "tcp_retransmit: only these ports (repeatable)",
     .min = 1,
     .max = 65535,
     .check = &CheckPorts,
     .split_commas = true,
     .items = "port numbers"},
    {.key = "container_series",
     .kind = SettingKind::kUint,
     .default_value = "20",
     .help = "Containers with a ksight_tcp_container_retransmits_total series of their own (the "
             "busiest; the rest are counted under container_id=\"other\").",
     .max = 1000},
};

const MetricFamilyDef kMetrics[] = {
    {tcp::kMetricRetransmits, MetricType::kCounter,
     "TCP retransmissions reported by the tcp_retransmit probe, per kind (retransmit, synack, "
     "tlp)."},
    {tcp::kMetricContainerRetransmits, MetricType::kCounter,
     "TCP retransmissions per container of the socket's owner (container_id: the busiest "
     "container_series containers, \"other\" for the rest, \"none\" outside containers)."},
};

const std::string_view kRecords[] = {"tcp.retransmit", "tcp.retransmit.stats"};

}  // namespace

extern const ProbeModule kModule_tcp_retransmit;
const ProbeModule kModule_tcp_retransmit = {
    .name = "tcp_retransmit",
    .summary = "TCP retransmits: owner, tuple and socket state",
    .settings_help = "",
    .settings = kSettings,
    .metrics = kMetrics,
    .record_types = kRecords,
};

}  // namespace ksight
