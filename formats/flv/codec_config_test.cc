// SPDX-License-Identifier: Apache-2.0
#include "formats/flv/codec_config.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "formats/flv/test_files.h"

namespace weir::formats::flv {
namespace {

using Bytes = std::vector<std::uint8_t>;
using test::read_testdata;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Packs (bit count, value) fields most significant bit first, zero-padding the last byte.
Bytes pack_bits(std::initializer_list<std::pair<int, std::uint32_t>> fields) {
  Bytes out;
  int used = 8;
  for (auto [count, value] : fields) {
    for (int i = count - 1; i >= 0; --i) {
      if (used == 8) {
        out.push_back(0);
        used = 0;
      }
      out.back() = static_cast<std::uint8_t>(out.back() | ((value >> i) & 1u) << (7 - used));
      ++used;
    }
  }
  return out;
}

CodecDescription parsed(Result<CodecDescription> result) {
  EXPECT_TRUE(result) << result.error().message();
  return result ? *result : CodecDescription{};
}

// Made by testdata/synthetic_sps.py and read back by ffmpeg 5.1 (trace_headers): High profile,
// SPS scaling lists (explicit and use-default), pic_order_cnt_type 1, field coding (MBAFF),
// cropping 4 left / 12 right / 8 bottom, two emulation-prevention bytes.
const Bytes kSyntheticAvcSps = {
    0x67, 0x64, 0x00, 0x28, 0xad, 0x84, 0x3f, 0xff, 0xc2, 0x21, 0x08, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x50, 0x00, 0x00, 0x03, 0x02, 0x00, 0x00, 0x03, 0x02, 0x88, 0x42, 0xca, 0x03, 0xc0, 0x22, 0x76, 0x7b, 0x40};

// Made by testdata/synthetic_sps.py, checked with ffmpeg 5.1: Main 10, high tier, level 150, a
// sub-layer with profile and level present, 4:2:2 10-bit, 1280x728 with a 1272x726 window.
const Bytes kSyntheticHevcSps = {
    0x42, 0x01, 0x03, 0x22, 0x20, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00,
    0x96, 0xc0, 0x00, 0x22, 0x20, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00,
    0x78, 0xb0, 0x02, 0x80, 0x80, 0x2d, 0x99, 0x15, 0xb6, 0x59, 0x5c, 0xaf, 0x24, 0x98, 0x41};

// --- H.264 ---

TEST(AvcSps, HandlesScalingListsPocCycleFieldCodingCroppingAndEscapes) {
  std::size_t escapes = 0;
  for (std::size_t i = 2; i < kSyntheticAvcSps.size(); ++i)
    if (kSyntheticAvcSps[i - 2] == 0 && kSyntheticAvcSps[i - 1] == 0 && kSyntheticAvcSps[i] == 3) ++escapes;
  ASSERT_EQ(escapes, 2u);
  CodecDescription d = parsed(parse_avc_sps(kSyntheticAvcSps));
  EXPECT_EQ(d.codec, Codec::h264);
  EXPECT_EQ(d.profile, 100);
  EXPECT_EQ(d.level, 40);
  EXPECT_EQ(d.coded_width, 1920u);
  EXPECT_EQ(d.coded_height, 1088u);
  EXPECT_EQ(d.width, 1904u);
  EXPECT_EQ(d.height, 1080u);
  EXPECT_TRUE(d.is_interlaced);
  EXPECT_EQ(d.chroma_format_idc, 1);
}

TEST(AvcSps, EveryTruncationIsAnErrorNamingTheByte) {
  for (std::size_t size = 0; size + 1 < kSyntheticAvcSps.size(); ++size) {
    auto d = parse_avc_sps(std::span<const std::uint8_t>(kSyntheticAvcSps.data(), size));
    if (size < 4) {
      ASSERT_FALSE(d);
      continue;
    }
    // Cutting into the trailing bits can still leave every field we read.
    if (d) continue;
    EXPECT_EQ(d.error().code(), Errc::malformed);
    EXPECT_TRUE(contains(d.error().message(), "byte")) << d.error().message();
  }
}

TEST(AvcSps, RejectsAnotherNalType) {
  Bytes pps = {0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0};
  auto d = parse_avc_sps(pps);
  ASSERT_FALSE(d);
  EXPECT_TRUE(contains(d.error().message(), "NAL unit type 8")) << d.error().message();
}

TEST(AvcDecoderConfig, ReadsX264RecordsOfSeveralProfiles) {
  struct Case {
    const char* file;
    std::uint8_t profile, level, chroma, depth;
    std::uint32_t width, height;
    bool interlaced;
    const char* codec_string;
  };
  for (Case c : {Case{"avc_high_1920x1080.avcc", 100, 40, 1, 8, 1920, 1080, false, "avc1.640028"},
                 Case{"avc_baseline_352x200.avcc", 66, 13, 1, 8, 352, 200, false, "avc1.42c00d"},
                 Case{"avc_high10_1280x720.avcc", 110, 31, 1, 10, 1280, 720, false, "avc1.6e001f"},
                 Case{"avc_high444_321x241.avcc", 244, 13, 3, 8, 321, 241, false, "avc1.f4000d"},
                 Case{"avc_interlaced_1920x1080.avcc", 77, 40, 1, 8, 1920, 1080, true, "avc1.4d4028"}}) {
    Bytes record = read_testdata(std::string("config/") + c.file);
    ASSERT_FALSE(record.empty()) << c.file;
    CodecDescription d = parsed(parse_avc_decoder_config(record));
    EXPECT_EQ(d.codec, Codec::h264) << c.file;
    EXPECT_EQ(d.profile, c.profile) << c.file;
    EXPECT_EQ(d.level, c.level) << c.file;
    EXPECT_EQ(d.chroma_format_idc, c.chroma) << c.file;
    EXPECT_EQ(d.bit_depth_luma, c.depth) << c.file;
    EXPECT_EQ(d.width, c.width) << c.file;
    EXPECT_EQ(d.height, c.height) << c.file;
    EXPECT_EQ(d.is_interlaced, c.interlaced) << c.file;
    EXPECT_EQ(d.nal_length_size, 4) << c.file;
    EXPECT_EQ(rfc6381_codec_string(d), c.codec_string) << c.file;
  }
}

TEST(AvcDecoderConfig, AnSpsOverrunningTheRecordNamesItsOffset) {
  Bytes record = read_testdata("config/avc_high_1920x1080.avcc");
  ASSERT_GT(record.size(), 8u);
  record[7] = 0xF0;  // SPS length far beyond the record
  auto d = parse_avc_decoder_config(record);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), Errc::malformed);
  EXPECT_TRUE(contains(d.error().message(), "SPS 0 of 240 bytes at offset 8")) << d.error().message();
}

