// SPDX-License-Identifier: Apache-2.0
#include "formats/rtp/h264.h"

#include "formats/flv/codec_config.h"
#include "formats/rtp/bytes.h"

namespace weir::formats::rtp {

namespace {
std::vector<std::uint8_t> copy(std::span<const std::uint8_t> bytes) { return {bytes.begin(), bytes.end()}; }

std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}
}  // namespace

void H264Packetizer::insert_parameter_sets(std::span<const std::span<const std::uint8_t>> sps_list,
                                           std::span<const std::span<const std::uint8_t>> pps_list) {
  std::vector<std::vector<std::uint8_t>> sets;
  if (!sps_list.empty() && !pps_list.empty()) {
    for (auto sps : sps_list) sets.push_back(copy(sps));
    for (auto pps : pps_list) sets.push_back(copy(pps));
  }
  core_.set_parameter_sets(std::move(sets));
}

Result<AvcParameterSets> avc_parameter_sets(std::span<const std::uint8_t> record) {
  auto description = flv::parse_avc_decoder_config(record);
  if (!description) return description.error();
  AvcParameterSets out;
  out.nal_length_size = description->nal_length_size;
  std::size_t at = 5;
  for (int array = 0; array < 2; ++array) {
    const char* name = array == 0 ? "numOfSequenceParameterSets" : "numOfPictureParameterSets";
    if (at >= record.size())
      return error(Errc::malformed, "avc decoder config: {} at offset {} past the {}-byte record", name, at,
                   record.size());
    unsigned count = array == 0 ? record[at] & 0x1fu : record[at];
    ++at;
    for (unsigned i = 0; i < count; ++i) {
      if (record.size() - at < 2)
        return error(Errc::malformed, "avc decoder config: parameter set length at offset {} past the end", at);
      std::size_t length = detail::load_u16(&record[at]);
      if (length > record.size() - at - 2)
        return error(Errc::malformed, "avc decoder config: parameter set of {} bytes at offset {} runs past the end",
                     length, at);
      auto nal = record.subspan(at + 2, length);
      at += 2 + length;
      if (nal.empty()) continue;
      (array == 0 ? out.sps : out.pps).push_back(nal);
    }
  }
  return out;
}

std::string avc_profile_level_id(std::span<const std::uint8_t> sps) {
  if (sps.size() < 4) return {};
  return hex(sps.subspan(1, 3));
}

Result<std::vector<std::uint8_t>> build_avc_decoder_config(std::span<const std::uint8_t> sps,
                                                           std::span<const std::uint8_t> pps) {
  auto description = flv::parse_avc_sps(sps);
  if (!description) return std::move(description).error().with_context("avc decoder config");
  if (sps.size() < 4) return error(Errc::malformed, "avc decoder config: sps of {} bytes", sps.size());
  if (sps.size() > 0xffff || pps.empty() || pps.size() > 0xffff || (pps[0] & 0x1f) != 8)
    return error(Errc::malformed, "avc decoder config: pps of {} bytes is not a PPS NAL unit", pps.size());
  std::vector<std::uint8_t> out;
  out.reserve(16 + sps.size() + pps.size());
  out.insert(out.end(), {1, sps[1], sps[2], sps[3], 0xff /* 4-byte lengths */, 0xe1 /* one SPS */, 0, 0});
  detail::store_u16(&out[6], static_cast<std::uint32_t>(sps.size()));
  out.insert(out.end(), sps.begin(), sps.end());
  out.insert(out.end(), {1 /* one PPS */, 0, 0});
  detail::store_u16(&out[out.size() - 2], static_cast<std::uint32_t>(pps.size()));
  out.insert(out.end(), pps.begin(), pps.end());
  std::uint8_t profile = sps[1];
  if (profile != 66 && profile != 77 && profile != 88) {
    // ISO/IEC 14496-15 5.3.3.1.2: profiles past Baseline/Main/Extended (High and its family, 244
    // included, as ffmpeg and the later editions have it) carry chroma format and bit depths (and
    // no SPS extensions here).
    out.push_back(static_cast<std::uint8_t>(0xfc | (description->chroma_format_idc & 3)));
    out.push_back(static_cast<std::uint8_t>(0xf8 | ((description->bit_depth_luma - 8) & 7)));
    out.push_back(static_cast<std::uint8_t>(0xf8 | ((description->bit_depth_chroma - 8) & 7)));
    out.push_back(0);
  }
  return out;
}

}  // namespace weir::formats::rtp
