// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/h264.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "formats/flv/codec_config.h"
#include "formats/rtp/test_sinks.h"

namespace weir::formats::rtp {
namespace {

using namespace test;

const Bytes kSps = {0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10};
const Bytes kPps = {0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0};

Bytes idr(std::size_t size) { return nal({0x65, 0x88}, size); }
Bytes slice(std::size_t size) { return nal({0x41, 0x9a}, size); }

// Depacketizes what a packetizer made, as consecutive RTP packets of one timestamp.
std::vector<Unit> depacketize(const std::vector<Packet>& packets, std::uint32_t timestamp,
                              H264Depacketizer& depacketizer) {
  CollectingAccessUnitSink units;
  for (const Packet& p : packets) {
    auto status = depacketizer.push(rtp_packet(p.payload, timestamp, p.marker), false, units);
    EXPECT_TRUE(status) << status.message();
  }
  return units.units;
}

TEST(H264Packetizer, SendsANalThatFitsAsASingleNalUnitPacket) {
  H264Packetizer packetizer;
  CollectingPayloadSink sink;
  Bytes frame = slice(1400);
  ASSERT_TRUE(packetizer.packetize(avcc({frame}), 4, sink));
  ASSERT_EQ(sink.packets.size(), 1u);
  EXPECT_EQ(sink.packets[0].payload, frame);
  EXPECT_TRUE(sink.packets[0].marker);
  EXPECT_EQ(sink.packets[0].pieces, 1u);  // the frame's own bytes, no copy
}

TEST(H264Packetizer, FragmentsALargerNalIntoFuAWithStartAndEndBits) {
  H264Packetizer packetizer(1400);
  CollectingPayloadSink sink;
  Bytes frame = idr(1401);  // one byte past the limit: FU-A, 1398 + 2 body bytes
  ASSERT_TRUE(packetizer.packetize(avcc({frame}), 4, sink));
  ASSERT_EQ(sink.packets.size(), 2u);
  const Bytes& first = sink.packets[0].payload;
  const Bytes& last = sink.packets[1].payload;
  EXPECT_EQ(first.size(), 1400u);
  EXPECT_EQ(first[0], 0x7c);  // F=0 NRI=3 type 28
  EXPECT_EQ(first[1], 0x85);  // S, type 5
  EXPECT_EQ(last[0], 0x7c);
  EXPECT_EQ(last[1], 0x45);  // E, type 5
  EXPECT_EQ(last.size(), 2u + 1400 - 1398);
  EXPECT_FALSE(sink.packets[0].marker);
  EXPECT_TRUE(sink.packets[1].marker);
  Bytes body(first.begin() + 2, first.end());
  body.insert(body.end(), last.begin() + 2, last.end());
  EXPECT_EQ(body, Bytes(frame.begin() + 1, frame.end()));
}

TEST(H264Packetizer, AggregatesSmallNalsIntoOneStapA) {
  H264Packetizer packetizer;
  CollectingPayloadSink sink;
  Bytes sei = {0x06, 0x05, 0x01, 0x80};
  ASSERT_TRUE(packetizer.packetize(avcc({kSps, kPps, sei, slice(2000)}), 4, sink));
  ASSERT_EQ(sink.packets.size(), 3u);  // STAP-A(SPS, PPS, SEI), FU-A, FU-A
  Bytes expected = {0x78};             // NRI 3 (the highest of SPS/PPS), type 24
  for (const Bytes& n : {kSps, kPps, sei}) {
    expected.push_back(0);
    expected.push_back(static_cast<std::uint8_t>(n.size()));
    expected.insert(expected.end(), n.begin(), n.end());
  }
  EXPECT_EQ(sink.packets[0].payload, expected);
  EXPECT_FALSE(sink.packets[0].marker);
  EXPECT_EQ(sink.packets[1].payload[0] & 0x1f, 28);
  EXPECT_TRUE(sink.packets[2].marker);
}

TEST(H264Packetizer, InsertsParameterSetsBeforeIdrAccessUnitsThatLackThem) {
  H264Packetizer packetizer;
  std::span<const std::uint8_t> sps[] = {kSps};
  std::span<const std::uint8_t> pps[] = {kPps};
  packetizer.insert_parameter_sets(sps, pps);
  H264Depacketizer depacketizer;

  CollectingPayloadSink key;
  ASSERT_TRUE(packetizer.packetize(avcc({idr(3000)}), 4, key));
  auto units = depacketize(key.packets, 0, depacketizer);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].data, avcc({kSps, kPps, idr(3000)}));
  EXPECT_TRUE(units[0].is_key_frame);

