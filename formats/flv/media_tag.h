// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The first bytes of FLV audio and video tag bodies (also the bodies of RTMP audio/video messages):
/// legacy FLV headers and Enhanced RTMP (E-RTMP v1/v2, Veovera) extended headers, parsed into the
/// kernel's codec-agnostic terms, and written back for tags a server produces.
///
///     legacy video   [frame type:4|codec id:4] [AVC/HEVC: packet type:8, composition time:SI24] data
///     E-RTMP video   [1|frame type:3|packet type:4] ([ModEx]...) [FourCC:32] [avc1/hvc1 CodedFrames:
///                    composition time:SI24] data
///     legacy audio   [sound format:4|rate:2|size:1|type:1] [AAC: packet type:8] data
///     E-RTMP audio   [9:4|packet type:4] ([ModEx]...) [FourCC:32] data
///
/// Stateless, no allocation on success, never throws. Thread: any.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "formats/flv/flv_file.h"
#include "weir/media.h"
#include "weir/status.h"

namespace weir::formats::flv {

/// A FourCC as E-RTMP puts it on the wire: the four ASCII bytes big-endian ('av01' == 0x61763031).
constexpr std::uint32_t make_fourcc(const char (&text)[5]) noexcept {
  return std::uint32_t{static_cast<std::uint8_t>(text[0])} << 24 |
         std::uint32_t{static_cast<std::uint8_t>(text[1])} << 16 |
         std::uint32_t{static_cast<std::uint8_t>(text[2])} << 8 | static_cast<std::uint8_t>(text[3]);
}

inline constexpr std::uint32_t kFourccAvc = make_fourcc("avc1");
inline constexpr std::uint32_t kFourccHevc = make_fourcc("hvc1");
inline constexpr std::uint32_t kFourccAv1 = make_fourcc("av01");
inline constexpr std::uint32_t kFourccVp9 = make_fourcc("vp09");
inline constexpr std::uint32_t kFourccVp8 = make_fourcc("vp08");
inline constexpr std::uint32_t kFourccOpus = make_fourcc("Opus");
inline constexpr std::uint32_t kFourccFlac = make_fourcc("fLaC");
inline constexpr std::uint32_t kFourccAc3 = make_fourcc("ac-3");
inline constexpr std::uint32_t kFourccEac3 = make_fourcc("ec-3");
inline constexpr std::uint32_t kFourccMp3 = make_fourcc(".mp3");
inline constexpr std::uint32_t kFourccAac = make_fourcc("mp4a");

/// The codec an E-RTMP video or audio FourCC names; Codec::unknown for others.
Codec codec_from_fourcc(std::uint32_t fourcc) noexcept;
/// The E-RTMP FourCC of a codec; 0 when E-RTMP defines none.
std::uint32_t fourcc_from_codec(Codec codec) noexcept;

/// What a tag carries, the same words for legacy and enhanced headers.
enum class PacketType : std::uint8_t {
  coded_frames,            ///< media: legacy frames, AVC/HEVC NALUs, AAC raw, E-RTMP CodedFrames(X)
  sequence_start,          ///< codec configuration: AVC/AAC sequence header, E-RTMP SequenceStart
  sequence_end,            ///< end of sequence: AVC end of sequence, E-RTMP SequenceEnd
  metadata,                ///< script data, or E-RTMP video Metadata (AMF colorInfo)
  mpeg2ts_sequence_start,  ///< E-RTMP MPEG2TSSequenceStart (an AV1 video descriptor)
  multichannel_config,     ///< E-RTMP audio MultichannelConfig (channel order and mapping)
  command,                 ///< video command frame (frame type 5): one UI8 at payload_offset, no media
  silence,                 ///< an empty audio message: RTMP's audio silence signal
};

/// Lower-case packet type name for messages.
const char* packet_type_name(PacketType type) noexcept;

/// E-RTMP AvMultitrackType.
enum class MultitrackType : std::uint8_t {
  one_track = 0,                ///< one track, not track 0 by necessity
  many_tracks = 1,              ///< several tracks, one codec
  many_tracks_many_codecs = 2,  ///< several tracks, a FourCC per track
};

/// The legacy FLV audio flags (sound rate, size and type), decoded. AAC tags always claim
/// 44.1 kHz stereo here; the AudioSpecificConfig has the truth (see codec_config.h).
struct LegacyAudioFormat {
  std::uint32_t sample_rate_hz = 0;  ///< 5512, 11025, 22050, 44100, or the rate the format implies
  std::uint8_t bits_per_sample = 0;  ///< 8 or 16 (meaningful for PCM only)
  std::uint8_t channels = 0;         ///< 1 or 2
};

/// The parsed head of an audio, video or script tag body.
struct TagInfo {
  MediaKind kind = MediaKind::data;
  Codec codec = Codec::unknown;  ///< unknown for command frames and silence where nothing says
  /// is_key_frame: a coded video frame of frame type key (1) or generated key (4); never set on
  /// sequence headers. is_sequence_header: codec configuration (also MPEG2TSSequenceStart).
  /// is_metadata: script data.
  FrameFlags flags;
  std::int32_t composition_time_ms = 0;  ///< pts - dts (AVC/HEVC coded frames), else 0
  std::size_t payload_offset = 0;        ///< where codec data begins in the body
  bool is_enhanced = false;              ///< E-RTMP extended header
  /// E-RTMP multitrack: codec data at payload_offset is a run of tracks (see MultitrackReader).
  /// codec is the shared codec, or unknown when each track names its own.
  bool is_multitrack = false;
  bool is_sequence_end = false;
  PacketType packet_type = PacketType::coded_frames;
  /// The packet type as sent: AVCPacketType / AACPacketType (legacy), VideoPacketType /
  /// AudioPacketType after any ModEx (E-RTMP), 0 where the format has none.
  std::uint8_t wire_packet_type = 0;
  std::uint8_t frame_type = 0;         ///< video frame type (1 key, 2 inter, 3 disposable, 4 generated key, 5 command)
  std::uint8_t legacy_codec_id = 0;    ///< legacy video CodecID or SoundFormat; 0 in E-RTMP video, 9 in E-RTMP audio
  std::uint32_t fourcc = 0;            ///< E-RTMP FourCC; 0 in legacy tags and in ManyTracksManyCodecs
  MultitrackType multitrack_type = MultitrackType::one_track;
  std::uint32_t timestamp_offset_ns = 0;  ///< E-RTMP ModEx TimestampOffsetNano; 0 when absent
  LegacyAudioFormat legacy_audio;      ///< legacy audio tags only
};

/// Parses the head of a tag body of the given type.
/// Errors: Errc::malformed when the body is shorter than its header says or a field has an
/// impossible value (message names the field and its offset in the body); Errc::unsupported for an
/// unknown codec id, sound format, FourCC or packet type.
Result<TagInfo> parse_tag_info(TagType type, std::span<const std::uint8_t> body) noexcept;
/// parse_tag_info for a video body.
Result<TagInfo> parse_video_tag(std::span<const std::uint8_t> body) noexcept;
/// parse_tag_info for an audio body; an empty body is PacketType::silence.
Result<TagInfo> parse_audio_tag(std::span<const std::uint8_t> body) noexcept;
/// parse_tag_info for script data: MediaKind::data, Codec::amf0, is_metadata, offset 0.
TagInfo script_tag_info() noexcept;

/// One track of an E-RTMP multitrack message.
struct TrackView {
  std::uint8_t track_id = 0;
  Codec codec = Codec::unknown;
  std::uint32_t fourcc = 0;
  std::int32_t composition_time_ms = 0;  ///< read from the track for avc1/hvc1 CodedFrames
  /// Codec data of this track (after its composition time, if any); borrowed from the body.
  std::span<const std::uint8_t> payload;
};

/// Walks the tracks of a multitrack tag. Borrows the body: use while it lives.
///
///     MultitrackReader tracks(body, info);
///     while (auto track = tracks.next()) { if (!*track) break; use(**track); }
class MultitrackReader {
 public:
  /// `info` must come from parse_tag_info on `body` with is_multitrack set.
  MultitrackReader(std::span<const std::uint8_t> body, const TagInfo& info) noexcept;
  /// The next track; std::nullopt after the last. Errc::malformed when a track overruns the body,
  /// Errc::unsupported for an unknown per-track FourCC.
  Result<std::optional<TrackView>> next() noexcept;

