// SPDX-License-Identifier: Apache-2.0
// Page pool and page writer: allocation and release on the owning thread, pages coming home from
// another group in the end-of-turn batch, and packing messages into pages.
#include <benchmark/benchmark.h>

#include <future>
#include <vector>

#include "pages/page_pool.h"
#include "weir/stream.h"
#include "test_groups.h"

namespace weir::kernel {
namespace {

constexpr std::uint32_t kPageSize = 64 * 1024;

// One page allocated and released on the pool's own thread (a free-list pop and push).
void BM_PagePool_AllocateRelease(benchmark::State& state) {
  PagePoolImpl pool(kPageSize, 1 << 20, nullptr);
  for (auto _ : state) {
    PageRef page = pool.allocate();
    benchmark::DoNotOptimize(page.get());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PagePool_AllocateRelease);

// `n` pages held at once, then all released: the free list deeper than one page.
void BM_PagePool_AllocateReleaseBatch(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  PagePoolImpl pool(kPageSize, 1 << 20, nullptr);
  std::vector<PageRef> pages(n);
  for (auto _ : state) {
    for (auto& page : pages) page = pool.allocate();
    for (auto& page : pages) page.reset();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_PagePool_AllocateReleaseBatch)->Arg(16)->Arg(256);

// Sharing one page: a reference copied and dropped (the atomic increment and decrement).
void BM_PageRef_CopyDrop(benchmark::State& state) {
  PagePoolImpl pool(kPageSize, 16, nullptr);
  PageRef page = pool.allocate();
  for (auto _ : state) {
    PageRef copy = page;
    benchmark::DoNotOptimize(copy.get());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PageRef_CopyDrop);

// Group 0 allocates `batch` pages and hands them to group 1, which drops them; they go home in
// group 1's end-of-turn ReturnPages batch. 64 rounds per iteration, run entirely on the groups.
struct CrossThreadRounds {
  testing::TestGroups& groups;
  std::size_t batch;
  int rounds_left = 0;
  std::promise<void> done;
};

struct DropPages final : Task {
  DropPages(CrossThreadRounds& r, std::vector<PageRef> pages) : r(r), pages(std::move(pages)) {}
  void run() noexcept override;
  CrossThreadRounds& r;
  std::vector<PageRef> pages;
};

void next_round(CrossThreadRounds& r) {
  if (r.rounds_left-- == 0) {
    r.done.set_value();
    return;
  }
  std::vector<PageRef> pages;
  pages.reserve(r.batch);
  for (std::size_t i = 0; i < r.batch; ++i) pages.push_back(r.groups[0].pages().allocate());
  r.groups[0].post(1, std::make_unique<DropPages>(r, std::move(pages)));
}

struct NextRound final : Task {
  explicit NextRound(CrossThreadRounds& r) : r(r) {}
  void run() noexcept override { next_round(r); }
  CrossThreadRounds& r;
};

void DropPages::run() noexcept {
  pages.clear();  // another group's pages: they go home in this turn's batch
  r.groups[1].post(0, std::make_unique<NextRound>(r));
}

void BM_PagePool_CrossGroupReturn(benchmark::State& state) {
  constexpr int kRounds = 64;
  testing::TestGroupsOptions options;
  options.count = 2;
  options.settings.max_pages = 1 << 16;
  testing::TestGroups groups(options);
  groups.start();
  for (auto _ : state) {
    CrossThreadRounds rounds{groups, static_cast<std::size_t>(state.range(0)), kRounds, {}};
    auto done = rounds.done.get_future();
    groups.run(0, [&] { next_round(rounds); });
    done.wait();
  }
  state.SetItemsProcessed(state.iterations() * kRounds * state.range(0));
  PagePoolStats stats = groups.pool_stats(0);
  state.counters["pages_allocated"] = static_cast<double>(stats.pages_allocated);
}
BENCHMARK(BM_PagePool_CrossGroupReturn)->Arg(1)->Arg(64)->Arg(256)->UseRealTime();

// Copying `size`-byte messages into pages (ingest: the one copy a payload gets).
void BM_PageWriter_Append(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  PagePoolImpl pool(kPageSize, 1 << 16, nullptr);
  PageWriter writer(pool);
  std::vector<std::uint8_t> message(size, 0x5a);
  PageChain chain;
  for (auto _ : state) {
    chain.clear();
    bool ok = writer.append(std::span<const std::uint8_t>(message), chain);
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PageWriter_Append)->Arg(16)->Arg(200)->Arg(1400)->Arg(64 * 1024);

// A frame copied: what each tap's GOP cache and every joiner's replay do per frame. A PageChain
// with its slices inline copies with no allocation (one reference added per slice).
void BM_MediaFrame_Copy(benchmark::State& state) {
  PagePoolImpl pool(kPageSize, 16, nullptr);
  MediaFrame frame;
  frame.kind = MediaKind::video;
  frame.payload.append(PageSlice{pool.allocate(), 0, 9000});
  for (auto _ : state) {
    MediaFrame copy = frame;
    benchmark::DoNotOptimize(copy.payload.size());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MediaFrame_Copy);

// A late joiner's replay: a 2 s GOP of 30 fps video and ~43 audio frames/s (146 frames) copied.
void BM_GopSnapshot_Copy(benchmark::State& state) {
  PagePoolImpl pool(kPageSize, 64, nullptr);
  PageWriter writer(pool);
  std::vector<std::uint8_t> bytes(4500, 0x5a);
  std::vector<MediaFrame> gop(146);
  for (MediaFrame& frame : gop) (void)writer.append(std::span<const std::uint8_t>(bytes), frame.payload);
  for (auto _ : state) {
    std::vector<MediaFrame> snapshot = gop;
    benchmark::DoNotOptimize(snapshot.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(gop.size()));
}
BENCHMARK(BM_GopSnapshot_Copy);

}  // namespace
}  // namespace weir::kernel

BENCHMARK_MAIN();
