// syscall_rollup.h - per-interval deltas of the cumulative in-kernel syscall
// stats (pure logic: no libbpf). The BPF maps are never reset, so counts that
// land while the agent reads are never lost: they show in the next interval.
#pragma once

#include <array>
#include <cstdint>
#include <span>

extern "C" {
#include "syscalls/syscalls.h"
}

namespace ksight::syscalls {

constexpr size_t kHistSlots = KS_SYSCALL_HIST_SLOTS;

struct StatsValue {
  uint64_t count = 0;
  uint64_t errors = 0;
  uint64_t lat_sum_ns = 0;
  uint64_t lat_max_ns = 0;
  std::array<uint64_t, kHistSlots> hist{};
};

// Sum the per-CPU copies of a sys_stats value (max: the largest).
StatsValue SumPerCpu(std::span<const ks_sys_stats> per_cpu);

// What moved between two cumulative snapshots (core/histogram.h
// Log2CumulativeDelta: a counter that went backwards restarts the series).
// max_ns of the interval is exact when the cumulative max grew in it;
// otherwise it is bounded by the upper edge of the highest histogram bucket
// that moved (and by the cumulative max).
StatsValue Delta(const StatsValue& cur, const StatsValue& prev);

struct Percentiles {
  uint64_t p50 = 0, p90 = 0, p99 = 0;
};
Percentiles ComputePercentiles(const StatsValue& v);

}  // namespace ksight::syscalls
