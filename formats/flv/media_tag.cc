// SPDX-License-Identifier: Apache-2.0
#include "formats/flv/media_tag.h"

#include "formats/flv/bit_reader.h"

namespace weir::formats::flv {

using detail::load_s24;
using detail::load_u16;
using detail::load_u24;
using detail::load_u32;

namespace {

// Legacy video CodecID.
constexpr std::uint8_t kVideoH263 = 2;
constexpr std::uint8_t kVideoScreen = 3;
constexpr std::uint8_t kVideoVp6 = 4;
constexpr std::uint8_t kVideoVp6Alpha = 5;
constexpr std::uint8_t kVideoScreen2 = 6;
constexpr std::uint8_t kVideoAvc = 7;
constexpr std::uint8_t kVideoHevcNonStandard = 12;  // not Adobe's: Chinese CDNs/encoders (pre E-RTMP)

// Video frame types.
constexpr std::uint8_t kFrameKey = 1;
constexpr std::uint8_t kFrameInter = 2;
constexpr std::uint8_t kFrameGeneratedKey = 4;
constexpr std::uint8_t kFrameCommand = 5;

// E-RTMP VideoPacketType.
constexpr std::uint8_t kVideoSequenceStart = 0;
constexpr std::uint8_t kVideoCodedFrames = 1;
constexpr std::uint8_t kVideoSequenceEnd = 2;
constexpr std::uint8_t kVideoCodedFramesX = 3;
constexpr std::uint8_t kVideoMetadata = 4;
constexpr std::uint8_t kVideoMpeg2TsSequenceStart = 5;
constexpr std::uint8_t kVideoMultitrack = 6;
constexpr std::uint8_t kPacketModEx = 7;  // audio and video

// Legacy SoundFormat.
constexpr std::uint8_t kSoundPcm = 0;
constexpr std::uint8_t kSoundAdpcm = 1;
constexpr std::uint8_t kSoundMp3 = 2;
constexpr std::uint8_t kSoundPcmLittleEndian = 3;
constexpr std::uint8_t kSoundNellymoser16kMono = 4;
constexpr std::uint8_t kSoundNellymoser8kMono = 5;
constexpr std::uint8_t kSoundNellymoser = 6;
constexpr std::uint8_t kSoundG711ALaw = 7;
constexpr std::uint8_t kSoundG711MuLaw = 8;
constexpr std::uint8_t kSoundExHeader = 9;
constexpr std::uint8_t kSoundAac = 10;
constexpr std::uint8_t kSoundSpeex = 11;
constexpr std::uint8_t kSoundMp3_8k = 14;

// E-RTMP AudioPacketType.
constexpr std::uint8_t kAudioSequenceStart = 0;
constexpr std::uint8_t kAudioCodedFrames = 1;
constexpr std::uint8_t kAudioSequenceEnd = 2;
constexpr std::uint8_t kAudioMultichannelConfig = 4;
constexpr std::uint8_t kAudioMultitrack = 5;

constexpr std::uint8_t kModExTimestampOffsetNano = 0;

constexpr std::uint32_t kLegacySoundRates[] = {5512, 11025, 22050, 44100};

bool is_enhanced_video_codec(Codec codec) {
  return codec == Codec::h264 || codec == Codec::hevc || codec == Codec::av1 || codec == Codec::vp9 ||
         codec == Codec::vp8;
}

bool is_enhanced_audio_codec(Codec codec) {
  return codec == Codec::opus || codec == Codec::flac || codec == Codec::ac3 || codec == Codec::eac3 ||
         codec == Codec::mp3 || codec == Codec::aac;
}

// Printable FourCC for messages: 'hvc1', or hex when not ASCII.
struct FourccText {
  char text[11];
};
FourccText fourcc_text(std::uint32_t fourcc) noexcept {
  FourccText out{};
  bool printable = true;
  for (int i = 0; i < 4; ++i) {
    auto c = static_cast<std::uint8_t>(fourcc >> (24 - 8 * i));
    if (c < 0x20 || c > 0x7e) printable = false;
  }
  if (printable) {
    out.text[0] = '\'';
    for (int i = 0; i < 4; ++i) out.text[1 + i] = static_cast<char>(fourcc >> (24 - 8 * i));
    out.text[5] = '\'';
    return out;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out.text[0] = '0';
  out.text[1] = 'x';
  for (int i = 0; i < 8; ++i) out.text[2 + i] = kHex[(fourcc >> (28 - 4 * i)) & 0xF];
  return out;
}

Status too_short(const char* what, std::size_t need, std::size_t have) {
  return error(Errc::malformed, "{}: needs {} bytes, the body has {}", what, need, have);
}

// Skips E-RTMP ModEx entries (the packet type is ModEx while more follow), per spec:
//   size-1:UI8 [size-1:UI16 when the UI8 says 256] data[size] [mod ex type:4|next packet type:4]
// Keeps what we understand (TimestampOffsetNano); the rest is skipped as the spec requires.
Status skip_mod_ex(std::span<const std::uint8_t> body, std::size_t& pos, std::uint8_t& packet_type,
                   TagInfo& info, const char* what) {
  while (packet_type == kPacketModEx) {
    if (pos + 1 > body.size()) return error(Errc::malformed, "{}: ModEx size missing at offset {}", what, pos);
    std::size_t size = std::size_t{body[pos]} + 1;
    ++pos;
    if (size == 256) {
      if (pos + 2 > body.size())
        return error(Errc::malformed, "{}: ModEx 16-bit size missing at offset {}", what, pos);
      size = std::size_t{load_u16(body.data() + pos)} + 1;
      pos += 2;
    }
    if (pos + size + 1 > body.size())
      return error(Errc::malformed, "{}: ModEx data of {} bytes at offset {} overruns the body of {}", what, size,
                   pos, body.size());
    std::span<const std::uint8_t> data = body.subspan(pos, size);
    pos += size;
    std::uint8_t mod_ex_type = body[pos] >> 4;
    packet_type = body[pos] & 0x0F;
    ++pos;
    if (mod_ex_type == kModExTimestampOffsetNano && data.size() >= 3) info.timestamp_offset_ns = load_u24(data.data());
  }
  return ok();
}

Status parse_multitrack_head(std::span<const std::uint8_t> body, std::size_t& pos, std::uint8_t& packet_type,
                             std::uint8_t multitrack_value, TagInfo& info, const char* what) {
  if (pos + 1 > body.size())
    return error(Errc::malformed, "{}: multitrack type missing at offset {}", what, pos);
  std::uint8_t type = body[pos] >> 4;
  packet_type = body[pos] & 0x0F;
  if (type > 2) return error(Errc::unsupported, "{}: multitrack type {} at offset {}", what, type, pos);
  if (packet_type == multitrack_value || packet_type == kPacketModEx)
    return error(Errc::malformed, "{}: nested multitrack or ModEx packet type {} at offset {}", what, packet_type, pos);
  ++pos;
  info.is_multitrack = true;
  info.multitrack_type = static_cast<MultitrackType>(type);
  return ok();
}

Result<TagInfo> parse_legacy_video(std::span<const std::uint8_t> body) {
  TagInfo info;
  info.kind = MediaKind::video;
  info.frame_type = (body[0] >> 4) & 0x07;
  info.legacy_codec_id = body[0] & 0x0F;
  if (info.frame_type == 0 || info.frame_type > kFrameCommand)
    return error(Errc::malformed, "video tag: frame type {} at offset 0", info.frame_type);
  switch (info.legacy_codec_id) {
    case kVideoH263: info.codec = Codec::sorenson_h263; break;
    case kVideoScreen:
    case kVideoScreen2: info.codec = Codec::screen_video; break;
    case kVideoVp6:
    case kVideoVp6Alpha: info.codec = Codec::vp6; break;
    case kVideoAvc: info.codec = Codec::h264; break;
    case kVideoHevcNonStandard: info.codec = Codec::hevc; break;
    default:
      return error(Errc::unsupported, "video tag: codec id {} at offset 0", info.legacy_codec_id);
  }
  info.payload_offset = 1;
  if (info.frame_type == kFrameCommand) {
    if (body.size() < 2) return too_short("video command frame", 2, body.size());
    info.packet_type = PacketType::command;
    return info;
  }
  // VP6 keeps its adjustment byte (and VP6A its alpha offset) in the payload: they are part of the
  // VP6FLVVIDEOPACKET the legacy spec puts after the first byte.
  if (info.codec != Codec::h264 && info.codec != Codec::hevc) {
    info.flags.is_key_frame = info.frame_type == kFrameKey || info.frame_type == kFrameGeneratedKey;
    return info;
  }
  if (body.size() < 5) return too_short(info.codec == Codec::h264 ? "avc video tag" : "hevc video tag", 5, body.size());
  info.wire_packet_type = body[1];
  switch (body[1]) {
    case 0:
      info.packet_type = PacketType::sequence_start;
      info.flags.is_sequence_header = true;
      break;
    case 1:
      info.packet_type = PacketType::coded_frames;
      info.flags.is_key_frame = info.frame_type == kFrameKey || info.frame_type == kFrameGeneratedKey;
      info.composition_time_ms = load_s24(body.data() + 2);
      break;
    case 2:
      info.packet_type = PacketType::sequence_end;
      info.is_sequence_end = true;
      break;
    default:
      return error(Errc::malformed, "video tag: AVC packet type {} at offset 1", body[1]);
  }
  info.payload_offset = 5;
  return info;
}

Result<TagInfo> parse_enhanced_video(std::span<const std::uint8_t> body) {
  constexpr const char* kWhat = "e-rtmp video tag";
  TagInfo info;
  info.kind = MediaKind::video;
  info.is_enhanced = true;
  info.frame_type = (body[0] >> 4) & 0x07;
  std::uint8_t packet_type = body[0] & 0x0F;
  std::size_t pos = 1;
  WEIR_TRY(skip_mod_ex(body, pos, packet_type, info, kWhat));
  info.wire_packet_type = packet_type;
  if (packet_type != kVideoMetadata && info.frame_type == kFrameCommand) {
    // A command frame: a UI8 command follows, no FourCC and no media.
    if (pos + 1 > body.size()) return too_short("e-rtmp video command frame", pos + 1, body.size());
    info.packet_type = PacketType::command;
    info.payload_offset = pos;
    return info;
  }
  if (packet_type == kVideoMultitrack) {
    WEIR_TRY(parse_multitrack_head(body, pos, packet_type, kVideoMultitrack, info, kWhat));
    info.wire_packet_type = packet_type;
  }
  // Metadata ignores the frame type; everything else needs a real one.
  if (packet_type != kVideoMetadata && (info.frame_type == 0 || info.frame_type > kFrameCommand))
    return error(Errc::malformed, "{}: frame type {} at offset 0", kWhat, info.frame_type);
  switch (packet_type) {
    case kVideoSequenceStart: info.packet_type = PacketType::sequence_start; break;
    case kVideoCodedFrames:
    case kVideoCodedFramesX: info.packet_type = PacketType::coded_frames; break;
    case kVideoSequenceEnd: info.packet_type = PacketType::sequence_end; break;
    case kVideoMetadata: info.packet_type = PacketType::metadata; break;
    case kVideoMpeg2TsSequenceStart: info.packet_type = PacketType::mpeg2ts_sequence_start; break;
    default: return error(Errc::unsupported, "{}: video packet type {}", kWhat, packet_type);
  }
  if (!(info.is_multitrack && info.multitrack_type == MultitrackType::many_tracks_many_codecs)) {
    if (pos + 4 > body.size()) return error(Errc::malformed, "{}: FourCC missing at offset {}", kWhat, pos);
    info.fourcc = load_u32(body.data() + pos);
    info.codec = codec_from_fourcc(info.fourcc);
    if (!is_enhanced_video_codec(info.codec))
      return error(Errc::unsupported, "{}: video FourCC {} at offset {}", kWhat, fourcc_text(info.fourcc).text, pos);
    pos += 4;
  }
  const bool is_key = info.frame_type == kFrameKey || info.frame_type == kFrameGeneratedKey;
  switch (info.packet_type) {
    case PacketType::sequence_start:
    case PacketType::mpeg2ts_sequence_start: info.flags.is_sequence_header = true; break;
    case PacketType::sequence_end: info.is_sequence_end = true; break;
    case PacketType::coded_frames:
      info.flags.is_key_frame = is_key;
      // Only AVC and HEVC CodedFrames carry a composition time; in multitrack it sits in each track.
      if (!info.is_multitrack && packet_type == kVideoCodedFrames &&
          (info.codec == Codec::h264 || info.codec == Codec::hevc)) {
        if (pos + 3 > body.size())
          return error(Errc::malformed, "{}: composition time missing at offset {}", kWhat, pos);
        info.composition_time_ms = load_s24(body.data() + pos);
        pos += 3;
      }
      break;
    default: break;
  }
  info.payload_offset = pos;
  return info;
}

LegacyAudioFormat legacy_audio_format(std::uint8_t first) {
  LegacyAudioFormat format;
  std::uint8_t sound_format = first >> 4;
  format.sample_rate_hz = kLegacySoundRates[(first >> 2) & 0x03];
  format.bits_per_sample = (first & 0x02) ? 16 : 8;
  format.channels = (first & 0x01) ? 2 : 1;
  switch (sound_format) {
    case kSoundNellymoser16kMono:
      format.sample_rate_hz = 16000;
      format.channels = 1;
      break;
    case kSoundNellymoser8kMono:
    case kSoundG711ALaw:
    case kSoundG711MuLaw:
    case kSoundMp3_8k:
      format.sample_rate_hz = 8000;
      break;
    case kSoundSpeex:  // Speex in FLV is always 16 kHz mono
      format.sample_rate_hz = 16000;
      format.channels = 1;
      break;
    default: break;
  }
  return format;
}

Result<TagInfo> parse_legacy_audio(std::span<const std::uint8_t> body) {
  TagInfo info;
  info.kind = MediaKind::audio;
  info.legacy_codec_id = body[0] >> 4;
  info.legacy_audio = legacy_audio_format(body[0]);
  info.payload_offset = 1;
  switch (info.legacy_codec_id) {
    case kSoundPcm:
    case kSoundPcmLittleEndian: info.codec = Codec::pcm; break;
    case kSoundAdpcm: info.codec = Codec::adpcm; break;
    case kSoundMp3:
    case kSoundMp3_8k: info.codec = Codec::mp3; break;
    case kSoundNellymoser16kMono:
    case kSoundNellymoser8kMono:
    case kSoundNellymoser: info.codec = Codec::nellymoser; break;
    case kSoundG711ALaw: info.codec = Codec::pcma; break;
    case kSoundG711MuLaw: info.codec = Codec::pcmu; break;
    case kSoundSpeex: info.codec = Codec::speex; break;
    case kSoundAac: {
      info.codec = Codec::aac;
      if (body.size() < 2) return too_short("aac audio tag", 2, body.size());
      info.wire_packet_type = body[1];
      if (body[1] == 0) {
        info.packet_type = PacketType::sequence_start;
        info.flags.is_sequence_header = true;
      } else if (body[1] != 1) {
        return error(Errc::malformed, "audio tag: AAC packet type {} at offset 1", body[1]);
      }
      info.payload_offset = 2;
      break;
    }
    default:  // 12, 13 reserved; 15 device-specific
      return error(Errc::unsupported, "audio tag: sound format {} at offset 0", info.legacy_codec_id);
  }
  return info;
}

Result<TagInfo> parse_enhanced_audio(std::span<const std::uint8_t> body) {
  constexpr const char* kWhat = "e-rtmp audio tag";
  TagInfo info;
  info.kind = MediaKind::audio;
  info.is_enhanced = true;
  info.legacy_codec_id = kSoundExHeader;
  std::uint8_t packet_type = body[0] & 0x0F;
  std::size_t pos = 1;
  WEIR_TRY(skip_mod_ex(body, pos, packet_type, info, kWhat));
  if (packet_type == kAudioMultitrack)
    WEIR_TRY(parse_multitrack_head(body, pos, packet_type, kAudioMultitrack, info, kWhat));
  info.wire_packet_type = packet_type;
  switch (packet_type) {
    case kAudioSequenceStart:
      info.packet_type = PacketType::sequence_start;
      info.flags.is_sequence_header = true;
      break;
    case kAudioCodedFrames: info.packet_type = PacketType::coded_frames; break;
    case kAudioSequenceEnd:
      info.packet_type = PacketType::sequence_end;
      info.is_sequence_end = true;
      break;
    case kAudioMultichannelConfig: info.packet_type = PacketType::multichannel_config; break;
    default: return error(Errc::unsupported, "{}: audio packet type {}", kWhat, packet_type);
  }
  if (!(info.is_multitrack && info.multitrack_type == MultitrackType::many_tracks_many_codecs)) {
    if (pos + 4 > body.size()) return error(Errc::malformed, "{}: FourCC missing at offset {}", kWhat, pos);
    info.fourcc = load_u32(body.data() + pos);
    info.codec = codec_from_fourcc(info.fourcc);
    if (!is_enhanced_audio_codec(info.codec))
      return error(Errc::unsupported, "{}: audio FourCC {} at offset {}", kWhat, fourcc_text(info.fourcc).text, pos);
    pos += 4;
  }
  info.payload_offset = pos;
  return info;
}

}  // namespace

Codec codec_from_fourcc(std::uint32_t fourcc) noexcept {
  switch (fourcc) {
    case kFourccAvc: return Codec::h264;
    case kFourccHevc: return Codec::hevc;
    case kFourccAv1: return Codec::av1;
    case kFourccVp9: return Codec::vp9;
    case kFourccVp8: return Codec::vp8;
    case kFourccOpus: return Codec::opus;
    case kFourccFlac: return Codec::flac;
    case kFourccAc3: return Codec::ac3;
    case kFourccEac3: return Codec::eac3;
    case kFourccMp3: return Codec::mp3;
    case kFourccAac: return Codec::aac;
    default: return Codec::unknown;
  }
}

std::uint32_t fourcc_from_codec(Codec codec) noexcept {
  switch (codec) {
    case Codec::h264: return kFourccAvc;
    case Codec::hevc: return kFourccHevc;
    case Codec::av1: return kFourccAv1;
    case Codec::vp9: return kFourccVp9;
    case Codec::vp8: return kFourccVp8;
    case Codec::opus: return kFourccOpus;
    case Codec::flac: return kFourccFlac;
    case Codec::ac3: return kFourccAc3;
    case Codec::eac3: return kFourccEac3;
    case Codec::mp3: return kFourccMp3;
    case Codec::aac: return kFourccAac;
    default: return 0;
  }
}

const char* packet_type_name(PacketType type) noexcept {
  switch (type) {
    case PacketType::coded_frames: return "coded frames";
    case PacketType::sequence_start: return "sequence start";
    case PacketType::sequence_end: return "sequence end";
    case PacketType::metadata: return "metadata";
    case PacketType::mpeg2ts_sequence_start: return "mpeg2ts sequence start";
    case PacketType::multichannel_config: return "multichannel config";
    case PacketType::command: return "command";
    case PacketType::silence: return "silence";
  }
  return "unknown";
}

Result<TagInfo> parse_video_tag(std::span<const std::uint8_t> body) noexcept {
  if (body.empty()) return error(Errc::malformed, "video tag: empty body");
  return (body[0] & 0x80) ? parse_enhanced_video(body) : parse_legacy_video(body);
}

Result<TagInfo> parse_audio_tag(std::span<const std::uint8_t> body) noexcept {
  if (body.empty()) {
    TagInfo info;
    info.kind = MediaKind::audio;
    info.packet_type = PacketType::silence;
    return info;
  }
  return (body[0] >> 4) == kSoundExHeader ? parse_enhanced_audio(body) : parse_legacy_audio(body);
}

TagInfo script_tag_info() noexcept {
  TagInfo info;
  info.kind = MediaKind::data;
  info.codec = Codec::amf0;
  info.flags.is_metadata = true;
  info.packet_type = PacketType::metadata;
  return info;
}

Result<TagInfo> parse_tag_info(TagType type, std::span<const std::uint8_t> body) noexcept {
  switch (type) {
    case TagType::audio: return parse_audio_tag(body);
    case TagType::video: return parse_video_tag(body);
    case TagType::script: return script_tag_info();
  }
  return error(Errc::malformed, "tag type {}", static_cast<int>(type));
}

// ---------------------------------------------------------------------------------------------
// MultitrackReader

MultitrackReader::MultitrackReader(std::span<const std::uint8_t> body, const TagInfo& info) noexcept
    : body_(body),
      offset_(info.payload_offset),
      type_(info.multitrack_type),
      fourcc_(info.fourcc),
      has_composition_time_(info.kind == MediaKind::video && info.wire_packet_type == kVideoCodedFrames),
      done_(!info.is_multitrack || info.payload_offset > body.size()) {}

Result<std::optional<TrackView>> MultitrackReader::next() noexcept {
  constexpr const char* kWhat = "e-rtmp multitrack";
  if (done_ || offset_ >= body_.size()) return std::optional<TrackView>();
  TrackView track;
  std::size_t pos = offset_;
  std::uint32_t fourcc = fourcc_;
  std::size_t fourcc_at = pos;
  if (type_ == MultitrackType::many_tracks_many_codecs) {
    if (pos + 4 > body_.size()) {
      done_ = true;
      return error(Errc::malformed, "{}: track FourCC missing at offset {}", kWhat, pos);
    }
    fourcc = load_u32(body_.data() + pos);
    pos += 4;
  }
  track.fourcc = fourcc;
  track.codec = codec_from_fourcc(fourcc);
  if (track.codec == Codec::unknown) {
    done_ = true;
    return error(Errc::unsupported, "{}: track FourCC {} at offset {}", kWhat, fourcc_text(fourcc).text, fourcc_at);
  }
  if (pos + 1 > body_.size()) {
    done_ = true;
    return error(Errc::malformed, "{}: track id missing at offset {}", kWhat, pos);
  }
  track.track_id = body_[pos++];
  std::size_t end = body_.size();
  if (type_ != MultitrackType::one_track) {
    if (pos + 3 > body_.size()) {
      done_ = true;
      return error(Errc::malformed, "{}: track size missing at offset {}", kWhat, pos);
    }
    std::size_t size = load_u24(body_.data() + pos);
    pos += 3;
    if (size > body_.size() - pos) {
      done_ = true;
      return error(Errc::malformed, "{}: track {} of {} bytes at offset {} overruns the body of {}", kWhat,
                   track.track_id, size, pos, body_.size());
    }
    end = pos + size;
  }
  if (has_composition_time_ && (track.codec == Codec::h264 || track.codec == Codec::hevc)) {
    if (pos + 3 > end) {
      done_ = true;
      return error(Errc::malformed, "{}: track {} composition time missing at offset {}", kWhat, track.track_id, pos);
    }
    track.composition_time_ms = load_s24(body_.data() + pos);
    pos += 3;
  }
  track.payload = body_.subspan(pos, end - pos);
  offset_ = end;
  if (type_ == MultitrackType::one_track) done_ = true;
  return std::optional<TrackView>(track);
}

// ---------------------------------------------------------------------------------------------
// Writers

namespace {

Status check_si24(std::int32_t value) {
  if (value < -0x800000 || value > 0x7FFFFF)
    return error(Errc::limit, "composition time {} ms does not fit SI24", value);
  return ok();
}

void put_u24(TagBodyHeader& out, std::uint32_t value) {
  detail::store_u24(out.bytes.data() + out.size, value & 0xFFFFFF);
  out.size = static_cast<std::uint8_t>(out.size + 3);
}

void put_u32(TagBodyHeader& out, std::uint32_t value) {
  detail::store_u32(out.bytes.data() + out.size, value);
  out.size = static_cast<std::uint8_t>(out.size + 4);
}

}  // namespace

Result<TagBodyHeader> write_legacy_video_header(Codec codec, bool is_key_frame, PacketType packet_type,
                                                std::int32_t composition_time_ms) noexcept {
  std::uint8_t codec_id = 0;
  switch (codec) {
    case Codec::h264: codec_id = kVideoAvc; break;
    case Codec::hevc: codec_id = kVideoHevcNonStandard; break;
    case Codec::sorenson_h263: codec_id = kVideoH263; break;
    case Codec::screen_video: codec_id = kVideoScreen; break;
    case Codec::vp6: codec_id = kVideoVp6; break;
    default: return error(Errc::unsupported, "legacy flv video cannot carry {}", codec_name(codec));
  }
  TagBodyHeader out;
  std::uint8_t frame_type = is_key_frame ? kFrameKey : kFrameInter;
  out.bytes[0] = static_cast<std::uint8_t>(frame_type << 4 | codec_id);
  out.size = 1;
  if (codec != Codec::h264 && codec != Codec::hevc) {
    if (packet_type != PacketType::coded_frames)
      return error(Errc::unsupported, "legacy flv {} has no {} packet", codec_name(codec),
                   packet_type_name(packet_type));
    return out;
  }
  switch (packet_type) {
    case PacketType::sequence_start: out.bytes[1] = 0; break;
    case PacketType::coded_frames: out.bytes[1] = 1; break;
    case PacketType::sequence_end: out.bytes[1] = 2; break;
    default:
      return error(Errc::unsupported, "legacy flv {} has no {} packet", codec_name(codec),
                   packet_type_name(packet_type));
  }
  WEIR_TRY(check_si24(composition_time_ms));
  out.size = 2;
  put_u24(out, packet_type == PacketType::coded_frames ? static_cast<std::uint32_t>(composition_time_ms) : 0);
  return out;
}

Result<TagBodyHeader> write_enhanced_video_header(Codec codec, bool is_key_frame, PacketType packet_type,
                                                  std::int32_t composition_time_ms) noexcept {
  std::uint32_t fourcc = fourcc_from_codec(codec);
  if (!is_enhanced_video_codec(codec))
    return error(Errc::unsupported, "e-rtmp video cannot carry {}", codec_name(codec));
  const bool has_composition_time = codec == Codec::h264 || codec == Codec::hevc;
  std::uint8_t wire = 0;
  switch (packet_type) {
    case PacketType::sequence_start: wire = kVideoSequenceStart; break;
    case PacketType::sequence_end: wire = kVideoSequenceEnd; break;
    case PacketType::metadata: wire = kVideoMetadata; break;
    case PacketType::coded_frames:
      WEIR_TRY(check_si24(composition_time_ms));
      if (has_composition_time) {
        // CodedFramesX: the composition time is implied zero, 3 bytes saved.
        wire = composition_time_ms != 0 ? kVideoCodedFrames : kVideoCodedFramesX;
      } else {
        if (composition_time_ms != 0)
          return error(Errc::unsupported, "e-rtmp {} frames carry no composition time ({} ms given)",
                       codec_name(codec), composition_time_ms);
        wire = kVideoCodedFrames;
      }
      break;
    case PacketType::mpeg2ts_sequence_start:
      if (codec != Codec::av1)
        return error(Errc::unsupported, "e-rtmp MPEG2TSSequenceStart is defined for av1, not {}", codec_name(codec));
      wire = kVideoMpeg2TsSequenceStart;
      break;
    default:
      return error(Errc::unsupported, "e-rtmp video has no {} packet", packet_type_name(packet_type));
  }
  TagBodyHeader out;
  std::uint8_t frame_type = is_key_frame ? kFrameKey : kFrameInter;
  out.bytes[0] = static_cast<std::uint8_t>(0x80 | frame_type << 4 | wire);
  out.size = 1;
  put_u32(out, fourcc);
  if (wire == kVideoCodedFrames && has_composition_time) put_u24(out, static_cast<std::uint32_t>(composition_time_ms));
  return out;
}

Result<TagBodyHeader> write_legacy_audio_header(Codec codec, PacketType packet_type,
                                                const LegacyAudioFormat& format) noexcept {
  TagBodyHeader out;
  if (codec == Codec::aac) {
    // The legacy spec fixes AAC's flags to 44 kHz, 16-bit, stereo; the AudioSpecificConfig rules.
    out.bytes[0] = 0xAF;
    if (packet_type == PacketType::sequence_start)
      out.bytes[1] = 0;
    else if (packet_type == PacketType::coded_frames)
      out.bytes[1] = 1;
    else
      return error(Errc::unsupported, "legacy flv aac has no {} packet", packet_type_name(packet_type));
    out.size = 2;
    return out;
  }
  if (packet_type != PacketType::coded_frames)
    return error(Errc::unsupported, "legacy flv {} has no {} packet", codec_name(codec), packet_type_name(packet_type));
  int rate_code = -1;
  for (int i = 0; i < 4; ++i)
    if (format.sample_rate_hz == kLegacySoundRates[i] || (i == 0 && format.sample_rate_hz == 5500)) rate_code = i;
  std::uint8_t sound_format = 0;
  bool implied_rate = false;  // the sound format says the rate; the rate bits are not used
  switch (codec) {
    case Codec::pcm: sound_format = kSoundPcmLittleEndian; break;
    case Codec::adpcm: sound_format = kSoundAdpcm; break;
    case Codec::mp3:
      sound_format = format.sample_rate_hz == 8000 ? kSoundMp3_8k : kSoundMp3;
      implied_rate = format.sample_rate_hz == 8000;
      break;
    case Codec::nellymoser:
      if (format.sample_rate_hz == 16000 && format.channels <= 1) {
        sound_format = kSoundNellymoser16kMono;
        implied_rate = true;
      } else if (format.sample_rate_hz == 8000 && format.channels <= 1) {
        sound_format = kSoundNellymoser8kMono;
        implied_rate = true;
      } else {
        sound_format = kSoundNellymoser;
      }
      break;
    case Codec::pcma:
    case Codec::pcmu:
      sound_format = codec == Codec::pcma ? kSoundG711ALaw : kSoundG711MuLaw;
      implied_rate = format.sample_rate_hz == 8000 || format.sample_rate_hz == 0;
      break;
    case Codec::speex:
      sound_format = kSoundSpeex;
      implied_rate = format.sample_rate_hz == 16000 || format.sample_rate_hz == 0;
      break;
    default: return error(Errc::unsupported, "legacy flv audio cannot carry {}", codec_name(codec));
  }
  // Readers ignore the rate bits of these formats; write what FFmpeg's muxer writes (Speex: 11 kHz).
  if (implied_rate) rate_code = codec == Codec::speex ? 1 : 0;
  if (rate_code < 0)
    return error(Errc::unsupported, "legacy flv {} cannot signal {} Hz", codec_name(codec), format.sample_rate_hz);
  if (codec == Codec::speex && format.channels > 1)
    return error(Errc::unsupported, "legacy flv speex is mono, {} channels given", format.channels);
  bool is_16_bit = format.bits_per_sample != 8;
  bool is_stereo = format.channels == 2;
  out.bytes[0] = static_cast<std::uint8_t>(sound_format << 4 | rate_code << 2 | (is_16_bit ? 0x02 : 0) |
                                           (is_stereo ? 0x01 : 0));
  out.size = 1;
  return out;
}

Result<TagBodyHeader> write_enhanced_audio_header(Codec codec, PacketType packet_type) noexcept {
  std::uint32_t fourcc = fourcc_from_codec(codec);
  if (!is_enhanced_audio_codec(codec))
    return error(Errc::unsupported, "e-rtmp audio cannot carry {}", codec_name(codec));
  std::uint8_t wire = 0;
  switch (packet_type) {
    case PacketType::sequence_start: wire = kAudioSequenceStart; break;
    case PacketType::coded_frames: wire = kAudioCodedFrames; break;
    case PacketType::sequence_end: wire = kAudioSequenceEnd; break;
    case PacketType::multichannel_config: wire = kAudioMultichannelConfig; break;
    default: return error(Errc::unsupported, "e-rtmp audio has no {} packet", packet_type_name(packet_type));
  }
  TagBodyHeader out;
  out.bytes[0] = static_cast<std::uint8_t>(kSoundExHeader << 4 | wire);
  out.size = 1;
  put_u32(out, fourcc);
  return out;
}

}  // namespace weir::formats::flv
