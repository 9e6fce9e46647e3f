// SPDX-License-Identifier: Apache-2.0
#pragma once
// mod_rtsp's settings, read once from [rtsp] during registration and immutable afterwards.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "formats/rtsp/url.h"

#include "weir/config.h"
#include "weir/status.h"

namespace weir::rtsp {

struct RtspConfig {
  std::string listen = "0.0.0.0:8554";
  /// UDP transport: poll group g sends and receives RTP on rtp_port + 2g and RTCP on the port
  /// above it, so that a client's RTCP and a UDP publisher's RTP reach the group its RTSP
  /// connection lives on. 0: UDP transport off (SETUP asks for TCP with 461).
  std::uint16_t rtp_port = 8000;
  /// Sessions of UDP clients (whose TCP connection may be silent) end after this long without a
  /// request or an RTCP packet; also the limit for a client that never sends PLAY or RECORD.
  std::chrono::milliseconds session_timeout{60'000};
  /// A DESCRIBE or PLAY of a name nobody publishes: false answers 404; true waits for a publisher.
  bool play_waits_for_publisher = false;
  bool gop_cache = true;
  /// RTP payload bytes per packet (the packet with its headers stays under a 1500-byte MTU).
  std::uint32_t max_payload = 1400;
  /// RTCP sender reports to players this often (and one as a player starts).
  std::chrono::milliseconds sender_report_interval{5'000};
  /// Players' write coalescing (negative: the kernel's [sender] coalescing).
  std::chrono::milliseconds play_coalescing{-1};

  /// Multicast (SETUP with `Transport: RTP/AVP;multicast`): each stream a player asks for gets an
  /// address of `multicast_range` ("239.255.42.0/24"; empty: multicast off), track t its RTP on
  /// multicast_port + 2t and RTCP on the port above, sent with multicast_ttl (1: the local link).
  std::string multicast_range = "239.255.42.0/24";
  std::uint32_t multicast_base = 0;  ///< the range's first address, host byte order
  std::uint32_t multicast_size = 0;  ///< addresses in the range; 0: multicast off
  std::uint16_t multicast_port = 8100;
  int multicast_ttl = 1;
  bool multicast_enabled() const noexcept { return multicast_size > 0; }

  /// A camera pulled on demand: `pull.<app>/<name> = rtsp://[user:pass@]host[:port]/path`.
  struct Pull {
    std::string app;
    std::string name;
    formats::rtsp::Url url;  ///< user and password answer the camera's 401 challenge
    std::string url_text;    ///< as configured, for logs (the password removed)
  };
  std::vector<Pull> pulls;
  /// A pull with no player left stops after this long (a player that comes back in time finds
  /// the stream still running).
  std::chrono::milliseconds pull_idle_timeout{10'000};
  /// The pull of `app`/`name`, or null.
  const Pull* find_pull(std::string_view app, std::string_view name) const noexcept;
  /// A pull of `app`/`name` from `url` (a config key's value, or an application's verdict);
  /// the error says what is wrong with the URL.
  static Result<Pull> make_pull(std::string app, std::string name, std::string_view url);

  static Result<RtspConfig> parse(const ConfigView& view);
};

}  // namespace weir::rtsp
