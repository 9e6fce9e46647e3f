// SPDX-License-Identifier: Apache-2.0
#include "formats/rtsp/transport.h"

#include <cstdio>

#include "formats/rtsp/text_util.h"

namespace weir::formats::rtsp {

using detail::iequals;
using detail::trim;

namespace {

Result<PortRange> parse_range(std::string_view text, std::uint16_t max, bool allow_zero) {
  std::string_view rest = text;
  const std::string_view first = detail::take_until(rest, '-');
  const std::string_view last = text.find('-') == std::string_view::npos ? first : rest;
  auto a = detail::parse_decimal(trim(first), max);
  auto b = detail::parse_decimal(trim(last), max);
  if (!a || !b || *a > *b || (!allow_zero && *a == 0)) return error(Errc::malformed, "bad range");
  return PortRange{static_cast<std::uint16_t>(*a), static_cast<std::uint16_t>(*b)};
}

Result<TransportSpec> parse_spec(std::string_view text, std::size_t index) {
  TransportSpec spec;
  std::string_view rest = text;
  const std::string_view id = trim(detail::take_until(rest, ';'));
  {
    std::string_view parts = id;
    spec.protocol = std::string(trim(detail::take_until(parts, '/')));
    spec.profile = std::string(trim(detail::take_until(parts, '/')));
    parts = trim(parts);
    if (spec.protocol.empty() || spec.profile.empty())
      return error(Errc::malformed, "transport spec {}: bad transport id \"{}\"", index,
                   id.substr(0, 40));
    if (parts.empty() || iequals(parts, "UDP"))
      spec.lower = LowerTransport::udp;
    else if (iequals(parts, "TCP"))
      spec.lower = LowerTransport::tcp;
    else
      spec.lower = LowerTransport::other;
  }
  while (!rest.empty()) {
    const std::string_view parameter = trim(detail::take_until(rest, ';'));
    if (parameter.empty()) continue;  // "unicast;;" and a trailing ';' are common enough
    const std::size_t equals = parameter.find('=');
    const std::string_view name = trim(parameter.substr(0, equals));
    const std::string_view value = equals == std::string_view::npos
                                       ? std::string_view()
                                       : detail::unquote(trim(parameter.substr(equals + 1)));
    auto bad = [&]() {
      return error(Errc::malformed, "transport spec {}: bad {} \"{}\"", index, name.substr(0, 20),
                   value.substr(0, 40));
    };
    if (iequals(name, "unicast")) {
      spec.is_multicast = false;
    } else if (iequals(name, "multicast")) {
      spec.is_multicast = true;
    } else if (iequals(name, "interleaved")) {
      auto range = parse_range(value, 255, true);
      if (!range) return bad();
      spec.interleaved = *range;
    } else if (iequals(name, "client_port") || iequals(name, "server_port") ||
               iequals(name, "port")) {
      auto range = parse_range(value, 65535, false);
      if (!range) return bad();
      (iequals(name, "port")          ? spec.port
       : iequals(name, "client_port") ? spec.client_port
                                      : spec.server_port) = *range;
    } else if (iequals(name, "destination")) {
      spec.destination = std::string(value);
    } else if (iequals(name, "source")) {
      spec.source = std::string(value);
    } else if (iequals(name, "ttl")) {
      auto ttl = detail::parse_decimal(value, 255);
      if (!ttl) return bad();
      spec.ttl = static_cast<std::uint8_t>(*ttl);
    } else if (iequals(name, "ssrc")) {
      // RFC 2326: 8 hex digits. Some cameras drop leading zeros; a few RFC 7826 clients send a
      // '/'-separated list, of which the first is ours to use.
      std::string_view first = value.substr(0, value.find('/'));
      auto ssrc = first.size() <= 8 ? detail::parse_hex(first) : std::nullopt;
      if (!ssrc) return bad();
      spec.ssrc = static_cast<std::uint32_t>(*ssrc);
    } else if (iequals(name, "mode")) {
      spec.mode_text.clear();  // the last mode= counts
      if (iequals(value, "play")) {
        spec.mode = TransportMode::play;
      } else if (iequals(value, "record") || iequals(value, "receive")) {
        // "receive" is RFC 2326's spelling in 12.39's prose; RECORD its method name.
        spec.mode = TransportMode::record;
      } else {
        spec.mode = TransportMode::other;
        spec.mode_text = std::string(value);
      }
    } else if (iequals(name, "append")) {
      spec.append = true;
    } else {
      spec.extra.push_back({std::string(name), std::string(value)});
    }
  }
  return spec;
}

void append_range(std::string& out, std::string_view name, const std::optional<PortRange>& range) {
  if (!range) return;
  out += ';';
  out += name;
  out += '=';
  out += std::to_string(range->first);
  if (!range->is_single()) {
    out += '-';
    out += std::to_string(range->last);
  }
}

}  // namespace

Result<std::vector<TransportSpec>> parse_transport(std::string_view value) {
  std::vector<TransportSpec> specs;
  std::string_view rest = value;
  std::size_t index = 0;
  while (!rest.empty()) {
    // Commas separate specs; none of the parameters we read can hold one (a quoted mode list
    // "PLAY,RECORD" is not something clients send in practice, and it is cut here).
    const std::string_view text = trim(detail::take_until(rest, ','));
    if (text.empty()) continue;
    auto spec = parse_spec(text, index++);
    if (!spec) return std::move(spec).error();
    specs.push_back(std::move(*spec));
  }
  if (specs.empty())
    return error(Errc::malformed, "transport: no spec in \"{}\"", value.substr(0, 80));
  return specs;
}

std::string format_transport(const TransportSpec& spec) {
  std::string out = spec.protocol + "/" + spec.profile;
  if (spec.lower == LowerTransport::tcp) out += "/TCP";
  out += spec.is_multicast ? ";multicast" : ";unicast";
  if (!spec.destination.empty()) out += ";destination=" + spec.destination;
  if (!spec.source.empty()) out += ";source=" + spec.source;
  append_range(out, "interleaved", spec.interleaved);
  if (spec.ttl) out += ";ttl=" + std::to_string(*spec.ttl);
  append_range(out, "port", spec.port);
  append_range(out, "client_port", spec.client_port);
  append_range(out, "server_port", spec.server_port);
  if (spec.ssrc) {
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08X", *spec.ssrc);
    out += ";ssrc=";
    out += hex;
  }
  if (spec.append) out += ";append";
  for (const TransportSpec::Parameter& parameter : spec.extra) {
    out += ';';
    out += parameter.name;
    if (!parameter.value.empty()) out += "=" + parameter.value;
  }
  if (spec.mode) {
    switch (*spec.mode) {
      case TransportMode::play: out += ";mode=PLAY"; break;
      case TransportMode::record: out += ";mode=RECORD"; break;
      case TransportMode::other: out += ";mode=" + spec.mode_text; break;
    }
  }
  return out;
}

}  // namespace weir::formats::rtsp
