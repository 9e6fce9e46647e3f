// SPDX-License-Identifier: Apache-2.0
#include "rtsp_messages.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <vector>

#include "latency_stamp.h"

namespace weir::bench {
namespace {

// GStreamer 1.22's gst-rtsp-server answering DESCRIBE for bench/gst_rtsp_server.py (captured; the
// SDP trimmed of its fmtp sprop values, which the player does not read).
constexpr std::string_view kGstDescribe =
    "RTSP/1.0 200 OK\r\n"
    "CSeq: 2\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Base: rtsp://127.0.0.1:18554/live/s/\r\n"
    "Server: GStreamer RTSP server\r\n"
    "Content-Length: 404\r\n"
    "\r\n"
    "v=0\r\n"
    "o=- 1188340656180883 1 IN IP4 127.0.0.1\r\n"
    "s=Session streamed with GStreamer\r\n"
    "i=rtsp-server\r\n"
    "t=0 0\r\n"
    "a=tool:GStreamer\r\n"
    "a=type:broadcast\r\n"
    "a=range:npt=now-\r\n"
    "a=control:rtsp://127.0.0.1:18554/live/s\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1\r\n"
    "a=control:stream=0\r\n"
    "m=audio 0 RTP/AVP 97\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtpmap:97 MPEG4-GENERIC/44100/2\r\n"
    "a=fmtp:97 streamtype=5;profile-level-id=2;mode=AAC-hbr;sizelength=13\r\n"
    "a=control:stream=1\r\n";

TEST(RtspResponse, ParsesAWholeResponseAndItsHeaders) {
  std::string text(kGstDescribe);
  // Content-Length as the real body's length
  auto body_at = text.find("\r\n\r\n") + 4;
  text.replace(text.find("404"), 3, std::to_string(text.size() - body_at));
  const std::string stream = text + "$";  // an interleaved frame begins right after it
  auto parsed = parse_rtsp_response(stream);
  ASSERT_TRUE(parsed);
  ASSERT_TRUE(parsed->has_value());
  const RtspResponse& r = **parsed;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.reason, "OK");
  EXPECT_EQ(r.header("content-base"), "rtsp://127.0.0.1:18554/live/s/");
  EXPECT_EQ(r.header("CSeq"), "2");
  EXPECT_EQ(r.header("Session"), "");
  EXPECT_EQ(r.length, text.size());  // the interleaved frame after it is not part of it
  EXPECT_EQ(r.body.substr(0, 4), "v=0\r");
}

TEST(RtspResponse, WaitsForTheRestOfAnIncompleteOne) {
  auto head = parse_rtsp_response("RTSP/1.0 200 OK\r\nCSeq: 1\r\n");
  ASSERT_TRUE(head);
  EXPECT_FALSE(head->has_value());
  auto body = parse_rtsp_response("RTSP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nv=0\r\n");
  ASSERT_TRUE(body);
  EXPECT_FALSE(body->has_value());
}

TEST(RtspResponse, RejectsGarbageAndHugeLengths) {
  EXPECT_FALSE(parse_rtsp_response("HELLO\r\n\r\n"));
  EXPECT_FALSE(parse_rtsp_response("RTSP/1.0 2x0 OK\r\n\r\n"));
  EXPECT_FALSE(parse_rtsp_response("RTSP/1.0 200 OK\r\nContent-Length: 9999999999\r\n\r\n"));
  EXPECT_FALSE(parse_rtsp_response("RTSP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n"));
  EXPECT_FALSE(parse_rtsp_response(std::string(20000, 'a')));
}

TEST(RtspResponse, ParsesARequestFromTheServerWithStatusZero) {
  auto parsed = parse_rtsp_response("OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n\r\n");
  ASSERT_TRUE(parsed);
  ASSERT_TRUE(parsed->has_value());
  EXPECT_EQ((*parsed)->status, 0);
}

TEST(Sdp, ReadsGStreamersTracks) {
  auto body_at = kGstDescribe.find("\r\n\r\n") + 4;
  auto sdp = parse_sdp(kGstDescribe.substr(body_at));
  ASSERT_TRUE(sdp);
  EXPECT_EQ(sdp->control, "rtsp://127.0.0.1:18554/live/s");
  ASSERT_EQ(sdp->media.size(), 2u);
  EXPECT_EQ(sdp->media[0].type, "video");
  EXPECT_EQ(sdp->media[0].payload_type, 96);
  EXPECT_EQ(sdp->media[0].encoding, "H264");
  EXPECT_EQ(sdp->media[0].clock_rate, 90000u);
  EXPECT_EQ(sdp->media[0].control, "stream=0");
  EXPECT_EQ(sdp->media[1].type, "audio");
  EXPECT_EQ(sdp->media[1].payload_type, 97);
  EXPECT_EQ(sdp->media[1].clock_rate, 44100u);
  EXPECT_EQ(resolve_control("rtsp://127.0.0.1:18554/live/s/", sdp->media[1].control),
            "rtsp://127.0.0.1:18554/live/s/stream=1");
}

TEST(Sdp, NeedsAMediaLine) {
  EXPECT_FALSE(parse_sdp("v=0\r\ns=x\r\n"));
  EXPECT_FALSE(parse_sdp("v=0\r\nm=video 0 RTP/AVP\r\n"));
}

TEST(Control, ResolvesAsRfc2326Says) {
  EXPECT_EQ(resolve_control("rtsp://h/live/s", "trackID=0"), "rtsp://h/live/s/trackID=0");
  EXPECT_EQ(resolve_control("rtsp://h/live/s/", "trackID=1"), "rtsp://h/live/s/trackID=1");
  EXPECT_EQ(resolve_control("rtsp://h/live/s", "*"), "rtsp://h/live/s");
  EXPECT_EQ(resolve_control("rtsp://h/live/s", ""), "rtsp://h/live/s");
  EXPECT_EQ(resolve_control("rtsp://h/live/s", "rtsp://other/x"), "rtsp://other/x");
}

TEST(Transport, ReadsChannelsAndServerPorts) {
  TransportReply tcp = parse_transport("RTP/AVP/TCP;unicast;interleaved=2-3;ssrc=1A2B3C4D;mode=\"PLAY\"");
  EXPECT_EQ(tcp.interleaved_rtp, 2);
  EXPECT_EQ(tcp.server_rtp_port, -1);
  TransportReply udp = parse_transport("RTP/AVP;unicast;client_port=40000-40001;server_port=51000-51001;ssrc=5");
  EXPECT_EQ(udp.interleaved_rtp, -1);
  EXPECT_EQ(udp.server_rtp_port, 51000);
  EXPECT_EQ(udp.server_rtcp_port, 51001);
  EXPECT_EQ(parse_transport("RTP/AVP;unicast;server_port=x-y").server_rtp_port, -1);
}

TEST(Session, ReadsIdAndTimeout) {
  SessionHeader s = parse_session("Nz0vTTXEh7ZgBX3A;timeout=60");
  EXPECT_EQ(s.id, "Nz0vTTXEh7ZgBX3A");
  EXPECT_EQ(s.timeout_s, 60u);
  EXPECT_EQ(parse_session("12345678").timeout_s, 0u);
}

TEST(RtpHeader, ReadsFieldsAndSkipsCsrcsAndExtension) {
  std::vector<std::uint8_t> p = {0x80, 0xE0, 0x12, 0x34, 0x00, 0x01, 0x5F, 0x90, 0xDE, 0xAD, 0xBE, 0xEF, 0x65};
  auto h = parse_rtp_header(p);
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->marker);
  EXPECT_EQ(h->payload_type, 96);
  EXPECT_EQ(h->sequence, 0x1234);
  EXPECT_EQ(h->timestamp, 90000u);
  EXPECT_EQ(h->ssrc, 0xDEADBEEFu);
  EXPECT_EQ(h->payload_offset, 12u);
  // one CSRC and a one-word extension
  std::vector<std::uint8_t> q = {0x91, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 0xBE, 0xDE, 0, 1, 9, 9, 9, 9, 0x41};
  auto hq = parse_rtp_header(q);
  ASSERT_TRUE(hq);
  EXPECT_EQ(hq->payload_offset, 24u);
  q.resize(19);  // the extension's length says more than there is
  EXPECT_FALSE(parse_rtp_header(q));
  EXPECT_FALSE(parse_rtp_header(std::vector<std::uint8_t>{0x40, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}));  // version 1
}

