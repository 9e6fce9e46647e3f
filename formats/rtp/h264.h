// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// H.264 over RTP, RFC 6184 packetization-mode=1 (non-interleaved): single NAL unit packets,
/// STAP-A aggregation, FU-A fragmentation. Both ways: a packetizer for players, a depacketizer for
/// publishers; and the SDP and FLV bridges (parameter sets and profile-level-id out of an
/// AVCDecoderConfigurationRecord, and a record built from in-band SPS/PPS).
///
///     packetizer:   [len][SPS][len][PPS][len][IDR slice 9 KB]     (AVCC access unit)
///                    └ STAP-A(SPS,PPS) ┘ FU-A S │ FU-A │ ... │ FU-A E, M=1
///
/// Choices: access unit delimiters (type 9) are dropped when sending (the marker bit and the
/// timestamp delimit units over RTP); they are kept when receiving. Received SPS/PPS stay in the
/// access unit (so a recording of it is self-contained) and are also remembered.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "formats/rtp/nal_units.h"
#include "formats/rtp/payload_sink.h"
#include "formats/rtp/rtp_packet.h"
#include "weir/status.h"

namespace weir::formats::rtp {

/// Splits H.264 access units into RTP payloads. Thread: owner only; holds only reused scratch.
class H264Packetizer {
 public:
  /// `max_payload`: the largest RTP payload to produce (at least 8).
  explicit H264Packetizer(std::size_t max_payload = kDefaultMaxPayload) noexcept
      : core_(detail::NalCodec::h264, max_payload) {}

  /// Parameter sets (raw NAL units, copied) sent in-band, SPS first, before every IDR access unit
  /// that does not carry both an SPS and a PPS itself. Empty lists turn insertion off.
  void insert_parameter_sets(std::span<const std::span<const std::uint8_t>> sps_list,
                             std::span<const std::span<const std::uint8_t>> pps_list);

  /// Sends one access unit (NAL units after `nal_length_size`-byte big-endian lengths, 1 to 4) as
  /// RTP payloads to `sink`, the marker on the last. Errc::malformed when a length runs past the
  /// end (offset named), before anything is sent; Errc::unsupported for a bad length size.
  Status packetize(std::span<const std::uint8_t> access_unit, std::uint8_t nal_length_size, PayloadSink& sink) {
    return core_.packetize(access_unit, nal_length_size, sink);
  }

  std::size_t max_payload() const noexcept { return core_.max_payload(); }

 private:
  detail::NalPacketizer core_;
};

/// Reassembles H.264 access units from RTP packets of one SSRC, given in sequence order.
/// Thread: owner only. Holds at most one unit (bounded by `max_access_unit_bytes`).
///
/// A unit ends at the marker bit or when the timestamp changes. A loss (the caller says a packet is
/// missing before this one) drops the unit in progress and the next one, counted in
/// counters().dropped_lost; the stream goes on. Errors of push() concern the packet alone (the unit
/// is dropped): the caller logs them, rate-limited, and keeps pushing.
class H264Depacketizer {
 public:
  explicit H264Depacketizer(std::size_t max_access_unit_bytes = kDefaultMaxAccessUnitBytes) noexcept
      : core_(detail::NalCodec::h264, max_access_unit_bytes) {}

  /// One packet. `follows_loss`: packets are missing between the previous one and this one.
  /// Calls `sink` for each access unit completed (zero, one, or two when a timestamp change closes
  /// one and this packet's marker another). Errors: Errc::malformed (a STAP-A size running past the
  /// payload, an empty payload: offset named), Errc::unsupported (interleaved-mode types).
  Status push(const RtpPacket& packet, bool follows_loss, AccessUnitSink& sink) {
    return core_.push(packet, follows_loss, sink);
  }
  /// Emits the unit in progress if it is complete (end of stream, TEARDOWN).
  void flush(AccessUnitSink& sink) { core_.flush(sink); }

  /// Parameter sets from the SDP's sprop-parameter-sets, base64-decoded: raw NAL units (copied).
  void set_parameter_sets(std::span<const std::span<const std::uint8_t>> nals) {
    for (auto nal : nals) core_.set_parameter_set(nal);
  }
  /// The latest SPS and PPS seen (SDP or in-band); empty until one is.
  const std::vector<std::uint8_t>& sps() const noexcept { return core_.parameter_set(1); }
  const std::vector<std::uint8_t>& pps() const noexcept { return core_.parameter_set(2); }
  /// True once after the SPS or PPS changed: time to push a new sequence header
  /// (build_avc_decoder_config(sps(), pps())).
  bool take_parameter_sets_changed() noexcept { return core_.take_parameter_sets_changed(); }

  const DepacketizerCounters& counters() const noexcept { return core_.counters(); }

 private:
  detail::NalDepacketizer core_;
};

/// The parameter sets of an AVCDecoderConfigurationRecord, as views into it.
struct AvcParameterSets {
  std::vector<std::span<const std::uint8_t>> sps;
  std::vector<std::span<const std::uint8_t>> pps;
  std::uint8_t nal_length_size = 4;
};

/// Reads the SPS and PPS arrays of a record (checked with formats/flv's parser first).
/// Errc::malformed naming the field and offset when the record is broken.
Result<AvcParameterSets> avc_parameter_sets(std::span<const std::uint8_t> record);

/// SDP profile-level-id (RFC 6184 8.1): profile_idc, constraint flags, level_idc of an SPS NAL unit
/// as six hex digits ("64001f"); empty when the SPS is shorter than 4 bytes.
std::string avc_profile_level_id(std::span<const std::uint8_t> sps);

/// An AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1) for one SPS and one PPS with 4-byte
/// NAL lengths; profile, compatibility and level from the SPS, and for High profiles (100 and up)
/// the chroma format and bit depths from parse_avc_sps. Errc::malformed when the SPS does not parse
/// or the PPS is not one.
Result<std::vector<std::uint8_t>> build_avc_decoder_config(std::span<const std::uint8_t> sps,
                                                           std::span<const std::uint8_t> pps);

}  // namespace weir::formats::rtp
