// SPDX-License-Identifier: Apache-2.0
// Cross-thread task passing between two real poll groups: batched per turn (the normal case), one
// task per turn (ping-pong: a wake-up each way), and from a thread that is not a poll group.
#include <benchmark/benchmark.h>

#include <future>

#include "test_groups.h"

namespace weir::kernel {
namespace {

// Counts arrivals on the destination group; the last one wakes the benchmark thread.
struct Sink {
  int expected = 0;
  int seen = 0;
  std::promise<void> done;
};

struct Message final : Task {
  explicit Message(Sink& sink) : sink(sink) {}
  void run() noexcept override {
    if (++sink.seen == sink.expected) sink.done.set_value();
  }
  Sink& sink;
};

// Group 0 posts `n` tasks to group 1 in one turn: they travel as one batch, one wake-up.
void BM_Messaging_CrossGroupBatched(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  testing::TestGroups groups(2);
  groups.start();
  for (auto _ : state) {
    Sink sink{n, 0, {}};
    auto done = sink.done.get_future();
    groups.run(0, [&] {
      for (int i = 0; i < n; ++i) groups[0].post(1, std::make_unique<Message>(sink));
    });
    done.wait();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Messaging_CrossGroupBatched)->Arg(1)->Arg(64)->Arg(1000)->UseRealTime();

// One task bounced between the groups `kHops` times: each hop is a turn and a wake-up.
struct Bounce final : Task {
  Bounce(testing::TestGroups& groups, int hops_left, std::promise<void>& done)
      : groups(groups), hops_left(hops_left), done(done) {}
  void run() noexcept override {
    if (hops_left == 0) {
      done.set_value();
      return;
    }
    PollGroupImpl* here = PollGroupImpl::current();
    here->post(here->id() ^ 1u, std::make_unique<Bounce>(groups, hops_left - 1, done));
  }
  testing::TestGroups& groups;
  int hops_left;
  std::promise<void>& done;
};

void BM_Messaging_PingPong(benchmark::State& state) {
  constexpr int kHops = 1000;
  testing::TestGroups groups(2);
  groups.start();
  for (auto _ : state) {
    std::promise<void> done;
    auto finished = done.get_future();
    groups.groups().post(0, std::make_unique<Bounce>(groups, kHops, done));
    finished.wait();
  }
  state.SetItemsProcessed(state.iterations() * kHops);
}
BENCHMARK(BM_Messaging_PingPong)->UseRealTime();

// The benchmark thread (no poll group) posts `n` tasks straight into group 1's inbox.
void BM_Messaging_FromOutside(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  testing::TestGroups groups(2);
  groups.start();
  for (auto _ : state) {
    Sink sink{n, 0, {}};
    auto done = sink.done.get_future();
    for (int i = 0; i < n; ++i) groups.groups().post(1, std::make_unique<Message>(sink));
    done.wait();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Messaging_FromOutside)->Arg(1000)->UseRealTime();

}  // namespace
}  // namespace weir::kernel

BENCHMARK_MAIN();
