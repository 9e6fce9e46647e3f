// SPDX-License-Identifier: Apache-2.0
#include "formats/flv/flv_file.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace weir::formats::flv {
namespace {

using Bytes = std::vector<std::uint8_t>;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// header, PTS0, then a video tag of 3 bytes at 0x01020304 ms, then an audio tag of 2 bytes.
Bytes two_tag_file() {
  return {
      'F', 'L', 'V', 1, 0x05, 0, 0, 0, 9,  // header: audio + video
      0, 0, 0, 0,                          // PreviousTagSize0
      9, 0, 0, 3, 0x02, 0x03, 0x04, 0x01, 0, 0, 0,  // video, size 3, ts 0x01020304
      0x17, 0x01, 0xAA,                    // body
      0, 0, 0, 14,                         // PreviousTagSize
      8, 0, 0, 2, 0, 0, 40, 0, 0, 0, 0,    // audio, size 2, ts 40
      0xAF, 0x01,                          // body
      0, 0, 0, 13,                         // PreviousTagSize
  };
}

struct Collected {
  std::vector<TagType> types;
  std::vector<std::uint32_t> timestamps;
  std::vector<Bytes> bodies;
  std::vector<std::uint64_t> offsets;
};

// Feeds `file` in pieces of `step` bytes and collects every tag; fails the test on an error.
Collected read_all(const Bytes& file, std::size_t step, FlvReaderOptions options = {}) {
  Collected out;
  FlvReader reader(options);
  for (std::size_t at = 0; at < file.size(); at += step) {
    std::size_t n = std::min(step, file.size() - at);
    reader.feed(std::span<const std::uint8_t>(file.data() + at, n));
    while (true) {
      auto tag = reader.next();
      EXPECT_TRUE(tag.has_value()) << tag.error().message();
      if (!tag || !*tag) break;
      out.types.push_back((*tag)->type);
      out.timestamps.push_back((*tag)->timestamp_ms);
      out.bodies.emplace_back((*tag)->body.begin(), (*tag)->body.end());
      out.offsets.push_back((*tag)->file_offset);
    }
  }
  EXPECT_TRUE(reader.finish().is_ok()) << reader.finish().message();
  return out;
}

TEST(FlvFileHeader, ParsesSignatureVersionFlagsAndSize) {
  Bytes bytes = {'F', 'L', 'V', 1, 0x04, 0, 0, 0, 9};
  auto header = parse_file_header(bytes);
  ASSERT_TRUE(header) << header.error().message();
  EXPECT_EQ(header->version, 1);
  EXPECT_TRUE(header->has_audio);
  EXPECT_FALSE(header->has_video);
  EXPECT_EQ(header->header_size, 9u);
}

TEST(FlvFileHeader, WritesWhatItParses) {
  FileHeader header;
  header.has_audio = false;
  header.has_video = true;
  std::array<std::uint8_t, kFileHeaderSize> bytes{};
  write_file_header(header, bytes);
  EXPECT_EQ(bytes, (std::array<std::uint8_t, 9>{'F', 'L', 'V', 1, 0x01, 0, 0, 0, 9}));
  auto back = parse_file_header(bytes);
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->has_audio);
  EXPECT_TRUE(back->has_video);
}

TEST(FlvFileHeader, RejectsABadSignatureNamingTheOffset) {
  Bytes bytes = {'F', 'L', 'X', 1, 0x05, 0, 0, 0, 9};
  auto header = parse_file_header(bytes);
  ASSERT_FALSE(header);
  EXPECT_EQ(header.error().code(), Errc::malformed);
  EXPECT_TRUE(contains(header.error().message(), "offset 0")) << header.error().message();
}

TEST(FlvFileHeader, RejectsAHeaderSizeBelowNine) {
  Bytes bytes = {'F', 'L', 'V', 1, 0x05, 0, 0, 0, 8};
  auto header = parse_file_header(bytes);
  ASSERT_FALSE(header);
  EXPECT_TRUE(contains(header.error().message(), "offset 5")) << header.error().message();
}

