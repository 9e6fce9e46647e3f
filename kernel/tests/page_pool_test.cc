// SPDX-License-Identifier: Apache-2.0
// Page pool and page writer: allocation on the owner, pages coming home from other threads in the
// end-of-turn batch, exhaustion as backpressure, and packing messages into pages.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include "pages/page_pool.h"
#include "test_groups.h"

namespace weir::kernel {
namespace {

using testing::TestGroups;
using testing::TestGroupsOptions;

TestGroupsOptions small_pools(GroupId count, std::uint64_t max_pages) {
  TestGroupsOptions options;
  options.count = count;
  options.settings.page_size = 4096;
  options.settings.max_pages = max_pages;
  return options;
}

std::vector<std::uint8_t> pattern(std::size_t size, std::uint8_t seed) {
  std::vector<std::uint8_t> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>((i * 31 + seed) % 251);
  return bytes;
}

TEST(PagePool, AllocatedPageHasOneReferenceAndThePoolsCapacity) {
  PagePoolImpl pool(4096, 8, nullptr);
  PageRef page = pool.allocate();
  ASSERT_TRUE(page);
  EXPECT_EQ(page.capacity(), 4096u);
  EXPECT_EQ(page.get()->refs.load(), 1u);
  EXPECT_EQ(pool.stats().pages_in_use, 1u);
  EXPECT_EQ(pool.stats().pages_allocated, 1u);
}

TEST(PagePool, ReleasedPageIsReusedByTheNextAllocation) {
  PagePoolImpl pool(4096, 8, nullptr);
  Page* first = nullptr;
  {
    PageRef page = pool.allocate();
    first = page.get();
    PageRef copy = page;  // two references: the page stays in use until both go
    page.reset();
    EXPECT_EQ(pool.stats().pages_in_use, 1u);
  }
  EXPECT_EQ(pool.stats().pages_in_use, 0u);
  PageRef again = pool.allocate();
  EXPECT_EQ(again.get(), first);
  EXPECT_EQ(pool.stats().pages_allocated, 1u);
}

TEST(PagePool, AllocateAndReleaseOnTheOwningGroup) {
  TestGroups groups(small_pools(1, 16));
  auto stats = groups.run(0, [&] {
    PagePool& pool = groups[0].pages();
    std::vector<PageRef> pages;
    for (int i = 0; i < 5; ++i) pages.push_back(pool.allocate());
    PagePoolStats during = pool.stats();
    pages.clear();
    return std::pair{during, pool.stats()};
  });
  EXPECT_EQ(stats.first.pages_in_use, 5u);
  EXPECT_EQ(stats.second.pages_in_use, 0u);
  EXPECT_EQ(stats.second.pages_allocated, 5u);
}

TEST(PagePool, PageReleasedOnAnotherGroupReturnsHome) {
  TestGroups groups(small_pools(2, 64));
  std::vector<PageRef> pages = groups.run(0, [&] {
    std::vector<PageRef> out;
    for (int i = 0; i < 10; ++i) out.push_back(groups[0].pages().allocate());
    return out;
  });
  EXPECT_EQ(groups.pool_stats(0).pages_in_use, 10u);
  // Group 1 drops every reference in one turn: the pages travel home in one ReturnPages batch.
  groups.run(1, [p = std::move(pages)]() mutable { p.clear(); });
  groups.run_until_idle();
  PagePoolStats stats = groups.pool_stats(0);
  EXPECT_EQ(stats.pages_in_use, 0u);
  EXPECT_EQ(stats.pages_allocated, 10u);  // free count = allocated - in use: all are free again
}

TEST(PagePool, PageSharedWithAnotherGroupStaysInUseUntilTheLastReferenceDrops) {
  TestGroups groups(small_pools(2, 64));
  PageRef page = groups.run(0, [&] { return groups[0].pages().allocate(); });
  PageRef shared = page;
  groups.run(1, [p = std::move(shared)]() mutable { p.reset(); });
  groups.run_until_idle();
  EXPECT_EQ(groups.pool_stats(0).pages_in_use, 1u);  // the test thread still holds one
  groups.run(1, [p = std::move(page)]() mutable { p.reset(); });
  groups.run_until_idle();
  EXPECT_EQ(groups.pool_stats(0).pages_in_use, 0u);
}

TEST(PagePool, PageReleasedOnAThreadThatIsNoGroupReturnsHome) {
  TestGroups groups(small_pools(1, 16));
  PageRef page = groups.run(0, [&] { return groups[0].pages().allocate(); });
  std::thread other([p = std::move(page)]() mutable { p.reset(); });
  other.join();
  groups.run_until_idle();
  EXPECT_EQ(groups.pool_stats(0).pages_in_use, 0u);
}

TEST(PagePool, ExhaustedPoolReturnsAnEmptyPageAndCountsTheFailure) {
  TestGroups groups(small_pools(1, 4));
  auto result = groups.run(0, [&] {
    std::vector<PageRef> pages;
    for (int i = 0; i < 4; ++i) pages.push_back(groups[0].pages().allocate());
    PageRef fifth = groups[0].pages().allocate();
    PageRef sixth = groups[0].pages().allocate();
    return std::tuple{pages, static_cast<bool>(fifth) || static_cast<bool>(sixth), groups[0].pages().stats()};
  });
  auto& [pages, got_more, stats] = result;
  for (const PageRef& page : pages) EXPECT_TRUE(page);
  EXPECT_FALSE(got_more);
  EXPECT_EQ(stats.allocation_failures, 2u);
  EXPECT_EQ(stats.pages_max, 4u);
  EXPECT_EQ(stats.pages_in_use, 4u);
}

TEST(PagePool, AllocationWorksAgainAfterPagesComeBackFromAnotherGroup) {
  TestGroups groups(small_pools(2, 3));
  std::vector<PageRef> pages = groups.run(0, [&] {
    std::vector<PageRef> out;
    for (int i = 0; i < 3; ++i) out.push_back(groups[0].pages().allocate());
    return out;
  });
  EXPECT_FALSE(groups.run(0, [&] { return static_cast<bool>(groups[0].pages().allocate()); }));
  groups.run(1, [p = std::move(pages)]() mutable { p.clear(); });
  groups.run_until_idle();
  auto again = groups.run(0, [&] {
    std::vector<PageRef> out;
    for (int i = 0; i < 3; ++i) out.push_back(groups[0].pages().allocate());
    return out;
  });
  for (const PageRef& page : again) EXPECT_TRUE(page);
  PagePoolStats stats = groups.pool_stats(0);
  EXPECT_EQ(stats.allocation_failures, 1u);
  EXPECT_EQ(stats.pages_allocated, 3u);  // the same pages, reused: none beyond the limit
}

TEST(PagePool, HighWaterMarkKeepsTheMostPagesInUseAtOnce) {
  PagePoolImpl pool(4096, 16, nullptr);
  {
    std::vector<PageRef> pages;
    for (int i = 0; i < 7; ++i) pages.push_back(pool.allocate());
  }
  PageRef one = pool.allocate();
  PageRef two = pool.allocate();
  PagePoolStats stats = pool.stats();
  EXPECT_EQ(stats.pages_high_water, 7u);
  EXPECT_EQ(stats.pages_in_use, 2u);
  EXPECT_EQ(stats.pages_allocated, 7u);
}

TEST(PagePool, TrimFreesSparePagesBeyondWhatItKeeps) {
  PagePoolImpl pool(4096, 16, nullptr);
  { std::vector<PageRef> pages(6); for (auto& p : pages) p = pool.allocate(); }
  pool.trim(2);
  EXPECT_EQ(pool.stats().pages_allocated, 2u);
  EXPECT_EQ(pool.stats().pages_in_use, 0u);
}

// This process's resident memory in KiB, from /proc/self/statm (0 where there is none).
std::uint64_t resident_kib() {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (!statm) return 0;
  unsigned long long size = 0, resident = 0;
  int read = std::fscanf(statm, "%llu %llu", &size, &resident);
  std::fclose(statm);
  return read == 2 ? resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)) / 1024 : 0;
}

