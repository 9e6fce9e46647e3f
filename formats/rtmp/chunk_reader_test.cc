// SPDX-License-Identifier: Apache-2.0
// ChunkWriter -> ChunkReader round trips, and the reader on hand-made and broken chunk streams.
#include "formats/rtmp/chunk_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "formats/rtmp/chunk_writer.h"
#include "formats/rtmp/control.h"
#include "formats/rtmp/vector_sink.h"

namespace weir::formats::rtmp {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes pattern(std::size_t size, std::uint8_t seed) {
  Bytes bytes(size);
  for (std::size_t i = 0; i < size; ++i)
    bytes[i] = static_cast<std::uint8_t>(seed + i * 7 + (i >> 8));
  return bytes;
}

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

struct Sent {
  MessageHeader header;
  Bytes payload;
};

Sent message(std::uint32_t csid, std::uint32_t timestamp, std::uint32_t length,
             std::uint8_t type_id = kMessageVideo, std::uint32_t stream_id = 1) {
  return Sent{header(csid, timestamp, length, type_id, stream_id),
              pattern(length, static_cast<std::uint8_t>(csid + timestamp))};
}

// Reads `wire` in pieces of `step` bytes (0: all at once), applying control messages in order.
// `chunk_size`: what the peer set before `wire` starts.
struct ReadResult {
  Status status;
  std::vector<Message> messages;
  std::size_t aborted = 0;
  Type3ExtendedTimestamp type3 = Type3ExtendedTimestamp::detect;
};

ReadResult read(const Bytes& wire, std::size_t step = 0, ChunkReaderOptions options = {},
                std::uint32_t chunk_size = kDefaultChunkSize) {
  VectorSink sink;
  ChunkReader reader(sink, options);
  sink.apply_control_to(&reader);
  ReadResult result;
  result.status = reader.set_chunk_size(chunk_size);
  const std::size_t piece = step == 0 ? std::max<std::size_t>(wire.size(), 1) : step;
  for (std::size_t at = 0; at < wire.size() && result.status.is_ok(); at += piece) {
    const std::size_t size = std::min(piece, wire.size() - at);
    result.status = reader.feed(std::span<const std::uint8_t>(wire.data() + at, size));
  }
  result.messages = sink.take_messages();
  result.aborted = sink.aborted_count();
  result.type3 = reader.type3_extended_timestamp();
  return result;
}

void expect_same(const std::vector<Message>& got, const std::vector<Sent>& sent) {
  ASSERT_EQ(got.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(got[i].header, sent[i].header) << "message " << i;
    EXPECT_EQ(got[i].payload, sent[i].payload) << "message " << i;
  }
}

Bytes write_all(ChunkWriter& writer, const std::vector<Sent>& messages,
                HeaderCompression compression = HeaderCompression::allowed) {
  Bytes wire;
  for (const Sent& m : messages) writer.append(wire, m.header, m.payload, compression);
  return wire;
}

// Appends a framed message segment by segment, as a sender building iovecs would.
void append_framed(Bytes& wire, const MessageFraming& framing, const Bytes& payload) {
  for (const ChunkSegment segment : framing) {
    wire.insert(wire.end(), segment.header.begin(), segment.header.end());
    wire.insert(wire.end(), payload.begin() + segment.payload_offset,
                payload.begin() + segment.payload_offset + segment.payload_length);
  }
}

void append_control(Bytes& wire, ChunkWriter& writer, std::uint8_t type,
                    const ControlPayload& payload) {
  writer.append(wire, control_header(type, payload), payload.span());
}

TEST(RtmpChunkReader, ReadsAMessageThatFitsInOneChunk) {
  ChunkWriter writer;
  std::vector<Sent> sent = {message(3, 0, 100, kMessageCommandAmf0, 0)};
  ReadResult result = read(write_all(writer, sent));
  ASSERT_TRUE(result.status.is_ok()) << result.status.message();
  expect_same(result.messages, sent);
}

TEST(RtmpChunkReader, ReassemblesAMessageSplitAtTheDefaultChunkSize) {
  ChunkWriter writer;
  std::vector<Sent> sent = {message(6, 40, 128 * 3 + 5)};
  Bytes wire = write_all(writer, sent);
  EXPECT_EQ(wire.size(), 12u + 128 * 3 + 5 + 3);  // type 0 header, then three 1-byte type 3 headers
  ReadResult result = read(wire);
  ASSERT_TRUE(result.status.is_ok()) << result.status.message();
  expect_same(result.messages, sent);
}

TEST(RtmpChunkReader, RoundTripsEveryHeaderFormat) {
  ChunkWriter writer;
  std::vector<Sent> sent = {
      message(4, 1000, 300),                    // type 0
      message(4, 1040, 200),                    // type 1: new length
      message(4, 1100, 200),                    // type 2: new delta
      message(4, 1160, 200),                    // type 3: same delta
      message(4, 1220, 200),                    // type 3 again
      message(4, 1220, 200, kMessageAudio),     // type 1: new type
      message(4, 1220, 200, kMessageAudio, 7),  // type 0: new stream id
      message(4, 900, 200, kMessageAudio, 7),   // type 0: time went back
  };
  Bytes wire;
  std::vector<int> fmts;
  for (const Sent& m : sent) {
    MessageFraming framing = writer.frame(m.header);
    fmts.push_back(framing.fmt());
    append_framed(wire, framing, m.payload);
  }
  EXPECT_EQ(fmts, (std::vector<int>{0, 1, 2, 3, 3, 1, 0, 0}));
  ReadResult result = read(wire);
  ASSERT_TRUE(result.status.is_ok()) << result.status.message();
  expect_same(result.messages, sent);
}

TEST(RtmpChunkReader, RoundTripsUncompressedHeaders) {
  ChunkWriter writer;
  std::vector<Sent> sent = {message(4, 0, 10), message(4, 10, 10), message(4, 20, 10)};
  ReadResult result = read(write_all(writer, sent, HeaderCompression::none));
  ASSERT_TRUE(result.status.is_ok()) << result.status.message();
  expect_same(result.messages, sent);
}

TEST(RtmpChunkReader, ReadsEveryChunkStreamIdFrom2To65599) {
  // In batches: a connection with 65598 chunk streams would be a slow one (linear csid lookup).
  for (std::uint32_t first = kMinChunkStreamId; first <= kMaxChunkStreamId; first += 512) {
    ChunkWriter writer;
    std::vector<Sent> sent;
    for (std::uint32_t csid = first; csid < first + 512 && csid <= kMaxChunkStreamId; ++csid)
      sent.push_back(message(csid, csid, 1 + csid % 3, kMessageAudio));
    ChunkReaderOptions options;
    options.max_chunk_streams = 512;
    ReadResult result = read(write_all(writer, sent), 0, options);
    ASSERT_TRUE(result.status.is_ok()) << result.status.message();
    expect_same(result.messages, sent);
  }
}

TEST(RtmpChunkReader, ReadsEachBasicHeaderSizeAcrossChunksOneByteAtATime) {
  for (std::uint32_t csid :
       {2u, 3u, 63u, 64u, 65u, 318u, 319u, 320u, 321u, 1000u, 65598u, 65599u}) {
    ChunkWriter writer(50);
    std::vector<Sent> sent = {message(csid, 5, 120), message(csid, 10, 120), message(csid, 15, 33)};
    ReadResult result = read(write_all(writer, sent), 1, {}, 50);
    ASSERT_TRUE(result.status.is_ok()) << "csid " << csid << ": " << result.status.message();
    expect_same(result.messages, sent);
  }
}

TEST(RtmpChunkReader, AcceptsTheThreeByteBasicHeaderForAnyCsidFrom64) {
  // csid 100 written in the long form, which writers may use for 64..319 too.
  Bytes wire = {0x01,          100 - 64, 0,     // fmt 0, 3-byte basic header
                0x00,          0x00,     0x05,  // timestamp 5
                0x00,          0x00,     0x02,  // length 2
                kMessageAudio,                  // type
                0x01,          0x00,     0x00,
                0x00,  // stream id 1, little endian
                0xAA,          0xBB,     0xC1,
                100 - 64,      0,  // fmt 3, 3-byte form again: a new message, same header
                0xCC,          0xDD};
  ReadResult result = read(wire);
  ASSERT_TRUE(result.status.is_ok()) << result.status.message();
  ASSERT_EQ(result.messages.size(), 2u);
  EXPECT_EQ(result.messages[0].header, header(100, 5, 2, kMessageAudio, 1));
  // Type 3 after type 0 repeats the type 0 timestamp as the delta (spec 5.3.1.2.4).
  EXPECT_EQ(result.messages[1].header, header(100, 10, 2, kMessageAudio, 1));
  EXPECT_EQ(result.messages[1].payload, (Bytes{0xCC, 0xDD}));
}

TEST(RtmpChunkReader, ReadsLittleEndianStreamIds) {
  Bytes wire = {0x03, 0, 0, 0, 0, 0, 1, kMessageCommandAmf0, 0x78, 0x56, 0x34, 0x12, 0x42};
  ReadResult result = read(wire);
  ASSERT_TRUE(result.status.is_ok());
  ASSERT_EQ(result.messages.size(), 1u);
  EXPECT_EQ(result.messages[0].header.stream_id, 0x12345678u);
}

TEST(RtmpChunkReader, ReadsExtendedTimestampsRepeatedOnTypeThreeChunks) {
  ChunkWriter writer(64);
  std::vector<Sent> sent = {
      message(6, 0xFFFFFF, 200),               // exactly the marker: extended
      message(6, 0x1000000, 200),              // type 2, delta 1
      message(7, 0xFFFFFFF0, 150),             // near the top of 32 bits
      message(6, 0x1000000 + 0x2000000, 200),  // delta over 24 bits: extended delta in type 2
  };
  Bytes wire = write_all(writer, sent);
  for (std::size_t step : {0u, 1u, 3u, 17u}) {
    ReadResult result = read(wire, step, {}, 64);
    ASSERT_TRUE(result.status.is_ok()) << result.status.message();
    expect_same(result.messages, sent);
    EXPECT_EQ(result.type3, Type3ExtendedTimestamp::repeated);
  }
}

// A peer that leaves the extended timestamp out of type 3 continuation chunks.
Bytes without_repeated_extended_timestamps(const std::vector<Sent>& messages,
                                           std::uint32_t chunk_size) {
  Bytes wire;
  ChunkWriter writer(chunk_size);
  for (const Sent& m : messages) {
    MessageFraming framing = writer.frame(m.header);
    auto continuation = framing.continuation_header();
    const std::size_t basic =
        continuation.size() > 3 ? continuation.size() - 4 : continuation.size();
    for (const ChunkSegment segment : framing) {
      if (segment.payload_offset == 0)
        wire.insert(wire.end(), segment.header.begin(), segment.header.end());
      else
        wire.insert(wire.end(), continuation.begin(), continuation.begin() + basic);
      wire.insert(wire.end(), m.payload.begin() + segment.payload_offset,
                  m.payload.begin() + segment.payload_offset + segment.payload_length);
    }
  }
  return wire;
}

TEST(RtmpChunkReader, DetectsPeersThatOmitTheExtendedTimestampOnTypeThreeChunks) {
  std::vector<Sent> sent = {message(6, 0x01234567, 300), message(6, 0x01234567 + 40, 300),
                            message(5, 7, 10)};
  Bytes wire = without_repeated_extended_timestamps(sent, 128);
  for (std::size_t step : {0u, 1u, 2u, 5u, 129u}) {
    ReadResult result = read(wire, step);
    ASSERT_TRUE(result.status.is_ok()) << "step " << step << ": " << result.status.message();
    expect_same(result.messages, sent);
    EXPECT_EQ(result.type3, Type3ExtendedTimestamp::omitted);
  }
}

TEST(RtmpChunkReader, DetectsAnOmittedTimestampWhenTheLastChunkIsShorterThanFourBytes) {
  // The look-ahead covers the 1-byte tail of message A, B's type 3 header and B's payload: the
  // gathered bytes must be read again as data and a header.
  const std::uint32_t chunk = 16;
  std::vector<Sent> sent = {message(5, 1, 2, kMessageAudio), message(5, 2, 2, kMessageAudio),
                            message(5, 3, 2, kMessageAudio),  // csid 5 now sends type 3 headers
                            message(4, 0x02000000, chunk + 1)};
  ChunkWriter writer(chunk);
  Bytes wire;
  for (std::size_t i = 0; i < 3; ++i) writer.append(wire, sent[i].header, sent[i].payload);
  Bytes big = without_repeated_extended_timestamps({sent[3]}, chunk);
  wire.insert(wire.end(), big.begin(), big.end());
  sent.push_back(message(5, 4, 2, kMessageAudio));
  Bytes tail;
  writer.append(tail, sent[4].header, sent[4].payload);
  ASSERT_EQ(tail.size(), 3u);  // one type 3 header byte + 2 bytes
  wire.insert(wire.end(), tail.begin(), tail.end());
  for (std::size_t step : {0u, 1u, 2u, 3u}) {
    ReadResult result = read(wire, step, {}, chunk);
    ASSERT_TRUE(result.status.is_ok()) << "step " << step << ": " << result.status.message();
    expect_same(result.messages, sent);
    EXPECT_EQ(result.type3, Type3ExtendedTimestamp::omitted);
  }
}

TEST(RtmpChunkReader, FollowsAForcedTypeThreeTimestampMode) {
  std::vector<Sent> sent = {message(6, 0x01000000, 300)};
  ChunkReaderOptions omitted;
  omitted.type3_extended_timestamp = Type3ExtendedTimestamp::omitted;
  ReadResult a = read(without_repeated_extended_timestamps(sent, 128), 1, omitted);
  ASSERT_TRUE(a.status.is_ok()) << a.status.message();
  expect_same(a.messages, sent);

  ChunkReaderOptions repeated;
  repeated.type3_extended_timestamp = Type3ExtendedTimestamp::repeated;
  ChunkWriter writer;
  ReadResult b = read(write_all(writer, sent), 1, repeated);
  ASSERT_TRUE(b.status.is_ok()) << b.status.message();
  expect_same(b.messages, sent);
}

TEST(RtmpChunkReader, AppliesTimestampDeltasAndWrapsAt32Bits) {
  ChunkWriter writer;
  std::vector<Sent> sent = {message(4, 0xFFFFFF00, 10), message(4, 0xFFFFFF80, 10),
                            message(4, 0xFFFFFFFF, 10)};
  Bytes wire = write_all(writer, sent);
  // Then, by hand, a type 2 delta of 0x100 that wraps past 2^32.
  wire.insert(wire.end(), {0x84, 0x00, 0x01, 0x00});
  Bytes payload = pattern(10, 9);
  wire.insert(wire.end(), payload.begin(), payload.end());
  sent.push_back(Sent{header(4, 0xFF, 10), payload});
  ReadResult result = read(wire);
  ASSERT_TRUE(result.status.is_ok()) << result.status.message();
  expect_same(result.messages, sent);
}

TEST(RtmpChunkReader, ReadsATypeThreeMessageWithTheDeltaOfTheTypeTwoBeforeIt) {
  // fmt 0 ts 10, fmt 2 delta 30, fmt 3, fmt 3: 10, 40, 70, 100.
  Bytes wire = {0x05, 0,    0,    10, 0, 0,  1,    kMessageAudio, 1,    0,    0,
                0,    0x01, 0x85, 0,  0, 30, 0x02, 0xC5,          0x03, 0xC5, 0x04};
  ReadResult result = read(wire);
  ASSERT_TRUE(result.status.is_ok()) << result.status.message();
  ASSERT_EQ(result.messages.size(), 4u);
  EXPECT_EQ(result.messages[0].header.timestamp, 10u);
  EXPECT_EQ(result.messages[1].header.timestamp, 40u);
  EXPECT_EQ(result.messages[2].header.timestamp, 70u);
  EXPECT_EQ(result.messages[3].header.timestamp, 100u);
  EXPECT_EQ(result.messages[3].payload, Bytes{0x04});
}

TEST(RtmpChunkReader, ChangesChunkSizeWhereTheSetChunkSizeMessageIs) {
  ChunkWriter writer;
  std::vector<Sent> sent = {message(4, 0, 1000)};
  Bytes wire = write_all(writer, sent);
  for (std::uint32_t size : {4096u, 1u, 7u, 60000u, kMaxChunkSize}) {
    ControlPayload payload = encode_set_chunk_size(size);
    append_control(wire, writer, kMessageSetChunkSize, payload);
    sent.push_back(Sent{control_header(kMessageSetChunkSize, payload),
                        Bytes(payload.span().begin(), payload.span().end())});
    writer.set_chunk_size(size);
    Sent m = message(4, size, 700 + size % 500);
    writer.append(wire, m.header, m.payload);
    sent.push_back(m);
  }
  for (std::size_t step : {0u, 1u, 100u}) {
    ReadResult result = read(wire, step);
    ASSERT_TRUE(result.status.is_ok()) << result.status.message();
    expect_same(result.messages, sent);
  }
}

TEST(RtmpChunkReader, AbortDropsThePartialMessageOnItsCsid) {
  ChunkWriter writer;
  Sent big = message(6, 0, 1000);
  MessageFraming framing = writer.frame(big.header);
  Bytes wire;
  // Only the first two chunks of the big message.
  for (std::uint32_t i = 0; i < 2; ++i) {
    ChunkSegment s = framing.segment(i);
    wire.insert(wire.end(), s.header.begin(), s.header.end());
    wire.insert(wire.end(), big.payload.begin() + s.payload_offset,
                big.payload.begin() + s.payload_offset + s.payload_length);
  }
  Sent audio = message(4, 3, 50, kMessageAudio);
  writer.append(wire, audio.header, audio.payload);
  ControlPayload abort = encode_abort(6);
  append_control(wire, writer, kMessageAbort, abort);
  Sent after = message(6, 80, 300);
  writer.append(wire, after.header, after.payload, HeaderCompression::none);

  std::vector<Sent> expected = {
      audio,
      Sent{control_header(kMessageAbort, abort), Bytes(abort.span().begin(), abort.span().end())},
      after};
  for (std::size_t step : {0u, 1u}) {
    ReadResult result = read(wire, step);
    ASSERT_TRUE(result.status.is_ok()) << result.status.message();
    expect_same(result.messages, expected);
    EXPECT_EQ(result.aborted, 1u);
  }
}

TEST(RtmpChunkReader, AbortBetweenFeedsDiscardsTheRestOfTheCurrentChunk) {
  ChunkWriter writer;
  Sent big = message(6, 0, 100);
  Bytes wire = write_all(writer, {big});
  Sent next = message(6, 10, 5);
  writer.append(wire, next.header, next.payload, HeaderCompression::none);

  VectorSink sink;
  ChunkReader reader(sink);
  ASSERT_TRUE(reader.feed(std::span(wire).first(40)).is_ok());
  reader.abort(6);
  reader.abort(6);   // nothing open any more
  reader.abort(99);  // never seen
  ASSERT_TRUE(reader.feed(std::span(wire).subspan(40)).is_ok());
  EXPECT_EQ(sink.aborted_count(), 1u);
  ASSERT_EQ(sink.messages().size(), 1u);
  EXPECT_EQ(sink.messages()[0].header, next.header);
}

TEST(RtmpChunkReader, ReadsMessagesInterleavedOnSeveralCsids) {
  ChunkWriter writer;
  Bytes wire;
  ControlPayload chunk_size = encode_set_chunk_size(100);
  append_control(wire, writer, kMessageSetChunkSize, chunk_size);
  writer.set_chunk_size(100);
  std::vector<Sent> expected = {Sent{control_header(kMessageSetChunkSize, chunk_size),
                                     Bytes(chunk_size.span().begin(), chunk_size.span().end())}};

  std::vector<Sent> sent = {message(4, 0, 450, kMessageAudio), message(6, 0, 1000),
                            message(8, 0, 250, kMessageDataAmf0), message(65000, 0, 320)};
  std::vector<MessageFraming> framings;
  for (const Sent& m : sent) framings.push_back(writer.frame(m.header));
  // Round robin, one chunk of each in turn, like a peer sending audio inside a video frame.
  std::vector<std::uint32_t> next(sent.size(), 0);
  for (bool any = true; any;) {
    any = false;
    for (std::size_t i = 0; i < sent.size(); ++i) {
      if (next[i] == framings[i].chunk_count()) continue;
      ChunkSegment s = framings[i].segment(next[i]++);
      wire.insert(wire.end(), s.header.begin(), s.header.end());
      wire.insert(wire.end(), sent[i].payload.begin() + s.payload_offset,
                  sent[i].payload.begin() + s.payload_offset + s.payload_length);
      if (next[i] == framings[i].chunk_count()) expected.push_back(sent[i]);
      any = true;
    }
  }
  ASSERT_EQ(expected.size(), 5u);
  EXPECT_EQ(expected[1].header.chunk_stream_id, 8u);  // the shortest completes first
  for (std::size_t step : {0u, 1u, 7u}) {
    ReadResult result = read(wire, step);
    ASSERT_TRUE(result.status.is_ok()) << result.status.message();
    expect_same(result.messages, expected);
  }
}

TEST(RtmpChunkReader, GivesTheSameMessagesWhateverTheFeedSizes) {
  ChunkWriter writer;
  std::vector<Sent> sent;
  Bytes wire;
  std::uint32_t ts = 0;
  for (int i = 0; i < 60; ++i) {
    ts += static_cast<std::uint32_t>(i % 4 == 0 ? 0x01000000 : 33);
    Sent m =
        message(static_cast<std::uint32_t>(3 + i % 5 * 80), ts,
                static_cast<std::uint32_t>((i * 97) % 700), static_cast<std::uint8_t>(8 + i % 2));
    writer.append(wire, m.header, m.payload);
    sent.push_back(m);
    if (i == 20 || i == 40) {
      ControlPayload payload = encode_set_chunk_size(i == 20 ? 77 : 4096);
      append_control(wire, writer, kMessageSetChunkSize, payload);
      sent.push_back(Sent{control_header(kMessageSetChunkSize, payload),
                          Bytes(payload.span().begin(), payload.span().end())});
      writer.set_chunk_size(i == 20 ? 77 : 4096);
    }
  }
  ReadResult whole = read(wire);
  ASSERT_TRUE(whole.status.is_ok()) << whole.status.message();
  expect_same(whole.messages, sent);
  for (std::size_t step = 1; step <= 20; ++step) {
    ReadResult result = read(wire, step);
    ASSERT_TRUE(result.status.is_ok()) << "step " << step << ": " << result.status.message();
    expect_same(result.messages, sent);
  }
}

TEST(RtmpChunkReader, DeliversAnEmptyMessage) {
  ChunkWriter writer;
  std::vector<Sent> sent = {message(3, 0, 0, kMessageDataAmf0), message(3, 0, 0, kMessageDataAmf0),
                            message(3, 5, 1, kMessageDataAmf0)};
  ReadResult result = read(write_all(writer, sent), 1);
  ASSERT_TRUE(result.status.is_ok()) << result.status.message();
  expect_same(result.messages, sent);
}

TEST(RtmpChunkReader, CountsTheBytesItConsumed) {
  ChunkWriter writer;
  Bytes wire = write_all(writer, {message(3, 0, 300)});
  VectorSink sink;
  ChunkReader reader(sink);
  ASSERT_TRUE(reader.feed(std::span(wire).first(5)).is_ok());
  EXPECT_EQ(reader.bytes_consumed(), 5u);
  ASSERT_TRUE(reader.feed(std::span(wire).subspan(5)).is_ok());
  EXPECT_EQ(reader.bytes_consumed(), wire.size());
  EXPECT_EQ(reader.chunk_stream_count(), 1u);
}

TEST(RtmpChunkReader, RejectsAMessageOverTheLengthLimitNamingCsidAndOffset) {
  ChunkWriter writer;
  Bytes wire = write_all(writer, {message(3, 0, 10), message(9, 0, 2000)});
  ChunkReaderOptions options;
  options.max_message_bytes = 1000;
  ReadResult result = read(wire, 0, options);
  EXPECT_EQ(result.status.code(), Errc::limit);
  EXPECT_NE(result.status.message().find("csid 9"), std::string::npos) << result.status.message();
  EXPECT_NE(result.status.message().find("byte offset 22"), std::string::npos)
      << result.status.message();
  EXPECT_EQ(result.messages.size(), 1u);
}

TEST(RtmpChunkReader, RejectsMoreChunkStreamsThanTheLimit) {
  ChunkWriter writer;
  std::vector<Sent> sent;
  for (std::uint32_t csid = 3; csid < 3 + 5; ++csid) sent.push_back(message(csid, 0, 1));
  ChunkReaderOptions options;
  options.max_chunk_streams = 4;
  ReadResult result = read(write_all(writer, sent), 0, options);
  EXPECT_EQ(result.status.code(), Errc::limit);
  EXPECT_NE(result.status.message().find("csid 7"), std::string::npos) << result.status.message();
  EXPECT_EQ(result.messages.size(), 4u);
}

TEST(RtmpChunkReader, RejectsACompressedHeaderOnACsidNeverSeen) {
  for (std::uint8_t first : {std::uint8_t{0x44}, std::uint8_t{0x84}, std::uint8_t{0xC4}}) {
    Bytes wire = {first, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0};
    ReadResult result = read(wire);
    EXPECT_EQ(result.status.code(), Errc::malformed);
    EXPECT_NE(result.status.message().find("csid 4 at byte offset 0"), std::string::npos)
        << result.status.message();
  }
}

TEST(RtmpChunkReader, RejectsANewMessageHeaderWhileTheLastIsUnfinished) {
  Bytes wire = {0x04, 0, 0, 0, 0, 0, 200, 9, 1, 0, 0, 0};
  Bytes data(128, 0x11);
  wire.insert(wire.end(), data.begin(), data.end());
  wire.insert(wire.end(), {0x84, 0, 0, 1});  // fmt 2 on csid 4 with 72 bytes still to come
  ReadResult result = read(wire);
  EXPECT_EQ(result.status.code(), Errc::malformed);
  EXPECT_NE(result.status.message().find("csid 4 at byte offset 140"), std::string::npos)
      << result.status.message();
}

class RefusingSink final : public ChunkSink {
 public:
  std::span<std::uint8_t> begin_message(const MessageHeader&) noexcept override { return {}; }
  Status end_message(const MessageHeader&, std::span<std::uint8_t>) noexcept override {
    return ok();
  }
};

TEST(RtmpChunkReader, FailsWhenTheSinkRefusesStorage) {
  ChunkWriter writer;
  Bytes wire = write_all(writer, {message(3, 0, 10)});
  RefusingSink sink;
  ChunkReader reader(sink);
  EXPECT_EQ(reader.feed(wire).code(), Errc::limit);
}

class FailingSink final : public ChunkSink {
 public:
  std::span<std::uint8_t> begin_message(const MessageHeader& h) noexcept override {
    storage.resize(h.length);
    return storage;
  }
  Status end_message(const MessageHeader&, std::span<std::uint8_t>) noexcept override {
    ++ended;
    return error(Errc::denied, "no thanks");
  }
  Bytes storage;
  int ended = 0;
};

TEST(RtmpChunkReader, StopsAtTheSinksErrorAndKeepsReturningIt) {
  ChunkWriter writer;
  Bytes wire = write_all(writer, {message(3, 0, 10), message(3, 1, 10)});
  FailingSink sink;
  ChunkReader reader(sink);
  Status first = reader.feed(wire);
  EXPECT_EQ(first.code(), Errc::denied);
  EXPECT_EQ(sink.ended, 1);
  EXPECT_EQ(reader.feed(wire), first);
  EXPECT_EQ(sink.ended, 1);
}

TEST(RtmpChunkReader, RejectsChunkSizesOutsideTheSpec) {
  VectorSink sink;
  ChunkReader reader(sink);
  EXPECT_EQ(reader.set_chunk_size(0).code(), Errc::malformed);
  EXPECT_EQ(reader.set_chunk_size(0x80000000u).code(), Errc::malformed);
  EXPECT_EQ(reader.chunk_size(), kDefaultChunkSize);
  EXPECT_TRUE(reader.set_chunk_size(1).is_ok());
  EXPECT_TRUE(reader.set_chunk_size(kMaxChunkSize).is_ok());
  EXPECT_EQ(reader.chunk_size(), kMaxChunkSize);
}

TEST(RtmpChunkReader, FailsOnABadSetChunkSizeMessageFromThePeer) {
  ChunkWriter writer;
  Bytes wire;
  const Bytes zero = {0, 0, 0, 0};
  writer.append(wire, header(2, 0, 4, kMessageSetChunkSize, 0), zero);
  ReadResult result = read(wire);
  EXPECT_EQ(result.status.code(), Errc::malformed);
}

}  // namespace
}  // namespace weir::formats::rtmp
