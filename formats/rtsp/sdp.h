// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// SDP (RFC 8866, which replaces RFC 4566) as RTSP uses it: what DESCRIBE answers and ANNOUNCE
/// carries. parse_sdp() reads one into a SessionDescription, write_sdp() writes one back, so the
/// same struct serves the server (fill in, write) and the ingest and pull sides (parse, read).
///
/// ```
///  v=0                                    version
///  o=- 0 0 IN IP4 127.0.0.1               origin
///  s=No Name                              name
///  c=IN IP4 0.0.0.0                       connection (session or media level)
///  t=0 0                                  timing
///  a=control:*   a=range:npt=now-         session attributes (control, range, others)
///  m=video 0 RTP/AVP 96                   media: type port proto formats
///  b=AS:500                               bandwidth
///  a=rtpmap:96 H264/90000                 per payload type: encoding/clock[/channels]
///  a=fmtp:96 packetization-mode=1;...     per payload type: parameters
///  a=control:trackID=0                    the track's URL, relative to the base
/// ```

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

namespace weir::formats::rtsp {

/// An attribute line "a=name[:value]" that has no field of its own; kept in order.
struct SdpAttribute {
  std::string name;
  std::string value;       ///< empty for a flag ("a=recvonly")
  bool has_value = false;  ///< "a=name:" (even with an empty value) rather than "a=name"
  friend bool operator==(const SdpAttribute&, const SdpAttribute&) = default;
};

/// "c=IN IP4 224.2.1.1/127": network and address types and the address (with any /ttl kept).
struct SdpConnection {
  std::string net_type = "IN";
  std::string address_type = "IP4";
  std::string address = "0.0.0.0";
  friend bool operator==(const SdpConnection&, const SdpConnection&) = default;
};

/// "b=AS:500": bandwidth type and value (kbit/s for AS and CT).
struct SdpBandwidth {
  std::string type;
  std::uint32_t value = 0;
  friend bool operator==(const SdpBandwidth&, const SdpBandwidth&) = default;
};

/// "o=username session-id version nettype addrtype address".
struct SdpOrigin {
  std::string username = "-";
  std::string session_id = "0";
  std::string session_version = "0";
  std::string net_type = "IN";
  std::string address_type = "IP4";
  std::string address = "127.0.0.1";
  friend bool operator==(const SdpOrigin&, const SdpOrigin&) = default;
};

/// "a=rtpmap:96 H264/90000", "a=rtpmap:97 MPEG4-GENERIC/48000/2".
struct RtpMap {
  int payload_type = 0;
  std::string encoding;  ///< as written; compare with iequals ("H264", "mpeg4-generic")
  std::uint32_t clock_rate = 0;
  int channels = 0;  ///< 0 when not given (one channel for audio, by RFC 8866)
  friend bool operator==(const RtpMap&, const RtpMap&) = default;
};

/// "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=..." cut into parameters. A parameter
/// without '=' has an empty value.
struct Fmtp {
  int payload_type = 0;
  struct Parameter {
    std::string name;
    std::string value;
    friend bool operator==(const Parameter&, const Parameter&) = default;
  };
  std::vector<Parameter> parameters;

  /// The first parameter named `name` (case-insensitive, RFC 6184/3640 names are), or null.
  const std::string* parameter(std::string_view name) const noexcept;
  /// Sets (replacing) a parameter.
  void set(std::string_view name, std::string value);
  friend bool operator==(const Fmtp&, const Fmtp&) = default;
};

/// One m= section.
struct SdpMedia {
  std::string type;              ///< "video", "audio", "application"...
  std::uint16_t port = 0;        ///< 0 in RTSP (the port is negotiated by SETUP)
  std::uint16_t port_count = 0;  ///< "/2" after the port; 0 when not given
  std::string protocol = "RTP/AVP";
  std::vector<std::string> formats;  ///< payload types as text ("96")
  std::string title;                 ///< i=
  std::optional<SdpConnection> connection;
  std::vector<SdpBandwidth> bandwidths;
  std::vector<RtpMap> rtpmaps;
  std::vector<Fmtp> fmtps;
  std::string control;                   ///< a=control, empty when absent
  std::vector<SdpAttribute> attributes;  ///< every other a= line, in order

  /// The rtpmap of a payload type, or null.
  const RtpMap* rtpmap(int payload_type) const noexcept;
  /// The fmtp of a payload type, or null.
  const Fmtp* fmtp(int payload_type) const noexcept;
  /// The first payload type of the m= line as a number; -1 when none or not a number.
  int first_payload_type() const noexcept;
  /// The value of the first other attribute named `name`, or null.
  const std::string* attribute(std::string_view name) const noexcept;
  friend bool operator==(const SdpMedia&, const SdpMedia&) = default;
};

/// A whole session description.
struct SessionDescription {
  int version = 0;
  SdpOrigin origin;
  std::string name = "-";  ///< s= (RFC 8866: "-" when there is none)
  std::string info;        ///< i=
  std::string uri;         ///< u=
  std::optional<SdpConnection> connection;
  std::vector<SdpBandwidth> bandwidths;
  std::vector<std::string> timings = {"0 0"};  ///< t= lines
  std::string control;                         ///< session a=control ("*" or the aggregate URL)
  std::string range;                           ///< session a=range value ("npt=now-"); see range.h
  std::vector<SdpAttribute> attributes;        ///< every other session a= line, in order
  struct Line {
    char type = 0;
    std::string value;
    friend bool operator==(const Line&, const Line&) = default;
  };
  std::vector<Line> other_lines;  ///< session lines we do not read (e=, p=, r=, z=, k=), in order
  std::vector<SdpMedia> media;
  friend bool operator==(const SessionDescription&, const SessionDescription&) = default;
};

/// Size limits of parse_sdp().
struct SdpLimits {
  std::size_t max_bytes = 64 * 1024;
  std::size_t max_media = 64;
};

/// Parses SDP text. Lenient where encoders are sloppy: CRLF or LF, blank lines, spaces around
/// values, fields in an unusual order, "; " between fmtp parameters, a missing s= or t=, an
/// rtpmap without a clock rate. Errors: Errc::malformed naming the line number for a line that
/// is not "x=...", a missing or not-0 v=, a bad m= port or payload type, an rtpmap or fmtp with
/// a bad payload type, a bad b= number; Errc::limit over max_bytes or max_media.
Result<SessionDescription> parse_sdp(std::string_view text, SdpLimits limits = {});

/// Writes the description with CRLF line ends, in RFC 8866 order: v o s i u c b t (other lines)
/// a=control a=range (attributes), then each m= with i c b a=rtpmap a=fmtp (in format order)
/// a=control (attributes).
std::string write_sdp(const SessionDescription& description);

}  // namespace weir::formats::rtsp
