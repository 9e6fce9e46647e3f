// SPDX-License-Identifier: Apache-2.0
// MP4A-LATM: StreamMuxConfigs as GStreamer and ffmpeg write them, and their RTP (captured by
// testdata/generate_latm.sh) depacketized to the AAC frames of the ADTS file they sent, byte for
// byte; hand-built elements for subframes, fragments, losses and bad lengths.
#include "formats/rtp/latm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "formats/rtp/test_sinks.h"

namespace weir::formats::rtp {
namespace {

using namespace test;

Bytes from_hex(const std::string& hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// The raw frames of an ADTS file: each header's frame_length, less its 7 or 9 header bytes.
std::vector<Bytes> adts_frames(const Bytes& file) {
  std::vector<Bytes> out;
  for (std::size_t at = 0; at + 7 <= file.size();) {
    EXPECT_EQ(file[at], 0xFF);
    std::size_t length = (std::size_t{file[at + 3]} & 3) << 11 | std::size_t{file[at + 4]} << 3 | file[at + 5] >> 5;
    std::size_t header = (file[at + 1] & 1) ? 7 : 9;  // protection_absent
    if (length < header || length > file.size() - at) break;
    out.emplace_back(file.begin() + static_cast<std::ptrdiff_t>(at + header),
                     file.begin() + static_cast<std::ptrdiff_t>(at + length));
    at += length;
  }
  return out;
}

TEST(StreamMuxConfig, GStreamersShortConfigIsAacLc44100Stereo) {
  // rtpmp4apay's config= for the capture: 4 bytes, ending one bit into frameLengthType.
  Bytes hex = read_testdata("gst_latm_mtu1400.config");
  std::string text(hex.begin(), hex.end());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  ASSERT_EQ(text, "40002420");
  auto config = parse_stream_mux_config(from_hex(text));
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->audio_specific_config, (Bytes{0x12, 0x10}));  // LC, index 4, 2 channels
  EXPECT_EQ(config->sample_rate_hz, 44100u);
  EXPECT_EQ(config->channels, 2);
  EXPECT_EQ(config->num_sub_frames, 0);
  EXPECT_EQ(config->frame_samples, 1024u);
  EXPECT_FALSE(config->has_sbr);
  EXPECT_EQ(config->other_data_bits, 0u);
  EXPECT_FALSE(config->crc_check_present);
}

TEST(StreamMuxConfig, FortyThousandTwentyFourTenIsMonoNotStereo) {
  // "40002410", often quoted as 44.1 kHz stereo: channel configuration 1, so mono (0x1208).
  auto config = parse_stream_mux_config(from_hex("40002410"));
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->audio_specific_config, (Bytes{0x12, 0x08}));
  EXPECT_EQ(config->sample_rate_hz, 44100u);
  EXPECT_EQ(config->channels, 1);
}

TEST(StreamMuxConfig, VersionZeroKeepsTheSbrSyncExtensionGStreamerAppends) {
  // GStreamer 1.22's rtpmp4apay after avenc_aac (mono 44.1 kHz): the AudioSpecificConfig 1208 is
  // followed by the backward-compatible SBR signalling 0x2B7 / 5 / no SBR, then frameLengthType 0.
  auto config = parse_stream_mux_config(from_hex("40002410adca00"));
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->audio_specific_config, (Bytes{0x12, 0x08, 0x56, 0xE5, 0x00}));
  EXPECT_EQ(config->sample_rate_hz, 44100u);
  EXPECT_EQ(config->channels, 1);
  EXPECT_FALSE(config->has_sbr);
  EXPECT_EQ(config->frame_samples, 1024u);
}

TEST(StreamMuxConfig, FfmpegsFullConfigHasBufferFullnessAndNothingElse) {
  Bytes sdp = read_testdata("ffmpeg_latm.sdp");
  std::string text(sdp.begin(), sdp.end());
  auto at = text.find("config=");
  ASSERT_NE(at, std::string::npos);
  std::string hex = text.substr(at + 7, text.find_first_of("\r\n;", at) - at - 7);
  ASSERT_EQ(hex, "400024203fc0");
  auto config = parse_stream_mux_config(from_hex(hex));
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->audio_specific_config, (Bytes{0x12, 0x10}));
  EXPECT_EQ(config->latm_buffer_fullness, 0xFF);
  EXPECT_EQ(config->other_data_bits, 0u);
  EXPECT_FALSE(config->crc_check_present);
}

