// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/rtp_packet.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace weir::formats::rtp {
namespace {

using Bytes = std::vector<std::uint8_t>;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(RtpPacket, WritesAndParsesTheFixedHeader) {
  RtpHeader header;
  header.marker = true;
  header.payload_type = 96;
  header.sequence = 0xfffe;
  header.timestamp = 0x89abcdef;
  header.ssrc = 0x11223344;
  std::array<std::uint8_t, 14> packet{};
  write_rtp_header(header, std::span<std::uint8_t, 12>(packet.data(), 12));
  packet[12] = 0x65;
  packet[13] = 0x88;
  EXPECT_EQ(Bytes(packet.begin(), packet.begin() + 12),
            (Bytes{0x80, 0xe0, 0xff, 0xfe, 0x89, 0xab, 0xcd, 0xef, 0x11, 0x22, 0x33, 0x44}));
  auto parsed = parse_rtp(packet);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_TRUE(parsed->header.marker);
  EXPECT_EQ(parsed->header.payload_type, 96);
  EXPECT_EQ(parsed->header.sequence, 0xfffe);
  EXPECT_EQ(parsed->header.timestamp, 0x89abcdefu);
  EXPECT_EQ(parsed->header.ssrc, 0x11223344u);
  EXPECT_EQ(Bytes(parsed->payload.begin(), parsed->payload.end()), (Bytes{0x65, 0x88}));
}

TEST(RtpPacket, SkipsCsrcsAndHeaderExtensionAndStripsPadding) {
  // V=2 P X CC=2, PT 97; 2 CSRCs; extension profile 0xbede with 1 word; payload 3 bytes; 2 padding.
  Bytes packet = {0xb2, 0x61, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,  // fixed header
                  0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb,  // CSRCs
                  0xbe, 0xde, 0x00, 0x01, 0x10, 0x20, 0x30, 0x40,  // extension
                  7, 8, 9, 0x00, 0x02};
  auto parsed = parse_rtp(packet);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->header.csrc_count, 2);
  EXPECT_TRUE(parsed->header.has_extension);
  EXPECT_TRUE(parsed->header.has_padding);
  EXPECT_EQ(Bytes(parsed->payload.begin(), parsed->payload.end()), (Bytes{7, 8, 9}));
}

TEST(RtpPacket, NamesTheBrokenFieldAndOffset) {
  auto short_packet = parse_rtp(Bytes{0x80, 0x60, 0, 1});
  ASSERT_FALSE(short_packet);
  EXPECT_EQ(short_packet.error().code(), Errc::malformed);

  auto version = parse_rtp(Bytes{0x40, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0});
  ASSERT_FALSE(version);
  EXPECT_TRUE(contains(version.error().message(), "version 1 at offset 0")) << version.error().message();

  auto csrc = parse_rtp(Bytes{0x83, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4});
  ASSERT_FALSE(csrc);
  EXPECT_TRUE(contains(csrc.error().message(), "csrc list of 3")) << csrc.error().message();

  auto extension = parse_rtp(Bytes{0x90, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 9, 1, 2, 3, 4});
  ASSERT_FALSE(extension);
  EXPECT_TRUE(contains(extension.error().message(), "extension length 9 words at offset 14"))
      << extension.error().message();

  auto padding = parse_rtp(Bytes{0xa0, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 9});
  ASSERT_FALSE(padding);
  EXPECT_TRUE(contains(padding.error().message(), "padding count 9 at offset 14")) << padding.error().message();

  auto zero_padding = parse_rtp(Bytes{0xa0, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_FALSE(zero_padding);
}

TEST(RtpPacket, AcceptsAnEmptyPayload) {
  auto parsed = parse_rtp(Bytes{0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0});
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->payload.empty());
}

TEST(RtpPacket, SequenceDeltaWrapsAt65536) {
  EXPECT_EQ(sequence_delta(65535, 0), 1);
  EXPECT_EQ(sequence_delta(0, 65535), -1);
  EXPECT_EQ(sequence_delta(100, 164), 64);
  EXPECT_EQ(sequence_delta(65500, 30), 66);
}

}  // namespace
}  // namespace weir::formats::rtp