TEST(FlvFileHeader, RejectsReservedFlagBitsAndShortInput) {
  EXPECT_FALSE(parse_file_header(Bytes{'F', 'L', 'V', 1, 0x85, 0, 0, 0, 9}));
  EXPECT_FALSE(parse_file_header(Bytes{'F', 'L', 'V', 1, 0x05, 0, 0, 0}));
}

TEST(FlvTagHeader, ReadsTheExtendedTimestampAsTheHighByte) {
  Bytes bytes = {18, 0x00, 0x01, 0x00, 0xAB, 0xCD, 0xEF, 0x7F, 0, 0, 1};
  auto header = parse_tag_header(bytes);
  ASSERT_TRUE(header) << header.error().message();
  EXPECT_EQ(header->type, TagType::script);
  EXPECT_EQ(header->data_size, 256u);
  EXPECT_EQ(header->timestamp_ms, 0x7FABCDEFu);
  EXPECT_EQ(header->stream_id, 1u);
}

TEST(FlvTagHeader, RoundTripsThroughTheWriter) {
  TagHeader header;
  header.type = TagType::audio;
  header.data_size = 0xFFFFFF;
  header.timestamp_ms = 0xFF000001;
  std::array<std::uint8_t, kTagHeaderSize> bytes{};
  ASSERT_TRUE(write_tag_header(header, bytes).is_ok());
  auto back = parse_tag_header(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->type, TagType::audio);
  EXPECT_EQ(back->data_size, 0xFFFFFFu);
  EXPECT_EQ(back->timestamp_ms, 0xFF000001u);
}

TEST(FlvTagHeader, WriterRefusesASizeBeyondTwentyFourBits) {
  TagHeader header;
  header.data_size = kMaxTagDataSize + 1;
  std::array<std::uint8_t, kTagHeaderSize> bytes{};
  EXPECT_EQ(write_tag_header(header, bytes).code(), Errc::limit);
}

