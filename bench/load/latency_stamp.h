// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The send-time stamp that measures what a server adds between a publisher's write and a
/// player's read (write batching, queueing). Neither server under test forwards arbitrary AMF data
/// messages (nginx-rtmp relays only audio, video and metadata), and both rebase RTMP timestamps per
/// player, so the stamp travels inside the H.264 frame itself: an SEI NAL unit of type
/// user_data_unregistered in front of the frame's own NAL units. Decoders skip it; servers pass
/// video payloads through untouched.
///
/// ```
///  video message payload (FLV/RTMP AVC, 4-byte NAL lengths):
///  [0x17|0x27][1][cts:3] [len:4 = 30][06 05 1A][uuid:16][send time:10][80] [len:4][the frame's NAL]...
///                         `----------- the stamp: 34 bytes ------------'
///  send time: CLOCK_MONOTONIC in microseconds, 7 bits per byte, high bit set: no zero byte, so
///  the NAL needs no emulation prevention.
/// ```
/// Publisher and players run on one host, so one monotonic clock serves both.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace weir::bench {

/// The stamp with its 4-byte length prefix, as inserted at payload offset 5.
inline constexpr std::size_t kStampBytes = 34;
/// Offset of the first NAL unit length in an AVC video payload.
inline constexpr std::size_t kAvcNalOffset = 5;

/// Writes the length-prefixed stamp for `send_time_us` into `out`.
void write_stamp(std::uint64_t send_time_us, std::span<std::uint8_t, kStampBytes> out) noexcept;

/// The send time of an AVC video payload whose first NAL unit is a stamp; nullopt otherwise.
std::optional<std::uint64_t> read_stamp(std::span<const std::uint8_t> video_payload) noexcept;

/// The send time of a stamp NAL unit without its length prefix, as RTP carries it (RFC 6184: a
/// single NAL unit packet, or one NAL of a STAP-A): `nal` starts at the NAL header byte; nullopt
/// unless it is a stamp.
std::optional<std::uint64_t> read_stamp_nal(std::span<const std::uint8_t> nal) noexcept;

/// The NAL unit bytes of a stamp, without the length prefix.
inline constexpr std::size_t kStampNalBytes = kStampBytes - 4;

/// CLOCK_MONOTONIC in microseconds: the clock of stamps and of every time the load tool reports.
std::int64_t monotonic_us() noexcept;

}  // namespace weir::bench
