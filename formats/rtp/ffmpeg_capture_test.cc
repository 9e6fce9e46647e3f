// SPDX-License-Identifier: Apache-2.0
// Against ffmpeg 5.1: the RTP its muxer sent for testdata/h264_aac.flv (captured from UDP by
// testdata/generate.sh) depacketizes to the FLV's own access units, byte for byte; our packetizer's
// output of the same units comes back the same way; ffmpeg's RTCP parses to what it sent.
#include <gtest/gtest.h>

#include <vector>

#include "formats/flv/flv_file.h"
#include "formats/flv/media_tag.h"
#include "formats/rtp/aac.h"
#include "formats/rtp/h264.h"
#include "formats/rtp/rtcp.h"
#include "formats/rtp/test_sinks.h"

namespace weir::formats::rtp {
namespace {

using namespace test;

struct FlvTracks {
  Bytes avc_record;
  Bytes audio_specific_config;
  std::vector<Bytes> video;  // AVCC access units, decode order
  std::vector<bool> video_key;
  std::vector<Bytes> audio;  // raw AAC frames
};

FlvTracks read_flv() {
  FlvTracks out;
  flv::FlvReader reader;
  reader.feed(read_testdata("h264_aac.flv"));
  while (true) {
    auto tag = reader.next();
    if (!tag || !*tag) break;
    auto info = flv::parse_tag_info((*tag)->type, (*tag)->body);
    if (!info || info->is_sequence_end) continue;  // ffmpeg ends the FLV with an AVC end of sequence
    auto data = (*tag)->body.subspan(info->payload_offset);
    Bytes bytes(data.begin(), data.end());
    if (info->codec == Codec::h264) {
      if (info->flags.is_sequence_header) {
        out.avc_record = bytes;
      } else {
        out.video.push_back(bytes);
        out.video_key.push_back(info->flags.is_key_frame);
      }
    } else if (info->codec == Codec::aac) {
      (info->flags.is_sequence_header ? out.audio_specific_config : out.audio.emplace_back()) = bytes;
    }
  }
  return out;
}

TEST(FfmpegCapture, FfmpegsH264PacketsDepacketizeToTheFlvAccessUnits) {
  FlvTracks flv = read_flv();
  ASSERT_EQ(flv.video.size(), 25u);
  auto packets = read_packets("ffmpeg_video_rtp.packets");
  ASSERT_EQ(packets.size(), 29u);
  H264Depacketizer depacketizer;
  CollectingAccessUnitSink units;
  std::uint16_t expected_sequence = 0;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    auto packet = parse_rtp(packets[i]);
    ASSERT_TRUE(packet) << packet.error().message();
    EXPECT_EQ(packet->header.ssrc, 287454020u);
    EXPECT_EQ(packet->header.payload_type, 96);
    if (i > 0) {
      EXPECT_EQ(packet->header.sequence, expected_sequence);
    }
    expected_sequence = static_cast<std::uint16_t>(packet->header.sequence + 1);
    ASSERT_TRUE(depacketizer.push(*packet, false, units));
  }
  depacketizer.flush(units);
  ASSERT_EQ(units.units.size(), flv.video.size());
  for (std::size_t i = 0; i < flv.video.size(); ++i) {
    EXPECT_EQ(units.units[i].data, flv.video[i]) << "access unit " << i;
    EXPECT_EQ(units.units[i].is_key_frame, flv.video_key[i]) << "access unit " << i;
  }
  EXPECT_EQ(depacketizer.counters().dropped_lost, 0u);
  // ffmpeg sent the parameter sets only in the SDP: the one from sprop-parameter-sets rebuilds the
  // FLV's record exactly.
  auto sets = avc_parameter_sets(flv.avc_record);
  ASSERT_TRUE(sets);
  auto record = build_avc_decoder_config(sets->sps[0], sets->pps[0]);
  ASSERT_TRUE(record);
  EXPECT_EQ(*record, flv.avc_record);
  EXPECT_EQ(avc_profile_level_id(sets->sps[0]), "64000c");  // the SDP's profile-level-id=64000C
}

TEST(FfmpegCapture, OurH264PacketsOfTheFlvComeBackTheSameWithParameterSetsBeforeEachIdr) {
  FlvTracks flv = read_flv();
  ASSERT_FALSE(flv.video.empty());
  auto sets = avc_parameter_sets(flv.avc_record);
  ASSERT_TRUE(sets);
  Bytes sps(sets->sps[0].begin(), sets->sps[0].end()), pps(sets->pps[0].begin(), sets->pps[0].end());
  for (std::size_t max_payload : {std::size_t{200}, std::size_t{1400}}) {
    H264Packetizer packetizer(max_payload);
    packetizer.insert_parameter_sets(sets->sps, sets->pps);
    H264Depacketizer depacketizer;
    CollectingAccessUnitSink units;
    for (std::size_t i = 0; i < flv.video.size(); ++i) {
      CollectingPayloadSink sink;
      ASSERT_TRUE(packetizer.packetize(flv.video[i], sets->nal_length_size, sink));
      for (const Packet& p : sink.packets)
        ASSERT_TRUE(depacketizer.push(rtp_packet(p.payload, static_cast<std::uint32_t>(i * 3600), p.marker), false,
                                      units));
    }
    ASSERT_EQ(units.units.size(), flv.video.size());
    for (std::size_t i = 0; i < flv.video.size(); ++i) {
      Bytes expected = flv.video_key[i] ? avcc({sps, pps}) : Bytes{};
      expected.insert(expected.end(), flv.video[i].begin(), flv.video[i].end());
      EXPECT_EQ(units.units[i].data, expected) << "access unit " << i;
    }
  }
}

TEST(FfmpegCapture, FfmpegsAacPacketsOfSeveralAusDepacketizeToTheFlvFrames) {
  FlvTracks flv = read_flv();
  auto packets = read_packets("ffmpeg_audio_rtp.packets");
  ASSERT_EQ(packets.size(), 3u);
  auto rtpmap = aac_rtpmap(flv.audio_specific_config);
  ASSERT_TRUE(rtpmap);
  EXPECT_EQ(rtpmap->config_hex, "120856e500");  // the SDP's config=120856E500
  EXPECT_EQ(rtpmap->clock_rate, 44100u);
  EXPECT_EQ(rtpmap->channels, 1);
  AacDepacketizer depacketizer;
  CollectingAccessUnitSink units;
  std::vector<std::uint32_t> packet_timestamps;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    auto packet = parse_rtp(packets[i]);
    ASSERT_TRUE(packet) << packet.error().message();
    packet_timestamps.push_back(packet->header.timestamp);
    ASSERT_TRUE(depacketizer.push(*packet, false, units));
  }
  // 14 AUs a packet; ffmpeg 5.1 drops the 3 left over at the end instead of sending a short packet.
  ASSERT_EQ(units.units.size(), 42u);
  ASSERT_EQ(flv.audio.size(), 45u);
  for (std::size_t i = 0; i < units.units.size(); ++i) {
    EXPECT_EQ(units.units[i].data, flv.audio[i]) << "frame " << i;
    // Within a packet AUs are 1024 samples apart. Between packets ffmpeg's timestamps come from
    // the FLV's whole milliseconds and miss 14 × 1024 by a few samples: what RtpClock's
    // to_rtp_frame avoids.
    EXPECT_EQ(units.units[i].timestamp, packet_timestamps[i / 14] + 1024 * (i % 14)) << "frame " << i;
  }
}