  CollectingPayloadSink inter;
  ASSERT_TRUE(packetizer.packetize(avcc({slice(500)}), 4, inter));
  units = depacketize(inter.packets, 3000, depacketizer);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].data, avcc({slice(500)}));
  EXPECT_FALSE(units[0].is_key_frame);

  Bytes other_sps = kSps;
  other_sps.back() = 0x20;
  CollectingPayloadSink has_own;
  ASSERT_TRUE(packetizer.packetize(avcc({other_sps, kPps, idr(100)}), 4, has_own));
  units = depacketize(has_own.packets, 6000, depacketizer);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].data, avcc({other_sps, kPps, idr(100)}));
}

TEST(H264Packetizer, DropsAccessUnitDelimiters) {
  H264Packetizer packetizer;
  CollectingPayloadSink sink;
  ASSERT_TRUE(packetizer.packetize(avcc({Bytes{0x09, 0xf0}, slice(200)}), 4, sink));
  ASSERT_EQ(sink.packets.size(), 1u);
  EXPECT_EQ(sink.packets[0].payload, slice(200));
}

TEST(H264Packetizer, ReadsShorterLengthPrefixes) {
  H264Packetizer packetizer;
  CollectingPayloadSink sink;
  Bytes two_byte = {0x00, 0x03, 0x41, 0x01, 0x02, 0x00, 0x02, 0x41, 0x03};
  ASSERT_TRUE(packetizer.packetize(two_byte, 2, sink));
  ASSERT_EQ(sink.packets.size(), 1u);
  EXPECT_EQ(sink.packets[0].payload, (Bytes{0x58, 0, 3, 0x41, 1, 2, 0, 2, 0x41, 3}));  // STAP-A, NRI 2
}

TEST(H264Packetizer, RejectsALengthRunningPastTheUnitBeforeSendingAnything) {
  H264Packetizer packetizer;
  CollectingPayloadSink sink;
  Bytes unit = avcc({slice(100)});
  unit.push_back(0);
  unit.insert(unit.end(), {0, 0, 50, 0x41});
  auto status = packetizer.packetize(unit, 4, sink);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.code(), Errc::malformed);
  EXPECT_NE(status.message().find("nal unit of 50 bytes at offset 104"), std::string::npos) << status.message();
  EXPECT_TRUE(sink.packets.empty());
  EXPECT_EQ(packetizer.packetize(unit, 5, sink).code(), Errc::unsupported);
}

TEST(H264RoundTrip, GivesBackTheSameUnitsAtSeveralPayloadSizes) {
  for (std::size_t max_payload : {std::size_t{64}, std::size_t{500}, std::size_t{1200}, std::size_t{1400},
                                  std::size_t{1444}}) {
    H264Packetizer packetizer(max_payload);
    H264Depacketizer depacketizer;
    CollectingAccessUnitSink units;
    std::vector<Bytes> sent = {
        avcc({kSps, kPps, Bytes{0x06, 0x05, 0x02, 0x11, 0x80}, idr(200 * 1024)}),
        avcc({slice(10)}),
        avcc({slice(max_payload), slice(max_payload + 1), slice(3)}),  // exactly at and one past the limit
        avcc({slice(5), slice(6), slice(7), slice(8), slice(max_payload - 30)}),
    };
    std::uint32_t timestamp = 1000;
    for (const Bytes& unit : sent) {
      CollectingPayloadSink sink;
      ASSERT_TRUE(packetizer.packetize(unit, 4, sink));
      for (const Packet& p : sink.packets) {
        EXPECT_LE(p.payload.size(), max_payload);
        ASSERT_TRUE(depacketizer.push(rtp_packet(p.payload, timestamp, p.marker), false, units));
      }
      timestamp += 3000;
    }
    ASSERT_EQ(units.units.size(), sent.size()) << "max_payload " << max_payload;
    for (std::size_t i = 0; i < sent.size(); ++i) {
      EXPECT_EQ(units.units[i].data, sent[i]) << "unit " << i << " max_payload " << max_payload;
      EXPECT_EQ(units.units[i].timestamp, 1000 + 3000 * i);
    }
    EXPECT_TRUE(units.units[0].is_key_frame);
    EXPECT_EQ(depacketizer.counters().access_units, sent.size());
  }
}

