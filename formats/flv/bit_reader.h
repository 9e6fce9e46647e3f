// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Internal to formats/flv (not part of its API): big-endian loads and stores, and an MSB-first bit
/// reader for codec headers (H.264/H.265 SPS, AV1 sequence header OBU, AAC AudioSpecificConfig).

#include <cstddef>
#include <cstdint>
#include <span>

namespace weir::formats::flv::detail {

inline std::uint16_t load_u16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
inline std::uint32_t load_u24(const std::uint8_t* p) noexcept {
  return std::uint32_t{p[0]} << 16 | std::uint32_t{p[1]} << 8 | p[2];
}
inline std::uint32_t load_u32(const std::uint8_t* p) noexcept {
  return std::uint32_t{p[0]} << 24 | load_u24(p + 1);
}
/// Signed 24-bit two's complement (FLV composition time).
inline std::int32_t load_s24(const std::uint8_t* p) noexcept {
  std::uint32_t v = load_u24(p);
  return (v & 0x800000u) ? static_cast<std::int32_t>(v) - 0x1000000 : static_cast<std::int32_t>(v);
}
inline void store_u16(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void store_u24(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 16);
  store_u16(p + 1, v);
}
inline void store_u32(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  store_u24(p + 1, v);
}

/// Reads bits most significant first from borrowed bytes.
///
/// Reading past the end yields zero bits and sets overrun(); a malformed variable-length code sets
/// invalid(). Parsers read a run of fields and check ok() at their checkpoints, so short or hostile
/// input can never read out of bounds; loops whose count comes from the input must bound the count
/// themselves (or stop when !ok()).
///
/// With `unescape` set the reader skips H.264/H.265 emulation-prevention bytes (the 03 of 00 00 03)
/// on the fly, so the bits it returns are the RBSP without copying the NAL unit.
class BitReader {
 public:
  explicit BitReader(std::span<const std::uint8_t> bytes, bool unescape = false) noexcept
      : bytes_(bytes), unescape_(unescape) {}

  /// One bit (0 or 1).
  std::uint32_t bit() noexcept {
    if (pos_ >= bytes_.size()) {
      overrun_ = true;
      return 0;
    }
    std::uint32_t value = (bytes_[pos_] >> (7 - bit_)) & 1u;
    if (++bit_ == 8) next_byte();
    return value;
  }

  /// `count` bits (at most 64) as an unsigned number.
  std::uint64_t bits(unsigned count) noexcept {
    std::uint64_t value = 0;
    for (unsigned i = 0; i < count; ++i) value = value << 1 | bit();
    return value;
  }

  /// `count` bits (at most 32) as a 32-bit number.
  std::uint32_t u32(unsigned count) noexcept { return static_cast<std::uint32_t>(bits(count)); }
  /// `count` bits (at most 8) as a byte.
  std::uint8_t u8(unsigned count) noexcept { return static_cast<std::uint8_t>(bits(count)); }

  bool flag() noexcept { return bit() != 0; }

  void skip(std::uint32_t count) noexcept {
    for (std::uint32_t i = 0; i < count && !overrun_; ++i) bit();
  }

  /// Unsigned exp-Golomb ue(v); more than 31 leading zeros is invalid (the value would not fit).
  std::uint32_t ue() noexcept {
    unsigned zeros = 0;
    while (bit() == 0) {
      if (overrun_) return 0;
      if (++zeros > 31) {
        invalid_ = true;
        return 0;
      }
    }
    if (zeros == 0) return 0;
    return static_cast<std::uint32_t>((std::uint64_t{1} << zeros) - 1 + bits(zeros));
  }

  /// Signed exp-Golomb se(v).
  std::int32_t se() noexcept {
    std::uint32_t k = ue();
    std::int64_t magnitude = (std::int64_t{k} + 1) / 2;
    return static_cast<std::int32_t>((k & 1u) ? magnitude : -magnitude);
  }

  /// AV1 uvlc(): 32 or more leading zeros means 2^32 - 1.
  std::uint32_t uvlc() noexcept {
    unsigned zeros = 0;
    while (bit() == 0) {
      if (overrun_) return 0;
      if (++zeros >= 32) return 0xFFFFFFFFu;
    }
    return static_cast<std::uint32_t>((std::uint64_t{1} << zeros) - 1 + bits(zeros));
  }

  bool ok() const noexcept { return !overrun_ && !invalid_; }
  bool overrun() const noexcept { return overrun_; }
  bool invalid() const noexcept { return invalid_; }
  /// Index of the byte holding the next bit, counting escape bytes (an offset into the input).
  std::size_t byte_offset() const noexcept { return pos_; }
  /// Bits left before the end, escape bytes included (an upper bound when unescaping).
  std::size_t bits_left() const noexcept {
    return pos_ >= bytes_.size() ? 0 : (bytes_.size() - pos_) * 8 - bit_;
  }

 private:
  void next_byte() noexcept {
    bit_ = 0;
    zeros_ = bytes_[pos_] == 0 ? zeros_ + 1 : 0;
    ++pos_;
    if (unescape_ && zeros_ >= 2 && pos_ < bytes_.size() && bytes_[pos_] == 3) {
      ++pos_;
      zeros_ = 0;
    }
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
  unsigned bit_ = 0;
  unsigned zeros_ = 0;  // zero bytes just passed, for spotting 00 00 03
  bool unescape_ = false;
  bool overrun_ = false;
  bool invalid_ = false;
};

}  // namespace weir::formats::flv::detail
