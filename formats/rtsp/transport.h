// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The Transport header (RFC 2326 12.39; RFC 7826 18.54 spells the same parameters):
///   Transport: RTP/AVP/TCP;unicast;interleaved=0-1, RTP/AVP;unicast;client_port=5000-5001
/// a comma-separated list of specs the client accepts, best first; the server picks one and
/// answers it back with its own parameters (server_port, ssrc, ...) filled in.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"

namespace weir::formats::rtsp {

/// Lower transport of a spec: "RTP/AVP" and "RTP/AVP/UDP" are UDP, "RTP/AVP/TCP" is interleaved.
enum class LowerTransport : std::uint8_t { udp, tcp, other };

/// mode= of a spec; PLAY when absent (RFC 2326 12.39).
enum class TransportMode : std::uint8_t { play, record, other };

/// "a-b", or a single "a" (then first == last).
struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  bool is_single() const noexcept { return first == last; }
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

/// One transport spec. Parameters not listed here are kept in `extra` (name, value; empty value
/// for a flag) and written back by format_transport().
struct TransportSpec {
  std::string protocol = "RTP";  ///< transport protocol, as written ("RTP")
  std::string profile = "AVP";   ///< "AVP", "AVPF", "SAVP"...
  LowerTransport lower = LowerTransport::udp;
  bool is_multicast = false;             ///< "multicast"; "unicast" or neither: false
  std::optional<PortRange> interleaved;  ///< channels, 0..255
  std::optional<PortRange> client_port;
  std::optional<PortRange> server_port;
  std::optional<PortRange> port;  ///< multicast ports
  std::string destination;
  std::string source;
  std::optional<std::uint8_t> ttl;
  std::optional<std::uint32_t> ssrc;  ///< hex on the wire
  std::optional<TransportMode> mode;  ///< as given; absent means play
  std::string mode_text;              ///< mode's value when it is neither play nor record
  bool append = false;
  struct Parameter {
    std::string name;
    std::string value;
    friend bool operator==(const Parameter&, const Parameter&) = default;
  };
  std::vector<Parameter> extra;

  /// The mode, with the default applied.
  TransportMode effective_mode() const noexcept { return mode.value_or(TransportMode::play); }
  friend bool operator==(const TransportSpec&, const TransportSpec&) = default;
};

/// Parses a Transport header value into its specs, in order. Parameter names and the mode are
/// case-insensitive; mode may be quoted (GStreamer writes mode="PLAY"). Errors: Errc::malformed
/// naming the spec and parameter for a bad transport id, number, range (interleaved channel over
/// 255, a port of 0, first > last) or ssrc; an empty header.
Result<std::vector<TransportSpec>> parse_transport(std::string_view value);

/// One spec as a Transport value: "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=1A2B3C4D;mode=PLAY".
/// UDP is written "RTP/AVP" (the form every client takes); the mode, only when set, as the
/// method name RFC 2326 gives it (PLAY, RECORD).
std::string format_transport(const TransportSpec& spec);

}  // namespace weir::formats::rtsp
