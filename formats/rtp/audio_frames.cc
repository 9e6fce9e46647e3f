// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/audio_frames.h"

#include <algorithm>

namespace weir::formats::rtp {

Status OpusPacketizer::packetize(std::span<const std::uint8_t> frame, PayloadSink& sink) {
  if (frame.empty() || frame.size() > max_payload_)
    return error(Errc::limit, "opus packet of {} bytes, at most {} fit one rtp packet", frame.size(), max_payload_);
  std::span<const std::uint8_t> pieces[1] = {frame};
  sink.packet(pieces, false);
  return ok();
}

G711Packetizer::G711Packetizer(std::uint8_t channels, std::size_t max_payload) noexcept
    : channels_(std::max<std::uint8_t>(channels, 1)),
      samples_per_packet_(static_cast<std::uint32_t>(std::max<std::size_t>(max_payload / channels_, 1))) {}

Status G711Packetizer::packetize(std::span<const std::uint8_t> frame, PayloadSink& sink) {
  if (frame.empty() || frame.size() % channels_ != 0)
    return error(Errc::malformed, "g711 frame of {} bytes for {} channels", frame.size(), int{channels_});
  const std::size_t chunk = std::size_t{samples_per_packet_} * channels_;
  for (std::size_t at = 0; at < frame.size(); at += chunk) {
    std::span<const std::uint8_t> pieces[1] = {frame.subspan(at, std::min(chunk, frame.size() - at))};
    sink.packet(pieces, false);
  }
  return ok();
}

void FrameDepacketizer::push(const RtpPacket& packet, AccessUnitSink& sink) {
  if (packet.payload.empty()) {
    ++counters_.ignored_packets;
    return;
  }
  ++counters_.access_units;
  sink.access_unit(AccessUnit{packet.header.timestamp, packet.payload, true});
}

}  // namespace weir::formats::rtp
