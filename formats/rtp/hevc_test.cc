// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/hevc.h"

#include <gtest/gtest.h>

#include <vector>

#include "formats/flv/codec_config.h"
#include "formats/rtp/test_sinks.h"

namespace weir::formats::rtp {
namespace {

using namespace test;

const Bytes kVps = {0x40, 0x01, 0x0c, 0x01, 0xff, 0xff};
const Bytes kSps = {0x42, 0x01, 0x01, 0x01, 0x60, 0x00};
const Bytes kPps = {0x44, 0x01, 0xc1, 0x72};
Bytes idr(std::size_t size) { return nal({0x26, 0x01}, size); }    // IDR_W_RADL, TID 1
Bytes trail(std::size_t size) { return nal({0x02, 0x01}, size); }  // TRAIL_R

TEST(HevcPacketizer, FragmentsIntoFuWithThePayloadHeaderAndFuHeader) {
  HevcPacketizer packetizer(1000);
  CollectingPayloadSink sink;
  Bytes frame = idr(2500);
  ASSERT_TRUE(packetizer.packetize(avcc({frame}), 4, sink));
  ASSERT_EQ(sink.packets.size(), 3u);  // 2498 body bytes in 997-byte pieces
  EXPECT_EQ(sink.packets[0].payload[0], 49 << 1);
  EXPECT_EQ(sink.packets[0].payload[1], 0x01);
  EXPECT_EQ(sink.packets[0].payload[2], 0x80 | 19);
  EXPECT_EQ(sink.packets[1].payload[2], 19);
  EXPECT_EQ(sink.packets[2].payload[2], 0x40 | 19);
  EXPECT_TRUE(sink.packets[2].marker);
  EXPECT_FALSE(sink.packets[1].marker);
  Bytes body;
  for (const Packet& p : sink.packets) {
    EXPECT_LE(p.payload.size(), 1000u);
    body.insert(body.end(), p.payload.begin() + 3, p.payload.end());
  }
  EXPECT_EQ(body, Bytes(frame.begin() + 2, frame.end()));
}

TEST(HevcPacketizer, AggregatesParameterSetsIntoAnApInsertedBeforeIrap) {
  HevcPacketizer packetizer;
  std::span<const std::uint8_t> vps[] = {kVps}, sps[] = {kSps}, pps[] = {kPps};
  packetizer.insert_parameter_sets(vps, sps, pps);
  CollectingPayloadSink sink;
  ASSERT_TRUE(packetizer.packetize(avcc({Bytes{0x46, 0x01, 0x50}, idr(3000)}), 4, sink));  // AUD dropped
  ASSERT_GE(sink.packets.size(), 2u);
  Bytes expected = {48 << 1, 0x01};
  for (const Bytes& n : {kVps, kSps, kPps}) {
    expected.push_back(0);
    expected.push_back(static_cast<std::uint8_t>(n.size()));
    expected.insert(expected.end(), n.begin(), n.end());
  }
  EXPECT_EQ(sink.packets[0].payload, expected);

  CollectingPayloadSink inter;
  ASSERT_TRUE(packetizer.packetize(avcc({trail(100)}), 4, inter));
  ASSERT_EQ(inter.packets.size(), 1u);
  EXPECT_EQ(inter.packets[0].payload, trail(100));
}

TEST(HevcPacketizer, GivesTheAggregateTheLowestLayerAndTemporalId) {
  HevcPacketizer packetizer;
  CollectingPayloadSink sink;
  Bytes tid2 = nal({0x02, 0x02}, 10), tid1 = nal({0x02, 0x01}, 10);
  ASSERT_TRUE(packetizer.packetize(avcc({tid2, tid1}), 4, sink));
  ASSERT_EQ(sink.packets.size(), 1u);
  EXPECT_EQ(sink.packets[0].payload[0], 48 << 1);
  EXPECT_EQ(sink.packets[0].payload[1], 0x01);
}

TEST(HevcRoundTrip, GivesBackTheSameUnitsAtSeveralPayloadSizes) {
  for (std::size_t max_payload : {std::size_t{100}, std::size_t{1400}}) {
    HevcPacketizer packetizer(max_payload);
    HevcDepacketizer depacketizer;
    CollectingAccessUnitSink units;
    std::vector<Bytes> sent = {avcc({kVps, kSps, kPps, idr(200 * 1024)}), avcc({trail(7)}),
                               avcc({trail(max_payload), trail(max_payload + 1), trail(2)})};
    for (std::size_t i = 0; i < sent.size(); ++i) {
      CollectingPayloadSink sink;
      ASSERT_TRUE(packetizer.packetize(sent[i], 4, sink));
      for (const Packet& p : sink.packets)
        ASSERT_TRUE(depacketizer.push(rtp_packet(p.payload, static_cast<std::uint32_t>(i), p.marker), false, units));
    }
    ASSERT_EQ(units.units.size(), sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(units.units[i].data, sent[i]) << i;
    EXPECT_TRUE(units.units[0].is_key_frame);
    EXPECT_FALSE(units.units[1].is_key_frame);
    EXPECT_TRUE(depacketizer.take_parameter_sets_changed());
    EXPECT_EQ(depacketizer.vps(), kVps);
    EXPECT_EQ(depacketizer.sps(), kSps);
    EXPECT_EQ(depacketizer.pps(), kPps);
  }
}

TEST(HevcDepacketizer, RejectsABrokenApAndSkipsPaci) {
  HevcDepacketizer depacketizer;
  CollectingAccessUnitSink units;
  Bytes ap = {48 << 1, 0x01, 0x00, 0x09, 0x02, 0x01};
  auto status = depacketizer.push(rtp_packet(ap, 0, true), false, units);
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("hevc aggregation packet: nal size 9 at offset 2"), std::string::npos)
      << status.message();
  Bytes paci = {50 << 1, 0x01, 0, 0};
  ASSERT_TRUE(depacketizer.push(rtp_packet(paci, 1, true), false, units));
  EXPECT_EQ(depacketizer.counters().ignored_packets, 1u);
  Bytes short_fu = {49 << 1, 0x01};
  EXPECT_FALSE(depacketizer.push(rtp_packet(short_fu, 2, true), false, units));
  EXPECT_TRUE(units.units.empty());
}

// ffmpeg's records (formats/flv/testdata): taken apart and built again from their VPS/SPS/PPS,
// they describe the same stream and carry the same parameter sets.
TEST(HevcDecoderConfig, RebuildsFfmpegsRecordsFromTheirParameterSets) {
  for (const char* name : {"config/hevc_main_640x362.hvcc", "config/hevc_main10_1920x1080.hvcc"}) {
    Bytes record = read_testdata(name, true);
    ASSERT_FALSE(record.empty()) << name;
    auto sets = hevc_parameter_sets(record);
    ASSERT_TRUE(sets) << sets.error().message();
    ASSERT_EQ(sets->vps.size(), 1u);
    ASSERT_EQ(sets->sps.size(), 1u);
    ASSERT_EQ(sets->pps.size(), 1u);
    auto built = build_hevc_decoder_config(sets->vps[0], sets->sps[0], sets->pps[0]);
    ASSERT_TRUE(built) << built.error().message();
    auto original = flv::parse_hevc_decoder_config(record);
    auto rebuilt = flv::parse_hevc_decoder_config(*built);
    ASSERT_TRUE(original);
    ASSERT_TRUE(rebuilt) << rebuilt.error().message();
    EXPECT_EQ(flv::rfc6381_codec_string(*rebuilt), flv::rfc6381_codec_string(*original)) << name;
    EXPECT_EQ(rebuilt->width, original->width);
    EXPECT_EQ(rebuilt->bit_depth_luma, original->bit_depth_luma);
    EXPECT_EQ(rebuilt->nal_length_size, 4);
    // The profile_tier_level bytes (1-12) match ffmpeg's.
    EXPECT_EQ(Bytes(built->begin() + 1, built->begin() + 13), Bytes(record.begin() + 1, record.begin() + 13)) << name;
    auto again = hevc_parameter_sets(*built);
    ASSERT_TRUE(again);
    EXPECT_TRUE(std::equal(again->sps[0].begin(), again->sps[0].end(), sets->sps[0].begin(), sets->sps[0].end()));
    EXPECT_TRUE(std::equal(again->pps[0].begin(), again->pps[0].end(), sets->pps[0].begin(), sets->pps[0].end()));
  }
  EXPECT_FALSE(build_hevc_decoder_config(kSps, kSps, kPps));  // a VPS that is not one
}

}  // namespace
}  // namespace weir::formats::rtp
