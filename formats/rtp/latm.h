// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// AAC over RTP as MP4A-LATM, RFC 6416 section 6 with out-of-band configuration (cpresent=0): the
/// fmtp config= is a StreamMuxConfig (ISO/IEC 14496-3 1.7.3.1) and each RTP packet, or run of
/// packets up to the marker, carries AudioMuxElement(muxConfigPresent = 0):
///
///     StreamMuxConfig: audioMuxVersion(1) [audioMuxVersionA(1) taraBufferFullness] allStreamsSameTimeFraming(1)
///                      numSubFrames(6) numProgram(4) numLayer(3) AudioSpecificConfig (bit-aligned)
///                      frameLengthType(3) latmBufferFullness(8) otherDataPresent(1) [otherDataLenBits]
///                      crcCheckPresent(1) [crcCheckSum(8)]
///     AudioMuxElement: numSubFrames + 1 times { PayloadLengthInfo: bytes of 255 then one < 255, summed
///                                               PayloadMux: that many bytes, one raw AAC frame }
///                      otherDataLenBits bits, byte alignment
///
/// GStreamer's rtpmp4apay is what rtspclientsink picks for AAC; ffmpeg sends it with -rtpflags latm.
/// Frames come out raw (no ADTS), and the AudioSpecificConfig byte-aligned, as FLV carries them.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "formats/rtp/payload_sink.h"
#include "formats/rtp/rtp_packet.h"
#include "weir/status.h"

namespace weir::formats::rtp {

/// What a StreamMuxConfig says, for one program of one layer (all Weir supports).
struct LatmConfig {
  /// The AudioSpecificConfig on its own, byte-aligned (zero bits pad the last byte): the FLV AAC
  /// sequence header. With audioMuxVersion 1 it is the whole ascLen bits, a sync extension included.
  std::vector<std::uint8_t> audio_specific_config;
  /// numSubFrames: each AudioMuxElement carries num_sub_frames + 1 frames.
  std::uint8_t num_sub_frames = 0;
  /// Samples per frame at the output rate: 1024 (960 with frameLengthFlag), doubled with SBR. The
  /// depacketizer advances the timestamp by this per subframe; when the SDP's rtpmap rate is the
  /// core rate of an HE-AAC stream (the rate is the sender's choice) the caller halves it.
  std::uint32_t frame_samples = 1024;
  std::uint32_t sample_rate_hz = 0;  ///< output rate (the SBR rate when SBR is signalled)
  std::uint8_t channels = 0;         ///< from the channel configuration; 0 when it does not say
  bool has_sbr = false;
  bool has_ps = false;
  std::uint8_t audio_mux_version = 0;
  std::uint8_t latm_buffer_fullness = 0xFF;  ///< 0xFF: variable rate
  std::uint32_t other_data_bits = 0;         ///< otherDataLenBits after the frames of each element
  bool crc_check_present = false;
  std::uint8_t crc_check_sum = 0;
};

/// Decodes an fmtp config= (hex already decoded) as a StreamMuxConfig.
///
/// Supported: audioMuxVersion 0 and 1 (audioMuxVersionA 0), allStreamsSameTimeFraming 1, one program
/// with one layer, frameLengthType 0, AudioSpecificConfig of the general audio object types (AAC
/// Main/LC/SSR/LTP, scalable, TwinVQ, ER AAC, ER BSAC) with a channel configuration, explicit
/// SBR/PS (object types 5 and 29), and with version 1 the backward-compatible SBR/PS extension
/// inside ascLen. Errc::unsupported for the rest (several programs or layers, other frame length
/// types, allStreamsSameTimeFraming 0, a program_config_element (channel configuration 0), error
/// protection configs (epConfig 2 and 3), other object types). Version 0 carries no ASC length, so
/// an implicit SBR extension there cannot be told from what follows: it is not looked for.
///
/// GStreamer's rtpmp4apay sends only 4 bytes ("40002420"), ending inside frameLengthType: fields
/// missing after the AudioSpecificConfig are read as zero bits (frameLengthType 0, no other data,
/// no CRC), as decoders do. Errc::malformed (naming the field and bit) for a config that ends
/// inside the AudioSpecificConfig, or whose AudioSpecificConfig does not parse.
Result<LatmConfig> parse_stream_mux_config(std::span<const std::uint8_t> config);

/// Sends one raw AAC frame per AudioMuxElement (numSubFrames 0), one element per RTP packet:
/// PayloadLengthInfo (a 255 byte per 255 bytes, then the rest) and the frame; an element larger
/// than the payload is fragmented across packets, the marker on the last (RFC 6416 6.1). Every
/// packet of a frame carries its timestamp. Thread: owner only.
class LatmPacketizer {
 public:
  explicit LatmPacketizer(std::size_t max_payload = kDefaultMaxPayload) noexcept
      : max_payload_(max_payload < 8 ? 8 : max_payload) {}