TEST(StreamMuxConfig, ReadsSubframesExplicitSbrVersionOneOtherDataAndCrc) {
  // numSubFrames 2; HE-AAC v2 (object type 29) 24 kHz core, 48 kHz SBR, mono; other data 16 bits
  // (one escape-free byte), CRC 0xAB. Bits: 0 1 000010 0000 000 | 11101 0110 0001 0011 00010 000
  // | 000 11111111 1 0 00010000 1 10101011 (then zero padding)
  auto config = parse_stream_mux_config(from_hex("4201d613101ff086ac"));
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->num_sub_frames, 2);
  EXPECT_TRUE(config->has_sbr);
  EXPECT_TRUE(config->has_ps);
  EXPECT_EQ(config->sample_rate_hz, 48000u);
  EXPECT_EQ(config->channels, 2);  // PS decodes mono to stereo
  EXPECT_EQ(config->frame_samples, 2048u);
  EXPECT_EQ(config->other_data_bits, 16u);
  EXPECT_TRUE(config->crc_check_present);
  EXPECT_EQ(config->crc_check_sum, 0xAB);

  // Version 1: taraBufferFullness and ascLen as LatmGetValue; ascLen 24 covers the 16 bits of
  // 0x1210 and 8 fill bits, kept in the config, from bit 36. Bits: 1 0 00 11111111 1 000000 0000
  // 000 00 00011000 | 00010010 00010000 00000000 | 000 11111111 0 0
  auto v1 = parse_stream_mux_config(from_hex("8ff8000181210001fe00"));
  ASSERT_TRUE(v1) << v1.error().message();
  EXPECT_EQ(v1->audio_mux_version, 1);
  EXPECT_EQ(v1->audio_specific_config, (Bytes{0x12, 0x10, 0x00}));
  EXPECT_EQ(v1->channels, 2);
}

TEST(StreamMuxConfig, SaysWhatIsUnsupportedOrBroken) {
  auto two_programs = parse_stream_mux_config(from_hex("40102420"));
  ASSERT_FALSE(two_programs);
  EXPECT_EQ(two_programs.error().code(), Errc::unsupported);
  auto two_layers = parse_stream_mux_config(from_hex("40022420"));
  ASSERT_FALSE(two_layers);
  EXPECT_EQ(two_layers.error().code(), Errc::unsupported);
  auto frame_length_type_1 = parse_stream_mux_config(from_hex("400024207fc0"));  // 001 after the ASC
  ASSERT_FALSE(frame_length_type_1);
  EXPECT_EQ(frame_length_type_1.error().code(), Errc::unsupported);
  EXPECT_NE(frame_length_type_1.error().message().find("frameLengthType 1"), std::string::npos);
  auto pce = parse_stream_mux_config(from_hex("40002400"));  // channel configuration 0
  ASSERT_FALSE(pce);
  EXPECT_EQ(pce.error().code(), Errc::unsupported);
  auto truncated = parse_stream_mux_config(from_hex("400024"));
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().code(), Errc::malformed);
  EXPECT_NE(truncated.error().message().find("inside the AudioSpecificConfig"), std::string::npos);
  EXPECT_FALSE(parse_stream_mux_config({}));
  auto bad_rate = parse_stream_mux_config(from_hex("40002f00"));  // sampling index 15, its 24-bit rate missing
  ASSERT_FALSE(bad_rate);
  EXPECT_EQ(bad_rate.error().code(), Errc::malformed);
}

LatmConfig config_of(const char* hex) {
  auto config = parse_stream_mux_config(from_hex(hex));
  EXPECT_TRUE(config);
  return config ? *config : LatmConfig{};
}

