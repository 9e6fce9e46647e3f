// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/rtp_clock.h"

#include <gtest/gtest.h>

namespace weir::formats::rtp {
namespace {

TEST(RtpClock, MapsMillisecondsToTheClockFromARandomBaseAndWraps) {
  RtpClock video(kVideoClockRate, 0xffffff00u);
  EXPECT_EQ(video.to_rtp(0), 0xffffff00u);
  EXPECT_EQ(video.to_rtp(40), 0xffffff00u + 3600u);  // wrapped
  EXPECT_EQ(video.to_rtp(1000), 0xffffff00u + 90000u);
  RtpClock audio(44100, 0);
  EXPECT_EQ(audio.to_rtp(23), 1014u);  // 1014.3 rounded
  EXPECT_EQ(audio.to_rtp(1000), 44100u);
}

TEST(RtpClock, AdvancesAudioByExactlyOneFrameWhenTheMillisecondsSaySo) {
  RtpClock clock(44100, 5000);
  // FLV times of consecutive 1024-sample frames at 44.1 kHz (23.22 ms each), rounded to ms.
  const int ms[] = {0, 23, 46, 70, 93, 116, 139, 163, 186, 209};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(clock.to_rtp_frame(ms[i], 1024), 5000u + 1024u * i) << i;
  // A gap (a dropped frame) re-anchors on the milliseconds.
  EXPECT_EQ(clock.to_rtp_frame(1000, 1024), clock.to_rtp(1000));
  EXPECT_EQ(clock.to_rtp_frame(1023, 1024), clock.to_rtp(1000) + 1024);
}

TEST(RtpClock, ReanchorsWhenExactStepsDriftFromTheMilliseconds) {
  RtpClock clock(48000, 0);
  // 21.333 ms frames stamped 21 ms apart (truncated): within 1 ms each time, but drifting 1/3 ms a
  // frame; exact steps stop once the drift passes 2 ms, so the clock follows the publisher.
  std::uint32_t last = 0;
  for (int i = 0; i < 100; ++i) last = clock.to_rtp_frame(i * 21, 1024);
  EXPECT_LE(last > clock.to_rtp(99 * 21) ? last - clock.to_rtp(99 * 21) : clock.to_rtp(99 * 21) - last, 2u * 48);
}

TEST(RtpTimeline, ExtendsAcrossTheWrapAndMapsBackToMilliseconds) {
  RtpTimeline timeline(kVideoClockRate);
  EXPECT_EQ(timeline.to_ms(0xfffff000u), 0);
  EXPECT_EQ(timeline.extend(0x00001000u), 0x100001000ll);
  EXPECT_EQ(timeline.to_ms(0xfffff000u + 90000u), 1000);
  EXPECT_EQ(timeline.to_ms(0xfffff000u - 9000u), -100);  // a B-frame's earlier pts
  RtpTimeline audio(48000);
  EXPECT_EQ(audio.to_ms(100), 0);
  EXPECT_EQ(audio.to_ms(100 + 1024), 21);
}

}  // namespace
}  // namespace weir::formats::rtp
