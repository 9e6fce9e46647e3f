// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/range.h"

#include <gtest/gtest.h>

namespace weir::formats::rtsp {
namespace {

using std::chrono::microseconds;

TEST(ParseRange, ReadsOpenAndClosedNptRanges) {
  auto from = parse_range("npt=10.5-");
  ASSERT_TRUE(from);
  EXPECT_FALSE(from->is_now);
  EXPECT_EQ(from->start, microseconds(10'500'000));
  EXPECT_FALSE(from->end);
  auto closed = parse_range("npt=0-30");
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->start, microseconds(0));
  EXPECT_EQ(closed->end, microseconds(30'000'000));
  auto ffmpeg = parse_range("npt=0.000-");  // what ffmpeg sends with PLAY and RECORD
  ASSERT_TRUE(ffmpeg);
  EXPECT_EQ(ffmpeg->start, microseconds(0));
  auto until = parse_range("npt=-20");
  ASSERT_TRUE(until);
  EXPECT_FALSE(until->start);
  EXPECT_EQ(until->end, microseconds(20'000'000));
}

TEST(ParseRange, ReadsNowAndHoursMinutesSeconds) {
  auto now = parse_range("npt=now-");
  ASSERT_TRUE(now);
  EXPECT_TRUE(now->is_now);
  EXPECT_FALSE(now->start);
  auto clock = parse_range("npt = 1:02:03.25-2:00:00;time=19970123T143720Z");
  ASSERT_TRUE(clock);
  EXPECT_EQ(clock->start, microseconds(3723'250'000));
  EXPECT_EQ(clock->end, microseconds(7200'000'000));
  auto short_fields = parse_range("npt=0:1:2-");
  ASSERT_TRUE(short_fields);
  EXPECT_EQ(short_fields->start, microseconds(62'000'000));
}

TEST(ParseRange, RecognisesSmpteAndClockAsUnsupported) {
  for (const char* text :
       {"smpte=10:07:00-10:07:33:05.01", "smpte-25=0:0:0-", "clock=19961108T142300Z-"}) {
    auto range = parse_range(text);
    ASSERT_FALSE(range) << text;
    EXPECT_EQ(range.error().code(), Errc::unsupported) << text;
  }
}

TEST(ParseRange, RefusesWhatIsNotAnNptRange) {
  for (const char* text :
       {"", "npt", "npt=", "npt=10", "npt=-", "npt=a-", "npt=1:60:00-", "npt=1:00:60-", "npt=1:00-",
        "npt=30-10", "npt=1.2.3-", "bytes=0-10", "npt=1:00:001-"})
    EXPECT_FALSE(parse_range(text)) << text;
}

TEST(FormatRange, WritesSecondsWithMilliseconds) {
  EXPECT_EQ(format_range({true, std::nullopt, std::nullopt}), "npt=now-");
  EXPECT_EQ(format_range({false, microseconds(10'500'000), std::nullopt}), "npt=10.500-");
  EXPECT_EQ(format_range({false, microseconds(0), microseconds(30'000'000)}), "npt=0.000-30.000");
  auto back = parse_range(format_range({false, microseconds(1'234'000), microseconds(5'678'000)}));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->start, microseconds(1'234'000));
  EXPECT_EQ(back->end, microseconds(5'678'000));
}

}  // namespace
}  // namespace weir::formats::rtsp
