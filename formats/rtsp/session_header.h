// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The Session header (RFC 2326 12.37: "Session: 3NHugLOV1sD0dE.p;timeout=60") and the RTP-Info
/// header of a PLAY reply (12.33: "url=rtsp://h/a/b/trackID=0;seq=14535;rtptime=1917037516, ...").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

namespace weir::formats::rtsp {

/// A Session header: the id and the optional timeout the server announces.
struct SessionHeader {
  std::string id;
  std::optional<std::uint32_t> timeout_s;
  friend bool operator==(const SessionHeader&, const SessionHeader&) = default;
};

/// Parses "id[;timeout=N]"; other parameters are ignored. Errors: Errc::malformed for an empty id,
/// one with spaces, or a timeout that is not a number.
Result<SessionHeader> parse_session(std::string_view value);

/// "id" or "id;timeout=N".
std::string format_session(const SessionHeader& session);

/// One stream of an RTP-Info header.
struct RtpInfo {
  std::string url;                       ///< the track's URL (its control resolved)
  std::optional<std::uint16_t> seq;      ///< sequence number of the first packet after PLAY
  std::optional<std::uint32_t> rtptime;  ///< its RTP timestamp
  friend bool operator==(const RtpInfo&, const RtpInfo&) = default;
};

/// Parses an RTP-Info value: comma-separated streams, each url=...;seq=N;rtptime=T (url may be
/// quoted, as RFC 7826 writes it; ", " or "," between streams). Unknown parameters are ignored.
/// Errors: Errc::malformed for a stream without url or with a bad number.
Result<std::vector<RtpInfo>> parse_rtp_info(std::string_view value);

/// "url=U;seq=N;rtptime=T,url=..." for the PLAY reply.
std::string format_rtp_info(const std::vector<RtpInfo>& streams);

}  // namespace weir::formats::rtsp
