// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The a=fmtp parameters a depacketizer needs, read out of an Fmtp, and the Fmtp our DESCRIBE
/// writes, built from a stream's codec configuration:
///   H.264 (RFC 6184 8.1): packetization-mode, profile-level-id, sprop-parameter-sets
///   H.265 (RFC 7798 7.1): sprop-vps, sprop-sps, sprop-pps
///   AAC   (RFC 3640 4.1, mpeg4-generic): config, mode, sizelength, indexlength, indexdeltalength
///   Opus  (RFC 7587 6.1): stereo, sprop-stereo

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "formats/rtsp/sdp.h"
#include "weir/status.h"

namespace weir::formats::rtsp {

using NalUnit = std::vector<std::uint8_t>;

/// H.264 parameters.
struct H264Parameters {
  int packetization_mode = 0;  ///< 0 single NAL, 1 non-interleaved (FU-A, STAP-A), 2 interleaved
  std::optional<std::array<std::uint8_t, 3>>
      profile_level_id;        ///< profile_idc, constraints, level_idc
  std::vector<NalUnit> sps;    ///< from sprop-parameter-sets, NAL type 7
  std::vector<NalUnit> pps;    ///< NAL type 8
  std::vector<NalUnit> other;  ///< any other NAL there (SEI, SPS extension)
};

/// Reads H.264 parameters. Absent parameters keep their defaults. Errors: Errc::malformed naming
/// the parameter for a bad number, a profile-level-id that is not 6 hex digits, bad base64 or an
/// empty NAL unit in sprop-parameter-sets.
Result<H264Parameters> h264_parameters(const Fmtp& fmtp);

/// H.265 parameters: each sprop list decoded (comma-separated base64 NAL units).
struct HevcParameters {
  std::vector<NalUnit> vps;
  std::vector<NalUnit> sps;
  std::vector<NalUnit> pps;
  std::vector<NalUnit> sei;  ///< sprop-sei
  int max_don_diff = 0;      ///< sprop-max-don-diff: 0 means no DONL/DOND fields in packets
};

/// Reads H.265 parameters. Errors: Errc::malformed naming the parameter (bad base64, empty NAL
/// unit, bad number).
Result<HevcParameters> hevc_parameters(const Fmtp& fmtp);

/// mpeg4-generic (RFC 3640) parameters for AAC.
struct AacParameters {
  std::vector<std::uint8_t> config;  ///< AudioSpecificConfig, from hex
  std::string mode;                  ///< "AAC-hbr", "AAC-lbr"; compare with iequals
  int size_length = 0;
  int index_length = 0;
  int index_delta_length = 0;
  int constant_size = 0;  ///< constantSize, 0 when absent
  int profile_level_id = 0;
  int stream_type = 0;  ///< streamType (5: audio)
};

/// Reads mpeg4-generic parameters. Errors: Errc::malformed for config that is not an even number
/// of hex digits, or a length parameter that is not a number of at most 32.
Result<AacParameters> aac_parameters(const Fmtp& fmtp);

/// Opus parameters (RFC 7587): the receiver's wish and the sender's hint.
struct OpusParameters {
  bool stereo = false;        ///< "stereo=1"
  bool sprop_stereo = false;  ///< "sprop-stereo=1"
};

/// Reads Opus parameters (any value but "1" is false, as RFC 7587 says).
OpusParameters opus_parameters(const Fmtp& fmtp);

/// Our H.264 fmtp: packetization-mode=1, profile-level-id from the first SPS, sprop-parameter-sets.
Fmtp make_h264_fmtp(int payload_type, std::span<const NalUnit> sps, std::span<const NalUnit> pps);
/// Our H.265 fmtp: sprop-vps, sprop-sps, sprop-pps (each list left out when empty).
Fmtp make_hevc_fmtp(int payload_type, std::span<const NalUnit> vps, std::span<const NalUnit> sps,
                    std::span<const NalUnit> pps);
/// Our AAC fmtp (AAC-hbr, 13/3/3 as RFC 3640 3.3.6 gives), with the AudioSpecificConfig in hex.
Fmtp make_aac_fmtp(int payload_type, std::span<const std::uint8_t> audio_specific_config);
/// Our Opus fmtp: sprop-stereo and stereo set from the channel count.
Fmtp make_opus_fmtp(int payload_type, int channels);

}  // namespace weir::formats::rtsp
