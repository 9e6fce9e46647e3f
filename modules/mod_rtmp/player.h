// SPDX-License-Identifier: Apache-2.0
#pragma once
// Player: one NetStream playing a live stream. It subscribes to the stream and, for each frame,
// frames an RTMP message around the shared payload pages:
//
//   [chunk header: per player or shared][payload slice][type 3 header][payload slice]...
//
// The header is computed for this player (its own timeline and header compression state); when
// the bytes equal what another player of this group already built for the frame (the common case:
// a type 1 header with the same delta), that player's slices are sent again. So headers cost one
// page write per frame per group, and a page reference per slice per player.
//
// Backpressure: above the sender's soft limit, video is dropped up to the next key frame while
// audio and data go on (a viewer tolerates a frozen picture far better than broken sound); a send refused at the hard limit disconnects the player.

#include <array>
#include <memory>
#include <string>

#include "formats/rtmp/chunk_writer.h"
#include "weir/sender.h"
#include "weir/stream.h"

namespace weir::rtmp {

class RtmpSession;

class Player final : public StreamSubscriber {
 public:
  Player(RtmpSession& session, std::uint32_t stream_id, StreamKey key);
  ~Player();

  /// Subscribes and sends Play.Reset/Play.Start; Errc::not_found when nobody publishes the key
  /// and `wait` is false. A positive `duration_s` (play's third argument) ends playback after
  /// that long with NetStream.Play.Stop, as FMS does for live streams. `source`: where the
  /// stream may be pulled from (SubscribeOptions::source).
  Status start(bool wait, double duration_s, std::string source = {});
  std::uint32_t stream_id() const noexcept { return stream_id_; }
  const StreamKey& key() const noexcept { return key_; }

  void on_frames(std::span<const MediaFrame> frames) noexcept override;
  void on_stream_event(StreamEvent event) noexcept override;

  void pause(bool paused, double position_ms);
  void receive_audio(bool on) noexcept { audio_ = on; }
  void receive_video(bool on) noexcept {
    if (on && !video_) waiting_for_key_ = true;
    video_ = on;
  }
  /// Live streams cannot seek: the player continues at the live edge.
  void seek(double position_ms);

 private:
  enum Track { kAudio = 0, kVideo = 1, kData = 2 };
  bool should_send(const MediaFrame& frame);
  SenderState send_frame(const MediaFrame& frame);
  std::uint32_t timestamp_for(const MediaFrame& frame);

  RtmpSession& session_;
  const std::uint32_t stream_id_;
  const StreamKey key_;
  std::unique_ptr<Subscription> subscription_;
  std::unique_ptr<Timer> stop_timer_;
  std::array<formats::rtmp::ChunkStreamState, 3> chunk_states_{};
  bool has_base_ = false;
  std::int64_t base_dts_ = 0;
  std::int64_t last_dts_ = 0;
  std::uint32_t last_timestamp_ = 0;
  bool waiting_for_key_ = true;
  bool audio_ = true;
  bool video_ = true;
  bool paused_ = false;
  bool unpublished_ = false;
  bool coalescing_armed_ = false;
  std::uint64_t frames_sent_ = 0;
  std::uint64_t frames_dropped_ = 0;
};

}  // namespace weir::rtmp
