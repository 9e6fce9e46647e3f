// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/url.h"

#include "formats/rtsp/text_util.h"

namespace weir::formats::rtsp {

namespace {

// N of "trackID=N", "streamid=N" or "stream=N" (case-insensitive names); -1 if `segment` is none
// of them, -2 if it is one with a bad number.
int track_control(std::string_view segment) noexcept {
  for (std::string_view prefix : {"trackID=", "streamid=", "stream="}) {
    if (!detail::istarts_with(segment, prefix)) continue;
    auto number = detail::parse_decimal(segment.substr(prefix.size()), 65535);
    return number ? static_cast<int>(*number) : -2;
  }
  return -1;
}

}  // namespace

Result<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size() || detail::hex_value(text[i + 1]) < 0 ||
        detail::hex_value(text[i + 2]) < 0)
      return error(Errc::malformed, "bad percent-encoding at offset {} of \"{}\"", i,
                   text.substr(0, 80));
    out += static_cast<char>(detail::hex_value(text[i + 1]) << 4 | detail::hex_value(text[i + 2]));
    i += 2;
  }
  return out;
}

Result<Url> parse_url(std::string_view text) {
  Url url;
  const std::size_t colon = text.find("://");
  if (colon == std::string_view::npos)
    return error(Errc::malformed, "url \"{}\": no scheme", text.substr(0, 80));
  const std::string_view scheme = text.substr(0, colon);
  if (detail::iequals(scheme, "rtsp")) {
    url.scheme = "rtsp";
    url.port = kDefaultPort;
  } else if (detail::iequals(scheme, "rtsps")) {
    url.scheme = "rtsps";
    url.port = kDefaultTlsPort;
  } else {
    return error(Errc::malformed, "url \"{}\": scheme is not rtsp or rtsps", text.substr(0, 80));
  }
  std::string_view rest = text.substr(colon + 3);
  const std::size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  rest = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);

  const std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const std::string_view user = detail::take_until(userinfo, ':');
    auto decoded_user = percent_decode(user);
    auto decoded_password = percent_decode(userinfo);
    if (!decoded_user || !decoded_password)
      return error(Errc::malformed, "url \"{}\": bad percent-encoding in user or password",
                   text.substr(0, 80));
    url.user = std::move(*decoded_user);
    url.password = std::move(*decoded_password);
    url.has_userinfo = true;
  }

  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1)
      return error(Errc::malformed, "url \"{}\": unterminated IPv6 literal", text.substr(0, 80));
    url.host = std::string(authority.substr(1, close - 1));
    url.is_ipv6 = true;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return error(Errc::malformed, "url \"{}\": junk after IPv6 literal", text.substr(0, 80));
      port = after.substr(1);
    }
  } else {
    const std::size_t port_colon = authority.find(':');
    url.host = std::string(authority.substr(0, port_colon));
    if (port_colon != std::string_view::npos) port = authority.substr(port_colon + 1);
  }
  if (url.host.empty()) return error(Errc::malformed, "url \"{}\": no host", text.substr(0, 80));
  for (char ch : url.host)
    if (static_cast<unsigned char>(ch) <= ' ' || ch == '/' || ch == '[' || ch == ']' || ch == '@')
      return error(Errc::malformed, "url \"{}\": bad character in host", text.substr(0, 80));
  if (authority.back() == ':' && port.empty()) {
    // "host:" means the default port (RFC 3986 3.2.3).
  } else if (!port.empty()) {
    auto number = detail::parse_decimal(port, 65535);
    if (!number || *number == 0)
      return error(Errc::malformed, "url \"{}\": bad port \"{}\"", text.substr(0, 80),
                   port.substr(0, 10));
    url.port = static_cast<std::uint16_t>(*number);
  }

  const std::size_t question = rest.find('?');
  url.path = std::string(rest.substr(0, question));
  if (question != std::string_view::npos) {
    std::string_view query = rest.substr(question + 1);
    const std::size_t slash = query.rfind('/');
    if (slash != std::string_view::npos && track_control(query.substr(slash + 1)) >= 0) {
      if (url.path.empty() || url.path.back() != '/') url.path += '/';
      url.path += query.substr(slash + 1);
      query = query.substr(0, slash);
    }
    url.query = std::string(query);
  }
  if (url.path.empty()) url.path = "/";
  return url;
}

std::string format_authority(const Url& url) {
  std::string out = url.is_ipv6 ? "[" + url.host + "]" : url.host;
  const std::uint16_t default_port = url.scheme == "rtsps" ? kDefaultTlsPort : kDefaultPort;
  if (url.port != default_port) out += ":" + std::to_string(url.port);
  return out;
}

Result<StreamPath> split_stream_path(std::string_view path) {
  StreamPath out;
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  const std::size_t last_slash = path.rfind('/');
  const std::string_view last =
      last_slash == std::string_view::npos ? path : path.substr(last_slash + 1);
  const int track = track_control(last);
  if (track == -2)
    return error(Errc::malformed, "stream path \"{}\": bad track number", path.substr(0, 80));
  if (track >= 0 && last_slash != std::string_view::npos) {
    out.track = track;
    out.is_aggregate = false;
    path = path.substr(0, last_slash);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  const std::size_t first_slash = path.find('/');
  if (first_slash == std::string_view::npos || first_slash == 0 || first_slash + 1 == path.size())
    return error(Errc::malformed, "stream path \"{}\": not /APP/NAME", path.substr(0, 80));
  auto app = percent_decode(path.substr(0, first_slash));
  if (!app) return std::move(app).error().with_context("stream path app");
  auto name = percent_decode(path.substr(first_slash + 1));
  if (!name) return std::move(name).error().with_context("stream path name");
  out.app = std::move(*app);
  out.name = std::move(*name);
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const std::size_t end = query.find_first_of("&;");
    const std::string_view pair = query.substr(0, end);
    query = end == std::string_view::npos ? std::string_view() : query.substr(end + 1);
    const std::size_t equals = pair.find('=');
    if (pair.substr(0, equals) != key) continue;
    if (equals == std::string_view::npos) return std::string();
    auto value = percent_decode(pair.substr(equals + 1));
    if (!value) return std::nullopt;
    return std::move(*value);
  }
  return std::nullopt;
}

std::string resolve_control(std::string_view base, std::string_view control) {
  if (control.empty() || control == "*") return std::string(base);
  if (detail::istarts_with(control, "rtsp://") || detail::istarts_with(control, "rtsps://"))
    return std::string(control);
  std::string out(base);
  if (!out.empty() && out.back() != '/') out += '/';
  while (!control.empty() && control.front() == '/') control.remove_prefix(1);
  out += control;
  return out;
}

}  // namespace weir::formats::rtsp
