// SPDX-License-Identifier: Apache-2.0
#pragma once
// Statistics. Names are registered on the main thread before the groups start (StatsRegistry,
// read-only afterwards); values live per group in plain arrays (StatsImpl), and collect() gathers
// them with one message to each group and one reply from each.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "weir/poll_group.h"
#include "weir/stats.h"

namespace weir::kernel {

class PollGroupImpl;

class StatsRegistry {
 public:
  StatsRegistry();
  /// Main thread, before start.
  CounterId add_counter(std::string name, std::string help);
  void add_gauge(std::string name, std::string help, std::function<double(PollGroup&)> read);
  /// Counters per listener: opened/closed/refused connections, accept pauses.
  void add_listener(const std::string& listener);

  struct Entry {
    std::string name;
    std::string help;
  };
  struct Gauge {
    std::string name;
    std::string help;
    std::function<double(PollGroup&)> read;
  };
  const std::vector<Entry>& counters() const noexcept { return counters_; }
  const std::vector<Gauge>& gauges() const noexcept { return gauges_; }
  struct ListenerCounters {
    CounterId opened;
    CounterId closed;
    CounterId refused;  // by the acceptor at accept (never counted opened), or by load shedding
    CounterId accept_pauses;  // times accept() ran short of descriptors or memory (Listener pauses)
  };
  const ListenerCounters* listener(const std::string& name) const;

  // The kernel's own counters.
  CounterId bytes_in, bytes_out, write_calls, refused_sends, receive_stalls, refused_players;
  CounterId udp_datagrams_sent, udp_bytes_sent, udp_sendmmsg_calls, udp_datagrams_dropped, udp_datagrams_received,
      udp_bytes_received, udp_datagrams_truncated;

 private:
  std::vector<Entry> counters_;
  std::vector<Gauge> gauges_;
  std::map<std::string, ListenerCounters> listeners_;
};

/// One group's values. Thread: that group.
class StatsImpl final : public Stats {
 public:
  explicit StatsImpl(PollGroupImpl& group);
  /// Sizes the value array; called on the group's thread at start, after registration ended.
  void attach(const StatsRegistry& registry);

  void collect(std::function<void(StatsSnapshot)> done) noexcept override;
  void collect_connections(std::function<void(std::vector<ConnectionInfo>)> done) noexcept override;
  void close_connection(ConnectionId id, Status reason, std::function<void(bool found)> done) noexcept override;

  void add_bytes_in(std::uint64_t n) noexcept { add(registry_->bytes_in, n); }
  void add_bytes_out(std::uint64_t n, std::uint64_t calls) noexcept {
    add(registry_->bytes_out, n);
    add(registry_->write_calls, calls);
  }
  void count_refused_send() noexcept { add(registry_->refused_sends); }
  /// One sendmmsg() call that sent `datagrams` (0 when it failed) of `bytes` in all.
  void add_udp_sent(std::uint64_t datagrams, std::uint64_t bytes) noexcept {
    add(registry_->udp_sendmmsg_calls);
    add(registry_->udp_datagrams_sent, datagrams);
    add(registry_->udp_bytes_sent, bytes);
  }
  void count_udp_dropped(std::uint64_t datagrams) noexcept { add(registry_->udp_datagrams_dropped, datagrams); }
  void add_udp_received(std::uint64_t datagrams, std::uint64_t bytes, std::uint64_t truncated) noexcept {
    add(registry_->udp_datagrams_received, datagrams);
    add(registry_->udp_bytes_received, bytes);
    if (truncated) add(registry_->udp_datagrams_truncated, truncated);
  }
  void count_receive_stall() noexcept { add(registry_->receive_stalls); }
  /// A player refused while shedding load; also counted refused for the listener named like its
  /// protocol (SubscribeOptions::protocol), if there is one.
  void count_refused_player(const std::string& protocol) noexcept;
  void connection_opened(const std::string& listener) noexcept;
  void connection_closed(const std::string& listener) noexcept;
  void connection_refused(const std::string& listener) noexcept;
  /// The listener stopped accepting for want of descriptors or memory (one pause, however long).
  void count_accept_pause(const std::string& listener) noexcept;

  /// This group's part of a snapshot (values, then gauges in registry order).
  std::vector<double> local_values();
  const StatsRegistry& registry() const noexcept { return *registry_; }

 private:
  PollGroupImpl& group_;
  const StatsRegistry* registry_ = nullptr;
  std::vector<std::uint64_t> storage_;
};

}  // namespace weir::kernel