TEST(AvcDecoderConfig, AnSpsErrorSaysWhereInTheRecord) {
  Bytes record = read_testdata("config/avc_high_1920x1080.avcc");
  ASSERT_GT(record.size(), 12u);
  record[7] = 5;  // SPS of 5 bytes: cut inside the exp-Golomb fields
  auto d = parse_avc_decoder_config(record);
  ASSERT_FALSE(d);
  EXPECT_TRUE(contains(d.error().message(), "avcC: SPS at offset 8: h264 sps: truncated at byte"))
      << d.error().message();
}

TEST(AvcDecoderConfig, RejectsBadVersionAndMissingSps) {
  EXPECT_FALSE(parse_avc_decoder_config(Bytes{0, 0x64, 0, 0x28, 0xFF, 0xE1, 0}));
  auto none = parse_avc_decoder_config(Bytes{1, 0x64, 0, 0x28, 0xFF, 0xE0, 0});
  ASSERT_FALSE(none);
  EXPECT_TRUE(contains(none.error().message(), "no SPS")) << none.error().message();
}

// --- H.265 ---

TEST(HevcSps, HandlesSubLayersHighTierAndAFourTwoTwoWindow) {
  CodecDescription d = parsed(parse_hevc_sps(kSyntheticHevcSps));
  EXPECT_EQ(d.codec, Codec::hevc);
  EXPECT_EQ(d.profile, 2);
  EXPECT_EQ(d.tier, 1);
  EXPECT_EQ(d.level, 150);
  EXPECT_EQ(d.chroma_format_idc, 2);
  EXPECT_EQ(d.bit_depth_luma, 10);
  EXPECT_EQ(d.coded_width, 1280u);
  EXPECT_EQ(d.coded_height, 728u);
  EXPECT_EQ(d.width, 1272u);
  EXPECT_EQ(d.height, 726u);
  EXPECT_EQ(rfc6381_codec_string(d), "hvc1.2.4.H150.90");
}

