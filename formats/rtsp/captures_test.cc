// SPDX-License-Identifier: Apache-2.0
// The bytes ffmpeg 5.1 and GStreamer 1.22 wrote on real RTSP connections (testdata/generate.sh),
// read through every parser of this folder.
#include <gtest/gtest.h>

#include "formats/rtsp/auth.h"
#include "formats/rtsp/fmtp.h"
#include "formats/rtsp/message.h"
#include "formats/rtsp/range.h"
#include "formats/rtsp/sdp.h"
#include "formats/rtsp/session_header.h"
#include "formats/rtsp/test_files.h"
#include "formats/rtsp/transport.h"
#include "formats/rtsp/url.h"

namespace weir::formats::rtsp {
namespace {

using test_support::OwnedItem;
using test_support::read_all;
using test_support::read_capture;
using test_support::requests_of;
using test_support::responses_of;

constexpr const char* kCaptures[] = {
    "ffmpeg_record_tcp.bin",    "ffmpeg_record_udp.bin",    "ffmpeg_record_hevc_opus.bin",
    "ffmpeg_record_digest.bin", "ffmpeg_record_basic.bin",  "gst_record_tcp.bin",
    "ffmpeg_play_tcp_h264.bin", "ffmpeg_play_udp_h264.bin", "ffmpeg_play_tcp_h265.bin",
    "ffmpeg_play_udp_h265.bin", "gst_server_tcp_h264.bin",  "gst_server_udp_h264.bin",
    "gst_server_tcp_h265.bin",  "gst_server_udp_h265.bin"};

std::vector<TransportSpec> transport_of(const Request& request) {
  const std::string* value = request.header("Transport");
  EXPECT_NE(value, nullptr) << request.method;
  if (value == nullptr) return {};
  auto specs = parse_transport(*value);
  EXPECT_TRUE(specs) << specs.error().message();
  return specs ? *specs : std::vector<TransportSpec>{};
}

SessionDescription sdp_of(const std::string& body) {
  auto sdp = parse_sdp(body);
  EXPECT_TRUE(sdp) << sdp.error().message();
  return sdp ? *sdp : SessionDescription{};
}

TEST(Captures, ReadTheSameWhereverTheyAreCut) {
  for (const char* name : kCaptures) {
    const auto bytes = read_capture(name);
    Status status;
    const auto whole = read_all(bytes, 0, &status);
    EXPECT_TRUE(status.is_ok()) << name << ": " << status.message();
    EXPECT_GE(whole.size(), 5u) << name;
    for (std::size_t step : {1, 2, 3, 7, 64, 1000, 1460, 4096}) {
      const auto cut = read_all(bytes, step);
      ASSERT_EQ(cut.size(), whole.size()) << name << " step " << step;
      for (std::size_t i = 0; i < cut.size(); ++i) {
        EXPECT_EQ(cut[i].kind, whole[i].kind);
        EXPECT_EQ(cut[i].channel, whole[i].channel);
        EXPECT_EQ(cut[i].payload, whole[i].payload);
        EXPECT_EQ(cut[i].request.headers, whole[i].request.headers);
        EXPECT_EQ(cut[i].response.body, whole[i].response.body);
      }
    }
  }
}

TEST(Captures, FfmpegPublishesOverTcp) {
  const auto items = read_all(read_capture("ffmpeg_record_tcp.bin"));
  const auto requests = requests_of(items);
  ASSERT_EQ(requests.size(), 5u);
  const char* methods[] = {"OPTIONS", "ANNOUNCE", "SETUP", "SETUP", "RECORD"};
  for (std::size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(requests[i].method, methods[i]);
    EXPECT_EQ(cseq(requests[i]), i + 1);
  }
  EXPECT_EQ(*requests[1].header("Content-Type"), "application/sdp");
  const SessionDescription sdp = sdp_of(requests[1].body);
  ASSERT_EQ(sdp.media.size(), 2u);
  EXPECT_EQ(sdp.media[0].control, "streamid=0");
  EXPECT_EQ(sdp.media[1].rtpmap(97)->encoding, "MPEG4-GENERIC");
  auto aac = aac_parameters(*sdp.media[1].fmtp(97));
  ASSERT_TRUE(aac);
  EXPECT_EQ(aac->config, (std::vector<std::uint8_t>{0x11, 0x88, 0x56, 0xE5, 0x00}));

  for (int track = 0; track < 2; ++track) {
    const Request& setup = requests[2 + static_cast<std::size_t>(track)];
    auto url = parse_url(setup.uri);
    ASSERT_TRUE(url);
    auto path = split_stream_path(url->path);
    ASSERT_TRUE(path);
    EXPECT_EQ(path->app, "live");
    EXPECT_EQ(path->name, "x");
    EXPECT_EQ(path->track, track);
    const auto specs = transport_of(setup);
    ASSERT_EQ(specs.size(), 1u);
    EXPECT_EQ(specs[0].lower, LowerTransport::tcp);
    EXPECT_EQ(specs[0].interleaved, (PortRange{static_cast<std::uint16_t>(2 * track),
                                               static_cast<std::uint16_t>(2 * track + 1)}));
    EXPECT_EQ(specs[0].mode, TransportMode::record);
  }
  auto session = parse_session(*requests[3].header("Session"));
  ASSERT_TRUE(session);
  EXPECT_EQ(session->id, "12345678");

  std::size_t frames = 0;
  for (const OwnedItem& item : items) {
    if (item.kind != ItemKind::interleaved) continue;
    ++frames;
    EXPECT_LE(item.channel, 3);
    ASSERT_GE(item.payload.size(), 8u);
    EXPECT_EQ(item.payload[0] >> 6, 2);  // RTP and RTCP version 2
  }
  EXPECT_GE(frames, 10u);
}

TEST(Captures, FfmpegPublishesOverUdpWithATokenInTheQuery) {
  const auto requests = requests_of(read_all(read_capture("ffmpeg_record_udp.bin")));
  ASSERT_EQ(requests.size(), 6u);
  for (int track = 0; track < 2; ++track) {
    const Request& setup = requests[2 + static_cast<std::size_t>(track)];
    EXPECT_NE(setup.uri.find("?token=abc%20d/streamid="), std::string::npos);
    auto url = parse_url(setup.uri);
    ASSERT_TRUE(url);
    EXPECT_EQ(query_param(url->query, "token"), "abc d");
    auto path = split_stream_path(url->path);
    ASSERT_TRUE(path);
    EXPECT_EQ(path->name, "x");
    EXPECT_EQ(path->track, track);
    const auto specs = transport_of(setup);
    ASSERT_EQ(specs.size(), 1u);
    EXPECT_EQ(specs[0].lower, LowerTransport::udp);
    ASSERT_TRUE(specs[0].client_port);
    EXPECT_EQ(specs[0].client_port->last, specs[0].client_port->first + 1);
  }
  EXPECT_EQ(requests[4].method, "RECORD");
  auto range = parse_range(*requests[4].header("Range"));
  ASSERT_TRUE(range);
  EXPECT_EQ(range->start, std::chrono::microseconds(0));
  EXPECT_EQ(requests[5].method, "TEARDOWN");
}

TEST(Captures, FfmpegAnswersADigestChallengeOnEveryRequest) {
  const auto requests = requests_of(read_all(read_capture("ffmpeg_record_digest.bin")));
  ASSERT_GE(requests.size(), 5u);
  EXPECT_EQ(requests[0].header("Authorization"), nullptr);  // before the 401
  std::size_t checked = 0;
  for (const Request& request : requests) {
    const std::string* value = request.header("Authorization");
    if (value == nullptr) continue;
    auto auth = parse_authorization(*value);
    ASSERT_TRUE(auth) << auth.error().message();
    ASSERT_EQ(auth->scheme, AuthScheme::digest);
    EXPECT_EQ(auth->digest.username, "alice");
    EXPECT_EQ(auth->digest.realm, "weir-capture");
    EXPECT_EQ(auth->digest.uri, request.uri);
    EXPECT_TRUE(digest_matches(auth->digest, request.method, "secret")) << request.method;
    EXPECT_FALSE(digest_matches(auth->digest, request.method, "Secret"));
    ++checked;
  }
  EXPECT_GE(checked, 4u);
}

TEST(Captures, FfmpegSendsBasicCredentialsPercentDecoded) {
  const auto requests = requests_of(read_all(read_capture("ffmpeg_record_basic.bin")));
  ASSERT_GE(requests.size(), 2u);
  auto auth = parse_authorization(*requests[1].header("Authorization"));
  ASSERT_TRUE(auth);
  EXPECT_EQ(auth->basic.user, "bob");
  EXPECT_EQ(auth->basic.password, "pa:ss");
}

TEST(Captures, FfmpegAnnouncesHevcAndOpus) {
  const auto requests = requests_of(read_all(read_capture("ffmpeg_record_hevc_opus.bin")));
  ASSERT_GE(requests.size(), 2u);
  const SessionDescription sdp = sdp_of(requests[1].body);
  ASSERT_EQ(sdp.media.size(), 2u);
  EXPECT_EQ(sdp.media[0].rtpmap(96)->encoding, "H265");
  auto hevc = hevc_parameters(*sdp.media[0].fmtp(96));
  ASSERT_TRUE(hevc) << hevc.error().message();
  ASSERT_EQ(hevc->vps.size(), 1u);
  EXPECT_EQ(hevc->vps[0][0] >> 1 & 0x3f, 32);
  EXPECT_EQ(hevc->sps[0][0] >> 1 & 0x3f, 33);
  EXPECT_EQ(hevc->pps[0][0] >> 1 & 0x3f, 34);
  const RtpMap* opus = sdp.media[1].rtpmap(97);
  ASSERT_NE(opus, nullptr);
  EXPECT_EQ(opus->encoding, "opus");  // ffmpeg writes it in lower case
  EXPECT_EQ(opus->clock_rate, 48000u);
  EXPECT_EQ(opus->channels, 2);
}

TEST(Captures, GstreamerRtspclientsinkPublishesOverTcp) {
  const auto items = read_all(read_capture("gst_record_tcp.bin"));
  const auto requests = requests_of(items);
  ASSERT_EQ(requests.size(), 5u);
  const SessionDescription sdp = sdp_of(requests[1].body);
  ASSERT_EQ(sdp.media.size(), 2u);
  EXPECT_EQ(sdp.media[0].type, "audio");
  EXPECT_EQ(sdp.media[0].control, "stream=1");
  EXPECT_FALSE(opus_parameters(*sdp.media[0].fmtp(96)).sprop_stereo);
  EXPECT_EQ(sdp.media[1].rtpmap(99)->encoding, "H264");
  auto h264 = h264_parameters(*sdp.media[1].fmtp(99));
  ASSERT_TRUE(h264);
  EXPECT_EQ(h264->sps.size(), 1u);
  EXPECT_EQ(h264->pps.size(), 1u);
  EXPECT_NE(sdp.media[1].attribute("ssrc"), nullptr);
  auto path = split_stream_path(parse_url(requests[2].uri)->path);
  ASSERT_TRUE(path);
  EXPECT_EQ(path->track, 1);
  const auto specs = transport_of(requests[2]);
  EXPECT_EQ(specs[0].mode, TransportMode::record);  // written mode=RECORD
  std::size_t frames = 0;
  for (const OwnedItem& item : items) frames += item.kind == ItemKind::interleaved;
  EXPECT_GE(frames, 5u);
}

TEST(Captures, FfmpegPlaysFromGstreamersServer) {
  for (const char* name : {"ffmpeg_play_tcp_h264.bin", "ffmpeg_play_udp_h264.bin"}) {
    const auto requests = requests_of(read_all(read_capture(name)));
    ASSERT_EQ(requests.size(), 6u) << name;
    EXPECT_EQ(requests[1].method, "DESCRIBE");
    EXPECT_EQ(*requests[1].header("Accept"), "application/sdp");
    EXPECT_EQ(requests[4].method, "PLAY");
    auto play = parse_url(requests[4].uri);
    ASSERT_TRUE(play);
    EXPECT_EQ(play->path, "/test/");  // the aggregate URL (Content-Base) with its '/'
    auto setup = parse_url(requests[2].uri);
    ASSERT_TRUE(setup);
    EXPECT_EQ(setup->path, "/test/stream=0");
  }
}

TEST(Captures, GstreamersServerAnswersOverUdp) {
  // OPTIONS, DESCRIBE, SETUP, SETUP, PLAY (ffmpeg closed before the TEARDOWN reply).
  const auto responses = responses_of(read_all(read_capture("gst_server_udp_h264.bin")));
  ASSERT_EQ(responses.size(), 5u);
  for (const Response& response : responses) EXPECT_EQ(response.status, 200);
  EXPECT_NE(responses[0].header("Public")->find("GET_PARAMETER"), std::string::npos);
  const Response& describe = responses[1];
  const std::string base = *describe.header("Content-Base");
  EXPECT_EQ(base, "rtsp://127.0.0.1:56269/test/");
  const SessionDescription sdp = sdp_of(describe.body);
  EXPECT_EQ(sdp.control, "*");
  EXPECT_EQ(sdp.range, "npt=now-");
  ASSERT_TRUE(parse_range(sdp.range));
  EXPECT_TRUE(parse_range(sdp.range)->is_now);
  ASSERT_EQ(sdp.media.size(), 2u);
  EXPECT_EQ(resolve_control(base, sdp.media[0].control), "rtsp://127.0.0.1:56269/test/stream=0");
  auto h264 = h264_parameters(*sdp.media[0].fmtp(96));
  ASSERT_TRUE(h264);
  EXPECT_EQ(h264->profile_level_id, (std::array<std::uint8_t, 3>{0x42, 0xc0, 0x0d}));
  auto aac = aac_parameters(*sdp.media[1].fmtp(97));
  ASSERT_TRUE(aac);
  EXPECT_EQ(aac->size_length, 13);

  const auto specs = transport_of(Request{"", "", 1, 0, responses[2].headers, ""});
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0].client_port, (PortRange{27688, 27689}));
  EXPECT_EQ(specs[0].server_port, (PortRange{48124, 48125}));
  EXPECT_EQ(specs[0].ssrc, 0x2D4991EFu);
  EXPECT_EQ(specs[0].mode, TransportMode::play);
  auto session = parse_session(*responses[2].header("Session"));
  ASSERT_TRUE(session);
  EXPECT_EQ(session->id, "3NHugLOV1sD0dE.p");

