// SPDX-License-Identifier: Apache-2.0
#include "formats/mp4/box_writer.h"

namespace weir::formats::mp4 {

void BoxWriter::begin(std::string_view type) {
  open_.push_back(out_.size());
  u32(0);  // the size, patched by end()
  fourcc(type);
}

void BoxWriter::begin_full(std::string_view type, std::uint8_t version, std::uint32_t flags) {
  begin(type);
  u8(version);
  u24(flags);
}

void BoxWriter::end() {
  if (open_.empty()) return;
  const std::size_t start = open_.back();
  open_.pop_back();
  const auto size = static_cast<std::uint32_t>(out_.size() - start);
  for (int i = 0; i < 4; ++i) out_[start + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(size >> (24 - 8 * i));
}

void BoxWriter::u16(std::uint16_t v) {
  out_.push_back(static_cast<std::uint8_t>(v >> 8));
  out_.push_back(static_cast<std::uint8_t>(v));
}

void BoxWriter::u24(std::uint32_t v) {
  out_.push_back(static_cast<std::uint8_t>(v >> 16));
  out_.push_back(static_cast<std::uint8_t>(v >> 8));
  out_.push_back(static_cast<std::uint8_t>(v));
}

void BoxWriter::u32(std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<std::uint8_t>(v >> shift));
}

void BoxWriter::u64(std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out_.push_back(static_cast<std::uint8_t>(v >> shift));
}

void BoxWriter::fourcc(std::string_view code) {
  for (std::size_t i = 0; i < 4; ++i) out_.push_back(i < code.size() ? static_cast<std::uint8_t>(code[i]) : ' ');
}

void BoxWriter::unity_matrix() {
  // {a b u; c d v; x y w} = {1 0 0; 0 1 0; 0 0 1}: a, b, c, d, x, y in 16.16, u, v, w in 2.30.
  for (std::uint32_t v : {0x00010000u, 0u, 0u, 0u, 0x00010000u, 0u, 0u, 0u, 0x40000000u}) u32(v);
}

}  // namespace weir::formats::mp4
