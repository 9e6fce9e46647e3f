// SPDX-License-Identifier: Apache-2.0
#include "formats/flv/media_tag.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace weir::formats::flv {
namespace {

using Bytes = std::vector<std::uint8_t>;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TagInfo video(const Bytes& body) {
  auto info = parse_video_tag(body);
  EXPECT_TRUE(info) << info.error().message();
  return info ? *info : TagInfo{};
}

TagInfo audio(const Bytes& body) {
  auto info = parse_audio_tag(body);
  EXPECT_TRUE(info) << info.error().message();
  return info ? *info : TagInfo{};
}

Bytes concat(TagBodyHeader header, const Bytes& tail) {
  Bytes out(header.view().begin(), header.view().end());
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

// --- legacy video ---

TEST(LegacyVideoTag, AvcSequenceHeaderIsFlaggedAndNotAKeyFrame) {
  TagInfo info = video({0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64});
  EXPECT_EQ(info.kind, MediaKind::video);
  EXPECT_EQ(info.codec, Codec::h264);
  EXPECT_TRUE(info.flags.is_sequence_header);
  EXPECT_FALSE(info.flags.is_key_frame);
  EXPECT_EQ(info.packet_type, PacketType::sequence_start);
  EXPECT_EQ(info.payload_offset, 5u);
  EXPECT_EQ(info.frame_type, 1);
  EXPECT_EQ(info.legacy_codec_id, 7);
  EXPECT_FALSE(info.is_enhanced);
}

TEST(LegacyVideoTag, AvcKeyFrameCarriesItsCompositionTime) {
  TagInfo info = video({0x17, 0x01, 0x00, 0x00, 0x50, 0, 0, 0, 2, 0x65, 0x88});
  EXPECT_TRUE(info.flags.is_key_frame);
  EXPECT_FALSE(info.flags.is_sequence_header);
  EXPECT_EQ(info.packet_type, PacketType::coded_frames);
  EXPECT_EQ(info.composition_time_ms, 80);
  EXPECT_EQ(info.payload_offset, 5u);
}

TEST(LegacyVideoTag, AvcCompositionTimeIsSigned) {
  TagInfo info = video({0x27, 0x01, 0xFF, 0xFF, 0xD8, 0, 0, 0, 1, 0x41});
  EXPECT_FALSE(info.flags.is_key_frame);
  EXPECT_EQ(info.composition_time_ms, -40);
}

TEST(LegacyVideoTag, AvcEndOfSequenceIsReported) {
  TagInfo info = video({0x17, 0x02, 0x00, 0x00, 0x00});
  EXPECT_TRUE(info.is_sequence_end);
  EXPECT_EQ(info.packet_type, PacketType::sequence_end);
}

TEST(LegacyVideoTag, NonStandardHevcCodecTwelveReadsLikeAvc) {
  TagInfo info = video({0x1C, 0x01, 0x00, 0x00, 0x28, 0, 0, 0, 1, 0x26});
  EXPECT_EQ(info.codec, Codec::hevc);
  EXPECT_TRUE(info.flags.is_key_frame);
  EXPECT_EQ(info.composition_time_ms, 40);
  EXPECT_EQ(info.payload_offset, 5u);
}

TEST(LegacyVideoTag, OlderCodecsHaveTheirDataAfterTheFirstByte) {
  struct Case {
    std::uint8_t first;
    Codec codec;
    bool is_key;
  };
  for (Case c : {Case{0x12, Codec::sorenson_h263, true}, Case{0x32, Codec::sorenson_h263, false},
                 Case{0x13, Codec::screen_video, true}, Case{0x24, Codec::vp6, false},
                 Case{0x15, Codec::vp6, true}, Case{0x26, Codec::screen_video, false}}) {
    TagInfo info = video({c.first, 0x00, 0x01});
    EXPECT_EQ(info.codec, c.codec) << int{c.first};
    EXPECT_EQ(info.flags.is_key_frame, c.is_key) << int{c.first};
    EXPECT_EQ(info.payload_offset, 1u);
  }
}

TEST(LegacyVideoTag, CommandFrameHasNoPacketType) {
  TagInfo info = video({0x57, 0x01});
  EXPECT_EQ(info.packet_type, PacketType::command);
  EXPECT_EQ(info.payload_offset, 1u);
  EXPECT_FALSE(info.flags.is_key_frame);
}

TEST(LegacyVideoTag, ShortOrUnknownBodiesAreErrors) {
  auto empty = parse_video_tag(Bytes{});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), Errc::malformed);
  auto short_avc = parse_video_tag(Bytes{0x17, 0x01, 0x00});
  ASSERT_FALSE(short_avc);
  EXPECT_EQ(short_avc.error().code(), Errc::malformed);
  EXPECT_TRUE(contains(short_avc.error().message(), "needs 5 bytes")) << short_avc.error().message();
  auto bad_packet = parse_video_tag(Bytes{0x17, 0x03, 0, 0, 0});
  ASSERT_FALSE(bad_packet);
  EXPECT_TRUE(contains(bad_packet.error().message(), "offset 1")) << bad_packet.error().message();
  auto unknown = parse_video_tag(Bytes{0x19, 0x00});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), Errc::unsupported);
  EXPECT_FALSE(parse_video_tag(Bytes{0x07, 0x01, 0, 0, 0}));  // frame type 0
}

