// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// RTSP URLs (RFC 2326 3.2, RFC 7826 19.2): rtsp://[user:pass@]host[:port]/path?query, and how a
/// path names a Weir stream: /APP/NAME, the aggregate /APP/NAME/, a track /APP/NAME/trackID=N.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "weir/status.h"

namespace weir::formats::rtsp {

/// Default port of rtsp:// (RFC 2326 3.2).
inline constexpr std::uint16_t kDefaultPort = 554;
/// Default port of rtsps:// (RFC 7826 19.2).
inline constexpr std::uint16_t kDefaultTlsPort = 322;

/// The parts of an rtsp:// or rtsps:// URL.
struct Url {
  std::string scheme;    ///< "rtsp" or "rtsps", lower case
  std::string user;      ///< percent-decoded; empty when absent
  std::string password;  ///< percent-decoded; empty when absent
  bool has_userinfo = false;
  std::string host;      ///< a name, an IPv4 address or an IPv6 address without its brackets
  bool is_ipv6 = false;  ///< host was written [like:this]
  std::uint16_t port = kDefaultPort;  ///< the default of the scheme when absent
  std::string path;   ///< raw (percent-encoded) path from the first '/', "/" when absent
  std::string query;  ///< raw text after '?', without it; empty when absent
  friend bool operator==(const Url&, const Url&) = default;
};

/// Parses an absolute RTSP URL. The scheme is case-insensitive. ffmpeg appends a track's control to
/// the whole URL, query included ("rtsp://h/live/x?token=t/streamid=0"): such a trailing track
/// control (trackID=N, streamid=N, stream=N) after the query moves back onto the path.
/// Errors: Errc::malformed naming the part (scheme, host, port, bad percent-encoding in userinfo).
Result<Url> parse_url(std::string_view text);

/// "host:port" as written in a URL, with brackets for IPv6 and no port when it is the default.
std::string format_authority(const Url& url);

/// A stream path cut into Weir's names.
struct StreamPath {
  std::string app;           ///< first segment, percent-decoded
  std::string name;          ///< the rest ("cam/1" for /live/cam/1), percent-decoded
  std::optional<int> track;  ///< N of a trailing trackID=N / streamid=N / stream=N
  bool is_aggregate = true;  ///< no track control: the whole presentation
  friend bool operator==(const StreamPath&, const StreamPath&) = default;
};

/// Splits a URL path: "/live/test" and "/live/test/" are the aggregate; "/live/test/trackID=0"
/// (our DESCRIBE's a=control), ".../streamid=0" (ffmpeg's) and ".../stream=0" (GStreamer's) name
/// track 0. Errors: Errc::malformed for an empty app or name, a bad percent-encoding, or a track
/// number that is not a small decimal number.
Result<StreamPath> split_stream_path(std::string_view path);

/// Decodes %XX escapes ('+' is left alone: it is not a space in a URL path or RTSP query).
/// Errors: Errc::malformed for '%' not followed by two hex digits, naming the offset.
Result<std::string> percent_decode(std::string_view text);

/// The decoded value of the first `key=value` in a query ("token=abc&x=1"), separated by '&' or
/// ';'; an empty string for a bare `key`; nullopt when absent or badly encoded.
std::optional<std::string> query_param(std::string_view query, std::string_view key);

/// The URL a track's a=control names (RFC 2326 C.1.1): an absolute control as is, "*" the base,
/// a relative one appended to the base with one '/' between. The base is the Content-Base header,
/// else the DESCRIBE request's URL.
std::string resolve_control(std::string_view base, std::string_view control);

}  // namespace weir::formats::rtsp
