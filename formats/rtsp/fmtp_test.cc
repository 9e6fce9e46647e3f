// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/fmtp.h"

#include <gtest/gtest.h>

#include "formats/rtsp/base64.h"

namespace weir::formats::rtsp {
namespace {

Fmtp fmtp_of(std::string_view line) {
  auto sdp = parse_sdp("v=0\r\nm=video 0 RTP/AVP 96\r\na=fmtp:96 " + std::string(line) + "\r\n");
  EXPECT_TRUE(sdp) << line;
  return sdp ? sdp->media[0].fmtps.at(0) : Fmtp{};
}

TEST(H264Parameters, ReadsFfmpegsFmtp) {
  auto h264 = h264_parameters(fmtp_of(
      "packetization-mode=1; sprop-parameter-sets=Z/QADZGbKCg/YCIAAAMAAgAAAwBkHihTLA==,aOvjxEhE; "
      "profile-level-id=F4000D"));
  ASSERT_TRUE(h264) << h264.error().message();
  EXPECT_EQ(h264->packetization_mode, 1);
  EXPECT_EQ(h264->profile_level_id, (std::array<std::uint8_t, 3>{0xF4, 0x00, 0x0D}));
  ASSERT_EQ(h264->sps.size(), 1u);
  ASSERT_EQ(h264->pps.size(), 1u);
  EXPECT_EQ(h264->sps[0][0] & 0x1f, 7);
  EXPECT_EQ(h264->sps[0][1], 0xF4);  // profile_idc 244, High 4:4:4 (testsrc is yuv444p)
  EXPECT_EQ(h264->pps[0][0] & 0x1f, 8);
  EXPECT_TRUE(h264->other.empty());
}

TEST(H264Parameters, DefaultsAbsentParametersAndRefusesBadOnes) {
  auto empty = h264_parameters(fmtp_of("x=1"));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->packetization_mode, 0);
  EXPECT_FALSE(empty->profile_level_id);
  for (const char* line :
       {"packetization-mode=3", "profile-level-id=42c0", "profile-level-id=42c01g",
        "sprop-parameter-sets=Z0LA*A==", "sprop-parameter-sets=,="})
    EXPECT_FALSE(h264_parameters(fmtp_of(line))) << line;
}

TEST(HevcParameters, ReadsFfmpegsFmtp) {
  auto hevc = hevc_parameters(fmtp_of(
      "sprop-vps=QAEMAf//BAgAAAMAmAgAAAMAAD+VmAk=;sprop-sps=QgEBBAgAAAMAmAgAAAMAAD+QAUEB4ilLKzSSZX/"
      "4AAgAC1BgYGBAAAADAEAAAAeC;"
      "sprop-pps=RAHBcrRiQA=="));
  ASSERT_TRUE(hevc) << hevc.error().message();
  ASSERT_EQ(hevc->vps.size(), 1u);
  ASSERT_EQ(hevc->sps.size(), 1u);
  ASSERT_EQ(hevc->pps.size(), 1u);
  EXPECT_EQ(hevc->vps[0][0] >> 1 & 0x3f, 32);
  EXPECT_EQ(hevc->sps[0][0] >> 1 & 0x3f, 33);
  EXPECT_EQ(hevc->pps[0][0] >> 1 & 0x3f, 34);
  EXPECT_EQ(hevc->max_don_diff, 0);
  EXPECT_FALSE(hevc_parameters(fmtp_of("sprop-vps=@@@@")));
}

TEST(AacParameters, ReadsMpeg4Generic) {
  auto aac =
      aac_parameters(fmtp_of("streamtype=5;profile-level-id=2;mode=AAC-hbr;config=120856e500;"
                             "sizelength=13;indexlength=3;indexdeltalength=3"));
  ASSERT_TRUE(aac) << aac.error().message();
  EXPECT_EQ(aac->config, (std::vector<std::uint8_t>{0x12, 0x08, 0x56, 0xe5, 0x00}));
  EXPECT_EQ(aac->mode, "AAC-hbr");
  EXPECT_EQ(aac->size_length, 13);
  EXPECT_EQ(aac->index_length, 3);
  EXPECT_EQ(aac->index_delta_length, 3);
  EXPECT_EQ(aac->stream_type, 5);
  EXPECT_EQ(aac->profile_level_id, 2);
  for (const char* line : {"config=123", "config=12xz", "sizelength=33", "indexlength=-1"})
    EXPECT_FALSE(aac_parameters(fmtp_of(line))) << line;
}

TEST(OpusParameters, ReadsStereoFlags) {
  const OpusParameters mono = opus_parameters(fmtp_of("sprop-stereo=0;sprop-maxcapturerate=48000"));
  EXPECT_FALSE(mono.stereo);
  EXPECT_FALSE(mono.sprop_stereo);
  const OpusParameters both = opus_parameters(fmtp_of("stereo=1; sprop-stereo=1"));
  EXPECT_TRUE(both.stereo);
  EXPECT_TRUE(both.sprop_stereo);
}

TEST(MakeFmtp, BuildsWhatTheReadersReadBack) {
  const NalUnit sps = *base64_decode("Z0LADYyNQKD5APCIRqA=");
  const NalUnit pps = *base64_decode("aM48gA==");
  const Fmtp h264 = make_h264_fmtp(96, std::span(&sps, 1), std::span(&pps, 1));
  EXPECT_EQ(*h264.parameter("profile-level-id"), "42C00D");
  EXPECT_EQ(*h264.parameter("sprop-parameter-sets"), "Z0LADYyNQKD5APCIRqA=,aM48gA==");
  auto h264_back = h264_parameters(h264);
  ASSERT_TRUE(h264_back);
  EXPECT_EQ(h264_back->sps, std::vector<NalUnit>{sps});
  EXPECT_EQ(h264_back->pps, std::vector<NalUnit>{pps});
  EXPECT_EQ(h264_back->packetization_mode, 1);

  const std::vector<std::uint8_t> config = {0x12, 0x10};
  auto aac = aac_parameters(make_aac_fmtp(97, config));
  ASSERT_TRUE(aac);
  EXPECT_EQ(aac->config, config);
  EXPECT_EQ(aac->size_length, 13);
  EXPECT_EQ(aac->mode, "AAC-hbr");

  const NalUnit vps = {0x40, 0x01, 0x0c};
  auto hevc = hevc_parameters(
      make_hevc_fmtp(98, std::span(&vps, 1), std::span(&sps, 1), std::span(&pps, 1)));
  ASSERT_TRUE(hevc);
  EXPECT_EQ(hevc->vps, std::vector<NalUnit>{vps});

  EXPECT_TRUE(opus_parameters(make_opus_fmtp(111, 2)).sprop_stereo);
  EXPECT_FALSE(opus_parameters(make_opus_fmtp(111, 1)).stereo);
}

}  // namespace
}  // namespace weir::formats::rtsp
