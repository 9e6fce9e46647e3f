// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The machinery H.264 (RFC 6184) and HEVC (RFC 7798) share: both carry NAL units alone, several
/// in one aggregation packet (STAP-A / AP) or one split into fragments (FU-A / FU); they differ in
/// the NAL header (1 or 2 bytes) and the type numbers. h264.h and hevc.h are the API; this header
/// is included by them and is not meant to be used directly.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "formats/rtp/payload_sink.h"
#include "formats/rtp/rtp_packet.h"
#include "weir/status.h"

namespace weir::formats::rtp::detail {

enum class NalCodec : std::uint8_t { h264, hevc };

/// Splits length-prefixed access units into RTP payloads. Owner thread only.
class NalPacketizer {
 public:
  NalPacketizer(NalCodec codec, std::size_t max_payload) noexcept;

  void set_parameter_sets(std::vector<std::vector<std::uint8_t>> sets);
  Status packetize(std::span<const std::uint8_t> access_unit, std::uint8_t nal_length_size, PayloadSink& sink);
  std::size_t max_payload() const noexcept { return max_payload_; }

 private:
  std::size_t header_size() const noexcept { return codec_ == NalCodec::h264 ? 1 : 2; }
  unsigned type_of(std::span<const std::uint8_t> nal) const noexcept;
  void send_single(std::span<const std::uint8_t> nal, bool marker, PayloadSink& sink);
  void send_aggregate(std::size_t first, std::size_t end, bool marker, PayloadSink& sink);
  void send_fragments(std::span<const std::uint8_t> nal, bool marker, PayloadSink& sink);

  NalCodec codec_;
  std::size_t max_payload_;
  std::vector<std::vector<std::uint8_t>> parameter_sets_;  // in-band before key frames that lack them
  std::vector<std::span<const std::uint8_t>> nals_;        // the current unit's NAL units (reused)
  std::vector<std::span<const std::uint8_t>> pieces_;      // one packet's pieces (reused)
  std::vector<std::uint8_t> scratch_;                      // one packet's headers and sizes (reused)
};

/// Reassembles access units from RTP payloads. Owner thread only.
class NalDepacketizer {
 public:
  NalDepacketizer(NalCodec codec, std::size_t max_access_unit_bytes) noexcept;

  Status push(const RtpPacket& packet, bool follows_loss, AccessUnitSink& sink);
  void flush(AccessUnitSink& sink);
  void set_parameter_set(std::span<const std::uint8_t> nal);

  /// [0] VPS (HEVC only), [1] SPS, [2] PPS; empty until seen.
  const std::vector<std::uint8_t>& parameter_set(int index) const noexcept { return sets_[index]; }
  bool take_parameter_sets_changed() noexcept {
    bool changed = sets_changed_;
    sets_changed_ = false;
    return changed;
  }
  const DepacketizerCounters& counters() const noexcept { return counters_; }

 private:
  enum class Broken : std::uint8_t { no, lost, oversize, malformed };

  Status parse_payload(std::span<const std::uint8_t> payload);
  Status append_nal(std::span<const std::uint8_t> nal);
  bool reserve(std::size_t bytes) noexcept;  // false (and the unit broken) past the cap
  void note_nal(std::span<const std::uint8_t> nal) noexcept;
  void break_unit(Broken why) noexcept;
  Status fail(Broken why, Status status) noexcept;
  void finish(AccessUnitSink& sink);

  NalCodec codec_;
  std::size_t max_bytes_;
  std::vector<std::uint8_t> unit_;  // AVCC bytes of the unit being built
  std::uint32_t timestamp_ = 0;
  bool is_open_ = false;
  bool is_key_ = false;
  Broken broken_ = Broken::no;
  bool in_fragment_ = false;
  std::size_t fragment_at_ = 0;  // offset of the fragmented NAL's length prefix in unit_
  std::vector<std::uint8_t> sets_[3];
  bool sets_changed_ = false;
  DepacketizerCounters counters_;
};

}  // namespace weir::formats::rtp::detail
