// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/latm.h"

#include "formats/flv/codec_config.h"

namespace weir::formats::rtp {

namespace {

// MSB-first bit reader over the StreamMuxConfig; reading past the end yields zero bits and sets
// overrun (the fields after the AudioSpecificConfig may be missing: GStreamer leaves them out).
class Bits {
 public:
  explicit Bits(std::span<const std::uint8_t> bytes) noexcept : bytes_(bytes) {}
  std::uint32_t read(unsigned count) noexcept {
    std::uint32_t value = 0;
    for (unsigned i = 0; i < count; ++i) {
      std::uint32_t bit = 0;
      if ((position_ >> 3) < bytes_.size()) {
        bit = (bytes_[position_ >> 3] >> (7 - (position_ & 7))) & 1u;
      } else {
        overrun_ = true;
      }
      value = value << 1 | bit;
      ++position_;
    }
    return value;
  }
  void skip(std::size_t count) noexcept {
    position_ += count;
    if (position_ > bytes_.size() * 8) overrun_ = true;
  }
  std::size_t position() const noexcept { return position_; }
  std::size_t size_bits() const noexcept { return bytes_.size() * 8; }
  bool overrun() const noexcept { return overrun_; }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t position_ = 0;
  bool overrun_ = false;
};

// LatmGetValue() (14496-3 1.7.3.1): bytesForValue (2 bits), then that many plus one bytes.
std::uint32_t latm_get_value(Bits& bits) noexcept {
  unsigned bytes = bits.read(2) + 1;
  return bits.read(8 * bytes);
}

std::uint32_t read_object_type(Bits& bits) noexcept {
  std::uint32_t type = bits.read(5);
  return type == 31 ? 32 + bits.read(6) : type;
}

void skip_sampling_frequency(Bits& bits) noexcept {
  if (bits.read(4) == 15) bits.skip(24);  // explicit 24-bit frequency
}

bool is_general_audio(std::uint32_t type) noexcept {
  switch (type) {
    case 1: case 2: case 3: case 4: case 6: case 7: case 17: case 19: case 20: case 21: case 22: case 23:
      return true;
    default:
      return false;
  }
}

// Walks an AudioSpecificConfig (14496-3 1.6.2.1 and GASpecificConfig 4.4.1) to learn where it
// ends, which formats/flv's parser does not say: version 0 gives no length, and frameLengthType
// follows the last bit. Sets `frame_samples` for the core coder (before SBR).
Status walk_audio_specific_config(Bits& bits, std::uint32_t& frame_samples) {
  const std::size_t start = bits.position();
  std::uint32_t type = read_object_type(bits);
  skip_sampling_frequency(bits);
  std::uint32_t channel_configuration = bits.read(4);
  if (type == 5 || type == 29) {  // explicit SBR (and PS), then the core's object type
    skip_sampling_frequency(bits);
    type = read_object_type(bits);
    if (type == 22) bits.skip(4);  // extensionChannelConfiguration
  }
  if (bits.overrun())
    return error(Errc::malformed, "latm StreamMuxConfig ends at bit {} inside the AudioSpecificConfig (from bit {})",
                 bits.size_bits(), start);
  if (!is_general_audio(type))
    return error(Errc::unsupported, "latm AudioSpecificConfig at bit {}: audio object type {} (AAC only)", start, type);
  if (channel_configuration == 0)
    return error(Errc::unsupported,
                 "latm AudioSpecificConfig at bit {}: channel configuration 0 (program_config_element) unsupported",
                 start);
  bool frame_length_flag = bits.read(1) != 0;
  if (bits.read(1)) bits.skip(14);  // dependsOnCoreCoder: coreCoderDelay
  bool extension_flag = bits.read(1) != 0;
  if (type == 6 || type == 20) bits.skip(3);  // layerNr
  if (extension_flag) {
    if (type == 22) bits.skip(5 + 11);  // numOfSubFrame, layer_length
    if (type == 17 || type == 19 || type == 20 || type == 23) bits.skip(3);  // resilience flags
    bits.skip(1);  // extensionFlag3
  }
  if (type >= 17) {
    std::uint32_t ep_config = bits.read(2);
    if (ep_config >= 2)
      return error(Errc::unsupported, "latm AudioSpecificConfig at bit {}: epConfig {} (error protection) unsupported",
                   start, ep_config);
  }
  if (bits.overrun())
    return error(Errc::malformed, "latm StreamMuxConfig ends at bit {} inside the AudioSpecificConfig (from bit {})",
                 bits.size_bits(), start);
  if (type == 23) {
    frame_samples = frame_length_flag ? 480 : 512;  // ER AAC LD
  } else {
    frame_samples = frame_length_flag ? 960 : 1024;
  }
  return ok();
}

// The bits [start, start + count) of `bytes` as bytes of their own, the last padded with zeros.
std::vector<std::uint8_t> copy_bits(std::span<const std::uint8_t> bytes, std::size_t start, std::size_t count) {
  std::vector<std::uint8_t> out((count + 7) / 8);
  Bits bits(bytes);
  bits.skip(start);
  for (std::size_t i = 0; i < count; ++i)
    if (bits.read(1)) out[i >> 3] = static_cast<std::uint8_t>(out[i >> 3] | 0x80u >> (i & 7));
  return out;
}

}  // namespace

Result<LatmConfig> parse_stream_mux_config(std::span<const std::uint8_t> config) {
  Bits bits(config);
  LatmConfig out;
  out.audio_mux_version = static_cast<std::uint8_t>(bits.read(1));
  if (out.audio_mux_version == 1) {
    if (bits.read(1))
      return error(Errc::unsupported, "latm StreamMuxConfig: audioMuxVersionA 1 at bit 1 (not defined)");
    latm_get_value(bits);  // taraBufferFullness
  }
  const bool same_time_framing = bits.read(1) != 0;
  out.num_sub_frames = static_cast<std::uint8_t>(bits.read(6));
  const std::uint32_t num_program = bits.read(4);
  const std::uint32_t num_layer = bits.read(3);
  if (bits.overrun())
    return error(Errc::malformed, "latm StreamMuxConfig of {} bytes ends at bit {} before the AudioSpecificConfig",
                 config.size(), bits.size_bits());
  if (num_program != 0 || num_layer != 0)
    return error(Errc::unsupported, "latm StreamMuxConfig: {} programs, {} layers (1 and 1 supported)",
                 num_program + 1, num_layer + 1);
  if (!same_time_framing)
    return error(Errc::unsupported, "latm StreamMuxConfig: allStreamsSameTimeFraming 0 unsupported");

  std::size_t asc_length = 0;
  if (out.audio_mux_version == 1) {
    asc_length = latm_get_value(bits);  // ascLen: the config and its fill bits
    if (bits.overrun())
      return error(Errc::malformed, "latm StreamMuxConfig of {} bytes ends inside ascLen", config.size());
  }
  const std::size_t asc_start = bits.position();
  std::uint32_t core_frame_samples = 1024;
  if (auto walked = walk_audio_specific_config(bits, core_frame_samples); !walked) return walked;
  std::size_t asc_bits = bits.position() - asc_start;
  if (out.audio_mux_version == 1) {
    if (asc_length < asc_bits || asc_length > bits.size_bits() - asc_start)
      return error(Errc::malformed, "latm StreamMuxConfig: ascLen {} at bit {} but the AudioSpecificConfig takes {} "
                   "of {} bits left", asc_length, asc_start, asc_bits, bits.size_bits() - asc_start);
    bits.skip(asc_length - asc_bits);  // fill bits, or the SBR/PS sync extension
    asc_bits = asc_length;
  } else {
    // Version 0 gives no length, but encoders still append the backward-compatible SBR signalling
    // (ISO/IEC 14496-3 1.6.5.2: syncExtensionType 0x2B7, extensionAudioObjectType 5, the SBR flag,
    // maybe the SBR rate and 0x548 with the PS flag): GStreamer's rtpmp4apay with avenc_aac sends
    // "40002410adca00". Taken into the AudioSpecificConfig when its sync word is there.
    Bits probe = bits;
    if (probe.size_bits() - probe.position() >= 17 && probe.read(11) == 0x2B7 && probe.read(5) == 5) {
      if (probe.read(1)) {                          // sbrPresentFlag
        if (probe.read(4) == 15) probe.skip(24);    // extensionSamplingFrequencyIndex
        Bits ps = probe;
        if (ps.size_bits() - ps.position() >= 12 && ps.read(11) == 0x548) {
          ps.read(1);                               // psPresentFlag
          probe = ps;
        }
      }
      if (!probe.overrun()) {
        bits = probe;
        asc_bits = bits.position() - asc_start;
      }
    }
  }
  out.audio_specific_config = copy_bits(config, asc_start, asc_bits);
  auto description = flv::parse_aac_audio_specific_config(out.audio_specific_config);
  if (!description) return description.error();
  out.sample_rate_hz = description->sample_rate_hz;
  out.channels = description->channels;
  out.has_sbr = description->has_sbr;
  out.has_ps = description->has_ps;
  out.frame_samples = description->has_sbr ? 2 * core_frame_samples : core_frame_samples;

  // From here a missing bit reads as zero (GStreamer's config ends inside frameLengthType).
  const std::size_t frame_length_type_at = bits.position();
  if (std::uint32_t frame_length_type = bits.read(3); frame_length_type != 0)
    return error(Errc::unsupported, "latm StreamMuxConfig: frameLengthType {} at bit {} (0 supported)",
                 frame_length_type, frame_length_type_at);
  out.latm_buffer_fullness = static_cast<std::uint8_t>(bits.read(8));
  if (bits.read(1)) {  // otherDataPresent
    if (out.audio_mux_version == 1) {
      out.other_data_bits = latm_get_value(bits);
    } else {
      // otherDataLenEsc/otherDataLenTmp: 8 bits at a time while the escape is set; past 4 bytes
      // the count would not fit, and no sender needs it.
      bool escape = true;
      for (int i = 0; escape; ++i) {
        if (i == 4)
          return error(Errc::unsupported, "latm StreamMuxConfig: otherDataLenBits at bit {} longer than 32 bits",
                       bits.position());
        escape = bits.read(1) != 0;
        out.other_data_bits = out.other_data_bits << 8 | bits.read(8);
      }
    }
  }
  if (bits.read(1)) {  // crcCheckPresent
    out.crc_check_present = true;
    out.crc_check_sum = static_cast<std::uint8_t>(bits.read(8));
  }
  return out;
}

Status LatmPacketizer::packetize(std::span<const std::uint8_t> frame, PayloadSink& sink) {
  if (frame.empty() || frame.size() >= 1u << 16)
    return error(Errc::limit, "aac frame of {} bytes, 1 to 65535 sent over LATM", frame.size());
  const std::size_t length_bytes = frame.size() / 255 + 1;  // at most 258: the scratch's size
  for (std::size_t i = 0; i + 1 < length_bytes; ++i) length_info_[i] = 0xFF;
  length_info_[length_bytes - 1] = static_cast<std::uint8_t>(frame.size() % 255);
  // The length info and frame are one byte string cut at max_payload: the info may straddle.
  std::span<const std::uint8_t> info(length_info_, length_bytes);
  const std::size_t total = length_bytes + frame.size();
  for (std::size_t at = 0; at < total;) {
    std::size_t end = total - at < max_payload_ ? total : at + max_payload_;
    std::span<const std::uint8_t> pieces[2];
    std::size_t count = 0;
    if (at < length_bytes) pieces[count++] = info.subspan(at, (end < length_bytes ? end : length_bytes) - at);
    if (end > length_bytes) {
      std::size_t from = at > length_bytes ? at - length_bytes : 0;
      pieces[count++] = frame.subspan(from, end - length_bytes - from);
    }
    sink.packet(std::span<const std::span<const std::uint8_t>>(pieces, count), end == total);
    at = end;
  }
  return ok();
}

Result<std::string> latm_config_hex(std::span<const std::uint8_t> audio_specific_config) {
  Bits bits(audio_specific_config);
  std::uint32_t frame_samples = 0;
  if (auto walked = walk_audio_specific_config(bits, frame_samples); !walked) return walked;
  if (auto description = flv::parse_aac_audio_specific_config(audio_specific_config); !description)
    return description.error();
  // 0 (audioMuxVersion) 1 (allStreamsSameTimeFraming) 000000 (numSubFrames) 0000 (numProgram)
  // 000 (numLayer), the AudioSpecificConfig's own bits, 000 (frameLengthType) 11111111
  // (latmBufferFullness) 0 (otherDataPresent) 0 (crcCheckPresent), zero padding.
  std::vector<bool> out = {false, true};
  out.resize(15, false);
  Bits copy(audio_specific_config);
  for (std::size_t i = 0; i < bits.position(); ++i) out.push_back(copy.read(1) != 0);
  out.insert(out.end(), 3, false);
  out.insert(out.end(), 8, true);
  out.insert(out.end(), 2, false);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (std::size_t at = 0; at < out.size(); at += 8) {
    unsigned byte = 0;
    for (std::size_t i = 0; i < 8; ++i) byte = byte << 1 | (at + i < out.size() && out[at + i] ? 1u : 0u);
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 15];
  }
  return hex;
}

