// SPDX-License-Identifier: Apache-2.0
// Statistics: counters kept per group without atomics, summed by one message to each group.
#include <gtest/gtest.h>

#include <future>

#include "test_groups.h"

namespace weir::kernel {
namespace {

using testing::TestGroups;
using testing::TestGroupsOptions;

const StatValue* find(const StatsSnapshot& snapshot, const std::string& name) {
  for (const StatValue& value : snapshot.values)
    if (value.name == name) return &value;
  return nullptr;
}

TEST(Stats, CollectSumsEveryGroupsCountersAndGaugesOnTheAskingGroup) {
  TestGroupsOptions options;
  options.count = 3;
  TestGroups groups(options);
  CounterId hits = groups.stats_registry().add_counter("test_hits_total", "Hits");
  groups.stats_registry().add_gauge("test_group_id_sum", "Sum of group ids",
                                    [](PollGroup& group) { return static_cast<double>(group.id()); });
  for (GroupId g = 0; g < groups.count(); ++g)
    groups.run(g, [&, g] { groups[g].stats().add(hits, 10 * (g + 1)); });
  std::promise<std::pair<StatsSnapshot, PollGroupImpl*>> collected;
  auto future = collected.get_future();
  groups.run(1, [&] {
    groups[1].stats().collect([&](StatsSnapshot snapshot) {
      collected.set_value({std::move(snapshot), PollGroupImpl::current()});
    });
  });
  ASSERT_EQ(future.wait_for(testing::kWaitLimit), std::future_status::ready);
  auto [snapshot, where] = future.get();
  EXPECT_EQ(where, &groups[1]);
  const StatValue* counter = find(snapshot, "test_hits_total");
  ASSERT_NE(counter, nullptr);
  EXPECT_EQ(counter->value, 60);
  EXPECT_FALSE(counter->is_gauge);
  const StatValue* gauge = find(snapshot, "test_group_id_sum");
  ASSERT_NE(gauge, nullptr);
  EXPECT_EQ(gauge->value, 0 + 1 + 2);
  EXPECT_TRUE(gauge->is_gauge);
  EXPECT_NE(find(snapshot, "weir_sent_bytes_total"), nullptr);
  EXPECT_EQ(snapshot.page_pools.size(), 3u);
  EXPECT_EQ(snapshot.connections_open, 0u);
}

}  // namespace
}  // namespace weir::kernel
