// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// RTP timestamps ↔ Weir's millisecond timestamps (MediaFrame dts/pts).
///
/// Out: RtpClock maps ms to a 32-bit RTP timestamp, random base + ms × rate / 1000 (RFC 3550 5.1
/// wants a random base), wrapping. In: RtpTimeline extends a publisher's 32-bit timestamps to 64
/// bits and maps them back to ms from the first one.

#include <cstdint>

namespace weir::formats::rtp {

/// Clock rates: video is 90 kHz (RFC 6184, RFC 7798); audio runs at its sample rate.
inline constexpr std::uint32_t kVideoClockRate = 90000;

/// ms → RTP timestamps for one outgoing track. Thread: owner only.
class RtpClock {
 public:
  /// `base`: the RTP timestamp of ms 0, drawn at random by the caller (per track, per session or
  /// per stream as it shares packets). `clock_rate` in Hz, not 0.
  RtpClock(std::uint32_t clock_rate, std::uint32_t base) noexcept
      : rate_(clock_rate == 0 ? 1 : clock_rate), base_(base) {}

  std::uint32_t clock_rate() const noexcept { return rate_; }
  std::uint32_t base() const noexcept { return base_; }

  /// The timestamp of `ms`, rounded to the nearest clock tick.
  std::uint32_t to_rtp(std::int64_t ms) const noexcept {
    return base_ + static_cast<std::uint32_t>(static_cast<std::uint64_t>(units(ms)));
  }

  /// For audio frames of a fixed `frame_samples` (AAC 1024): when `ms` lies within 1 ms of the last
  /// frame's time plus one frame's duration, the timestamp advances by exactly `frame_samples`.
  /// Why: FLV/RTMP times are whole ms (a 1024-sample frame at 44.1 kHz lasts 23.22 ms and arrives
  /// stamped 0, 23, 46, 70...), so mapping each one alone puts up to ±22 samples of jitter into the
  /// RTP timeline; receivers (ffmpeg's and GStreamer's jitter buffers, RTCP lip sync) see gaps and
  /// overlaps between frames that are really back to back, and click or resample. A real gap or a
  /// jump, or drift past 2 ms from the ms timeline, re-anchors on to_rtp(ms), so the exact count
  /// cannot wander away from the publisher's clock.
  std::uint32_t to_rtp_frame(std::int64_t ms, std::uint32_t frame_samples) noexcept;

 private:
  std::int64_t units(std::int64_t ms) const noexcept {
    std::int64_t scaled = ms * static_cast<std::int64_t>(rate_);
    return scaled >= 0 ? (scaled + 500) / 1000 : -((-scaled + 500) / 1000);
  }

  std::uint32_t rate_;
  std::uint32_t base_;
  bool has_last_ = false;
  std::int64_t last_ms_ = 0;
  std::int64_t last_units_ = 0;  // clock units since base of the last frame
};

/// A publisher's RTP timestamps → 64-bit and ms. Thread: owner only.
class RtpTimeline {
 public:
  explicit RtpTimeline(std::uint32_t clock_rate) noexcept : rate_(clock_rate == 0 ? 1 : clock_rate) {}

  /// The timestamp extended to 64 bits: the first one given keeps its value; each next one is taken
  /// as the nearest (within 2^31 ticks, forwards or backwards) to the one before, so wraps and
  /// B-frame reordering both come out right.
  std::int64_t extend(std::uint32_t timestamp) noexcept {
    if (!has_last_) {
      has_last_ = true;
      first_ = last_ = timestamp;
      return last_;
    }
    last_ += static_cast<std::int32_t>(timestamp - static_cast<std::uint32_t>(last_));
    return last_;
  }
  /// Milliseconds since the first timestamp given (negative for one before it), rounded down.
  std::int64_t to_ms(std::uint32_t timestamp) noexcept {
    std::int64_t scaled = (extend(timestamp) - first_) * 1000;
    std::int64_t rate = rate_;
    return scaled >= 0 ? scaled / rate : -((-scaled + rate - 1) / rate);
  }
  /// The first timestamp given (its extended value), or 0 before any.
  std::int64_t first() const noexcept { return first_; }
  std::uint32_t clock_rate() const noexcept { return rate_; }

 private:
  std::uint32_t rate_;
  bool has_last_ = false;
  std::int64_t first_ = 0;
  std::int64_t last_ = 0;
};

}  // namespace weir::formats::rtp