TEST(PagePool, AGroupGivesBackTheSparePagesOfABurstOnceAQuietPeriodPassed) {
  TestGroupsOptions options;
  options.count = 1;
  options.settings.page_size = 64 * 1024;
  options.settings.max_pages = 4096;
  options.settings.page_trim_interval = std::chrono::milliseconds(20);
  TestGroups groups(options);
  auto allocate = [&](int n) {
    return groups.run(0, [&groups, n] {
      std::vector<PageRef> pages;
      for (int i = 0; i < n; ++i) {
        pages.push_back(groups[0].pages().allocate());
        std::memset(pages.back().get()->data(), 0x5a, pages.back().capacity());  // resident, as media is
      }
      return pages;
    });
  };
  constexpr std::uint64_t kSteady = 20;   // pages that stay in use: trimming never touches them
  constexpr std::uint64_t kBurst = 1024;  // 64 MiB, then released
  std::vector<PageRef> steady = allocate(kSteady);
  std::uint64_t rss_before = resident_kib();
  std::vector<PageRef> burst = allocate(kBurst);
  PagePoolStats peak = groups.pool_stats(0);
  std::uint64_t rss_peak = resident_kib();
  EXPECT_EQ(peak.pages_allocated, kSteady + kBurst);
  groups.run(0, [&] { burst.clear(); });
  ASSERT_TRUE(testing::wait_until([&] {
    return groups.pool_stats(0).pages_allocated <= kSteady + PollGroupImpl::kSparePages;
  }));
  PagePoolStats after = groups.pool_stats(0);
  std::uint64_t rss_after = resident_kib();
  EXPECT_EQ(after.pages_in_use, kSteady);
  EXPECT_EQ(after.pages_high_water, kSteady + kBurst);  // the high water still tells of the burst
  // Figures for the record (not asserted: the allocator and the sanitizers decide RSS).
  std::printf("pool: %llu pages (%llu KiB) at the peak, %llu (%llu KiB) after; RSS %llu KiB before, "
              "%llu at the peak, %llu after\n",
              static_cast<unsigned long long>(peak.pages_allocated),
              static_cast<unsigned long long>(peak.pages_allocated * 64),
              static_cast<unsigned long long>(after.pages_allocated),
              static_cast<unsigned long long>(after.pages_allocated * 64), static_cast<unsigned long long>(rss_before),
              static_cast<unsigned long long>(rss_peak), static_cast<unsigned long long>(rss_after));
  // The pool grows again for the next burst.
  std::vector<PageRef> again = allocate(100);
  EXPECT_EQ(groups.pool_stats(0).pages_in_use, kSteady + 100);
  groups.run(0, [&] {
    again.clear();
    steady.clear();
  });
}

