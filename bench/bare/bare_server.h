// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// BareServer: the floor bench/run measures Weir's sender against. One thread, one epoll loop, one
/// published stream, as little work per player as an RTMP fan-out can do (bench/bare/README.md).
///
/// ```
///  publisher socket --recv--> ChunkReader --> message --frame once (type 0, csid 4/5/6)--> pending_
///                                                        |
///    coalescing 0:  after each video frame  -------------+
///    coalescing MS: every MS milliseconds   -------------+--> for each playing player:
///                                                               one send(pending_) (the rest, if the
///                                                               socket takes less, to its tail_)
/// ```
/// The bytes of pending_ are the same for every player: each message has a full (type 0) header
/// with its absolute timestamp on a fixed chunk stream id, stream id 1 for everyone, chunk size
/// 60000 for everyone. Nothing is framed per player on the media path.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "formats/rtmp/chunk.h"
#include "formats/rtmp/chunk_reader.h"
#include "formats/rtmp/chunk_writer.h"
#include "formats/rtmp/handshake.h"
#include "formats/rtmp/vector_sink.h"
#include "weir/status.h"

namespace weir::bench {

/// What `weir_bare` is told on its command line.
struct BareSettings {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 1935;
  /// 0: one write per player per video frame; above 0: one write per player every this often.
  std::chrono::milliseconds coalescing{0};
  /// TCP_NODELAY on every accepted socket, as Weir sets it.
  bool no_delay = true;
  /// A new player's media starts at the next key frame; false: at the next write, whatever it holds
  /// (as nginx-rtmp does by default, wait_key off). Neither sends a GOP cache.
  bool wait_for_key_frame = false;
  /// A player whose unsent bytes grow past this is dropped (a slow player, not a policy).
  std::size_t max_backlog_bytes = 8u << 20;
};

/// What the server counted, printed when it stops.
struct BareCounters {
  std::uint64_t accepted = 0;
  std::uint64_t players_started = 0;
  std::uint64_t players_dropped = 0;  ///< backlog past max_backlog_bytes
  std::uint64_t fan_out_writes = 0;   ///< send() calls of pending_ to players
  std::uint64_t partial_writes = 0;   ///< of those, the socket took less than all
  std::uint64_t media_messages = 0;   ///< from the publisher
};

/// The server. Thread: the one that calls run(), for life.
class BareServer {
 public:
  explicit BareServer(BareSettings settings);
  ~BareServer();
  BareServer(const BareServer&) = delete;
  BareServer& operator=(const BareServer&) = delete;

  /// Binds and listens; Errc::io naming the address when it cannot.
  Status listen();
  /// Serves until a signal interrupts epoll_wait; Errc::io if epoll fails otherwise.
  Status run();

  const BareCounters& counters() const noexcept { return counters_; }

 private:
  struct Connection;

  void accept_all() noexcept;
  void on_event(Connection& c, std::uint32_t events) noexcept;
  void read(Connection& c) noexcept;
  Status on_bytes(Connection& c, std::span<const std::uint8_t> bytes) noexcept;
  Status on_message(Connection& c, const formats::rtmp::Message& m) noexcept;
  Status on_command(Connection& c, const formats::rtmp::Message& m) noexcept;
  void on_media(const formats::rtmp::Message& m) noexcept;
  void start_playing(Connection& c, std::uint32_t stream_id) noexcept;
  void append_headers(std::vector<std::uint8_t>& out) const;
  void fan_out() noexcept;
  void deliver(Connection& c, std::span<const std::uint8_t> bytes) noexcept;
  void flush_tail(Connection& c) noexcept;
  void watch_writable(Connection& c, bool on) noexcept;
  void unpublish() noexcept;
  void close(Connection& c) noexcept;
  void reap() noexcept;

  BareSettings settings_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  std::vector<std::unique_ptr<Connection>> connections_;  // index: Connection::slot
  std::vector<Connection*> players_;                      // playing; index: Connection::player_slot
  std::vector<std::unique_ptr<Connection>> closed_;       // freed after the loop turn
  Connection* publisher_ = nullptr;

  // What a joining player gets before its first key frame, framed as pending_ frames it.
  std::vector<std::uint8_t> metadata_;  // onMetaData, @setDataFrame taken off
  std::vector<std::uint8_t> audio_header_;
  std::vector<std::uint8_t> video_header_;
  std::uint32_t metadata_ms_ = 0;
  std::uint32_t audio_header_ms_ = 0;
  std::uint32_t video_header_ms_ = 0;

  std::vector<std::uint8_t> pending_;  // framed media not yet written to the players
  std::size_t key_offset_ = 0;         // where pending_'s first key frame starts ...
  bool has_key_ = false;               // ... when it has one
  std::chrono::steady_clock::time_point next_flush_{};
  std::vector<std::uint8_t> receive_buffer_;
  BareCounters counters_;
};

}  // namespace weir::bench