void expect_capture_gives_adts_frames(const char* capture, std::size_t packet_count) {
  auto frames = adts_frames(read_testdata("latm_frames.aac"));
  ASSERT_EQ(frames.size(), 21u);
  auto packets = read_packets(capture);
  ASSERT_EQ(packets.size(), packet_count);
  LatmDepacketizer depacketizer(config_of("40002420"));
  CollectingAccessUnitSink units;
  for (auto& bytes : packets) {
    auto packet = parse_rtp(bytes);
    ASSERT_TRUE(packet) << packet.error().message();
    auto status = depacketizer.push(*packet, false, units);
    ASSERT_TRUE(status) << status.message();
  }
  ASSERT_EQ(units.units.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(units.units[i].data, frames[i]) << "frame " << i;
  EXPECT_EQ(depacketizer.counters().access_units, frames.size());
  EXPECT_EQ(depacketizer.counters().dropped_lost + depacketizer.counters().dropped_malformed, 0u);
}

TEST(LatmCapture, GStreamersPacketsGiveTheAdtsFrames) {
  expect_capture_gives_adts_frames("gst_latm_mtu1400.packets", 21);
}
TEST(LatmCapture, GStreamersFragmentedElementsGiveTheAdtsFrames) {
  expect_capture_gives_adts_frames("gst_latm_mtu200.packets", 49);  // mtu=200: 2 or 3 packets each
}
TEST(LatmCapture, FfmpegsPacketsGiveTheAdtsFrames) {
  expect_capture_gives_adts_frames("ffmpeg_latm.packets", 21);
}

TEST(LatmCapture, ALostFragmentCostsItsFrameOnly) {
  auto frames = adts_frames(read_testdata("latm_frames.aac"));
  auto packets = read_packets("gst_latm_mtu200.packets");
  LatmDepacketizer depacketizer(config_of("40002420"));
  CollectingAccessUnitSink units;
  // Drop packet 1 (the marked end of frame 0) and packet 4 (a middle or first fragment of frame 1 or 2).
  for (std::size_t i = 0; i < packets.size(); ++i) {
    if (i == 1 || i == 4) continue;
    auto packet = parse_rtp(packets[i]);
    ASSERT_TRUE(packet);
    (void)depacketizer.push(*packet, i == 2 || i == 5, units);
  }
  // Frame 0 lost its end, frame 1 its start (packet 2 follows the loss, unmarked: skipped with
  // packet 3 of the same timestamp), frame 2 its start (packet 4 was frame 1's end; 5 and 6 skipped).
  ASSERT_EQ(units.units.size(), frames.size() - 3);
  for (std::size_t i = 0; i < units.units.size(); ++i) EXPECT_EQ(units.units[i].data, frames[i + 3]) << "frame " << i;
  EXPECT_EQ(depacketizer.counters().dropped_lost, 3u);
}

TEST(LatmDepacketizer, SplitsSubframesWithTheirTimestampsAndLongLengths) {
  LatmConfig config = config_of("4201d613101ff086ac");  // 3 subframes, 16 bits other data
  config.frame_samples = 1024;
  LatmDepacketizer depacketizer(config);
  CollectingAccessUnitSink units;
  Bytes frame300(300, 0x55);
  Bytes payload(2 + 300);
  payload[0] = 0xFF;  // 255 + 45 = 300
  payload[1] = 45;
  std::fill(payload.begin() + 2, payload.end(), 0x55);
  for (std::uint8_t b : {2, 0xA1, 0xA2, 0 /* empty subframe: skipped */, 0xEE, 0xEE /* other data */})
    payload.push_back(b);
  auto status = depacketizer.push(rtp_packet(payload, 9000, true), false, units);
  ASSERT_TRUE(status) << status.message();
  ASSERT_EQ(units.units.size(), 2u);
  EXPECT_EQ(units.units[0].data, frame300);
  EXPECT_EQ(units.units[0].timestamp, 9000u);
  EXPECT_EQ(units.units[1].data, (Bytes{0xA1, 0xA2}));
  EXPECT_EQ(units.units[1].timestamp, 9000u + 1024);
  EXPECT_TRUE(units.units[1].is_key_frame);
}

TEST(LatmDepacketizer, ReadsElementsOneAfterAnother) {
  LatmDepacketizer depacketizer(config_of("40002420"));
  CollectingAccessUnitSink units;
  Bytes payload = {2, 1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(depacketizer.push(rtp_packet(payload, 0, true), false, units));
  ASSERT_EQ(units.units.size(), 2u);
  EXPECT_EQ(units.units[1].data, (Bytes{4, 5, 6}));
  EXPECT_EQ(units.units[1].timestamp, 1024u);
}

TEST(LatmDepacketizer, NamesBadLengthsSendsNothingOfTheElementAndGoesOn) {
  LatmDepacketizer depacketizer(config_of("40002420"));
  CollectingAccessUnitSink units;
  Bytes overrun = {2, 1, 2, 9, 1};  // the second element says 9 bytes, 1 follows
  auto status = depacketizer.push(rtp_packet(overrun, 0, true), false, units);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.code(), Errc::malformed);
  EXPECT_NE(status.message().find("offset 4"), std::string::npos) << status.message();
  Bytes unfinished_length = {0xFF, 0xFF};
  status = depacketizer.push(rtp_packet(unfinished_length, 1024, true), false, units);
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("PayloadLengthInfo"), std::string::npos);
  EXPECT_TRUE(units.units.empty());
  EXPECT_EQ(depacketizer.counters().dropped_malformed, 2u);
  Bytes good = {1, 7};
  ASSERT_TRUE(depacketizer.push(rtp_packet(good, 2048, true), false, units));
  ASSERT_EQ(units.units.size(), 1u);
}

