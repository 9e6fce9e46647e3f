// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// RtspPlayer: one simulated RTSP/1.0 subscriber (RFC 2326), the RTMP Player's counterpart: it
/// counts what arrives and discards it.
///
/// ```
///  connecting --writable--> options_sent --200--> describe_sent --200 + SDP--> setup_sent (per track)
///    --200 (Session, Transport)--> play_sent --200--> playing          (any error: failed)
///  playing: GET_PARAMETER every keepalive interval (min(20 s, session timeout / 2)) so that the
///  session outlives servers' 60 s timeouts with UDP as with TCP.
/// ```
/// Media, per the transport asked for (PlayerSettings::rtsp_transport):
/// - tcp: `RTP/AVP/TCP;unicast;interleaved=2k-2k+1` for track k; `$` frames parsed out of the RTSP
///   connection, which is read like an RTMP player's (arrival or paced).
/// - udp: `RTP/AVP;unicast;client_port=p-p+1`, the same even/odd socket pair for every track (tracks
///   are told apart by payload type), read with recvmmsg; the RTSP connection only carries requests.
///
/// Per packet it looks at the RTP header and the payload's first bytes only (kInspectBytes, kept
/// across reads for a `$` frame split between two): sequence numbers (losses), the video timestamp
/// (media time, frame count: a new timestamp is a new frame), an IDR's first packet (first frame),
/// and the publisher's send-time stamp (delay, latency_stamp.h). Small: the RTSP text buffers are
/// freed once playing. Thread: its PlayerThread's, for life.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "player.h"
#include "rtsp_messages.h"

namespace weir::bench {

class PlayerThread;

class RtspPlayer final : public PlayerBase {
 public:
  enum class Phase : std::uint8_t { idle, connecting, options_sent, describe_sent, setup_sent, play_sent, playing, failed };

  /// `url`: rtsp://HOST:PORT/APP/NAME, the presentation to play.
  RtspPlayer(PlayerThread& thread, std::uint32_t index, std::string url);
  ~RtspPlayer() override;

  void start() noexcept override;
  void on_event(std::uint32_t events, unsigned tag) noexcept override;
  void read_paced() noexcept override;
  void tick(std::int64_t now_us) noexcept override;
  void close_now() noexcept override;
  bool is_open() const noexcept override { return fd_ >= 0; }
  bool is_playing() const noexcept override { return phase_ == Phase::playing; }
  std::optional<TcpCounts> tcp_counts() const noexcept override;
  std::int64_t first_frame_from_us() const noexcept override { return play_sent_at_us; }

  Phase phase() const noexcept { return phase_; }

 private:
  enum Tag : unsigned { kControl = 0, kRtp = 1, kRtcp = 2 };
  static constexpr std::size_t kInspectBytes = 128;
  static constexpr std::uint8_t kNoTrack = 0xFF;

  struct Track {
    std::string url;
    std::uint8_t payload_type = 0;
    bool is_video = false;
    std::uint32_t clock_rate = 90000;
    int channel = -1;  // interleaved RTP channel (TCP)
    SequenceTracker sequence;
  };

  void finish_connect() noexcept;
  void read_stream(std::size_t piece_bytes, int max_reads) noexcept;
  void read_datagrams(int fd, bool until_empty) noexcept;
  Status on_stream_bytes(std::span<const std::uint8_t> bytes) noexcept;
  Status on_text(std::span<const std::uint8_t> bytes, std::size_t& used) noexcept;
  Status on_response(const RtspResponse& response) noexcept;
  void on_packet(int channel, std::span<const std::uint8_t> inspect, std::size_t length) noexcept;
  void on_video(const RtpHeader& header, std::span<const std::uint8_t> payload, std::uint32_t clock) noexcept;
  Status send_setup() noexcept;
  Status open_udp_pair() noexcept;
  void request(std::string_view method, std::string_view url, std::string_view headers = {}) noexcept;
  void send(std::string_view bytes) noexcept;
  void flush() noexcept;
  void watch() noexcept;
  void watch_udp() noexcept;
  void fail(const Status& reason) noexcept;
  std::uint8_t track_by_channel(int channel) const noexcept;
  std::uint8_t track_by_payload_type(std::uint8_t pt) const noexcept;

  PlayerThread& thread_;
  int fd_ = -1;
  int rtp_fd_ = -1;
  int rtcp_fd_ = -1;
  Phase phase_ = Phase::idle;
  bool wants_write_ = false;
  bool is_paced_ = false;
  bool is_udp_ = false;
  std::uint8_t setup_index_ = 0;  // the track the outstanding SETUP is for
  std::uint16_t client_rtp_port_ = 0;
  std::uint32_t cseq_ = 0;
  std::int64_t keepalive_every_us_ = 20'000'000;
  std::int64_t next_keepalive_us_ = 0;
  std::string url_;
  std::string control_url_;  // the aggregate URL PLAY and GET_PARAMETER go to
  std::string session_;
  std::string in_;   // RTSP text not parsed yet
  std::string out_;  // bytes the socket did not take yet (requests only)
  std::vector<Track> tracks_;
  // The `$` frame being read: its 4-byte header, then its first kInspectBytes, then the rest skipped.
  std::uint8_t frame_header_[4] = {};
  std::uint8_t frame_header_have_ = 0;  // 0: between frames; 1..3: reading the header; 4: in the body
  std::uint16_t frame_length_ = 0;
  std::uint16_t frame_have_ = 0;
  std::array<std::uint8_t, kInspectBytes> inspect_{};
  // Video timing: extended RTP timestamps.
  TimestampExtender video_clock_;
  std::int64_t first_video_ts_ = 0;
  std::int64_t last_video_ts_ = 0;
  std::int64_t last_key_ts_ = -1;
  bool has_video_ = false;
};

}  // namespace weir::bench