TEST(PagePool, TrimIdleKeepsWhatThePeriodNeededAndFreesTheRest) {
  PagePoolImpl pool(4096, 64, nullptr);
  std::vector<PageRef> pages;
  for (int i = 0; i < 30; ++i) pages.push_back(pool.allocate());
  pages.resize(10);
  // The period's peak was 30 in use: nothing was spare during it.
  EXPECT_EQ(pool.trim_idle(2), 0u);
  EXPECT_EQ(pool.stats().pages_allocated, 30u);
  // A quiet period: 10 in use throughout, so all but 2 spare pages above them go.
  EXPECT_EQ(pool.trim_idle(2), 18u);
  EXPECT_EQ(pool.stats().pages_allocated, 12u);
  EXPECT_EQ(pool.stats().pages_in_use, 10u);
  EXPECT_EQ(pool.trim_idle(2), 0u);
  pages.clear();
}

TEST(PageWriter, PacksSeveralMessagesIntoOnePage) {
  PagePoolImpl pool(4096, 16, nullptr);
  PageWriter writer(pool);
  std::vector<PageChain> messages(3);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    auto bytes = pattern(100 + i, static_cast<std::uint8_t>(i));
    ASSERT_TRUE(writer.append(std::span<const std::uint8_t>(bytes), messages[i]));
    EXPECT_EQ(messages[i].to_vector(), bytes);
  }
  for (const PageChain& m : messages) ASSERT_EQ(m.slices().size(), 1u);
  EXPECT_EQ(messages[0].slices()[0].page, messages[1].slices()[0].page);
  EXPECT_EQ(messages[1].slices()[0].page, messages[2].slices()[0].page);
  EXPECT_EQ(messages[0].slices()[0].offset, 0u);
  EXPECT_EQ(messages[1].slices()[0].offset, 100u);
  EXPECT_EQ(messages[2].slices()[0].offset, 201u);
  EXPECT_EQ(pool.stats().pages_in_use, 1u);
}

TEST(PageWriter, LargeMessageSpansPagesInOrder) {
  PagePoolImpl pool(4096, 16, nullptr);
  PageWriter writer(pool);
  PageChain small;
  auto head = pattern(1000, 1);
  ASSERT_TRUE(writer.append(std::span<const std::uint8_t>(head), small));
  auto bytes = pattern(10000, 7);
  PageChain large;
  ASSERT_TRUE(writer.append(std::span<const std::uint8_t>(bytes), large));
  // 3096 bytes fill the first page, then 4096, then 2808.
  ASSERT_EQ(large.slices().size(), 3u);
  EXPECT_EQ(large.slices()[0].page, small.slices()[0].page);
  EXPECT_EQ(large.slices()[0].offset, 1000u);
  EXPECT_EQ(large.slices()[0].length, 3096u);
  EXPECT_EQ(large.slices()[1].length, 4096u);
  EXPECT_EQ(large.slices()[2].length, 2808u);
  EXPECT_EQ(large.size(), 10000u);
  EXPECT_EQ(large.to_vector(), bytes);
  EXPECT_EQ(pool.stats().pages_in_use, 3u);
}

TEST(PageWriter, FailsWithoutTouchingTheChainWhenThePoolIsExhausted) {
  PagePoolImpl pool(4096, 2, nullptr);
  PageWriter writer(pool);
  PageChain chain;
  auto first = pattern(10, 0);
  ASSERT_TRUE(writer.append(std::span<const std::uint8_t>(first), chain));
  auto too_big = pattern(3 * 4096, 0);
  EXPECT_FALSE(writer.append(std::span<const std::uint8_t>(too_big), chain));
  EXPECT_EQ(chain.to_vector(), first);
  EXPECT_GE(pool.stats().allocation_failures, 1u);
}

