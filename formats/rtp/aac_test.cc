// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/aac.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "formats/rtp/test_sinks.h"

namespace weir::formats::rtp {
namespace {

using namespace test;

Bytes frame(std::size_t size, std::uint8_t seed = 0) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(i * 13 + seed);
  return out;
}

TEST(AacPacketizer, SendsOneFrameAfterOneHbrAuHeader) {
  AacPacketizer packetizer;
  CollectingPayloadSink sink;
  Bytes f = frame(371);
  ASSERT_TRUE(packetizer.packetize(f, sink));
  ASSERT_EQ(sink.packets.size(), 1u);
  Bytes expected = {0x00, 0x10, 371 >> 5, (371 << 3) & 0xff};  // 16 bits of headers; size 371, index 0
  expected.insert(expected.end(), f.begin(), f.end());
  EXPECT_EQ(sink.packets[0].payload, expected);
  EXPECT_TRUE(sink.packets[0].marker);
  EXPECT_EQ(sink.packets[0].pieces, 2u);
}

TEST(AacPacketizer, FragmentsAFrameLargerThanThePayloadWithTheWholeSizeInEachHeader) {
  AacPacketizer packetizer(1000);
  CollectingPayloadSink sink;
  Bytes f = frame(2500);
  ASSERT_TRUE(packetizer.packetize(f, sink));
  ASSERT_EQ(sink.packets.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const Bytes& p = sink.packets[i].payload;
    EXPECT_LE(p.size(), 1000u);
    EXPECT_EQ((std::size_t{p[2]} << 8 | p[3]) >> 3, 2500u);
    EXPECT_EQ(sink.packets[i].marker, i == 2);
  }
  AacDepacketizer depacketizer;
  CollectingAccessUnitSink units;
  for (const Packet& p : sink.packets) ASSERT_TRUE(depacketizer.push(rtp_packet(p.payload, 7, p.marker), false, units));
  ASSERT_EQ(units.units.size(), 1u);
  EXPECT_EQ(units.units[0].data, f);
  EXPECT_EQ(units.units[0].timestamp, 7u);
}

TEST(AacPacketizer, RejectsFramesAuSizeCannotCarry) {
  AacPacketizer packetizer;
  CollectingPayloadSink sink;
  EXPECT_EQ(packetizer.packetize(frame(8192), sink).code(), Errc::limit);
  EXPECT_EQ(packetizer.packetize(Bytes{}, sink).code(), Errc::limit);
  EXPECT_TRUE(sink.packets.empty());
}

TEST(AacDepacketizer, SplitsSeveralAusOfOnePacketWithTheirTimestamps) {
  // Three AUs of 3, 2 and 4 bytes: 48 bits of AU-headers (13-bit size, 3-bit index/delta 0).
  Bytes payload = {0x00, 0x30, 0x00, 0x18, 0x00, 0x10, 0x00, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  AacDepacketizer depacketizer;
  CollectingAccessUnitSink units;
  ASSERT_TRUE(depacketizer.push(rtp_packet(payload, 0xfffffc00, true), false, units));
  ASSERT_EQ(units.units.size(), 3u);
  EXPECT_EQ(units.units[0].data, (Bytes{1, 2, 3}));
  EXPECT_EQ(units.units[1].data, (Bytes{4, 5}));
  EXPECT_EQ(units.units[2].data, (Bytes{6, 7, 8, 9}));
  EXPECT_EQ(units.units[0].timestamp, 0xfffffc00u);
  EXPECT_EQ(units.units[1].timestamp, 0u);  // wraps
  EXPECT_EQ(units.units[2].timestamp, 1024u);
}

TEST(AacDepacketizer, ReadsAacLbrHeaders) {
  // AAC-lbr: 6-bit size, 2-bit index: two AUs of 2 and 3 bytes, 16 bits of headers.
  Bytes payload = {0x00, 0x10, 2 << 2, 3 << 2, 10, 11, 20, 21, 22};
  AacDepacketizer depacketizer(AacPayloadConfig::lbr());
  CollectingAccessUnitSink units;
  ASSERT_TRUE(depacketizer.push(rtp_packet(payload, 0, true), false, units));
  ASSERT_EQ(units.units.size(), 2u);
  EXPECT_EQ(units.units[1].data, (Bytes{20, 21, 22}));
}

TEST(AacDepacketizer, NamesWhatIsBrokenAndKeepsGoing) {
  AacDepacketizer depacketizer;
  CollectingAccessUnitSink units;
  Bytes past_end = {0x00, 0x40, 0x00, 0x18};
  auto status = depacketizer.push(rtp_packet(past_end, 0, true), false, units);
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("AU-headers-length 64 bits"), std::string::npos) << status.message();

  Bytes sizes_too_big = {0x00, 0x20, 0x00, 0x18, 0x00, 0x18, 1, 2, 3, 4};  // two AUs of 3, four bytes
  status = depacketizer.push(rtp_packet(sizes_too_big, 0, true), false, units);
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("2 AUs totalling 6 bytes, 4 bytes of data at offset 6"), std::string::npos)
      << status.message();

