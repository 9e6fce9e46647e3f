// SPDX-License-Identifier: Apache-2.0
#include "rtsp_messages.h"

#include <charconv>

#include "latency_stamp.h"

namespace weir::bench {
namespace {

constexpr std::string_view kCrlf = "\r\n";

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

template <typename T>
bool to_number(std::string_view s, T& out) noexcept {
  s = trim(s);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// "a-b" -> a, b (b = -1 when absent)
void parse_pair(std::string_view s, int& a, int& b) noexcept {
  auto dash = s.find('-');
  int x = -1, y = -1;
  if (!to_number(s.substr(0, dash), x)) return;
  if (dash != std::string_view::npos && !to_number(s.substr(dash + 1), y)) y = -1;
  a = x;
  b = y;
}

}  // namespace

std::string_view RtspResponse::header(std::string_view name) const noexcept {
  std::string_view rest = head;
  while (!rest.empty()) {
    auto end = rest.find(kCrlf);
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 2);
    auto colon = line.find(':');
    if (colon != std::string_view::npos && iequals(trim(line.substr(0, colon)), name)) return trim(line.substr(colon + 1));
  }
  return {};
}

Result<std::optional<RtspResponse>> parse_rtsp_response(std::string_view text) {
  auto head_end = text.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    // Far more than any response a player gets: a peer that sends no blank line is broken.
    if (text.size() > 16 * 1024) return error(Errc::malformed, "rtsp: no end of headers in the first {} bytes", text.size());
    return std::optional<RtspResponse>{};
  }
  RtspResponse out;
  auto line_end = text.find(kCrlf);
  std::string_view status_line = text.substr(0, line_end);
  out.head = line_end < head_end ? text.substr(line_end + 2, head_end - line_end - 2) : std::string_view{};
  if (status_line.substr(0, 5) == "RTSP/") {
    auto space = status_line.find(' ');
    if (space == std::string_view::npos || space + 4 > status_line.size() ||
        !to_number(status_line.substr(space + 1, 3), out.status))
      return error(Errc::malformed, "rtsp: bad status line '{}'", status_line);
    out.reason = trim(status_line.substr(std::min(status_line.size(), space + 5)));
  } else if (status_line.find(" RTSP/") == std::string_view::npos) {
    return error(Errc::malformed, "rtsp: neither a response nor a request at byte 0: '{}'",
                 status_line.substr(0, 40));
  }
  std::size_t body_length = 0;
  if (std::string_view length = out.header("Content-Length"); !length.empty() && !to_number(length, body_length))
    return error(Errc::malformed, "rtsp: bad Content-Length '{}'", length);
  if (body_length > 1024 * 1024) return error(Errc::limit, "rtsp: Content-Length {} too large", body_length);
  const std::size_t body_at = head_end + 4;
  if (text.size() - body_at < body_length) return std::optional<RtspResponse>{};
  out.body = text.substr(body_at, body_length);
  out.length = body_at + body_length;
  return std::optional<RtspResponse>{out};
}

void append_rtsp_request(std::string& out, std::string_view method, std::string_view url, std::uint32_t cseq,
                         std::string_view headers) {
  out.append(method).append(" ").append(url).append(" RTSP/1.0\r\nCSeq: ").append(std::to_string(cseq));
  out.append("\r\nUser-Agent: weir_load\r\n").append(headers).append(kCrlf);
}

Result<Sdp> parse_sdp(std::string_view text) {
  Sdp sdp;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    auto end = text.find('\n');
    std::string_view line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (line.size() < 2 || line[1] != '=') continue;
    std::string_view value = line.substr(2);
    if (line[0] == 'm') {
      // m=<media> <port> <proto> <fmt> ...
      SdpMedia media;
      auto space = value.find(' ');
      media.type = value.substr(0, space);
      std::string_view rest = space == std::string_view::npos ? std::string_view{} : value.substr(space + 1);
      for (int field = 0; field < 2 && !rest.empty(); ++field) {
        space = rest.find(' ');
        rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
      }
      if (!to_number(rest.substr(0, rest.find(' ')), media.payload_type))
        return error(Errc::malformed, "sdp line {}: no payload type in 'm={}'", line_number, value);
      sdp.media.push_back(std::move(media));
    } else if (line[0] == 'a') {
      if (value.substr(0, 8) == "control:") {
        (sdp.media.empty() ? sdp.control : sdp.media.back().control) = trim(value.substr(8));
      } else if (value.substr(0, 7) == "rtpmap:" && !sdp.media.empty()) {
        // a=rtpmap:<pt> <encoding>/<clock>[/<channels>]
        std::string_view map = value.substr(7);
        auto space = map.find(' ');
        int pt = -1;
        if (space == std::string_view::npos || !to_number(map.substr(0, space), pt) ||
            pt != sdp.media.back().payload_type)
          continue;
        std::string_view encoding = map.substr(space + 1);
        auto slash = encoding.find('/');
        sdp.media.back().encoding = encoding.substr(0, slash);
        if (slash != std::string_view::npos) {
          std::string_view clock = encoding.substr(slash + 1);
          (void)to_number(clock.substr(0, clock.find('/')), sdp.media.back().clock_rate);
        }
      }
    }
  }
  if (sdp.media.empty()) return error(Errc::malformed, "sdp: no media (m=) line");
  return sdp;
}

std::string resolve_control(std::string_view base, std::string_view control) {
  if (control.empty() || control == "*") return std::string(base);
  if (control.size() >= 7 && iequals(control.substr(0, 7), "rtsp://")) return std::string(control);
  std::string out(base);
  if (!out.empty() && out.back() != '/') out += '/';
  if (control.front() == '/') control.remove_prefix(1);
  return out.append(control);
}

