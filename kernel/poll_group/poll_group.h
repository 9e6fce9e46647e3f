// SPDX-License-Identifier: Apache-2.0
#pragma once
// PollGroupImpl: one thread, one io_context (run by that thread alone, hence the UNSAFE_IO hint).
//
// Cross-thread tasks:
//   group A, during a turn:  post(B, t1), post(B, t2)  -> outbox[B] = t2 -> t1   (newest first)
//   end of A's turn:         outbox[B] pushed onto B's inbox with one CAS; if B's inbox was empty,
//                            one asio::post wakes B
//   B:                       takes the whole inbox with one exchange, reverses it, runs in order
// So tasks from one group to another keep their order, and a turn's tasks cost one wake-up.
//
// End of turn: work gathered while handling this turn's events leaves in one batch, run by a
// handler posted behind the events already queued: streams publish their frames, senders write,
// released pages go home, outboxes are delivered.

#include <atomic>
#include <cassert>
#include <deque>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

#include "pages/page_pool.h"
#include "weir/owner.h"
#include "weir/poll_group.h"
#include "weir/connection.h"
#include "weir/sender.h"
#include "weir/stats.h"
#include "weir/udp.h"

namespace weir::kernel {

class Groups;
class ConnectionImpl;
class UdpSocketImpl;
class ConnectAttempt;
class TlsContext;
class StreamsImpl;
class SharedObjectsImpl;
class StatsImpl;
class WorkerPool;

/// Settings every group shares, from the [server], [pages] and [sender] sections.
struct GroupSettings {
  std::uint32_t page_size = 64 * 1024;
  std::uint64_t max_pages = 8192;  // per group: 512 MiB of 64 KiB pages
  SenderLimits sender_limits;
  std::chrono::milliseconds coalescing{0};
  /// How long a SendUrgency::may_wait unit waits for one that must leave now ([sender] hold).
  std::chrono::milliseconds hold{50};
  /// How often a group frees the spare pages the period before did not need (PagePoolImpl::
  /// trim_idle): memory a burst took goes back within two periods of its end. 0: never.
  std::chrono::milliseconds page_trim_interval{10000};
};

/// Something that wants a call at the end of the turn in which it asked for one. Its owner calls
/// forget_turn_hook() before it goes; a hook may destroy other hooks (or itself) from its call.
class TurnHook {
 public:
  virtual void on_end_of_turn() noexcept = 0;

 protected:
  ~TurnHook() = default;
};

class PollGroupImpl final : public PollGroup {
 public:
  /// Spare pages a group keeps above what the last trim period needed (1 MiB of 64 KiB pages).
  static constexpr std::uint64_t kSparePages = 16;

  PollGroupImpl(GroupId id, Groups& groups, const GroupSettings& settings, WorkerPool& workers,
                LogSink& log);
  ~PollGroupImpl();
  PollGroupImpl(const PollGroupImpl&) = delete;
  PollGroupImpl& operator=(const PollGroupImpl&) = delete;

  /// The group whose thread is calling, or null on other threads.
  static PollGroupImpl* current() noexcept;

  // PollGroup
  GroupId id() const noexcept override { return id_; }
  GroupId group_count() const noexcept override;
  void post(GroupId to, std::unique_ptr<Task> task) noexcept override;
  void defer(std::function<void()> fn) noexcept override;
  std::unique_ptr<Timer> after(std::chrono::milliseconds delay, std::function<void()> fn) noexcept override;
  void run_blocking(std::function<Status()> job, std::function<void(Status)> done) noexcept override;
  PagePool& pages() noexcept override { return pool_; }
  Streams& streams() noexcept override;
  Stats& stats() noexcept override;
  Clock::time_point now() const noexcept override { return Clock::now(); }
  SharedObjects& shared_objects() noexcept override;
  Result<std::unique_ptr<UdpSocket>> open_udp(const UdpSpec& spec, UdpReceiver* receiver) noexcept override;
  std::unique_ptr<Outgoing> connect(const ConnectSpec& spec,
                                    std::function<std::unique_ptr<ConnectionHandler>(Connection&)> make_handler,
                                    std::function<void(Status)> failed) noexcept override;

  boost::asio::io_context& io() noexcept { return io_; }
  const GroupSettings& settings() const noexcept { return settings_; }
  PagePoolImpl& pool() noexcept { return pool_; }
  StreamsImpl& streams_impl() noexcept { return *streams_; }
  SharedObjectsImpl& shared_objects_impl() noexcept { return *shared_objects_; }
  StatsImpl& stats_impl() noexcept { return *stats_; }
  Logger& logger() noexcept { return logger_; }
  LogSink& log_sink() noexcept { return log_; }

