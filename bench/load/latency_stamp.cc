// SPDX-License-Identifier: Apache-2.0
#include "latency_stamp.h"

#include <time.h>

#include <cstring>

namespace weir::bench {
namespace {

constexpr std::uint8_t kNalLength = 30;
constexpr std::uint8_t kSeiPayloadBytes = 26;  // uuid + time
// "weir-bench-stamp" with the high bit set in every byte: no zeros anywhere in the NAL.
constexpr std::array<std::uint8_t, 16> kUuid = {0xF7, 0xE5, 0xE9, 0xF2, 0xAD, 0xE2, 0xE5, 0xEE,
                                                0xE3, 0xE8, 0xAD, 0xF3, 0xF4, 0xE1, 0xED, 0xF0};
constexpr std::size_t kTimeBytes = 10;

}  // namespace

void write_stamp(std::uint64_t send_time_us, std::span<std::uint8_t, kStampBytes> out) noexcept {
  std::uint8_t* p = out.data();
  *p++ = 0;
  *p++ = 0;
  *p++ = 0;
  *p++ = kNalLength;
  *p++ = 0x06;  // nal_unit_type 6: SEI
  *p++ = 0x05;  // payload type 5: user_data_unregistered
  *p++ = kSeiPayloadBytes;
  std::memcpy(p, kUuid.data(), kUuid.size());
  p += kUuid.size();
  for (std::size_t i = 0; i < kTimeBytes; ++i)
    *p++ = static_cast<std::uint8_t>(0x80 | ((send_time_us >> (7 * (kTimeBytes - 1 - i))) & 0x7F));
  *p = 0x80;  // rbsp_trailing_bits
}

std::optional<std::uint64_t> read_stamp(std::span<const std::uint8_t> payload) noexcept {
  if (payload.size() < kAvcNalOffset + kStampBytes) return std::nullopt;
  const std::uint8_t* p = payload.data() + kAvcNalOffset;
  if (p[0] != 0 || p[1] != 0 || p[2] != 0 || p[3] != kNalLength) return std::nullopt;
  return read_stamp_nal(payload.subspan(kAvcNalOffset + 4, kNalLength));
}

std::optional<std::uint64_t> read_stamp_nal(std::span<const std::uint8_t> nal) noexcept {
  if (nal.size() < kNalLength) return std::nullopt;
  const std::uint8_t* p = nal.data();
  if (p[0] != 0x06 || p[1] != 0x05 || p[2] != kSeiPayloadBytes || std::memcmp(p + 3, kUuid.data(), kUuid.size()) != 0)
    return std::nullopt;
  p += 3 + kUuid.size();
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < kTimeBytes; ++i) t = t << 7 | (p[i] & 0x7F);
  return t;
}

std::int64_t monotonic_us() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

}  // namespace weir::bench
