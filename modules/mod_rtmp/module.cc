// SPDX-License-Identifier: Apache-2.0
// modules/mod_rtmp/module.cc: the one place mod_rtmp meets the kernel.
#include <memory>

#include "rtmp_config.h"
#include "rtmp_group.h"
#include "session.h"
#include "weir/module.h"
#include "weir/per_group.h"

namespace weir::rtmp {
namespace {

// Module-level state: built once at registration, read-only afterwards (the RtmpGroups are per poll group).
RtmpConfig g_config;
RtmpCounters g_counters;
PerGroup<RtmpGroup> g_groups;
Logger g_logger;
std::shared_ptr<AppsService> g_apps;  // server-side applications (mod_lua), if loaded before us

class RtmpAcceptor final : public Acceptor {
 public:
  std::unique_ptr<ConnectionHandler> accept(Connection& connection) noexcept override {
    return std::make_unique<RtmpSession>(connection, g_groups.local(connection.group()), g_logger);
  }
};

Status register_module(Registrar& registrar) {
  auto config = RtmpConfig::parse(registrar.config());
  if (!config) return config.error();
  g_config = std::move(*config);
  g_logger = registrar.logger("rtmp");
  g_counters.connections = registrar.counter("weir_rtmp_connections_total", "RTMP connections accepted");
  g_counters.publishes = registrar.counter("weir_rtmp_publishes_total", "RTMP publish commands accepted");
  g_counters.plays = registrar.counter("weir_rtmp_plays_total", "RTMP play commands accepted");
  g_counters.frames_in = registrar.counter("weir_rtmp_frames_received_total", "Audio/video frames received from publishers");
  g_counters.frames_out = registrar.counter("weir_rtmp_frames_sent_total", "Frames queued to players");
  g_counters.frames_dropped = registrar.counter("weir_rtmp_frames_dropped_total", "Video frames dropped for slow players");
  g_counters.slow_players_closed = registrar.counter("weir_rtmp_slow_players_closed_total", "Players disconnected at the hard limit");
  g_counters.protocol_errors = registrar.counter("weir_rtmp_protocol_errors_total", "Connections or frames refused as malformed");
  // Optional: without it every app keeps the default behaviour.
  auto apps = registrar.optional_service<AppsService>();
  if (!apps) return apps.error();
  g_apps = std::move(*apps);
  g_groups.install(registrar, &g_config, &g_counters, g_apps.get());
  auto acceptor = std::make_shared<RtmpAcceptor>();
  WEIR_TRY(registrar.listen(ListenerSpec{"rtmp", g_config.listen, false, {}}, acceptor));
  if (g_config.tls_listen.empty()) return ok();
  return registrar.listen(
      ListenerSpec{"rtmps", g_config.tls_listen, true, TlsOptions{g_config.tls_certificate, g_config.tls_private_key}},
      acceptor);
}

}  // namespace
}  // namespace weir::rtmp

WEIR_MODULE("mod_rtmp", "0.1.0", "rtmp", weir::rtmp::register_module)