TEST(HevcDecoderConfig, ReadsX265Records) {
  CodecDescription main = parsed(parse_hevc_decoder_config(read_testdata("config/hevc_main_640x362.hvcc")));
  EXPECT_EQ(main.profile, 1);
  EXPECT_EQ(main.level, 63);
  EXPECT_EQ(main.coded_height, 368u);
  EXPECT_EQ(main.width, 640u);
  EXPECT_EQ(main.height, 362u);
  EXPECT_EQ(main.nal_length_size, 4);
  EXPECT_EQ(rfc6381_codec_string(main), "hvc1.1.6.L63.90");

  CodecDescription main10 = parsed(parse_hevc_decoder_config(read_testdata("config/hevc_main10_1920x1080.hvcc")));
  EXPECT_EQ(main10.profile, 2);
  EXPECT_EQ(main10.level, 120);
  EXPECT_EQ(main10.bit_depth_luma, 10);
  EXPECT_EQ(main10.width, 1920u);
  EXPECT_EQ(main10.height, 1080u);
  EXPECT_EQ(rfc6381_codec_string(main10), "hvc1.2.4.L120.90");
}

TEST(HevcDecoderConfig, EveryTruncationFailsCleanly) {
  Bytes record = read_testdata("config/hevc_main_640x362.hvcc");
  ASSERT_FALSE(record.empty());
  // VPS array at 23, SPS array at 52 with a 43-byte SPS at 57: a record cut before byte 100 lacks
  // part of the SPS and must fail; from there on the rest (PPS, SEI) is not needed.
  for (std::size_t size = 0; size <= record.size(); ++size) {
    auto d = parse_hevc_decoder_config(std::span<const std::uint8_t>(record.data(), size));
    EXPECT_EQ(d.has_value(), size >= 100) << size;
    if (!d) {
      EXPECT_EQ(d.error().code(), Errc::malformed);
    }
  }
}

// --- AV1, VP9 ---

TEST(Av1CodecConfig, ReadsTheSequenceHeaderObu) {
  CodecDescription d = parsed(parse_av1_codec_config(read_testdata("config/av1_426x240.av1c")));
  EXPECT_EQ(d.codec, Codec::av1);
  EXPECT_EQ(d.profile, 0);
  EXPECT_EQ(d.width, 426u);
  EXPECT_EQ(d.height, 240u);
  EXPECT_EQ(d.bit_depth_luma, 8);
  EXPECT_EQ(d.chroma_format_idc, 1);
  EXPECT_EQ(rfc6381_codec_string(d), "av01.0.00M.08");
}

TEST(Av1CodecConfig, ReadsAReducedStillPictureHeaderWithTimingLeftOut) {
  // av1C: profile 0, level 8, 10-bit 4:2:0; one sequence header OBU with a size field:
  // seq_profile 0, still_picture 1, reduced_still_picture_header 1, seq_level_idx 8,
  // frame_width_bits 11, frame_height_bits 11, 1920x1080.
  Bytes obu = pack_bits({{3, 0}, {1, 1}, {1, 1}, {5, 8}, {4, 10}, {4, 10}, {11, 1919}, {11, 1079}});
  Bytes record = {0x81, 0x08, 0x4C, 0x00, 0x0A, static_cast<std::uint8_t>(obu.size())};
  record.insert(record.end(), obu.begin(), obu.end());
  CodecDescription d = parsed(parse_av1_codec_config(record));
  EXPECT_EQ(d.width, 1920u);
  EXPECT_EQ(d.height, 1080u);
  EXPECT_EQ(d.level, 8);
  EXPECT_EQ(d.bit_depth_luma, 10);
  EXPECT_EQ(rfc6381_codec_string(d), "av01.0.08M.10");
}

