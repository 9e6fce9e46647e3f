// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// RTSP messages (RFC 2326; RFC 7826 for 2.0) as text, with no I/O: Request and Response, their
/// serialization, the status table, and MessageReader, which cuts one TCP connection's bytes into
/// requests, responses and interleaved binary frames (RFC 2326 10.12), in any mix and pipelined.
///
/// ```
///  byte stream:  "OPTIONS rtsp://h/a/b RTSP/1.0\r\nCSeq: 1\r\n\r\n"   -> Item{request}
///                "$" ch(1) length(2, big-endian) payload(length)      -> Item{interleaved}
///                "RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 5\r\n\r\nhello" -> Item{response}
/// ```

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

namespace weir::formats::rtsp {

/// One header line, name as written (compare with iequals), value without surrounding spaces.
struct Header {
  std::string name;
  std::string value;
  friend bool operator==(const Header&, const Header&) = default;
};

/// The first header named `name` (ASCII case-insensitive), or null.
const std::string* find_header(const std::vector<Header>& headers, std::string_view name) noexcept;

/// A request: "METHOD uri RTSP/x.y", headers, body (Content-Length bytes).
struct Request {
  std::string method;  ///< as sent: methods are case-sensitive (RFC 2326 6.1)
  std::string uri;     ///< as sent: "rtsp://host/app/name", or "*" (OPTIONS)
  int version_major = 1;
  int version_minor = 0;
  std::vector<Header> headers;
  std::string body;

  /// The first header named `name` (case-insensitive), or null. Points into `headers`.
  const std::string* header(std::string_view name) const noexcept {
    return find_header(headers, name);
  }
  /// Appends a header (no check for an existing one).
  void add_header(std::string name, std::string value) {
    headers.push_back({std::move(name), std::move(value)});
  }
};

/// A response: "RTSP/x.y status reason", headers, body.
struct Response {
  int status = 200;
  std::string reason;  ///< empty: serialize() writes reason_phrase(status)
  int version_major = 1;
  int version_minor = 0;
  std::vector<Header> headers;
  std::string body;

  /// The first header named `name` (case-insensitive), or null. Points into `headers`.
  const std::string* header(std::string_view name) const noexcept {
    return find_header(headers, name);
  }
  /// Appends a header (no check for an existing one).
  void add_header(std::string name, std::string value) {
    headers.push_back({std::move(name), std::move(value)});
  }
};

/// The wire form: start line, headers in order, CRLF line ends, the body. A Content-Length header
/// is added from the body's size when the body is not empty and none is there.
std::string serialize(const Request& request);
/// As for a request; an empty reason is replaced by reason_phrase(status).
std::string serialize(const Response& response);

/// The reason phrase of a status code (RFC 2326 7.1.1, plus RFC 7826's additions): "OK",
/// "Session Not Found", "Unsupported Transport"...; "Unknown" for a code neither defines.
std::string_view reason_phrase(int status) noexcept;

/// The CSeq header as a number; nullopt when absent or not a 32-bit decimal number.
std::optional<std::uint32_t> cseq(const Request& request) noexcept;
/// The CSeq header of a response (a client matches it to its request).
std::optional<std::uint32_t> cseq(const Response& response) noexcept;

/// A response to `request` with `status`, its CSeq copied (RFC 2326 12.17: every response carries
/// the request's CSeq), the reason left to serialize(). The caller adds the rest (Session, ...).
Response reply_to(const Request& request, int status);

/// The 4-byte head of an interleaved frame: '$', channel, payload length (big-endian).
std::array<std::uint8_t, 4> interleaved_header(std::uint8_t channel, std::uint16_t length) noexcept;

/// Size limits of a MessageReader. Over one: Errc::limit, naming the limit.
struct MessageLimits {
  std::size_t max_header_bytes = 16 * 1024;  ///< start line + headers + the empty line
  std::size_t max_body_bytes = 64 * 1024;    ///< Content-Length
};

/// What MessageReader::next() found.
enum class ItemKind : std::uint8_t {
  need_more,    ///< nothing whole is left: feed more bytes
  request,      ///< Item::request holds it
  response,     ///< Item::response holds it
  interleaved,  ///< Item::channel and Item::payload hold it
};

/// One thing read from the stream. Only the member that `kind` names is filled.
struct Item {
  ItemKind kind = ItemKind::need_more;
  Request request;
  Response response;
  std::uint8_t channel = 0;               ///< interleaved channel (RTP even, RTCP odd by custom)
  std::span<const std::uint8_t> payload;  ///< valid until the next call to the reader
};

/// Reads one connection's byte stream: RTSP requests and responses (server and client side) and
/// interleaved frames, pipelined, cut anywhere. Accepts RTSP/1.0 and 2.0 (any single-digit
/// version: the caller answers 505 if it wants), CRLF or bare LF line ends, empty lines between
/// messages, bodies of Content-Length bytes.
///
/// Copies as little as it can: feed() borrows the caller's bytes, and whole messages and frames
/// are read straight out of them; only a message cut by the end of what was fed is copied, and
/// the next feed() tops that copy up with just the bytes it still needs.
///
/// Thread: one owner. Errors are sticky: after one, next() returns it again.
class MessageReader {
 public:
  explicit MessageReader(MessageLimits limits = {}) noexcept : limits_(limits) {}

  /// Adds bytes. They are borrowed: keep them alive and unchanged until next() returns need_more
  /// or an error (what is left of them then has been copied).
  void feed(std::span<const std::uint8_t> bytes);

  /// The next whole item, or ItemKind::need_more. Errors: Errc::malformed for a bad start line
  /// (not "METHOD uri RTSP/d.d" nor "RTSP/d.d ddd reason"), a header line without ':', a bad or
  /// conflicting Content-Length, each with its stream offset; Errc::limit for a header block over
  /// max_header_bytes or a Content-Length over max_body_bytes.
  Result<Item> next();

  /// Bytes taken out of the stream so far (items returned), for error offsets and statistics.
  std::uint64_t consumed_bytes() const noexcept { return consumed_; }
  /// Bytes fed but not yet returned as items (held or borrowed).
  std::size_t buffered_bytes() const noexcept {
    return buffer_.size() - buffer_start_ + input_.size();
  }

 private:
  struct Parsed;
  Result<Parsed> parse(std::span<const std::uint8_t> bytes, Item& item);
  void compact();

  MessageLimits limits_;
  std::vector<std::uint8_t> buffer_;  // held bytes of an incomplete message (or of an earlier feed)
  std::size_t buffer_start_ = 0;      // first unread byte of buffer_
  std::span<const std::uint8_t> input_;  // the borrowed bytes of the last feed not yet read
  std::uint64_t consumed_ = 0;
  Status error_;
};

}  // namespace weir::formats::rtsp