// --- E-RTMP video ---

TEST(EnhancedVideoTag, HevcSequenceStartNamesTheCodecByFourcc) {
  TagInfo info = video({0x90, 'h', 'v', 'c', '1', 0x01, 0x02});
  EXPECT_TRUE(info.is_enhanced);
  EXPECT_EQ(info.codec, Codec::hevc);
  EXPECT_EQ(info.fourcc, kFourccHevc);
  EXPECT_TRUE(info.flags.is_sequence_header);
  EXPECT_EQ(info.payload_offset, 5u);
  EXPECT_EQ(info.wire_packet_type, 0);
}

TEST(EnhancedVideoTag, HevcCodedFramesCarryACompositionTime) {
  TagInfo info = video({0x91, 'h', 'v', 'c', '1', 0xFF, 0xFF, 0xEC, 0, 0, 0, 1, 0x26});
  EXPECT_TRUE(info.flags.is_key_frame);
  EXPECT_EQ(info.composition_time_ms, -20);
  EXPECT_EQ(info.payload_offset, 8u);
}

TEST(EnhancedVideoTag, CodedFramesXImpliesZeroCompositionTime) {
  TagInfo info = video({0xA3, 'a', 'v', 'c', '1', 0, 0, 0, 1, 0x41});
  EXPECT_EQ(info.codec, Codec::h264);
  EXPECT_FALSE(info.flags.is_key_frame);
  EXPECT_EQ(info.packet_type, PacketType::coded_frames);
  EXPECT_EQ(info.composition_time_ms, 0);
  EXPECT_EQ(info.payload_offset, 5u);
}

TEST(EnhancedVideoTag, Av1AndVpFramesHaveNoCompositionTime) {
  TagInfo av1 = video({0x91, 'a', 'v', '0', '1', 0x12, 0x00});
  EXPECT_EQ(av1.codec, Codec::av1);
  EXPECT_EQ(av1.payload_offset, 5u);
  EXPECT_EQ(video({0xA1, 'v', 'p', '0', '9', 0x00}).codec, Codec::vp9);
  EXPECT_EQ(video({0x91, 'v', 'p', '0', '8', 0x00}).codec, Codec::vp8);
}

TEST(EnhancedVideoTag, SequenceEndMetadataAndMpeg2TsStartAreRecognised) {
  TagInfo end = video({0x92, 'a', 'v', '0', '1'});
  EXPECT_TRUE(end.is_sequence_end);
  // Metadata ignores the frame type bits, even an invalid 0.
  TagInfo metadata = video({0x84, 'h', 'v', 'c', '1', 0x02});
  EXPECT_EQ(metadata.packet_type, PacketType::metadata);
  EXPECT_FALSE(metadata.flags.is_key_frame);
  TagInfo ts_start = video({0x95, 'a', 'v', '0', '1', 0x80});
  EXPECT_EQ(ts_start.packet_type, PacketType::mpeg2ts_sequence_start);
  EXPECT_TRUE(ts_start.flags.is_sequence_header);
}

