// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Codec configuration (what a sequence-start tag carries) decoded into a CodecDescription:
/// resolution, profile, level, sample rate, channels. Also RFC 6381 codec strings ("avc1.64001f",
/// "mp4a.40.2") for HLS/DASH manifests, and a scan of AVC/HEVC access units for IDR/IRAP NAL units.
///
///     configuration record          where FLV carries it
///     AVCDecoderConfigurationRecord  legacy AVC sequence header, E-RTMP 'avc1' SequenceStart
///     HEVCDecoderConfigurationRecord legacy codec 12 sequence header, E-RTMP 'hvc1' SequenceStart
///     AV1CodecConfigurationRecord    E-RTMP 'av01' SequenceStart
///     VPCodecConfigurationRecord     E-RTMP 'vp09' / 'vp08' SequenceStart
///     AudioSpecificConfig            AAC sequence header (legacy and 'mp4a')
///     Opus ID header ("OpusHead")    E-RTMP 'Opus' SequenceStart
///     "fLaC" + STREAMINFO            E-RTMP 'fLaC' SequenceStart
///
/// Stateless and thread-safe; nothing is allocated except error messages (and the codec string).
/// Bad input returns Errc::malformed naming the structure, the field and its byte offset.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "formats/flv/media_tag.h"
#include "weir/media.h"
#include "weir/status.h"

namespace weir::formats::flv {

/// What a codec configuration says. Fields that do not apply to the codec stay zero.
struct CodecDescription {
  Codec codec = Codec::unknown;

  // Video.
  std::uint32_t width = 0;         ///< displayed width in pixels (after cropping / conformance window)
  std::uint32_t height = 0;        ///< displayed height in pixels
  std::uint32_t coded_width = 0;   ///< before cropping (AVC macroblocks, HEVC luma samples)
  std::uint32_t coded_height = 0;
  /// AVC profile_idc, HEVC general_profile_idc, AV1 seq_profile, VP8/VP9 profile, AAC audio object type.
  std::uint8_t profile = 0;
  /// AVC level_idc (31 = 3.1), HEVC general_level_idc (30 x level), AV1 seq_level_idx_0, VP9 level.
  std::uint8_t level = 0;
  std::uint8_t constraint_flags = 0;  ///< AVC: the constraint_set flags byte (profile_compatibility)
  std::uint8_t profile_space = 0;     ///< HEVC general_profile_space
  std::uint8_t tier = 0;              ///< HEVC general_tier_flag, AV1 seq_tier_0 (1 = high)
  std::uint32_t profile_compatibility_flags = 0;  ///< HEVC general_profile_compatibility_flags
  std::uint64_t constraint_indicator_flags = 0;   ///< HEVC 48 bits of general constraint flags
  std::uint8_t chroma_format_idc = 0;  ///< 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4
  std::uint8_t bit_depth_luma = 0;     ///< bits per luma sample (8, 10, 12)
  std::uint8_t bit_depth_chroma = 0;
  bool is_interlaced = false;          ///< AVC frame_mbs_only_flag == 0 (field or MBAFF coding)
  std::uint8_t nal_length_size = 0;    ///< AVC/HEVC: bytes of each NAL unit's length prefix (1, 2 or 4)

