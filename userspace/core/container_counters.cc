// container_counters.cc - see container_counters.h.
#include "core/container_counters.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace ksight {

void ContainerCounters::Add(std::string_view id, uint64_t n) {
  if (n == 0) return;
  if (id.empty()) {
    none_ += n;
    return;
  }
  const std::string key(id);
  if (auto it = admitted_.find(key); it != admitted_.end()) {
    it->second += n;
    return;
  }
  other_ += n;
  if (admitted_.size() >= max_series_) return;  // no room left: "other" for good
  if (auto it = pending_.find(key); it != pending_.end()) {
    it->second += n;
  } else if (pending_.size() < kMaxPending) {
    pending_.emplace(key, n);
  }
}

void ContainerCounters::Admit() {
  if (pending_.empty()) return;
  std::vector<std::pair<uint64_t, std::string>> by_volume;
  by_volume.reserve(pending_.size());
  for (auto& [id, n] : pending_) by_volume.emplace_back(n, id);
  std::sort(by_volume.begin(), by_volume.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  for (const auto& [n, id] : by_volume) {
    if (admitted_.size() >= max_series_) break;
    admitted_.emplace(id, 0);  // from now on; what it counted so far stays in "other"
  }
  pending_.clear();  // the rest start over: the busiest of the next intervals get the room
}

void ContainerCounters::ForEach(const std::function<void(std::string_view, uint64_t)>& f) const {
  for (const auto& [id, n] : admitted_) f(id, n);
  f("other", other_);
  f("none", none_);
}

}  // namespace ksight