TEST(FfmpegCapture, OurAacPacketsOfTheFlvComeBackTheSame) {
  FlvTracks flv = read_flv();
  ASSERT_FALSE(flv.audio.empty());
  AacPacketizer packetizer(100);  // small enough that many frames are fragmented
  AacDepacketizer depacketizer;
  CollectingAccessUnitSink units;
  for (std::size_t i = 0; i < flv.audio.size(); ++i) {
    CollectingPayloadSink sink;
    ASSERT_TRUE(packetizer.packetize(flv.audio[i], sink));
    for (const Packet& p : sink.packets)
      ASSERT_TRUE(depacketizer.push(rtp_packet(p.payload, static_cast<std::uint32_t>(1024 * i), p.marker), false,
                                    units));
  }
  ASSERT_EQ(units.units.size(), flv.audio.size());
  for (std::size_t i = 0; i < flv.audio.size(); ++i) EXPECT_EQ(units.units[i].data, flv.audio[i]) << "frame " << i;
}

TEST(FfmpegCapture, FfmpegsSenderReportsAndByeParse) {
  auto start = read_packets("ffmpeg_video_rtcp.packets");
  ASSERT_EQ(start.size(), 1u);
  auto first = parse_rtcp(start[0]);
  ASSERT_TRUE(first) << first.error().message();
  ASSERT_EQ(first->sender_reports.size(), 1u);
  EXPECT_EQ(first->sender_reports[0].ssrc, 287454020u);
  EXPECT_EQ(first->sender_reports[0].packet_count, 0u);  // sent before the first RTP packet

  // The live capture: SRs at 0 s and 5 s, then SR + BYE at the end (-rtpflags send_bye).
  for (const char* name : {"ffmpeg_live_video_rtcp.packets", "ffmpeg_live_audio_rtcp.packets"}) {
    auto reports = read_packets(name);
    ASSERT_EQ(reports.size(), 3u) << name;
    std::vector<RtcpCompound> parsed;
    for (const Bytes& r : reports) {
      auto compound = parse_rtcp(r);
      ASSERT_TRUE(compound) << name << ": " << compound.error().message();
      parsed.push_back(*compound);
    }
    for (const RtcpCompound& c : parsed) ASSERT_EQ(c.sender_reports.size(), 1u);
    const SenderReport& a = parsed[0].sender_reports[0];
    const SenderReport& b = parsed[1].sender_reports[0];
    EXPECT_EQ(a.ssrc, b.ssrc);
    EXPECT_GT(b.packet_count, 0u);
    EXPECT_GT(b.octet_count, b.packet_count);
    // About 5 s apart on the NTP clock (ffmpeg's interval), the RTP clock advancing with it.
    double seconds = static_cast<double>(b.ntp_timestamp - a.ntp_timestamp) / 4294967296.0;
    EXPECT_GT(seconds, 4.9);
    EXPECT_LT(seconds, 6.0);
    EXPECT_GT(b.rtp_timestamp - a.rtp_timestamp, 0u);
    ASSERT_EQ(parsed[2].byes.size(), 1u);
    EXPECT_EQ(parsed[2].byes[0].ssrcs, std::vector<std::uint32_t>{a.ssrc});
    // What we build for the same report is what ffmpeg sent.
    std::vector<std::uint8_t> ours;
    append_sender_report(ours, b);
    EXPECT_EQ(ours, reports[1]) << name;
    ours.clear();
    append_sender_report(ours, parsed[2].sender_reports[0]);
    append_bye(ours, parsed[2].byes[0].ssrcs);
    EXPECT_EQ(ours, reports[2]) << name;
  }
}

}  // namespace
}  // namespace weir::formats::rtp
