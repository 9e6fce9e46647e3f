// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// PlayerThread: one epoll loop serving thousands of Players. The fleet (main thread) drives every
/// thread through FleetControl's phase; each thread snapshots its own players when it sees the
/// phase change and keeps its own measurements, merged once the threads have stopped.
///
/// ```
///  FleetControl.phase:  ramp  --------------------> measure ----------------> count ------------> stop
///  thread:              connect on schedule         snapshot players           snapshot, judge;   close all
///                       (client i at t0 + i/rate)   (window start, own clock)  players play on    (RST)
///
///  count: the optional --count-window after the window, for counters too costly to run inside it.
/// ```

#include <atomic>
#include <cstdint>
#include <memory>
#include <netinet/in.h>
#include <string>
#include <vector>

#include "histogram.h"
#include "player.h"

namespace weir::bench {

/// How a playing player reads (Player): as data arrives, or in pieces on a fixed interval.
enum class ReadMode : std::uint8_t { arrival, paced };

/// What the players speak: RTMP (Player) or RTSP (RtspPlayer).
enum class Protocol : std::uint8_t { rtmp, rtsp };
/// How an RTSP player asks for its media: interleaved in the RTSP connection, or RTP/UDP unicast.
enum class RtspTransport : std::uint8_t { tcp, udp };

/// Settings every player thread shares (read-only while threads run).
struct PlayerSettings {
  Protocol protocol = Protocol::rtmp;
  RtspTransport rtsp_transport = RtspTransport::tcp;
  std::string rtsp_base_url;  ///< rtsp://HOST:PORT/APP/ : the player's URL is this + its stream name
  sockaddr_in server{};
  std::string app;
  std::string tc_url;
  std::string stream_name;          ///< played as is when streams == 1, else name + (index % streams)
  std::uint32_t streams = 1;
  std::uint32_t clients = 0;
  std::uint32_t threads = 1;
  double connect_rate_per_s = 2000;  ///< connects started per second, all threads together
  double video_fps = 0;              ///< > 0: keeping up also needs 95% of the frames
  double kept_up_ratio = 0.95;
  ReadMode read = ReadMode::arrival;
  std::uint32_t read_interval_ms = 20;       ///< paced: each player's turn comes this often
  std::size_t read_size_bytes = 64 * 1024;   ///< paced: the size of each recv()
};

/// What the main thread and the player threads share.
struct FleetControl {
  enum Phase : int { ramp = 0, measure = 1, count = 2, stop = 3 };
  std::atomic<int> phase{ramp};
  std::atomic<std::uint32_t> playing{0};  ///< players that reached NetStream.Play.Start
  std::atomic<std::uint32_t> failed{0};
  std::atomic<std::uint32_t> connected{0};  ///< TCP connects that completed
  std::int64_t start_us = 0;                ///< when client 0 connects
};

/// One thread's measurements.
struct PlayerTotals {
  std::uint64_t players = 0;
  std::uint64_t playing = 0;
  std::uint64_t failed = 0;
  std::uint64_t open_at_end = 0;
  std::uint64_t kept_up = 0;
  std::uint64_t with_video = 0;  ///< players that received any video in the window
  double bytes_per_s = 0;        ///< window bytes over this thread's window
  std::uint64_t window_bytes = 0;
  std::uint64_t total_bytes = 0;  ///< everything received, ramp included
  double window_s = 0;
  // The window's segments on the players' own sockets (TCP_INFO), over players open at both ends:
  // in = the server's data segments and ACKs to them, out = their ACKs, window updates and commands.
  std::uint64_t tcp_players = 0;
  std::uint64_t tcp_segs_in = 0, tcp_data_segs_in = 0, tcp_segs_out = 0, tcp_data_segs_out = 0;
  std::uint64_t video_frames = 0, audio_frames = 0, key_frames = 0, data_messages = 0;
  std::uint64_t rtp_packets = 0, rtp_expected = 0;  ///< RTSP: window's RTP packets received / sent by sequence
  std::int64_t last_play_start_us = 0;
  Histogram time_to_first_frame;  ///< RTMP: connect start -> first key frame; RTSP: PLAY sent -> first key frame
  Histogram play_start;           ///< play sent -> NetStream.Play.Start (RTSP: PLAY sent -> its 200)
  Histogram delay;                ///< stamp: publisher's write -> player's read (window only)
  std::vector<std::string> errors;  ///< the first few failures, for the report
  std::uint64_t error_count = 0;

  void merge(const PlayerTotals& other);
};

/// Recycled payload buffers by power-of-two size class: the sink's storage, warm in cache.
class PayloadPool {
 public:
  ~PayloadPool();
  /// Storage for `bytes` (> 0); returns its class for release().
  std::uint8_t* allocate(std::uint32_t bytes, std::uint8_t& size_class);
  void release(std::uint8_t* data, std::uint8_t size_class) noexcept;

 private:
  static constexpr int kMinClass = 10;  // 1 KiB
  static constexpr int kClasses = 25;   // up to 16 MiB
  std::vector<std::uint8_t*> free_[kClasses];
};

class PlayerThread {
 public:
  PlayerThread(const PlayerSettings& settings, FleetControl& control, std::uint32_t thread_index);
  ~PlayerThread();

  /// The loop: ramp, measure, count, stop. Returns when the control says stop.
  void run();
  const PlayerTotals& totals() const noexcept { return totals_; }

  // For players.
  int epoll_fd() const noexcept { return epoll_fd_; }
  std::int64_t now_us() const noexcept { return now_us_; }
  bool is_measuring() const noexcept { return measuring_; }
  const PlayerSettings& settings() const noexcept { return settings_; }
  FleetControl& control() noexcept { return control_; }
  PayloadPool& payloads() noexcept { return payloads_; }
  std::span<std::uint8_t> receive_buffer() noexcept { return receive_buffer_; }
  void on_playing(PlayerBase& player) noexcept;
  void on_first_key_frame(PlayerBase& player) noexcept;
  void on_failed(PlayerBase& player, const Status& reason) noexcept;
  void record_delay(std::int64_t us) noexcept { totals_.delay.record(us); }

 private:
  void start_window() noexcept;
  void end_window() noexcept;
  /// Gives every paced player whose turn came since the last call its read; returns the epoll
  /// timeout (ms) that wakes the loop for the next turn.
  int run_paced_reads(int timeout_ms) noexcept;

  const PlayerSettings& settings_;
  FleetControl& control_;
  const std::uint32_t thread_index_;
  int epoll_fd_ = -1;
  std::int64_t now_us_ = 0;
  bool measuring_ = false;
  std::int64_t window_start_us_ = 0;
  std::vector<std::unique_ptr<PlayerBase>> players_;
  std::size_t next_to_start_ = 0;
  PayloadPool payloads_;
  std::vector<std::uint8_t> receive_buffer_;
  PlayerTotals totals_;
  // Paced players by the millisecond of the interval their turn falls on (when each started playing,
  // so turns spread over the interval as a real audience's would):
  //   paced_[ms % interval] = players read at that ms of every interval; next_paced_ms_: the next ms to serve.
  std::vector<std::vector<PlayerBase*>> paced_;
  std::size_t paced_count_ = 0;
  std::int64_t next_paced_ms_ = 0;
  std::int64_t next_tick_us_ = 0;
};

}  // namespace weir::bench
