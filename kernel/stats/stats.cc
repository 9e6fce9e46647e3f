// SPDX-License-Identifier: Apache-2.0
#include "stats/stats.h"

#include <algorithm>

#include "poll_group/poll_group.h"

namespace weir::kernel {
namespace {

// Gathers one reply per group on the requesting group, then calls `done` there.
struct Collection {
  explicit Collection(GroupId groups, std::function<void(StatsSnapshot)> done)
      : waiting(groups), done(std::move(done)) {}
  GroupId waiting;
  std::vector<double> sums;
  StatsSnapshot snapshot;
  std::function<void(StatsSnapshot)> done;
};

struct CollectReply final : Task {
  std::shared_ptr<Collection> collection;  // lives on the requesting group; only it touches it
  std::vector<double> values;
  PagePoolStats pool;
  std::uint64_t connections = 0;
  std::uint64_t overloaded = 0;
  void run() noexcept override {
    Collection& c = *collection;
    if (c.sums.size() < values.size()) c.sums.resize(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) c.sums[i] += values[i];
    c.snapshot.page_pools.push_back(pool);
    c.snapshot.connections_open += connections;
    c.snapshot.senders_overloaded += overloaded;
    if (--c.waiting > 0) return;
    auto* group = PollGroupImpl::current();
    const StatsRegistry& registry = group->stats_impl().registry();
    std::size_t i = 0;
    for (const auto& counter : registry.counters())
      c.snapshot.values.push_back(StatValue{counter.name, counter.help, false, c.sums[i++]});
    for (const auto& gauge : registry.gauges())
      c.snapshot.values.push_back(StatValue{gauge.name, gauge.help, true, c.sums[i++]});
    c.done(std::move(c.snapshot));
  }
};

struct CollectRequest final : Task {
  std::shared_ptr<Collection> collection;
  GroupId reply_to = 0;
  void run() noexcept override {
    PollGroupImpl& group = *PollGroupImpl::current();
    auto reply = std::make_unique<CollectReply>();
    reply->collection = std::move(collection);
    reply->values = group.stats_impl().local_values();
    reply->pool = group.pool().stats();
    reply->connections = group.connection_count();
    reply->overloaded = group.overloaded_senders();
    group.post(reply_to, std::move(reply));
  }
};

// collect_connections(): one request per group, replies merged on the requester.
struct ConnectionsCollection {
  ConnectionsCollection(GroupId groups, std::function<void(std::vector<ConnectionInfo>)> done)
      : waiting(groups), done(std::move(done)) {}
  GroupId waiting;
  std::vector<ConnectionInfo> all;
  std::function<void(std::vector<ConnectionInfo>)> done;
};

struct ConnectionsReply final : Task {
  std::shared_ptr<ConnectionsCollection> collection;  // only the requesting group touches it
  std::vector<ConnectionInfo> part;
  void run() noexcept override {
    ConnectionsCollection& c = *collection;
    for (ConnectionInfo& info : part) c.all.push_back(std::move(info));
    if (--c.waiting > 0) return;
    std::sort(c.all.begin(), c.all.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    c.done(std::move(c.all));
  }
};

struct ConnectionsRequest final : Task {
  std::shared_ptr<ConnectionsCollection> collection;
  GroupId reply_to = 0;
  void run() noexcept override {
    PollGroupImpl& group = *PollGroupImpl::current();
    auto reply = std::make_unique<ConnectionsReply>();
    reply->collection = std::move(collection);
    reply->part = group.connection_infos();
    group.post(reply_to, std::move(reply));
  }
};

// close_connection(): asked of every group (ids do not say their group); one reply each.
struct CloseSearch {
  CloseSearch(GroupId groups, std::function<void(bool)> done) : waiting(groups), done(std::move(done)) {}
  GroupId waiting;
  bool found = false;
  std::function<void(bool)> done;
};

struct CloseReply final : Task {
  std::shared_ptr<CloseSearch> search;
  bool found = false;
  void run() noexcept override {
    search->found = search->found || found;
    if (--search->waiting == 0) search->done(search->found);
  }
};

struct CloseRequest final : Task {
  std::shared_ptr<CloseSearch> search;
  GroupId reply_to = 0;
  ConnectionId id = 0;
  Status reason;
  void run() noexcept override {
    PollGroupImpl& group = *PollGroupImpl::current();
    auto reply = std::make_unique<CloseReply>();
    reply->search = std::move(search);
    reply->found = group.close_connection(id, reason);
    group.post(reply_to, std::move(reply));
  }
};

}  // namespace

StatsRegistry::StatsRegistry() {
  bytes_in = add_counter("weir_received_bytes_total", "Bytes received on all connections");
  bytes_out = add_counter("weir_sent_bytes_total", "Bytes sent on all connections");
  write_calls = add_counter("weir_write_calls_total", "Gathered write system calls");
  refused_sends = add_counter("weir_sender_refused_total", "Sends refused at a sender's hard limit");
  receive_stalls = add_counter("weir_receive_stalls_total", "Reads postponed because the page pool was exhausted");
  refused_players = add_counter("weir_players_refused_total", "Players refused while the server sheds load");
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

void StatsImpl::collect(std::function<void(StatsSnapshot)> done) noexcept {
  auto collection = std::make_shared<Collection>(group_.group_count(), std::move(done));
  for (GroupId g = 0; g < group_.group_count(); ++g) {
    auto request = std::make_unique<CollectRequest>();
    request->collection = collection;
    request->reply_to = group_.id();
    group_.post(g, std::move(request));
  }
}

void StatsImpl::collect_connections(std::function<void(std::vector<ConnectionInfo>)> done) noexcept {
  auto collection = std::make_shared<ConnectionsCollection>(group_.group_count(), std::move(done));
  for (GroupId g = 0; g < group_.group_count(); ++g) {
    auto request = std::make_unique<ConnectionsRequest>();
    request->collection = collection;
    request->reply_to = group_.id();
    group_.post(g, std::move(request));
  }
}

void StatsImpl::close_connection(ConnectionId id, Status reason, std::function<void(bool found)> done) noexcept {
  auto search = std::make_shared<CloseSearch>(group_.group_count(), std::move(done));
  for (GroupId g = 0; g < group_.group_count(); ++g) {
    auto request = std::make_unique<CloseRequest>();
    request->search = search;
    request->reply_to = group_.id();
    request->id = id;
    request->reason = reason;
    group_.post(g, std::move(request));
  }
}

}  // namespace weir::kernel
