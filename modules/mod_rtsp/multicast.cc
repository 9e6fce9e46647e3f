// SPDX-License-Identifier: Apache-2.0
#include "multicast.h"

#include "rtsp_config.h"
#include "rtsp_group.h"
#include "stream_out.h"

namespace weir::rtsp {

std::optional<UdpPeer> MulticastDirectory::acquire(const std::string& stream) {
  if (!config_.multicast_enabled()) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = streams_.find(stream);
  if (it == streams_.end()) {
    if (taken_.size() >= config_.multicast_size) return std::nullopt;
    // The next free address after the last one given: a stream that just stopped does not hand
    // its address to the next one at once (players of the old one may still be joined).
    std::uint32_t offset = next_;
    while (taken_.count(offset)) offset = (offset + 1) % config_.multicast_size;
    next_ = (offset + 1) % config_.multicast_size;
    taken_.emplace(offset, stream);
    it = streams_.emplace(stream, Entry{offset, 0}).first;
  }
  ++it->second.holders;
  const std::uint32_t host = config_.multicast_base + it->second.offset;
  UdpPeer peer;
  peer.family = 4;
  for (int i = 0; i < 4; ++i) peer.address[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(host >> (24 - 8 * i));
  return peer;
}

void MulticastDirectory::release(const std::string& stream) noexcept {
  std::lock_guard lock(mutex_);
  auto it = streams_.find(stream);
  if (it == streams_.end() || --it->second.holders > 0) return;
  taken_.erase(it->second.offset);
  streams_.erase(it);
}

MulticastOut::MulticastOut(RtspGroup& group, StreamKey key, UdpPeer address)
    : group_(group), key_(std::move(key)), address_(address), out_(group.stream_out(key_)) {}

MulticastOut::~MulticastOut() {
  // The group stays until the last member's goodbye: a player still joined learns it ended.
  if (auto byes = out_->goodbyes(); !byes.empty())
    for (std::size_t i = 0; i < byes.size(); ++i) send_rtcp(i, byes[i]);
}

Status MulticastOut::start() {
  auto subscription =
      group_.poll_group().streams().subscribe(key_, *this, SubscribeOptions{true, "rtsp multicast"});
  if (!subscription) return subscription.error();
  subscription_ = std::move(*subscription);
  group_.logger().info("group {}: {} multicast to {} (ports {} and up, ttl {})", group_.poll_group().id(),
                       key_.to_string(), address_.host(), group_.config().multicast_port, group_.config().multicast_ttl);
  schedule_reports();
  return ok();
}

bool MulticastOut::should_send(const PacketizedFrame& frame) noexcept {
  if (!frame.is_video) return true;
  UdpSocket* socket = group_.multicast_socket();
  const SenderState state = socket ? socket->stats().state : SenderState::hard_barrier;
  // As a UDP player: the stream starts at a key frame, and a socket that falls behind sheds
  // video up to the next one.
  if (frame.is_key && state == SenderState::ready) waiting_for_key_ = false;
  else if (state != SenderState::ready) waiting_for_key_ = true;
  return !waiting_for_key_;
}

void MulticastOut::send(const PacketizedFrame& frame) noexcept {
  UdpSocket* socket = group_.multicast_socket();
  if (!socket) return;
  const UdpPeer to = address_.with_port(static_cast<std::uint16_t>(group_.config().multicast_port + 2 * frame.track));
  for_each_packet(frame, [&](const PageSlice& packet) {
    PageSlice rtp_bytes = packet.sub(4, packet.length - 4);
    socket->send_to(to, std::span<const PageSlice>(&rtp_bytes, 1));
  });
}

void MulticastOut::on_frames(std::span<const MediaFrame> frames) noexcept {
  std::uint64_t payload_sent = 0, dropped = 0, sent = 0;
  for (const MediaFrame& frame : frames) {
    const PacketizedFrame* packets = out_->packetize(frame);
    if (!packets) continue;
    if (!should_send(*packets)) {
      dropped += packets->is_video;
      continue;
    }
    if (!reported_) {
      // Receivers tie the tracks' clocks together from the first sender reports.
      reported_ = true;
      send_reports();
    }
    send(*packets);
    ++sent;
    payload_sent += packets->payload_bytes;
  }
  if (subscription_) subscription_->count_delivery(payload_sent, dropped);
  group_.stats().add(group_.counters().frames_out, sent);
  group_.stats().add(group_.counters().frames_dropped, dropped);
  out_->mark_settled();
}

void MulticastOut::on_stream_event(StreamEvent event) noexcept {
  if (event == StreamEvent::published) {
    out_->on_republished();
    waiting_for_key_ = true;
    reported_ = false;
    return;
  }
  // Unpublished: the members' own players end their sessions (and leave); the group hears BYE.
  auto byes = out_->goodbyes();
  for (std::size_t i = 0; i < byes.size(); ++i) send_rtcp(i, byes[i]);
}

void MulticastOut::send_rtcp(std::size_t track, std::span<const std::uint8_t> with_prefix) noexcept {
  UdpSocket* socket = group_.multicast_socket();
  PageChain chain;
  if (!socket || with_prefix.size() <= 4 || !group_.packets().append(with_prefix.subspan(4), chain)) return;
  socket->send_to(address_.with_port(static_cast<std::uint16_t>(group_.config().multicast_port + 2 * track + 1)),
                  chain.slices());
}

void MulticastOut::send_reports() noexcept {
  for (std::size_t i = 0; i < out_->tracks().size(); ++i) send_rtcp(i, out_->sender_report(i));
}

void MulticastOut::schedule_reports() {
  report_timer_ = group_.poll_group().after(group_.config().sender_report_interval, [this] {
    send_reports();
    schedule_reports();
  });
}

}  // namespace weir::rtsp