  auto info = parse_rtp_info(*responses[4].header("RTP-Info"));
  ASSERT_TRUE(info) << info.error().message();
  ASSERT_EQ(info->size(), 2u);
  EXPECT_EQ((*info)[0].url, resolve_control(base, sdp.media[0].control));
  EXPECT_EQ((*info)[1].url, resolve_control(base, sdp.media[1].control));
  EXPECT_TRUE((*info)[0].seq && (*info)[0].rtptime);
}

TEST(Captures, GstreamersServerInterleavesRtpAfterPlay) {
  for (const char* name : {"gst_server_tcp_h264.bin", "gst_server_tcp_h265.bin"}) {
    const auto items = read_all(read_capture(name));
    const auto responses = responses_of(items);
    ASSERT_GE(responses.size(), 5u) << name;
    std::size_t frames = 0;
    std::size_t after_play = 0;
    bool seen_play = false;
    for (const OwnedItem& item : items) {
      if (item.kind == ItemKind::response && item.response.header("RTP-Info") != nullptr)
        seen_play = true;
      if (item.kind != ItemKind::interleaved) continue;
      ++frames;
      after_play += seen_play;
      EXPECT_LE(item.channel, 3) << name;
    }
    EXPECT_GE(frames, 5u) << name;
    EXPECT_EQ(after_play, frames) << name;
  }
  const auto responses = responses_of(read_all(read_capture("gst_server_tcp_h265.bin")));
  const SessionDescription sdp = sdp_of(responses[1].body);
  auto hevc = hevc_parameters(*sdp.media[0].fmtp(96));
  ASSERT_TRUE(hevc);
  EXPECT_EQ(hevc->vps.size(), 1u);
  EXPECT_EQ(hevc->sps.size(), 1u);
  EXPECT_EQ(hevc->pps.size(), 1u);
}

}  // namespace
}  // namespace weir::formats::rtsp
