// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/reorder.h"

#include <gtest/gtest.h>

#include <vector>

namespace weir::formats::rtp {
namespace {

using Bytes = std::vector<std::uint8_t>;

struct Released {
  std::uint16_t sequence;
  Bytes packet;
  std::uint32_t lost_before;
};

struct Collect : ReleasedPacketSink {
  std::vector<Released> out;
  void released(std::uint16_t sequence, std::span<const std::uint8_t> packet, std::uint32_t lost_before) override {
    out.push_back(Released{sequence, Bytes(packet.begin(), packet.end()), lost_before});
  }
  std::vector<std::uint16_t> sequences() const {
    std::vector<std::uint16_t> s;
    for (const auto& r : out) s.push_back(r.sequence);
    return s;
  }
};

Bytes body(std::uint16_t sequence) { return {static_cast<std::uint8_t>(sequence >> 8), static_cast<std::uint8_t>(sequence)}; }

void push(ReorderBuffer& buffer, Collect& sink, std::initializer_list<int> sequences) {
  for (int s : sequences) buffer.push(static_cast<std::uint16_t>(s), body(static_cast<std::uint16_t>(s)), sink);
}

TEST(ReorderBuffer, ReleasesInOrderPacketsThatArriveOutOfOrder) {
  ReorderBuffer buffer(8);
  Collect sink;
  push(buffer, sink, {10, 12, 13, 11, 15, 14});
  EXPECT_EQ(sink.sequences(), (std::vector<std::uint16_t>{10, 11, 12, 13, 14, 15}));
  for (const auto& r : sink.out) {
    EXPECT_EQ(r.packet, body(r.sequence));
    EXPECT_EQ(r.lost_before, 0u);
  }
  EXPECT_EQ(buffer.held(), 0u);
}

TEST(ReorderBuffer, WaitsForAGapAtMostAWindowThenReportsItLost) {
  ReorderBuffer buffer(4);
  Collect sink;
  push(buffer, sink, {1, 3, 4, 5});
  EXPECT_EQ(sink.sequences(), (std::vector<std::uint16_t>{1}));  // 2 missing: 3, 4, 5 held
  push(buffer, sink, {6});  // 6 - 2 = 4 = window: stop waiting for 2
  EXPECT_EQ(sink.sequences(), (std::vector<std::uint16_t>{1, 3, 4, 5, 6}));
  EXPECT_EQ(sink.out[1].lost_before, 1u);
  EXPECT_EQ(buffer.counters().lost, 1u);
  push(buffer, sink, {2});  // too late now
  EXPECT_EQ(buffer.counters().late, 1u);
  EXPECT_EQ(sink.out.size(), 5u);
}

TEST(ReorderBuffer, SkipsWhatAJumpLeavesMoreThanAWindowBehindKeepingWhatItHeld) {
  ReorderBuffer buffer(4);
  Collect sink;
  push(buffer, sink, {100, 102, 110});
  // 110 is 9 past the gap at 101: 101 and 103-106 are given up, 102 goes out; 107-109 are still
  // within a window of 110, so they are waited for.
  EXPECT_EQ(sink.sequences(), (std::vector<std::uint16_t>{100, 102}));
  EXPECT_EQ(sink.out[1].lost_before, 1u);
  EXPECT_EQ(buffer.counters().lost, 5u);
  buffer.flush(sink);
  EXPECT_EQ(sink.sequences(), (std::vector<std::uint16_t>{100, 102, 110}));
  EXPECT_EQ(sink.out[2].lost_before, 7u);
  EXPECT_EQ(buffer.counters().lost, 8u);
}

TEST(ReorderBuffer, DropsDuplicatesHeldOrReleased) {
  ReorderBuffer buffer(8);
  Collect sink;
  push(buffer, sink, {5, 7, 7, 5, 6});
  EXPECT_EQ(sink.sequences(), (std::vector<std::uint16_t>{5, 6, 7}));
  EXPECT_EQ(buffer.counters().duplicates, 1u);
  EXPECT_EQ(buffer.counters().late, 1u);
}

TEST(ReorderBuffer, FollowsTheSequenceAcrossTheWrap) {
  ReorderBuffer buffer(8);
  Collect sink;
  push(buffer, sink, {65533, 65535, 65534, 1, 0, 2});
  EXPECT_EQ(sink.sequences(), (std::vector<std::uint16_t>{65533, 65534, 65535, 0, 1, 2}));
  EXPECT_EQ(buffer.counters().lost, 0u);
}

TEST(ReorderBuffer, TakesAJumpConfirmedByTheNextPacketAsASenderRestart) {
  ReorderBuffer buffer(8);
  Collect sink;
  push(buffer, sink, {1000, 1001, 1003});  // 1003 held, waiting for 1002
  push(buffer, sink, {40000});              // a stray? dropped for now
  EXPECT_EQ(sink.sequences(), (std::vector<std::uint16_t>{1000, 1001}));
  push(buffer, sink, {40001, 40002});       // confirmed: what was held goes out, then the new run
  EXPECT_EQ(sink.sequences(), (std::vector<std::uint16_t>{1000, 1001, 1003, 40001, 40002}));
  EXPECT_EQ(sink.out[3].lost_before, 0u);
  EXPECT_EQ(buffer.counters().restarts, 1u);
}

TEST(ReorderBuffer, FlushReleasesWhatIsHeldAndCountsTheGaps) {
  ReorderBuffer buffer(16);
  Collect sink;
  push(buffer, sink, {1, 4, 6});
  EXPECT_EQ(buffer.held(), 2u);
  buffer.flush(sink);
  EXPECT_EQ(sink.sequences(), (std::vector<std::uint16_t>{1, 4, 6}));
  EXPECT_EQ(sink.out[1].lost_before, 2u);
  EXPECT_EQ(sink.out[2].lost_before, 1u);
  EXPECT_EQ(buffer.held(), 0u);
  push(buffer, sink, {7});
  EXPECT_EQ(sink.out.back().sequence, 7);
}

TEST(ReorderBuffer, DropsAPacketLargerThanASlotAndDoesNotWaitForIt) {
  ReorderBuffer buffer(8, 100);
  Collect sink;
  push(buffer, sink, {1});
  buffer.push(2, Bytes(101, 0), sink);
  push(buffer, sink, {3});
  EXPECT_EQ(sink.sequences(), (std::vector<std::uint16_t>{1, 3}));
  EXPECT_EQ(sink.out[1].lost_before, 1u);
  EXPECT_EQ(buffer.counters().too_large, 1u);
}

}  // namespace
}  // namespace weir::formats::rtp
