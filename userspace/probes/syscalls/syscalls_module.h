// syscalls_module.h - the syscalls probe's declarations shared by its loader and its tests.
#pragma once

#include <string_view>

namespace ksight::syscalls {
inline constexpr std::string_view kMetricSyscalls = "ksight_syscalls_total";
inline constexpr std::string_view kMetricErrors = "ksight_syscall_errors_total";
inline constexpr std::string_view kMetricContainerErrors = "ksight_syscall_container_errors_total";
}  // namespace ksight::syscalls
