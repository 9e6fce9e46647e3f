// SPDX-License-Identifier: Apache-2.0
#include "player.h"

#include "formats/rtp/rtcp.h"
#include "rtsp_group.h"
#include "session.h"

namespace weir::rtsp {
namespace rtp = formats::rtp;

RtspPlayer::RtspPlayer(RtspSession& session, StreamKey key)
    : session_(session), key_(std::move(key)), out_(session.group().stream_out(key_)) {}

RtspPlayer::~RtspPlayer() = default;

Status RtspPlayer::subscribe(bool wait, std::string source) {
  pulled_ = !source.empty();
  auto subscription =
      session_.group().poll_group().streams().subscribe(key_, *this, SubscribeOptions{wait, "rtsp", std::move(source)});
  if (!subscription) return subscription.error();
  subscription_ = std::move(*subscription);
  return ok();
}

bool RtspPlayer::is_describable() const noexcept {
  return first_batch_seen_ && out_->can_describe(session_.group().poll_group().now());
}

std::size_t RtspPlayer::set_up_tracks() const noexcept {
  std::size_t n = 0;
  for (const TrackTransport& t : transports_) n += t.is_setup;
  return n;
}

std::string_view RtspPlayer::transport_name() const noexcept {
  if (uses_multicast()) return "multicast";
  return uses_tcp() ? "tcp" : "udp";
}

bool RtspPlayer::uses_tcp() const noexcept {
  for (const TrackTransport& t : transports_)
    if (t.is_setup && !t.udp && !t.multicast) return true;
  return false;
}

bool RtspPlayer::uses_multicast() const noexcept {
  for (const TrackTransport& t : transports_)
    if (t.is_setup && t.multicast) return true;
  return false;
}

void RtspPlayer::play() {
  standard_channels_ = true;
  for (std::size_t i = 0; i < transports_.size(); ++i) {
    const TrackTransport& t = transports_[i];
    if (t.is_setup && !t.udp && (t.rtp_channel != 2 * i || t.rtcp_channel != 2 * i + 1)) standard_channels_ = false;
  }
  const bool resuming = frames_sent_ > 0;
  playing_ = true;
  waiting_for_key_ = true;
  send_sender_reports();
  if (resuming) return;  // a resumed player continues at the next key frame
  // The GOP: from its key frame, with the numbering every player of the group shares.
  for (const PacketizedFrame& frame : out_->gop()) {
    if (!should_send(frame)) continue;
    if (send(frame) == SenderState::hard_barrier) return;
  }
}

bool RtspPlayer::should_send(const PacketizedFrame& frame) {
  if (!playing_ || frame.track >= transports_.size() || !transports_[frame.track].is_setup) return false;
  if (transports_[frame.track].multicast) return false;
  if (!frame.is_video) return true;  // audio flows even while video waits for a key frame
  // UDP players share their group's socket: when its queue is long, all of them shed video.
  UdpSocket* socket = transports_[frame.track].udp ? session_.group().rtp_socket() : nullptr;
  SenderState state = socket ? socket->stats().state : session_.sender_state();
  if (frame.is_key && state == SenderState::ready) {
    waiting_for_key_ = false;
    return true;
  }
  // Behind (or starting): drop video up to the next key frame; audio keeps flowing.
  if (state != SenderState::ready) waiting_for_key_ = true;
  return !waiting_for_key_;
}

SenderState RtspPlayer::send(const PacketizedFrame& frame) {
  const TrackTransport& transport = transports_[frame.track];
  // Audio rides with the next video frame (one write per player per video frame), as in mod_rtmp.
  const SendUrgency urgency = frame.is_video ? SendUrgency::now : SendUrgency::may_wait;
  if (transport.udp) {
    UdpSocket* socket = session_.group().rtp_socket();
    if (!socket) return SenderState::ready;
    SenderState state = SenderState::ready;
    for_each_packet(frame, [&](const PageSlice& packet) {
      PageSlice rtp_bytes = packet.sub(4, packet.length - 4);
      state = socket->send_to(transport.rtp_peer, std::span<const PageSlice>(&rtp_bytes, 1));
    });
    ++frames_sent_;
    return state == SenderState::hard_barrier ? SenderState::overloaded : state;
  }
  Connection& connection = session_.connection();
  SenderState state;
  if (standard_channels_) {
    state = connection.send(frame.bytes, urgency);
  } else {
    // This player chose its own channels: a prefix of its own per packet, the RTP bytes shared.
    PageChain chain;
    bool written = true;
    for_each_packet(frame, [&](const PageSlice& packet) {
      if (!written) return;
      std::uint8_t prefix[4] = {'$', transport.rtp_channel, packet.data()[2], packet.data()[3]};
      written = session_.group().packets().append(std::span<const std::uint8_t>(prefix), chain);
      chain.append(packet.sub(4, packet.length - 4));
    });
    if (!written) {
      waiting_for_key_ = true;  // no page for the prefixes: skip the frame, resync at a key frame
      return connection.sender_state();
    }
    state = connection.send(chain, urgency);
  }
  if (state != SenderState::hard_barrier) ++frames_sent_;
  return state;
}

void RtspPlayer::on_frames(std::span<const MediaFrame> frames) noexcept {
  RtspGroup& group = session_.group();
  std::uint64_t payload_sent = 0, sent = 0, dropped = 0;
  auto count_batch = [&] {
    if (subscription_) subscription_->count_delivery(payload_sent, dropped);
    session_.connection().count_frames_dropped(dropped);
    group.stats().add(group.counters().frames_out, sent);
    group.stats().add(group.counters().frames_dropped, dropped);
  };
  const bool was_first = !first_batch_seen_;
  first_batch_seen_ = true;
  for (const MediaFrame& frame : frames) {
    // Every frame is packetized, playing or not: the group's GOP must hold what players joining
    // later start from.
    const PacketizedFrame* packets = out_->packetize(frame);
    if (!packets || !session_.connection().is_open()) continue;
    if (!should_send(*packets)) {
      if (playing_ && packets->is_video && packets->track < transports_.size() && transports_[packets->track].is_setup &&
          !transports_[packets->track].multicast) {
        ++frames_dropped_;
        ++dropped;
      }
      continue;
    }
    if (send(*packets) == SenderState::hard_barrier) {
      count_batch();
      group.stats().add(group.counters().slow_players_closed);
      session_.fail(error(Errc::limit, "player of {} too slow: its send queue reached the hard limit ({} frames sent, {} dropped)",
                          key_.to_string(), frames_sent_, frames_dropped_));
      return;
    }
    ++sent;
    payload_sent += packets->payload_bytes;
  }
  count_batch();
  if (was_first) out_->mark_settled();
  session_.on_stream_ready();  // a DESCRIBE waiting for the headers may go on (a flag test otherwise)
  if (playing_ && !coalescing_armed_ && group.config().play_coalescing.count() >= 0) {
    session_.connection().set_coalescing(group.config().play_coalescing);
    coalescing_armed_ = true;
  }
}

void RtspPlayer::on_stream_event(StreamEvent event) noexcept {
  if (event == StreamEvent::published) {
    out_->on_republished();
    waiting_for_key_ = true;
    return;
  }
  // Gone for longer than the grace period: RTSP has no way to say "wait", so the session ends.
  send_goodbyes();
  session_.end(Status(Errc::closed, key_.to_string() + " was unpublished"));
}

void RtspPlayer::send_rtcp(std::size_t track, std::span<const std::uint8_t> with_prefix) {
  if (with_prefix.size() <= 4 || track >= transports_.size() || !transports_[track].is_setup) return;
  if (transports_[track].multicast) return;  // the home group reports to the multicast group
  const TrackTransport& transport = transports_[track];
  if (transport.udp) {
    UdpSocket* socket = session_.group().rtcp_socket();
    PageChain chain;
    if (!socket || !session_.group().packets().append(with_prefix.subspan(4), chain)) return;
    socket->send_to(transport.rtcp_peer, chain.slices());
    return;
  }
  if (transport.rtcp_channel == with_prefix[1]) {
    session_.connection().send_copy(with_prefix);
    return;
  }
  std::vector<std::uint8_t> copy(with_prefix.begin(), with_prefix.end());
  copy[1] = transport.rtcp_channel;
  session_.connection().send_copy(copy);
}

void RtspPlayer::send_sender_reports() {
  for (std::size_t i = 0; i < out_->tracks().size() && i < transports_.size(); ++i)
    send_rtcp(i, out_->sender_report(i));
}

void RtspPlayer::send_goodbyes() {
  auto byes = out_->goodbyes();
  for (std::size_t i = 0; i < byes.size() && i < transports_.size(); ++i) send_rtcp(i, byes[i]);
}

void RtspPlayer::on_rtcp(std::span<const std::uint8_t> packet) noexcept {
  auto parsed = rtp::parse_rtcp(packet);
  if (!parsed) return;
  bool changed = false;
  for (const rtp::ReceiverReport& report : parsed->receiver_reports)
    for (const rtp::ReportBlock& block : report.reports)
      for (const TrackOut& track : out_->tracks()) {
        if (track.ssrc != block.ssrc) continue;
        // Loss summed over tracks; jitter of the video track (or the only one), in ms.
        reported_lost_by_[track.kind == MediaKind::video] = static_cast<std::uint64_t>(std::max(block.cumulative_lost, 0));
        if (track.kind == MediaKind::video || out_->tracks().size() == 1)
          reported_jitter_ms_ = track.clock_rate ? block.jitter * 1000.0 / track.clock_rate : 0;
        changed = true;
      }
  if (!changed) return;
  // What an operator sees for this connection in mod_stats (the label): the player's own report.
  session_.connection().set_label(format("play {} (rtsp {}, lost {}, jitter {} ms)", key_.to_string(),
                                         transport_name(), packets_lost(),
                                         static_cast<int>(reported_jitter_ms_ + 0.5)));
}

}  // namespace weir::rtsp
