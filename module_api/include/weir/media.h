// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// What the kernel knows of media: kinds, codecs and per-frame flags. Codec-agnostic on purpose:
/// the kernel routes and caches frames; only modules and formats/ look inside payloads.

#include <cstdint>
#include <string_view>

namespace weir {

/// The track a frame belongs to.
enum class MediaKind : std::uint8_t { audio = 0, video = 1, data = 2 };

/// Codec of a frame's payload. Numbering is ours (not FLV's); formats/ maps wire ids to these.
enum class Codec : std::uint8_t {
  unknown = 0,
  // video
  h264,
  hevc,
  av1,
  vp9,
  vp8,
  vp6,
  sorenson_h263,
  screen_video,
  // audio
  aac,
  mp3,
  opus,
  speex,
  pcma,  ///< G.711 A-law
  pcmu,  ///< G.711 mu-law
  nellymoser,
  pcm,   ///< linear PCM (FLV "Linear PCM" / "Linear PCM little endian")
  adpcm,
  ac3,
  eac3,
  flac,
  // data
  amf0,  ///< script data (onMetaData and friends) in AMF0
  amf3,  ///< script data in AMF3
};

/// Lower-case codec name for logs and statistics ("h264", "aac").
constexpr std::string_view codec_name(Codec codec) noexcept {
  switch (codec) {
    case Codec::unknown: return "unknown";
    case Codec::h264: return "h264";
    case Codec::hevc: return "hevc";
    case Codec::av1: return "av1";
    case Codec::vp9: return "vp9";
    case Codec::vp8: return "vp8";
    case Codec::vp6: return "vp6";
    case Codec::sorenson_h263: return "h263";
    case Codec::screen_video: return "screen";
    case Codec::aac: return "aac";
    case Codec::mp3: return "mp3";
    case Codec::opus: return "opus";
    case Codec::speex: return "speex";
    case Codec::pcma: return "pcma";
    case Codec::pcmu: return "pcmu";
    case Codec::nellymoser: return "nellymoser";
    case Codec::pcm: return "pcm";
    case Codec::adpcm: return "adpcm";
    case Codec::ac3: return "ac3";
    case Codec::eac3: return "eac3";
    case Codec::flac: return "flac";
    case Codec::amf0: return "amf0";
    case Codec::amf3: return "amf3";
  }
  return "unknown";
}

constexpr std::string_view media_kind_name(MediaKind kind) noexcept {
  switch (kind) {
    case MediaKind::audio: return "audio";
    case MediaKind::video: return "video";
    case MediaKind::data: return "data";
  }
  return "unknown";
}

/// Per-frame flags the kernel acts on (GOP cache, dropping for slow players).
struct FrameFlags {
  bool is_key_frame = false;        ///< a video frame a decoder can start from
  bool is_sequence_header = false;  ///< codec configuration (AVC/HEVC record, AAC config): cached, sent first
  bool is_metadata = false;         ///< stream metadata (onMetaData): cached, sent first
};

}  // namespace weir