TEST(H264, FindsTheStartOfAnIdr) {
  EXPECT_TRUE(h264_starts_idr(std::vector<std::uint8_t>{0x65, 0x88}));
  EXPECT_FALSE(h264_starts_idr(std::vector<std::uint8_t>{0x41, 0x9A}));        // non-IDR slice
  EXPECT_TRUE(h264_starts_idr(std::vector<std::uint8_t>{0x7C, 0x85, 0x88}));  // FU-A, start, type 5
  EXPECT_FALSE(h264_starts_idr(std::vector<std::uint8_t>{0x7C, 0x05, 0x88}));  // FU-A middle
  EXPECT_FALSE(h264_starts_idr(std::vector<std::uint8_t>{0x67, 0x42}));        // SPS alone is not a picture
  // STAP-A: SPS (2 bytes), PPS (1), IDR (2)
  EXPECT_TRUE(h264_starts_idr(std::vector<std::uint8_t>{0x78, 0, 2, 0x67, 0x42, 0, 1, 0x68, 0, 2, 0x65, 0x88}));
  EXPECT_FALSE(h264_starts_idr(std::vector<std::uint8_t>{0x78, 0, 2, 0x67, 0x42, 0, 1, 0x68}));
  EXPECT_FALSE(h264_starts_idr(std::vector<std::uint8_t>{0x78, 0, 0xFF}));  // a size past the end
  EXPECT_FALSE(h264_starts_idr({}));
}