TEST(Av1CodecConfig, ARecordWithoutObusHasNoSize) {
  CodecDescription d = parsed(parse_av1_codec_config(Bytes{0x81, 0x2D, 0x80, 0x00}));
  EXPECT_EQ(d.profile, 1);
  EXPECT_EQ(d.level, 13);
  EXPECT_EQ(d.tier, 1);
  EXPECT_EQ(d.width, 0u);
}

TEST(Av1CodecConfig, RejectsBadMarkersAndOverrunningObus) {
  EXPECT_FALSE(parse_av1_codec_config(Bytes{0x01, 0, 0, 0}));
  auto overrun = parse_av1_codec_config(Bytes{0x81, 0, 0, 0, 0x0A, 0x20, 0x00});
  ASSERT_FALSE(overrun);
  EXPECT_TRUE(contains(overrun.error().message(), "offset 4")) << overrun.error().message();
  EXPECT_FALSE(parse_av1_codec_config(Bytes{0x81, 0, 0, 0, 0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}));
}

TEST(VpCodecConfig, ReadsTheVpccBoxAndTheBareRecord) {
  Bytes box = read_testdata("config/vp9_640x360.vpcc");
  CodecDescription d = parsed(parse_vp_codec_config(Codec::vp9, box));
  EXPECT_EQ(d.profile, 0);
  EXPECT_EQ(d.level, 21);
  EXPECT_EQ(d.bit_depth_luma, 8);
  EXPECT_EQ(rfc6381_codec_string(d), "vp09.00.21.08");
  Bytes bare(box.begin() + 4, box.end());
  EXPECT_EQ(parsed(parse_vp_codec_config(Codec::vp9, bare)).level, 21);
  EXPECT_FALSE(parse_vp_codec_config(Codec::vp9, Bytes{1, 0, 0, 0, 0, 10}));
}

// --- AAC ---

TEST(AacAudioSpecificConfig, ReadsFfmpegConfigs) {
  CodecDescription six = parsed(parse_aac_audio_specific_config(read_testdata("config/aac_lc_48000_6ch.asc")));
  EXPECT_EQ(six.profile, 2);
  EXPECT_EQ(six.sample_rate_hz, 48000u);
  EXPECT_EQ(six.channels, 6);
  EXPECT_EQ(rfc6381_codec_string(six), "mp4a.40.2");
  // ffmpeg appends the backward-compatible sync extension saying "no SBR".
  CodecDescription two = parsed(parse_aac_audio_specific_config(read_testdata("config/aac_lc_22050_2ch.asc")));
  EXPECT_EQ(two.sample_rate_hz, 22050u);
  EXPECT_EQ(two.channels, 2);
  EXPECT_FALSE(two.has_sbr);
}

TEST(AacAudioSpecificConfig, ReadsExplicitHeAacV2) {
  // AOT 29 (PS), 24 kHz core, mono, extension 48 kHz, core AOT 2, GASpecificConfig 000.
  Bytes config = pack_bits({{5, 29}, {4, 6}, {4, 1}, {4, 3}, {5, 2}, {3, 0}});
  CodecDescription d = parsed(parse_aac_audio_specific_config(config));
  EXPECT_EQ(d.profile, 29);
  EXPECT_TRUE(d.has_sbr);
  EXPECT_TRUE(d.has_ps);
  EXPECT_EQ(d.core_sample_rate_hz, 24000u);
  EXPECT_EQ(d.sample_rate_hz, 48000u);
  EXPECT_EQ(d.channels, 2);
  EXPECT_EQ(rfc6381_codec_string(d), "mp4a.40.29");
}

