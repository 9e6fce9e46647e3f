// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Publisher: replays an FLV file in real time to one or more streams (name, or name0..nameK-1),
/// looping it with timestamps that keep going forward, and stamps every H.264 frame with its send
/// time (latency_stamp.h) so that players can measure the server's added delay.
///
/// ```
///  setup (blocking, one stream after another): handshake, connect, createStream, publish
///  then one loop:  for each stream: send the tags now due (stream k starts k * stagger later)
///                  read replies (answer pings); sleep until the next tag is due
/// ```
/// Thread: the caller's; it returns when the duration is over or on SIGINT/SIGTERM.

#include <netinet/in.h>

#include <cstdint>
#include <string>

#include "weir/status.h"

namespace weir::bench {

struct PublisherSettings {
  sockaddr_in server{};
  std::string app;
  std::string tc_url;
  std::string stream_name;  ///< as is when streams == 1, else name0 .. name{streams-1}
  std::uint32_t streams = 1;
  std::string file;         ///< FLV: H.264 + AAC
  double duration_s = 0;    ///< 0: until a signal
  double stagger_ms = 0;    ///< start of stream k: k * stagger (spreads key frames of many streams)
  bool stamp = true;        ///< insert send-time stamps into H.264 frames
  std::uint32_t chunk_size = 60000;
};

/// Publishes until done. Prints "ready" on stdout once every stream is published.
Status run_publisher(const PublisherSettings& settings);

}  // namespace weir::bench
