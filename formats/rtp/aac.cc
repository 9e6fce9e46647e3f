// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/aac.h"

#include "formats/flv/codec_config.h"
#include "formats/rtp/bytes.h"

namespace weir::formats::rtp {

namespace {

// MSB-first bit reader over the AU-header section; reading past the end sets overrun.
class Bits {
 public:
  explicit Bits(std::span<const std::uint8_t> bytes) noexcept : bytes_(bytes) {}
  std::uint32_t read(unsigned count) noexcept {
    std::uint32_t value = 0;
    for (unsigned i = 0; i < count; ++i) {
      std::size_t byte = position_ >> 3;
      if (byte >= bytes_.size()) {
        overrun_ = true;
        return 0;
      }
      value = value << 1 | ((bytes_[byte] >> (7 - (position_ & 7))) & 1u);
      ++position_;
    }
    return value;
  }
  std::size_t position() const noexcept { return position_; }
  bool overrun() const noexcept { return overrun_; }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t position_ = 0;
  bool overrun_ = false;
};

}  // namespace

Status AacPacketizer::packetize(std::span<const std::uint8_t> frame, PayloadSink& sink) {
  if (frame.empty() || frame.size() > 8191)
    return error(Errc::limit, "aac frame of {} bytes, AAC-hbr carries 1 to 8191", frame.size());
  // AU-headers-length = 16 bits, then AU-size (13) and AU-Index 0 (3).
  std::uint8_t header[4] = {0x00, 0x10, 0, 0};
  detail::store_u16(header + 2, static_cast<std::uint32_t>(frame.size() << 3));
  const std::size_t chunk = max_payload_ - sizeof header;
  for (std::size_t at = 0; at < frame.size(); at += chunk) {
    std::size_t size = frame.size() - at < chunk ? frame.size() - at : chunk;
    std::span<const std::uint8_t> pieces[2] = {header, frame.subspan(at, size)};
    sink.packet(pieces, at + size == frame.size());
  }
  return ok();
}

void AacDepacketizer::drop_fragment(std::uint64_t& counter) noexcept {
  if (fragment_size_ != 0) ++counter;
  fragment_size_ = 0;
  fragment_.clear();
}

Status AacDepacketizer::push(const RtpPacket& packet, bool follows_loss, AccessUnitSink& sink) {
  const AacPayloadConfig& c = config_;
  if (c.size_length == 0 || c.size_length > 16 || c.index_length > 32 || c.index_delta_length > 32 ||
      c.cts_delta_length > 32 || c.dts_delta_length > 32 || c.stream_state_indication > 32)
    return error(Errc::unsupported, "aac payload config: sizelength {} (1 to 16 supported)", int{c.size_length});
  if (follows_loss) {
    loss_counted_ = fragment_size_ != 0;
    drop_fragment(counters_.dropped_lost);
    after_loss_ = true;
  }
  if (fragment_size_ != 0 && packet.header.timestamp != fragment_timestamp_)
    drop_fragment(counters_.dropped_lost);  // the last fragment never came

  auto payload = packet.payload;
  if (payload.size() < 2)
    return error(Errc::malformed, "aac rtp payload of {} bytes, no AU-headers-length", payload.size());
  const std::size_t header_bits = detail::load_u16(payload.data());
  const std::size_t header_bytes = (header_bits + 7) / 8;
  if (header_bytes > payload.size() - 2) {
    drop_fragment(counters_.dropped_malformed);
    return error(Errc::malformed, "aac AU-headers-length {} bits at offset 0 runs past the {}-byte payload",
                 header_bits, payload.size());
  }
  auto data = payload.subspan(2 + header_bytes);
  Bits bits(payload.subspan(2, header_bytes));

  // Walk the AU-headers once to check them, then again to hand the AUs out: a packet whose sizes do
  // not add up sends nothing.
  std::size_t count = 0, total = 0, first_size = 0;
  while (bits.position() < header_bits) {
    std::size_t size = bits.read(c.size_length);
    bits.read(count == 0 ? c.index_length : c.index_delta_length);
    if (c.cts_delta_length && bits.read(1)) bits.read(c.cts_delta_length);
    if (c.dts_delta_length && bits.read(1)) bits.read(c.dts_delta_length);
    if (c.random_access_indication) bits.read(1);
    bits.read(c.stream_state_indication);
    if (bits.overrun() || bits.position() > header_bits) {
      drop_fragment(counters_.dropped_malformed);
      return error(Errc::malformed, "aac AU-header {} at bit {} runs past AU-headers-length {}", count,
                   bits.position(), header_bits);
    }
    if (count == 0) first_size = size;
    total += size;
    ++count;
  }
  if (count == 0) return ok();  // nothing but headers: nothing to do

  if (count == 1 && (first_size > data.size() || fragment_size_ != 0)) {
    // A fragment (RFC 3640 3.2.3.1): each carries the AU-size of the whole AU.
    if (fragment_size_ == 0 && after_loss_) {
      // Maybe a first fragment, maybe the rest of one whose start was lost: skip to the marker.
      if (!loss_counted_) ++counters_.dropped_lost;
      loss_counted_ = true;
      if (packet.header.marker) after_loss_ = loss_counted_ = false;
      return ok();
    }
    if (fragment_size_ == 0) {
      if (first_size > max_bytes_) {
        ++counters_.dropped_oversize;
        // Its other fragments look like first ones too: skip them to the marker, counted once.
        after_loss_ = loss_counted_ = !packet.header.marker;
        return ok();
      }
      fragment_size_ = first_size;
      fragment_timestamp_ = packet.header.timestamp;
    } else if (first_size != fragment_size_) {
      drop_fragment(counters_.dropped_malformed);
      return error(Errc::malformed, "aac fragment with AU-size {}, its first fragment said {}", first_size,
                   fragment_size_);
    }
    if (data.size() > fragment_size_ - fragment_.size()) {
      drop_fragment(counters_.dropped_malformed);
      return error(Errc::malformed, "aac fragment of {} bytes overruns the AU-size {}", data.size(), first_size);
    }
    if (packet.header.marker) after_loss_ = loss_counted_ = false;
    fragment_.insert(fragment_.end(), data.begin(), data.end());
    if (fragment_.size() == fragment_size_) {
      ++counters_.access_units;
      sink.access_unit(AccessUnit{fragment_timestamp_, fragment_, true});
      fragment_.clear();
      fragment_size_ = 0;
    } else if (packet.header.marker) {
      drop_fragment(counters_.dropped_lost);  // marked last, yet short
    }
    return ok();
  }

  if (total > data.size()) {
    ++counters_.dropped_malformed;
    return error(Errc::malformed, "aac packet of {} AUs totalling {} bytes, {} bytes of data at offset {}", count,
                 total, data.size(), 2 + header_bytes);
  }
  after_loss_ = loss_counted_ = false;
  Bits again(payload.subspan(2, header_bytes));
  std::size_t at = 0;
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t size = again.read(c.size_length);
    again.read(i == 0 ? c.index_length : c.index_delta_length);
    if (c.cts_delta_length && again.read(1)) again.read(c.cts_delta_length);
    if (c.dts_delta_length && again.read(1)) again.read(c.dts_delta_length);
    if (c.random_access_indication) again.read(1);
    again.read(c.stream_state_indication);
    if (size == 0) continue;
    ++counters_.access_units;
    auto timestamp = packet.header.timestamp + static_cast<std::uint32_t>(i) * c.frame_samples;
    sink.access_unit(AccessUnit{timestamp, data.subspan(at, size), true});
    at += size;
  }
  return ok();
}

Result<AacRtpmap> aac_rtpmap(std::span<const std::uint8_t> audio_specific_config) {
  auto description = flv::parse_aac_audio_specific_config(audio_specific_config);
  if (!description) return description.error();
  static constexpr char kDigits[] = "0123456789abcdef";
  AacRtpmap out;
  out.clock_rate = description->sample_rate_hz;
  out.channels = description->channels;
  out.frame_samples = description->has_sbr ? 2048 : 1024;
  for (std::uint8_t b : audio_specific_config) {
    out.config_hex += kDigits[b >> 4];
    out.config_hex += kDigits[b & 15];
  }
  return out;
}

}  // namespace weir::formats::rtp
