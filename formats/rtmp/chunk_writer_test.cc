// SPDX-License-Identifier: Apache-2.0
#include "formats/rtmp/chunk_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "formats/rtmp/control.h"

namespace weir::formats::rtmp {
namespace {

using Bytes = std::vector<std::uint8_t>;

MessageHeader header(std::uint32_t csid, std::uint32_t timestamp, std::uint32_t length,
                     std::uint8_t type_id = kMessageVideo, std::uint32_t stream_id = 1) {
  MessageHeader h;
  h.chunk_stream_id = csid;
  h.timestamp = timestamp;
  h.length = length;
  h.type_id = type_id;
  h.stream_id = stream_id;
  return h;
}

Bytes bytes(std::span<const std::uint8_t> span) { return Bytes(span.begin(), span.end()); }

TEST(RtmpChunkWriter, WritesATypeZeroHeaderByteForByte) {
  ChunkStreamState state;
  MessageFraming framing =
      frame_message(state, header(3, 0x010203, 0x000140, kMessageCommandAmf0, 0x0A0B0C0D), 128);
  EXPECT_EQ(bytes(framing.first_header()),
            (Bytes{0x03, 0x01, 0x02, 0x03, 0x00, 0x01, 0x40, 20, 0x0D, 0x0C, 0x0B, 0x0A}));
  EXPECT_EQ(bytes(framing.continuation_header()), Bytes{0xC3});
  EXPECT_EQ(framing.fmt(), 0);
}

TEST(RtmpChunkWriter, CompressesHeadersAsTheStreamAllows) {
  ChunkStreamState state;
  EXPECT_EQ(frame_message(state, header(4, 100, 10), 128).fmt(), 0);     // first on the csid
  MessageFraming type1 = frame_message(state, header(4, 140, 20), 128);  // new length
  EXPECT_EQ(bytes(type1.first_header()), (Bytes{0x44, 0, 0, 40, 0, 0, 20, kMessageVideo}));
  MessageFraming type2 = frame_message(state, header(4, 160, 20), 128);  // new delta
  EXPECT_EQ(bytes(type2.first_header()), (Bytes{0x84, 0, 0, 20}));
  MessageFraming type3 = frame_message(state, header(4, 180, 20), 128);  // same delta
  EXPECT_EQ(bytes(type3.first_header()), Bytes{0xC4});
  EXPECT_EQ(frame_message(state, header(4, 180, 20, kMessageAudio), 128).fmt(), 1);  // new type
  EXPECT_EQ(frame_message(state, header(4, 180, 20, kMessageAudio, 2), 128).fmt(),
            0);  // new stream
  EXPECT_EQ(frame_message(state, header(4, 179, 20, kMessageAudio, 2), 128).fmt(),
            0);  // back in time
}

TEST(RtmpChunkWriter, NeverFollowsATypeZeroHeaderWithATypeThreeMessage) {
  // Readers disagree on the delta such a type 3 header means, so the writer says it with type 2.
  ChunkStreamState state;
  EXPECT_EQ(frame_message(state, header(4, 40, 10), 128).fmt(), 0);
  EXPECT_EQ(frame_message(state, header(4, 80, 10), 128).fmt(), 2);
  EXPECT_EQ(frame_message(state, header(4, 120, 10), 128).fmt(), 3);
}

TEST(RtmpChunkWriter, WritesOnlyTypeZeroWithoutCompression) {
  ChunkStreamState state;
  for (std::uint32_t ts = 0; ts < 5; ++ts)
    EXPECT_EQ(frame_message(state, header(4, ts * 10, 10), 128, HeaderCompression::none).fmt(), 0);
}

TEST(RtmpChunkWriter, SplitsThePayloadIntoSegmentsWithoutCopyingIt) {
  ChunkStreamState state;
  MessageFraming framing = frame_message(state, header(5, 0, 300), 128);
  ASSERT_EQ(framing.chunk_count(), 3u);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pieces;
  for (const ChunkSegment s : framing) pieces.emplace_back(s.payload_offset, s.payload_length);
  EXPECT_EQ(pieces, (std::vector<std::pair<std::uint32_t, std::uint32_t>>{
                        {0, 128}, {128, 128}, {256, 44}}));
  EXPECT_EQ(framing.segment(0).header.data(), framing.first_header().data());
  EXPECT_EQ(framing.segment(2).header.data(), framing.continuation_header().data());
  EXPECT_EQ(framing.wire_bytes(), 12u + 300 + 2);
}

TEST(RtmpChunkWriter, FramesAnEmptyMessageAsOneHeaderOnlyChunk) {
  ChunkStreamState state;
  MessageFraming framing = frame_message(state, header(5, 0, 0), 128);
  EXPECT_EQ(framing.chunk_count(), 1u);
  EXPECT_EQ(framing.segment(0).payload_length, 0u);
  EXPECT_EQ(framing.wire_bytes(), 12u);
}

TEST(RtmpChunkWriter, FramesAMessageOfExactlyOneChunk) {
  ChunkStreamState state;
  EXPECT_EQ(frame_message(state, header(5, 0, 128), 128).chunk_count(), 1u);
  EXPECT_EQ(frame_message(state, header(5, 0, 129), 128).chunk_count(), 2u);
  EXPECT_EQ(frame_message(state, header(5, 0, 0xFFFFFF), kMaxChunkSize).chunk_count(), 1u);
}

TEST(RtmpChunkWriter, RepeatsTheExtendedTimestampOnEveryContinuationHeader) {
  ChunkStreamState state;
  MessageFraming framing = frame_message(state, header(6, 0x12345678, 200), 128);
  EXPECT_EQ(bytes(framing.first_header()), (Bytes{0x06, 0xFF, 0xFF, 0xFF, 0, 0, 200, kMessageVideo,
                                                  1, 0, 0, 0, 0x12, 0x34, 0x56, 0x78}));
  EXPECT_EQ(bytes(framing.continuation_header()), (Bytes{0xC6, 0x12, 0x34, 0x56, 0x78}));
  // An extended delta in a type 2 header is repeated the same way.
  MessageFraming delta = frame_message(state, header(6, 0x12345678 + 0x01000000, 200), 128);
  EXPECT_EQ(bytes(delta.first_header()), (Bytes{0x86, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x00, 0x00}));
  EXPECT_EQ(bytes(delta.continuation_header()), (Bytes{0xC6, 0x01, 0x00, 0x00, 0x00}));
  // Back under 24 bits: no extended timestamp, even on type 3 continuations.
  MessageFraming small = frame_message(state, header(6, 0x12345678 + 0x01000010, 200), 128);
  EXPECT_EQ(bytes(small.first_header()), (Bytes{0x86, 0, 0, 0x10}));
  EXPECT_EQ(bytes(small.continuation_header()), Bytes{0xC6});
}

TEST(RtmpChunkWriter, UsesTheShortestBasicHeaderForEachCsid) {
  struct Case {
    std::uint32_t csid;
    Bytes basic;
  };
  for (const Case& c :
       {Case{2, {0x02}}, Case{63, {0x3F}}, Case{64, {0x00, 0x00}}, Case{319, {0x00, 0xFF}},
        Case{320, {0x01, 0x00, 0x01}}, Case{65599, {0x01, 0xFF, 0xFF}}}) {
    ChunkStreamState state;
    MessageFraming framing = frame_message(state, header(c.csid, 0, 1), 128);
    Bytes first = bytes(framing.first_header());
    EXPECT_EQ(Bytes(first.begin(), first.begin() + static_cast<std::ptrdiff_t>(c.basic.size())),
              c.basic)
        << "csid " << c.csid;
    Bytes continuation = bytes(framing.continuation_header());
    Bytes expected = c.basic;
    expected[0] |= 0xC0;
    EXPECT_EQ(continuation, expected) << "csid " << c.csid;
  }
}

TEST(RtmpChunkWriter, AppendsWholeMessagesAsTheSegmentsSay) {
  ChunkWriter writer(100);
  Bytes payload(250);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i);
  Bytes wire;
  writer.append(wire, header(7, 0, 250), payload);
  ASSERT_EQ(wire.size(), 12u + 100 + 1 + 100 + 1 + 50);
  EXPECT_EQ(wire[12], 0);
  EXPECT_EQ(wire[112], 0xC7);
  EXPECT_EQ(wire[113], 100);
  EXPECT_EQ(wire[213], 0xC7);
  EXPECT_EQ(wire.back(), 249);
}

TEST(RtmpChunkWriter, KeepsOneStatePerCsid) {
  ChunkWriter writer;
  EXPECT_EQ(writer.frame(header(4, 0, 10)).fmt(), 0);
  EXPECT_EQ(writer.frame(header(6, 0, 10)).fmt(), 0);
  EXPECT_EQ(writer.frame(header(4, 10, 10)).fmt(), 2);
  EXPECT_EQ(writer.state(4).previous.timestamp, 10u);
  EXPECT_EQ(writer.state(6).previous.timestamp, 0u);
  writer.reset();
  EXPECT_EQ(writer.frame(header(4, 20, 10)).fmt(), 0);
}

}  // namespace
}  // namespace weir::formats::rtmp