TEST(PageWriter, ReserveGivesContiguousBytesInOnePage) {
  PagePoolImpl pool(4096, 4, nullptr);
  PageWriter writer(pool);
  PageSlice a, b;
  std::byte* pa = writer.reserve(4000, a);
  ASSERT_NE(pa, nullptr);
  std::byte* pb = writer.reserve(200, b);  // does not fit behind a: a fresh page
  ASSERT_NE(pb, nullptr);
  EXPECT_FALSE(a.page == b.page);
  EXPECT_EQ(b.offset, 0u);
  PageSlice too_big;
  EXPECT_EQ(writer.reserve(4097, too_big), nullptr);
}

TEST(PageChain, CopyOutReadsAcrossSliceBoundaries) {
  PagePoolImpl pool(4096, 16, nullptr);
  PageWriter writer(pool);
  auto bytes = pattern(9000, 3);
  PageChain chain;
  ASSERT_TRUE(writer.append(std::span<const std::uint8_t>(bytes), chain));
  ASSERT_GT(chain.slices().size(), 2u);
  std::vector<std::uint8_t> out(5000);
  EXPECT_EQ(chain.copy_out(4000, out), 5000u);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), bytes.begin() + 4000));
  std::vector<std::uint8_t> tail(100);
  EXPECT_EQ(chain.copy_out(8950, tail), 50u);  // only 50 bytes are left from there
  EXPECT_TRUE(std::equal(tail.begin(), tail.begin() + 50, bytes.begin() + 8950));
  EXPECT_EQ(chain.copy_out(9000, tail), 0u);
}

TEST(PageChain, ToVectorJoinsSlicesAndSkipsEmptyOnes) {
  PagePoolImpl pool(4096, 4, nullptr);
  PageRef page = pool.allocate();
  for (std::uint32_t i = 0; i < 64; ++i) page.get()->data()[i] = static_cast<std::byte>(i);
  PageChain chain;
  chain.append(PageSlice{page, 10, 5});
  chain.append(PageSlice{page, 0, 0});
  chain.append(PageSlice{page, 2, 3});
  EXPECT_EQ(chain.slices().size(), 2u);
  EXPECT_EQ(chain.size(), 8u);
  EXPECT_EQ(chain.to_vector(), (std::vector<std::uint8_t>{10, 11, 12, 13, 14, 2, 3, 4}));
  PageChain copy = chain;  // shares the page
  EXPECT_EQ(page.get()->refs.load(), 5u);
}

// Copies, moves and assignments of chains short enough to stay inline and long enough to live on
// the heap: every slice keeps exactly one reference per chain that holds it, and none is left
// once the chains are gone (ASan would also see a double free or a leak of the heap array).
TEST(PageChain, CopiesMovesAndAssignmentsKeepOneReferencePerSliceInlineAndOnTheHeap) {
  PagePoolImpl pool(4096, 4, nullptr);
  PageRef page = pool.allocate();
  auto refs = [&] { return page.get()->refs.load(); };
  for (std::uint32_t slices : {1u, PageChain::kInline, PageChain::kInline + 1, 9u}) {
    SCOPED_TRACE(slices);
    {
      PageChain chain;
      for (std::uint32_t i = 0; i < slices; ++i) chain.append(PageSlice{page, i, 1});
      ASSERT_EQ(chain.slices().size(), slices);
      ASSERT_EQ(refs(), 1 + slices);
      PageChain copy = chain;
      EXPECT_EQ(refs(), 1 + 2 * slices);
      PageChain moved = std::move(copy);
      EXPECT_EQ(refs(), 1 + 2 * slices);
      EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): a moved-from chain is empty
      EXPECT_EQ(copy.slices().size(), 0u);
      EXPECT_EQ(moved.size(), slices);
      EXPECT_EQ(moved.slices()[slices - 1].offset, slices - 1);
      PageChain assigned(PageSlice{page, 100, 1});
      assigned = moved;  // copy-assign over a chain that held a slice
      EXPECT_EQ(refs(), 1 + 3 * slices);
      assigned = std::move(chain);  // move-assign drops what it held
      EXPECT_EQ(refs(), 1 + 2 * slices);
      copy = assigned;  // a moved-from chain takes a copy again
      EXPECT_EQ(refs(), 1 + 3 * slices);
      copy.clear();
      EXPECT_EQ(refs(), 1 + 2 * slices);
      copy.append(PageSlice{page, 0, 7});  // reuses its room after clear()
      EXPECT_EQ(copy.size(), 7u);
    }
    EXPECT_EQ(refs(), 1u);
  }
}

}  // namespace
}  // namespace weir::kernel