namespace {

// Walks the AudioMuxElements filling `payload` exactly, calling `frame(bytes, index)` per non-empty
// frame when given. Checks everything before anything is handed out: call once without, then with.
template <class Frame>
Status walk_elements(std::span<const std::uint8_t> payload, const LatmConfig& config, Frame&& frame) {
  std::size_t at = 0;
  std::uint32_t index = 0;
  const std::size_t other_data_bytes = (std::size_t{config.other_data_bits} + 7) / 8;
  do {
    for (unsigned sub = 0; sub <= config.num_sub_frames; ++sub, ++index) {
      const std::size_t info_at = at;
      std::size_t length = 0;
      std::uint8_t byte = 0xFF;
      while (byte == 0xFF) {
        if (at == payload.size())
          return error(Errc::malformed, "latm PayloadLengthInfo of subframe {} at offset {} runs past the {}-byte "
                       "element", sub, info_at, payload.size());
        byte = payload[at++];
        length += byte;
      }
      if (length > payload.size() - at)
        return error(Errc::malformed, "latm subframe {} of {} bytes at offset {} runs past the {}-byte element", sub,
                     length, at, payload.size());
      if (length != 0) frame(payload.subspan(at, length), index);
      at += length;
    }
    // otherDataBit x otherDataLenBits, then the byte alignment.
    if (other_data_bytes > payload.size() - at)
      return error(Errc::malformed, "latm other data of {} bits at offset {} runs past the {}-byte element",
                   config.other_data_bits, at, payload.size());
    at += other_data_bytes;
  } while (at < payload.size());  // several elements one after another (each takes a byte at least)
  return ok();
}

}  // namespace

