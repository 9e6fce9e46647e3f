// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/message.h"

#include <algorithm>
#include <cstring>

#include "formats/rtsp/text_util.h"

namespace weir::formats::rtsp {

using detail::iequals;
using detail::trim;

const std::string* find_header(const std::vector<Header>& headers, std::string_view name) noexcept {
  for (const Header& header : headers)
    if (iequals(header.name, name)) return &header.value;
  return nullptr;
}

namespace {

void append_headers(std::string& out, const std::vector<Header>& headers, const std::string& body) {
  for (const Header& header : headers) {
    out += header.name;
    out += ": ";
    out += header.value;
    out += "\r\n";
  }
  if (!body.empty() && find_header(headers, "Content-Length") == nullptr) {
    out += "Content-Length: ";
    out += std::to_string(body.size());
    out += "\r\n";
  }
  out += "\r\n";
  out += body;
}

std::string version_text(int major, int minor) {
  return "RTSP/" + std::to_string(major) + "." + std::to_string(minor);
}

std::optional<std::uint32_t> cseq_of(const std::string* value) noexcept {
  if (value == nullptr) return std::nullopt;
  auto number = detail::parse_decimal(trim(*value), UINT32_MAX);
  if (!number) return std::nullopt;
  return static_cast<std::uint32_t>(*number);
}

bool is_token_char(char ch) noexcept {
  // RFC 2326 15.1 token: any CHAR but CTLs and tspecials.
  if (ch <= 32 || ch >= 127) return false;
  return std::strchr("()<>@,;:\\\"/[]?={}", ch) == nullptr;
}

// "RTSP/d.d" -> major, minor.
bool parse_version(std::string_view text, int& major, int& minor) noexcept {
  if (text.size() != 8 || text.substr(0, 5) != "RTSP/" || text[6] != '.') return false;
  if (text[5] < '0' || text[5] > '9' || text[7] < '0' || text[7] > '9') return false;
  major = text[5] - '0';
  minor = text[7] - '0';
  return true;
}

}  // namespace

std::string serialize(const Request& request) {
  std::string out;
  out.reserve(64 + request.uri.size() + request.headers.size() * 32 + request.body.size());
  out += request.method;
  out += ' ';
  out += request.uri;
  out += ' ';
  out += version_text(request.version_major, request.version_minor);
  out += "\r\n";
  append_headers(out, request.headers, request.body);
  return out;
}

std::string serialize(const Response& response) {
  std::string out;
  out.reserve(64 + response.headers.size() * 32 + response.body.size());
  out += version_text(response.version_major, response.version_minor);
  out += ' ';
  out += std::to_string(response.status);
  out += ' ';
  if (response.reason.empty())
    out += reason_phrase(response.status);
  else
    out += response.reason;
  out += "\r\n";
  append_headers(out, response.headers, response.body);
  return out;
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 250: return "Low on Storage Space";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Moved Temporarily";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Long";
    case 415: return "Unsupported Media Type";
    case 451: return "Parameter Not Understood";
    case 452: return "Conference Not Found";
    case 453: return "Not Enough Bandwidth";
    case 454: return "Session Not Found";
    case 455: return "Method Not Valid in This State";
    case 456: return "Header Field Not Valid for Resource";
    case 457: return "Invalid Range";
    case 458: return "Parameter Is Read-Only";
    case 459: return "Aggregate Operation Not Allowed";
    case 460: return "Only Aggregate Operation Allowed";
    case 461: return "Unsupported Transport";
    case 462: return "Destination Unreachable";
    case 463: return "Destination Prohibited";
    case 464: return "Data Transport Not Ready Yet";
    case 465: return "Notification Reason Unknown";
    case 466: return "Key Management Error";
    case 470: return "Connection Authorization Required";
    case 471: return "Connection Credentials Not Accepted";
    case 472: return "Failure to Establish Secure Connection";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "RTSP Version Not Supported";
    case 551: return "Option Not Supported";
    case 553: return "Proxy Unavailable";
    default: return "Unknown";
  }
}

std::optional<std::uint32_t> cseq(const Request& request) noexcept {
  return cseq_of(request.header("CSeq"));
}

std::optional<std::uint32_t> cseq(const Response& response) noexcept {
  return cseq_of(response.header("CSeq"));
}

Response reply_to(const Request& request, int status) {
  Response response;
  response.status = status;
  response.version_major = request.version_major;
  response.version_minor = request.version_minor;
  if (const std::string* value = request.header("CSeq")) response.add_header("CSeq", *value);
  return response;
}

std::array<std::uint8_t, 4> interleaved_header(std::uint8_t channel,
                                               std::uint16_t length) noexcept {
  return {'$', channel, static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)};
}

