// SPDX-License-Identifier: Apache-2.0
// modules/mod_rtsp/module.cc: the one place mod_rtsp meets the kernel.
#include <memory>
#include <vector>

#include "multicast.h"
#include "rtsp_config.h"
#include "rtsp_group.h"
#include "session.h"
#include "weir/module.h"
#include "weir/per_group.h"

namespace weir::rtsp {
namespace {

// Module-level state: built once at registration, read-only afterwards (RtspGroups are per poll group).
RtspConfig g_config;
RtspCounters g_counters;
PerGroup<RtspGroup> g_groups;
std::shared_ptr<AppsService> g_apps;
// The multicast addresses, shared by the groups (made at registration, after the config).
std::unique_ptr<MulticastDirectory> g_multicast;
// Each group's RtspGroup, written and read by that group only (a pull's task runs on its home
// group and finds that group's state here).
std::vector<RtspGroup*> g_by_id;

RtspGroup* group_of(GroupId id) { return id < g_by_id.size() ? g_by_id[id] : nullptr; }

class RtspAcceptor final : public Acceptor {
 public:
  std::unique_ptr<ConnectionHandler> accept(Connection& connection) noexcept override {
    return std::make_unique<RtspSession>(connection, g_groups.local(connection.group()));
  }
};

Status register_module(Registrar& registrar) {
  auto config = RtspConfig::parse(registrar.config());
  if (!config) return config.error();
  g_config = std::move(*config);
  auto& c = g_counters;
  c.connections = registrar.counter("weir_rtsp_connections_total", "RTSP connections accepted");
  c.plays = registrar.counter("weir_rtsp_plays_total", "RTSP PLAY requests accepted");
  c.publishes = registrar.counter("weir_rtsp_publishes_total", "RTSP RECORD requests accepted");
  c.frames_out = registrar.counter("weir_rtsp_frames_sent_total", "Frames queued to RTSP players");
  c.frames_dropped = registrar.counter("weir_rtsp_frames_dropped_total", "Video frames dropped for slow RTSP players");
  c.frames_in = registrar.counter("weir_rtsp_frames_received_total", "Frames reassembled from RTSP publishers");
  c.packets_in = registrar.counter("weir_rtsp_packets_received_total", "RTP packets received from RTSP publishers");
  c.packets_lost = registrar.counter("weir_rtsp_packets_lost_total", "RTP packets missing from RTSP publishers");
  c.slow_players_closed = registrar.counter("weir_rtsp_slow_players_closed_total", "RTSP players disconnected at the hard limit");
  c.protocol_errors = registrar.counter("weir_rtsp_protocol_errors_total", "RTSP requests or RTP packets refused as malformed");
  auto apps = registrar.optional_service<AppsService>();
  if (!apps) return apps.error();
  g_apps = std::move(*apps);
  g_by_id.assign(registrar.group_count(), nullptr);
  g_multicast = std::make_unique<MulticastDirectory>(g_config);
  g_groups.install(registrar, &g_config, &g_counters, g_apps.get(), registrar.logger("rtsp"), &group_of,
                   g_multicast.get());
  registrar.on_group_start([](PollGroup& group) { g_by_id[group.id()] = &g_groups.local(group); });
  registrar.on_group_stop([](PollGroup& group) { g_by_id[group.id()] = nullptr; });
  if (!g_config.pulls.empty() || g_apps) {
    // Any protocol's player of a key that nobody publishes, pulled by the config or from an
    // rtsp:// URL an application's verdict named (SubscribeOptions::source), starts (or keeps
    // wanting) the pull and waits for it; the pull runs on its home group (RtspGroup::want_pull).
    registrar.on_stream_demand([](PollGroup& group, const StreamKey& key, std::string_view source) {
      if (!g_groups.has(group)) return false;
      if (const RtspConfig::Pull* pull = g_config.find_pull(key.app, key.name)) {
        g_groups.local(group).want_pull(*pull);
        return true;
      }
      if (!source.starts_with("rtsp://") && !source.starts_with("rtsps://")) return false;
      auto pull = RtspConfig::make_pull(key.app, key.name, source);
      if (!pull) {
        // Not the URL itself: it may hold a password.
        g_groups.local(group).logger().warn("pull {}: the application's URL is refused: {}", key.to_string(),
                                            pull.error().message());
        return false;
      }
      g_groups.local(group).want_pull(std::move(*pull));
      return true;
    });
  }
  return registrar.listen(ListenerSpec{"rtsp", g_config.listen, false, {}}, std::make_shared<RtspAcceptor>());
}

}  // namespace
}  // namespace weir::rtsp

WEIR_MODULE("mod_rtsp", "0.1.0", "rtsp", weir::rtsp::register_module)
