// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/audio_frames.h"

#include <gtest/gtest.h>

#include "formats/rtp/test_sinks.h"

namespace weir::formats::rtp {
namespace {

using namespace test;

TEST(OpusPacketizer, SendsThePacketAsIs) {
  OpusPacketizer packetizer;
  CollectingPayloadSink sink;
  Bytes frame = {0xfc, 0xff, 0xfe, 1, 2, 3};
  ASSERT_TRUE(packetizer.packetize(frame, sink));
  ASSERT_EQ(sink.packets.size(), 1u);
  EXPECT_EQ(sink.packets[0].payload, frame);
  EXPECT_FALSE(sink.packets[0].marker);
  EXPECT_EQ(packetizer.packetize(Bytes(1401, 0), sink).code(), Errc::limit);
  EXPECT_EQ(packetizer.packetize(Bytes{}, sink).code(), Errc::limit);
}

TEST(G711Packetizer, CutsLargeFramesAtSampleBoundaries) {
  G711Packetizer stereo(2, 1001);
  EXPECT_EQ(stereo.samples_per_packet(), 500u);
  CollectingPayloadSink sink;
  ASSERT_TRUE(stereo.packetize(Bytes(2400, 0x55), sink));
  ASSERT_EQ(sink.packets.size(), 3u);
  EXPECT_EQ(sink.packets[0].payload.size(), 1000u);
  EXPECT_EQ(sink.packets[2].payload.size(), 400u);
  EXPECT_FALSE(stereo.packetize(Bytes(3, 0), sink));  // not whole stereo samples

  G711Packetizer mono;
  CollectingPayloadSink one;
  ASSERT_TRUE(mono.packetize(Bytes(160, 0xd5), one));
  ASSERT_EQ(one.packets.size(), 1u);
}

TEST(FrameDepacketizer, HandsEachPayloadOutAsOneFrame) {
  OpusDepacketizer depacketizer;
  CollectingAccessUnitSink units;
  Bytes payload = {1, 2, 3}, empty;
  depacketizer.push(rtp_packet(payload, 960, false), units);
  depacketizer.push(rtp_packet(empty, 1920, false), units);
  ASSERT_EQ(units.units.size(), 1u);
  EXPECT_EQ(units.units[0].data, payload);
  EXPECT_EQ(units.units[0].timestamp, 960u);
  EXPECT_TRUE(units.units[0].is_key_frame);
  EXPECT_EQ(depacketizer.counters().ignored_packets, 1u);
}

}  // namespace
}  // namespace weir::formats::rtp