// What parse() made of the bytes it was given.
//   complete:   `used` bytes make the item (blank lines before it included)
//   incomplete: `used` leading blank lines may be dropped; `need` more bytes are required at
//               least (exact for a frame or a body; 0 while the header block has not ended)
struct MessageReader::Parsed {
  std::size_t used = 0;
  std::size_t need = 0;
  bool is_complete = false;
};

Result<MessageReader::Parsed> MessageReader::parse(std::span<const std::uint8_t> bytes,
                                                   Item& item) {
  const std::size_t n = bytes.size();
  std::size_t at = 0;
  // RFC 7230 3.5, which RTSP servers follow too: empty lines before a message are ignored
  // (clients send an extra CRLF after a body, or keepalive newlines).
  while (at < n && (bytes[at] == '\r' || bytes[at] == '\n')) ++at;
  if (at == n) return Parsed{at, 0, false};
  const std::uint64_t start = consumed_ + at;

  if (bytes[at] == '$') {
    if (n - at < 4) return Parsed{at, 4 - (n - at), false};
    const std::size_t length = static_cast<std::size_t>(bytes[at + 2]) << 8 | bytes[at + 3];
    if (n - at < 4 + length) return Parsed{at, 4 + length - (n - at), false};
    item.kind = ItemKind::interleaved;
    item.channel = bytes[at + 1];
    item.payload = bytes.subspan(at + 4, length);
    return Parsed{at + 4 + length, 0, true};
  }

  // Fail fast on bytes that cannot start a message rather than waiting for a whole header block.
  if (!is_token_char(static_cast<char>(bytes[at])))
    return error(Errc::malformed,
                 "rtsp: byte {} at stream offset {} starts neither a message nor an "
                 "interleaved frame",
                 bytes[at], start);

  // The header block ends at an empty line: "\n\n" or "\n\r\n".
  std::size_t end = 0;
  for (std::size_t p = at; p < n; ++p) {
    const void* hit = std::memchr(bytes.data() + p, '\n', n - p);
    if (hit == nullptr) break;
    p = static_cast<std::size_t>(static_cast<const std::uint8_t*>(hit) - bytes.data());
    if (p + 1 < n && bytes[p + 1] == '\n') {
      end = p + 2;
      break;
    }
    if (p + 2 < n && bytes[p + 1] == '\r' && bytes[p + 2] == '\n') {
      end = p + 3;
      break;
    }
  }
  if (end == 0) {
    if (n - at > limits_.max_header_bytes)
      return error(Errc::limit, "rtsp: header block at stream offset {} over max_header_bytes ({})",
                   start, limits_.max_header_bytes);
    return Parsed{at, 0, false};
  }
  if (end - at > limits_.max_header_bytes)
    return error(Errc::limit,
                 "rtsp: header block of {} bytes at stream offset {} over max_header_bytes ({})",
                 end - at, start, limits_.max_header_bytes);

  const std::string_view block(reinterpret_cast<const char*>(bytes.data()) + at, end - at);
  std::string_view rest = block;
  std::string_view line = trim(detail::take_until(rest, '\n'));
  std::vector<Header>* headers = nullptr;
  if (line.substr(0, 5) == "RTSP/") {
    // "RTSP/1.0 200 OK"; a missing reason is tolerated.
    Response& response = item.response;
    std::string_view fields = line;
    const std::string_view version = detail::take_until(fields, ' ');
    const std::string_view code = detail::take_until(fields, ' ');
    auto status = detail::parse_decimal(code, 999);
    if (!parse_version(version, response.version_major, response.version_minor) || !status ||
        code.size() != 3 || *status < 100)
      return error(Errc::malformed, "rtsp: bad status line \"{}\" at stream offset {}",
                   line.substr(0, 80), start);
    response.status = static_cast<int>(*status);
    response.reason = std::string(trim(fields));
    item.kind = ItemKind::response;
    headers = &response.headers;
  } else {
    Request& request = item.request;
    std::string_view fields = line;
    const std::string_view method = detail::take_until(fields, ' ');
    const std::string_view uri = detail::take_until(fields, ' ');
    const std::string_view version = fields;
    const bool is_method_token =
        !method.empty() && std::all_of(method.begin(), method.end(), is_token_char);
    if (!is_method_token || uri.empty() ||
        !parse_version(version, request.version_major, request.version_minor))
      return error(Errc::malformed, "rtsp: bad request line \"{}\" at stream offset {}",
                   line.substr(0, 80), start);
    request.method = std::string(method);
    request.uri = std::string(uri);
    item.kind = ItemKind::request;
    headers = &item.request.headers;
  }

  std::optional<std::uint64_t> content_length;
  while (!rest.empty()) {
    const std::size_t line_at = static_cast<std::size_t>(rest.data() - block.data());
    std::string_view raw = detail::take_until(rest, '\n');
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    if (raw.empty()) break;  // the empty line ending the block
    if (detail::is_space(raw.front())) {
      // Obsolete line folding: the line continues the previous value.
      if (headers->empty())
        return error(Errc::malformed,
                     "rtsp: continuation line before any header at stream offset {}",
                     start + line_at);
      const std::string_view more = trim(raw);
      if (!more.empty()) {
        if (!headers->back().value.empty()) headers->back().value += ' ';
        headers->back().value += more;
      }
      continue;
    }
    const std::size_t colon = raw.find(':');
    const std::string_view name = trim(raw.substr(0, colon));
    if (colon == std::string_view::npos || name.empty())
      return error(Errc::malformed,
                   "rtsp: header line \"{}\" without a name and ':' at stream offset {}",
                   raw.substr(0, 80), start + line_at);
    const std::string_view value = trim(raw.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      auto length = detail::parse_decimal(value);
      if (!length || (content_length && *content_length != *length))
        return error(Errc::malformed,
                     "rtsp: bad or conflicting Content-Length \"{}\" at stream offset {}",
                     value.substr(0, 40), start + line_at);
      if (*length > limits_.max_body_bytes)
        return error(Errc::limit,
                     "rtsp: Content-Length {} at stream offset {} over max_body_bytes ({})",
                     *length, start + line_at, limits_.max_body_bytes);
      content_length = length;
    }
    headers->push_back({std::string(name), std::string(value)});
  }

  const std::size_t body_bytes = content_length ? static_cast<std::size_t>(*content_length) : 0;
  if (n - end < body_bytes) {
    item = Item{};
    return Parsed{at, body_bytes - (n - end), false};
  }
  std::string& body = item.kind == ItemKind::request ? item.request.body : item.response.body;
  body.assign(reinterpret_cast<const char*>(bytes.data()) + end, body_bytes);
  return Parsed{end + body_bytes, 0, true};
}

