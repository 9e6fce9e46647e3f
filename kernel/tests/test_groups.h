// SPDX-License-Identifier: Apache-2.0
#pragma once
// TestGroups: real poll groups for tests (and the micro-benchmarks), built the way the server
// builds them: kernel::Groups with a WorkerPool, a LogSinkImpl, a StatsRegistry and a
// StreamRegistry. run(k, fn) runs fn on group k and waits for its result; every wait is bounded
// (a test that would hang aborts instead, naming what it waited for).
//
//   test thread --run(k, fn)--> Groups::post(k, RunTask) --> group k runs fn --> promise --> test thread

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>

#include "log/log_sink.h"
#include "poll_group/poll_group.h"
#include "shared_objects/shared_objects.h"
#include "stats/stats.h"
#include "stream/registry.h"
#include "stream/streams.h"
#include "workers/worker_pool.h"

namespace weir::kernel::testing {

/// The longest any test waits for one thing before giving up (sanitizer builds on 2 cores are slow,
/// and a correct run never comes near it).
inline constexpr std::chrono::seconds kWaitLimit{20};

/// Ends the process with a message: a bounded wait ran out (better than a hung test).
[[noreturn]] inline void wait_expired(const char* what) {
  std::fprintf(stderr, "test wait expired after %lld s: %s\n", static_cast<long long>(kWaitLimit.count()), what);
  std::fflush(stderr);
  std::abort();
}

/// Calls `predicate` every millisecond until it returns true or `limit` passes; returns its last
/// answer.
template <class Predicate>
bool wait_until(Predicate&& predicate, std::chrono::milliseconds limit = kWaitLimit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (predicate()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

struct TestGroupsOptions {
  GroupId count = 2;
  GroupSettings settings;
  StreamSettings streams;
  unsigned workers = 1;
  LogLevel log_level = LogLevel::warn;
  SharedObjectSettings shared_objects;
};

class TestGroups {
 public:
  explicit TestGroups(GroupId count) : TestGroups(TestGroupsOptions{count, {}, {}, 1, LogLevel::warn, {}}) {}
  explicit TestGroups(TestGroupsOptions options)
      : options_(std::move(options)),
        workers_(options_.workers),
        registry_(options_.count),
        shared_object_registry_(options_.shared_objects) {
    log_.set_level(options_.log_level);
    groups_ = std::make_unique<Groups>(options_.settings, options_.count, workers_, log_);
    for (GroupId g = 0; g < options_.count; ++g) {
      (*groups_)[g].streams_impl().attach(registry_, options_.streams);
      (*groups_)[g].shared_objects_impl().attach(shared_object_registry_);
    }
  }
  ~TestGroups() { stop(); }
  TestGroups(const TestGroups&) = delete;
  TestGroups& operator=(const TestGroups&) = delete;

  /// Listener names get their connection counters here; call before start().
  StatsRegistry& stats_registry() noexcept { return stats_; }
  LogSinkImpl& log() noexcept { return log_; }

  /// Starts every group's thread (done by the first run() if not called).
  void start() {
    if (started_) return;
    started_ = true;
    groups_->start([this](PollGroupImpl& group) { group.stats_impl().attach(stats_); });
  }

  /// Closes the groups' connections, stops and joins their threads, then drains what is left the
  /// way the server does at exit (every page goes home). Idempotent.
  void stop() {
    if (!groups_) return;
    stop_threads();
    workers_.stop_and_join();  // as the server does: queued blocking jobs finish before the groups go
    groups_.reset();
  }

  /// Stops and joins the groups' threads but keeps the groups (what is posted now waits for the
  /// drain at destruction, as at the server's exit).
  void stop_threads() {
    if (started_ && !stopped_) {
      stopped_ = true;
      groups_->stop([](PollGroupImpl& group) {
        group.close_all_connections(Status(Errc::closed, "test groups stopping"));
      });
      auto joined = std::async(std::launch::async, [this] { groups_->join(); });
      if (joined.wait_for(kWaitLimit) != std::future_status::ready) wait_expired("poll groups to stop");
    }
  }

  GroupId count() const noexcept { return options_.count; }
  PollGroupImpl& operator[](GroupId id) noexcept { return (*groups_)[id]; }
  Groups& groups() noexcept { return *groups_; }
  WorkerPool& workers() noexcept { return workers_; }
  StreamRegistry& stream_registry() noexcept { return registry_; }

  /// Runs `fn` on group `k` (in a task, as a message from this thread would) and returns its result.
  template <class Fn>
  auto run(GroupId k, Fn&& fn) -> std::invoke_result_t<std::decay_t<Fn>&> {
    using R = std::invoke_result_t<std::decay_t<Fn>&>;
    start();
    auto task = std::make_unique<RunTask<std::decay_t<Fn>, R>>(std::forward<Fn>(fn));
    std::future<R> result = task->promise.get_future();
    groups_->post(k, std::move(task));
    if (result.wait_for(kWaitLimit) != std::future_status::ready) wait_expired("a function run on a poll group");
    return result.get();
  }

  /// Runs a task on each group, `rounds` times over, so that what one group sends another (page
  /// returns, replies, stream messages) is delivered and handled: chains up to `rounds` hops deep.
  void run_until_idle(int rounds = 4) {
    for (int r = 0; r < rounds; ++r)
      for (GroupId g = 0; g < count(); ++g) run(g, [] {});
  }

  /// A pool's statistics, read on its group.
  PagePoolStats pool_stats(GroupId k) {
    return run(k, [this, k] { return (*groups_)[k].pool().stats(); });
  }

 private:
  template <class Fn, class R>
  struct RunTask final : Task {
    explicit RunTask(Fn f) : fn(std::move(f)) {}
    void run() noexcept override {
      if constexpr (std::is_void_v<R>) {
        fn();
        promise.set_value();
      } else {
        promise.set_value(fn());
      }
    }
    Fn fn;
    std::promise<R> promise;
  };

  TestGroupsOptions options_;
  LogSinkImpl log_;
  WorkerPool workers_;
  StatsRegistry stats_;
  StreamRegistry registry_;
  SharedObjectRegistry shared_object_registry_;
  std::unique_ptr<Groups> groups_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace weir::kernel::testing
