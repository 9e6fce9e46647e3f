// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/hevc.h"

#include "formats/flv/codec_config.h"
#include "formats/rtp/bytes.h"

namespace weir::formats::rtp {

namespace {
unsigned nal_type(std::span<const std::uint8_t> nal) noexcept { return nal.empty() ? 64 : (nal[0] >> 1) & 0x3fu; }
}  // namespace

void HevcPacketizer::insert_parameter_sets(std::span<const std::span<const std::uint8_t>> vps_list,
                                           std::span<const std::span<const std::uint8_t>> sps_list,
                                           std::span<const std::span<const std::uint8_t>> pps_list) {
  std::vector<std::vector<std::uint8_t>> sets;
  if (!vps_list.empty() && !sps_list.empty() && !pps_list.empty()) {
    for (auto list : {vps_list, sps_list, pps_list})
      for (auto nal : list) sets.emplace_back(nal.begin(), nal.end());
  }
  core_.set_parameter_sets(std::move(sets));
}

Result<HevcParameterSets> hevc_parameter_sets(std::span<const std::uint8_t> record) {
  auto description = flv::parse_hevc_decoder_config(record);
  if (!description) return description.error();
  HevcParameterSets out;
  out.nal_length_size = description->nal_length_size;
  constexpr std::size_t kArraysAt = 22;  // numOfArrays follows the 22 fixed bytes
  if (record.size() <= kArraysAt)
    return error(Errc::malformed, "hevc decoder config: numOfArrays at offset 22 past the {}-byte record",
                 record.size());
  unsigned arrays = record[kArraysAt];
  std::size_t at = kArraysAt + 1;
  for (unsigned a = 0; a < arrays; ++a) {
    if (record.size() - at < 3)
      return error(Errc::malformed, "hevc decoder config: array {} header at offset {} past the end", a, at);
    unsigned type = record[at] & 0x3fu;
    unsigned count = detail::load_u16(&record[at + 1]);
    at += 3;
    for (unsigned i = 0; i < count; ++i) {
      if (record.size() - at < 2)
        return error(Errc::malformed, "hevc decoder config: nalUnitLength at offset {} past the end", at);
      std::size_t length = detail::load_u16(&record[at]);
      if (length > record.size() - at - 2)
        return error(Errc::malformed, "hevc decoder config: nal unit of {} bytes at offset {} runs past the end",
                     length, at);
      auto nal = record.subspan(at + 2, length);
      at += 2 + length;
      if (nal.size() < 2) continue;
      if (type == 32) out.vps.push_back(nal);
      if (type == 33) out.sps.push_back(nal);
      if (type == 34) out.pps.push_back(nal);
    }
  }
  return out;
}

Result<std::vector<std::uint8_t>> build_hevc_decoder_config(std::span<const std::uint8_t> vps,
                                                            std::span<const std::uint8_t> sps,
                                                            std::span<const std::uint8_t> pps) {
  if (nal_type(vps) != 32 || nal_type(pps) != 34 || vps.size() < 2 || pps.size() < 2 || vps.size() > 0xffff ||
      sps.size() > 0xffff || pps.size() > 0xffff)
    return error(Errc::malformed, "hevc decoder config: vps ({} bytes) or pps ({} bytes) is not one", vps.size(),
                 pps.size());
  auto d = flv::parse_hevc_sps(sps);
  if (!d) return std::move(d).error().with_context("hevc decoder config");
  if (sps.size() < 3) return error(Errc::malformed, "hevc decoder config: sps of {} bytes", sps.size());
  std::vector<std::uint8_t> out(23, 0);
  out[0] = 1;
  out[1] = static_cast<std::uint8_t>((d->profile_space & 3) << 6 | (d->tier & 1) << 5 | (d->profile & 31));
  detail::store_u32(&out[2], d->profile_compatibility_flags);
  for (int i = 0; i < 6; ++i) out[6 + i] = static_cast<std::uint8_t>(d->constraint_indicator_flags >> (40 - 8 * i));
  out[12] = d->level;
  detail::store_u16(&out[13], 0xf000);  // min_spatial_segmentation_idc 0: unknown
  out[15] = 0xfc;                       // parallelismType 0: unknown
  out[16] = static_cast<std::uint8_t>(0xfc | (d->chroma_format_idc & 3));
  out[17] = static_cast<std::uint8_t>(0xf8 | ((d->bit_depth_luma - 8) & 7));
  out[18] = static_cast<std::uint8_t>(0xf8 | ((d->bit_depth_chroma - 8) & 7));
  // avgFrameRate 0 (unknown) at 19-20. SPS byte 2: sps_video_parameter_set_id (4),
  // sps_max_sub_layers_minus1 (3), sps_temporal_id_nesting_flag (1) — before any emulation byte.
  unsigned layers = ((sps[2] >> 1) & 7u) + 1, nested = sps[2] & 1u;
  out[21] = static_cast<std::uint8_t>(layers << 3 | nested << 2 | 3 /* 4-byte lengths */);
  out[22] = 3;  // numOfArrays
  for (auto nal : {vps, sps, pps}) {
    std::size_t at = out.size();
    out.resize(at + 5);
    // array_completeness 0: received units keep their in-band parameter sets too.
    out[at] = static_cast<std::uint8_t>(nal_type(nal));
    detail::store_u16(&out[at + 1], 1);
    detail::store_u16(&out[at + 3], static_cast<std::uint32_t>(nal.size()));
    out.insert(out.end(), nal.begin(), nal.end());
  }
  return out;
}

}  // namespace weir::formats::rtp