void MessageReader::compact() {
  if (buffer_start_ == 0) return;
  if (buffer_start_ >= buffer_.size()) {
    buffer_.clear();
  } else {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(buffer_start_));
  }
  buffer_start_ = 0;
}

void MessageReader::feed(std::span<const std::uint8_t> bytes) {
  compact();
  if (!input_.empty()) {
    // Fed again before next() ran dry: keep the order by holding the older bytes.
    buffer_.insert(buffer_.end(), input_.begin(), input_.end());
  }
  input_ = bytes;
}

Result<Item> MessageReader::next() {
  if (!error_.is_ok()) return error_;
  compact();
  Item item;
  // Held bytes first: a message cut by the end of an earlier feed. Top it up from the borrowed
  // input with only what it needs (the exact rest of a frame or body; header lines one by one),
  // so that what follows it is read in place again.
  while (buffer_start_ < buffer_.size()) {
    Result<Parsed> parsed = parse(std::span(buffer_).subspan(buffer_start_), item);
    if (!parsed) {
      error_ = std::move(parsed).error();
      return error_;
    }
    buffer_start_ += parsed->used;
    consumed_ += parsed->used;
    if (parsed->is_complete) return item;
    item = Item{};
    if (input_.empty()) return item;
    std::size_t take = input_.size();
    if (parsed->need != 0) {
      take = std::min(take, parsed->need);
    } else {
      const void* newline = std::memchr(input_.data(), '\n', input_.size());
      if (newline != nullptr)
        take =
            static_cast<std::size_t>(static_cast<const std::uint8_t*>(newline) - input_.data()) + 1;
      // Never hold more than one byte over the limit: enough for parse() to report it.
      const std::size_t held = buffer_.size() - buffer_start_;
      if (held <= limits_.max_header_bytes)
        take = std::min(take, limits_.max_header_bytes + 1 - held);
    }
    buffer_.insert(buffer_.end(), input_.begin(),
                   input_.begin() + static_cast<std::ptrdiff_t>(take));
    input_ = input_.subspan(take);
  }
  compact();
  if (input_.empty()) return item;
  Result<Parsed> parsed = parse(input_, item);
  if (!parsed) {
    error_ = std::move(parsed).error();
    return error_;
  }
  input_ = input_.subspan(parsed->used);
  consumed_ += parsed->used;
  if (parsed->is_complete) return item;
  // The rest is the start of one message: hold it, the caller may reuse its buffer now.
  buffer_.assign(input_.begin(), input_.end());
  input_ = {};
  return Item{};
}

}  // namespace weir::formats::rtsp
