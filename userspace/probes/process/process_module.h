// process_module.h - the process probe's declarations shared by its loader and its tests.
#pragma once

#include <string_view>

namespace ksight::process {
inline constexpr std::string_view kMetricExits = "ksight_process_exits_total";
inline constexpr std::string_view kMetricOomKills = "ksight_process_oom_kills_total";
inline constexpr std::string_view kMetricFolded = "ksight_process_folded_total";
}  // namespace ksight::process
