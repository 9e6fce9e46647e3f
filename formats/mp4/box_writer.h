// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// BoxWriter: ISO BMFF (MP4) boxes into a byte vector, big-endian, nested by begin()/end().
///
///     BoxWriter w(out);
///     w.begin("moov");
///       w.begin_full("mvhd", 0, 0); w.u32(...); ... w.end();
///     w.end();                      // patches moov's 32-bit size
///
/// A box larger than 4 GiB is not written here (moov never is; mdat's header is written by hand
/// with a 64-bit size). Owner only; no I/O.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace weir::formats::mp4 {

class BoxWriter {
 public:
  explicit BoxWriter(std::vector<std::uint8_t>& out) noexcept : out_(out) {}
  BoxWriter(const BoxWriter&) = delete;
  BoxWriter& operator=(const BoxWriter&) = delete;

  /// Opens a box of four-character `type`; its size is written by the matching end().
  void begin(std::string_view type);
  /// Opens a full box: type, then version (8 bits) and flags (24 bits).
  void begin_full(std::string_view type, std::uint8_t version, std::uint32_t flags);
  void end();
  /// Boxes still open (0 once everything is ended).
  std::size_t depth() const noexcept { return open_.size(); }

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v);
  void u24(std::uint32_t v);
  void u32(std::uint32_t v);
  void u64(std::uint64_t v);
  void fourcc(std::string_view code);
  void bytes(std::span<const std::uint8_t> data) { out_.insert(out_.end(), data.begin(), data.end()); }
  void zeros(std::size_t n) { out_.insert(out_.end(), n, 0); }
  /// The 3x3 unity transformation matrix of mvhd and tkhd.
  void unity_matrix();

 private:
  std::vector<std::uint8_t>& out_;
  std::vector<std::size_t> open_;  // where each open box starts
};

}  // namespace weir::formats::mp4
