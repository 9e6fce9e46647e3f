// SPDX-License-Identifier: Apache-2.0
#pragma once
// The one place mod_rtsp chooses an RTP payload format per codec (formats/rtp does the work):
// OutCodec packetizes a frame's codec data for players; InCodec depacketizes a publisher's RTP.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "formats/rtp/payload_sink.h"
#include "formats/rtp/rtp_packet.h"
#include "weir/media.h"
#include "weir/status.h"

namespace weir::rtsp {

/// Whether RTP here can carry `codec` (H.264, HEVC, AAC, Opus, G.711).
bool rtp_can_carry(Codec codec) noexcept;

class OutCodec {
 public:
  virtual ~OutCodec() = default;
  /// The sequence header's codec data (AVC/HEVC record: its parameter sets go in band before key
  /// frames; AAC: nothing to do). Errors name what did not parse.
  virtual Status configure(std::span<const std::uint8_t> config) = 0;
  virtual Status packetize(std::span<const std::uint8_t> codec_data, formats::rtp::PayloadSink& sink) = 0;
  /// RTP time between the packets of one frame: G.711 frames larger than a packet are cut into
  /// packets of this many samples, each stamped later; 0 where a frame's packets share its time.
  virtual std::uint32_t samples_per_packet() const noexcept { return 0; }
  /// VPS/SPS/PPS of the last configure() (for the SDP), empty for audio.
  virtual const std::vector<std::vector<std::uint8_t>>& parameter_sets() const noexcept = 0;
};
/// Null when RTP cannot carry `codec`.
std::unique_ptr<OutCodec> make_out_codec(Codec codec, std::size_t max_payload);

class InCodec {
 public:
  virtual ~InCodec() = default;
  virtual Status push(const formats::rtp::RtpPacket& packet, bool follows_loss, formats::rtp::AccessUnitSink& sink) = 0;
  /// H.264/HEVC: parameter sets from the SDP (sprop-*), raw NAL units.
  virtual void set_parameter_sets(std::span<const std::span<const std::uint8_t>>) {}
  /// The decoder configuration record once the parameter sets are known and whenever they changed
  /// since the last call (AVC/HEVC); empty otherwise.
  virtual std::vector<std::uint8_t> take_new_config() { return {}; }
  virtual const formats::rtp::DepacketizerCounters& counters() const noexcept = 0;
};
/// Null when RTP cannot carry `codec`. `fmtp` parameters the payload format needs: AAC's
/// sizelength/indexlength/indexdeltalength are read by the caller and given here.
struct InCodecOptions {
  std::uint8_t aac_size_length = 13;
  std::uint8_t aac_index_length = 3;
  std::uint8_t aac_index_delta_length = 3;
  /// AAC as MP4A-LATM (RFC 6416) rather than mpeg4-generic: its StreamMuxConfig (fmtp config).
  std::vector<std::uint8_t> aac_latm_config;
};
std::unique_ptr<InCodec> make_in_codec(Codec codec, const InCodecOptions& options);
/// The AudioSpecificConfig inside an MP4A-LATM StreamMuxConfig (what FLV carries as AAC's header).
Result<std::vector<std::uint8_t>> latm_audio_specific_config(std::span<const std::uint8_t> stream_mux_config);

}  // namespace weir::rtsp
