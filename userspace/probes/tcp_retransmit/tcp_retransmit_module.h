// tcp_retransmit_module.h - the tcp_retransmit probe's declarations shared by its loader and
// its tests.
#pragma once

#include <string_view>

namespace ksight::tcp {
inline constexpr std::string_view kMetricRetransmits = "ksight_tcp_retransmits_total";
inline constexpr std::string_view kMetricContainerRetransmits =
    "ksight_tcp_container_retransmits_total";
}  // namespace ksight::tcp