TEST(H264Depacketizer, EndsAUnitWhenTheTimestampChangesWithoutAMarker) {
  H264Depacketizer depacketizer;
  CollectingAccessUnitSink units;
  Bytes a = slice(20), b = slice(30);
  ASSERT_TRUE(depacketizer.push(rtp_packet(a, 100, false), false, units));
  EXPECT_TRUE(units.units.empty());
  ASSERT_TRUE(depacketizer.push(rtp_packet(b, 200, false), false, units));
  ASSERT_EQ(units.units.size(), 1u);
  EXPECT_EQ(units.units[0].data, avcc({a}));
  depacketizer.flush(units);
  ASSERT_EQ(units.units.size(), 2u);
  EXPECT_EQ(units.units[1].timestamp, 200u);
}

TEST(H264Depacketizer, DropsTheUnitsALossTouchesAndGoesOn) {
  H264Packetizer packetizer(100);
  CollectingPayloadSink first, second, third;
  ASSERT_TRUE(packetizer.packetize(avcc({idr(1000)}), 4, first));
  ASSERT_TRUE(packetizer.packetize(avcc({slice(50)}), 4, second));
  ASSERT_TRUE(packetizer.packetize(avcc({slice(60)}), 4, third));
  H264Depacketizer depacketizer;
  CollectingAccessUnitSink units;
  // The first unit loses its third fragment; the loss is reported on the fourth.
  for (std::size_t i = 0; i < first.packets.size(); ++i) {
    if (i == 2) continue;
    ASSERT_TRUE(depacketizer.push(rtp_packet(first.packets[i].payload, 0, first.packets[i].marker), i == 3, units));
  }
  ASSERT_TRUE(depacketizer.push(rtp_packet(second.packets[0].payload, 3000, true), false, units));
  EXPECT_EQ(units.units.size(), 1u);
  EXPECT_EQ(depacketizer.counters().dropped_lost, 1u);
  // A loss between units: the unit after it is dropped too (its head may be what was lost).
  ASSERT_TRUE(depacketizer.push(rtp_packet(third.packets[0].payload, 6000, true), true, units));
  EXPECT_EQ(units.units.size(), 1u);
  EXPECT_EQ(depacketizer.counters().dropped_lost, 2u);
  ASSERT_TRUE(depacketizer.push(rtp_packet(third.packets[0].payload, 9000, true), false, units));
  ASSERT_EQ(units.units.size(), 2u);
  EXPECT_EQ(units.units[1].timestamp, 9000u);
}

TEST(H264Depacketizer, DropsAFragmentWithoutItsStartOrItsEnd) {
  H264Depacketizer depacketizer;
  CollectingAccessUnitSink units;
  Bytes middle = {0x7c, 0x05, 1, 2, 3};
  ASSERT_TRUE(depacketizer.push(rtp_packet(middle, 0, true), false, units));
  Bytes start = {0x7c, 0x85, 1, 2, 3};
  ASSERT_TRUE(depacketizer.push(rtp_packet(start, 10, true), false, units));  // marker without the E bit
  EXPECT_TRUE(units.units.empty());
  EXPECT_EQ(depacketizer.counters().dropped_lost, 2u);
}

TEST(H264Depacketizer, RejectsABrokenStapAAndSkipsReservedTypes) {
  H264Depacketizer depacketizer;
  CollectingAccessUnitSink units;
  Bytes stap = {0x78, 0x00, 0x05, 0x67, 0x42};
  auto status = depacketizer.push(rtp_packet(stap, 0, true), false, units);
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("nal size 5 at offset 1"), std::string::npos) << status.message();
  EXPECT_EQ(depacketizer.counters().dropped_malformed, 1u);

  Bytes reserved = {0x1e, 1, 2};
  ASSERT_TRUE(depacketizer.push(rtp_packet(reserved, 10, false), false, units));
  EXPECT_EQ(depacketizer.counters().ignored_packets, 1u);
  Bytes stap_b = {0x19, 0, 0};
  EXPECT_EQ(depacketizer.push(rtp_packet(stap_b, 20, true), false, units).code(), Errc::unsupported);
  Bytes empty;
  EXPECT_EQ(depacketizer.push(rtp_packet(empty, 30, true), false, units).code(), Errc::malformed);
  EXPECT_TRUE(units.units.empty());
}