TEST(FlvTagHeader, RejectsUnknownTypesAndEncryptedTagsNamingTheOffset) {
  auto unknown = parse_tag_header(Bytes{7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 1234);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), Errc::malformed);
  EXPECT_TRUE(contains(unknown.error().message(), "offset 1234")) << unknown.error().message();
  auto encrypted = parse_tag_header(Bytes{0x29, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  ASSERT_FALSE(encrypted);
  EXPECT_EQ(encrypted.error().code(), Errc::unsupported);
}

TEST(FlvReader, YieldsTagsWithTimestampsBodiesAndOffsets) {
  Collected tags = read_all(two_tag_file(), 1 << 20);
  ASSERT_EQ(tags.types.size(), 2u);
  EXPECT_EQ(tags.types[0], TagType::video);
  EXPECT_EQ(tags.timestamps[0], 0x01020304u);
  EXPECT_EQ(tags.bodies[0], (Bytes{0x17, 0x01, 0xAA}));
  EXPECT_EQ(tags.offsets[0], 13u);
  EXPECT_EQ(tags.types[1], TagType::audio);
  EXPECT_EQ(tags.timestamps[1], 40u);
  EXPECT_EQ(tags.bodies[1], (Bytes{0xAF, 0x01}));
  EXPECT_EQ(tags.offsets[1], 13u + 11 + 3 + 4);
}

TEST(FlvReader, GivesTheSameTagsWhateverTheFeedSize) {
  Bytes file = two_tag_file();
  Collected whole = read_all(file, file.size());
  for (std::size_t step : {1u, 2u, 3u, 7u, 14u}) {
    Collected pieces = read_all(file, step);
    EXPECT_EQ(pieces.bodies, whole.bodies) << "step " << step;
    EXPECT_EQ(pieces.offsets, whole.offsets) << "step " << step;
    EXPECT_EQ(pieces.timestamps, whole.timestamps) << "step " << step;
  }
}

TEST(FlvReader, AsksForMoreBytesUntilATagIsComplete) {
  Bytes file = two_tag_file();
  FlvReader reader;
  reader.feed(std::span<const std::uint8_t>(file.data(), 13 + 11 + 2));
  auto tag = reader.next();
  ASSERT_TRUE(tag);
  EXPECT_FALSE(tag->has_value());
  EXPECT_TRUE(reader.file_header().has_value());
  EXPECT_EQ(reader.offset(), 9u);
  EXPECT_EQ(reader.finish().code(), Errc::malformed);
}

TEST(FlvReader, SkipsHeaderPadding) {
  Bytes file = {'F', 'L', 'V', 1, 0x01, 0, 0, 0, 12, 0xEE, 0xEE, 0xEE, 0, 0, 0, 0,
                18, 0, 0, 1, 0, 0, 5, 0, 0, 0, 0, 0x02, 0, 0, 0, 12};
  Collected tags = read_all(file, 2);
  ASSERT_EQ(tags.types.size(), 1u);
  EXPECT_EQ(tags.types[0], TagType::script);
  EXPECT_EQ(tags.timestamps[0], 5u);
  EXPECT_EQ(tags.offsets[0], 16u);
}

TEST(FlvReader, ReportsABadSignatureAtTheFirstWrongByte) {
  FlvReader reader;
  Bytes bytes = {'F', 'X'};
  reader.feed(bytes);
  auto tag = reader.next();
  ASSERT_FALSE(tag);
  EXPECT_EQ(tag.error().code(), Errc::malformed);
  EXPECT_TRUE(contains(tag.error().message(), "offset 1")) << tag.error().message();
  // The error sticks.
  reader.feed(bytes);
  EXPECT_FALSE(reader.next());
}

TEST(FlvReader, ReportsAPreviousTagSizeMismatchWithBothOffsets) {
  Bytes file = two_tag_file();
  file[13 + 11 + 3 + 3] = 15;  // PreviousTagSize after the video tag: 15 instead of 14
  FlvReader reader;
  reader.feed(file);
  auto first = reader.next();
  ASSERT_TRUE(first && *first);
  auto second = reader.next();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::malformed);
  const std::string& message = second.error().message();
  EXPECT_TRUE(contains(message, "previous tag size 15 at offset 27")) << message;
  EXPECT_TRUE(contains(message, "tag at offset 13 is 14 bytes")) << message;
}

TEST(FlvReader, ToleratesAPreviousTagSizeMismatchWhenTold) {
  Bytes file = two_tag_file();
  file[13 + 11 + 3 + 3] = 3;  // some muxers wrote the body size only
  FlvReaderOptions options;
  options.check_previous_tag_size = false;
  Collected tags = read_all(file, 5, options);
  EXPECT_EQ(tags.types.size(), 2u);
}

TEST(FlvReader, RejectsANonZeroFirstPreviousTagSize) {
  Bytes file = two_tag_file();
  file[12] = 1;
  FlvReader reader;
  reader.feed(file);
  auto tag = reader.next();
  ASSERT_FALSE(tag);
  EXPECT_TRUE(contains(tag.error().message(), "offset 9")) << tag.error().message();
}

TEST(FlvReader, RejectsATagOverTheLimitBeforeItsBodyArrives) {
  Bytes file = two_tag_file();
  file.resize(13 + 11);
  file[14] = 0x10;  // data size 0x100003
  FlvReaderOptions options;
  options.max_tag_data_size = 0x100000;
  FlvReader reader(options);
  reader.feed(file);
  auto tag = reader.next();
  ASSERT_FALSE(tag);
  EXPECT_EQ(tag.error().code(), Errc::limit);
  EXPECT_TRUE(contains(tag.error().message(), "offset 13")) << tag.error().message();
  EXPECT_TRUE(contains(tag.error().message(), "1048579 bytes")) << tag.error().message();
}

