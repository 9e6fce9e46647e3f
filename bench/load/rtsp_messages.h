// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The RTSP player's wire pieces, I/O-free so that they can be tested alone: RTSP/1.0 responses
/// (RFC 2326 §7), the SDP a DESCRIBE answers (RFC 4566, only what a player needs: each media's
/// type, payload type, clock rate and control URL), the Transport header (RFC 2326 §12.39), RTP
/// headers (RFC 3550 §5.1), and the H.264 packets (RFC 6184 §5.6-5.8) that begin a key frame or
/// carry the benchmark's send-time stamp.
///
/// ```
///  response:  RTSP/1.0 200 OK\r\n  Header: value\r\n ... \r\n  [Content-Length bytes of body]
///  interleaved frame (RFC 2326 §10.12):  '$' channel:1 length:2 (big endian)  RTP or RTCP packet
/// ```

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

namespace weir::bench {

/// One parsed response; views into the text it was parsed from.
struct RtspResponse {
  int status = 0;
  std::string_view reason;
  std::string_view head;  ///< the header lines, status line excluded
  std::string_view body;
  std::size_t length = 0;  ///< bytes of the whole message (head, blank line, body)

  /// The value of header `name` (case-insensitive, surrounding blanks trimmed); empty when absent.
  std::string_view header(std::string_view name) const noexcept;
};

/// A whole response at the start of `text`, nullopt while it is incomplete; Errc::malformed names
/// what is wrong (a message that is not a response, a bad status line or Content-Length). A
/// request from the server (first line not "RTSP/") parses too, with status 0.
Result<std::optional<RtspResponse>> parse_rtsp_response(std::string_view text);

/// Appends `METHOD url RTSP/1.0`, CSeq, User-Agent, `headers` (whole lines with their CRLFs) and
/// the blank line.
void append_rtsp_request(std::string& out, std::string_view method, std::string_view url, std::uint32_t cseq,
                         std::string_view headers = {});

/// One media section of an SDP.
struct SdpMedia {
  std::string type;     ///< "video", "audio", ...
  int payload_type = -1;
  std::string encoding;  ///< from a=rtpmap: "H264", "MPEG4-GENERIC", ...
  std::uint32_t clock_rate = 0;
  std::string control;  ///< a=control as written (may be relative)
};

struct Sdp {
  std::string control;  ///< session-level a=control, if any
  std::vector<SdpMedia> media;
};

/// Errc::malformed when there is no m= line or one is unreadable.
Result<Sdp> parse_sdp(std::string_view text);

/// The URL of `control` relative to `base` (RFC 2326 §C.1.1): itself when absolute (rtsp://...),
/// `base` when empty or "*", else base + "/" + control (no doubled slash).
std::string resolve_control(std::string_view base, std::string_view control);

/// What a SETUP response's Transport header says (only the parts a player uses).
struct TransportReply {
  int interleaved_rtp = -1;  ///< interleaved=a-b: a, or -1
  int server_rtp_port = -1;  ///< server_port=c-d: c, or -1
  int server_rtcp_port = -1;
};
TransportReply parse_transport(std::string_view value);

/// The session id of a Session header (before ";timeout=") and its timeout in seconds (0 when absent).
struct SessionHeader {
  std::string_view id;
  std::uint32_t timeout_s = 0;
};
SessionHeader parse_session(std::string_view value);

/// The fixed RTP header; nullopt unless version 2 and the header (CSRCs, extension) fits in `packet`.
struct RtpHeader {
  std::uint8_t payload_type = 0;
  bool marker = false;
  std::uint16_t sequence = 0;
  std::uint32_t timestamp = 0;
  std::uint32_t ssrc = 0;
  std::size_t payload_offset = 0;
};
std::optional<RtpHeader> parse_rtp_header(std::span<const std::uint8_t> packet) noexcept;

/// Whether an H.264 RTP payload begins an IDR picture: a single IDR NAL unit (type 5), an FU-A
/// (28) with its start bit over an IDR, or a STAP-A (24) holding one (looked at as far as `payload`
/// goes: the caller may pass only the packet's first bytes).
bool h264_starts_idr(std::span<const std::uint8_t> payload) noexcept;

/// The send time of the benchmark's stamp (latency_stamp.h) in an H.264 RTP payload: a single SEI
/// NAL unit packet, or any NAL of a STAP-A within `payload`; nullopt when there is none.
std::optional<std::uint64_t> h264_find_stamp(std::span<const std::uint8_t> payload) noexcept;

/// RFC 3550 §A.1's sequence bookkeeping, simplified: highest sequence number seen (with 16-bit wrap
/// counted) and packets received, so expected − received = lost (reordered packets count once).
class SequenceTracker {
 public:
  void on_packet(std::uint16_t sequence) noexcept;
  std::uint64_t received() const noexcept { return received_; }
  /// Packets the highest sequence number says were sent since the first one received.
  std::uint64_t expected() const noexcept { return received_ == 0 ? 0 : cycles_ + max_ - base_ + 1; }

 private:
  std::uint64_t received_ = 0;
  std::uint64_t cycles_ = 0;
  std::uint16_t base_ = 0;
  std::uint16_t max_ = 0;
};

/// Extends 32-bit RTP timestamps to 64 bits across wraps (and small steps back).
class TimestampExtender {
 public:
  /// The extended value of `timestamp`; the first one is taken as is.
  std::int64_t extend(std::uint32_t timestamp) noexcept;
  bool started() const noexcept { return started_; }

 private:
  bool started_ = false;
  std::uint32_t last_ = 0;
  std::int64_t extended_ = 0;
};

}  // namespace weir::bench