TEST(AacAudioSpecificConfig, ReadsBackwardCompatibleSbrAndPsSignalling) {
  Bytes config = pack_bits({{5, 2}, {4, 6}, {4, 1}, {3, 0}, {11, 0x2B7}, {5, 5}, {1, 1}, {4, 3}, {11, 0x548}, {1, 1}});
  CodecDescription d = parsed(parse_aac_audio_specific_config(config));
  EXPECT_EQ(d.profile, 2);
  EXPECT_TRUE(d.has_sbr);
  EXPECT_TRUE(d.has_ps);
  EXPECT_EQ(d.sample_rate_hz, 48000u);
  EXPECT_EQ(d.core_sample_rate_hz, 24000u);
}

TEST(AacAudioSpecificConfig, ReadsTheObjectTypeEscapeAndAnExplicitRate) {
  // AOT 31 + 6 bits (10) = 42, frequency index 15 + 24-bit 50000 Hz, stereo.
  Bytes config = pack_bits({{5, 31}, {6, 10}, {4, 15}, {24, 50000}, {4, 2}});
  CodecDescription d = parsed(parse_aac_audio_specific_config(config));
  EXPECT_EQ(d.profile, 42);
  EXPECT_EQ(d.sample_rate_hz, 50000u);
  EXPECT_EQ(d.channels, 2);
}

TEST(AacAudioSpecificConfig, RejectsReservedRatesAndShortInput) {
  auto reserved = parse_aac_audio_specific_config(pack_bits({{5, 2}, {4, 13}, {4, 2}, {3, 0}}));
  ASSERT_FALSE(reserved);
  EXPECT_EQ(reserved.error().code(), Errc::malformed);
  EXPECT_FALSE(parse_aac_audio_specific_config(Bytes{0x12}));
  EXPECT_FALSE(parse_aac_audio_specific_config(pack_bits({{5, 31}, {6, 10}, {4, 15}, {3, 0}})));
}

TEST(AacAudioSpecificConfig, ChannelConfigurationZeroLeavesChannelsUnknown) {
  CodecDescription d = parsed(parse_aac_audio_specific_config(pack_bits({{5, 2}, {4, 4}, {4, 0}, {3, 0}})));
  EXPECT_EQ(d.channels, 0);
  EXPECT_EQ(d.sample_rate_hz, 44100u);
}

// --- Opus, FLAC ---

TEST(OpusIdHeader, ReadsChannelsAndInputRate) {
  CodecDescription d = parsed(parse_opus_id_header(read_testdata("config/opus_2ch.opushead")));
  EXPECT_EQ(d.codec, Codec::opus);
  EXPECT_EQ(d.channels, 2);
  EXPECT_EQ(d.sample_rate_hz, 48000u);
  EXPECT_EQ(d.core_sample_rate_hz, 48000u);
  EXPECT_EQ(rfc6381_codec_string(d), "opus");
  EXPECT_EQ(parsed(parse_opus_id_header(Bytes{})).channels, 0);
  Bytes bad = read_testdata("config/opus_2ch.opushead");
  bad[4] = 'X';
  EXPECT_FALSE(parse_opus_id_header(bad));
}

TEST(FlacSequenceHeader, ReadsStreamInfo) {
  Bytes header = read_testdata("config/flac_48000_1ch.flachead");
  CodecDescription d = parsed(parse_flac_sequence_header(header));
  EXPECT_EQ(d.sample_rate_hz, 48000u);
  EXPECT_EQ(d.channels, 1);
  EXPECT_EQ(d.bits_per_sample, 16);
  Bytes without_signature(header.begin() + 4, header.end());
  EXPECT_EQ(parsed(parse_flac_sequence_header(without_signature)).sample_rate_hz, 48000u);
  header.resize(30);
  EXPECT_FALSE(parse_flac_sequence_header(header));
}

// --- dispatch and helpers ---