TEST(H264Depacketizer, DropsAUnitPastTheCap) {
  H264Packetizer packetizer;
  H264Depacketizer depacketizer(10000);
  CollectingPayloadSink big, small;
  ASSERT_TRUE(packetizer.packetize(avcc({idr(20000)}), 4, big));
  ASSERT_TRUE(packetizer.packetize(avcc({slice(9000)}), 4, small));
  auto units = depacketize(big.packets, 0, depacketizer);
  EXPECT_TRUE(units.empty());
  EXPECT_EQ(depacketizer.counters().dropped_oversize, 1u);
  units = depacketize(small.packets, 3000, depacketizer);
  EXPECT_EQ(units.size(), 1u);
}

TEST(H264Depacketizer, TracksParameterSetsFromTheSdpAndInBand) {
  H264Depacketizer depacketizer;
  std::span<const std::uint8_t> sprop[] = {kSps, kPps};
  depacketizer.set_parameter_sets(sprop);
  EXPECT_TRUE(depacketizer.take_parameter_sets_changed());
  EXPECT_FALSE(depacketizer.take_parameter_sets_changed());
  EXPECT_EQ(depacketizer.sps(), kSps);

  H264Packetizer packetizer;
  CollectingPayloadSink same;
  ASSERT_TRUE(packetizer.packetize(avcc({kSps, kPps, idr(100)}), 4, same));
  depacketize(same.packets, 0, depacketizer);
  EXPECT_FALSE(depacketizer.take_parameter_sets_changed());

  Bytes new_pps = {0x68, 0xee, 0x3c, 0x80};
  CollectingPayloadSink changed;
  ASSERT_TRUE(packetizer.packetize(avcc({kSps, new_pps, idr(100)}), 4, changed));
  depacketize(changed.packets, 3000, depacketizer);
  EXPECT_TRUE(depacketizer.take_parameter_sets_changed());
  EXPECT_EQ(depacketizer.pps(), new_pps);
}

// Records written by ffmpeg 5.1 (formats/flv/testdata/generate.sh): taking them apart and building
// them again from their SPS and PPS gives the same bytes, High profile extension fields included.
TEST(AvcDecoderConfig, RebuildsFfmpegsRecordsFromTheirParameterSets) {
  for (const char* name : {"config/avc_high_1920x1080.avcc", "config/avc_baseline_352x200.avcc",
                           "config/avc_high10_1280x720.avcc", "config/avc_high444_321x241.avcc"}) {
    Bytes record = read_testdata(name, true);
    ASSERT_FALSE(record.empty()) << name;
    auto sets = avc_parameter_sets(record);
    ASSERT_TRUE(sets) << sets.error().message();
    ASSERT_EQ(sets->sps.size(), 1u);
    ASSERT_EQ(sets->pps.size(), 1u);
    EXPECT_EQ(sets->nal_length_size, 4);
    auto built = build_avc_decoder_config(sets->sps[0], sets->pps[0]);
    ASSERT_TRUE(built) << built.error().message();
    EXPECT_EQ(*built, record) << name;
  }
}

TEST(AvcDecoderConfig, GivesTheProfileLevelIdAndRejectsBrokenInput) {
  EXPECT_EQ(avc_profile_level_id(kSps), "64001f");
  EXPECT_EQ(avc_profile_level_id(Bytes{0x67, 0x42}), "");
  EXPECT_FALSE(build_avc_decoder_config(kSps, Bytes{0x41, 1}));
  EXPECT_FALSE(build_avc_decoder_config(Bytes{0x67}, kPps));
  Bytes record = read_testdata("config/avc_high_1920x1080.avcc", true);
  ASSERT_GT(record.size(), 10u);
  record.resize(10);
  EXPECT_FALSE(avc_parameter_sets(record));
}

}  // namespace
}  // namespace weir::formats::rtp