TEST(EnhancedVideoTag, CommandFrameHasNoFourcc) {
  TagInfo info = video({0xD1, 0x00});
  EXPECT_EQ(info.packet_type, PacketType::command);
  EXPECT_EQ(info.codec, Codec::unknown);
  EXPECT_EQ(info.payload_offset, 1u);
}

TEST(EnhancedVideoTag, ModExIsSkippedAndTimestampOffsetNanoKept) {
  // ModEx: size-1 = 2 (3 bytes of data: 0x0F4240 = 1000000 ns), then [type 0 | CodedFrames].
  TagInfo info = video({0x97, 0x02, 0x0F, 0x42, 0x40, 0x01, 'h', 'v', 'c', '1', 0, 0, 0x10, 0xAA});
  EXPECT_EQ(info.codec, Codec::hevc);
  EXPECT_EQ(info.packet_type, PacketType::coded_frames);
  EXPECT_EQ(info.timestamp_offset_ns, 1000000u);
  EXPECT_EQ(info.composition_time_ms, 16);
  EXPECT_EQ(info.payload_offset, 13u);
}

TEST(EnhancedVideoTag, ModExWithSixteenBitSizeIsSkipped) {
  Bytes body = {0x97, 0xFF, 0x01, 0x00};  // size-1 says 256: a UI16 follows, 0x0100 + 1 = 257 bytes
  body.insert(body.end(), 257, 0xEE);
  body.insert(body.end(), {0x13, 'a', 'v', 'c', '1', 0x65});  // unknown ModEx type 1, CodedFramesX
  TagInfo info = video(body);
  EXPECT_EQ(info.codec, Codec::h264);
  EXPECT_EQ(info.timestamp_offset_ns, 0u);
  EXPECT_EQ(info.payload_offset, body.size() - 1);
}

TEST(EnhancedVideoTag, TruncatedModExIsMalformed) {
  auto info = parse_video_tag(Bytes{0x97, 0x05, 0x01, 0x02});
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), Errc::malformed);
  EXPECT_TRUE(contains(info.error().message(), "offset 2")) << info.error().message();
}

TEST(EnhancedVideoTag, UnknownFourccOrPacketTypeIsUnsupported) {
  auto fourcc = parse_video_tag(Bytes{0x91, 'x', 'v', 'i', 'd'});
  ASSERT_FALSE(fourcc);
  EXPECT_EQ(fourcc.error().code(), Errc::unsupported);
  EXPECT_TRUE(contains(fourcc.error().message(), "'xvid' at offset 1")) << fourcc.error().message();
  auto audio_fourcc = parse_video_tag(Bytes{0x91, 'O', 'p', 'u', 's'});
  EXPECT_FALSE(audio_fourcc);
  auto packet = parse_video_tag(Bytes{0x98, 'a', 'v', 'c', '1'});
  ASSERT_FALSE(packet);
  EXPECT_EQ(packet.error().code(), Errc::unsupported);
  auto short_fourcc = parse_video_tag(Bytes{0x91, 'a', 'v'});
  ASSERT_FALSE(short_fourcc);
  EXPECT_EQ(short_fourcc.error().code(), Errc::malformed);
}

TEST(EnhancedVideoTag, OneTrackMultitrackIsReportedAndReadable) {
  // Multitrack, OneTrack + CodedFrames, 'avc1', track 3, composition time 40, two NAL bytes.
  Bytes body = {0x96, 0x01, 'a', 'v', 'c', '1', 3, 0, 0, 40, 0x65, 0x88};
  TagInfo info = video(body);
  EXPECT_TRUE(info.is_multitrack);
  EXPECT_EQ(info.multitrack_type, MultitrackType::one_track);
  EXPECT_EQ(info.codec, Codec::h264);
  EXPECT_EQ(info.packet_type, PacketType::coded_frames);
  EXPECT_TRUE(info.flags.is_key_frame);
  EXPECT_EQ(info.payload_offset, 6u);
  MultitrackReader tracks(body, info);
  auto track = tracks.next();
  ASSERT_TRUE(track && *track);
  EXPECT_EQ((*track)->track_id, 3);
  EXPECT_EQ((*track)->composition_time_ms, 40);
  EXPECT_EQ(Bytes((*track)->payload.begin(), (*track)->payload.end()), (Bytes{0x65, 0x88}));
  auto done = tracks.next();
  ASSERT_TRUE(done);
  EXPECT_FALSE(done->has_value());
}

