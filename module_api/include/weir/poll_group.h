// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Poll groups: one thread, one event loop each. A connection lives on one group for life; every
/// object belongs to one group. Work for another group is a Task posted to it. Tasks posted from a
/// poll group during one loop turn travel to each destination together (one wake-up per batch).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "weir/log.h"
#include "weir/pages.h"
#include "weir/status.h"

namespace weir {

using GroupId = std::uint32_t;
using Clock = std::chrono::steady_clock;

/// A unit of work for a poll group: a named message struct deriving from Task, whose run() is
/// called on the destination group. It carries owned data (PageRefs, shared_ptr<const T>,
/// values), never raw pointers to another group's objects.
class Task {
 public:
  virtual ~Task() = default;
  virtual void run() noexcept = 0;

 private:
  friend class TaskList;
  Task* next_ = nullptr;  ///< intrusive link: batching allocates nothing beyond the task
};

/// An intrusive singly linked list of tasks (the kernel's batching uses it).
class TaskList {
 public:
  static Task*& next(Task& task) noexcept { return task.next_; }
};

/// A one-shot timer on a poll group; destroying the handle cancels it.
class Timer {
 public:
  virtual ~Timer() = default;
  virtual void cancel() noexcept = 0;
};

class Streams;
class Stats;
class SharedObjects;
class UdpSocket;
class UdpReceiver;
struct UdpSpec;
class Connection;
class ConnectionHandler;
struct ConnectSpec;

/// An outgoing connection attempt (PollGroup::connect()). Destroying the handle cancels the
/// attempt if it is still resolving, connecting or in its TLS handshake: neither callback is
/// called afterwards. Once the connection is made (or the attempt failed) the handle does nothing
/// more: the connection belongs to the kernel, like an accepted one, and is closed through
/// Connection::close(). Thread: the group that made it.
class Outgoing {
 public:
  virtual ~Outgoing() = default;
  /// Cancels the attempt now (what destruction does); nothing is called back. Idempotent.
  virtual void cancel() noexcept = 0;
  /// True while the attempt is under way: neither callback has been called, nor cancel().
  virtual bool is_pending() const noexcept = 0;
};

/// The poll group a piece of code runs on. Thread: its own thread, except post() and id().
class PollGroup {
 public:
  /// This group's index, 0..group_count()-1. Any thread.
  virtual GroupId id() const noexcept = 0;
  virtual GroupId group_count() const noexcept = 0;

  /// Sends a task to group `to` (may be this one: it then runs in a later turn). Any thread; from
  /// a poll group the tasks of one turn bound for one group go together, in order.
  virtual void post(GroupId to, std::unique_ptr<Task> task) noexcept = 0;

  /// Runs `fn` on this group after the current handler returns (a later step of this loop).
  virtual void defer(std::function<void()> fn) noexcept = 0;

  /// Calls `fn` on this group after `delay`, unless the returned handle is destroyed first.
  virtual std::unique_ptr<Timer> after(std::chrono::milliseconds delay,
                                       std::function<void()> fn) noexcept = 0;

  /// Runs `job` on the worker pool (disk, DNS, anything that blocks), then `done` on this group
  /// with the job's status. The job must not touch this group's objects.
  virtual void run_blocking(std::function<Status()> job, std::function<void(Status)> done) noexcept = 0;

  /// This group's page pool, streams and statistics: the same objects for the group's whole
  /// life, so a module's per-group state may keep references to them.
  virtual PagePool& pages() noexcept = 0;
  virtual Streams& streams() noexcept = 0;
  virtual Stats& stats() noexcept = 0;
  virtual Clock::time_point now() const noexcept = 0;
  /// Shared objects (weir/shared_objects.h) as seen from this group. Added in ABI 1 after the
  /// members above (appended, so modules built before it still call the same slots).
  virtual SharedObjects& shared_objects() noexcept = 0;
  /// Binds a UDP socket on this group (weir/udp.h); `receiver` (may be null, see
  /// UdpSocket::set_receiver) gets its datagrams on this group. Errors name the spec's name and
  /// address (a taken port, a bad address). Added in ABI 3 after the members above (appended).
  virtual Result<std::unique_ptr<UdpSocket>> open_udp(const UdpSpec& spec, UdpReceiver* receiver) noexcept = 0;

  /// Connects to `spec.host`:`spec.port` (weir/connection.h: ConnectSpec) for this group: the
  /// name is resolved on the worker pool (unless it is an address), then each address is tried
  /// in turn, all within `spec.timeout`, and with `spec.use_tls` a TLS handshake follows. Then
  /// `make_handler(connection)` is called on this group and the connection is served like an
  /// accepted one (same sender, limits and statistics; Stats::collect_connections() lists it
  /// under `spec.name`), living on this group for life; a null handler closes it at once. If
  /// the attempt fails, `failed(status)` is called instead: a resolve error (Errc::not_found
  /// when the name does not exist), a refused or unreachable address (Errc::io), the timeout
  /// (Errc::timeout), a failed TLS handshake or certificate (Errc::denied), the server shutting
  /// down (Errc::closed); the message names the spec's name, host:port and why. Exactly one of
  /// the two is called, never from inside connect() itself, and neither once the returned
  /// handle is destroyed. Added in ABI 3 after shared_objects() (appended).
  virtual std::unique_ptr<Outgoing> connect(const ConnectSpec& spec,
                                            std::function<std::unique_ptr<ConnectionHandler>(Connection&)> make_handler,
                                            std::function<void(Status)> failed) noexcept = 0;

 protected:
  ~PollGroup() = default;
};

}  // namespace weir
