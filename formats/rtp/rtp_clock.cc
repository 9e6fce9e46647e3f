// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/rtp_clock.h"

namespace weir::formats::rtp {

std::uint32_t RtpClock::to_rtp_frame(std::int64_t ms, std::uint32_t frame_samples) noexcept {
  const std::int64_t direct = units(ms);
  std::int64_t chosen = direct;
  if (has_last_ && frame_samples != 0) {
    // Frame duration in µs against the ms delta in µs: within 1 ms means the next frame.
    const std::int64_t frame_us = std::int64_t{frame_samples} * 1000000 / rate_;
    const std::int64_t delta_us = (ms - last_ms_) * 1000;
    const std::int64_t exact = last_units_ + frame_samples;
    const std::int64_t drift = exact > direct ? exact - direct : direct - exact;
    if (delta_us - frame_us <= 1000 && frame_us - delta_us <= 1000 && drift * 1000 <= 2 * std::int64_t{rate_})
      chosen = exact;
  }
  has_last_ = true;
  last_ms_ = ms;
  last_units_ = chosen;
  return base_ + static_cast<std::uint32_t>(static_cast<std::uint64_t>(chosen));
}

}  // namespace weir::formats::rtp
