// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Statistics: counters kept per poll group without atomics, summed when read. Reading gathers
/// every group's values by message, so it never stalls streaming.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "weir/connection.h"
#include "weir/pages.h"
#include "weir/status.h"

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

/// One connection, as Stats::collect_connections() sees it.
struct ConnectionInfo {
  ConnectionId id = 0;
  GroupId group = 0;
  std::string listener;  ///< the listener that accepted it ("rtmp", "rtmps", "http"), or an outgoing
                         ///< connection's ConnectSpec::name ("rtsp pull")
  std::string peer_address;
  std::string label;     ///< Connection::set_label(): "play live/cam1"; empty if never set
  std::string stream;    ///< Connection::set_stream(): "live/cam1"; empty if never set
  std::uint64_t frames_dropped = 0;  ///< Connection::count_frames_dropped() so far
  double seconds = 0;    ///< since it connected
  std::uint64_t bytes_received = 0;
  SenderStats sender;    ///< bytes sent, bytes queued now (the player's lag in bytes), state
};

/// A poll group's statistics. Thread: that group.
class Stats {
 public:
  /// Adds to this group's copy of a counter: a plain increment, no atomic, no call.
  void add(CounterId id, std::uint64_t n = 1) noexcept { values_[id] += n; }
  /// Sums every group's counters (one message to each group) and calls `done` on this group.
  virtual void collect(std::function<void(StatsSnapshot)> done) noexcept = 0;
  /// Lists every open connection of every group (one message to each) and calls `done` on this
  /// group, sorted by id.
  virtual void collect_connections(std::function<void(std::vector<ConnectionInfo>)> done) noexcept = 0;
  /// Closes connection `id` on whichever group holds it, with `reason` (logged, given to its
  /// handler), and calls `done(found)` on this group.
  virtual void close_connection(ConnectionId id, Status reason, std::function<void(bool found)> done) noexcept = 0;

 protected:
  ~Stats() = default;
  std::uint64_t* values_ = nullptr;  ///< this group's counter array, set by the kernel
};

}  // namespace weir
