// SPDX-License-Identifier: Apache-2.0
#include "rtsp_config.h"

#include <charconv>

#include "weir/udp.h"

namespace weir::rtsp {
namespace {

// [rtsp] multicast_range, multicast_port, multicast_ttl. The range is IPv4 ("239.255.42.0/24",
// or one address "239.255.42.7"), all of it inside 224.0.0.0/4.
Status parse_multicast(const ConfigView& view, RtspConfig& c) {
  auto range = view.get_string("multicast_range", c.multicast_range);
  if (!range) return range.error();
  c.multicast_range = *range;
  auto port = view.get_int("multicast_port", c.multicast_port, 1, 65532);
  if (!port) return port.error();
  if (*port % 2) return view.invalid("multicast_port", "must be even (RTP on it, RTCP on the next port)");
  c.multicast_port = static_cast<std::uint16_t>(*port);
  auto ttl = view.get_int("multicast_ttl", c.multicast_ttl, 1, 255);
  if (!ttl) return ttl.error();
  c.multicast_ttl = static_cast<int>(*ttl);
  if (c.multicast_range.empty()) return ok();
  std::string_view text = c.multicast_range;
  unsigned prefix = 32;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    std::string_view bits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
    if (ec != std::errc() || end != bits.data() + bits.size() || prefix < 4 || prefix > 32)
      return view.invalid("multicast_range", "expected ADDRESS/BITS with 4 to 32 bits, got '" + c.multicast_range + "'");
    text = text.substr(0, slash);
  }
  auto address = UdpPeer::parse(text, 0);
  if (!address || address->is_v6())
    return view.invalid("multicast_range", "expected an IPv4 multicast range such as 239.255.42.0/24, got '" + c.multicast_range + "'");
  std::uint32_t base = 0;
  for (int i = 0; i < 4; ++i) base = base << 8 | address->address[static_cast<std::size_t>(i)];
  const std::uint32_t mask = prefix == 32 ? ~0u : ~((1u << (32 - prefix)) - 1);
  if ((base & 0xF0000000u) != 0xE0000000u || (base & mask & 0xF0000000u) != 0xE0000000u)
    return view.invalid("multicast_range", "'" + c.multicast_range + "' is not inside 224.0.0.0/4");
  c.multicast_base = base & mask;
  c.multicast_size = prefix == 32 ? 1u : 1u << (32 - prefix);
  return ok();
}

}  // namespace

Result<RtspConfig> RtspConfig::parse(const ConfigView& view) {
  RtspConfig c;
  auto listen = view.get_string("listen", c.listen);
  if (!listen) return listen.error();
  c.listen = *listen;
  auto rtp_port = view.get_int("rtp_port", c.rtp_port, 0, 65534);
  if (!rtp_port) return rtp_port.error();
  if (*rtp_port % 2) return view.invalid("rtp_port", "must be even (RTP on it, RTCP on the next port)");
  c.rtp_port = static_cast<std::uint16_t>(*rtp_port);
  auto timeout = view.get_duration("session_timeout", c.session_timeout);
  if (!timeout) return timeout.error();
  if (timeout->count() < 1000) return view.invalid("session_timeout", "must be at least 1s");
  c.session_timeout = *timeout;
  auto missing = view.get_string("play_missing", "not_found");
  if (!missing) return missing.error();
  if (*missing == "wait") c.play_waits_for_publisher = true;
  else if (*missing != "not_found")
    return view.invalid("play_missing", "expected not_found or wait, got '" + *missing + "'");
  auto gop = view.get_bool("gop_cache", c.gop_cache);
  if (!gop) return gop.error();
  c.gop_cache = *gop;
  auto payload = view.get_int("max_payload", c.max_payload, 500, 8000);
  if (!payload) return payload.error();
  c.max_payload = static_cast<std::uint32_t>(*payload);
  auto report = view.get_duration("sender_report_interval", c.sender_report_interval);
  if (!report) return report.error();
  if (report->count() < 100) return view.invalid("sender_report_interval", "must be at least 100ms");
  c.sender_report_interval = *report;
  if (view.has("play_coalescing")) {
    auto coalescing = view.get_duration("play_coalescing", std::chrono::milliseconds(0));
    if (!coalescing) return coalescing.error();
    c.play_coalescing = *coalescing;
  }
  if (Status s = parse_multicast(view, c); !s) return s;
  auto idle = view.get_duration("pull_idle_timeout", c.pull_idle_timeout);
  if (!idle) return idle.error();
  c.pull_idle_timeout = *idle;
  auto transport = view.get_string("pull_transport", "tcp");
  if (!transport) return transport.error();
  if (*transport != "tcp") return view.invalid("pull_transport", "only tcp (interleaved) is supported, got '" + *transport + "'");
  for (const std::string& key : view.keys()) {
    if (!key.starts_with("pull.")) continue;
    const std::string stream = key.substr(5);
    const std::size_t slash = stream.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == stream.size())
      return view.invalid(key, "expected pull.<app>/<name>");
    auto text = view.get_string(key, "");
    if (!text) return text.error();
    auto pull = make_pull(stream.substr(0, slash), stream.substr(slash + 1), *text);
    if (!pull) return view.invalid(key, pull.error().message());
    if (c.find_pull(pull->app, pull->name)) return view.invalid(key, "this stream is pulled twice");
    c.pulls.push_back(std::move(*pull));
  }
  return c;
}

Result<RtspConfig::Pull> RtspConfig::make_pull(std::string app, std::string name, std::string_view text) {
  auto url = formats::rtsp::parse_url(text);
  if (!url) return url.error();
  if (url->scheme != "rtsp") return error(Errc::unsupported, "only rtsp:// URLs can be pulled (no rtsps yet)");
  Pull pull{std::move(app), std::move(name), *url, {}};
  pull.url_text = "rtsp://" + formats::rtsp::format_authority(*url) + url->path + (url->query.empty() ? "" : "?" + url->query);
  return pull;
}

const RtspConfig::Pull* RtspConfig::find_pull(std::string_view app, std::string_view name) const noexcept {
  for (const Pull& pull : pulls)
    if (pull.app == app && pull.name == name) return &pull;
  return nullptr;
}

}  // namespace weir::rtsp