  /// One raw AAC frame. Errc::limit for an empty frame or one of 64 KiB or more.
  Status packetize(std::span<const std::uint8_t> frame, PayloadSink& sink);

 private:
  std::size_t max_payload_;
  std::uint8_t length_info_[258] = {};  // PayloadLengthInfo of the frame being sent
};

/// The fmtp config= (lower-case hex) of a StreamMuxConfig for LatmPacketizer's stream:
/// audioMuxVersion 0, one subframe, one program and layer, `audio_specific_config`, frameLengthType
/// 0, latmBufferFullness 0xFF, no other data, no CRC. With version 0 a receiver cannot know where
/// a backward-compatible SBR/PS extension ends, so the AudioSpecificConfig goes without it (signal
/// SBR in the SDP, or send explicit object type 5/29). AAC-LC 44.1 kHz stereo (12 10) gives
/// "400024203fc0", as ffmpeg writes. Errors as parse_stream_mux_config's for the config.
Result<std::string> latm_config_hex(std::span<const std::uint8_t> audio_specific_config);

/// Reads MP4A-LATM payloads of one SSRC, in sequence order, into raw AAC frames. An AudioMuxElement
/// may span packets (the marker on its last, all with its timestamp): it is reassembled up to the
/// cap. Packets holding several elements one after another are read too, and senders that set no
/// marker (an element then ends where the timestamp changes, if its lengths fill it exactly).
/// Thread: owner only. Holds at most one element.
class LatmDepacketizer {
 public:
  /// `max_element_bytes` caps one reassembled AudioMuxElement (so also each frame).
  explicit LatmDepacketizer(LatmConfig config, std::size_t max_element_bytes = 1u << 16) noexcept
      : config_(std::move(config)), max_bytes_(max_element_bytes) {}

  /// One packet; calls `sink` once per frame (the n-th subframe of an element at the packet's
  /// timestamp plus n times frame_samples). `follows_loss` drops an element in progress and skips
  /// the packets up to the next marker or timestamp (their start is lost), unless the packet is
  /// marked and its lengths fill it exactly: then it is taken as a whole element. Errors (Errc::malformed, byte offset
  /// named): a PayloadLengthInfo or a frame running past the element; the element's frames are
  /// all dropped (counted) and the next packet starts afresh.
  Status push(const RtpPacket& packet, bool follows_loss, AccessUnitSink& sink);

  const DepacketizerCounters& counters() const noexcept { return counters_; }
  const LatmConfig& config() const noexcept { return config_; }

 private:
  Status deliver(std::span<const std::uint8_t> element, std::uint32_t timestamp, AccessUnitSink& sink);
  void drop_element(std::uint64_t& counter) noexcept;

  LatmConfig config_;
  std::size_t max_bytes_;
  std::vector<std::uint8_t> element_;  // the fragments so far of an element without its marker
  std::uint32_t element_timestamp_ = 0;
  bool skipping_ = false;  // after a loss or an oversize element: drop packets up to a marker
  std::uint32_t skip_timestamp_ = 0;  // or up to a packet with another timestamp than this
  DepacketizerCounters counters_;
};

}  // namespace weir::formats::rtp
