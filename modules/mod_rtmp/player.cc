// SPDX-License-Identifier: Apache-2.0
#include "player.h"

#include "formats/amf/amf0.h"
#include "formats/rtmp/control.h"
#include "session.h"

namespace weir::rtmp {
namespace wire = formats::rtmp;

namespace {
constexpr std::uint32_t kChunkStream[3] = {4, 6, 5};  // audio, video, data (commands use 2 and 3)
constexpr std::uint8_t kMessageType[3] = {wire::kMessageAudio, wire::kMessageVideo, wire::kMessageDataAmf0};
// A publisher whose time jumps back this far restarted (a new publisher, or one that reconnected).
constexpr std::int64_t kRestartThresholdMs = 1000;
}  // namespace

Player::Player(RtmpSession& session, std::uint32_t stream_id, StreamKey key)
    : session_(session), stream_id_(stream_id), key_(std::move(key)) {}

Player::~Player() = default;

Status Player::start(bool wait, double duration_s, std::string source) {
  auto subscription =
      session_.group().poll_group().streams().subscribe(key_, *this, SubscribeOptions{wait, "rtmp", std::move(source)});
  if (!subscription) return subscription.error();
  subscription_ = std::move(*subscription);
  Connection& c = session_.connection();
  const RtmpConfig& config = session_.group().config();
  session_.messages().send_user_control(wire::UserControlEvent::stream_begin, stream_id_);
  session_.messages().send_status(stream_id_, "status", "NetStream.Play.Reset", "Playing and resetting " + key_.name + ".");
  session_.messages().send_status(stream_id_, "status", "NetStream.Play.Start", "Started playing " + key_.name + ".");
  // |RtmpSampleAccess lets Flash players read the pixels and samples; Data.Start opens the data channel.
  std::vector<std::uint8_t> payload;
  formats::amf::Amf0Writer writer(payload);
  (void)writer.write_string("|RtmpSampleAccess");
  writer.write_boolean(true);
  writer.write_boolean(true);
  std::vector<std::uint8_t> out;
  wire::ChunkStreamState state;
  wire::append_message(out, state, {3, 0, static_cast<std::uint32_t>(payload.size()), wire::kMessageDataAmf0, stream_id_},
                       payload, config.out_chunk_size, wire::HeaderCompression::none);
  c.send_copy(out);
  if (duration_s > 0) {
    stop_timer_ = session_.group().poll_group().after(
        std::chrono::milliseconds(static_cast<std::int64_t>(duration_s * 1000)), [this] {
          subscription_.reset();  // a timer callback is outside any delivery: safe to leave now
          session_.messages().send_status(stream_id_, "status", "NetStream.Play.Stop", "Stopped playing " + key_.name + ".");
          session_.messages().send_user_control(wire::UserControlEvent::stream_eof, stream_id_);
        });
  }
  if (!subscription_->is_published() && wait)
    session_.logger().info("conn={} waiting for a publisher of {}", c.id(), key_.to_string());
  return ok();
}

void Player::on_stream_event(StreamEvent event) noexcept {
  if (event == StreamEvent::published) {
    if (unpublished_) {
      session_.messages().send_user_control(wire::UserControlEvent::stream_begin, stream_id_);
      session_.messages().send_status(stream_id_, "status", "NetStream.Play.PublishNotify", key_.name + " is now published.");
    }
    unpublished_ = false;
    waiting_for_key_ = true;
    return;
  }
  unpublished_ = true;
  session_.messages().send_status(stream_id_, "status", "NetStream.Play.UnpublishNotify", key_.name + " is now unpublished.");
  session_.messages().send_user_control(wire::UserControlEvent::stream_eof, stream_id_);
}

void Player::pause(bool paused, double position_ms) {
  paused_ = paused;
  if (!paused) waiting_for_key_ = true;
  session_.messages().send_status(stream_id_, "status", paused ? "NetStream.Pause.Notify" : "NetStream.Unpause.Notify",
                       format("{} {} at {} ms", paused ? "Paused" : "Unpaused", key_.name, position_ms));
}

void Player::seek(double position_ms) {
  waiting_for_key_ = true;
  session_.messages().send_status(stream_id_, "status", "NetStream.Seek.Notify",
                       format("Seeking {} ms: {} is live, playing from the live edge.", position_ms, key_.name));
  session_.messages().send_status(stream_id_, "status", "NetStream.Play.Start", "Started playing " + key_.name + ".");
}

bool Player::should_send(const MediaFrame& frame) {
  if (paused_) return false;
  if (frame.kind == MediaKind::audio) return audio_;
  if (frame.kind != MediaKind::video) return true;
  if (!video_) return false;
  if (frame.flags.is_sequence_header) return true;
  SenderState state = session_.connection().sender_state();
  if (frame.flags.is_key_frame && state == SenderState::ready) {
    waiting_for_key_ = false;
    return true;
  }
  // Behind (or resuming): drop video up to the next key frame; audio and data keep flowing.
  if (state != SenderState::ready) waiting_for_key_ = true;
  return !waiting_for_key_;
}

std::uint32_t Player::timestamp_for(const MediaFrame& frame) {
  bool is_header = frame.flags.is_sequence_header || frame.flags.is_metadata;
  if (!has_base_) {
    if (is_header) return 0;
    has_base_ = true;
    base_dts_ = frame.dts_ms;
  } else if (frame.dts_ms + kRestartThresholdMs < last_dts_) {
    // The publisher restarted its clock: keep this player's timeline going forward.
    base_dts_ = frame.dts_ms - static_cast<std::int64_t>(last_timestamp_);
  }
  if (!is_header) last_dts_ = std::max(last_dts_, frame.dts_ms);
  std::int64_t t = frame.dts_ms - base_dts_;
  std::uint32_t timestamp = t > 0 ? static_cast<std::uint32_t>(t) : 0;
  if (timestamp > last_timestamp_) last_timestamp_ = timestamp;
  return timestamp;
}

void Player::on_frames(std::span<const MediaFrame> frames) noexcept {
  RtmpGroup& group = session_.group();
  // The replies to play and the cache replay leave at the end of this turn; only then does the
  // coalescing interval apply, so batching never delays Play.Start or the first picture.
  bool arm_coalescing = !coalescing_armed_;
  // The batch's figures, counted here and added once per batch (to the subscription, the
  // connection and the group's counters): nothing per frame but the frame's own work.
  std::uint64_t payload_sent = 0, sent = 0, dropped = 0;
  auto count_batch = [&] {
    if (subscription_) subscription_->count_delivery(payload_sent, dropped);
    session_.connection().count_frames_dropped(dropped);
    Stats& stats = group.stats();
    stats.add(group.counters().frames_out, sent);
    stats.add(group.counters().frames_dropped, dropped);
  };
  for (const MediaFrame& frame : frames) {
    if (!session_.connection().is_open()) return count_batch();
    if (!should_send(frame)) {
      if (frame.kind == MediaKind::video && !paused_ && video_) {
        ++frames_dropped_;
        ++dropped;
      }
      continue;
    }
    if (send_frame(frame) == SenderState::hard_barrier) {
      count_batch();
      group.stats().add(group.counters().slow_players_closed);
      session_.fail(error(Errc::limit, "player of {} too slow: its send queue reached the hard limit ({} frames sent, {} dropped)",
                          key_.to_string(), frames_sent_, frames_dropped_));
      return;
    }
    ++frames_sent_;
    ++sent;
    if (frame.kind != MediaKind::data && !frame.flags.is_sequence_header) payload_sent += frame.payload.size();
  }
  count_batch();
  if (arm_coalescing && group.config().play_coalescing.count() >= 0) {
    session_.connection().set_coalescing(group.config().play_coalescing);
    coalescing_armed_ = true;
  }
}

SenderState Player::send_frame(const MediaFrame& frame) {
  RtmpGroup& group = session_.group();
  Connection& connection = session_.connection();
  int track = frame.kind == MediaKind::audio ? kAudio : frame.kind == MediaKind::video ? kVideo : kData;
  // Audio and data ride with the next video frame: one write per player per video frame. Video,
  // and everything of a player that takes no video, is bounded by the sender's hold time.
  const SendUrgency urgency = frame.kind == MediaKind::video ? SendUrgency::now : SendUrgency::may_wait;
  const std::uint32_t timestamp = timestamp_for(frame);
  wire::ChunkStreamState before = chunk_states_[track];
  if (const SharedFraming* shared = group.reuse_framing(frame, chunk_states_[track], timestamp)) {
    SenderState state = connection.send(shared->chain, urgency);
    if (state == SenderState::hard_barrier) chunk_states_[track] = before;
    return state;
  }
  const std::uint32_t chunk_size = group.config().out_chunk_size;
  const auto length = static_cast<std::uint32_t>(frame.payload.size());
  wire::MessageHeader header{kChunkStream[track], timestamp, length, kMessageType[track], stream_id_};
  wire::MessageFraming framing = wire::frame_message(chunk_states_[track], header, chunk_size);
  auto first = framing.first_header();
  auto continuation = framing.continuation_header();
  if (const SharedFraming* shared = group.find_framing(frame, first, continuation)) {
    SenderState state = connection.send(shared->chain, urgency);
    if (state == SenderState::hard_barrier) chunk_states_[track] = before;
    else group.remember_step(frame, before, chunk_states_[track], *shared);
    return state;
  }

  // Build this framing once; the next players with the same header bytes reuse it.
  SharedFraming built;
  PageChain& chain = built.chain;
  PageChain continuation_slice;
  bool ok = group.framing().append(first, chain);
  if (ok && framing.chunk_count() > 1) ok = group.framing().append(continuation, continuation_slice);
  std::uint32_t in_chunk = 0;
  for (const PageSlice& slice : frame.payload.slices()) {
    if (!ok) break;
    std::uint32_t at = 0;
    while (at < slice.length) {
      if (in_chunk == chunk_size) {
        chain.append(continuation_slice);
        in_chunk = 0;
      }
      std::uint32_t n = std::min(slice.length - at, chunk_size - in_chunk);
      chain.append(slice.sub(at, n));
      at += n;
      in_chunk += n;
    }
  }
  if (!ok) {  // no page for 20 bytes of header: the pool is exhausted; skip the frame, resync later
    chunk_states_[track] = before;
    waiting_for_key_ = true;
    return connection.sender_state();
  }
  if (!frame.payload.slices().empty()) {
    built.page = frame.payload.slices().front().page.get();
    built.offset = frame.payload.slices().front().offset;
    built.header_size = static_cast<std::uint8_t>(first.size());
    std::copy(first.begin(), first.end(), built.header.begin());
    built.continuation_size = static_cast<std::uint8_t>(continuation.size());
    std::copy(continuation.begin(), continuation.end(), built.continuation.begin());
  }
  SenderState state = connection.send(chain, urgency);
  if (state == SenderState::hard_barrier) {
    chunk_states_[track] = before;
    if (built.page) group.remember_framing(std::move(built));
  } else if (built.page) {
    group.remember_step(frame, before, chunk_states_[track], group.remember_framing(std::move(built)));
  }
  return state;
}

}  // namespace weir::rtmp
