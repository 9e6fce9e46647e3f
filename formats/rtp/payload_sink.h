// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// What packetizers hand out (RTP payloads as a few borrowed pieces) and what depacketizers hand
/// out (complete access units), shared by every payload format of formats/rtp.
///
///     MediaFrame codec data ──Packetizer──▶ PayloadSink::packet(pieces, marker)   one call per RTP packet
///     RTP packets, in order ──Depacketizer──▶ AccessUnitSink::access_unit(unit)   one call per frame

#include <cstdint>
#include <span>

namespace weir::formats::rtp {

/// Default largest RTP payload: 1400 bytes keeps a packet (12-byte RTP header, 4-byte interleaved
/// prefix) within 1460, under a 1500-byte Ethernet MTU with IP/UDP or IP/TCP headers and options.
inline constexpr std::size_t kDefaultMaxPayload = 1400;

/// Default cap of one reassembled access unit. A 4K intra frame at a high bit rate is a few MiB;
/// past this the unit is dropped (counted) rather than grown without bound by a hostile sender.
inline constexpr std::size_t kDefaultMaxAccessUnitBytes = 8u << 20;

/// Receives the RTP payloads of one frame, in order, from a packetizer.
/// Thread: the packetizer's caller. The pieces are borrowed for the call only: they point into the
/// frame the caller passed and into the packetizer's small header scratch, so the caller can write
/// its own framing ('$', channel, length), its RTP header, then the pieces straight into its buffer.
class PayloadSink {
 public:
  /// One RTP packet: its payload is the concatenation of `pieces`; `marker` is the RTP M bit.
  virtual void packet(std::span<const std::span<const std::uint8_t>> pieces, bool marker) = 0;

 protected:
  ~PayloadSink() = default;
};

/// One frame out of a depacketizer.
struct AccessUnit {
  std::uint32_t rtp_timestamp = 0;
  /// H.264/HEVC: NAL units each after a 4-byte big-endian length (AVCC, what FLV carries).
  /// Audio: one raw frame (AAC without ADTS, an Opus packet, G.711 samples).
  /// Borrowed from the depacketizer, valid during the callback only.
  std::span<const std::uint8_t> data;
  bool is_key_frame = false;  ///< H.264 IDR, HEVC IRAP; always true for audio
};

/// Receives complete access units from a depacketizer. Thread: the depacketizer's caller.
class AccessUnitSink {
 public:
  virtual void access_unit(const AccessUnit& unit) = 0;

 protected:
  ~AccessUnitSink() = default;
};

/// What a depacketizer did with what it was given; for stats and logs.
struct DepacketizerCounters {
  std::uint64_t access_units = 0;       ///< handed to the sink
  std::uint64_t dropped_lost = 0;       ///< units dropped: a packet was lost or a fragment is missing
  std::uint64_t dropped_oversize = 0;   ///< units dropped: larger than the reassembly cap
  std::uint64_t dropped_malformed = 0;  ///< units dropped: a payload that breaks its format
  std::uint64_t ignored_packets = 0;    ///< packets of reserved or unsupported types, skipped
};

}  // namespace weir::formats::rtp
