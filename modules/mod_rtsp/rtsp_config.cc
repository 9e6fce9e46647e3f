// SPDX-License-Identifier: Apache-2.0
#include "rtsp_config.h"

namespace weir::rtsp {

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
    auto url = formats::rtsp::parse_url(*text);
    if (!url) return view.invalid(key, url.error().message());
    if (url->scheme != "rtsp") return view.invalid(key, "only rtsp:// URLs can be pulled (no rtsps yet)");
    Pull pull{stream.substr(0, slash), stream.substr(slash + 1), *url, {}};
    pull.url_text = "rtsp://" + formats::rtsp::format_authority(*url) + url->path + (url->query.empty() ? "" : "?" + url->query);
    if (c.find_pull(pull.app, pull.name)) return view.invalid(key, "this stream is pulled twice");
    c.pulls.push_back(std::move(pull));
  }
  return c;
}

const RtspConfig::Pull* RtspConfig::find_pull(std::string_view app, std::string_view name) const noexcept {
  for (const Pull& pull : pulls)
    if (pull.app == app && pull.name == name) return &pull;
  return nullptr;
}

}  // namespace weir::rtsp