 private:
  std::span<const std::uint8_t> body_;
  std::size_t offset_;
  MultitrackType type_;
  std::uint32_t fourcc_;
  bool has_composition_time_;  // avc1/hvc1 CodedFrames (not CodedFramesX)
  bool done_ = false;
};

/// Bytes that go in front of codec data in a tag body (at most 8), built by the writers below.
struct TagBodyHeader {
  std::array<std::uint8_t, 8> bytes{};
  std::uint8_t size = 0;
  std::span<const std::uint8_t> view() const noexcept { return {bytes.data(), size}; }
};

/// Legacy video header: h264 or hevc (CodecID 7 or the non-standard 12) with packet type and
/// composition time (5 bytes), or sorenson_h263, screen_video, vp6 (1 byte, coded_frames only).
/// Errors: Errc::unsupported for other codecs or packet types; Errc::limit for a composition time
/// outside SI24.
Result<TagBodyHeader> write_legacy_video_header(Codec codec, bool is_key_frame, PacketType packet_type,
                                                std::int32_t composition_time_ms = 0) noexcept;

/// E-RTMP video header for h264, hevc, av1, vp9, vp8. AVC/HEVC coded frames with a zero composition
/// time use CodedFramesX (3 bytes shorter). Packet types: coded_frames, sequence_start,
/// sequence_end, metadata, mpeg2ts_sequence_start (av1). Errors: Errc::unsupported for other
/// codecs or packet types, a composition time on a codec without one; Errc::limit outside SI24.
Result<TagBodyHeader> write_enhanced_video_header(Codec codec, bool is_key_frame, PacketType packet_type,
                                                  std::int32_t composition_time_ms = 0) noexcept;

/// Legacy audio header. AAC writes 0xAF and its packet type (sequence_start or coded_frames); the
/// others one byte whose rate/size/type bits come from `format` (rates 5512, 11025, 22050, 44100;
/// Nellymoser 8/16 kHz mono, MP3 8 kHz, Speex and G.711 use their own sound formats or implied
/// rates). Errors: Errc::unsupported for codecs or rates legacy FLV cannot signal.
Result<TagBodyHeader> write_legacy_audio_header(Codec codec, PacketType packet_type,
                                                const LegacyAudioFormat& format = {}) noexcept;

/// E-RTMP audio header for opus, flac, ac3, eac3, mp3, aac. Packet types: sequence_start,
/// coded_frames, sequence_end, multichannel_config. Errors: Errc::unsupported otherwise.
Result<TagBodyHeader> write_enhanced_audio_header(Codec codec, PacketType packet_type) noexcept;

}  // namespace weir::formats::flv
