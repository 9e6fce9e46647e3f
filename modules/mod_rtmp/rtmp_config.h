// SPDX-License-Identifier: Apache-2.0
#pragma once
// mod_rtmp's settings, read once from [rtmp] during registration and immutable afterwards.

#include <chrono>
#include <cstdint>
#include <string>

#include "weir/config.h"
#include "weir/status.h"

namespace weir::rtmp {

struct RtmpConfig {
  std::string listen = "0.0.0.0:1935";
  /// RTMPS: a second listener speaking RTMP inside TLS (empty: none).
  std::string tls_listen;
  std::string tls_certificate;
  std::string tls_private_key;
  /// Chunk size we send with (Set Chunk Size right after connect): large chunks mean few chunk
  /// headers and few iovecs per frame.
  std::uint32_t out_chunk_size = 60000;
  /// Window Acknowledgement Size we ask peers for, and Set Peer Bandwidth.
  std::uint32_t ack_window = 2'500'000;
  std::uint32_t max_message_bytes = 16u << 20;
  /// A play of a name nobody publishes: false answers NetStream.Play.StreamNotFound; true waits.
  bool play_waits_for_publisher = false;
  bool gop_cache = true;
  /// Ping a silent peer after this long; close it if it stays silent as long again.
  std::chrono::milliseconds ping_interval{30'000};
  /// Players' write coalescing (negative: the kernel's [sender] coalescing).
  std::chrono::milliseconds play_coalescing{-1};
  std::chrono::milliseconds handshake_timeout{10'000};

  static Result<RtmpConfig> parse(const ConfigView& view);
};

}  // namespace weir::rtmp
