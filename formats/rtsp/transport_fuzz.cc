// SPDX-License-Identifier: Apache-2.0
// Fuzzes the header parsers: Transport, Range, Session, RTP-Info, Authorization, WWW-Authenticate,
// URLs and base64; what parses and is written back must parse to the same thing.
//
// Input: one header value per line; the first byte of a line picks the parser.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "formats/rtsp/auth.h"
#include "formats/rtsp/base64.h"
#include "formats/rtsp/range.h"
#include "formats/rtsp/session_header.h"
#include "formats/rtsp/transport.h"
#include "formats/rtsp/url.h"

namespace rtsp = weir::formats::rtsp;

namespace {

void check_transport(std::string_view value) {
  auto specs = rtsp::parse_transport(value);
  if (!specs) return;
  for (const rtsp::TransportSpec& spec : *specs) {
    auto back = rtsp::parse_transport(rtsp::format_transport(spec));
    // A spec written back may read differently only where the input held something format_transport
    // cannot carry (a ',' or ';' inside a value); otherwise it must be the same.
    if (back && back->size() == 1 && spec.extra.empty() &&
        spec.destination.find_first_of(",;") == std::string::npos &&
        spec.source.find_first_of(",;") == std::string::npos &&
        spec.mode != rtsp::TransportMode::other && spec.lower != rtsp::LowerTransport::other &&
        spec.protocol.find_first_of(",;/") == std::string::npos &&
        spec.profile.find_first_of(",;/") == std::string::npos && !(back->front() == spec))
      std::abort();
  }
}

void check_range(std::string_view value) {
  auto range = rtsp::parse_range(value);
  if (!range) return;
  auto back = rtsp::parse_range(rtsp::format_range(*range));
  if (!back || back->is_now != range->is_now ||
      back->start.has_value() != range->start.has_value() ||
      back->end.has_value() != range->end.has_value())
    std::abort();
}

void check_auth(std::string_view value) {
  auto auth = rtsp::parse_authorization(value);
  if (auth && auth->scheme == rtsp::AuthScheme::digest)
    static_cast<void>(rtsp::digest_matches(auth->digest, "PLAY", "x"));
  auto challenge = rtsp::parse_www_authenticate(value);
  if (!challenge) return;
  auto answer = rtsp::authorization_for(*challenge, "user", "pass", "DESCRIBE", "rtsp://h/a/b");
  if (!answer) return;
  auto parsed = rtsp::parse_authorization(*answer);
  if (!parsed) std::abort();
  if (parsed->scheme == rtsp::AuthScheme::digest &&
      !rtsp::digest_matches(parsed->digest, "DESCRIBE", "pass"))
    std::abort();
}

void check_base64(std::string_view value) {
  auto bytes = rtsp::base64_decode(value);
  if (!bytes) return;
  auto back = rtsp::base64_decode(rtsp::base64_encode(*bytes));
  if (!back || *back != *bytes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.empty()) continue;
    const std::string_view value = line.substr(1);
    switch (static_cast<unsigned char>(line[0]) % 7) {
      case 0: check_transport(value); break;
      case 1: check_range(value); break;
      case 2: {
        auto session = rtsp::parse_session(value);
        if (session && !rtsp::parse_session(rtsp::format_session(*session))) std::abort();
        auto info = rtsp::parse_rtp_info(value);
        if (info) static_cast<void>(rtsp::format_rtp_info(*info));
        break;
      }
      case 3: check_auth(value); break;
      case 4: {
        auto url = rtsp::parse_url(value);
        if (url) {
          static_cast<void>(rtsp::split_stream_path(url->path));
          static_cast<void>(rtsp::query_param(url->query, "token"));
          static_cast<void>(rtsp::format_authority(*url));
        }
        break;
      }
      case 5: check_base64(value); break;
      default:
        // Any parser on any line: the header a mutation lands in is not always the right one.
        check_transport(value);
        check_range(value);
        check_auth(value);
        break;
    }
  }
  return 0;
}
