// SPDX-License-Identifier: Apache-2.0
#include "formats/rtmp/control.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "formats/rtmp/chunk_reader.h"
#include "formats/rtmp/vector_sink.h"

namespace weir::formats::rtmp {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes(const ControlPayload& payload) {
  return Bytes(payload.span().begin(), payload.span().end());
}

TEST(RtmpControl, EncodesSetChunkSizeAsA31BitBigEndianNumber) {
  EXPECT_EQ(bytes(encode_set_chunk_size(4096)), (Bytes{0x00, 0x00, 0x10, 0x00}));
  EXPECT_EQ(*decode_set_chunk_size(bytes(encode_set_chunk_size(kMaxChunkSize))), kMaxChunkSize);
}

TEST(RtmpControl, RejectsSetChunkSizeThatIsZeroShortOrHasTheTopBit) {
  EXPECT_EQ(decode_set_chunk_size(Bytes{0, 0, 0, 0}).error().code(), Errc::malformed);
  EXPECT_EQ(decode_set_chunk_size(Bytes{0x80, 0, 0, 1}).error().code(), Errc::malformed);
  EXPECT_EQ(decode_set_chunk_size(Bytes{0, 0, 1}).error().code(), Errc::malformed);
}

TEST(RtmpControl, RoundTripsTheFourByteControlMessages) {
  EXPECT_EQ(*decode_abort(bytes(encode_abort(65599))), 65599u);
  EXPECT_EQ(*decode_acknowledgement(bytes(encode_acknowledgement(0xFFFFFFF0))), 0xFFFFFFF0u);
  EXPECT_EQ(*decode_window_ack_size(bytes(encode_window_ack_size(2500000))), 2500000u);
  EXPECT_EQ(bytes(encode_window_ack_size(2500000)), (Bytes{0x00, 0x26, 0x25, 0xA0}));
  EXPECT_EQ(decode_abort(Bytes{1, 2, 3}).error().code(), Errc::malformed);
  EXPECT_EQ(decode_acknowledgement(Bytes{}).error().code(), Errc::malformed);
  EXPECT_EQ(decode_window_ack_size(Bytes{1}).error().code(), Errc::malformed);
}

TEST(RtmpControl, RoundTripsSetPeerBandwidth) {
  for (BandwidthLimit limit :
       {BandwidthLimit::hard, BandwidthLimit::soft, BandwidthLimit::dynamic}) {
    SetPeerBandwidth sent{5000000, limit};
    ControlPayload payload = encode_set_peer_bandwidth(sent);
    EXPECT_EQ(payload.size, 5u);
    Result<SetPeerBandwidth> got = decode_set_peer_bandwidth(bytes(payload));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->window_bytes, 5000000u);
    EXPECT_EQ(got->limit, limit);
  }
  EXPECT_EQ(decode_set_peer_bandwidth(Bytes{0, 0, 0, 1, 3}).error().code(), Errc::malformed);
  EXPECT_EQ(decode_set_peer_bandwidth(Bytes{0, 0, 0, 1}).error().code(), Errc::malformed);
}

TEST(RtmpControl, RoundTripsEveryUserControlEvent) {
  for (UserControlEvent event : {UserControlEvent::stream_begin, UserControlEvent::stream_eof,
                                 UserControlEvent::stream_dry, UserControlEvent::stream_is_recorded,
                                 UserControlEvent::ping_request, UserControlEvent::ping_response,
                                 UserControlEvent::buffer_empty, UserControlEvent::buffer_ready}) {
    ControlPayload payload = encode_user_control(UserControl{event, 0x01020304, 0});
    EXPECT_EQ(payload.size, 6u);
    Result<UserControl> got = decode_user_control(bytes(payload));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->event, event);
    EXPECT_EQ(got->value, 0x01020304u);
  }
  ControlPayload buffer =
      encode_user_control(UserControl{UserControlEvent::set_buffer_length, 1, 3000});
  EXPECT_EQ(bytes(buffer), (Bytes{0, 3, 0, 0, 0, 1, 0, 0, 0x0B, 0xB8}));
  Result<UserControl> got = decode_user_control(bytes(buffer));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->value, 1u);
  EXPECT_EQ(got->buffer_length_ms, 3000u);
}

TEST(RtmpControl, RejectsUserControlEventsMissingTheirData) {
  EXPECT_EQ(decode_user_control(Bytes{0}).error().code(), Errc::malformed);
  EXPECT_EQ(decode_user_control(Bytes{0, 0, 0, 0, 1}).error().code(), Errc::malformed);
  EXPECT_EQ(decode_user_control(Bytes{0, 3, 0, 0, 0, 1, 0, 0}).error().code(), Errc::malformed);
}

TEST(RtmpControl, PassesUnknownUserControlEventsThrough) {
  Result<UserControl> short_one = decode_user_control(Bytes{0, 99});
  ASSERT_TRUE(short_one.has_value());
  EXPECT_EQ(static_cast<int>(short_one->event), 99);
  EXPECT_EQ(short_one->value, 0u);
  Result<UserControl> long_one = decode_user_control(Bytes{0, 26, 0, 0, 0, 7, 9, 9});
  ASSERT_TRUE(long_one.has_value());
  EXPECT_EQ(long_one->value, 7u);
}

TEST(RtmpControl, BuildsHeadersOnTheControlChunkStream) {
  MessageHeader h = control_header(kMessageWindowAckSize, encode_window_ack_size(1), 77);
  EXPECT_EQ(h.chunk_stream_id, kControlChunkStreamId);
  EXPECT_EQ(h.stream_id, 0u);
  EXPECT_EQ(h.timestamp, 77u);
  EXPECT_EQ(h.length, 4u);
  EXPECT_EQ(h.type_id, kMessageWindowAckSize);
  EXPECT_TRUE(is_protocol_control(kMessageSetPeerBandwidth));
  EXPECT_FALSE(is_protocol_control(kMessageUserControl));
  EXPECT_FALSE(is_protocol_control(kMessageVideo));
}

TEST(RtmpControl, AppliesSetChunkSizeAndAbortToAReader) {
  VectorSink sink;
  ChunkReader reader(sink);
  const Bytes size = bytes(encode_set_chunk_size(5000));
  EXPECT_TRUE(apply_chunk_control(
                  reader, control_header(kMessageSetChunkSize, encode_set_chunk_size(5000)), size)
                  .is_ok());
  EXPECT_EQ(reader.chunk_size(), 5000u);
  const Bytes bad = {0, 0, 0, 0};
  EXPECT_EQ(apply_chunk_control(reader,
                                control_header(kMessageSetChunkSize, encode_set_chunk_size(1)), bad)
                .code(),
            Errc::malformed);
  const Bytes abort = bytes(encode_abort(4));
  EXPECT_TRUE(
      apply_chunk_control(reader, control_header(kMessageAbort, encode_abort(4)), abort).is_ok());
  const Bytes anything = {1, 2, 3};
  MessageHeader video;
  video.type_id = kMessageVideo;
  EXPECT_TRUE(apply_chunk_control(reader, video, anything).is_ok());
  EXPECT_EQ(reader.chunk_size(), 5000u);
}

}  // namespace
}  // namespace weir::formats::rtmp
