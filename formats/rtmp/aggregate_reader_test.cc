// SPDX-License-Identifier: Apache-2.0
#include "formats/rtmp/aggregate_reader.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "formats/rtmp/control.h"

namespace weir::formats::rtmp {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Appends one FLV-style sub-message with its back pointer.
void add_sub(Bytes& out, std::uint8_t type, std::uint32_t timestamp, const Bytes& payload,
             bool with_back_pointer = true) {
  const auto length = static_cast<std::uint32_t>(payload.size());
  out.insert(out.end(),
             {type, static_cast<std::uint8_t>(length >> 16), static_cast<std::uint8_t>(length >> 8),
              static_cast<std::uint8_t>(length), static_cast<std::uint8_t>(timestamp >> 16),
              static_cast<std::uint8_t>(timestamp >> 8), static_cast<std::uint8_t>(timestamp),
              static_cast<std::uint8_t>(timestamp >> 24), 0, 0, 9});  // stream id 9: ignored
  out.insert(out.end(), payload.begin(), payload.end());
  if (with_back_pointer) {
    const std::uint32_t back = 11 + length;
    out.insert(out.end(),
               {static_cast<std::uint8_t>(back >> 24), static_cast<std::uint8_t>(back >> 16),
                static_cast<std::uint8_t>(back >> 8), static_cast<std::uint8_t>(back)});
  }
}

MessageHeader aggregate(std::uint32_t timestamp, std::uint32_t length) {
  MessageHeader h;
  h.chunk_stream_id = 6;
  h.timestamp = timestamp;
  h.length = length;
  h.type_id = kMessageAggregate;
  h.stream_id = 1;
  return h;
}

TEST(RtmpAggregateReader, YieldsSubMessagesRebasedOnTheAggregateTimestamp) {
  Bytes payload;
  add_sub(payload, kMessageVideo, 1000, {1, 2, 3});
  add_sub(payload, kMessageAudio, 1010, {4});
  add_sub(payload, kMessageVideo, 1040, {});
  AggregateReader reader(aggregate(5000, static_cast<std::uint32_t>(payload.size())), payload);

  std::vector<SubMessage> subs;
  while (auto sub = reader.next()) subs.push_back(*sub);
  ASSERT_TRUE(reader.status().is_ok()) << reader.status().message();
  ASSERT_EQ(subs.size(), 3u);
  EXPECT_EQ(subs[0].header.timestamp, 5000u);
  EXPECT_EQ(subs[1].header.timestamp, 5010u);
  EXPECT_EQ(subs[2].header.timestamp, 5040u);
  EXPECT_EQ(subs[0].header.type_id, kMessageVideo);
  EXPECT_EQ(subs[1].header.type_id, kMessageAudio);
  for (const SubMessage& sub : subs) {
    EXPECT_EQ(sub.header.stream_id, 1u);  // the aggregate's, not the sub-message's 9
    EXPECT_EQ(sub.header.chunk_stream_id, 6u);
    EXPECT_EQ(sub.header.length, sub.payload.size());
  }
  EXPECT_EQ(Bytes(subs[0].payload.begin(), subs[0].payload.end()), (Bytes{1, 2, 3}));
  EXPECT_EQ(subs[0].payload.data(), payload.data() + 11);  // a view, not a copy
}

TEST(RtmpAggregateReader, ReadsTheHighTimestampByteAndRebasesAcrossWraps) {
  Bytes payload;
  add_sub(payload, kMessageVideo, 0xFFFFFFF0, {1});
  add_sub(payload, kMessageVideo, 0x00000010, {2});  // 0x20 later, past the wrap
  AggregateReader reader(aggregate(100, static_cast<std::uint32_t>(payload.size())), payload);
  auto first = reader.next();
  auto second = reader.next();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->header.timestamp, 100u);
  EXPECT_EQ(second->header.timestamp, 0x20u + 100u);
  EXPECT_FALSE(reader.next());
}

TEST(RtmpAggregateReader, ToleratesAMissingLastBackPointer) {
  Bytes payload;
  add_sub(payload, kMessageAudio, 0, {1});
  add_sub(payload, kMessageAudio, 20, {2}, false);
  AggregateReader reader(aggregate(0, static_cast<std::uint32_t>(payload.size())), payload);
  int count = 0;
  while (reader.next()) ++count;
  EXPECT_EQ(count, 2);
  EXPECT_TRUE(reader.status().is_ok());
}

TEST(RtmpAggregateReader, YieldsNothingFromAnEmptyAggregate) {
  AggregateReader reader(aggregate(0, 0), {});
  EXPECT_FALSE(reader.next());
  EXPECT_TRUE(reader.status().is_ok());
}

TEST(RtmpAggregateReader, StopsAtATruncatedSubMessage) {
  Bytes payload;
  add_sub(payload, kMessageVideo, 0, {1, 2, 3});
  add_sub(payload, kMessageVideo, 0, {1, 2, 3, 4, 5, 6});
  const Bytes cut(payload.begin(), payload.end() - 7);  // into the second payload
  AggregateReader reader(aggregate(0, static_cast<std::uint32_t>(cut.size())), cut);
  EXPECT_TRUE(reader.next());
  EXPECT_FALSE(reader.next());
  EXPECT_EQ(reader.status().code(), Errc::malformed);
  EXPECT_NE(reader.status().message().find("offset 18"), std::string::npos)
      << reader.status().message();
  EXPECT_FALSE(reader.next());
}

TEST(RtmpAggregateReader, StopsAtAHeaderCutShort) {
  Bytes payload = {kMessageVideo, 0, 0, 1, 0};
  AggregateReader reader(aggregate(0, 5), payload);
  EXPECT_FALSE(reader.next());
  EXPECT_EQ(reader.status().code(), Errc::malformed);
}

TEST(RtmpAggregateReader, ReportsStrayBytesAfterASubMessage) {
  Bytes payload;
  add_sub(payload, kMessageVideo, 0, {1}, false);
  payload.insert(payload.end(), {0, 0});
  AggregateReader reader(aggregate(0, static_cast<std::uint32_t>(payload.size())), payload);
  EXPECT_TRUE(reader.next());
  EXPECT_FALSE(reader.next());
  EXPECT_EQ(reader.status().code(), Errc::malformed);
}

}  // namespace
}  // namespace weir::formats::rtmp