  Bytes odd_bits = {0x00, 0x0c, 0x00, 0x18, 1, 2, 3};  // 12 bits cannot hold a 16-bit AU-header
  EXPECT_FALSE(depacketizer.push(rtp_packet(odd_bits, 0, true), false, units));

  Bytes good = {0x00, 0x10, 0x00, 0x18, 1, 2, 3};
  ASSERT_TRUE(depacketizer.push(rtp_packet(good, 0, true), false, units));
  EXPECT_EQ(units.units.size(), 1u);
  EXPECT_EQ(AacDepacketizer(AacPayloadConfig{0}).push(rtp_packet(good, 0, true), false, units).code(),
            Errc::unsupported);
}

TEST(AacDepacketizer, DropsAFragmentedFrameALossOrATimestampChangeCutsShort) {
  AacPacketizer packetizer(500);
  CollectingPayloadSink sink;
  ASSERT_TRUE(packetizer.packetize(frame(1200), sink));
  ASSERT_EQ(sink.packets.size(), 3u);
  AacDepacketizer depacketizer;
  CollectingAccessUnitSink units;
  ASSERT_TRUE(depacketizer.push(rtp_packet(sink.packets[0].payload, 0, false), false, units));
  ASSERT_TRUE(depacketizer.push(rtp_packet(sink.packets[2].payload, 0, true), true, units));  // 1 lost
  EXPECT_TRUE(units.units.empty());
  EXPECT_EQ(depacketizer.counters().dropped_lost, 1u);

  ASSERT_TRUE(depacketizer.push(rtp_packet(sink.packets[0].payload, 1024, false), false, units));
  Bytes next = {0x00, 0x10, 0x00, 0x18, 1, 2, 3};
  ASSERT_TRUE(depacketizer.push(rtp_packet(next, 2048, true), false, units));
  ASSERT_EQ(units.units.size(), 1u);
  EXPECT_EQ(units.units[0].timestamp, 2048u);
  EXPECT_EQ(depacketizer.counters().dropped_lost, 2u);
}

TEST(AacDepacketizer, RefusesAFragmentedFramePastTheCap) {
  AacPacketizer packetizer(500);
  CollectingPayloadSink sink;
  ASSERT_TRUE(packetizer.packetize(frame(4000), sink));
  AacDepacketizer depacketizer(AacPayloadConfig::hbr(), 2000);
  CollectingAccessUnitSink units;
  for (const Packet& p : sink.packets) (void)depacketizer.push(rtp_packet(p.payload, 0, p.marker), false, units);
  EXPECT_TRUE(units.units.empty());
  EXPECT_EQ(depacketizer.counters().dropped_oversize, 1u);
  EXPECT_EQ(depacketizer.counters().dropped_lost, 0u);
  Bytes next = {0x00, 0x10, 0x00, 0x18, 1, 2, 3};
  ASSERT_TRUE(depacketizer.push(rtp_packet(next, 1024, true), false, units));
  EXPECT_EQ(units.units.size(), 1u);
}

TEST(AacRtpmap, GivesClockRateChannelsAndConfigFromTheAudioSpecificConfig) {
  auto lc = aac_rtpmap(Bytes{0x12, 0x10});  // AAC-LC, 44.1 kHz, stereo
  ASSERT_TRUE(lc) << lc.error().message();
  EXPECT_EQ(lc->clock_rate, 44100u);
  EXPECT_EQ(lc->channels, 2);
  EXPECT_EQ(lc->frame_samples, 1024u);
  EXPECT_EQ(lc->config_hex, "1210");

  Bytes six = read_testdata("config/aac_lc_48000_6ch.asc", true);
  auto surround = aac_rtpmap(six);
  ASSERT_TRUE(surround) << surround.error().message();
  EXPECT_EQ(surround->clock_rate, 48000u);
  EXPECT_EQ(surround->channels, 6);

  auto he = aac_rtpmap(Bytes{0x2b, 0x11, 0x88, 0x00});  // SBR (type 5), 24 kHz core, 48 kHz out
  ASSERT_TRUE(he) << he.error().message();
  EXPECT_EQ(he->clock_rate, 48000u);
  EXPECT_EQ(he->frame_samples, 2048u);

  EXPECT_FALSE(aac_rtpmap(Bytes{}));
}

}  // namespace
}  // namespace weir::formats::rtp
