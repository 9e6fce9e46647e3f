// SPDX-License-Identifier: Apache-2.0
#include "stats/stats.h"

#include <algorithm>

#include "poll_group/gather.h"
#include "poll_group/poll_group.h"

namespace weir::kernel {

StatsRegistry::StatsRegistry() {
  bytes_in = add_counter("weir_received_bytes_total", "Bytes received on all connections");
  bytes_out = add_counter("weir_sent_bytes_total", "Bytes sent on all connections");
  write_calls = add_counter("weir_write_calls_total", "Gathered write system calls");
  refused_sends = add_counter("weir_sender_refused_total", "Sends refused at a sender's hard limit");
  receive_stalls = add_counter("weir_receive_stalls_total", "Reads postponed because the page pool was exhausted");
  refused_players = add_counter("weir_players_refused_total", "Players refused while the server sheds load");
  udp_datagrams_sent = add_counter("weir_udp_datagrams_sent_total", "UDP datagrams sent");
  udp_bytes_sent = add_counter("weir_udp_sent_bytes_total", "Bytes sent in UDP datagrams (not in weir_sent_bytes_total)");
  udp_sendmmsg_calls = add_counter("weir_udp_sendmmsg_calls_total", "sendmmsg system calls on UDP sockets");
  udp_datagrams_dropped = add_counter(
      "weir_udp_datagrams_dropped_total",
      "UDP datagrams dropped: refused at a full send queue, refused by the kernel, or reported unreachable by ICMP");
  udp_datagrams_received = add_counter("weir_udp_datagrams_received_total", "UDP datagrams received");
  udp_bytes_received =
      add_counter("weir_udp_received_bytes_total", "Bytes received in UDP datagrams (not in weir_received_bytes_total)");
  udp_datagrams_truncated = add_counter("weir_udp_datagrams_truncated_total",
                                        "UDP datagrams dropped on receipt because they were longer than the receive slot");
}

CounterId StatsRegistry::add_counter(std::string name, std::string help) {
  counters_.push_back(Entry{std::move(name), std::move(help)});
  return static_cast<CounterId>(counters_.size() - 1);
}

void StatsRegistry::add_gauge(std::string name, std::string help, std::function<double(PollGroup&)> read) {
  gauges_.push_back(Gauge{std::move(name), std::move(help), std::move(read)});
}

void StatsRegistry::add_listener(const std::string& listener) {
  if (listeners_.count(listener)) return;
  std::string label = "{listener=\"" + listener + "\"}";
  ListenerCounters c;
  c.opened = add_counter("weir_connections_opened_total" + label, "Connections accepted");
  c.closed = add_counter("weir_connections_closed_total" + label, "Connections closed");
  c.refused = add_counter("weir_connections_refused_total" + label,
                          "Connections refused at accept by the listener's acceptor, and players of its protocol "
                          "refused while shedding load");
  c.accept_pauses = add_counter("weir_accept_pauses_total" + label,
                                "Times the listener stopped accepting because the process ran out of descriptors "
                                "(EMFILE, ENFILE) or kernel memory (ENOBUFS, ENOMEM)");
  listeners_.emplace(listener, c);
}

const StatsRegistry::ListenerCounters* StatsRegistry::listener(const std::string& name) const {
  auto it = listeners_.find(name);
  return it == listeners_.end() ? nullptr : &it->second;
}

StatsImpl::StatsImpl(PollGroupImpl& group) : group_(group) {}

void StatsImpl::attach(const StatsRegistry& registry) {
  registry_ = &registry;
  storage_.assign(registry.counters().size(), 0);
  values_ = storage_.data();
}

void StatsImpl::connection_opened(const std::string& listener) noexcept {
  if (const auto* c = registry_->listener(listener)) add(c->opened);
}

void StatsImpl::connection_closed(const std::string& listener) noexcept {
  if (const auto* c = registry_->listener(listener)) add(c->closed);
}

void StatsImpl::connection_refused(const std::string& listener) noexcept {
  if (const auto* c = registry_->listener(listener)) add(c->refused);
}

void StatsImpl::count_accept_pause(const std::string& listener) noexcept {
  if (const auto* c = registry_->listener(listener)) add(c->accept_pauses);
}

void StatsImpl::count_refused_player(const std::string& protocol) noexcept {
  add(registry_->refused_players);
  connection_refused(protocol);
}

std::vector<double> StatsImpl::local_values() {
  std::vector<double> values;
  values.reserve(storage_.size() + registry_->gauges().size());
  for (std::uint64_t v : storage_) values.push_back(static_cast<double>(v));
  for (const auto& gauge : registry_->gauges()) values.push_back(gauge.read(group_));
  return values;
}

namespace {
struct GroupFigures {  // one group's part of a StatsSnapshot
  std::vector<double> values;
  PagePoolStats pool;
  std::uint64_t connections = 0;
  std::uint64_t overloaded = 0;
};
}  // namespace

void StatsImpl::collect(std::function<void(StatsSnapshot)> done) noexcept {
  gather<GroupFigures>(
      group_,
      [](PollGroupImpl& group) {
        return GroupFigures{group.stats_impl().local_values(), group.pool().stats(), group.connection_count(),
                            group.overloaded_senders()};
      },
      [this, done = std::move(done)](std::vector<GroupFigures> parts) {
        StatsSnapshot snapshot;
        std::vector<double> sums;
        for (const GroupFigures& part : parts) {
          if (sums.size() < part.values.size()) sums.resize(part.values.size());
          for (std::size_t i = 0; i < part.values.size(); ++i) sums[i] += part.values[i];
          snapshot.page_pools.push_back(part.pool);
          snapshot.connections_open += part.connections;
          snapshot.senders_overloaded += part.overloaded;
        }
        sums.resize(registry_->counters().size() + registry_->gauges().size());
        std::size_t i = 0;
        for (const auto& counter : registry_->counters())
          snapshot.values.push_back(StatValue{counter.name, counter.help, false, sums[i++]});
        for (const auto& gauge : registry_->gauges())
          snapshot.values.push_back(StatValue{gauge.name, gauge.help, true, sums[i++]});
        done(std::move(snapshot));
      });
}

void StatsImpl::collect_connections(std::function<void(std::vector<ConnectionInfo>)> done) noexcept {
  gather<std::vector<ConnectionInfo>>(
      group_, [](PollGroupImpl& group) { return group.connection_infos(); },
      [done = std::move(done)](std::vector<std::vector<ConnectionInfo>> parts) {
        std::vector<ConnectionInfo> all;
        for (auto& part : parts)
          for (ConnectionInfo& info : part) all.push_back(std::move(info));
        std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
        done(std::move(all));
      });
}

void StatsImpl::close_connection(ConnectionId id, Status reason, std::function<void(bool found)> done) noexcept {
  // Asked of every group: an id does not say which group holds it.
  gather<bool>(
      group_, [id, reason](PollGroupImpl& group) { return group.close_connection(id, reason); },
      [done = std::move(done)](std::vector<bool> found) {
        done(std::find(found.begin(), found.end(), true) != found.end());
      });
}

}  // namespace weir::kernel
