// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// AAC over RTP, RFC 3640 (mpeg4-generic): the packetizer sends mode=AAC-hbr, the depacketizer
/// reads any AU-header layout the SDP's fmtp gives (AAC-hbr, AAC-lbr, others with the same fields).
///
///     | AU-headers-length (16 bits) | AU-header ... (size, index/index-delta, ...) | pad | AU ... |
///     AAC-hbr AU-header: AU-size (13 bits) AU-Index or AU-Index-delta (3 bits)
///
/// Frames are raw AAC (no ADTS), as FLV carries them; the AudioSpecificConfig is the SDP's config=.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "formats/rtp/payload_sink.h"
#include "formats/rtp/rtp_packet.h"
#include "weir/status.h"

namespace weir::formats::rtp {

/// Sends one AAC frame per RTP packet in AAC-hbr (one 16-bit AU-header; RFC 3640 3.3.6); a frame
/// larger than the payload is fragmented across packets, each with the whole frame's AU-size and
/// the marker on the last (RFC 3640 3.2.3.1). One AU per packet keeps latency at one frame and
/// needs no state. Thread: owner only.
class AacPacketizer {
 public:
  explicit AacPacketizer(std::size_t max_payload = kDefaultMaxPayload) noexcept
      : max_payload_(max_payload < 8 ? 8 : max_payload) {}

  /// One raw AAC frame. Errc::limit for an empty frame or one of 8192 bytes or more (13-bit AU-size).
  Status packetize(std::span<const std::uint8_t> frame, PayloadSink& sink);

 private:
  std::size_t max_payload_;
};

/// The AU-header layout from the SDP fmtp (RFC 3640 4.1). Lengths are in bits; zero means absent.
struct AacPayloadConfig {
  std::uint8_t size_length = 13;
  std::uint8_t index_length = 3;
  std::uint8_t index_delta_length = 3;
  std::uint8_t cts_delta_length = 0;
  std::uint8_t dts_delta_length = 0;
  bool random_access_indication = false;
  std::uint8_t stream_state_indication = 0;
  /// Samples per AU at the RTP clock rate: 1024 for AAC-LC, 2048 for HE-AAC at the output rate.
  /// The timestamp of the n-th AU of a packet is the packet's plus n times this.
  std::uint32_t frame_samples = 1024;

  static AacPayloadConfig hbr() noexcept { return {}; }
  static AacPayloadConfig lbr() noexcept {
    AacPayloadConfig config;
    config.size_length = 6;
    config.index_length = 2;
    config.index_delta_length = 2;
    return config;
  }
};

/// Reads RFC 3640 payloads of one SSRC, in sequence order, into raw AAC frames: several AUs per
/// packet, and AUs fragmented across packets. Interleaving is not supported (AU-Index-deltas are
/// taken as consecutive). Thread: owner only. Holds at most one fragmented frame.
class AacDepacketizer {
 public:
  /// Errors in the config (a size_length of 0 or above 16, a length above 32) make every push fail.
  explicit AacDepacketizer(AacPayloadConfig config = {}, std::size_t max_access_unit_bytes = 1u << 16) noexcept
      : config_(config), max_bytes_(max_access_unit_bytes) {}

  /// One packet; calls `sink` once per complete frame. `follows_loss` drops a fragmented frame in
  /// progress (counted). Errors (Errc::malformed, offsets named): AU-headers running past the
  /// payload, AU sizes larger than the data of a packet holding several AUs; Errc::unsupported for
  /// a bad config.
  Status push(const RtpPacket& packet, bool follows_loss, AccessUnitSink& sink);

  const DepacketizerCounters& counters() const noexcept { return counters_; }

 private:
  void drop_fragment(std::uint64_t& counter) noexcept;

  AacPayloadConfig config_;
  std::size_t max_bytes_;
  std::vector<std::uint8_t> fragment_;  // a fragmented AU being reassembled
  std::size_t fragment_size_ = 0;       // its AU-size; 0 when none is in progress
  std::uint32_t fragment_timestamp_ = 0;
  // RFC 3640 fragments carry no start bit: a fragment is a first one only after a packet with the
  // marker. After a loss, fragment packets are skipped until one with the marker.
  bool after_loss_ = false;
  bool loss_counted_ = false;  // the loss already dropped the frame being skipped
  DepacketizerCounters counters_;
};

/// What an SDP says for an AAC track, from its AudioSpecificConfig.
struct AacRtpmap {
  std::uint32_t clock_rate = 0;    ///< rtpmap rate: the output sample rate (the SBR rate for HE-AAC)
  std::uint8_t channels = 0;       ///< rtpmap channels; 0 when the config does not say (channel config 0)
  std::uint32_t frame_samples = 0; ///< samples per frame at clock_rate: 1024, 2048 with SBR
  std::string config_hex;          ///< fmtp config=: the AudioSpecificConfig in hex
};

/// Errc::malformed when the AudioSpecificConfig does not parse (formats/flv's parser).
Result<AacRtpmap> aac_rtpmap(std::span<const std::uint8_t> audio_specific_config);

}  // namespace weir::formats::rtp