TransportReply parse_transport(std::string_view value) {
  TransportReply out;
  // Only the first transport spec (before a comma) is the server's choice.
  value = value.substr(0, value.find(','));
  while (!value.empty()) {
    auto semi = value.find(';');
    std::string_view part = trim(value.substr(0, semi));
    value = semi == std::string_view::npos ? std::string_view{} : value.substr(semi + 1);
    int unused = -1;
    if (part.substr(0, 12) == "interleaved=") parse_pair(part.substr(12), out.interleaved_rtp, unused);
    else if (part.substr(0, 12) == "server_port=") parse_pair(part.substr(12), out.server_rtp_port, out.server_rtcp_port);
  }
  return out;
}

SessionHeader parse_session(std::string_view value) {
  SessionHeader out;
  auto semi = value.find(';');
  out.id = trim(value.substr(0, semi));
  if (semi != std::string_view::npos) {
    std::string_view rest = trim(value.substr(semi + 1));
    if (rest.substr(0, 8) == "timeout=") {
      rest = rest.substr(8);
      (void)to_number(rest.substr(0, rest.find(';')), out.timeout_s);
    }
  }
  return out;
}

std::optional<RtpHeader> parse_rtp_header(std::span<const std::uint8_t> p) noexcept {
  if (p.size() < 12 || (p[0] >> 6) != 2) return std::nullopt;
  RtpHeader h;
  h.marker = (p[1] & 0x80) != 0;
  h.payload_type = p[1] & 0x7F;
  h.sequence = static_cast<std::uint16_t>(p[2] << 8 | p[3]);
  h.timestamp = static_cast<std::uint32_t>(p[4]) << 24 | static_cast<std::uint32_t>(p[5]) << 16 |
                static_cast<std::uint32_t>(p[6]) << 8 | p[7];
  h.ssrc = static_cast<std::uint32_t>(p[8]) << 24 | static_cast<std::uint32_t>(p[9]) << 16 |
           static_cast<std::uint32_t>(p[10]) << 8 | p[11];
  std::size_t offset = 12 + 4 * static_cast<std::size_t>(p[0] & 0x0F);
  if (p[0] & 0x10) {  // header extension: profile:2, length in 32-bit words:2
    if (p.size() < offset + 4) return std::nullopt;
    offset += 4 + 4 * static_cast<std::size_t>(p[offset + 2] << 8 | p[offset + 3]);
  }
  if (offset > p.size()) return std::nullopt;
  h.payload_offset = offset;
  return h;
}

namespace {
constexpr std::uint8_t kNalIdr = 5;
constexpr std::uint8_t kNalSei = 6;
constexpr std::uint8_t kStapA = 24;
constexpr std::uint8_t kFuA = 28;

// Calls `each(nal)` for every NAL unit of a STAP-A that lies wholly within `payload`, stopping when it returns true.
template <typename F>
bool for_each_aggregated(std::span<const std::uint8_t> payload, F each) noexcept {
  std::size_t at = 1;
  while (at + 2 <= payload.size()) {
    std::size_t size = static_cast<std::size_t>(payload[at] << 8 | payload[at + 1]);
    at += 2;
    // a zero size, or a NAL that begins past what we have (the caller may pass a packet's first bytes only)
    if (size == 0 || at >= payload.size()) return false;
    if (each(payload.subspan(at, std::min(size, payload.size() - at)))) return true;
    at += size;
  }
  return false;
}
}  // namespace

bool h264_starts_idr(std::span<const std::uint8_t> payload) noexcept {
  if (payload.empty()) return false;
  const std::uint8_t type = payload[0] & 0x1F;
  if (type == kNalIdr) return true;
  if (type == kFuA) return payload.size() >= 2 && (payload[1] & 0x80) && (payload[1] & 0x1F) == kNalIdr;
  if (type == kStapA)
    return for_each_aggregated(payload, [](std::span<const std::uint8_t> nal) { return (nal[0] & 0x1F) == kNalIdr; });
  return false;
}

std::optional<std::uint64_t> h264_find_stamp(std::span<const std::uint8_t> payload) noexcept {
  if (payload.empty()) return std::nullopt;
  const std::uint8_t type = payload[0] & 0x1F;
  if (type == kNalSei) return read_stamp_nal(payload);
  std::optional<std::uint64_t> found;
  if (type == kStapA)
    for_each_aggregated(payload, [&found](std::span<const std::uint8_t> nal) {
      if ((nal[0] & 0x1F) == kNalSei) found = read_stamp_nal(nal);
      return found.has_value();
    });
  return found;
}

void SequenceTracker::on_packet(std::uint16_t sequence) noexcept {
  if (received_++ == 0) {
    base_ = max_ = sequence;
    return;
  }
  const auto ahead = static_cast<std::uint16_t>(sequence - max_);
  if (ahead == 0 || ahead >= 0x8000) return;  // a duplicate or a late (reordered) packet
  if (sequence < max_) cycles_ += 65536;
  max_ = sequence;
}

std::int64_t TimestampExtender::extend(std::uint32_t timestamp) noexcept {
  if (!started_) {
    started_ = true;
    last_ = timestamp;
    extended_ = timestamp;
    return extended_;
  }
  extended_ += static_cast<std::int32_t>(timestamp - last_);
  last_ = timestamp;
  return extended_;
}

}  // namespace weir::bench
