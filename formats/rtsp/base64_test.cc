// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/base64.h"

#include <gtest/gtest.h>

namespace weir::formats::rtsp {
namespace {

std::string text_of(const std::vector<std::uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

TEST(Base64, EncodesTheRfc4648TestVectors) {
  EXPECT_EQ(base64_encode(std::string_view("")), "");
  EXPECT_EQ(base64_encode(std::string_view("f")), "Zg==");
  EXPECT_EQ(base64_encode(std::string_view("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(std::string_view("foo")), "Zm9v");
  EXPECT_EQ(base64_encode(std::string_view("foob")), "Zm9vYg==");
  EXPECT_EQ(base64_encode(std::string_view("fooba")), "Zm9vYmE=");
  EXPECT_EQ(base64_encode(std::string_view("foobar")), "Zm9vYmFy");
}

TEST(Base64, DecodesPaddedAndUnpaddedText) {
  EXPECT_EQ(text_of(*base64_decode("Zm9vYmE=")), "fooba");
  EXPECT_EQ(text_of(*base64_decode("Zm9vYmE")), "fooba");
  EXPECT_EQ(text_of(*base64_decode("Zm9vYg==")), "foob");
  EXPECT_EQ(text_of(*base64_decode("Zm9vYg")), "foob");
  EXPECT_EQ(text_of(*base64_decode("")), "");
  // Basic credentials ffmpeg sent (testdata/ffmpeg_record_basic.bin).
  EXPECT_EQ(text_of(*base64_decode("Ym9iOnBhOnNz")), "bob:pa:ss");
}

TEST(Base64, RoundTripsEveryByte) {
  std::vector<std::uint8_t> bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<std::uint8_t>(i));
  for (std::size_t n = 0; n <= bytes.size(); n += 37) {
    std::vector<std::uint8_t> part(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(*base64_decode(base64_encode(part)), part);
  }
}

TEST(Base64, RefusesCharactersOutsideTheAlphabetNamingTheOffset) {
  for (const char* text :
       {"Zm9v YmFy", "Zm9v\nYmFy", "Zm9v-_", "Zg=a", "Z===", "=", "Zm9vY", "Zg=", "Zm=vYg=="}) {
    auto decoded = base64_decode(text);
    EXPECT_FALSE(decoded) << text;
    if (!decoded) {
      EXPECT_EQ(decoded.error().code(), Errc::malformed) << text;
    }
  }
  EXPECT_NE(base64_decode("Zm9v*mFy").error().message().find("offset 4"), std::string::npos);
}

TEST(Base64, RefusesMoreThanTheLimitBeforeDecoding) {
  auto decoded = base64_decode(std::string(4000, 'A'), 100);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code(), Errc::limit);
  EXPECT_TRUE(base64_decode("Zm9vYmFy", 6));
  EXPECT_FALSE(base64_decode("Zm9vYmFy", 5));
}

}  // namespace
}  // namespace weir::formats::rtsp