TEST(LatmDepacketizer, ReassemblesFragmentsAndDropsOnesCutShort) {
  LatmDepacketizer depacketizer(config_of("40002420"));
  CollectingAccessUnitSink units;
  Bytes first = {4, 1, 2}, last = {3, 4};
  ASSERT_TRUE(depacketizer.push(rtp_packet(first, 100, false), false, units));
  ASSERT_TRUE(depacketizer.push(rtp_packet(last, 100, true), false, units));
  ASSERT_EQ(units.units.size(), 1u);
  EXPECT_EQ(units.units[0].data, (Bytes{1, 2, 3, 4}));
  EXPECT_EQ(units.units[0].timestamp, 100u);
  // A new timestamp before the marker: the element in progress lost its end.
  ASSERT_TRUE(depacketizer.push(rtp_packet(first, 200, false), false, units));
  Bytes whole = {1, 9};
  ASSERT_TRUE(depacketizer.push(rtp_packet(whole, 300, true), false, units));
  ASSERT_EQ(units.units.size(), 2u);
  EXPECT_EQ(units.units[1].data, (Bytes{9}));
  EXPECT_EQ(depacketizer.counters().dropped_lost, 1u);
}

TEST(LatmDepacketizer, AfterALossSkipsToAMarkerUnlessThePacketIsAWholeElement) {
  LatmDepacketizer depacketizer(config_of("40002420"));
  CollectingAccessUnitSink units;
  Bytes middle = {5, 6, 7}, end = {8, 9}, whole = {2, 1, 2};
  ASSERT_TRUE(depacketizer.push(rtp_packet(middle, 0, false), true, units));  // skipped
  ASSERT_TRUE(depacketizer.push(rtp_packet(end, 0, true), false, units));     // skipped: its start is lost
  EXPECT_TRUE(units.units.empty());
  EXPECT_EQ(depacketizer.counters().dropped_lost, 1u);
  ASSERT_TRUE(depacketizer.push(rtp_packet(whole, 2048, true), true, units));  // a whole element: kept
  ASSERT_EQ(units.units.size(), 1u);
  EXPECT_EQ(units.units[0].data, (Bytes{1, 2}));
  // Skipping also ends at a new timestamp (its marked end was lost with the loss reported before).
  ASSERT_TRUE(depacketizer.push(rtp_packet(middle, 5000, false), true, units));
  ASSERT_TRUE(depacketizer.push(rtp_packet(whole, 6024, true), false, units));
  ASSERT_EQ(units.units.size(), 2u);
  EXPECT_EQ(depacketizer.counters().dropped_lost, 2u);
}

TEST(LatmDepacketizer, EndsElementsOfASenderWithoutMarkersAtTheNextTimestamp) {
  LatmDepacketizer depacketizer(config_of("40002420"));
  CollectingAccessUnitSink units;
  Bytes first = {4, 1, 2}, last = {3, 4}, whole = {1, 5}, broken = {9, 1};
  ASSERT_TRUE(depacketizer.push(rtp_packet(first, 0, false), false, units));
  ASSERT_TRUE(depacketizer.push(rtp_packet(last, 0, false), false, units));
  ASSERT_TRUE(depacketizer.push(rtp_packet(whole, 1024, false), false, units));  // element 0 is whole
  ASSERT_EQ(units.units.size(), 1u);
  EXPECT_EQ(units.units[0].data, (Bytes{1, 2, 3, 4}));
  ASSERT_TRUE(depacketizer.push(rtp_packet(broken, 2048, false), false, units));
  ASSERT_EQ(units.units.size(), 2u);
  EXPECT_EQ(units.units[1].data, (Bytes{5}));
  EXPECT_EQ(units.units[1].timestamp, 1024u);
  ASSERT_TRUE(depacketizer.push(rtp_packet(whole, 3072, true), false, units));  // 9 bytes never came
  ASSERT_EQ(units.units.size(), 3u);
  EXPECT_EQ(depacketizer.counters().dropped_lost, 1u);
}