  /// Starts the thread; `on_start` runs on it before it serves anything.
  void start(std::function<void(PollGroupImpl&)> on_start);
  /// Runs `fn` on the thread and then leaves the loop once it is idle. Any thread.
  void stop(std::function<void(PollGroupImpl&)> on_stop);
  void join();
  /// After join(), on the main thread: runs what is still queued so every page goes home.
  bool drain_after_stop();
  /// After stop, on the main thread: drops what the group itself holds (connections, stream taps
  /// and their caches, the receive and framing pages) as this group, so that each page takes the
  /// usual way home; Groups drains again afterwards.
  void release_held() noexcept;

  /// Pushes a chain of tasks (newest first, `oldest` last) onto this group's inbox. Any thread.
  void enqueue(Task* newest, Task* oldest) noexcept;
  /// How many times the inbox was taken with tasks in it (one wake-up each). Owner thread; tests
  /// use it to see that one turn's tasks arrive together.
  std::uint64_t inbox_batches() const noexcept { return inbox_batches_; }

  // End-of-turn work, owner thread.
  void request_end_of_turn(TurnHook& hook) noexcept;
  void forget_turn_hook(TurnHook& hook) noexcept;
  void mark_sender_dirty(std::shared_ptr<ConnectionImpl> connection) noexcept;
  /// `socket` has datagrams queued: it sends them (sendmmsg) at the end of this turn, right
  /// after the TCP senders' writes.
  void mark_udp_dirty(std::shared_ptr<UdpSocketImpl> socket) noexcept;
  void schedule_flush(std::shared_ptr<ConnectionImpl> connection, Clock::time_point at) noexcept;
  /// `connection` holds may_wait data until `at` (now + settings().hold): it is flushed then
  /// unless something flushed it before (ConnectionImpl::is_held_until says).
  void hold_sender(std::shared_ptr<ConnectionImpl> connection, Clock::time_point at) noexcept;
  void return_page_later(GroupId home, Page* page) noexcept;
  void return_page_from_outside(Page* page) noexcept;  // any thread that is not a poll group

  // Connections, owner thread.
  void adopt_connection(std::shared_ptr<ConnectionImpl> connection);
  void retire_connection(ConnectionId id) noexcept;
  /// Shutdown: every connection closes gracefully, and every outgoing attempt still under way
  /// fails with `reason`.
  void close_all_connections(const Status& reason) noexcept;
  // Outgoing attempts under way (ConnectAttempt registers itself until it ends), owner thread.
  void register_connect(ConnectAttempt& attempt);
  void forget_connect(ConnectAttempt& attempt) noexcept;
  std::size_t pending_connects() const noexcept { return pending_connects_.size(); }
  /// The TLS client context for outgoing connections, made on first use and kept: loading the
  /// system's CA store costs milliseconds, once per group rather than per connection.
  Result<std::shared_ptr<TlsContext>> tls_client_context(bool verify_peer);
  std::size_t connection_count() const noexcept { return connections_.size(); }
  /// Connections handed to this group and not yet retired. Any thread: the acceptor adds one
  /// when it hands a socket over (so a burst of accepts spreads at once), retiring subtracts it.
  std::uint64_t load() const noexcept { return load_.load(std::memory_order_relaxed); }
  void add_load() noexcept { load_.fetch_add(1, std::memory_order_relaxed); }
  void remove_load() noexcept { load_.fetch_sub(1, std::memory_order_relaxed); }
  /// A sender of this group entering (+1) or leaving (-1) the not-ready states; only
  /// ConnectionImpl's own bookkeeping calls it, once each way.
  void count_overloaded(int delta) noexcept {
    overloaded_ += delta;
    assert(overloaded_ >= 0 && "a sender left the overloaded gauge twice");
  }
  std::uint64_t overloaded_senders() const noexcept { return static_cast<std::uint64_t>(overloaded_); }
  /// This group's open connections, for Stats::collect_connections().
  std::vector<ConnectionInfo> connection_infos() const;
  /// Closes connection `id` if this group holds it.
  bool close_connection(ConnectionId id, const Status& reason) noexcept;

  /// The group's receive page: `min_bytes` or more free bytes to recv() into (null when the pool
  /// is exhausted). commit_receive() seals the first `n` of them as a slice.
  std::byte* receive_space(std::uint32_t min_bytes, std::uint32_t& available) noexcept;
  PageSlice commit_receive(std::uint32_t n) noexcept;
  /// Small framing bytes (headers, control messages), packed many per page.
  PageWriter& framing() noexcept { return framing_; }

