// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/sdp.h"

#include <gtest/gtest.h>

namespace weir::formats::rtsp {
namespace {

// The SDP ffmpeg 5.1 announces for libx264 + aac (testdata/ffmpeg_record_tcp.bin), LF endings
// replaced by CRLF as sent.
constexpr std::string_view kFfmpegSdp =
    "v=0\r\n"
    "o=- 0 0 IN IP4 127.0.0.1\r\n"
    "s=No Name\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "a=tool:libavformat LIBAVFORMAT_VERSION\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1; "
    "sprop-parameter-sets=Z/QADZGbKCg/YCIAAAMAAgAAAwBkHihTLA==,aOvjxEhE; "
    "profile-level-id=F4000D\r\n"
    "a=control:streamid=0\r\n"
    "m=audio 0 RTP/AVP 97\r\n"
    "b=AS:69\r\n"
    "a=rtpmap:97 MPEG4-GENERIC/48000/1\r\n"
    "a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; "
    "config=118856E500\r\n"
    "a=control:streamid=1\r\n";

TEST(ParseSdp, ReadsFfmpegsAnnounce) {
  auto sdp = parse_sdp(kFfmpegSdp);
  ASSERT_TRUE(sdp) << sdp.error().message();
  EXPECT_EQ(sdp->origin.address, "127.0.0.1");
  EXPECT_EQ(sdp->name, "No Name");
  ASSERT_TRUE(sdp->connection);
  EXPECT_EQ(sdp->connection->address, "127.0.0.1");
  EXPECT_EQ(sdp->timings, std::vector<std::string>{"0 0"});
  ASSERT_EQ(sdp->attributes.size(), 1u);
  EXPECT_EQ(sdp->attributes[0].name, "tool");
  EXPECT_EQ(sdp->attributes[0].value, "libavformat LIBAVFORMAT_VERSION");
  ASSERT_EQ(sdp->media.size(), 2u);
  const SdpMedia& video = sdp->media[0];
  EXPECT_EQ(video.type, "video");
  EXPECT_EQ(video.port, 0);
  EXPECT_EQ(video.protocol, "RTP/AVP");
  EXPECT_EQ(video.formats, std::vector<std::string>{"96"});
  EXPECT_EQ(video.first_payload_type(), 96);
  EXPECT_EQ(video.control, "streamid=0");
  ASSERT_NE(video.rtpmap(96), nullptr);
  EXPECT_EQ(video.rtpmap(96)->encoding, "H264");
  EXPECT_EQ(video.rtpmap(96)->clock_rate, 90000u);
  ASSERT_NE(video.fmtp(96), nullptr);
  EXPECT_EQ(*video.fmtp(96)->parameter("packetization-mode"), "1");
  EXPECT_EQ(*video.fmtp(96)->parameter("PROFILE-LEVEL-ID"), "F4000D");
  EXPECT_EQ(*video.fmtp(96)->parameter("sprop-parameter-sets"),
            "Z/QADZGbKCg/YCIAAAMAAgAAAwBkHihTLA==,aOvjxEhE");
  const SdpMedia& audio = sdp->media[1];
  ASSERT_EQ(audio.bandwidths.size(), 1u);
  EXPECT_EQ(audio.bandwidths[0], (SdpBandwidth{"AS", 69}));
  EXPECT_EQ(audio.rtpmap(97)->encoding, "MPEG4-GENERIC");
  EXPECT_EQ(audio.rtpmap(97)->clock_rate, 48000u);
  EXPECT_EQ(audio.rtpmap(97)->channels, 1);
  EXPECT_EQ(*audio.fmtp(97)->parameter("config"), "118856E500");
  EXPECT_EQ(audio.fmtp(96), nullptr);
}

TEST(ParseSdp, ReadsSessionControlRangeAndMediaConnections) {
  auto sdp = parse_sdp(
      "v=0\n"
      "o=- 17837051532462520208 1 IN IP4 127.0.0.1\n"
      "s=Session streamed with GStreamer\n"
      "i=rtsp-server\n"
      "t=0 0\n"
      "a=tool:GStreamer\n"
      "a=type:broadcast\n"
      "a=control:*\n"
      "a=range:npt=now-\n"
      "m=video 0 RTP/AVP 96\n"
      "c=IN IP4 0.0.0.0\n"
      "a=rtpmap:96 H264/90000\n"
      "a=framerate:30\n"
      "a=control:stream=0\n"
      "a=recvonly\n");
  ASSERT_TRUE(sdp);
  EXPECT_EQ(sdp->origin.session_id, "17837051532462520208");
  EXPECT_EQ(sdp->info, "rtsp-server");
  EXPECT_EQ(sdp->control, "*");
  EXPECT_EQ(sdp->range, "npt=now-");
  EXPECT_EQ(sdp->attributes.size(), 2u);
  const SdpMedia& video = sdp->media[0];
  ASSERT_TRUE(video.connection);
  EXPECT_EQ(video.connection->address, "0.0.0.0");
  EXPECT_EQ(video.control, "stream=0");
  ASSERT_NE(video.attribute("framerate"), nullptr);
  EXPECT_EQ(*video.attribute("framerate"), "30");
  ASSERT_EQ(video.attributes.size(), 2u);
  EXPECT_EQ(video.attributes[1].name, "recvonly");
  EXPECT_FALSE(video.attributes[1].has_value);
}

TEST(ParseSdp, IsLenientWhereCamerasAreSloppy) {
  // No s= or t=, blank lines, trailing spaces, an rtpmap without clock rate, a short o=, a port
  // count, extra spaces between m= fields, a media-level k= line.
  auto sdp = parse_sdp(
      "v=0\r\n\r\n"
      "o=- 1\r\n"
      "m=video  5004/2  RTP/AVP  96 97 \r\n"
      "a=rtpmap:96 H264\r\n"
      "a=fmtp:96\r\n"
      "k=clear:x\r\n"
      "e=someone@example.com\r\n");
  ASSERT_TRUE(sdp) << sdp.error().message();
  EXPECT_EQ(sdp->origin.session_id, "1");
  EXPECT_EQ(sdp->name, "-");
  EXPECT_EQ(sdp->timings, std::vector<std::string>{"0 0"});
  const SdpMedia& video = sdp->media[0];
  EXPECT_EQ(video.port, 5004);
  EXPECT_EQ(video.port_count, 2);
  EXPECT_EQ(video.formats, (std::vector<std::string>{"96", "97"}));
  EXPECT_EQ(video.rtpmap(96)->clock_rate, 0u);
  ASSERT_NE(video.fmtp(96), nullptr);
  EXPECT_TRUE(video.fmtp(96)->parameters.empty());
}

TEST(ParseSdp, RefusesBrokenLinesNamingTheLineNumber) {
  struct Case {
    const char* text;
    const char* where;
  };
  for (const Case& c :
       {Case{"", "no v="}, Case{"s=x\r\nv=0\r\n", "line 1"}, Case{"v=1\r\n", "line 1"},
        Case{"v=0\r\nhello\r\n", "line 2"}, Case{"v=0\r\nm=video\r\n", "line 2"},
        Case{"v=0\r\nm=video x RTP/AVP 96\r\n", "line 2"},
        Case{"v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:xx H264/90000\r\n", "line 3"},
        Case{"v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/fast\r\n", "line 3"},
        Case{"v=0\r\nm=video 0 RTP/AVP 96\r\na=fmtp:200 a=b\r\n", "line 3"},
        Case{"v=0\r\nb=AS:lots\r\n", "line 2"}, Case{"v=0\r\nc=IN IP4\r\n", "line 2"},
        Case{"v=0\r\nX=y\r\n", "line 2"}}) {
    auto sdp = parse_sdp(c.text);
    ASSERT_FALSE(sdp) << c.text;
    EXPECT_EQ(sdp.error().code(), Errc::malformed) << c.text;
    EXPECT_NE(sdp.error().message().find(c.where), std::string::npos) << sdp.error().message();
  }
}

TEST(ParseSdp, RefusesTooMuch) {
  SdpLimits limits;
  limits.max_media = 2;
  std::string text = "v=0\r\n";
  for (int i = 0; i < 3; ++i) text += "m=audio 0 RTP/AVP 0\r\n";
  auto sdp = parse_sdp(text, limits);
  ASSERT_FALSE(sdp);
  EXPECT_EQ(sdp.error().code(), Errc::limit);
  limits.max_bytes = 10;
  EXPECT_EQ(parse_sdp(text, limits).error().code(), Errc::limit);
}

TEST(WriteSdp, WritesADescribeAnswer) {
  SessionDescription sdp;
  sdp.origin.session_id = "1234";
  sdp.name = "live/test";
  sdp.connection = SdpConnection{"IN", "IP4", "0.0.0.0"};
  sdp.control = "*";
  sdp.range = "npt=now-";
  SdpMedia video;
  video.type = "video";
  video.formats = {"96"};
  video.rtpmaps.push_back({96, "H264", 90000, 0});
  Fmtp fmtp;
  fmtp.payload_type = 96;
  fmtp.set("packetization-mode", "1");
  fmtp.set("profile-level-id", "42C01E");
  video.fmtps.push_back(fmtp);
  video.control = "trackID=0";
  sdp.media.push_back(video);
  SdpMedia audio;
  audio.type = "audio";
  audio.formats = {"97"};
  audio.rtpmaps.push_back({97, "MPEG4-GENERIC", 44100, 2});
  audio.control = "trackID=1";
  audio.attributes.push_back({"sendonly", "", false});
  sdp.media.push_back(audio);
  EXPECT_EQ(write_sdp(sdp),
            "v=0\r\n"
            "o=- 1234 0 IN IP4 127.0.0.1\r\n"
            "s=live/test\r\n"
            "c=IN IP4 0.0.0.0\r\n"
            "t=0 0\r\n"
            "a=control:*\r\n"
            "a=range:npt=now-\r\n"
            "m=video 0 RTP/AVP 96\r\n"
            "a=rtpmap:96 H264/90000\r\n"
            "a=fmtp:96 packetization-mode=1;profile-level-id=42C01E\r\n"
            "a=control:trackID=0\r\n"
            "m=audio 0 RTP/AVP 97\r\n"
            "a=rtpmap:97 MPEG4-GENERIC/44100/2\r\n"
            "a=control:trackID=1\r\n"
            "a=sendonly\r\n");
  auto back = parse_sdp(write_sdp(sdp));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, sdp);
}

TEST(WriteSdp, RoundTripsFfmpegsAnnounce) {
  auto sdp = parse_sdp(kFfmpegSdp);
  ASSERT_TRUE(sdp);
  auto again = parse_sdp(write_sdp(*sdp));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *sdp);
}

}  // namespace
}  // namespace weir::formats::rtsp
