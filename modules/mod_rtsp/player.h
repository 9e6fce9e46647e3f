// SPDX-License-Identifier: Apache-2.0
#pragma once
// RtspPlayer: one RTSP session playing a live stream. It subscribes through the kernel like every
// player (statistics, hooks and fan-out are the kernel's), and sends the packets the group's
// StreamOut built for each frame:
//
//   TCP, usual channels (track t on 2t): the frame's packets as they are, one or two slices
//   TCP, other channels:                 per packet, its own 4-byte prefix + the shared RTP bytes
//   UDP:                                 per packet, one datagram from the group's RTP socket
//
// It subscribes at DESCRIBE (the SDP needs the stream's headers) and sends from PLAY on: first a
// sender report per track (players sync audio and video from it), then the GOP from its key frame.
//
// Backpressure as mod_rtmp: above the soft limit video is dropped up to the next key frame while
// audio goes on; a send refused at the hard limit closes the connection.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "stream_out.h"
#include "weir/stream.h"
#include "weir/udp.h"

namespace weir::rtsp {

class RtspSession;

/// How one track reaches the player.
struct TrackTransport {
  bool is_setup = false;
  bool udp = false;
  bool multicast = false;         // the stream's home group sends it (multicast.h), not the player
  std::uint8_t rtp_channel = 0;   // TCP
  std::uint8_t rtcp_channel = 1;
  UdpPeer rtp_peer;               // UDP: the client's ports
  UdpPeer rtcp_peer;
};

class RtspPlayer final : public StreamSubscriber {
 public:
  RtspPlayer(RtspSession& session, StreamKey key);
  ~RtspPlayer();

  /// Subscribes; Errc::not_found when nobody publishes the key and `wait` is false. `source`:
  /// where the stream may be pulled from (SubscribeOptions::source).
  Status subscribe(bool wait, std::string source = {});
  /// Subscribed with a source to pull from (its camera may take seconds to answer).
  bool is_pulled() const noexcept { return pulled_; }
  const StreamKey& key() const noexcept { return key_; }
  StreamOut& out() noexcept { return *out_; }
  /// The stream can be described (its headers came, or it is known to have none to wait for).
  bool is_describable() const noexcept;

  TrackTransport& transport(std::size_t track) { return transports_.at(track); }
  std::size_t set_up_tracks() const noexcept;
  /// "tcp", "udp" or "multicast": how the set-up tracks travel (labels, logs).
  std::string_view transport_name() const noexcept;
  /// Some set-up track travels over the RTSP connection.
  bool uses_tcp() const noexcept;
  bool uses_multicast() const noexcept;
  /// Starts (or resumes) sending: sender reports, then the GOP, then live frames.
  void play();
  void pause() noexcept { playing_ = false; }
  bool is_playing() const noexcept { return playing_; }

  void on_frames(std::span<const MediaFrame> frames) noexcept override;
  void on_stream_event(StreamEvent event) noexcept override;
  /// Sends a sender report on every set-up track (the session's timer).
  void send_sender_reports();
  /// Sends RTCP BYE on every set-up track (teardown, unpublish).
  void send_goodbyes();
  /// An RTCP packet from the player (receiver report): loss and jitter for statistics.
  void on_rtcp(std::span<const std::uint8_t> packet) noexcept;

  /// What the player's receiver reports said: packets lost (all tracks), interarrival jitter (ms).
  std::uint64_t packets_lost() const noexcept { return reported_lost_by_[0] + reported_lost_by_[1]; }
  double jitter_ms() const noexcept { return reported_jitter_ms_; }

 private:
  bool should_send(const PacketizedFrame& frame);
  SenderState send(const PacketizedFrame& frame);
  void send_rtcp(std::size_t track, std::span<const std::uint8_t> with_prefix);

  RtspSession& session_;
  const StreamKey key_;
  std::shared_ptr<StreamOut> out_;
  std::unique_ptr<Subscription> subscription_;
  std::array<TrackTransport, 4> transports_{};
  bool standard_channels_ = true;
  bool first_batch_seen_ = false;
  bool pulled_ = false;
  bool playing_ = false;
  bool waiting_for_key_ = true;
  bool coalescing_armed_ = false;
  std::uint64_t frames_sent_ = 0;
  std::uint64_t frames_dropped_ = 0;
  std::uint64_t reported_lost_by_[2] = {0, 0};  // audio, video
  double reported_jitter_ms_ = 0;
  std::vector<std::uint8_t> prefixed_;  // per-packet prefixes for non-standard channels
};

}  // namespace weir::rtsp
