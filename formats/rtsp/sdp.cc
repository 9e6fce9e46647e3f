// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/sdp.h"

#include <algorithm>

#include "formats/rtsp/text_util.h"

namespace weir::formats::rtsp {

using detail::iequals;
using detail::trim;

const std::string* Fmtp::parameter(std::string_view name) const noexcept {
  for (const Parameter& parameter : parameters)
    if (iequals(parameter.name, name)) return &parameter.value;
  return nullptr;
}

void Fmtp::set(std::string_view name, std::string value) {
  for (Parameter& parameter : parameters) {
    if (iequals(parameter.name, name)) {
      parameter.value = std::move(value);
      return;
    }
  }
  parameters.push_back({std::string(name), std::move(value)});
}

const RtpMap* SdpMedia::rtpmap(int payload_type) const noexcept {
  for (const RtpMap& map : rtpmaps)
    if (map.payload_type == payload_type) return &map;
  return nullptr;
}

const Fmtp* SdpMedia::fmtp(int payload_type) const noexcept {
  for (const Fmtp& fmtp : fmtps)
    if (fmtp.payload_type == payload_type) return &fmtp;
  return nullptr;
}

int SdpMedia::first_payload_type() const noexcept {
  if (formats.empty()) return -1;
  auto number = detail::parse_decimal(formats.front(), 127);
  return number ? static_cast<int>(*number) : -1;
}

const std::string* SdpMedia::attribute(std::string_view name) const noexcept {
  for (const SdpAttribute& attribute : attributes)
    if (iequals(attribute.name, name)) return &attribute.value;
  return nullptr;
}

namespace {

// Splits on runs of spaces (SDP fields are separated by one space; encoders sometimes use more).
std::vector<std::string_view> fields(std::string_view text) {
  std::vector<std::string_view> out;
  while (true) {
    text = trim(text);
    if (text.empty()) return out;
    const std::size_t end = text.find_first_of(" \t\r");
    out.push_back(text.substr(0, end));
    if (end == std::string_view::npos) return out;
    text = text.substr(end);
  }
}

std::optional<int> payload_type_of(std::string_view text) {
  auto number = detail::parse_decimal(text, 127);
  if (!number) return std::nullopt;
  return static_cast<int>(*number);
}

Result<SdpConnection> parse_connection(std::string_view value, std::size_t line) {
  const auto parts = fields(value);
  if (parts.size() != 3)
    return error(Errc::malformed, "sdp line {}: bad c= \"{}\"", line, value.substr(0, 60));
  return SdpConnection{std::string(parts[0]), std::string(parts[1]), std::string(parts[2])};
}

Result<SdpBandwidth> parse_bandwidth(std::string_view value, std::size_t line) {
  const std::size_t colon = value.find(':');
  auto number = colon == std::string_view::npos
                    ? std::nullopt
                    : detail::parse_decimal(trim(value.substr(colon + 1)), UINT32_MAX);
  if (!number || colon == 0)
    return error(Errc::malformed, "sdp line {}: bad b= \"{}\"", line, value.substr(0, 60));
  return SdpBandwidth{std::string(trim(value.substr(0, colon))),
                      static_cast<std::uint32_t>(*number)};
}

// "96 H264/90000" or "97 MPEG4-GENERIC/48000/2"; a missing clock rate is taken as 0.
Result<RtpMap> parse_rtpmap(std::string_view value, std::size_t line) {
  value = trim(value);
  const std::size_t space = value.find_first_of(" \t");
  auto payload_type = payload_type_of(value.substr(0, space));
  if (!payload_type || space == std::string_view::npos)
    return error(Errc::malformed, "sdp line {}: bad rtpmap \"{}\"", line, value.substr(0, 60));
  RtpMap map;
  map.payload_type = *payload_type;
  std::string_view rest = trim(value.substr(space));
  map.encoding = std::string(trim(detail::take_until(rest, '/')));
  if (map.encoding.empty())
    return error(Errc::malformed, "sdp line {}: rtpmap without encoding name", line);
  const std::string_view clock = trim(detail::take_until(rest, '/'));
  if (!clock.empty()) {
    auto rate = detail::parse_decimal(clock, UINT32_MAX);
    if (!rate)
      return error(Errc::malformed, "sdp line {}: bad rtpmap clock rate \"{}\"", line,
                   clock.substr(0, 20));
    map.clock_rate = static_cast<std::uint32_t>(*rate);
  }
  const std::string_view channels = trim(rest);
  if (!channels.empty()) {
    auto count = detail::parse_decimal(channels, 255);
    if (!count)
      return error(Errc::malformed, "sdp line {}: bad rtpmap channels \"{}\"", line,
                   channels.substr(0, 20));
    map.channels = static_cast<int>(*count);
  }
  return map;
}

Result<Fmtp> parse_fmtp(std::string_view value, std::size_t line) {
  value = trim(value);
  const std::size_t space = value.find_first_of(" \t");
  auto payload_type = payload_type_of(value.substr(0, space));
  if (!payload_type)
    return error(Errc::malformed, "sdp line {}: bad fmtp \"{}\"", line, value.substr(0, 60));
  Fmtp fmtp;
  fmtp.payload_type = *payload_type;
  std::string_view rest =
      space == std::string_view::npos ? std::string_view() : value.substr(space);
  while (!rest.empty()) {
    const std::string_view parameter = trim(detail::take_until(rest, ';'));
    if (parameter.empty()) continue;
    const std::size_t equals = parameter.find('=');
    if (trim(parameter.substr(0, equals)).empty() &&
        (equals == std::string_view::npos || trim(parameter.substr(equals + 1)).empty()))
      continue;  // a lone '=': nothing to keep
    fmtp.parameters.push_back({std::string(trim(parameter.substr(0, equals))),
                               equals == std::string_view::npos
                                   ? std::string()
                                   : std::string(trim(parameter.substr(equals + 1)))});
  }
  return fmtp;
}

Result<SdpMedia> parse_media(std::string_view value, std::size_t line) {
  const auto parts = fields(value);
  if (parts.size() < 3)
    return error(Errc::malformed, "sdp line {}: bad m= \"{}\"", line, value.substr(0, 60));
  SdpMedia media;
  media.type = std::string(parts[0]);
  std::string_view port_text = parts[1];
  const std::string_view port = detail::take_until(port_text, '/');
  auto number = detail::parse_decimal(port, 65535);
  auto count =
      port_text.empty() ? std::optional<std::uint64_t>(0) : detail::parse_decimal(port_text, 65535);
  if (!number || !count)
    return error(Errc::malformed, "sdp line {}: bad m= port \"{}\"", line, parts[1].substr(0, 20));
  media.port = static_cast<std::uint16_t>(*number);
  media.port_count = static_cast<std::uint16_t>(*count);
  media.protocol = std::string(parts[2]);
  for (std::size_t i = 3; i < parts.size(); ++i) media.formats.emplace_back(parts[i]);
  return media;
}

void append_line(std::string& out, char type, std::string_view value) {
  out += type;
  out += '=';
  out += value;
  out += "\r\n";
}

void append_connection(std::string& out, const SdpConnection& connection) {
  append_line(out, 'c',
              connection.net_type + " " + connection.address_type + " " + connection.address);
}

void append_attribute(std::string& out, const SdpAttribute& attribute) {
  std::string text = attribute.name;
  if (attribute.has_value || !attribute.value.empty()) text += ":" + attribute.value;
  append_line(out, 'a', text);
}

void append_rtpmap(std::string& out, const RtpMap& map) {
  std::string text = "rtpmap:" + std::to_string(map.payload_type) + " " + map.encoding + "/" +
                     std::to_string(map.clock_rate);
  if (map.channels > 0) text += "/" + std::to_string(map.channels);
  append_line(out, 'a', text);
}

void append_fmtp(std::string& out, const Fmtp& fmtp) {
  std::string text = "fmtp:" + std::to_string(fmtp.payload_type) + " ";
  for (std::size_t i = 0; i < fmtp.parameters.size(); ++i) {
    if (i > 0) text += ';';
    text += fmtp.parameters[i].name;
    if (!fmtp.parameters[i].value.empty()) text += "=" + fmtp.parameters[i].value;
  }
  append_line(out, 'a', text);
}

}  // namespace

Result<SessionDescription> parse_sdp(std::string_view text, SdpLimits limits) {
  if (text.size() > limits.max_bytes)
    return error(Errc::limit, "sdp of {} bytes over the limit of {}", text.size(),
                 limits.max_bytes);
  SessionDescription description;
  description.timings.clear();
  bool has_version = false;
  std::size_t line_number = 0;
  SdpMedia* media = nullptr;
  while (!text.empty()) {
    ++line_number;
    const std::string_view line = trim(detail::take_until(text, '\n'));
    if (line.empty()) continue;
    if (line.size() < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z')
      return error(Errc::malformed, "sdp line {}: \"{}\" is not x=value", line_number,
                   line.substr(0, 60));
    const char type = line[0];
    const std::string_view value = trim(line.substr(2));
    if (!has_version) {
      if (type != 'v')
        return error(Errc::malformed, "sdp line {}: {}= before v=", line_number,
                     std::string(1, type));
      if (value != "0")
        return error(Errc::malformed, "sdp line {}: version \"{}\" is not 0", line_number,
                     value.substr(0, 20));
      has_version = true;
      continue;
    }
    if (type == 'm') {
      if (description.media.size() >= limits.max_media)
        return error(Errc::limit, "sdp line {}: more than {} media", line_number, limits.max_media);
      auto parsed = parse_media(value, line_number);
      if (!parsed) return std::move(parsed).error();
      description.media.push_back(std::move(*parsed));
      media = &description.media.back();
      continue;
    }
    switch (type) {
      case 'o': {
        if (media != nullptr) break;
        const auto parts = fields(value);
        // Cameras write short o= lines; keep what is there rather than refuse the stream.
        std::string* targets[] = {
            &description.origin.username,        &description.origin.session_id,
            &description.origin.session_version, &description.origin.net_type,
            &description.origin.address_type,    &description.origin.address};
        for (std::size_t i = 0; i < parts.size() && i < std::size(targets); ++i)
          *targets[i] = std::string(parts[i]);
        break;
      }
      case 's':
        if (media == nullptr) description.name = std::string(value);
        break;
      case 'i': (media != nullptr ? media->title : description.info) = std::string(value); break;
      case 'u':
        if (media == nullptr) description.uri = std::string(value);
        break;
      case 't':
        if (media == nullptr) description.timings.emplace_back(value);
        break;
      case 'c': {
        auto connection = parse_connection(value, line_number);
        if (!connection) return std::move(connection).error();
        (media != nullptr ? media->connection : description.connection) = std::move(*connection);
        break;
      }
      case 'b': {
        auto bandwidth = parse_bandwidth(value, line_number);
        if (!bandwidth) return std::move(bandwidth).error();
        (media != nullptr ? media->bandwidths : description.bandwidths)
            .push_back(std::move(*bandwidth));
        break;
      }
      case 'a': {
        const std::size_t colon = value.find(':');
        const std::string_view name = trim(value.substr(0, colon));
        const std::string_view attribute_value =
            colon == std::string_view::npos ? std::string_view() : trim(value.substr(colon + 1));
        if (media != nullptr && iequals(name, "rtpmap")) {
          auto map = parse_rtpmap(attribute_value, line_number);
          if (!map) return std::move(map).error();
          media->rtpmaps.push_back(std::move(*map));
        } else if (media != nullptr && iequals(name, "fmtp")) {
          auto fmtp = parse_fmtp(attribute_value, line_number);
          if (!fmtp) return std::move(fmtp).error();
          media->fmtps.push_back(std::move(*fmtp));
        } else if (iequals(name, "control")) {
          (media != nullptr ? media->control : description.control) = std::string(attribute_value);
        } else if (media == nullptr && iequals(name, "range")) {
          description.range = std::string(attribute_value);
        } else {
          (media != nullptr ? media->attributes : description.attributes)
              .push_back({std::string(name), std::string(attribute_value),
                          colon != std::string_view::npos});
        }
        break;
      }
      default:
        if (media == nullptr) description.other_lines.push_back({type, std::string(value)});
        // Media-level k= and others are dropped: nothing RTSP reads them.
        break;
    }
  }
  if (!has_version) return error(Errc::malformed, "sdp: no v= line");
  if (description.timings.empty()) description.timings.emplace_back("0 0");
  return description;
}

std::string write_sdp(const SessionDescription& description) {
  std::string out;
  out.reserve(512 + description.media.size() * 256);
  append_line(out, 'v', std::to_string(description.version));
  const SdpOrigin& o = description.origin;
  append_line(out, 'o',
              o.username + " " + o.session_id + " " + o.session_version + " " + o.net_type + " " +
                  o.address_type + " " + o.address);
  append_line(out, 's', description.name.empty() ? std::string("-") : description.name);
  if (!description.info.empty()) append_line(out, 'i', description.info);
  if (!description.uri.empty()) append_line(out, 'u', description.uri);
  if (description.connection) append_connection(out, *description.connection);
  for (const SdpBandwidth& b : description.bandwidths)
    append_line(out, 'b', b.type + ":" + std::to_string(b.value));
  for (const std::string& timing : description.timings) append_line(out, 't', timing);
  for (const SessionDescription::Line& line : description.other_lines)
    append_line(out, line.type, line.value);
  if (!description.control.empty()) append_line(out, 'a', "control:" + description.control);
  if (!description.range.empty()) append_line(out, 'a', "range:" + description.range);
  for (const SdpAttribute& attribute : description.attributes) append_attribute(out, attribute);
  for (const SdpMedia& media : description.media) {
    std::string m = media.type + " " + std::to_string(media.port);
    if (media.port_count > 0) m += "/" + std::to_string(media.port_count);
    m += " " + media.protocol;
    for (const std::string& format : media.formats) m += " " + format;
    append_line(out, 'm', m);
    if (!media.title.empty()) append_line(out, 'i', media.title);
    if (media.connection) append_connection(out, *media.connection);
    for (const SdpBandwidth& b : media.bandwidths)
      append_line(out, 'b', b.type + ":" + std::to_string(b.value));
    // rtpmap then fmtp for each listed format, then any for formats the m= line does not list.
    std::vector<bool> map_written(media.rtpmaps.size()), fmtp_written(media.fmtps.size());
    for (const std::string& format : media.formats) {
      auto payload_type = payload_type_of(format);
      if (!payload_type) continue;
      for (std::size_t i = 0; i < media.rtpmaps.size(); ++i) {
        if (map_written[i] || media.rtpmaps[i].payload_type != *payload_type) continue;
        append_rtpmap(out, media.rtpmaps[i]);
        map_written[i] = true;
      }
      for (std::size_t i = 0; i < media.fmtps.size(); ++i) {
        if (fmtp_written[i] || media.fmtps[i].payload_type != *payload_type) continue;
        append_fmtp(out, media.fmtps[i]);
        fmtp_written[i] = true;
      }
    }
    for (std::size_t i = 0; i < media.rtpmaps.size(); ++i)
      if (!map_written[i]) append_rtpmap(out, media.rtpmaps[i]);
    for (std::size_t i = 0; i < media.fmtps.size(); ++i)
      if (!fmtp_written[i]) append_fmtp(out, media.fmtps[i]);
    if (!media.control.empty()) append_line(out, 'a', "control:" + media.control);
    for (const SdpAttribute& attribute : media.attributes) append_attribute(out, attribute);
  }
  return out;
}

}  // namespace weir::formats::rtsp
