// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/transport.h"

#include <gtest/gtest.h>

namespace weir::formats::rtsp {
namespace {

TEST(ParseTransport, ReadsFfmpegsTcpRecordSpec) {
  auto specs = parse_transport("RTP/AVP/TCP;unicast;interleaved=0-1;mode=record");
  ASSERT_TRUE(specs);
  ASSERT_EQ(specs->size(), 1u);
  const TransportSpec& spec = specs->front();
  EXPECT_EQ(spec.protocol, "RTP");
  EXPECT_EQ(spec.profile, "AVP");
  EXPECT_EQ(spec.lower, LowerTransport::tcp);
  EXPECT_FALSE(spec.is_multicast);
  EXPECT_EQ(spec.interleaved, (PortRange{0, 1}));
  EXPECT_EQ(spec.mode, TransportMode::record);
}

TEST(ParseTransport, ReadsGStreamersReplyWithQuotedMode) {
  auto specs = parse_transport(
      "RTP/"
      "AVP;unicast;client_port=27688-27689;server_port=48124-48125;ssrc=2D4991EF;mode=\"PLAY\"");
  ASSERT_TRUE(specs);
  const TransportSpec& spec = specs->front();
  EXPECT_EQ(spec.lower, LowerTransport::udp);
  EXPECT_EQ(spec.client_port, (PortRange{27688, 27689}));
  EXPECT_EQ(spec.server_port, (PortRange{48124, 48125}));
  EXPECT_EQ(spec.ssrc, 0x2D4991EFu);
  EXPECT_EQ(spec.effective_mode(), TransportMode::play);
  EXPECT_EQ(spec.mode, TransportMode::play);
}

TEST(ParseTransport, ReadsAListOfAlternativesInOrder) {
  auto specs = parse_transport(
      "RTP/AVP/UDP;unicast;client_port=5000-5001, RTP/AVP/TCP;interleaved=2-3,"
      "RTP/AVP;multicast;destination=224.2.0.1;port=3456-3457;ttl=16;source=10.0.0.1");
  ASSERT_TRUE(specs);
  ASSERT_EQ(specs->size(), 3u);
  EXPECT_EQ((*specs)[0].lower, LowerTransport::udp);
  EXPECT_EQ((*specs)[1].lower, LowerTransport::tcp);
  EXPECT_EQ((*specs)[1].interleaved, (PortRange{2, 3}));
  EXPECT_FALSE((*specs)[1].mode);
  const TransportSpec& multicast = (*specs)[2];
  EXPECT_TRUE(multicast.is_multicast);
  EXPECT_EQ(multicast.destination, "224.2.0.1");
  EXPECT_EQ(multicast.source, "10.0.0.1");
  EXPECT_EQ(multicast.port, (PortRange{3456, 3457}));
  EXPECT_EQ(multicast.ttl, 16);
}

TEST(ParseTransport, KeepsUnknownParametersAndOddLowerTransports) {
  auto specs = parse_transport("RTP/AVPF/SCTP;unicast;x-dynamic-rate=1;rtcp-mux;;");
  ASSERT_TRUE(specs);
  const TransportSpec& spec = specs->front();
  EXPECT_EQ(spec.profile, "AVPF");
  EXPECT_EQ(spec.lower, LowerTransport::other);
  ASSERT_EQ(spec.extra.size(), 2u);
  EXPECT_EQ(spec.extra[0], (TransportSpec::Parameter{"x-dynamic-rate", "1"}));
  EXPECT_EQ(spec.extra[1], (TransportSpec::Parameter{"rtcp-mux", ""}));
}

TEST(ParseTransport, ReadsSinglePortsAndShortSsrcs) {
  auto specs = parse_transport("RTP/AVP/TCP;interleaved=4;ssrc=1F;mode=PLAY");
  ASSERT_TRUE(specs);
  EXPECT_EQ(specs->front().interleaved, (PortRange{4, 4}));
  EXPECT_TRUE(specs->front().interleaved->is_single());
  EXPECT_EQ(specs->front().ssrc, 0x1Fu);
}

TEST(ParseTransport, RefusesBadNumbersAndRanges) {
  for (const char* text :
       {"", " , ", "RTP", "/AVP", "RTP/AVP/TCP;interleaved=0-256", "RTP/AVP/TCP;interleaved=3-2",
        "RTP/AVP;client_port=0-1", "RTP/AVP;client_port=70000", "RTP/AVP;client_port=a-b",
        "RTP/AVP;ttl=300", "RTP/AVP;ssrc=123456789", "RTP/AVP;ssrc=xyz", "RTP/AVP;interleaved="}) {
    auto specs = parse_transport(text);
    EXPECT_FALSE(specs) << text;
    if (!specs) {
      EXPECT_EQ(specs.error().code(), Errc::malformed);
    }
  }
}

TEST(FormatTransport, WritesTheReplyAClientExpects) {
  TransportSpec tcp;
  tcp.lower = LowerTransport::tcp;
  tcp.interleaved = PortRange{0, 1};
  tcp.ssrc = 0x0000ABCD;
  tcp.mode = TransportMode::play;
  EXPECT_EQ(format_transport(tcp), "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=0000ABCD;mode=PLAY");
  TransportSpec udp;
  udp.client_port = PortRange{5000, 5001};
  udp.server_port = PortRange{6970, 6971};
  EXPECT_EQ(format_transport(udp), "RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971");
  TransportSpec multicast;
  multicast.is_multicast = true;
  multicast.destination = "239.0.0.1";
  multicast.port = PortRange{5004, 5005};
  multicast.ttl = 1;
  EXPECT_EQ(format_transport(multicast),
            "RTP/AVP;multicast;destination=239.0.0.1;ttl=1;port=5004-5005");
}

TEST(FormatTransport, ReadsBackAsTheSameSpec) {
  auto specs = parse_transport(
      "RTP/AVP/TCP;unicast;interleaved=2-3;ssrc=86A2E409;mode=\"RECORD\";x-foo=bar;append");
  ASSERT_TRUE(specs);
  auto again = parse_transport(format_transport(specs->front()));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->front(), specs->front());
}

}  // namespace
}  // namespace weir::formats::rtsp
