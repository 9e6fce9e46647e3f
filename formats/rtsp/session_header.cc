// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/session_header.h"

#include "formats/rtsp/text_util.h"

namespace weir::formats::rtsp {

using detail::trim;

Result<SessionHeader> parse_session(std::string_view value) {
  SessionHeader session;
  std::string_view rest = value;
  const std::string_view id = trim(detail::take_until(rest, ';'));
  if (id.empty() || id.find_first_of(" \t,") != std::string_view::npos)
    return error(Errc::malformed, "session header \"{}\": bad id", value.substr(0, 80));
  session.id = std::string(id);
  while (!rest.empty()) {
    const std::string_view parameter = trim(detail::take_until(rest, ';'));
    const std::size_t equals = parameter.find('=');
    if (!detail::iequals(trim(parameter.substr(0, equals)), "timeout")) continue;
    auto timeout = equals == std::string_view::npos
                       ? std::nullopt
                       : detail::parse_decimal(trim(parameter.substr(equals + 1)), UINT32_MAX);
    if (!timeout)
      return error(Errc::malformed, "session header \"{}\": bad timeout", value.substr(0, 80));
    session.timeout_s = static_cast<std::uint32_t>(*timeout);
  }
  return session;
}

std::string format_session(const SessionHeader& session) {
  if (!session.timeout_s) return session.id;
  return session.id + ";timeout=" + std::to_string(*session.timeout_s);
}

Result<std::vector<RtpInfo>> parse_rtp_info(std::string_view value) {
  std::vector<RtpInfo> streams;
  std::string_view rest = trim(value);
  while (!rest.empty()) {
    RtpInfo info;
    bool has_url = false;
    // Parameters up to the ',' that ends this stream; a quoted url may hold ',' and ';'.
    while (!rest.empty()) {
      rest = trim(rest);
      std::string_view parameter;
      if (detail::istarts_with(rest, "url=\"")) {
        const std::size_t close = rest.find('"', 5);
        if (close == std::string_view::npos)
          return error(Errc::malformed, "rtp-info: unterminated quoted url");
        parameter = rest.substr(0, close + 1);
        rest = rest.substr(close + 1);
      } else {
        const std::size_t end = rest.find_first_of(";,");
        parameter = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
      }
      const std::size_t equals = parameter.find('=');
      const std::string_view name = trim(parameter.substr(0, equals));
      const std::string_view text = equals == std::string_view::npos
                                        ? std::string_view()
                                        : detail::unquote(trim(parameter.substr(equals + 1)));
      if (detail::iequals(name, "url")) {
        info.url = std::string(text);
        has_url = !text.empty();
      } else if (detail::iequals(name, "seq")) {
        auto seq = detail::parse_decimal(text, 65535);
        if (!seq) return error(Errc::malformed, "rtp-info: bad seq \"{}\"", text.substr(0, 20));
        info.seq = static_cast<std::uint16_t>(*seq);
      } else if (detail::iequals(name, "rtptime")) {
        auto rtptime = detail::parse_decimal(text, UINT32_MAX);
        if (!rtptime)
          return error(Errc::malformed, "rtp-info: bad rtptime \"{}\"", text.substr(0, 20));
        info.rtptime = static_cast<std::uint32_t>(*rtptime);
      }
      const char separator = rest.empty() ? ',' : rest.front();
      if (!rest.empty()) rest.remove_prefix(1);
      if (separator == ',') break;
    }
    if (!has_url) return error(Errc::malformed, "rtp-info: stream {} without url", streams.size());
    streams.push_back(std::move(info));
  }
  return streams;
}

std::string format_rtp_info(const std::vector<RtpInfo>& streams) {
  std::string out;
  for (const RtpInfo& info : streams) {
    if (!out.empty()) out += ',';
    out += "url=" + info.url;
    if (info.seq) out += ";seq=" + std::to_string(*info.seq);
    if (info.rtptime) out += ";rtptime=" + std::to_string(*info.rtptime);
  }
  return out;
}

}  // namespace weir::formats::rtsp
