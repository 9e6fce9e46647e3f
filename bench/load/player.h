// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Player: one simulated RTMP subscriber. Connects without blocking, shakes hands with the formats'
/// ClientHandshake, sends connect / createStream / play, then counts what arrives and discards it.
///
/// ```
///  connecting --writable--> handshake --S2--> connect_sent --_result--> create_sent
///    --_result(id)--> play_sent --onStatus Play.Start--> playing     (any error: failed)
/// ```
/// Two ways to read once playing (PlayerSettings::read): `arrival` reads whenever epoll says data
/// arrived, like ffplay or a browser; `paced` takes the socket out of epoll's read set and lets its
/// PlayerThread call read_paced() every read interval, like a player with a jitter buffer.
/// Small on purpose (~2 KiB of RSS each): the 4.6 KiB handshake lives only until S2, payload storage
/// comes from the thread's PayloadPool and goes back when each message completes.
/// Thread: its PlayerThread's, for life.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "formats/rtmp/chunk_reader.h"
#include "formats/rtmp/handshake.h"
#include "tcp_counts.h"

namespace weir::bench {

class PlayerThread;

/// What one player counted; the thread snapshots it at the window's start and end.
struct PlayerCounters {
  std::uint64_t bytes = 0;  ///< RTMP: every byte read; RTSP: RTP and RTCP packet bytes (not `$` framing nor RTSP text)
  std::uint64_t video_frames = 0;  ///< video messages other than sequence headers
  std::uint64_t audio_frames = 0;
  std::uint64_t key_frames = 0;
  std::uint64_t data_messages = 0;
  std::int64_t last_video_ms = -1;  ///< RTMP timestamp of the newest video frame; -1: none yet
  // RTSP only: RTP packets received and the packets their sequence numbers say were sent (the
  // difference is what was lost), summed over the tracks.
  std::uint64_t rtp_packets = 0;
  std::uint64_t rtp_expected = 0;
};

/// What a PlayerThread drives: one simulated subscriber of some protocol (Player: RTMP,
/// RtspPlayer: RTSP). Each registers its sockets with the thread's epoll with `data.u64` =
/// its PlayerBase address | a socket tag (< 8; pointers are 8-byte aligned), handed back to on_event().
/// Thread: its PlayerThread's, for life.
class PlayerBase {
 public:
  explicit PlayerBase(std::uint32_t index) : index_(index) {}
  virtual ~PlayerBase() = default;
  PlayerBase(const PlayerBase&) = delete;
  PlayerBase& operator=(const PlayerBase&) = delete;

  /// Opens the socket and starts a non-blocking connect.
  virtual void start() noexcept = 0;
  /// Readiness from epoll for the socket registered with `tag`.
  virtual void on_event(std::uint32_t events, unsigned tag) noexcept = 0;
  /// A paced player's turn: recv() in read-size pieces until one returns less or EAGAIN.
  virtual void read_paced() noexcept = 0;
  /// Called about once a second by the thread (keepalives); `now_us` is the thread's clock.
  virtual void tick(std::int64_t now_us) noexcept { (void)now_us; }
  /// Closes the sockets with a reset (no TIME_WAIT left behind); the counters stay.
  virtual void close_now() noexcept = 0;
  virtual bool is_open() const noexcept = 0;
  /// Playing: RTMP NetStream.Play.Start, RTSP 200 to PLAY.
  virtual bool is_playing() const noexcept = 0;
  /// The segment counters of the socket that carries the media; nullopt once closed (or for UDP media).
  virtual std::optional<TcpCounts> tcp_counts() const noexcept = 0;
  /// Where time to first frame counts from: RTMP connect(), RTSP the PLAY request.
  virtual std::int64_t first_frame_from_us() const noexcept { return connect_at_us; }

  const PlayerCounters& counters() const noexcept { return counters_; }
  std::uint32_t index() const noexcept { return index_; }

  /// The value to put in epoll_event::data.u64 for the socket tagged `tag`.
  std::uint64_t epoll_key(unsigned tag) const noexcept { return reinterpret_cast<std::uintptr_t>(this) | tag; }

 protected:
  const std::uint32_t index_;
  PlayerCounters counters_;

 public:
  // Times (monotonic µs; 0: not yet) and the window snapshot, read by the thread.
  std::int64_t connect_at_us = 0;
  std::int64_t play_sent_at_us = 0;
  std::int64_t play_start_at_us = 0;
  std::int64_t first_key_at_us = 0;
  std::int64_t first_video_ms = -1;  ///< media time (ms) of the first video frame
  PlayerCounters at_window_start;
  std::optional<TcpCounts> tcp_at_window_start;
  bool was_playing_at_window_start = false;
};

class Player final : public PlayerBase, public formats::rtmp::ChunkSink {
 public:
  enum class Phase : std::uint8_t { idle, connecting, handshake, connect_sent, create_sent, play_sent, playing, failed };

  Player(PlayerThread& thread, std::uint32_t index, std::string stream_name);
  ~Player() override;

  void start() noexcept override;
  void on_event(std::uint32_t events, unsigned tag) noexcept override;
  void read_paced() noexcept override;
  void close_now() noexcept override;
  bool is_open() const noexcept override { return fd_ >= 0; }
  bool is_playing() const noexcept override { return phase_ == Phase::playing; }
  std::optional<TcpCounts> tcp_counts() const noexcept override {
    return fd_ >= 0 ? read_tcp_counts(fd_) : std::nullopt;
  }

  Phase phase() const noexcept { return phase_; }

  // ChunkSink
  std::span<std::uint8_t> begin_message(const formats::rtmp::MessageHeader& header) noexcept override;
  Status end_message(const formats::rtmp::MessageHeader& header, std::span<std::uint8_t> payload) noexcept override;
  void abort_message(const formats::rtmp::MessageHeader& header) noexcept override;

 private:
  struct OpenPayload {
    std::uint32_t chunk_stream_id;
    std::uint8_t size_class;
    std::uint8_t* data;
  };

  void finish_connect() noexcept;
  void read(std::size_t piece_bytes, int max_reads) noexcept;
  void watch() noexcept;
  Status on_bytes(std::span<const std::uint8_t> bytes) noexcept;
  Status on_command(const formats::rtmp::MessageHeader& header, std::span<const std::uint8_t> payload) noexcept;
  void on_video(const formats::rtmp::MessageHeader& header, std::span<const std::uint8_t> payload) noexcept;
  void send(std::span<const std::uint8_t> bytes) noexcept;
  void flush() noexcept;
  void fail(const Status& reason) noexcept;
  void release(std::uint32_t chunk_stream_id) noexcept;

  PlayerThread& thread_;
  int fd_ = -1;
  Phase phase_ = Phase::idle;
  bool wants_write_ = false;
  bool is_paced_ = false;  // playing in paced mode: epoll does not watch for data
  std::uint32_t stream_id_ = 0;
  std::uint32_t ack_window_ = 0;
  std::uint64_t acknowledged_ = 0;
  std::string stream_name_;
  std::unique_ptr<formats::rtmp::ClientHandshake> handshake_;
  formats::rtmp::ChunkReader reader_;
  std::vector<OpenPayload> open_;
  std::vector<std::uint8_t> out_;  // bytes the socket did not take yet (control path only)
};

}  // namespace weir::bench
