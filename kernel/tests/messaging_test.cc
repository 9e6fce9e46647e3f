// SPDX-License-Identifier: Apache-2.0
// Cross-thread messaging between real poll groups: order, batching per turn, replies from the
// worker pool, timers and deferred calls.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "test_groups.h"

namespace weir::kernel {
namespace {

using testing::TestGroups;
using testing::wait_until;

// What the consumer group saw. Touched only on the consumer's thread (read there by run()).
struct Arrivals {
  std::vector<int> next_expected;  // per producer
  int out_of_order = 0;
  int total = 0;
};

// A numbered message from one producer. `arrivals` belongs to the destination group: only its
// thread reads or writes it.
struct Numbered final : Task {
  Numbered(Arrivals& arrivals, int producer, int seq) : arrivals(arrivals), producer(producer), seq(seq) {}
  void run() noexcept override {
    int& expected = arrivals.next_expected[producer];
    if (seq != expected) ++arrivals.out_of_order;
    expected = seq + 1;
    ++arrivals.total;
  }
  Arrivals& arrivals;
  int producer;
  int seq;
};

// Posts `count` numbered tasks from a poll group, `per_turn` at a time, over many loop turns.
void produce_from_group(PollGroupImpl& group, GroupId to, Arrivals& arrivals, int producer, int from, int count,
                        int per_turn) {
  int end = std::min(count, from + per_turn);
  for (int seq = from; seq < end; ++seq) group.post(to, std::make_unique<Numbered>(arrivals, producer, seq));
  if (end < count)
    group.defer([&group, to, &arrivals, producer, end, count, per_turn] {
      produce_from_group(group, to, arrivals, producer, end, count, per_turn);
    });
}

TEST(Messaging, TasksFromSeveralProducersRunInPostingOrderPerProducer) {
  constexpr int kPerProducer = 20000;
  constexpr int kProducers = 4;  // groups 0 and 1, the test thread, one more plain thread
  TestGroups groups(3);
  Arrivals arrivals;
  arrivals.next_expected.assign(kProducers, 0);
  groups.start();
  groups.run(0, [&] { produce_from_group(groups[0], 2, arrivals, 0, 0, kPerProducer, 97); });
  groups.run(1, [&] { produce_from_group(groups[1], 2, arrivals, 1, 0, kPerProducer, 13); });
  std::thread other([&] {
    for (int seq = 0; seq < kPerProducer; ++seq) groups.groups().post(2, std::make_unique<Numbered>(arrivals, 3, seq));
  });
  for (int seq = 0; seq < kPerProducer; ++seq) groups.groups().post(2, std::make_unique<Numbered>(arrivals, 2, seq));
  other.join();
  ASSERT_TRUE(wait_until([&] { return groups.run(2, [&] { return arrivals.total; }) == kPerProducer * kProducers; }));
  groups.run(2, [&] {
    EXPECT_EQ(arrivals.out_of_order, 0);
    for (int p = 0; p < kProducers; ++p) EXPECT_EQ(arrivals.next_expected[p], kPerProducer) << "producer " << p;
  });
}

// Runs on the destination group; notes whether a call deferred by the batch's first task has run
// yet (it runs only after the handler that runs the whole batch returns).
struct BatchProbe {
  int ran = 0;
  int ran_after_marker = 0;
  bool marker_ran = false;
  std::vector<int> order;
};

struct BatchMember final : Task {
  BatchMember(BatchProbe& probe, PollGroupImpl& group, int seq) : probe(probe), group(group), seq(seq) {}
  void run() noexcept override {
    if (probe.ran == 0) group.defer([&p = probe] { p.marker_ran = true; });
    if (probe.marker_ran) ++probe.ran_after_marker;
    ++probe.ran;
    probe.order.push_back(seq);
  }
  BatchProbe& probe;
  PollGroupImpl& group;
  int seq;
};

TEST(Messaging, TasksPostedInOneTurnArriveAsOneBatch) {
  constexpr int kTasks = 1000;
  TestGroups groups(2);
  BatchProbe probe;
  groups.run(0, [&] {
    for (int i = 0; i < kTasks; ++i) groups[0].post(1, std::make_unique<BatchMember>(probe, groups[1], i));
  });
  ASSERT_TRUE(wait_until([&] { return groups.run(1, [&] { return probe.ran; }) == kTasks; }));
  auto [ran_after_marker, order] = groups.run(1, [&] { return std::pair{probe.ran_after_marker, probe.order}; });
  // The call deferred by the first task ran after the last one: all ran in one handler.
  EXPECT_EQ(ran_after_marker, 0);
  std::vector<int> expected(kTasks);
  for (int i = 0; i < kTasks; ++i) expected[i] = i;
  EXPECT_EQ(order, expected);
}

TEST(Messaging, ATurnsTasksWakeTheDestinationOnce) {
  constexpr int kTasks = 1000;
  TestGroups groups(2);
  std::atomic<int> ran{0};
  struct Counted final : Task {
    explicit Counted(std::atomic<int>& ran) : ran(ran) {}
    void run() noexcept override { ran.fetch_add(1, std::memory_order_release); }
    std::atomic<int>& ran;
  };
  std::uint64_t before = groups.run(1, [&] { return groups[1].inbox_batches(); });
  groups.run(0, [&] {
    for (int i = 0; i < kTasks; ++i) groups[0].post(1, std::make_unique<Counted>(ran));
  });
  // Waiting on an atomic, not on group 1: no other task reaches group 1 meanwhile.
  ASSERT_TRUE(wait_until([&] { return ran.load(std::memory_order_acquire) == kTasks; }));
  std::uint64_t after = groups.run(1, [&] { return groups[1].inbox_batches(); });
  // +1 for the batch, +1 for the run() that reads the counter.
  EXPECT_EQ(after - before, 2u);
}

TEST(Messaging, TasksPostedByAGroupDoNotLeaveBeforeItsTurnEnds) {
  TestGroups groups(2);
  std::atomic<bool> ran{false};
  struct Flag final : Task {
    explicit Flag(std::atomic<bool>& ran) : ran(ran) {}
    void run() noexcept override { ran.store(true); }
    std::atomic<bool>& ran;
  };
  bool ran_during_turn = groups.run(0, [&] {
    groups[0].post(1, std::make_unique<Flag>(ran));
    // Were it sent at once, group 1 (idle, on its own thread) would run it within this wait.
    wait_until([&] { return ran.load(); }, std::chrono::milliseconds(50));
    return ran.load();
  });
  EXPECT_FALSE(ran_during_turn);
  EXPECT_TRUE(wait_until([&] { return ran.load(); }));
}

TEST(Messaging, TaskPostedToItsOwnGroupRunsInALaterTurn) {
  TestGroups groups(1);
  std::atomic<int> state{0};
  struct Set final : Task {
    explicit Set(std::atomic<int>& state) : state(state) {}
    void run() noexcept override { state.store(2); }
    std::atomic<int>& state;
  };
  int during = groups.run(0, [&] {
    groups[0].post(0, std::make_unique<Set>(state));
    int seen = state.load();
    state.store(1);
    return seen;
  });
  EXPECT_EQ(during, 0);
  EXPECT_TRUE(wait_until([&] { return state.load() == 2; }));
}

TEST(Messaging, RunBlockingRunsTheJobOnAWorkerAndRepliesOnTheAskingGroup) {
  TestGroups groups(2);
  std::thread::id group_thread = groups.run(1, [] { return std::this_thread::get_id(); });
  struct Seen {
    std::thread::id job_thread;
    std::thread::id reply_thread;
    PollGroupImpl* reply_group = nullptr;
    Status status;
  };
  std::promise<Seen> done;
  auto seen_future = done.get_future();
  auto job_thread = std::make_shared<std::thread::id>();
  groups.run(1, [&] {
    groups[1].run_blocking(
        [job_thread] {
          *job_thread = std::this_thread::get_id();
          return error(Errc::io, "disk {} is gone", "sdb");
        },
        [&done, job_thread](Status status) {
          done.set_value(Seen{*job_thread, std::this_thread::get_id(), PollGroupImpl::current(), std::move(status)});
        });
  });
  ASSERT_EQ(seen_future.wait_for(testing::kWaitLimit), std::future_status::ready);
  Seen seen = seen_future.get();
  EXPECT_NE(seen.job_thread, group_thread);
  EXPECT_EQ(seen.reply_thread, group_thread);
  EXPECT_EQ(seen.reply_group, &groups[1]);
  EXPECT_EQ(seen.status.code(), Errc::io);
  EXPECT_EQ(seen.status.message(), "disk sdb is gone");
}

TEST(Messaging, TimerFiresOnItsGroup) {
  TestGroups groups(2);
  std::promise<PollGroupImpl*> fired;
  auto fired_future = fired.get_future();
  std::unique_ptr<Timer> timer = groups.run(1, [&] {
    return groups[1].after(std::chrono::milliseconds(10), [&] { fired.set_value(PollGroupImpl::current()); });
  });
  ASSERT_EQ(fired_future.wait_for(testing::kWaitLimit), std::future_status::ready);
  EXPECT_EQ(fired_future.get(), &groups[1]);
  groups.run(1, [&] { timer.reset(); });
}

TEST(Messaging, DestroyedOrCancelledTimerDoesNotFire) {
  TestGroups groups(1);
  std::atomic<int> early_fired{0};
  std::promise<void> late;
  auto late_future = late.get_future();
  std::unique_ptr<Timer> cancelled, later;
  groups.run(0, [&] {
    auto destroyed = groups[0].after(std::chrono::milliseconds(1), [&] { early_fired.fetch_add(1); });
    destroyed.reset();
    cancelled = groups[0].after(std::chrono::milliseconds(1), [&] { early_fired.fetch_add(1); });
    cancelled->cancel();
    // Due well after the two above: when it fires, they would have fired before it.
    later = groups[0].after(std::chrono::milliseconds(40), [&] { late.set_value(); });
  });
  ASSERT_EQ(late_future.wait_for(testing::kWaitLimit), std::future_status::ready);
  EXPECT_EQ(early_fired.load(), 0);
  groups.run(0, [&] {
    cancelled.reset();
    later.reset();
  });
}

TEST(Messaging, DeferredCallRunsAfterTheCurrentHandlerReturns) {
  TestGroups groups(1);
  bool ran_inside = true;
  std::atomic<bool> ran{false};
  groups.run(0, [&] {
    groups[0].defer([&] { ran.store(true); });
    ran_inside = ran.load();
  });
  EXPECT_FALSE(ran_inside);
  EXPECT_TRUE(wait_until([&] { return ran.load(); }));
}

TEST(Messaging, TasksPostedAfterTheGroupsStoppedRunInTheDrainAtExit) {
  auto counter = std::make_shared<std::atomic<int>>(0);
  struct Count final : Task {
    explicit Count(std::shared_ptr<std::atomic<int>> c) : c(std::move(c)) {}
    void run() noexcept override { c->fetch_add(1); }
    std::shared_ptr<std::atomic<int>> c;
  };
  {
    TestGroups groups(2);
    groups.start();
    groups.stop_threads();
    for (int i = 0; i < 10; ++i) groups.groups().post(1, std::make_unique<Count>(counter));
    EXPECT_EQ(counter->load(), 0);
  }  // ~Groups drains every group on this thread
  EXPECT_EQ(counter->load(), 10);
}

TEST(Messaging, PageDroppedAfterTheGroupsStoppedGoesHomeInTheDrain) {
  TestGroups groups(2);
  PageRef page = groups.run(0, [&] { return groups[0].pages().allocate(); });
  groups.stop_threads();
  page.reset();  // not a poll group's thread: a ReturnPages task of its own
  groups[0].drain_after_stop();
  EXPECT_EQ(groups[0].pool().stats().pages_in_use, 0u);
}

}  // namespace
}  // namespace weir::kernel
