#include "probes/syscalls/syscall_names.h"

#include <strings.h>

#include <array>
#include <cstring>  // strerrorname_np (glibc >= 2.32)

#include <fmt/format.h>

namespace ksight::syscalls {
namespace {

struct Entry {
  uint32_t nr;
  const char* name;
};

constexpr Entry kTable[] = {
#include "probes/syscalls/syscall_table_x86_64.inc"
};

constexpr size_t kMaxNr = 512;

constexpr std::array<const char*, kMaxNr> BuildIndex() {
  std::array<const char*, kMaxNr> idx{};
  for (const auto& e : kTable) {
    if (e.nr < kMaxNr) idx[e.nr] = e.name;
  }
  return idx;
}

constexpr auto kIndex = BuildIndex();

}  // namespace

std::string SyscallName(uint32_t nr) {
  if (nr < kMaxNr && kIndex[nr] != nullptr) return kIndex[nr];
  return fmt::format("unknown_{}", nr);
}

std::optional<uint32_t> SyscallNumber(std::string_view name) {
  for (const auto& e : kTable) {
    if (name == e.name) return e.nr;
  }
  return std::nullopt;
}

std::string ErrnoName(uint32_t err) {
  const char* n = err <= 4095 ? strerrorname_np(static_cast<int>(err)) : nullptr;
  if (n != nullptr) return n;
  return fmt::format("E{}", err);
}

std::optional<uint32_t> ErrnoNumber(std::string_view name) {
  for (int e = 1; e < 4096; ++e) {
    const char* n = strerrorname_np(e);
    if (n != nullptr && name.size() == std::strlen(n) &&
        strncasecmp(n, name.data(), name.size()) == 0) {
      return static_cast<uint32_t>(e);
    }
  }
  return std::nullopt;
}

}  // namespace ksight::syscalls
