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

 protected:
  ~PollGroup() = default;
};

}  // namespace weir