TEST(LatmDepacketizer, DropsAnElementPastTheCapOnce) {
  LatmDepacketizer depacketizer(config_of("40002420"), 8);
  CollectingAccessUnitSink units;
  Bytes part = {0xFF, 0, 0, 0, 0, 0};
  ASSERT_TRUE(depacketizer.push(rtp_packet(part, 0, false), false, units));
  ASSERT_TRUE(depacketizer.push(rtp_packet(part, 0, false), false, units));  // 12 > 8: dropped
  ASSERT_TRUE(depacketizer.push(rtp_packet(part, 0, true), false, units));   // its rest: skipped
  Bytes big(9, 1);
  ASSERT_TRUE(depacketizer.push(rtp_packet(big, 1024, true), false, units));  // a whole one past the cap
  Bytes whole = {1, 3};
  ASSERT_TRUE(depacketizer.push(rtp_packet(whole, 2048, true), false, units));
  ASSERT_EQ(units.units.size(), 1u);
  EXPECT_EQ(depacketizer.counters().dropped_oversize, 2u);
}

TEST(LatmConfigHex, BuildsFfmpegsConfigAndParsesBack) {
  auto hex = latm_config_hex(Bytes{0x12, 0x10});
  ASSERT_TRUE(hex) << hex.error().message();
  EXPECT_EQ(*hex, "400024203fc0");  // testdata/ffmpeg_latm.sdp
  // HE-AAC with the backward-compatible extension (FLV's 5-byte form): the core part only.
  auto he = latm_config_hex(Bytes{0x13, 0x10, 0x56, 0xE5, 0x98});
  ASSERT_TRUE(he) << he.error().message();
  auto parsed = parse_stream_mux_config(from_hex(*he));
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->audio_specific_config, (Bytes{0x13, 0x10}));
  EXPECT_EQ(parsed->latm_buffer_fullness, 0xFF);
  EXPECT_FALSE(latm_config_hex(Bytes{0x12}));
}

TEST(LatmPacketizer, RoundTripsTheCapturedFramesWholeAndFragmented) {
  auto frames = adts_frames(read_testdata("latm_frames.aac"));
  ASSERT_EQ(frames.size(), 21u);
  for (std::size_t max_payload : {1400u, 200u, 8u}) {
    LatmPacketizer packetizer(max_payload);
    LatmDepacketizer depacketizer(config_of("400024203fc0"));
    CollectingAccessUnitSink units;
    std::size_t packets = 0;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      CollectingPayloadSink sink;
      ASSERT_TRUE(packetizer.packetize(frames[i], sink));
      for (std::size_t p = 0; p < sink.packets.size(); ++p) {
        EXPECT_LE(sink.packets[p].payload.size(), max_payload);
        EXPECT_EQ(sink.packets[p].marker, p + 1 == sink.packets.size());
        ASSERT_TRUE(depacketizer.push(rtp_packet(sink.packets[p].payload, static_cast<std::uint32_t>(i * 1024),
                                                 sink.packets[p].marker), false, units));
      }
      packets += sink.packets.size();
    }
    ASSERT_EQ(units.units.size(), frames.size()) << max_payload;
    for (std::size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(units.units[i].data, frames[i]) << max_payload;
    if (max_payload == 1400) {
      // Byte for byte what ffmpeg sent for the same frames (its RTP header aside).
      auto captured = read_packets("ffmpeg_latm.packets");
      ASSERT_EQ(captured.size(), frames.size());
      CollectingPayloadSink sink;
      ASSERT_TRUE(packetizer.packetize(frames[1], sink));
      auto theirs = parse_rtp(captured[1]);
      ASSERT_TRUE(theirs);
      EXPECT_EQ(sink.packets[0].payload, Bytes(theirs->payload.begin(), theirs->payload.end()));
      EXPECT_EQ(packets, frames.size());
    }
  }
  CollectingPayloadSink sink;
  EXPECT_FALSE(LatmPacketizer().packetize({}, sink));
  EXPECT_TRUE(sink.packets.empty());
}

}  // namespace
}  // namespace weir::formats::rtp