TEST(EnhancedVideoTag, ManyTracksManyCodecsAreWalkedTrackByTrack) {
  // Multitrack, ManyTracksManyCodecs + SequenceStart; track 0 'hvc1' 2 bytes, track 1 'av01' 1 byte.
  Bytes body = {0x96, 0x20, 'h', 'v', 'c', '1', 0, 0, 0, 2, 0xA1, 0xA2, 'a', 'v', '0', '1', 1, 0, 0, 1, 0xB1};
  TagInfo info = video(body);
  EXPECT_TRUE(info.is_multitrack);
  EXPECT_EQ(info.multitrack_type, MultitrackType::many_tracks_many_codecs);
  EXPECT_EQ(info.codec, Codec::unknown);
  EXPECT_TRUE(info.flags.is_sequence_header);
  EXPECT_EQ(info.payload_offset, 2u);
  MultitrackReader tracks(body, info);
  std::vector<TrackView> seen;
  while (true) {
    auto track = tracks.next();
    ASSERT_TRUE(track) << track.error().message();
    if (!*track) break;
    seen.push_back(**track);
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].codec, Codec::hevc);
  EXPECT_EQ(seen[0].payload.size(), 2u);
  EXPECT_EQ(seen[1].codec, Codec::av1);
  EXPECT_EQ(seen[1].track_id, 1);
  EXPECT_EQ(seen[1].payload[0], 0xB1);
}

TEST(EnhancedVideoTag, MultitrackTrackOverrunningTheBodyIsMalformed) {
  Bytes body = {0x96, 0x11, 'h', 'v', 'c', '1', 0, 0, 0, 9, 0xA1};
  TagInfo info = video(body);
  MultitrackReader tracks(body, info);
  auto track = tracks.next();
  ASSERT_FALSE(track);
  EXPECT_EQ(track.error().code(), Errc::malformed);
  EXPECT_TRUE(contains(track.error().message(), "offset 10")) << track.error().message();
}

TEST(EnhancedVideoTag, NestedMultitrackIsMalformed) {
  auto info = parse_video_tag(Bytes{0x96, 0x06, 'h', 'v', 'c', '1'});
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), Errc::malformed);
}

// --- legacy audio ---

TEST(LegacyAudioTag, AacSequenceHeaderAndRawFrames) {
  TagInfo header = audio({0xAF, 0x00, 0x12, 0x10});
  EXPECT_EQ(header.kind, MediaKind::audio);
  EXPECT_EQ(header.codec, Codec::aac);
  EXPECT_TRUE(header.flags.is_sequence_header);
  EXPECT_EQ(header.payload_offset, 2u);
  TagInfo raw = audio({0xAF, 0x01, 0x21});
  EXPECT_EQ(raw.packet_type, PacketType::coded_frames);
  EXPECT_FALSE(raw.flags.is_sequence_header);
  EXPECT_FALSE(raw.flags.is_key_frame);
  EXPECT_EQ(raw.legacy_audio.sample_rate_hz, 44100u);
  EXPECT_EQ(raw.legacy_audio.channels, 2);
  EXPECT_FALSE(parse_audio_tag(Bytes{0xAF}));
  EXPECT_FALSE(parse_audio_tag(Bytes{0xAF, 0x02}));
}