TEST(FlvReader, FinishNamesTheTruncatedTag) {
  Bytes file = two_tag_file();
  file.resize(file.size() - 5);  // cut into the audio body
  FlvReader reader;
  reader.feed(file);
  while (true) {
    auto tag = reader.next();
    ASSERT_TRUE(tag);
    if (!*tag) break;
  }
  Status status = reader.finish();
  EXPECT_EQ(status.code(), Errc::malformed);
  EXPECT_TRUE(contains(status.message(), "audio tag at offset 31 truncated: 1 of 2")) << status.message();
}

TEST(FlvReader, FinishAcceptsAFileWithoutTheLastPreviousTagSize) {
  Bytes file = two_tag_file();
  file.resize(file.size() - 4);
  EXPECT_EQ(read_all(file, 3).types.size(), 2u);
}

TEST(FlvReader, FinishRejectsEmptyInput) {
  FlvReader reader;
  EXPECT_EQ(reader.finish().code(), Errc::malformed);
}

TEST(FlvReader, ReadsFromATagBoundaryWithoutAFileHeader) {
  Bytes file = two_tag_file();
  Bytes tail(file.begin() + 13 + 11 + 3, file.end());  // from the PreviousTagSize of the video tag
  FlvReaderOptions options;
  options.expect_file_header = false;
  Collected tags = read_all(tail, 4, options);
  ASSERT_EQ(tags.types.size(), 1u);
  EXPECT_EQ(tags.types[0], TagType::audio);
  EXPECT_EQ(tags.offsets[0], 4u);
}

TEST(FlvReader, BuffersNoMoreThanOnePartialTag) {
  Bytes file = two_tag_file();
  FlvReader reader;
  for (std::uint8_t byte : file) {
    reader.feed(std::span<const std::uint8_t>(&byte, 1));
    while (true) {
      auto tag = reader.next();
      ASSERT_TRUE(tag);
      if (!*tag) break;
    }
    EXPECT_LE(reader.buffered_bytes(), kPreviousTagSizeBytes + kTagHeaderSize + 3);
  }
  EXPECT_EQ(reader.offset() + reader.buffered_bytes(), file.size());
}

TEST(FlvWriter, WritesAFileTheReaderReadsBack) {
  FlvWriter writer;
  FileHeader header;
  header.has_audio = true;
  header.has_video = true;
  writer.write_header(header);
  Bytes video = {0x17, 0x01, 0xAA};
  Bytes audio = {0xAF, 0x01};
  ASSERT_TRUE(writer.write_tag(TagType::video, 0x01020304, video).is_ok());
  ASSERT_TRUE(writer.write_tag(TagType::audio, 40, audio).is_ok());
  EXPECT_EQ(writer.bytes(), two_tag_file());
}

TEST(FlvWriter, JoinsPiecesIntoOneTagBody) {
  FlvWriter writer;
  Bytes head = {0x17, 0x01};
  Bytes tail = {0xAA};
  ASSERT_TRUE(writer.write_tag(TagType::video, 7, {head, tail}).is_ok());
  Bytes bytes = writer.take();
  EXPECT_TRUE(writer.bytes().empty());
  ASSERT_EQ(bytes.size(), 11u + 3 + 4);
  EXPECT_EQ(bytes[3], 3);                    // data size
  EXPECT_EQ(bytes[11 + 3 + 3], 14);          // PreviousTagSize
  EXPECT_EQ((Bytes{bytes.begin() + 11, bytes.begin() + 14}), (Bytes{0x17, 0x01, 0xAA}));
}

TEST(FlvWriter, RefusesATagBodyOverTheFormatLimit) {
  FlvWriter writer;
  Bytes big(kMaxTagDataSize + 1);
  Status status = writer.write_tag(TagType::video, 0, big);
  EXPECT_EQ(status.code(), Errc::limit);
  EXPECT_TRUE(writer.bytes().empty());
}

}  // namespace
}  // namespace weir::formats::flv
