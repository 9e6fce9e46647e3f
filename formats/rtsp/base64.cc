// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/base64.h"

namespace weir::formats::rtsp {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char ch) noexcept {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9') return ch - '0' + 52;
  if (ch == '+') return 62;
  if (ch == '/') return 63;
  return -1;
}

}  // namespace

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group = static_cast<std::uint32_t>(bytes[i]) << 16 |
                                static_cast<std::uint32_t>(bytes[i + 1]) << 8 | bytes[i + 2];
    out += kAlphabet[group >> 18 & 63];
    out += kAlphabet[group >> 12 & 63];
    out += kAlphabet[group >> 6 & 63];
    out += kAlphabet[group & 63];
  }
  const std::size_t left = bytes.size() - i;
  if (left > 0) {
    std::uint32_t group = static_cast<std::uint32_t>(bytes[i]) << 16;
    if (left == 2) group |= static_cast<std::uint32_t>(bytes[i + 1]) << 8;
    out += kAlphabet[group >> 18 & 63];
    out += kAlphabet[group >> 12 & 63];
    out += left == 2 ? kAlphabet[group >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::string base64_encode(std::string_view text) {
  return base64_encode(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

Result<std::vector<std::uint8_t>> base64_decode(std::string_view text, std::size_t max_bytes) {
  std::size_t length = text.size();
  if (length % 4 == 0 && length > 0 && text[length - 1] == '=') {
    --length;
    if (text[length - 1] == '=') --length;
  }
  if (length % 4 == 1)
    return error(Errc::malformed, "base64: {} characters cannot be base64", length);
  const std::size_t decoded = length / 4 * 3 + (length % 4 == 0 ? 0 : length % 4 - 1);
  if (decoded > max_bytes)
    return error(Errc::limit, "base64: {} decoded bytes over the limit of {}", decoded, max_bytes);
  std::vector<std::uint8_t> out;
  out.reserve(decoded);
  std::uint32_t group = 0;
  int bits = 0;
  for (std::size_t i = 0; i < length; ++i) {
    const int value = sextet(text[i]);
    if (value < 0)
      return error(Errc::malformed, "base64: bad character {} at offset {}",
                   static_cast<unsigned char>(text[i]), i);
    group = (group << 6 | static_cast<std::uint32_t>(value)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(group >> bits));
    }
  }
  return out;
}

}  // namespace weir::formats::rtsp
