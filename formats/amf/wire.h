// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Internal to formats/amf: big-endian fields in and out, and the cursor's bookkeeping.
/// Readers check remaining() before every get_*/take.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "formats/amf/amf3.h"
#include "weir/status.h"

namespace weir::formats::amf::detail {

/// Bytes left after the cursor.
inline std::size_t remaining(const ReadCursor& c) noexcept { return c.input.size() - c.pos; }

inline std::uint8_t get_u8(ReadCursor& c) noexcept { return c.input[c.pos++]; }

inline std::uint16_t get_u16(ReadCursor& c) noexcept {
  auto v = static_cast<std::uint16_t>((c.input[c.pos] << 8) | c.input[c.pos + 1]);
  c.pos += 2;
  return v;
}

inline std::uint32_t get_u32(ReadCursor& c) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | c.input[c.pos++];
  return v;
}

inline double get_double(ReadCursor& c) noexcept {
  std::uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits = (bits << 8) | c.input[c.pos++];
  return std::bit_cast<double>(bits);
}

/// The next `n` bytes as text (a view into the input).
inline std::string_view take(ReadCursor& c, std::size_t n) noexcept {
  std::string_view s(reinterpret_cast<const char*>(c.input.data() + c.pos), n);
  c.pos += n;
  return s;
}

/// Counts `bytes` of built output against Limits::max_output_bytes.
inline Status charge(ReadCursor& c, std::size_t bytes, std::string_view format, std::size_t at) {
  c.output_bytes += bytes;
  if (c.output_bytes <= c.limits.max_output_bytes) return ok();
  return error(Errc::limit, "{} value at offset {} grows the output past the limit of {} bytes",
               format, at, c.limits.max_output_bytes);
}

inline void put_u8(std::vector<std::uint8_t>& out, std::uint8_t v) { out.push_back(v); }

inline void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

inline void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

inline void put_double(std::vector<std::uint8_t>& out, double d) {
  auto bits = std::bit_cast<std::uint64_t>(d);
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(bits >> shift));
}

inline void put_text(std::vector<std::uint8_t>& out, std::string_view text) {
  out.insert(out.end(), text.begin(), text.end());
}

/// "0x1f": a marker byte in error messages.
inline std::string hex_byte(std::uint8_t b) {
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string{'0', 'x', kHex[b >> 4], kHex[b & 0xf]};
}

/// Reads values until the input ends (a command message is a run of values): the read_all() of
/// both readers.
template <class Reader>
Result<std::vector<Value>> read_all_values(Reader& reader) noexcept {
  std::vector<Value> values;
  while (!reader.at_end()) {
    auto v = reader.read();
    if (!v) return std::move(v).error();
    values.push_back(std::move(*v));
  }
  return values;
}

}  // namespace weir::formats::amf::detail
