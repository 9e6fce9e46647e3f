// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/session_header.h"

#include <gtest/gtest.h>

namespace weir::formats::rtsp {
namespace {

TEST(ParseSession, ReadsTheIdAndTimeout) {
  auto session = parse_session("12345678;timeout=60");
  ASSERT_TRUE(session);
  EXPECT_EQ(session->id, "12345678");
  EXPECT_EQ(session->timeout_s, 60u);
  auto gst = parse_session("3NHugLOV1sD0dE.p");
  ASSERT_TRUE(gst);
  EXPECT_EQ(gst->id, "3NHugLOV1sD0dE.p");
  EXPECT_FALSE(gst->timeout_s);
  auto spaced = parse_session(" abc ; TIMEOUT = 30 ; x=1");
  ASSERT_TRUE(spaced);
  EXPECT_EQ(spaced->id, "abc");
  EXPECT_EQ(spaced->timeout_s, 30u);
}

TEST(ParseSession, RefusesAnEmptyIdOrABadTimeout) {
  for (const char* text :
       {"", ";timeout=60", "a b", "abc;timeout=", "abc;timeout=x", "abc;timeout"})
    EXPECT_FALSE(parse_session(text)) << text;
}

TEST(FormatSession, WritesTheTimeoutOnlyWhenSet) {
  EXPECT_EQ(format_session({"abc", 60}), "abc;timeout=60");
  EXPECT_EQ(format_session({"abc", std::nullopt}), "abc");
}

TEST(ParseRtpInfo, ReadsGStreamersPlayReply) {
  auto info = parse_rtp_info(
      "url=rtsp://127.0.0.1:56269/test/stream=0;seq=14535;rtptime=1917037516, "
      "url=rtsp://127.0.0.1:56269/test/stream=1;seq=17089;rtptime=2671640259");
  ASSERT_TRUE(info) << info.error().message();
  ASSERT_EQ(info->size(), 2u);
  EXPECT_EQ((*info)[0].url, "rtsp://127.0.0.1:56269/test/stream=0");
  EXPECT_EQ((*info)[0].seq, 14535);
  EXPECT_EQ((*info)[0].rtptime, 1917037516u);
  EXPECT_EQ((*info)[1].url, "rtsp://127.0.0.1:56269/test/stream=1");
  EXPECT_EQ((*info)[1].rtptime, 2671640259u);
}

TEST(ParseRtpInfo, ReadsQuotedUrlsAndStreamsWithoutSeq) {
  auto info = parse_rtp_info(
      "url=\"rtsp://h/a,b;c/track1\";ssrc=0A13C760:seq=45102, url=rtsp://h/a/track2");
  ASSERT_TRUE(info);
  ASSERT_EQ(info->size(), 2u);
  EXPECT_EQ((*info)[0].url, "rtsp://h/a,b;c/track1");
  EXPECT_FALSE((*info)[0].seq);
  EXPECT_EQ((*info)[1].url, "rtsp://h/a/track2");
}

TEST(ParseRtpInfo, RefusesAStreamWithoutUrlOrWithABadNumber) {
  for (const char* text :
       {"seq=1", "url=rtsp://h/a;seq=70000", "url=rtsp://h/a;rtptime=-1", "url=\"rtsp://h/a"})
    EXPECT_FALSE(parse_rtp_info(text)) << text;
}

TEST(FormatRtpInfo, WritesWhatParseRtpInfoReads) {
  const std::vector<RtpInfo> streams = {{"rtsp://h/live/test/trackID=0", 100, 90000},
                                        {"rtsp://h/live/test/trackID=1", 7, 48000}};
  const std::string text = format_rtp_info(streams);
  EXPECT_EQ(text,
            "url=rtsp://h/live/test/trackID=0;seq=100;rtptime=90000,url=rtsp://h/live/test/"
            "trackID=1;seq=7;rtptime=48000");
  auto back = parse_rtp_info(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, streams);
}

}  // namespace
}  // namespace weir::formats::rtsp
