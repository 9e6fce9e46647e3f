// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// HEVC over RTP, RFC 7798, one RTP stream, no DONL (sprop-max-don-diff absent or 0): single NAL
/// unit packets, aggregation packets (AP, type 48), fragmentation units (FU, type 49). Both ways,
/// like h264.h, plus the SDP and FLV bridges (VPS/SPS/PPS out of an HEVCDecoderConfigurationRecord,
/// a record built from in-band parameter sets).
///
///     payload header (2 bytes, a NAL header): |F| Type (6) | LayerId (6) | TID (3) |
///     FU header (1 byte): |S|E| FuType (6) |
///
/// Choices as for H.264: access unit delimiters (type 35) are dropped when sending, VPS/SPS/PPS go
/// in-band before every IRAP picture (types 16-23) that lacks them; received parameter sets stay in
/// the unit and are remembered. PACI packets (type 50) are skipped.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "formats/rtp/nal_units.h"
#include "formats/rtp/payload_sink.h"
#include "formats/rtp/rtp_packet.h"
#include "weir/status.h"

namespace weir::formats::rtp {

/// Splits HEVC access units into RTP payloads. Thread: owner only.
class HevcPacketizer {
 public:
  explicit HevcPacketizer(std::size_t max_payload = kDefaultMaxPayload) noexcept
      : core_(detail::NalCodec::hevc, max_payload) {}

  /// Raw NAL units (copied), sent in this order before every IRAP access unit that does not carry
  /// a VPS, an SPS and a PPS itself. Any empty list turns insertion off.
  void insert_parameter_sets(std::span<const std::span<const std::uint8_t>> vps_list,
                             std::span<const std::span<const std::uint8_t>> sps_list,
                             std::span<const std::span<const std::uint8_t>> pps_list);

  /// As H264Packetizer::packetize.
  Status packetize(std::span<const std::uint8_t> access_unit, std::uint8_t nal_length_size, PayloadSink& sink) {
    return core_.packetize(access_unit, nal_length_size, sink);
  }
  std::size_t max_payload() const noexcept { return core_.max_payload(); }

 private:
  detail::NalPacketizer core_;
};

/// Reassembles HEVC access units; the same contract as H264Depacketizer.
class HevcDepacketizer {
 public:
  explicit HevcDepacketizer(std::size_t max_access_unit_bytes = kDefaultMaxAccessUnitBytes) noexcept
      : core_(detail::NalCodec::hevc, max_access_unit_bytes) {}

  Status push(const RtpPacket& packet, bool follows_loss, AccessUnitSink& sink) {
    return core_.push(packet, follows_loss, sink);
  }
  void flush(AccessUnitSink& sink) { core_.flush(sink); }

  /// Parameter sets from the SDP's sprop-vps/sprop-sps/sprop-pps, base64-decoded (copied).
  void set_parameter_sets(std::span<const std::span<const std::uint8_t>> nals) {
    for (auto nal : nals) core_.set_parameter_set(nal);
  }
  const std::vector<std::uint8_t>& vps() const noexcept { return core_.parameter_set(0); }
  const std::vector<std::uint8_t>& sps() const noexcept { return core_.parameter_set(1); }
  const std::vector<std::uint8_t>& pps() const noexcept { return core_.parameter_set(2); }
  /// True once after the VPS, SPS or PPS changed.
  bool take_parameter_sets_changed() noexcept { return core_.take_parameter_sets_changed(); }

  const DepacketizerCounters& counters() const noexcept { return core_.counters(); }

 private:
  detail::NalDepacketizer core_;
};

/// The parameter sets of an HEVCDecoderConfigurationRecord, as views into it.
struct HevcParameterSets {
  std::vector<std::span<const std::uint8_t>> vps;
  std::vector<std::span<const std::uint8_t>> sps;
  std::vector<std::span<const std::uint8_t>> pps;
  std::uint8_t nal_length_size = 4;
};

/// Reads the VPS, SPS and PPS arrays of a record (other arrays, such as SEI, are skipped).
/// Errc::malformed naming the field and offset when the record is broken.
Result<HevcParameterSets> hevc_parameter_sets(std::span<const std::uint8_t> record);

/// An HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1) with 4-byte NAL lengths and one
/// VPS, SPS and PPS; the profile_tier_level fields, chroma format and bit depths from formats/flv's
/// parse_hevc_sps, the temporal layer count and nesting flag from the SPS's first byte after its
/// header. Errc::malformed when the SPS does not parse or a set is not of its type.
Result<std::vector<std::uint8_t>> build_hevc_decoder_config(std::span<const std::uint8_t> vps,
                                                            std::span<const std::uint8_t> sps,
                                                            std::span<const std::uint8_t> pps);

}  // namespace weir::formats::rtp
