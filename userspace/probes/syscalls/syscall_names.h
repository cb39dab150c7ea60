// syscall_names.h - syscall number -> name (compiled table) and errno -> name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ksight::syscalls {

// "getppid", or "unknown_<nr>" for a number the table does not know.
std::string SyscallName(uint32_t nr);
// The number of a named syscall ("openat" -> 257), if the table has it.
std::optional<uint32_t> SyscallNumber(std::string_view name);
// "ENOENT" for 2; "E<n>" for a number libc does not name.
std::string ErrnoName(uint32_t err);
// 2 for "ENOENT" (case-insensitive), if libc knows the name.
std::optional<uint32_t> ErrnoNumber(std::string_view name);

}  // namespace ksight::syscalls