void LatmDepacketizer::drop_element(std::uint64_t& counter) noexcept {
  if (!element_.empty()) ++counter;
  element_.clear();
}

Status LatmDepacketizer::deliver(std::span<const std::uint8_t> element, std::uint32_t timestamp,
                                 AccessUnitSink& sink) {
  if (auto checked = walk_elements(element, config_, [](std::span<const std::uint8_t>, std::uint32_t) {});
      !checked) {
    ++counters_.dropped_malformed;
    return checked;
  }
  (void)walk_elements(element, config_, [&](std::span<const std::uint8_t> frame, std::uint32_t index) {
    ++counters_.access_units;
    sink.access_unit(AccessUnit{timestamp + index * config_.frame_samples, frame, true});
  });
  return ok();
}

Status LatmDepacketizer::push(const RtpPacket& packet, bool follows_loss, AccessUnitSink& sink) {
  const bool marker = packet.header.marker;
  const std::uint32_t timestamp = packet.header.timestamp;
  auto payload = packet.payload;
  auto fills_exactly = [&](std::span<const std::uint8_t> bytes) {
    return !bytes.empty() &&
           static_cast<bool>(walk_elements(bytes, config_, [](std::span<const std::uint8_t>, std::uint32_t) {}));
  };
  if (follows_loss) {
    // All fragments of an element share its timestamp: one with the dropped element's is its rest.
    const bool continues_dropped = !element_.empty() && timestamp == element_timestamp_;
    drop_element(counters_.dropped_lost);
    // LATM fragments carry no start bit: this packet may begin an element or continue one whose
    // start is lost. A marked packet whose lengths fill it exactly is taken as a whole element (the
    // usual one element per packet, where a lost packet then costs its frame only); anything else
    // is skipped up to a marker or a new timestamp.
    if (!(marker && fills_exactly(payload))) {
      if (!continues_dropped) ++counters_.dropped_lost;
      skipping_ = !marker;
      skip_timestamp_ = timestamp;
      return ok();
    }
    skipping_ = false;
  } else if (skipping_) {
    if (timestamp == skip_timestamp_) {
      if (marker) skipping_ = false;
      return ok();
    }
    skipping_ = false;  // a new timestamp with nothing lost before it: a new element starts here
  }
  if (!element_.empty() && timestamp != element_timestamp_) {
    // The marked last fragment never came. Some senders set no marker at all and end elements only
    // so: an element whose lengths fill it exactly is whole.
    if (fills_exactly(element_)) {
      (void)deliver(element_, element_timestamp_, sink);
      element_.clear();
    } else {
      drop_element(counters_.dropped_lost);
    }
  }
  if (payload.empty()) {
    if (marker && !element_.empty()) drop_element(counters_.dropped_malformed);
    return ok();
  }
  if (payload.size() > max_bytes_ - element_.size()) {
    element_.clear();
    ++counters_.dropped_oversize;
    skipping_ = !marker;  // its other fragments: skipped to the marker, counted once
    skip_timestamp_ = timestamp;
    return ok();
  }
  if (element_.empty() && marker) return deliver(payload, timestamp, sink);  // the usual case: no copy
  if (element_.empty()) element_timestamp_ = timestamp;
  element_.insert(element_.end(), payload.begin(), payload.end());
  if (!marker) return ok();
  Status status = deliver(element_, element_timestamp_, sink);
  element_.clear();
  return status;
}

}  // namespace weir::formats::rtp
