// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The RTP fixed header (RFC 3550 5.1): parsing a received packet down to its payload, and writing
/// the 12-byte header of a packet we send (no CSRCs, no extension: a server sending its own
/// streams has neither).
///
///      0                   1                   2                   3
///     |V=2|P|X|  CC   |M|     PT      |       sequence number         |
///     |                           timestamp                           |
///     |                             SSRC                              |
///     |                 CSRC list (CC x 32 bits)                      |
///     | extension: profile (16) | length in words (16) | words ...    |  when X
///     |                 payload ...          | padding ... | pad count |  when P
///
/// Stateless, thread-safe, allocation-free (except error text).

#include <cstddef>
#include <cstdint>
#include <span>

#include "weir/status.h"

namespace weir::formats::rtp {

/// Bytes of the fixed RTP header we write.
inline constexpr std::size_t kRtpHeaderSize = 12;

/// The fields of an RTP header a sender sets and a receiver acts on.
struct RtpHeader {
  bool marker = false;           ///< M: last packet of an access unit (video), first of a talkspurt (audio)
  std::uint8_t payload_type = 0;  ///< PT, 7 bits (96-127 dynamic, 0 PCMU, 8 PCMA)
  std::uint16_t sequence = 0;     ///< increments by one per packet, wraps at 65535
  std::uint32_t timestamp = 0;    ///< media clock of the payload's first sample (clock rate from the SDP)
  std::uint32_t ssrc = 0;         ///< synchronization source
  std::uint8_t csrc_count = 0;    ///< CC (parse only; write_rtp_header writes none)
  bool has_extension = false;     ///< X (parse only: the extension is skipped)
  bool has_padding = false;       ///< P (parse only)
};

/// A parsed packet: the header and a view of its payload, borrowed from the parsed bytes.
struct RtpPacket {
  RtpHeader header;
  std::span<const std::uint8_t> payload;  ///< after CSRCs and extension, before padding
};

/// Parses one RTP packet (a UDP datagram or the body of an interleaved `$` frame).
/// Errors (Errc::malformed, naming the field and its byte offset): shorter than 12 bytes, a version
/// other than 2, a CSRC list or header extension running past the end, a padding count of 0 or
/// larger than what follows the header. An empty payload is valid (keepalives send them).
Result<RtpPacket> parse_rtp(std::span<const std::uint8_t> packet) noexcept;

/// Writes the 12-byte fixed header (V=2, no padding, no extension, no CSRC) into `out`.
void write_rtp_header(const RtpHeader& header, std::span<std::uint8_t, kRtpHeaderSize> out) noexcept;

/// Signed distance from sequence number `from` to `to`, modulo 2^16: positive when `to` is newer.
constexpr std::int16_t sequence_delta(std::uint16_t from, std::uint16_t to) noexcept {
  return static_cast<std::int16_t>(static_cast<std::uint16_t>(to - from));
}

}  // namespace weir::formats::rtp
