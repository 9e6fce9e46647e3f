// SPDX-License-Identifier: Apache-2.0
#include "formats/flv/codec_config.h"

#include <cstdio>

#include "formats/flv/bit_reader.h"

namespace weir::formats::flv {

using detail::BitReader;
using detail::load_u16;
using detail::load_u24;
using detail::load_u32;

namespace {

// Pictures wider or taller than this are beyond every level of every codec here: treat as corrupt
// rather than report a nonsense size.
constexpr std::uint64_t kMaxDimension = 65536;

Status truncated(const char* what, const BitReader& r, std::size_t size) {
  if (r.invalid())
    return error(Errc::malformed, "{}: invalid exp-Golomb code before byte {} of {}", what, r.byte_offset(), size);
  return error(Errc::malformed, "{}: truncated at byte {} of {}", what, r.byte_offset(), size);
}

// ---------------------------------------------------------------------------------------------
// H.264

bool avc_profile_has_chroma_info(std::uint8_t profile_idc) {
  switch (profile_idc) {
    case 100: case 110: case 122: case 244: case 44: case 83: case 86:
    case 118: case 128: case 138: case 139: case 134: case 135:
      return true;
    default:
      return false;
  }
}

// scaling_list(): only walked over; the values do not change the picture size.
void skip_scaling_list(BitReader& r, int size) {
  int last_scale = 8;
  int next_scale = 8;
  for (int j = 0; j < size && r.ok(); ++j) {
    if (next_scale != 0) {
      std::int32_t delta = r.se();
      next_scale = (last_scale + delta + 256) % 256;
    }
    last_scale = next_scale == 0 ? last_scale : next_scale;
  }
}

}  // namespace

Result<CodecDescription> parse_avc_sps(std::span<const std::uint8_t> nal) noexcept {
  constexpr const char* kWhat = "h264 sps";
  if (nal.size() < 4) return error(Errc::malformed, "{}: {} bytes, need at least 4", kWhat, nal.size());
  if ((nal[0] & 0x1F) != 7)
    return error(Errc::malformed, "{}: NAL unit type {} at byte 0, expected 7", kWhat, nal[0] & 0x1F);
  BitReader r(nal, /*unescape=*/true);
  r.skip(8);  // NAL header
  CodecDescription d;
  d.codec = Codec::h264;
  d.profile = r.u8(8);
  d.constraint_flags = r.u8(8);
  d.level = r.u8(8);
  std::uint32_t sps_id = r.ue();
  if (r.ok() && sps_id > 31) return error(Errc::malformed, "{}: seq_parameter_set_id {} at byte 4", kWhat, sps_id);
  std::uint32_t chroma_format_idc = 1;
  bool separate_colour_plane = false;
  std::uint32_t bit_depth_luma_minus8 = 0;
  std::uint32_t bit_depth_chroma_minus8 = 0;
  if (avc_profile_has_chroma_info(d.profile)) {
    chroma_format_idc = r.ue();
    if (r.ok() && chroma_format_idc > 3)
      return error(Errc::malformed, "{}: chroma_format_idc {} before byte {}", kWhat, chroma_format_idc,
                   r.byte_offset());
    if (chroma_format_idc == 3) separate_colour_plane = r.flag();
    bit_depth_luma_minus8 = r.ue();
    bit_depth_chroma_minus8 = r.ue();
    if (r.ok() && (bit_depth_luma_minus8 > 6 || bit_depth_chroma_minus8 > 6))
      return error(Errc::malformed, "{}: bit depth {}/{} before byte {}", kWhat, bit_depth_luma_minus8 + 8,
                   bit_depth_chroma_minus8 + 8, r.byte_offset());
    r.flag();  // qpprime_y_zero_transform_bypass_flag
    if (r.flag()) {  // seq_scaling_matrix_present_flag
      int lists = chroma_format_idc != 3 ? 8 : 12;
      for (int i = 0; i < lists && r.ok(); ++i)
        if (r.flag()) skip_scaling_list(r, i < 6 ? 16 : 64);
    }
  }
  std::uint32_t log2_max_frame_num_minus4 = r.ue();
  if (r.ok() && log2_max_frame_num_minus4 > 12)
    return error(Errc::malformed, "{}: log2_max_frame_num_minus4 {} before byte {}", kWhat, log2_max_frame_num_minus4,
                 r.byte_offset());
  std::uint32_t pic_order_cnt_type = r.ue();
  if (pic_order_cnt_type == 0) {
    r.ue();  // log2_max_pic_order_cnt_lsb_minus4
  } else if (pic_order_cnt_type == 1) {
    r.flag();  // delta_pic_order_always_zero_flag
    r.se();    // offset_for_non_ref_pic
    r.se();    // offset_for_top_to_bottom_field
    std::uint32_t cycle = r.ue();
    if (r.ok() && cycle > 255)
      return error(Errc::malformed, "{}: num_ref_frames_in_pic_order_cnt_cycle {} before byte {}", kWhat, cycle,
                   r.byte_offset());
    for (std::uint32_t i = 0; i < cycle && r.ok(); ++i) r.se();
  } else if (r.ok() && pic_order_cnt_type > 2) {
    return error(Errc::malformed, "{}: pic_order_cnt_type {} before byte {}", kWhat, pic_order_cnt_type,
                 r.byte_offset());
  }
  r.ue();    // max_num_ref_frames
  r.flag();  // gaps_in_frame_num_value_allowed_flag
  std::uint64_t width_mbs = std::uint64_t{r.ue()} + 1;
  std::uint64_t height_map_units = std::uint64_t{r.ue()} + 1;
  bool frame_mbs_only = r.flag();
  if (!frame_mbs_only) r.flag();  // mb_adaptive_frame_field_flag
  r.flag();                       // direct_8x8_inference_flag
  std::uint64_t crop_left = 0, crop_right = 0, crop_top = 0, crop_bottom = 0;
  if (r.flag()) {  // frame_cropping_flag
    crop_left = r.ue();
    crop_right = r.ue();
    crop_top = r.ue();
    crop_bottom = r.ue();
  }
  if (!r.ok()) return truncated(kWhat, r, nal.size());

  std::uint64_t field_factor = frame_mbs_only ? 1 : 2;
  std::uint64_t coded_width = width_mbs * 16;
  std::uint64_t coded_height = height_map_units * 16 * field_factor;
  if (coded_width > kMaxDimension || coded_height > kMaxDimension)
    return error(Errc::malformed, "{}: picture of {}x{} is beyond every level", kWhat, coded_width, coded_height);
  // Crop offsets count chroma samples (times two for field pictures); ChromaArrayType 0 counts luma.
  std::uint64_t crop_unit_x = 1;
  std::uint64_t crop_unit_y = field_factor;
  if (!separate_colour_plane && chroma_format_idc != 0) {
    crop_unit_x = chroma_format_idc == 3 ? 1 : 2;
    crop_unit_y = (chroma_format_idc == 1 ? 2 : 1) * field_factor;
  }
  std::uint64_t crop_x = (crop_left + crop_right) * crop_unit_x;
  std::uint64_t crop_y = (crop_top + crop_bottom) * crop_unit_y;
  if (crop_x >= coded_width || crop_y >= coded_height)
    return error(Errc::malformed, "{}: cropping {}x{} leaves nothing of {}x{}", kWhat, crop_x, crop_y, coded_width,
                 coded_height);
  d.coded_width = static_cast<std::uint32_t>(coded_width);
  d.coded_height = static_cast<std::uint32_t>(coded_height);
  d.width = static_cast<std::uint32_t>(coded_width - crop_x);
  d.height = static_cast<std::uint32_t>(coded_height - crop_y);
  d.chroma_format_idc = static_cast<std::uint8_t>(chroma_format_idc);
  d.bit_depth_luma = static_cast<std::uint8_t>(bit_depth_luma_minus8 + 8);
  d.bit_depth_chroma = static_cast<std::uint8_t>(bit_depth_chroma_minus8 + 8);
  d.is_interlaced = !frame_mbs_only;
  return d;
}

Result<CodecDescription> parse_avc_decoder_config(std::span<const std::uint8_t> record) noexcept {
  constexpr const char* kWhat = "avcC";
  if (record.size() < 7) return error(Errc::malformed, "{}: {} bytes, need at least 7", kWhat, record.size());
  if (record[0] != 1)
    return error(Errc::malformed, "{}: configurationVersion {} at offset 0, expected 1", kWhat, record[0]);
  std::uint8_t length_size_minus_one = record[4] & 0x03;
  if (length_size_minus_one == 2)
    return error(Errc::malformed, "{}: NAL length size 3 at offset 4 (1, 2 or 4 allowed)", kWhat);
  std::size_t sps_count = record[5] & 0x1F;
  if (sps_count == 0) return error(Errc::malformed, "{}: no SPS (count 0 at offset 5)", kWhat);
  std::size_t pos = 6;
  std::span<const std::uint8_t> first_sps;
  std::size_t first_sps_offset = 0;
  for (std::size_t i = 0; i < sps_count; ++i) {
    if (pos + 2 > record.size())
      return error(Errc::malformed, "{}: SPS {} length missing at offset {}", kWhat, i, pos);
    std::size_t length = load_u16(record.data() + pos);
    pos += 2;
    if (length > record.size() - pos)
      return error(Errc::malformed, "{}: SPS {} of {} bytes at offset {} overruns the record of {}", kWhat, i, length,
                   pos, record.size());
    if (i == 0) {
      first_sps = record.subspan(pos, length);
      first_sps_offset = pos;
    }
    pos += length;
  }
  // The PPS list and the high-profile trailer are not needed here; a record cut short after the
  // SPS still describes the stream, so they are not checked.
  auto description = parse_avc_sps(first_sps);
  if (!description) return description.error().with_context(format("{}: SPS at offset {}", kWhat, first_sps_offset));
  description->nal_length_size = static_cast<std::uint8_t>(length_size_minus_one + 1);
  return description;
}

// ---------------------------------------------------------------------------------------------
// H.265

Result<CodecDescription> parse_hevc_sps(std::span<const std::uint8_t> nal) noexcept {
  constexpr const char* kWhat = "hevc sps";
  if (nal.size() < 4) return error(Errc::malformed, "{}: {} bytes, need at least 4", kWhat, nal.size());
  std::uint8_t nal_type = (nal[0] >> 1) & 0x3F;
  if (nal_type != 33) return error(Errc::malformed, "{}: NAL unit type {} at byte 0, expected 33", kWhat, nal_type);
  BitReader r(nal, /*unescape=*/true);
  r.skip(16);  // NAL header
  CodecDescription d;
  d.codec = Codec::hevc;
  r.skip(4);  // sps_video_parameter_set_id
  std::uint32_t max_sub_layers_minus1 = r.u32(3);
  r.flag();  // sps_temporal_id_nesting_flag
  if (max_sub_layers_minus1 > 6)
    return error(Errc::malformed, "{}: sps_max_sub_layers_minus1 {} at byte 2", kWhat, max_sub_layers_minus1);
  // profile_tier_level(1, sps_max_sub_layers_minus1)
  d.profile_space = r.u8(2);
  d.tier = r.u8(1);
  d.profile = r.u8(5);
  d.profile_compatibility_flags = r.u32(32);
  d.constraint_indicator_flags = r.bits(48);
  d.level = r.u8(8);
  bool sub_layer_profile_present[8] = {};
  bool sub_layer_level_present[8] = {};
  for (std::uint32_t i = 0; i < max_sub_layers_minus1; ++i) {
    sub_layer_profile_present[i] = r.flag();
    sub_layer_level_present[i] = r.flag();
  }
  if (max_sub_layers_minus1 > 0)
    for (std::uint32_t i = max_sub_layers_minus1; i < 8; ++i) r.skip(2);  // reserved_zero_2bits
  for (std::uint32_t i = 0; i < max_sub_layers_minus1; ++i) {
    if (sub_layer_profile_present[i]) r.skip(88);  // profile space .. constraint flags
    if (sub_layer_level_present[i]) r.skip(8);     // sub_layer_level_idc
  }
  std::uint32_t sps_id = r.ue();
  if (r.ok() && sps_id > 15)
    return error(Errc::malformed, "{}: sps_seq_parameter_set_id {} before byte {}", kWhat, sps_id, r.byte_offset());
  std::uint32_t chroma_format_idc = r.ue();
  if (r.ok() && chroma_format_idc > 3)
    return error(Errc::malformed, "{}: chroma_format_idc {} before byte {}", kWhat, chroma_format_idc, r.byte_offset());
  bool separate_colour_plane = false;
  if (chroma_format_idc == 3) separate_colour_plane = r.flag();
  std::uint64_t width = r.ue();
  std::uint64_t height = r.ue();
  std::uint64_t left = 0, right = 0, top = 0, bottom = 0;
  if (r.flag()) {  // conformance_window_flag
    left = r.ue();
    right = r.ue();
    top = r.ue();
    bottom = r.ue();
  }
  std::uint32_t bit_depth_luma_minus8 = r.ue();
  std::uint32_t bit_depth_chroma_minus8 = r.ue();
  if (!r.ok()) return truncated(kWhat, r, nal.size());
  if (width == 0 || height == 0 || width > kMaxDimension || height > kMaxDimension)
    return error(Errc::malformed, "{}: picture size {}x{}", kWhat, width, height);
  if (bit_depth_luma_minus8 > 8 || bit_depth_chroma_minus8 > 8)
    return error(Errc::malformed, "{}: bit depth {}/{}", kWhat, bit_depth_luma_minus8 + 8, bit_depth_chroma_minus8 + 8);
  // Conformance window offsets count chroma samples: SubWidthC/SubHeightC luma samples each.
  std::uint64_t sub_width = 1, sub_height = 1;
  if (!separate_colour_plane && (chroma_format_idc == 1 || chroma_format_idc == 2)) sub_width = 2;
  if (!separate_colour_plane && chroma_format_idc == 1) sub_height = 2;
  std::uint64_t crop_x = (left + right) * sub_width;
  std::uint64_t crop_y = (top + bottom) * sub_height;
  if (crop_x >= width || crop_y >= height)
    return error(Errc::malformed, "{}: conformance window {}x{} leaves nothing of {}x{}", kWhat, crop_x, crop_y, width,
                 height);
  d.coded_width = static_cast<std::uint32_t>(width);
  d.coded_height = static_cast<std::uint32_t>(height);
  d.width = static_cast<std::uint32_t>(width - crop_x);
  d.height = static_cast<std::uint32_t>(height - crop_y);
  d.chroma_format_idc = static_cast<std::uint8_t>(chroma_format_idc);
  d.bit_depth_luma = static_cast<std::uint8_t>(bit_depth_luma_minus8 + 8);
  d.bit_depth_chroma = static_cast<std::uint8_t>(bit_depth_chroma_minus8 + 8);
  return d;
}

Result<CodecDescription> parse_hevc_decoder_config(std::span<const std::uint8_t> record) noexcept {
  constexpr const char* kWhat = "hvcC";
  constexpr std::size_t kFixed = 23;
  if (record.size() < kFixed)
    return error(Errc::malformed, "{}: {} bytes, need at least {}", kWhat, record.size(), kFixed);
  if (record[0] != 1)
    return error(Errc::malformed, "{}: configurationVersion {} at offset 0, expected 1", kWhat, record[0]);
  std::uint8_t length_size_minus_one = record[21] & 0x03;
  if (length_size_minus_one == 2)
    return error(Errc::malformed, "{}: NAL length size 3 at offset 21 (1, 2 or 4 allowed)", kWhat);
  std::size_t arrays = record[22];
  std::size_t pos = kFixed;
  std::span<const std::uint8_t> sps;
  std::size_t sps_offset = 0;
  for (std::size_t a = 0; a < arrays && sps.empty(); ++a) {
    if (pos + 3 > record.size())
      return error(Errc::malformed, "{}: array {} header missing at offset {}", kWhat, a, pos);
    std::uint8_t nal_type = record[pos] & 0x3F;
    std::size_t count = load_u16(record.data() + pos + 1);
    pos += 3;
    for (std::size_t i = 0; i < count; ++i) {
      if (pos + 2 > record.size())
        return error(Errc::malformed, "{}: NAL unit {} of array {} length missing at offset {}", kWhat, i, a, pos);
      std::size_t length = load_u16(record.data() + pos);
      pos += 2;
      if (length > record.size() - pos)
        return error(Errc::malformed, "{}: NAL unit of {} bytes at offset {} overruns the record of {}", kWhat, length,
                     pos, record.size());
      if (nal_type == 33 && sps.empty()) {
        sps = record.subspan(pos, length);
        sps_offset = pos;
      }
      pos += length;
    }
  }
  if (sps.empty()) return error(Errc::malformed, "{}: no SPS in {} arrays", kWhat, arrays);
  auto description = parse_hevc_sps(sps);
  if (!description) return description.error().with_context(format("{}: SPS at offset {}", kWhat, sps_offset));
  description->nal_length_size = static_cast<std::uint8_t>(length_size_minus_one + 1);
  return description;
}

// ---------------------------------------------------------------------------------------------
// AV1

namespace {

// sequence_header_obu() up to max_frame_height_minus_1 (AV1 spec 5.5).
Status parse_av1_sequence_header(std::span<const std::uint8_t> obu, std::size_t obu_offset, CodecDescription& d) {
  constexpr const char* kWhat = "av1 sequence header";
  BitReader r(obu);
  r.skip(3);  // seq_profile (the record has it too)
  r.flag();   // still_picture
  bool reduced_still_picture_header = r.flag();
  if (reduced_still_picture_header) {
    r.skip(5);  // seq_level_idx[0]
  } else {
    bool decoder_model_info_present = false;
    std::uint32_t buffer_delay_length = 0;
    if (r.flag()) {  // timing_info_present_flag
      r.skip(32);    // num_units_in_display_tick
      r.skip(32);    // time_scale
      if (r.flag()) r.uvlc();  // equal_picture_interval: num_ticks_per_picture_minus_1
      decoder_model_info_present = r.flag();
      if (decoder_model_info_present) {
        buffer_delay_length = r.u32(5) + 1;
        r.skip(32);  // num_units_in_decoding_tick
        r.skip(5);   // buffer_removal_time_length_minus_1
        r.skip(5);   // frame_presentation_time_length_minus_1
      }
    }
    bool initial_display_delay_present = r.flag();
    std::uint32_t operating_points = r.u32(5) + 1;
    for (std::uint32_t i = 0; i < operating_points && r.ok(); ++i) {
      r.skip(12);  // operating_point_idc
      std::uint32_t seq_level_idx = r.u32(5);
      if (seq_level_idx > 7) r.skip(1);  // seq_tier
      if (decoder_model_info_present && r.flag()) {
        r.skip(buffer_delay_length);  // decoder_buffer_delay
        r.skip(buffer_delay_length);  // encoder_buffer_delay
        r.skip(1);                    // low_delay_mode_flag
      }
      if (initial_display_delay_present && r.flag()) r.skip(4);
    }
  }
  std::uint32_t width_bits = r.u32(4) + 1;
  std::uint32_t height_bits = r.u32(4) + 1;
  std::uint64_t width = r.bits(width_bits) + 1;
  std::uint64_t height = r.bits(height_bits) + 1;
  if (!r.ok())
    return error(Errc::malformed, "{}: truncated at byte {} of {} (OBU payload at offset {})", kWhat, r.byte_offset(),
                 obu.size(), obu_offset);
  d.coded_width = d.width = static_cast<std::uint32_t>(width);
  d.coded_height = d.height = static_cast<std::uint32_t>(height);
  return ok();
}

// leb128() (AV1 spec 4.10.5): at most 8 bytes, value below 2^32.
bool read_leb128(std::span<const std::uint8_t> bytes, std::size_t& pos, std::uint64_t& value) {
  value = 0;
  for (int i = 0; i < 8; ++i) {
    if (pos >= bytes.size()) return false;
    std::uint8_t byte = bytes[pos++];
    value |= std::uint64_t{byte & 0x7Fu} << (7 * i);
    if (!(byte & 0x80)) return value <= 0xFFFFFFFFu;
  }
  return false;
}

}  // namespace

Result<CodecDescription> parse_av1_codec_config(std::span<const std::uint8_t> record) noexcept {
  constexpr const char* kWhat = "av1C";
  if (record.size() < 4) return error(Errc::malformed, "{}: {} bytes, need at least 4", kWhat, record.size());
  if (record[0] != 0x81)
    return error(Errc::malformed, "{}: marker/version byte {} at offset 0, expected 0x81", kWhat, record[0]);
  CodecDescription d;
  d.codec = Codec::av1;
  d.profile = record[1] >> 5;
  d.level = record[1] & 0x1F;
  d.tier = record[2] >> 7;
  bool high_bitdepth = (record[2] >> 6) & 1;
  bool twelve_bit = (record[2] >> 5) & 1;
  bool monochrome = (record[2] >> 4) & 1;
  bool subsampling_x = (record[2] >> 3) & 1;
  bool subsampling_y = (record[2] >> 2) & 1;
  d.bit_depth_luma = d.bit_depth_chroma = high_bitdepth ? (twelve_bit ? 12 : 10) : 8;
  d.chroma_format_idc = monochrome ? 0 : (subsampling_x ? (subsampling_y ? 1 : 2) : 3);
  // configOBUs: look for the sequence header; other OBUs (metadata) are skipped.
  std::size_t pos = 4;
  while (pos < record.size()) {
    std::size_t obu_start = pos;
    std::uint8_t header = record[pos++];
    if (header & 0x80) return error(Errc::malformed, "{}: OBU forbidden bit set at offset {}", kWhat, obu_start);
    std::uint8_t obu_type = (header >> 3) & 0x0F;
    bool has_extension = (header >> 2) & 1;
    bool has_size = (header >> 1) & 1;
    if (has_extension) ++pos;
    std::uint64_t size = 0;
    if (has_size) {
      if (!read_leb128(record, pos, size))
        return error(Errc::malformed, "{}: bad OBU size at offset {}", kWhat, obu_start);
    } else {
      size = pos <= record.size() ? record.size() - pos : 0;
    }
    if (pos > record.size() || size > record.size() - pos)
      return error(Errc::malformed, "{}: OBU of {} bytes at offset {} overruns the record of {}", kWhat, size,
                   obu_start, record.size());
    if (obu_type == 1) {  // OBU_SEQUENCE_HEADER
      WEIR_TRY(parse_av1_sequence_header(record.subspan(pos, static_cast<std::size_t>(size)), pos, d));
      break;
    }
    pos += static_cast<std::size_t>(size);
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// VP8 / VP9

Result<CodecDescription> parse_vp_codec_config(Codec codec, std::span<const std::uint8_t> record) noexcept {
  constexpr const char* kWhat = "vpcC";
  if (codec != Codec::vp8 && codec != Codec::vp9)
    return error(Errc::unsupported, "{}: not a VP8/VP9 codec ({})", kWhat, codec_name(codec));
  std::size_t at = 0;
  if (record.size() >= 4 && record[0] == 1 && record[1] == 0 && record[2] == 0 && record[3] == 0) at = 4;
  if (record.size() < at + 8)
    return error(Errc::malformed, "{}: {} bytes, need at least {}", kWhat, record.size(), at + 8);
  CodecDescription d;
  d.codec = codec;
  d.profile = record[at];
  d.level = record[at + 1];
  d.bit_depth_luma = d.bit_depth_chroma = record[at + 2] >> 4;
  std::uint8_t subsampling = (record[at + 2] >> 1) & 0x07;
  if (d.bit_depth_luma != 8 && d.bit_depth_luma != 10 && d.bit_depth_luma != 12)
    return error(Errc::malformed, "{}: bit depth {} at offset {}", kWhat, d.bit_depth_luma, at + 2);
  if (subsampling > 3)
    return error(Errc::malformed, "{}: chroma subsampling {} at offset {}", kWhat, subsampling, at + 2);
  d.chroma_format_idc = subsampling <= 1 ? 1 : subsampling == 2 ? 2 : 3;
  return d;
}

// ---------------------------------------------------------------------------------------------
// AAC

namespace {

constexpr std::uint32_t kAacSampleRates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                               22050, 16000, 12000, 11025, 8000,  7350};

std::uint32_t read_audio_object_type(BitReader& r) {
  std::uint32_t type = r.u32(5);
  if (type == 31) type = 32 + r.u32(6);
  return type;
}

// Returns 0 for a reserved index (13, 14).
std::uint32_t read_sampling_frequency(BitReader& r) {
  std::uint32_t index = r.u32(4);
  if (index == 15) return r.u32(24);
  return index < 13 ? kAacSampleRates[index] : 0;
}

bool is_general_audio(std::uint32_t aot) {
  switch (aot) {
    case 1: case 2: case 3: case 4: case 6: case 7: case 17: case 19: case 20: case 21: case 22: case 23:
      return true;
    default:
      return false;
  }
}

bool has_ep_config(std::uint32_t aot) {
  return aot == 17 || (aot >= 19 && aot <= 27) || aot == 39;
}

std::uint8_t aac_channels(std::uint32_t channel_configuration) {
  static constexpr std::uint8_t kChannels[16] = {0, 1, 2, 3, 4, 5, 6, 8, 0, 0, 0, 7, 8, 24, 8, 0};
  return kChannels[channel_configuration & 0x0F];
}

}  // namespace

Result<CodecDescription> parse_aac_audio_specific_config(std::span<const std::uint8_t> config) noexcept {
  constexpr const char* kWhat = "aac AudioSpecificConfig";
  if (config.size() < 2) return error(Errc::malformed, "{}: {} bytes, need at least 2", kWhat, config.size());
  BitReader r(config);
  CodecDescription d;
  d.codec = Codec::aac;
  std::uint32_t aot = read_audio_object_type(r);
  std::uint32_t rate = read_sampling_frequency(r);
  std::uint32_t channel_configuration = r.u32(4);
  if (!r.ok()) return error(Errc::malformed, "{}: truncated at byte {} of {}", kWhat, r.byte_offset(), config.size());
  if (aot == 0) return error(Errc::malformed, "{}: audio object type 0 at byte 0", kWhat);
  if (rate == 0) return error(Errc::malformed, "{}: reserved or zero sampling frequency at byte 0..1", kWhat);
  if (aot > 0xFF) return error(Errc::malformed, "{}: audio object type {}", kWhat, aot);
  d.profile = static_cast<std::uint8_t>(aot);
  d.core_sample_rate_hz = d.sample_rate_hz = rate;
  d.channels = aac_channels(channel_configuration);
  std::uint32_t core_aot = aot;
  bool explicit_sbr = false;
  if (aot == 5 || aot == 29) {  // explicit hierarchical signalling: SBR (and PS) then the core
    explicit_sbr = true;
    d.has_sbr = true;
    d.has_ps = aot == 29;
    std::uint32_t extension_rate = read_sampling_frequency(r);
    core_aot = read_audio_object_type(r);
    if (core_aot == 22) r.skip(4);  // extensionChannelConfiguration
    if (!r.ok()) return error(Errc::malformed, "{}: truncated at byte {} of {}", kWhat, r.byte_offset(), config.size());
    if (extension_rate == 0) return error(Errc::malformed, "{}: reserved extension sampling frequency", kWhat);
    d.sample_rate_hz = extension_rate;
  }
  // GASpecificConfig, then the backward-compatible extension: best effort, as players do; a config
  // that ends early simply has no extension.
  if (is_general_audio(core_aot) && channel_configuration != 0) {
    r.flag();                     // frameLengthFlag
    if (r.flag()) r.skip(14);     // dependsOnCoreCoder: coreCoderDelay
    bool extension_flag = r.flag();
    if (core_aot == 6 || core_aot == 20) r.skip(3);  // layerNr
    if (extension_flag) {
      if (core_aot == 22) r.skip(5 + 11);  // numOfSubFrame, layer_length
      if (core_aot == 17 || core_aot == 19 || core_aot == 20 || core_aot == 23) r.skip(3);  // resilience flags
      r.flag();  // extensionFlag3
    }
    bool stop = !r.ok();
    if (!stop && has_ep_config(core_aot)) stop = r.u32(2) >= 2;  // ErrorProtectionSpecificConfig: not walked
    if (!stop && !explicit_sbr && r.bits_left() >= 16 && r.u32(11) == 0x2B7) {
      std::uint32_t extension_aot = read_audio_object_type(r);
      if (extension_aot == 5 && r.flag()) {  // sbrPresentFlag
        std::uint32_t extension_rate = read_sampling_frequency(r);
        bool has_ps = false;
        if (r.bits_left() >= 12 && r.u32(11) == 0x548) has_ps = r.flag();
        if (r.ok() && extension_rate != 0) {
          d.has_sbr = true;
          d.has_ps = has_ps;
          d.sample_rate_hz = extension_rate;
        }
      }
    }
  }
  if (d.has_ps && d.channels == 1) d.channels = 2;  // parametric stereo decodes mono to stereo
  return d;
}

// ---------------------------------------------------------------------------------------------
// Opus, FLAC

Result<CodecDescription> parse_opus_id_header(std::span<const std::uint8_t> header) noexcept {
  constexpr const char* kWhat = "opus id header";
  CodecDescription d;
  d.codec = Codec::opus;
  d.sample_rate_hz = 48000;
  if (header.empty()) return d;  // E-RTMP: empty means mono/stereo defaults
  static constexpr std::uint8_t kMagic[8] = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd'};
  if (header.size() < 19) return error(Errc::malformed, "{}: {} bytes, need at least 19", kWhat, header.size());
  for (std::size_t i = 0; i < 8; ++i)
    if (header[i] != kMagic[i])
      return error(Errc::malformed, "{}: bad magic at offset {} (not \"OpusHead\")", kWhat, i);
  if ((header[8] & 0xF0) != 0)
    return error(Errc::unsupported, "{}: version {} at offset 8 (major version 0 understood)", kWhat, header[8]);
  d.channels = header[9];
  if (d.channels == 0) return error(Errc::malformed, "{}: channel count 0 at offset 9", kWhat);
  d.core_sample_rate_hz = header[12] | std::uint32_t{header[13]} << 8 | std::uint32_t{header[14]} << 16 |
                          std::uint32_t{header[15]} << 24;  // little-endian input rate
  std::uint8_t mapping_family = header[18];
  if (mapping_family != 0 && header.size() < 21u + d.channels)
    return error(Errc::malformed, "{}: channel mapping table of {} channels overruns {} bytes", kWhat, d.channels,
                 header.size());
  return d;
}

Result<CodecDescription> parse_flac_sequence_header(std::span<const std::uint8_t> header) noexcept {
  constexpr const char* kWhat = "flac sequence header";
  std::size_t at = 0;
  if (header.size() >= 4 && header[0] == 'f' && header[1] == 'L' && header[2] == 'a' && header[3] == 'C') at = 4;
  // Metadata block header (1 + 3 bytes) and the 34-byte STREAMINFO.
  if (header.size() < at + 4 + 34)
    return error(Errc::malformed, "{}: {} bytes, need {} for STREAMINFO", kWhat, header.size(), at + 38);
  std::uint8_t block_type = header[at] & 0x7F;
  if (block_type != 0)
    return error(Errc::malformed, "{}: first metadata block type {} at offset {}, expected STREAMINFO (0)", kWhat,
                 block_type, at);
  std::uint32_t length = load_u24(header.data() + at + 1);
  if (length < 34) return error(Errc::malformed, "{}: STREAMINFO length {} at offset {}", kWhat, length, at + 1);
  const std::uint8_t* info = header.data() + at + 4;
  CodecDescription d;
  d.codec = Codec::flac;
  d.sample_rate_hz = std::uint32_t{info[10]} << 12 | std::uint32_t{info[11]} << 4 | info[12] >> 4;
  d.core_sample_rate_hz = d.sample_rate_hz;
  d.channels = static_cast<std::uint8_t>(((info[12] >> 1) & 0x07) + 1);
  d.bits_per_sample = static_cast<std::uint8_t>(((info[12] & 0x01) << 4 | info[13] >> 4) + 1);
  if (d.sample_rate_hz == 0)
    return error(Errc::malformed, "{}: sample rate 0 at offset {}", kWhat, at + 14);
  return d;
}

// ---------------------------------------------------------------------------------------------

Result<CodecDescription> parse_codec_config(Codec codec, std::span<const std::uint8_t> config) noexcept {
  switch (codec) {
    case Codec::h264: return parse_avc_decoder_config(config);
    case Codec::hevc: return parse_hevc_decoder_config(config);
    case Codec::av1: return parse_av1_codec_config(config);
    case Codec::vp8:
    case Codec::vp9: return parse_vp_codec_config(codec, config);
    case Codec::aac: return parse_aac_audio_specific_config(config);
    case Codec::opus: return parse_opus_id_header(config);
    case Codec::flac: return parse_flac_sequence_header(config);
    default: return error(Errc::unsupported, "no codec configuration decoder for {}", codec_name(codec));
  }
}

Result<CodecDescription> parse_sequence_header(const TagInfo& info, std::span<const std::uint8_t> body) noexcept {
  if (info.is_multitrack)
    return error(Errc::unsupported, "{} sequence header: multitrack (read each track)", codec_name(info.codec));
  if (info.packet_type != PacketType::sequence_start)
    return error(Errc::unsupported, "{} tag: {}, not a sequence start", codec_name(info.codec),
                 packet_type_name(info.packet_type));
  if (info.payload_offset > body.size())
    return error(Errc::malformed, "{} sequence header: payload offset {} beyond the body of {}", codec_name(info.codec),
                 info.payload_offset, body.size());
  return parse_codec_config(info.codec, body.subspan(info.payload_offset));
}

// ---------------------------------------------------------------------------------------------
// RFC 6381

std::string rfc6381_codec_string(const CodecDescription& d) {
  char text[64] = {};
  switch (d.codec) {
    case Codec::h264:
      if (d.profile == 0) return {};
      std::snprintf(text, sizeof text, "avc1.%02x%02x%02x", d.profile, d.constraint_flags, d.level);
      return text;
    case Codec::hevc: {
      if (d.profile == 0 && d.profile_compatibility_flags == 0) return {};
      // ISO/IEC 14496-15 E.3: profile space letter, profile, compatibility flags bit-reversed in
      // hex, tier and level, then the constraint bytes with trailing zero bytes left out.
      static constexpr const char* kSpace[4] = {"", "A", "B", "C"};
      std::uint32_t reversed = 0;
      for (int i = 0; i < 32; ++i)
        if (d.profile_compatibility_flags & (1u << i)) reversed |= 1u << (31 - i);
      int n = std::snprintf(text, sizeof text, "hvc1.%s%u.%X.%c%u", kSpace[d.profile_space & 3], d.profile, reversed,
                            d.tier ? 'H' : 'L', d.level);
      int last = -1;
      std::uint8_t bytes[6];
      for (int i = 0; i < 6; ++i) {
        bytes[i] = static_cast<std::uint8_t>(d.constraint_indicator_flags >> (40 - 8 * i));
        if (bytes[i] != 0) last = i;
      }
      for (int i = 0; i <= last && n > 0 && n < static_cast<int>(sizeof text); ++i)
        n += std::snprintf(text + n, sizeof text - static_cast<std::size_t>(n), ".%X", bytes[i]);
      return text;
    }
    case Codec::av1:
      std::snprintf(text, sizeof text, "av01.%u.%02u%c.%02u", d.profile, d.level, d.tier ? 'H' : 'M',
                    d.bit_depth_luma ? d.bit_depth_luma : 8);
      return text;
    case Codec::vp9:
    case Codec::vp8:
      std::snprintf(text, sizeof text, "%s.%02u.%02u.%02u", d.codec == Codec::vp9 ? "vp09" : "vp08", d.profile, d.level,
                    d.bit_depth_luma ? d.bit_depth_luma : 8);
      return text;
    case Codec::aac:
      if (d.profile == 0) return {};
      std::snprintf(text, sizeof text, "mp4a.40.%u", d.profile);
      return text;
    case Codec::mp3: return "mp4a.40.34";
    case Codec::opus: return "opus";
    case Codec::flac: return "flac";
    case Codec::ac3: return "ac-3";
    case Codec::eac3: return "ec-3";
    default: return {};
  }
}

// ---------------------------------------------------------------------------------------------
// Access units

Result<AccessUnitInfo> scan_access_unit(Codec codec, std::span<const std::uint8_t> access_unit,
                                        std::uint8_t nal_length_size) noexcept {
  if (codec != Codec::h264 && codec != Codec::hevc)
    return error(Errc::unsupported, "access unit scan: {} has no NAL units", codec_name(codec));
  if (nal_length_size < 1 || nal_length_size > 4)
    return error(Errc::unsupported, "access unit scan: NAL length size {}", nal_length_size);
  AccessUnitInfo info;
  std::size_t pos = 0;
  while (pos < access_unit.size()) {
    if (access_unit.size() - pos < nal_length_size)
      return error(Errc::malformed, "{} access unit: NAL length cut short at offset {} of {}", codec_name(codec), pos,
                   access_unit.size());
    std::size_t length = 0;
    for (std::uint8_t i = 0; i < nal_length_size; ++i) length = length << 8 | access_unit[pos + i];
    std::size_t nal_at = pos + nal_length_size;
    if (length > access_unit.size() - nal_at)
      return error(Errc::malformed, "{} access unit: NAL unit of {} bytes at offset {} overruns the {} bytes",
                   codec_name(codec), length, pos, access_unit.size());
    pos = nal_at + length;
    if (length == 0) continue;
    ++info.nal_count;
    std::uint8_t header = access_unit[nal_at];
    if (codec == Codec::h264) {
      std::uint8_t type = header & 0x1F;
      if (type == 5) info.is_random_access = info.has_idr = true;
      if (type == 7 || type == 8) info.has_parameter_sets = true;
    } else {
      std::uint8_t type = (header >> 1) & 0x3F;
      if (type >= 16 && type <= 23) info.is_random_access = true;
      if (type == 19 || type == 20) info.has_idr = true;
      if (type >= 32 && type <= 34) info.has_parameter_sets = true;
    }
  }
  return info;
}

}  // namespace weir::formats::flv
