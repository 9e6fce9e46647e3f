// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/url.h"

#include <gtest/gtest.h>

namespace weir::formats::rtsp {
namespace {

TEST(ParseUrl, ReadsEveryPart) {
  auto url = parse_url("rtsp://alice:s%40cret@camera.local:8554/live/cam1?token=abc&x=1");
  ASSERT_TRUE(url) << url.error().message();
  EXPECT_EQ(url->scheme, "rtsp");
  EXPECT_TRUE(url->has_userinfo);
  EXPECT_EQ(url->user, "alice");
  EXPECT_EQ(url->password, "s@cret");
  EXPECT_EQ(url->host, "camera.local");
  EXPECT_EQ(url->port, 8554);
  EXPECT_EQ(url->path, "/live/cam1");
  EXPECT_EQ(url->query, "token=abc&x=1");
}

TEST(ParseUrl, DefaultsThePortAndThePath) {
  auto url = parse_url("RTSP://10.0.0.2");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->scheme, "rtsp");
  EXPECT_EQ(url->port, 554);
  EXPECT_EQ(url->path, "/");
  EXPECT_FALSE(url->has_userinfo);
  auto tls = parse_url("rtsps://h:/a/b");
  ASSERT_TRUE(tls);
  EXPECT_EQ(tls->port, 322);
  EXPECT_EQ(format_authority(*tls), "h");
}

TEST(ParseUrl, ReadsIpv6Literals) {
  auto url = parse_url("rtsp://[::1]:8554/live/test");
  ASSERT_TRUE(url);
  EXPECT_TRUE(url->is_ipv6);
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 8554);
  EXPECT_EQ(format_authority(*url), "[::1]:8554");
  auto bare = parse_url("rtsp://[fe80::1%25eth0]/a/b");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->host, "fe80::1%25eth0");
  EXPECT_EQ(bare->port, 554);
}

TEST(ParseUrl, MovesFfmpegsTrackControlFromTheQueryBackOntoThePath) {
  // What ffmpeg sends in SETUP when the URL has a query (testdata/ffmpeg_record_udp.bin).
  auto url = parse_url("rtsp://127.0.0.1:58793/live/x?token=abc%20d/streamid=0");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->path, "/live/x/streamid=0");
  EXPECT_EQ(url->query, "token=abc%20d");
  EXPECT_EQ(query_param(url->query, "token"), "abc d");
  // A '/' in a query that is not followed by a track control stays.
  auto plain = parse_url("rtsp://h/live/x?next=/a/b");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->query, "next=/a/b");
}

TEST(ParseUrl, RefusesWhatIsNotAnRtspUrl) {
  for (const char* text :
       {"http://h/a", "rtsp:/h/a", "rtsp://", "rtsp://:554/a", "rtsp://h:0/a", "rtsp://h:65536/a",
        "rtsp://h:x/a", "rtsp://[::1/a", "rtsp://[::1]x/a", "rtsp://u:%zz@h/a", "*"}) {
    auto url = parse_url(text);
    EXPECT_FALSE(url) << text;
    if (!url) {
      EXPECT_EQ(url.error().code(), Errc::malformed) << text;
    }
  }
}

TEST(SplitStreamPath, NamesTheAggregateWithOrWithoutATrailingSlash) {
  for (const char* path : {"/live/test", "/live/test/", "live/test"}) {
    auto split = split_stream_path(path);
    ASSERT_TRUE(split) << path;
    EXPECT_EQ(split->app, "live");
    EXPECT_EQ(split->name, "test");
    EXPECT_TRUE(split->is_aggregate);
    EXPECT_FALSE(split->track);
  }
}

TEST(SplitStreamPath, ReadsTheTrackControlOfWeirFfmpegAndGStreamer) {
  for (const char* path : {"/live/test/trackID=1", "/live/test/streamid=1", "/live/test/stream=1",
                           "/live/test/TRACKID=1"}) {
    auto split = split_stream_path(path);
    ASSERT_TRUE(split) << path;
    EXPECT_EQ(split->app, "live");
    EXPECT_EQ(split->name, "test");
    EXPECT_FALSE(split->is_aggregate);
    EXPECT_EQ(split->track, 1);
  }
}

TEST(SplitStreamPath, KeepsDeeperNamesAndDecodesThem) {
  auto split = split_stream_path("/live/cam%201/hd/trackID=0");
  ASSERT_TRUE(split);
  EXPECT_EQ(split->app, "live");
  EXPECT_EQ(split->name, "cam 1/hd");
  EXPECT_EQ(split->track, 0);
}

TEST(SplitStreamPath, RefusesAPathWithoutAppAndName) {
  for (const char* path : {"/", "/live", "/live/", "//test", "/trackID=0", "/live/trackID=0",
                           "/live/test/trackID=x", "/live/te%zzst"})
    EXPECT_FALSE(split_stream_path(path)) << path;
}

TEST(PercentDecode, DecodesEscapesAndRefusesBrokenOnes) {
  EXPECT_EQ(*percent_decode("a%20b%2Fc+d"), "a b/c+d");
  EXPECT_FALSE(percent_decode("abc%"));
  EXPECT_FALSE(percent_decode("abc%2"));
  EXPECT_FALSE(percent_decode("%g0"));
}

TEST(QueryParam, FindsTheFirstMatchingKey) {
  EXPECT_EQ(query_param("a=1&token=x%3Dy&token=2", "token"), "x=y");
  EXPECT_EQ(query_param("a=1;flag;b=2", "flag"), "");
  EXPECT_EQ(query_param("a=1", "token"), std::nullopt);
  EXPECT_EQ(query_param("token=%zz", "token"), std::nullopt);
  EXPECT_EQ(query_param("", "token"), std::nullopt);
}

TEST(ResolveControl, FollowsRfc2326AppendixC) {
  EXPECT_EQ(resolve_control("rtsp://h/test/", "stream=0"), "rtsp://h/test/stream=0");
  EXPECT_EQ(resolve_control("rtsp://h/test", "trackID=0"), "rtsp://h/test/trackID=0");
  EXPECT_EQ(resolve_control("rtsp://h/test", "*"), "rtsp://h/test");
  EXPECT_EQ(resolve_control("rtsp://h/test", "rtsp://other/x/track1"), "rtsp://other/x/track1");
}

}  // namespace
}  // namespace weir::formats::rtsp
