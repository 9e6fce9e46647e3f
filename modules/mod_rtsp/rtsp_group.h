// SPDX-License-Identifier: Apache-2.0
#pragma once
// RtspGroup: mod_rtsp's state on one poll group. Owns what the group's RTSP sessions share:
//
//   - the packet writers (RTP packets of every stream, built once per group: stream_out.h);
//   - one StreamOut per stream that players of this group watch;
//   - the group's UDP pair (RTP on rtp_port + 2g, RTCP on the next port), one socket for every UDP
//     player and publisher of the group, so that each loop turn sends with one sendmmsg;
//   - who is behind each UDP address, so that a datagram reaches its session.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "rtsp_config.h"
#include "weir/log.h"
#include "weir/pages.h"
#include "weir/poll_group.h"
#include "weir/services/apps.h"
#include "weir/stats.h"
#include "weir/stream.h"
#include "weir/udp.h"

namespace weir::rtsp {

class StreamOut;
class RtspPuller;
class MulticastDirectory;
class MulticastOut;

/// Counters mod_rtsp registers (ids into each group's Stats).
struct RtspCounters {
  CounterId connections = 0;
  CounterId plays = 0;
  CounterId publishes = 0;
  CounterId packets_out = 0;
  CounterId frames_out = 0;
  CounterId frames_dropped = 0;
  CounterId frames_in = 0;
  CounterId packets_in = 0;
  CounterId packets_lost = 0;
  CounterId slow_players_closed = 0;
  CounterId protocol_errors = 0;
};

/// What receives the datagrams from one UDP address (a player's RTCP, a publisher's RTP/RTCP).
class DatagramTarget {
 public:
  /// `rtcp`: it came to the group's RTCP port.
  virtual void on_datagram(const PageSlice& data, const UdpPeer& from, bool rtcp) noexcept = 0;

 protected:
  ~DatagramTarget() = default;
};

class RtspGroup final : private UdpReceiver {
 public:
  /// Finds a group's RtspGroup from a task running on that group (null once it stopped).
  using Lookup = RtspGroup* (*)(GroupId);
  RtspGroup(PollGroup& group, const RtspConfig* config, const RtspCounters* counters, AppsService* apps, Logger logger,
            Lookup lookup, MulticastDirectory* multicast);
  ~RtspGroup();

  PollGroup& poll_group() noexcept { return poll_group_; }
  const RtspConfig& config() const noexcept { return *config_; }
  const RtspCounters& counters() const noexcept { return *counters_; }
  Stats& stats() noexcept { return stats_; }
  const Logger& logger() const noexcept { return logger_; }
  /// Packets for players: RTP headers and payloads, written once per stream per group.
  PageWriter& packets() noexcept { return packets_; }
  /// Media from RTSP publishers, reassembled into frames.
  PageWriter& ingest() noexcept { return ingest_; }
  bool has_hook(std::string_view app, AppHook hook) const noexcept {
    return apps_ && apps_->has_hook(poll_group_, app, hook);
  }
  AppsService& apps() noexcept { return *apps_; }

  /// The packetizer of `key` on this group, made at its first user; shared by the group's players.
  std::shared_ptr<StreamOut> stream_out(const StreamKey& key);

  /// UDP: the group's RTP socket (null when UDP is off or its port could not be bound).
  UdpSocket* rtp_socket() noexcept { return rtp_.get(); }
  UdpSocket* rtcp_socket() noexcept { return rtcp_.get(); }
  std::uint16_t rtp_port() const noexcept { return rtp_ ? rtp_->local_port() : 0; }
  /// Routes the datagrams from `from` to `target` until unroute(); false when another target has it.
  bool route(const UdpPeer& from, DatagramTarget* target);
  void unroute(const UdpPeer& from, const DatagramTarget* target) noexcept;

  /// Multicast: the addresses every group shares (multicast.h).
  MulticastDirectory& multicast_directory() noexcept { return *directory_; }
  /// The socket this group sends multicast from (opened at the first use; null if it cannot be).
  UdpSocket* multicast_socket();
  /// A session of this group plays `key` from its multicast `address`: the stream's home group
  /// sends it there from now on, until the last leave. Any of the groups.
  void join_multicast(const StreamKey& key, const UdpPeer& address);
  void leave_multicast(const StreamKey& key, const UdpPeer& address);

  /// A player wants `pull`'s stream (of the config, or an application's verdict): its puller, on
  /// the stream's home group, starts if it is idle. Posted or deferred, never run inside the
  /// caller (a demand hook, inside Streams::subscribe()). Any of the groups.
  void want_pull(RtspConfig::Pull pull);

 private:
  class Receiver;
  void on_datagram(const PageSlice& data, const UdpPeer& from) noexcept override;
  void on_rtcp_datagram(const PageSlice& data, const UdpPeer& from) noexcept;
  void pull_here(const RtspConfig::Pull& pull);
  void multicast_here(const StreamKey& key, const UdpPeer& address, bool join);
  /// The group that does a stream's once-per-stream work (its pull, its multicast), by its name.
  GroupId home_of(const StreamKey& key) const noexcept;
  /// Runs `fn(home RtspGroup&)` on the group that sends `key`'s multicast.
  template <class Fn>
  void on_multicast_home(const StreamKey& key, Fn fn);

  PollGroup& poll_group_;
  Stats& stats_;
  const RtspConfig* config_;
  const RtspCounters* counters_;
  AppsService* apps_;
  Logger logger_;
  PageWriter packets_;
  PageWriter ingest_;
  std::map<std::string, std::weak_ptr<StreamOut>> streams_;  // "app/name"
  std::unique_ptr<Receiver> rtcp_receiver_;
  std::unique_ptr<UdpSocket> rtp_;
  std::unique_ptr<UdpSocket> rtcp_;
  std::unordered_map<UdpPeer, DatagramTarget*, UdpPeerHash> routes_;
  Lookup lookup_;
  MulticastDirectory* directory_;
  std::unique_ptr<UdpSocket> multicast_socket_;
  bool multicast_failed_ = false;
  // The streams this group sends to their multicast groups (it is their home), by "app/name@address"
  // (a stream that stopped and started again may briefly have two); before the pulls
  // (destroyed after them) and after the page writers (destroyed before them).
  std::map<std::string, std::unique_ptr<MulticastOut>> multicast_;
  // The pulls this group runs (it is their streams' home), by "app/name", made at their first
  // demand; last, so they go first (their clients' ingests use the page writers above).
  std::map<std::string, std::unique_ptr<RtspPuller>> pullers_;
};

}  // namespace weir::rtsp