  // Audio.
  std::uint32_t sample_rate_hz = 0;       ///< output rate (AAC: the SBR rate when SBR is signalled; Opus: 48000)
  std::uint32_t core_sample_rate_hz = 0;  ///< AAC core rate (differs from sample_rate_hz with SBR)
  std::uint8_t channels = 0;              ///< 0 when the configuration does not say (AAC channel config 0)
  std::uint8_t bits_per_sample = 0;       ///< FLAC
  bool has_sbr = false;                   ///< AAC: SBR signalled (HE-AAC)
  bool has_ps = false;                    ///< AAC: parametric stereo signalled (HE-AAC v2)
};

/// AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1); the first SPS gives the picture size.
Result<CodecDescription> parse_avc_decoder_config(std::span<const std::uint8_t> record) noexcept;
/// One H.264 sequence parameter set NAL unit (with its 1-byte NAL header, emulation prevention
/// still in): profile, level, chroma format, bit depth, interlacing, cropped size. Scaling lists
/// and the POC cycle are walked over; VUI is not read.
Result<CodecDescription> parse_avc_sps(std::span<const std::uint8_t> nal) noexcept;

/// HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1); the first SPS in its arrays gives the
/// picture size.
Result<CodecDescription> parse_hevc_decoder_config(std::span<const std::uint8_t> record) noexcept;
/// One H.265 SPS NAL unit (with its 2-byte NAL header): profile_tier_level, chroma format, bit depth,
/// picture size minus the conformance window.
Result<CodecDescription> parse_hevc_sps(std::span<const std::uint8_t> nal) noexcept;

/// AV1CodecConfigurationRecord ('av1C'): profile, level, tier, bit depth from the record; width and
/// height (max_frame_width/height) from the sequence header OBU when configOBUs holds one, else 0.
Result<CodecDescription> parse_av1_codec_config(std::span<const std::uint8_t> record) noexcept;

/// VPCodecConfigurationRecord for VP8/VP9, with or without the 4-byte version/flags of the 'vpcC'
/// box in front (FFmpeg writes it; a record starting 01 00 00 00 is taken to have it). Profile,
/// level, bit depth, chroma; VP8/VP9 records carry no picture size.
Result<CodecDescription> parse_vp_codec_config(Codec codec, std::span<const std::uint8_t> record) noexcept;

/// AAC AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1): audio object type (with the escape for types
/// above 31), sampling frequency (index or explicit 24-bit), channel configuration, explicit SBR/PS
/// (object types 5 and 29) and the backward-compatible SBR/PS sync extension after GASpecificConfig.
Result<CodecDescription> parse_aac_audio_specific_config(std::span<const std::uint8_t> config) noexcept;

/// Opus identification header (RFC 7845 5.1, "OpusHead"): channels; sample_rate_hz is 48000 (what
/// Opus decodes to), core_sample_rate_hz the encoder's input rate. An empty header is valid in
/// E-RTMP (channels 0: mono/stereo by default).
Result<CodecDescription> parse_opus_id_header(std::span<const std::uint8_t> header) noexcept;

/// E-RTMP FLAC sequence header: "fLaC" then a STREAMINFO metadata block (sample rate, channels,
/// bits per sample).
Result<CodecDescription> parse_flac_sequence_header(std::span<const std::uint8_t> header) noexcept;

/// Dispatches on `codec` to the parsers above (h264, hevc, av1, vp8, vp9, aac, opus, flac).
/// Errc::unsupported for codecs without a configuration we decode.
Result<CodecDescription> parse_codec_config(Codec codec, std::span<const std::uint8_t> config) noexcept;

/// Decodes the configuration in a sequence-start tag body, given its parse_tag_info() result.
/// Errc::unsupported for a multitrack tag (walk it with MultitrackReader) or a tag that is not a
/// sequence start.
Result<CodecDescription> parse_sequence_header(const TagInfo& info, std::span<const std::uint8_t> body) noexcept;

/// RFC 6381 codec string for HLS CODECS / DASH codecs: "avc1.64001f", "hvc1.1.6.L93.B0",
/// "av01.0.04M.08", "vp09.00.10.08", "mp4a.40.2", "mp4a.40.34" (MP3), "opus", "flac", "ac-3",
/// "ec-3", "vp8". Empty when the codec has no string or the description lacks what it needs.
std::string rfc6381_codec_string(const CodecDescription& description);

/// What the NAL unit types of an access unit say.
struct AccessUnitInfo {
  /// AVC: an IDR slice (type 5). HEVC: an IRAP picture (types 16-23: BLA, IDR, CRA).
  bool is_random_access = false;
  bool has_idr = false;             ///< AVC IDR (5) or HEVC IDR_W_RADL/IDR_N_LP (19, 20)
  bool has_parameter_sets = false;  ///< AVC SPS/PPS (7, 8) or HEVC VPS/SPS/PPS (32-34)
  std::size_t nal_count = 0;
};

/// Scans an AVC or HEVC access unit of length-prefixed NAL units (the FLV/MP4 form) for random
/// access points, for when the FLV frame type lies. Errors: Errc::malformed when a length runs past
/// the end (offset named); Errc::unsupported for other codecs or a length size outside 1-4.
Result<AccessUnitInfo> scan_access_unit(Codec codec, std::span<const std::uint8_t> access_unit,
                                        std::uint8_t nal_length_size = 4) noexcept;

}  // namespace weir::formats::flv
