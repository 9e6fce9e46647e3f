// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Statistics: counters kept per poll group without atomics, summed when read. Reading gathers
/// every group's values by message, so it never stalls streaming.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "weir/pages.h"

namespace weir {

/// Index of a counter registered by Registrar::counter().
using CounterId = std::uint32_t;

/// One counter or gauge, summed over all groups.
struct StatValue {
  std::string name;  ///< Prometheus-style: "weir_rtmp_connections_total"
  std::string help;
  bool is_gauge = false;
  double value = 0;
};

/// What collect() gathers.
struct StatsSnapshot {
  std::vector<StatValue> values;
  std::vector<PagePoolStats> page_pools;  ///< one per group
  std::uint64_t connections_open = 0;
  std::uint64_t senders_overloaded = 0;  ///< connections whose sender is not ready
};

/// A poll group's statistics. Thread: that group.
class Stats {
 public:
  /// Adds to this group's copy of a counter: a plain increment, no atomic, no call.
  void add(CounterId id, std::uint64_t n = 1) noexcept { values_[id] += n; }
  /// Sums every group's counters (one message to each group) and calls `done` on this group.
  virtual void collect(std::function<void(StatsSnapshot)> done) noexcept = 0;

 protected:
  ~Stats() = default;
  std::uint64_t* values_ = nullptr;  ///< this group's counter array, set by the kernel
};

}  // namespace weir
