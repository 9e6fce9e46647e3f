// SPDX-License-Identifier: Apache-2.0
// The sampler's arithmetic and the two text formats, without a server (the integration tests
// in tests/integration/stats_test.py check the same figures against real streams).
#include <gtest/gtest.h>

#include "figures.h"

namespace weir::stats {
namespace {

using std::chrono::milliseconds;

StatsSnapshot counters(double received, double sent, std::uint64_t open = 0) {
  StatsSnapshot s;
  s.values.push_back(StatValue{"weir_received_bytes_total", "Bytes received", false, received});
  s.values.push_back(StatValue{"weir_sent_bytes_total", "Bytes sent", false, sent});
  s.values.push_back(StatValue{"weir_connections_opened_total{listener=\"rtmp\"}", "Connections accepted", false, 5});
  s.values.push_back(StatValue{"weir_connections_closed_total{listener=\"rtmp\"}", "Connections closed", false, 2});
  s.values.push_back(StatValue{"weir_connections_refused_total{listener=\"rtmp\"}", "Connections refused", false, 1});
  s.values.push_back(StatValue{"weir_accept_pauses_total{listener=\"rtmp\"}", "Accept pauses", false, 2});
  s.connections_open = open;
  return s;
}

StreamStats stream(const std::string& name, Clock::time_point published_at, std::uint64_t video_bytes,
                   std::uint64_t video_frames, std::int64_t video_last_ms, std::uint64_t audio_bytes,
                   std::int64_t audio_last_ms) {
  StreamStats s;
  s.key = StreamKey{"live", name};
  s.is_published = true;
  s.published_at = published_at;
  s.video.codec = Codec::h264;
  s.video.bytes = video_bytes;
  s.video.frames = video_frames;
  s.video.first_dts_ms = 0;
  s.video.last_dts_ms = video_last_ms;
  s.audio.codec = Codec::aac;
  s.audio.bytes = audio_bytes;
  s.audio.frames = 1;
  s.audio.first_dts_ms = 0;
  s.audio.last_dts_ms = audio_last_ms;
  s.players = 2;
  s.players_by_protocol = {{"rtmp", 2}};
  return s;
}

std::vector<StreamStats> one(StreamStats s) {
  std::vector<StreamStats> v;
  v.push_back(std::move(s));
  return v;
}

TEST(Sampler, RatesAreMeasuredInMediaTimeAgainstTheOldestSampleOfTheWindow) {
  StatsConfig config;
  config.rate_window = milliseconds(2000);
  const Clock::time_point t0{};
  Sampler sampler(config, t0);
  const Clock::time_point published = t0;
  // A young stream: measured from its first frame. 25 frames over 960 ms of video, 125000 bytes.
  auto f = sampler.add(t0 + milliseconds(1000), 2, counters(1000, 2000), one(stream("a", published, 125000, 25, 960, 8000, 1000)),
                       ProcessFigures{1.0, 1 << 20});
  ASSERT_EQ(f->streams.size(), 1u);
  EXPECT_NEAR(f->streams[0].frame_rate, 24.0 / 0.96, 1e-9);
  EXPECT_NEAR(f->streams[0].video_bitrate_bps, 125000 * 8 / 0.96, 1e-6);
  EXPECT_NEAR(f->streams[0].audio_bitrate_bps, 8000 * 8 / 1.0, 1e-6);
  // A second later: 30 more frames in 1000 ms of media time, 150000 more bytes; the arrival time
  // (wall clock) is irrelevant.
  f = sampler.add(t0 + milliseconds(2000), 2, counters(3000, 6000), one(stream("a", published, 275000, 55, 1960, 16000, 2000)),
                  ProcessFigures{1.5, 1 << 20});
  EXPECT_NEAR(f->streams[0].frame_rate, 30.0, 1e-9);
  EXPECT_NEAR(f->streams[0].video_bitrate_bps, 150000 * 8.0, 1e-6);
  EXPECT_NEAR(f->streams[0].bitrate_bps, 150000 * 8.0 + 8000 * 8.0, 1e-6);
  EXPECT_NEAR(f->received_bytes_per_second, 2000, 1e-9);
  EXPECT_NEAR(f->sent_bytes_per_second, 4000, 1e-9);
  EXPECT_NEAR(f->cpu_percent, 50, 1e-9);
  EXPECT_EQ(f->streams[0].bitrate_history.size(), 2u);
  EXPECT_EQ(f->streams[0].players_history, (std::vector<double>{2, 2}));
}

TEST(Sampler, ARepublishedStreamIsNotMeasuredAgainstTheOldPublication) {
  Sampler sampler(StatsConfig{}, Clock::time_point{});
  const Clock::time_point first{}, second = first + milliseconds(1500);
  (void)sampler.add(first + milliseconds(1000), 1, counters(0, 0), one(stream("a", first, 900000, 90, 3000, 0, 0)), {});
  // The new publication's totals restart: measuring against the old ones would give nonsense.
  auto f = sampler.add(first + milliseconds(2000), 1, counters(0, 0), one(stream("a", second, 10000, 11, 500, 0, 0)), {});
  EXPECT_NEAR(f->streams[0].frame_rate, 10 / 0.5, 1e-9);
  EXPECT_NEAR(f->streams[0].video_bitrate_bps, 10000 * 8 / 0.5, 1e-6);
}

StreamStats delivered(std::uint64_t bytes_sent, std::uint64_t frames_dropped) {
  StreamStats s = stream("a", Clock::time_point{}, 0, 0, 0, 0, 0);
  s.delivered.bytes_sent = bytes_sent;
  s.delivered.frames_dropped = frames_dropped;
  return s;
}

TEST(Sampler, BitrateOutIsBytesSentPerWallSecondAndRestartsWhenTheCountFalls) {
  StatsConfig config;
  config.rate_window = milliseconds(2000);
  Sampler sampler(config, Clock::time_point{});
  const Clock::time_point t0{};
  auto f = sampler.add(t0 + milliseconds(1000), 1, counters(0, 0), one(delivered(1000, 0)), {});
  EXPECT_EQ(f->streams[0].bitrate_out_bps, 0);  // one sample: no rate yet
  f = sampler.add(t0 + milliseconds(1500), 1, counters(0, 0), one(delivered(6000, 2)), {});
  EXPECT_NEAR(f->streams[0].bitrate_out_bps, 5000 * 8 / 0.5, 1e-6);
  f = sampler.add(t0 + milliseconds(2500), 1, counters(0, 0), one(delivered(16000, 2)), {});
  EXPECT_NEAR(f->streams[0].bitrate_out_bps, 15000 * 8 / 1.5, 1e-6);
  // A group's part went back to 0 (its last player left): the older samples are not a base, the
  // rate starts again from this one.
  f = sampler.add(t0 + milliseconds(3500), 1, counters(0, 0), one(delivered(6500, 2)), {});
  EXPECT_EQ(f->streams[0].bitrate_out_bps, 0);
  f = sampler.add(t0 + milliseconds(4500), 1, counters(0, 0), one(delivered(8500, 2)), {});
  EXPECT_NEAR(f->streams[0].bitrate_out_bps, 2000 * 8 / 1.0, 1e-6);
  Value v = stream_value(f->streams[0], f->taken_at, false);
  EXPECT_EQ(v.find("bytes_out")->as_number(), 8500);
  EXPECT_EQ(v.find("frames_dropped")->as_number(), 2);
  std::string text = to_prometheus(*f);
  EXPECT_NE(text.find("weir_stream_sent_bytes_per_second{app=\"live\",name=\"a\"} 2000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("weir_stream_frames_dropped_total{app=\"live\",name=\"a\"} 2\n"), std::string::npos) << text;
}

TEST(Sampler, LimitsMakeARefusalNamingTheFigureAndTheLimit) {
  StatsConfig config;
  config.max_connections = 3;
  Sampler sampler(config, Clock::time_point{});
  auto f = sampler.add(Clock::time_point{} + milliseconds(1000), 1, counters(0, 0, 2), {}, {});
  EXPECT_EQ(f->refusal, "");
  f = sampler.add(Clock::time_point{} + milliseconds(2000), 1, counters(0, 0, 3), {}, {});
  EXPECT_EQ(f->refusal, "server busy: 3 connections open, the limit is 3");
  EXPECT_EQ(server_value(*f).find("accepting")->as_bool(true), false);
}

TEST(Render, PrometheusEscapesLabelsAndDeclaresEachFamilyOnce) {
  Sampler sampler(StatsConfig{}, Clock::time_point{});
  auto f = sampler.add(Clock::time_point{} + milliseconds(1000), 1, counters(10, 20),
                       one(stream("a\"b\\c\nd", Clock::time_point{}, 1000, 2, 40, 0, 0)), {});
  std::string text = to_prometheus(*f);
  EXPECT_NE(text.find("weir_stream_players{app=\"live\",name=\"a\\\"b\\\\c\\nd\",protocol=\"rtmp\"} 2\n"), std::string::npos)
      << text;
  std::size_t first = text.find("# TYPE weir_connections_opened_total counter");
  ASSERT_NE(first, std::string::npos) << text;
  EXPECT_EQ(text.find("# TYPE weir_connections_opened_total", first + 1), std::string::npos);
  EXPECT_NE(text.find("weir_received_bytes_total 10\n"), std::string::npos) << text;
}

TEST(Render, JsonWritesWholeNumbersWithoutAFractionAndEscapesStrings) {
  Value v = Value::object();
  v.set("n", 3.0);
  v.set("x", 0.5);
  v.set("s", "a\"b");
  v.set("list", Value::array({Value(1), Value(nullptr), Value(true)}));
  EXPECT_EQ(to_json(v), R"({"n":3,"x":0.5,"s":"a\"b","list":[1,null,true]})");
}

TEST(Render, ServerValueCountsOpenConnectionsPerListener) {
  Sampler sampler(StatsConfig{}, Clock::time_point{});
  auto f = sampler.add(Clock::time_point{} + milliseconds(1000), 1, counters(0, 0), {}, {});
  Value v = server_value(*f);
  const Value* rtmp = v.find("connections")->find("by_listener")->find("rtmp");
  ASSERT_NE(rtmp, nullptr);
  EXPECT_EQ(rtmp->find("open")->as_number(), 3);
  EXPECT_EQ(rtmp->find("total")->as_number(), 5);
  EXPECT_EQ(rtmp->find("refused")->as_number(), 1);
  EXPECT_EQ(rtmp->find("accept_pauses")->as_number(), 2);
}

}  // namespace
}  // namespace weir::stats