TEST(SequenceHeader, DecodesTheConfigurationAfterTheTagHeader) {
  Bytes body = {0xAF, 0x00};
  Bytes asc = read_testdata("config/aac_lc_48000_6ch.asc");
  body.insert(body.end(), asc.begin(), asc.end());
  auto info = parse_audio_tag(body);
  ASSERT_TRUE(info);
  CodecDescription d = parsed(parse_sequence_header(*info, body));
  EXPECT_EQ(d.channels, 6);
  auto raw = parse_audio_tag(Bytes{0xAF, 0x01, 0x00});
  ASSERT_TRUE(raw);
  EXPECT_EQ(parse_sequence_header(*raw, Bytes{0xAF, 0x01, 0x00}).error().code(), Errc::unsupported);
  EXPECT_EQ(parse_codec_config(Codec::speex, Bytes{}).error().code(), Errc::unsupported);
}

TEST(CodecString, CoversAudioCodecsWithoutConfigurations) {
  CodecDescription d;
  d.codec = Codec::mp3;
  EXPECT_EQ(rfc6381_codec_string(d), "mp4a.40.34");
  d.codec = Codec::ac3;
  EXPECT_EQ(rfc6381_codec_string(d), "ac-3");
  d.codec = Codec::eac3;
  EXPECT_EQ(rfc6381_codec_string(d), "ec-3");
  d.codec = Codec::speex;
  EXPECT_EQ(rfc6381_codec_string(d), "");
  d.codec = Codec::h264;
  EXPECT_EQ(rfc6381_codec_string(d), "");  // no profile known
}

TEST(AccessUnitScan, FindsAvcIdrAndParameterSets) {
  Bytes idr = {0, 0, 0, 2, 0x67, 0x64, 0, 0, 0, 1, 0x68, 0, 0, 0, 3, 0x65, 0x88, 0x84};
  auto info = scan_access_unit(Codec::h264, idr);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->is_random_access);
  EXPECT_TRUE(info->has_idr);
  EXPECT_TRUE(info->has_parameter_sets);
  EXPECT_EQ(info->nal_count, 3u);
  Bytes inter = {0, 0, 0, 2, 0x09, 0x10, 0, 0, 0, 2, 0x41, 0x9a};
  auto p = scan_access_unit(Codec::h264, inter);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->is_random_access);
  EXPECT_EQ(p->nal_count, 2u);
}

TEST(AccessUnitScan, FindsHevcIrapPictures) {
  Bytes cra = {0, 2, 0x2A, 0x01, 0, 3, 0x40, 0x01, 0x0C};  // 2-byte lengths: CRA (21), VPS (32)
  auto info = scan_access_unit(Codec::hevc, cra, 2);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->is_random_access);
  EXPECT_FALSE(info->has_idr);
  EXPECT_TRUE(info->has_parameter_sets);
  auto idr = scan_access_unit(Codec::hevc, Bytes{0, 0, 0, 2, 0x26, 0x01});  // IDR_W_RADL (19)
  ASSERT_TRUE(idr);
  EXPECT_TRUE(idr->has_idr);
  auto trail = scan_access_unit(Codec::hevc, Bytes{0, 0, 0, 2, 0x02, 0x01});  // TRAIL_R (1)
  ASSERT_TRUE(trail);
  EXPECT_FALSE(trail->is_random_access);
}

TEST(AccessUnitScan, ALengthPastTheEndIsMalformedWithItsOffset) {
  auto info = scan_access_unit(Codec::h264, Bytes{0, 0, 0, 1, 0x09, 0, 0, 0, 9, 0x65});
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), Errc::malformed);
  EXPECT_TRUE(contains(info.error().message(), "offset 5")) << info.error().message();
  EXPECT_FALSE(scan_access_unit(Codec::h264, Bytes{0, 0}));
  EXPECT_EQ(scan_access_unit(Codec::av1, Bytes{}).error().code(), Errc::unsupported);
  EXPECT_EQ(scan_access_unit(Codec::h264, Bytes{}, 5).error().code(), Errc::unsupported);
}

}  // namespace
}  // namespace weir::formats::flv
