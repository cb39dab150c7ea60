// gpu_module.h - the gpu probe's declarations shared by its loader and its tests.
#pragma once

#include <string_view>

namespace ksight::gpu {
inline constexpr std::string_view kMetricXid = "ksight_gpu_xid_total";
inline constexpr std::string_view kMetricSxid = "ksight_gpu_sxid_total";
inline constexpr std::string_view kMetricResets = "ksight_gpu_resets_total";
}  // namespace ksight::gpu
