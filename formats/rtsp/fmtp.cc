// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/fmtp.h"

#include "formats/rtsp/base64.h"
#include "formats/rtsp/text_util.h"

namespace weir::formats::rtsp {

namespace {

// A comma-separated list of base64 NAL units (RFC 6184 8.1, RFC 7798 7.1).
Result<std::vector<NalUnit>> decode_nal_list(std::string_view text, std::string_view name) {
  std::vector<NalUnit> units;
  while (!text.empty()) {
    const std::string_view item = detail::trim(detail::take_until(text, ','));
    if (item.empty()) continue;  // a trailing ',' some encoders write
    auto unit = base64_decode(item);
    if (!unit) return std::move(unit).error().with_context(std::string(name));
    if (unit->empty()) return error(Errc::malformed, "{}: empty NAL unit", name);
    units.push_back(std::move(*unit));
  }
  return units;
}

Result<int> small_number(const Fmtp& fmtp, std::string_view name, int fallback, int max) {
  const std::string* value = fmtp.parameter(name);
  if (value == nullptr) return fallback;
  auto number = detail::parse_decimal(detail::trim(*value), static_cast<std::uint64_t>(max));
  if (!number)
    return error(Errc::malformed, "fmtp {}: bad number \"{}\"", name, value->substr(0, 20));
  return static_cast<int>(*number);
}

std::string encode_nal_list(std::span<const NalUnit> units) {
  std::string out;
  for (const NalUnit& unit : units) {
    if (!out.empty()) out += ',';
    out += base64_encode(unit);
  }
  return out;
}

std::string hex(std::span<const std::uint8_t> bytes, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (std::uint8_t byte : bytes) {
    out += digits[byte >> 4];
    out += digits[byte & 15];
  }
  return out;
}

}  // namespace

Result<H264Parameters> h264_parameters(const Fmtp& fmtp) {
  H264Parameters out;
  auto mode = small_number(fmtp, "packetization-mode", 0, 2);
  if (!mode) return std::move(mode).error();
  out.packetization_mode = *mode;
  if (const std::string* id = fmtp.parameter("profile-level-id")) {
    const std::string_view text = detail::trim(*id);
    auto value = text.size() == 6 ? detail::parse_hex(text) : std::nullopt;
    if (!value)
      return error(Errc::malformed, "fmtp profile-level-id: \"{}\" is not 6 hex digits",
                   text.substr(0, 20));
    out.profile_level_id = std::array<std::uint8_t, 3>{static_cast<std::uint8_t>(*value >> 16),
                                                       static_cast<std::uint8_t>(*value >> 8),
                                                       static_cast<std::uint8_t>(*value)};
  }
  if (const std::string* sets = fmtp.parameter("sprop-parameter-sets")) {
    auto units = decode_nal_list(*sets, "fmtp sprop-parameter-sets");
    if (!units) return std::move(units).error();
    for (NalUnit& unit : *units) {
      const int type = unit[0] & 0x1f;
      (type == 7 ? out.sps : type == 8 ? out.pps : out.other).push_back(std::move(unit));
    }
  }
  return out;
}

Result<HevcParameters> hevc_parameters(const Fmtp& fmtp) {
  HevcParameters out;
  struct List {
    std::string_view name;
    std::vector<NalUnit>* units;
  };
  for (const List& list : {List{"sprop-vps", &out.vps}, List{"sprop-sps", &out.sps},
                           List{"sprop-pps", &out.pps}, List{"sprop-sei", &out.sei}}) {
    const std::string* value = fmtp.parameter(list.name);
    if (value == nullptr) continue;
    auto units = decode_nal_list(*value, list.name);
    if (!units) return std::move(units).error().with_context("fmtp");
    *list.units = std::move(*units);
  }
  auto don = small_number(fmtp, "sprop-max-don-diff", 0, 32767);
  if (!don) return std::move(don).error();
  out.max_don_diff = *don;
  return out;
}

Result<AacParameters> aac_parameters(const Fmtp& fmtp) {
  AacParameters out;
  if (const std::string* config = fmtp.parameter("config")) {
    const std::string_view text = detail::trim(*config);
    if (text.size() % 2 != 0)
      return error(Errc::malformed, "fmtp config: odd number of hex digits");
    for (std::size_t i = 0; i < text.size(); i += 2) {
      const int high = detail::hex_value(text[i]);
      const int low = detail::hex_value(text[i + 1]);
      if (high < 0 || low < 0)
        return error(Errc::malformed, "fmtp config: bad hex digit at offset {}", i);
      out.config.push_back(static_cast<std::uint8_t>(high << 4 | low));
    }
  }
  if (const std::string* mode = fmtp.parameter("mode")) out.mode = *mode;
  struct Number {
    std::string_view name;
    int* value;
    int max;
  };
  for (const Number& number :
       {Number{"sizelength", &out.size_length, 32}, Number{"indexlength", &out.index_length, 32},
        Number{"indexdeltalength", &out.index_delta_length, 32},
        Number{"constantsize", &out.constant_size, 1 << 24},
        Number{"profile-level-id", &out.profile_level_id, 255},
        Number{"streamtype", &out.stream_type, 63}}) {
    auto value = small_number(fmtp, number.name, 0, number.max);
    if (!value) return std::move(value).error();
    *number.value = *value;
  }
  return out;
}

OpusParameters opus_parameters(const Fmtp& fmtp) {
  OpusParameters out;
  const std::string* stereo = fmtp.parameter("stereo");
  const std::string* sprop = fmtp.parameter("sprop-stereo");
  out.stereo = stereo != nullptr && detail::trim(*stereo) == "1";
  out.sprop_stereo = sprop != nullptr && detail::trim(*sprop) == "1";
  return out;
}

Fmtp make_h264_fmtp(int payload_type, std::span<const NalUnit> sps, std::span<const NalUnit> pps) {
  Fmtp fmtp;
  fmtp.payload_type = payload_type;
  fmtp.set("packetization-mode", "1");
  // profile-level-id is the SPS's profile_idc, constraint flags and level_idc, bytes 1..3.
  if (!sps.empty() && sps.front().size() >= 4)
    fmtp.set("profile-level-id", hex(std::span(sps.front()).subspan(1, 3), true));
  std::vector<NalUnit> sets(sps.begin(), sps.end());
  sets.insert(sets.end(), pps.begin(), pps.end());
  if (!sets.empty()) fmtp.set("sprop-parameter-sets", encode_nal_list(sets));
  return fmtp;
}

Fmtp make_hevc_fmtp(int payload_type, std::span<const NalUnit> vps, std::span<const NalUnit> sps,
                    std::span<const NalUnit> pps) {
  Fmtp fmtp;
  fmtp.payload_type = payload_type;
  if (!vps.empty()) fmtp.set("sprop-vps", encode_nal_list(vps));
  if (!sps.empty()) fmtp.set("sprop-sps", encode_nal_list(sps));
  if (!pps.empty()) fmtp.set("sprop-pps", encode_nal_list(pps));
  return fmtp;
}

Fmtp make_aac_fmtp(int payload_type, std::span<const std::uint8_t> audio_specific_config) {
  Fmtp fmtp;
  fmtp.payload_type = payload_type;
  fmtp.set("profile-level-id", "1");
  fmtp.set("mode", "AAC-hbr");
  fmtp.set("sizelength", "13");
  fmtp.set("indexlength", "3");
  fmtp.set("indexdeltalength", "3");
  fmtp.set("config", hex(audio_specific_config, false));
  return fmtp;
}

Fmtp make_opus_fmtp(int payload_type, int channels) {
  Fmtp fmtp;
  fmtp.payload_type = payload_type;
  fmtp.set("sprop-stereo", channels >= 2 ? "1" : "0");
  fmtp.set("stereo", channels >= 2 ? "1" : "0");
  return fmtp;
}

}  // namespace weir::formats::rtsp
