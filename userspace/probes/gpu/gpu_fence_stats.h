// gpu_fence_stats.h - per-interval dma_fence latency from the cumulative in-kernel histograms
// (pure logic: no libbpf). The BPF map "fence_stats" holds, per driver + timeline, three log2
// latency distributions that only ever grow; each interval the agent reports what moved.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" {
#include "gpu/gpu.h"
}

namespace ksight::gpu {

constexpr size_t kFenceHistSlots = KS_GPU_HIST_SLOTS;

struct Latency {
  uint64_t count = 0;
  uint64_t sum_ns = 0;
  uint64_t max_ns = 0;
  std::array<uint64_t, kFenceHistSlots> hist{};

  static Latency From(const ks_gpu_lat& l);
};

// What moved between two cumulative snapshots (core/histogram.h Log2CumulativeDelta). The
// interval's max is exact when the cumulative max grew in it; otherwise it is the upper edge of
// the highest bucket that moved (capped by the cumulative max). A counter below its previous
// value means the entry was re-created: the delta is the whole current value.
Latency LatencyDelta(const Latency& cur, const Latency& prev);

struct LatencySummary {
  uint64_t count = 0, sum_ns = 0, max_ns = 0, p50_ns = 0, p90_ns = 0, p99_ns = 0;
};
LatencySummary Summarize(const Latency& d);

struct FenceStats {
  Latency emit_to_signal, init_to_signal, wait;
  static FenceStats From(const ks_gpu_fence_stats& s);
  bool empty() const {
    return emit_to_signal.count == 0 && init_to_signal.count == 0 && wait.count == 0;
  }
};
FenceStats FenceDelta(const FenceStats& cur, const FenceStats& prev);

// The driver / timeline of a key: the NUL-padded names as string_views.
std::string_view FenceKeyDriver(const ks_gpu_fence_key& k);
std::string_view FenceKeyTimeline(const ks_gpu_fence_key& k);
// A map key for the previous snapshots.
std::string FenceKeyString(const ks_gpu_fence_key& k);

}  // namespace ksight::gpu