TEST(LegacyAudioTag, SoundFormatsMapToCodecsAndRates) {
  struct Case {
    std::uint8_t first;
    Codec codec;
    std::uint32_t rate;
    std::uint8_t channels;
  };
  for (Case c : {Case{0x0E, Codec::pcm, 44100, 1}, Case{0x1A, Codec::adpcm, 22050, 1},
                 Case{0x2F, Codec::mp3, 44100, 2}, Case{0x36, Codec::pcm, 11025, 1},
                 Case{0x42, Codec::nellymoser, 16000, 1}, Case{0x52, Codec::nellymoser, 8000, 1},
                 Case{0x6A, Codec::nellymoser, 22050, 1}, Case{0x72, Codec::pcma, 8000, 1},
                 Case{0x82, Codec::pcmu, 8000, 1}, Case{0xB2, Codec::speex, 16000, 1},
                 Case{0xE2, Codec::mp3, 8000, 1}}) {
    TagInfo info = audio({c.first, 0x00});
    EXPECT_EQ(info.codec, c.codec) << int{c.first};
    EXPECT_EQ(info.legacy_audio.sample_rate_hz, c.rate) << int{c.first};
    EXPECT_EQ(info.legacy_audio.channels, c.channels) << int{c.first};
    EXPECT_EQ(info.payload_offset, 1u);
  }
  EXPECT_EQ(audio({0x0E}).legacy_audio.bits_per_sample, 16);
  EXPECT_EQ(audio({0x0C}).legacy_audio.bits_per_sample, 8);
}

TEST(LegacyAudioTag, ReservedAndDeviceSpecificFormatsAreUnsupported) {
  for (std::uint8_t first : {0xC0, 0xD0, 0xF0}) {
    auto info = parse_audio_tag(Bytes{first, 0});
    ASSERT_FALSE(info);
    EXPECT_EQ(info.error().code(), Errc::unsupported);
  }
}

TEST(LegacyAudioTag, EmptyBodyIsSilence) {
  TagInfo info = audio({});
  EXPECT_EQ(info.kind, MediaKind::audio);
  EXPECT_EQ(info.packet_type, PacketType::silence);
}

// --- E-RTMP audio ---

TEST(EnhancedAudioTag, FourccsNameTheCodec) {
  struct Case {
    const char* fourcc;
    Codec codec;
  };
  for (Case c : {Case{"Opus", Codec::opus}, Case{"fLaC", Codec::flac}, Case{"ac-3", Codec::ac3},
                 Case{"ec-3", Codec::eac3}, Case{".mp3", Codec::mp3}, Case{"mp4a", Codec::aac}}) {
    auto byte = [&](int i) { return static_cast<std::uint8_t>(c.fourcc[i]); };
    Bytes body = {0x91, byte(0), byte(1), byte(2), byte(3), 0xFC};
    TagInfo info = audio(body);
    EXPECT_TRUE(info.is_enhanced);
    EXPECT_EQ(info.codec, c.codec) << c.fourcc;
    EXPECT_EQ(info.packet_type, PacketType::coded_frames);
    EXPECT_EQ(info.payload_offset, 5u);
  }
}

TEST(EnhancedAudioTag, PacketTypesAreRecognised) {
  EXPECT_TRUE(audio({0x90, 'O', 'p', 'u', 's'}).flags.is_sequence_header);
  EXPECT_TRUE(audio({0x92, 'O', 'p', 'u', 's'}).is_sequence_end);
  EXPECT_EQ(audio({0x94, 'O', 'p', 'u', 's', 1, 2}).packet_type, PacketType::multichannel_config);
  auto reserved = parse_audio_tag(Bytes{0x93, 'O', 'p', 'u', 's'});
  ASSERT_FALSE(reserved);
  EXPECT_EQ(reserved.error().code(), Errc::unsupported);
}

TEST(EnhancedAudioTag, MultitrackAndModExAreHandled) {
  // ModEx (1 byte of data, type 0) then Multitrack ManyTracks + CodedFrames, 'mp4a', track 0 of 1 byte.
  Bytes body = {0x97, 0x00, 0x55, 0x05, 0x11, 'm', 'p', '4', 'a', 0, 0, 0, 1, 0x21};
  TagInfo info = audio(body);
  EXPECT_TRUE(info.is_multitrack);
  EXPECT_EQ(info.multitrack_type, MultitrackType::many_tracks);
  EXPECT_EQ(info.codec, Codec::aac);
  EXPECT_EQ(info.timestamp_offset_ns, 0u);  // fewer than 3 bytes: not a usable offset
  MultitrackReader tracks(body, info);
  auto track = tracks.next();
  ASSERT_TRUE(track && *track);
  EXPECT_EQ((*track)->payload.size(), 1u);
  EXPECT_EQ((*track)->composition_time_ms, 0);
}

