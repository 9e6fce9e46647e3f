// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/rtp_packet.h"

#include "formats/rtp/bytes.h"

namespace weir::formats::rtp {

Result<RtpPacket> parse_rtp(std::span<const std::uint8_t> packet) noexcept {
  using detail::load_u16;
  using detail::load_u32;
  if (packet.size() < kRtpHeaderSize)
    return error(Errc::malformed, "rtp packet of {} bytes, the fixed header needs 12", packet.size());
  const std::uint8_t* p = packet.data();
  if ((p[0] >> 6) != 2) return error(Errc::malformed, "rtp version {} at offset 0, expected 2", p[0] >> 6);
  RtpPacket out;
  RtpHeader& h = out.header;
  h.has_padding = (p[0] & 0x20) != 0;
  h.has_extension = (p[0] & 0x10) != 0;
  h.csrc_count = p[0] & 0x0f;
  h.marker = (p[1] & 0x80) != 0;
  h.payload_type = p[1] & 0x7f;
  h.sequence = load_u16(p + 2);
  h.timestamp = load_u32(p + 4);
  h.ssrc = load_u32(p + 8);

  std::size_t at = kRtpHeaderSize + 4u * h.csrc_count;
  if (at > packet.size())
    return error(Errc::malformed, "rtp csrc list of {} entries at offset 12 runs past the {}-byte packet",
                 int{h.csrc_count}, packet.size());
  if (h.has_extension) {
    if (at + 4 > packet.size())
      return error(Errc::malformed, "rtp header extension at offset {} runs past the {}-byte packet", at,
                   packet.size());
    std::size_t words = load_u16(p + at + 2);
    if (at + 4 + 4 * words > packet.size())
      return error(Errc::malformed, "rtp header extension length {} words at offset {} runs past the {}-byte packet",
                   words, at + 2, packet.size());
    at += 4 + 4 * words;
  }
  std::size_t end = packet.size();
  if (h.has_padding) {
    std::size_t padding = p[end - 1];
    if (padding == 0 || padding > end - at)
      return error(Errc::malformed, "rtp padding count {} at offset {}, {} bytes follow the header", padding,
                   end - 1, end - at);
    end -= padding;
  }
  out.payload = packet.subspan(at, end - at);
  return out;
}

void write_rtp_header(const RtpHeader& header, std::span<std::uint8_t, kRtpHeaderSize> out) noexcept {
  out[0] = 0x80;
  out[1] = static_cast<std::uint8_t>((header.marker ? 0x80 : 0) | (header.payload_type & 0x7f));
  detail::store_u16(&out[2], header.sequence);
  detail::store_u32(&out[4], header.timestamp);
  detail::store_u32(&out[8], header.ssrc);
}

}  // namespace weir::formats::rtp