 private:
  struct Outbox {
    Task* newest = nullptr;
    Task* oldest = nullptr;
  };
  void schedule_end_of_turn() noexcept;
  void end_of_turn() noexcept;
  void drain_inbox() noexcept;
  void flush_outboxes() noexcept;
  void arm_flush_timer() noexcept;
  void run_due_flushes() noexcept;
  void arm_hold_timer() noexcept;
  void run_due_holds() noexcept;
  void arm_trim_timer() noexcept;

  ThreadOwner owner_;
  const GroupId id_;
  Groups& groups_;
  const GroupSettings settings_;
  WorkerPool& workers_;
  LogSink& log_;
  Logger logger_;
  boost::asio::io_context io_;
  std::thread thread_;

  std::atomic<Task*> inbox_{nullptr};
  std::uint64_t inbox_batches_ = 0;
  std::vector<Outbox> outboxes_;
  std::vector<std::vector<Page*>> return_bins_;  // pages of other groups released here this turn
  bool end_of_turn_scheduled_ = false;
  std::vector<TurnHook*> turn_hooks_;
  // The hooks end_of_turn() is calling: a hook forgotten meanwhile is blanked here, so that one
  // destroyed by an earlier hook's call (a player failing in a local fan-out closes its session,
  // which unpublishes) is never called. Swapped with turn_hooks_: no allocation per turn.
  std::vector<TurnHook*> calling_hooks_;
  std::vector<std::shared_ptr<ConnectionImpl>> dirty_senders_;
  std::vector<std::shared_ptr<UdpSocketImpl>> dirty_udp_;

  struct DelayedFlush {
    Clock::time_point at;
    std::weak_ptr<ConnectionImpl> connection;
    bool operator>(const DelayedFlush& o) const noexcept { return at > o.at; }
  };
  std::priority_queue<DelayedFlush, std::vector<DelayedFlush>, std::greater<>> delayed_flushes_;
  boost::asio::steady_timer flush_timer_;
  Clock::time_point flush_timer_at_ = Clock::time_point::max();
  boost::asio::steady_timer trim_timer_;
  // Senders holding may_wait data, oldest first. Every hold lasts the group's one hold time, so
  // deadlines come in the order they were set: a FIFO, not a heap, and one timer for its front.
  // Most entries are stale when they come due (a video frame flushed the sender first); they are
  // dropped then.
  struct HeldSender {
    Clock::time_point at;
    std::shared_ptr<ConnectionImpl> connection;
  };
  std::deque<HeldSender> held_senders_;
  boost::asio::steady_timer hold_timer_;
  bool hold_timer_armed_ = false;

  PagePoolImpl pool_;
  PageRef receive_page_;
  std::uint32_t receive_used_ = 0;
  PageWriter framing_;
  std::unique_ptr<StreamsImpl> streams_;
  std::unique_ptr<SharedObjectsImpl> shared_objects_;
  std::unique_ptr<StatsImpl> stats_;

  std::unordered_map<ConnectionId, std::shared_ptr<ConnectionImpl>> connections_;
  std::vector<ConnectAttempt*> pending_connects_;  // few at once: a vector beats a set
  std::shared_ptr<TlsContext> tls_client_[2];      // [verify_peer]
  std::atomic<std::uint64_t> load_{0};
  std::int64_t overloaded_ = 0;
};

/// All poll groups, and posting from threads that are not poll groups.
class Groups {
 public:
  Groups(const GroupSettings& settings, GroupId count, WorkerPool& workers, LogSink& log);
  ~Groups();
  GroupId count() const noexcept { return static_cast<GroupId>(groups_.size()); }
  PollGroupImpl& operator[](GroupId id) noexcept { return *groups_[id]; }
  /// Posts from any thread: batched when called on a poll group, direct otherwise.
  void post(GroupId to, std::unique_ptr<Task> task) noexcept;
  /// The group with the fewest open connections (ties: lowest id). Any thread.
  GroupId least_loaded() const noexcept;
  void start(std::function<void(PollGroupImpl&)> on_start);
  void stop(std::function<void(PollGroupImpl&)> on_stop);
  void join();

 private:
  void drain_all();

  std::vector<std::unique_ptr<PollGroupImpl>> groups_;
};

/// A task that runs a function: for replies (run_blocking) and tests. Cross-group messages of
/// components are named structs instead.
class FunctionTask final : public Task {
 public:
  explicit FunctionTask(std::function<void()> fn) : fn_(std::move(fn)) {}
  void run() noexcept override { fn_(); }

 private:
  std::function<void()> fn_;
};

}  // namespace weir::kernel