TEST(EnhancedAudioTag, VideoFourccIsUnsupported) {
  auto info = parse_audio_tag(Bytes{0x91, 'a', 'v', 'c', '1'});
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), Errc::unsupported);
}

// --- script data ---

TEST(ScriptTag, IsAmf0Metadata) {
  auto info = parse_tag_info(TagType::script, Bytes{0x02, 0x00, 0x0A});
  ASSERT_TRUE(info);
  EXPECT_EQ(info->kind, MediaKind::data);
  EXPECT_EQ(info->codec, Codec::amf0);
  EXPECT_TRUE(info->flags.is_metadata);
  EXPECT_EQ(info->payload_offset, 0u);
}

// --- writers ---

TEST(TagHeaderWriter, LegacyAvcRoundTripsThroughTheParser) {
  auto header = write_legacy_video_header(Codec::h264, true, PacketType::coded_frames, -40);
  ASSERT_TRUE(header) << header.error().message();
  EXPECT_EQ(Bytes(header->view().begin(), header->view().end()), (Bytes{0x17, 0x01, 0xFF, 0xFF, 0xD8}));
  TagInfo info = video(concat(*header, {0x65}));
  EXPECT_EQ(info.codec, Codec::h264);
  EXPECT_TRUE(info.flags.is_key_frame);
  EXPECT_EQ(info.composition_time_ms, -40);
}

TEST(TagHeaderWriter, LegacyVideoCodecsRoundTrip) {
  for (Codec codec : {Codec::h264, Codec::hevc}) {
    for (PacketType type : {PacketType::sequence_start, PacketType::coded_frames, PacketType::sequence_end}) {
      auto header = write_legacy_video_header(codec, false, type, 0);
      ASSERT_TRUE(header);
      TagInfo info = video(concat(*header, {}));
      EXPECT_EQ(info.codec, codec);
      EXPECT_EQ(info.packet_type, type);
    }
  }
  for (Codec codec : {Codec::sorenson_h263, Codec::screen_video, Codec::vp6}) {
    auto header = write_legacy_video_header(codec, true, PacketType::coded_frames);
    ASSERT_TRUE(header);
    EXPECT_EQ(header->size, 1);
    EXPECT_EQ(video(concat(*header, {0})).codec, codec);
  }
  EXPECT_EQ(write_legacy_video_header(Codec::av1, true, PacketType::coded_frames).error().code(), Errc::unsupported);
  EXPECT_EQ(write_legacy_video_header(Codec::vp6, true, PacketType::sequence_start).error().code(),
            Errc::unsupported);
  EXPECT_EQ(write_legacy_video_header(Codec::h264, true, PacketType::coded_frames, 0x800000).error().code(),
            Errc::limit);
}

TEST(TagHeaderWriter, EnhancedVideoRoundTripsThroughTheParser) {
  for (Codec codec : {Codec::h264, Codec::hevc, Codec::av1, Codec::vp9, Codec::vp8}) {
    for (PacketType type : {PacketType::sequence_start, PacketType::coded_frames, PacketType::sequence_end,
                            PacketType::metadata}) {
      auto header = write_enhanced_video_header(codec, true, type);
      ASSERT_TRUE(header) << header.error().message();
      TagInfo info = video(concat(*header, {0x00}));
      EXPECT_TRUE(info.is_enhanced);
      EXPECT_EQ(info.codec, codec);
      EXPECT_EQ(info.packet_type, type);
      EXPECT_EQ(info.payload_offset, header->size);
    }
  }
}

