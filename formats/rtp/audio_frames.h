// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Audio payload formats that carry frames as they are: Opus (RFC 7587: one Opus packet per RTP
/// packet, 48 kHz clock whatever the input rate) and G.711 PCMA/PCMU (RFC 3551 4.5.14: samples, one
/// byte each per channel, 8 kHz clock, static payload types 8 and 0).

#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/rtp/payload_sink.h"
#include "formats/rtp/rtp_packet.h"
#include "weir/status.h"

namespace weir::formats::rtp {

/// RTP clock rate of Opus (RFC 7587 4.1), and the rtpmap channel count it always names ("opus/48000/2").
inline constexpr std::uint32_t kOpusClockRate = 48000;
/// Static payload types of G.711 (RFC 3551 table 4).
inline constexpr std::uint8_t kPcmuPayloadType = 0;
inline constexpr std::uint8_t kPcmaPayloadType = 8;

/// One Opus packet per RTP packet, payload as is; the marker is left clear (RFC 7587 4.2 sets it
/// only at the start of a talkspurt after DTX, which a relay does not know). Thread: owner only.
class OpusPacketizer {
 public:
  explicit OpusPacketizer(std::size_t max_payload = kDefaultMaxPayload) noexcept : max_payload_(max_payload) {}
  /// Errc::limit for an empty packet or one larger than max_payload (Opus packets are at most 1275
  /// bytes per frame, so this is a broken input, not a fragmentation case: Opus has none).
  Status packetize(std::span<const std::uint8_t> frame, PayloadSink& sink);

 private:
  std::size_t max_payload_;
};

/// G.711 samples as is. A frame larger than the payload is cut at sample boundaries into packets
/// of samples_per_packet() samples (the last one shorter); the n-th packet's RTP timestamp is the
/// frame's plus n × samples_per_packet(), which the caller adds as it counts the sink's calls.
/// The marker is left clear. Thread: owner only.
class G711Packetizer {
 public:
  explicit G711Packetizer(std::uint8_t channels = 1, std::size_t max_payload = kDefaultMaxPayload) noexcept;
  /// Errc::malformed for an empty frame or one that is not a whole number of samples × channels.
  Status packetize(std::span<const std::uint8_t> frame, PayloadSink& sink);
  /// Samples (per channel) in each packet but the last of a frame.
  std::uint32_t samples_per_packet() const noexcept { return samples_per_packet_; }

 private:
  std::uint8_t channels_;
  std::uint32_t samples_per_packet_;
};

/// One RTP packet is one frame, as is (Opus, G.711). Thread: owner only; holds nothing.
class FrameDepacketizer {
 public:
  /// Calls `sink` with the payload as one frame; an empty payload is skipped (ignored_packets).
  void push(const RtpPacket& packet, AccessUnitSink& sink);
  const DepacketizerCounters& counters() const noexcept { return counters_; }

 private:
  DepacketizerCounters counters_;
};

/// Opus and G.711 both depacketize frame for frame.
using OpusDepacketizer = FrameDepacketizer;
using G711Depacketizer = FrameDepacketizer;

}  // namespace weir::formats::rtp
