// container_counters.h - per-container counters for /metrics with a bounded label set. The
// containers with the most events get a series of their own, up to `max_series`; everything
// else is counted under container_id="other", processes outside any container under "none".
// Every series is monotonic: a container admitted to a series of its own starts it from zero,
// and what it counted before stays in "other" (a counter never goes down).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ksight {

class ContainerCounters {
 public:
  explicit ContainerCounters(size_t max_series) : max_series_(max_series) {}

  // n events of a process in container `id` ("" = not in a container).
  void Add(std::string_view id, uint64_t n);
  // Give the busiest containers without a series one while there is room (at each heartbeat).
  void Admit();
  // (container_id label, value) for every series: the admitted containers, "other", "none".
  void ForEach(const std::function<void(std::string_view, uint64_t)>& f) const;
  size_t series() const { return admitted_.size(); }
  size_t tracked() const { return pending_.size(); }

 private:
  size_t max_series_;
  std::unordered_map<std::string, uint64_t> admitted_;  // counted since admission
  std::unordered_map<std::string, uint64_t> pending_;   // not admitted: also in other_
  uint64_t other_ = 0, none_ = 0;
  static constexpr size_t kMaxPending = 4096;  // candidates remembered for admission
};

}  // namespace ksight