TEST(TagHeaderWriter, EnhancedHevcUsesCodedFramesXOnlyForZeroCompositionTime) {
  auto zero = write_enhanced_video_header(Codec::hevc, false, PacketType::coded_frames, 0);
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->size, 5);
  EXPECT_EQ(zero->bytes[0], 0xA3);
  auto later = write_enhanced_video_header(Codec::hevc, false, PacketType::coded_frames, 1000);
  ASSERT_TRUE(later);
  EXPECT_EQ(later->size, 8);
  EXPECT_EQ(video(concat(*later, {0x02})).composition_time_ms, 1000);
  EXPECT_EQ(write_enhanced_video_header(Codec::av1, false, PacketType::coded_frames, 40).error().code(),
            Errc::unsupported);
  EXPECT_TRUE(write_enhanced_video_header(Codec::av1, true, PacketType::mpeg2ts_sequence_start));
  EXPECT_FALSE(write_enhanced_video_header(Codec::hevc, true, PacketType::mpeg2ts_sequence_start));
  EXPECT_FALSE(write_enhanced_video_header(Codec::vp6, true, PacketType::coded_frames));
}

TEST(TagHeaderWriter, LegacyAudioRoundTripsThroughTheParser) {
  auto aac = write_legacy_audio_header(Codec::aac, PacketType::sequence_start);
  ASSERT_TRUE(aac);
  EXPECT_EQ(Bytes(aac->view().begin(), aac->view().end()), (Bytes{0xAF, 0x00}));
  struct Case {
    Codec codec;
    LegacyAudioFormat format;
  };
  for (Case c : {Case{Codec::mp3, {44100, 16, 2}}, Case{Codec::mp3, {8000, 16, 1}}, Case{Codec::pcm, {22050, 16, 1}},
                 Case{Codec::adpcm, {11025, 16, 1}}, Case{Codec::nellymoser, {8000, 16, 1}},
                 Case{Codec::nellymoser, {16000, 16, 1}}, Case{Codec::nellymoser, {44100, 16, 1}},
                 Case{Codec::pcma, {8000, 16, 1}}, Case{Codec::pcmu, {8000, 16, 1}},
                 Case{Codec::speex, {16000, 16, 1}}}) {
    auto header = write_legacy_audio_header(c.codec, PacketType::coded_frames, c.format);
    ASSERT_TRUE(header) << header.error().message();
    TagInfo info = audio(concat(*header, {0x00}));
    EXPECT_EQ(info.codec, c.codec);
    EXPECT_EQ(info.legacy_audio.sample_rate_hz, c.format.sample_rate_hz) << codec_name(c.codec);
    EXPECT_EQ(info.legacy_audio.channels, c.format.channels) << codec_name(c.codec);
  }
  EXPECT_EQ(write_legacy_audio_header(Codec::mp3, PacketType::coded_frames, {48000, 16, 2}).error().code(),
            Errc::unsupported);
  EXPECT_FALSE(write_legacy_audio_header(Codec::opus, PacketType::coded_frames, {48000, 16, 2}));
}

TEST(TagHeaderWriter, EnhancedAudioRoundTripsThroughTheParser) {
  for (Codec codec : {Codec::opus, Codec::flac, Codec::ac3, Codec::eac3, Codec::mp3, Codec::aac}) {
    for (PacketType type : {PacketType::sequence_start, PacketType::coded_frames, PacketType::sequence_end,
                            PacketType::multichannel_config}) {
      auto header = write_enhanced_audio_header(codec, type);
      ASSERT_TRUE(header);
      TagInfo info = audio(concat(*header, {0x00}));
      EXPECT_EQ(info.codec, codec);
      EXPECT_EQ(info.packet_type, type);
      EXPECT_EQ(info.payload_offset, 5u);
    }
  }
  EXPECT_FALSE(write_enhanced_audio_header(Codec::speex, PacketType::coded_frames));
  EXPECT_FALSE(write_enhanced_audio_header(Codec::opus, PacketType::metadata));
}

TEST(Fourcc, MapsBothWays) {
  EXPECT_EQ(make_fourcc("av01"), 0x61763031u);
  for (Codec codec : {Codec::h264, Codec::hevc, Codec::av1, Codec::vp9, Codec::vp8, Codec::opus, Codec::flac,
                      Codec::ac3, Codec::eac3, Codec::mp3, Codec::aac})
    EXPECT_EQ(codec_from_fourcc(fourcc_from_codec(codec)), codec);
  EXPECT_EQ(fourcc_from_codec(Codec::speex), 0u);
  EXPECT_EQ(codec_from_fourcc(make_fourcc("xxxx")), Codec::unknown);
}

}  // namespace
}  // namespace weir::formats::flv
