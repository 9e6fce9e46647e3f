// SPDX-License-Identifier: Apache-2.0
#pragma once
// Fuzz-only: splits a fuzz input into RTP packets the way testdata/capture_rtp.py stores a
// capture (2-byte big-endian length, then the datagram), so captures are seeds as they are.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace weir::formats::rtp::fuzz {

inline std::vector<std::span<const std::uint8_t>> split_packets(std::span<const std::uint8_t> input) {
  std::vector<std::span<const std::uint8_t>> out;
  for (std::size_t at = 0; input.size() - at >= 2;) {
    std::size_t length = std::size_t{input[at]} << 8 | input[at + 1];
    at += 2;
    if (length > input.size() - at) length = input.size() - at;
    out.push_back(input.subspan(at, length));
    at += length;
  }
  return out;
}

// An access unit out of an H.264/HEVC depacketizer must be whole 4-byte-length NAL units.
inline bool is_whole_avcc(std::span<const std::uint8_t> unit) {
  std::size_t at = 0;
  while (at < unit.size()) {
    if (unit.size() - at < 4) return false;
    std::size_t length = std::size_t{unit[at]} << 24 | std::size_t{unit[at + 1]} << 16 |
                         std::size_t{unit[at + 2]} << 8 | unit[at + 3];
    at += 4;
    if (length > unit.size() - at) return false;
    at += length;
  }
  return true;
}

}  // namespace weir::formats::rtp::fuzz