TEST(H264, FindsTheStampAloneOrAggregated) {
  std::array<std::uint8_t, kStampBytes> stamp{};
  write_stamp(123456789, stamp);
  std::vector<std::uint8_t> single(stamp.begin() + 4, stamp.end());
  EXPECT_EQ(h264_find_stamp(single), 123456789u);
  std::vector<std::uint8_t> stap = {0x78, 0, 2, 0x67, 0x42, 0, static_cast<std::uint8_t>(kStampNalBytes)};
  stap.insert(stap.end(), stamp.begin() + 4, stamp.end());
  EXPECT_EQ(h264_find_stamp(stap), 123456789u);
  stap.resize(stap.size() - 1);  // cut short: not a stamp
  EXPECT_FALSE(h264_find_stamp(stap));
  single[5] ^= 1;  // another UUID
  EXPECT_FALSE(h264_find_stamp(single));
}

TEST(Sequence, CountsLossesAcrossTheWrap) {
  SequenceTracker t;
  for (std::uint16_t s : {65533, 65534, 0, 1, 3, 2, 2}) t.on_packet(s);  // 65535 lost; 2 late, then duplicated
  EXPECT_EQ(t.expected(), 7u);
  EXPECT_EQ(t.received(), 7u);
  SequenceTracker u;
  for (std::uint16_t s : {10, 11, 15}) u.on_packet(s);
  EXPECT_EQ(u.expected() - u.received(), 3u);
}

TEST(Timestamps, ExtendAcrossTheWrap) {
  TimestampExtender e;
  EXPECT_EQ(e.extend(0xFFFFFF00u), 0xFFFFFF00);
  EXPECT_EQ(e.extend(0x00000100u), 0x100000100);
  EXPECT_EQ(e.extend(0x000000F0u), 0x1000000F0);  // a small step back stays back
}

}  // namespace
}  // namespace weir::bench
