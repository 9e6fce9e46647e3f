// SPDX-License-Identifier: Apache-2.0
#include "rtsp_player.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "latency_stamp.h"
#include "player_thread.h"

namespace weir::bench {
namespace {

// recv() calls per readiness event, as the RTMP players: enough to drain, few enough to be fair.
constexpr int kReadsPerEvent = 4;
// Datagrams per recvmmsg() and the most bytes of each kept (the rest is counted, not copied).
constexpr unsigned kBatch = 32;
constexpr std::size_t kSlotBytes = 8 * 1024;
// Channels standing for the UDP sockets in on_packet().
constexpr int kUdpRtp = -1;
constexpr int kUdpRtcp = -2;
constexpr std::int64_t kKeepaliveUs = 20'000'000;

}  // namespace

RtspPlayer::RtspPlayer(PlayerThread& thread, std::uint32_t index, std::string url)
    : PlayerBase(index), thread_(thread), url_(std::move(url)) {}

RtspPlayer::~RtspPlayer() {
  for (int fd : {fd_, rtp_fd_, rtcp_fd_})
    if (fd >= 0) ::close(fd);
}

void RtspPlayer::start() noexcept {
  connect_at_us = thread_.now_us();
  is_udp_ = thread_.settings().rtsp_transport == RtspTransport::udp;
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    fail(error(Errc::io, "socket: {}", std::strerror(errno)));
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const sockaddr_in& server = thread_.settings().server;
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0 && errno != EINPROGRESS) {
    fail(error(Errc::io, "connect: {}", std::strerror(errno)));
    return;
  }
  phase_ = Phase::connecting;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT;
  event.data.u64 = epoll_key(kControl);
  wants_write_ = true;
  if (::epoll_ctl(thread_.epoll_fd(), EPOLL_CTL_ADD, fd_, &event) != 0)
    fail(error(Errc::io, "epoll_ctl: {}", std::strerror(errno)));
}

void RtspPlayer::on_event(std::uint32_t events, unsigned tag) noexcept {
  if (fd_ < 0) return;
  if (tag == kControl) {
    if (phase_ == Phase::connecting) {
      finish_connect();
      return;
    }
    if (events & EPOLLOUT) flush();
    if (fd_ >= 0 && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) read_stream(thread_.receive_buffer().size(), kReadsPerEvent);
    return;
  }
  if (events & (EPOLLIN | EPOLLERR)) read_datagrams(tag == kRtp ? rtp_fd_ : rtcp_fd_, false);
}

void RtspPlayer::read_paced() noexcept {
  if (fd_ < 0) return;
  if (!is_udp_) {
    read_stream(thread_.settings().read_size_bytes, std::numeric_limits<int>::max());
    return;
  }
  read_datagrams(rtp_fd_, true);
  if (fd_ >= 0) read_datagrams(rtcp_fd_, true);
}

void RtspPlayer::finish_connect() noexcept {
  int err = 0;
  socklen_t length = sizeof err;
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &length);
  if (err != 0) {
    fail(error(Errc::io, "connect: {}", std::strerror(err)));
    return;
  }
  thread_.control().connected.fetch_add(1, std::memory_order_relaxed);
  phase_ = Phase::options_sent;
  wants_write_ = false;
  watch();
  request("OPTIONS", url_);
}

void RtspPlayer::read_stream(std::size_t piece_bytes, int max_reads) noexcept {
  std::span<std::uint8_t> buffer = thread_.receive_buffer().first(piece_bytes);
  for (int i = 0; i < max_reads && fd_ >= 0; ++i) {
    ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n > 0) {
      if (Status status = on_stream_bytes(buffer.first(static_cast<std::size_t>(n))); !status) {
        fail(status);
        return;
      }
      if (static_cast<std::size_t>(n) < buffer.size()) return;  // drained
      continue;
    }
    if (n == 0) {
      fail(Status(Errc::closed, "the server closed the connection"));
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) fail(error(Errc::io, "recv: {}", std::strerror(errno)));
    return;
  }
}

void RtspPlayer::read_datagrams(int fd, bool until_empty) noexcept {
  if (fd < 0) return;
  std::span<std::uint8_t> buffer = thread_.receive_buffer();
  const unsigned slots = static_cast<unsigned>(std::min<std::size_t>(kBatch, buffer.size() / kSlotBytes));
  mmsghdr messages[kBatch];
  iovec pieces[kBatch];
  for (int call = 0; until_empty || call < kReadsPerEvent; ++call) {
    for (unsigned i = 0; i < slots; ++i) {
      pieces[i] = {buffer.data() + i * kSlotBytes, kSlotBytes};
      messages[i] = {};
      messages[i].msg_hdr.msg_iov = &pieces[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    // MSG_TRUNC: msg_len is a datagram's real length even when only kSlotBytes of it were kept.
    int n = ::recvmmsg(fd, messages, slots, MSG_DONTWAIT | MSG_TRUNC, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) fail(error(Errc::io, "recvmmsg: {}", std::strerror(errno)));
      return;
    }
    for (int i = 0; i < n; ++i) {
      const std::size_t length = messages[i].msg_len;
      on_packet(fd == rtp_fd_ ? kUdpRtp : kUdpRtcp,
                buffer.subspan(static_cast<std::size_t>(i) * kSlotBytes, std::min(length, kSlotBytes)), length);
    }
    if (static_cast<unsigned>(n) < slots) return;  // drained
  }
}

Status RtspPlayer::on_stream_bytes(std::span<const std::uint8_t> bytes) noexcept {
  while (!bytes.empty()) {
    if (frame_header_have_ == 4) {  // in a frame's body
      const std::size_t take = std::min<std::size_t>(bytes.size(), frame_length_ - frame_have_);
      if (frame_have_ < kInspectBytes) {
        const std::size_t keep = std::min(take, kInspectBytes - frame_have_);
        std::memcpy(inspect_.data() + frame_have_, bytes.data(), keep);
      }
      frame_have_ = static_cast<std::uint16_t>(frame_have_ + take);
      bytes = bytes.subspan(take);
      if (frame_have_ == frame_length_) {
        frame_header_have_ = 0;
        on_packet(frame_header_[1], std::span<const std::uint8_t>(inspect_).first(std::min<std::size_t>(frame_length_, kInspectBytes)),
                  frame_length_);
      }
      continue;
    }
    if (frame_header_have_ > 0) {  // in a frame's header
      while (frame_header_have_ < 4 && !bytes.empty()) {
        frame_header_[frame_header_have_++] = bytes.front();
        bytes = bytes.subspan(1);
      }
      if (frame_header_have_ == 4) {
        frame_length_ = static_cast<std::uint16_t>(frame_header_[2] << 8 | frame_header_[3]);
        frame_have_ = 0;
        if (frame_length_ == 0) frame_header_have_ = 0;
      }
      continue;
    }
    if (in_.empty() && bytes.front() == '$') {
      frame_header_[0] = '$';
      frame_header_have_ = 1;
      bytes = bytes.subspan(1);
      continue;
    }
    std::size_t used = 0;
    WEIR_TRY(on_text(bytes, used));
    bytes = bytes.subspan(used);
  }
  return ok();
}

Status RtspPlayer::on_text(std::span<const std::uint8_t> bytes, std::size_t& used) noexcept {
  const std::size_t before = in_.size();
  in_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto parsed = parse_rtsp_response(in_);
  if (!parsed) return parsed.error();
  if (!*parsed) {
    used = bytes.size();
    return ok();
  }
  const RtspResponse& response = **parsed;
  used = response.length - before;
  Status status = response.status == 0 ? ok() : on_response(response);  // a request from the server: ignored
  in_.clear();
  if (phase_ == Phase::playing) std::string().swap(in_);  // rare from now on: give the memory back
  return status;
}

Status RtspPlayer::on_response(const RtspResponse& response) noexcept {
  const bool good = response.status >= 200 && response.status < 300;
  switch (phase_) {
    case Phase::options_sent:  // OPTIONS is a courtesy: go on whatever it said
      phase_ = Phase::describe_sent;
      request("DESCRIBE", url_, "Accept: application/sdp\r\n");
      return ok();
    case Phase::describe_sent: {
      if (!good) return error(Errc::not_found, "DESCRIBE {}: {} {}", url_, response.status, response.reason);
      auto sdp = parse_sdp(response.body);
      if (!sdp) return sdp.error().with_context("DESCRIBE");
      std::string_view base = response.header("Content-Base");
      if (base.empty()) base = response.header("Content-Location");
      std::string base_url(base.empty() ? std::string_view(url_) : base);
      control_url_ = resolve_control(base_url, sdp->control);
      for (const SdpMedia& media : sdp->media) {
        if (media.type != "video" && media.type != "audio") continue;
        Track track;
        track.url = resolve_control(base_url, media.control);
        track.payload_type = static_cast<std::uint8_t>(media.payload_type);
        track.is_video = media.type == "video";
        if (media.clock_rate) track.clock_rate = media.clock_rate;
        tracks_.push_back(std::move(track));
      }
      if (tracks_.empty() || tracks_.size() > 4) return error(Errc::unsupported, "DESCRIBE: {} audio/video tracks", tracks_.size());
      std::string().swap(url_);  // not needed any more: control_url_ and the tracks' URLs are
      phase_ = Phase::setup_sent;
      setup_index_ = 0;
      return send_setup();
    }
    case Phase::setup_sent: {
      if (!good) return error(Errc::denied, "SETUP {}: {} {}", tracks_[setup_index_].url, response.status, response.reason);
      if (session_.empty()) {
        SessionHeader session = parse_session(response.header("Session"));
        if (session.id.empty()) return error(Errc::malformed, "SETUP: no Session header");
        session_ = session.id;
        if (session.timeout_s > 0)
          keepalive_every_us_ = std::min<std::int64_t>(kKeepaliveUs, std::int64_t{session.timeout_s} * 500'000);
      }
      TransportReply transport = parse_transport(response.header("Transport"));
      Track& track = tracks_[setup_index_];
      if (!is_udp_) track.channel = transport.interleaved_rtp >= 0 ? transport.interleaved_rtp : 2 * setup_index_;
      // The track's URL served its purpose; PLAY and keepalives use the aggregate one.
      std::string().swap(track.url);
      if (++setup_index_ < tracks_.size()) return send_setup();
      phase_ = Phase::play_sent;
      play_sent_at_us = thread_.now_us();
      request("PLAY", control_url_, "Session: " + session_ + "\r\nRange: npt=0.000-\r\n");
      return ok();
    }
    case Phase::play_sent:
      if (!good) return error(Errc::denied, "PLAY {}: {} {}", control_url_, response.status, response.reason);
      play_start_at_us = thread_.now_us();
      next_keepalive_us_ = play_start_at_us + keepalive_every_us_;
      phase_ = Phase::playing;
      if (thread_.settings().read == ReadMode::paced) {
        is_paced_ = true;
        watch();
        if (is_udp_) watch_udp();
      }
      thread_.on_playing(*this);
      return ok();
    case Phase::playing:  // a keepalive's answer: only a lost session matters
      if (response.status == 454) return error(Errc::closed, "keepalive: 454 Session Not Found");
      return ok();
    default:
      return ok();
  }
}

Status RtspPlayer::send_setup() noexcept {
  std::string headers = "Transport: ";
  if (is_udp_) {
    if (rtp_fd_ < 0) WEIR_TRY(open_udp_pair());
    headers += "RTP/AVP;unicast;client_port=" + std::to_string(client_rtp_port_) + "-" +
               std::to_string(client_rtp_port_ + 1);
  } else {
    headers += "RTP/AVP/TCP;unicast;interleaved=" + std::to_string(2 * setup_index_) + "-" +
               std::to_string(2 * setup_index_ + 1);
  }
  headers += "\r\n";
  if (!session_.empty()) headers += "Session: " + session_ + "\r\n";
  request("SETUP", tracks_[setup_index_].url, headers);
  return ok();
}

Status RtspPlayer::open_udp_pair() noexcept {
  // RTP on an even port, RTCP on the next (RFC 3550 §11): bind RTP anywhere, keep it if even and
  // its neighbour is free, else try again.
  for (int attempt = 0; attempt < 64; ++attempt) {
    int rtp = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (rtp < 0) return error(Errc::io, "udp socket: {}", std::strerror(errno));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    socklen_t size = sizeof address;
    if (::bind(rtp, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(rtp, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      ::close(rtp);
      return error(Errc::io, "udp bind: {}", std::strerror(errno));
    }
    const std::uint16_t port = ntohs(address.sin_port);
    if (port % 2 != 0 || port == 65535) {
      ::close(rtp);
      continue;
    }
    int rtcp = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (rtcp < 0) {
      ::close(rtp);
      return error(Errc::io, "udp socket: {}", std::strerror(errno));
    }
    address.sin_port = htons(static_cast<std::uint16_t>(port + 1));
    if (::bind(rtcp, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(rtp);
      ::close(rtcp);
      continue;
    }
    rtp_fd_ = rtp;
    rtcp_fd_ = rtcp;
    client_rtp_port_ = port;
    const std::uint32_t wanted = thread_.settings().read == ReadMode::paced ? 0u : static_cast<std::uint32_t>(EPOLLIN);
    for (auto [fd, tag] : {std::pair{rtp_fd_, kRtp}, std::pair{rtcp_fd_, kRtcp}}) {
      epoll_event event{};
      event.events = wanted;
      event.data.u64 = epoll_key(tag);
      if (::epoll_ctl(thread_.epoll_fd(), EPOLL_CTL_ADD, fd, &event) != 0)
        return error(Errc::io, "epoll_ctl: {}", std::strerror(errno));
    }
    return ok();
  }
  return error(Errc::io, "no free even/odd UDP port pair after 64 tries");
}

void RtspPlayer::on_packet(int channel, std::span<const std::uint8_t> inspect, std::size_t length) noexcept {
  counters_.bytes += length;
  if (channel == kUdpRtcp || (channel >= 0 && channel % 2 == 1)) return;  // RTCP (sender reports): counted only
  auto header = parse_rtp_header(inspect);
  if (!header) return;
  const std::uint8_t index = channel == kUdpRtp ? track_by_payload_type(header->payload_type) : track_by_channel(channel);
  if (index == kNoTrack) return;
  Track& track = tracks_[index];
  const std::uint64_t expected_before = track.sequence.expected();
  track.sequence.on_packet(header->sequence);
  ++counters_.rtp_packets;
  counters_.rtp_expected += track.sequence.expected() - expected_before;
  if (track.is_video) {
    on_video(*header, inspect.subspan(header->payload_offset), track.clock_rate);
  } else {
    ++counters_.audio_frames;
  }
}

void RtspPlayer::on_video(const RtpHeader& header, std::span<const std::uint8_t> payload,
                          std::uint32_t clock) noexcept {
  const std::int64_t ts = video_clock_.extend(header.timestamp);
  if (!has_video_ || ts != last_video_ts_) {  // a new timestamp: a new frame (access unit)
    if (!has_video_) {
      has_video_ = true;
      first_video_ts_ = ts;
      first_video_ms = 0;
    }
    last_video_ts_ = ts;
    ++counters_.video_frames;
    counters_.last_video_ms = (ts - first_video_ts_) * 1000 / clock;
  }
  if (ts != last_key_ts_ && h264_starts_idr(payload)) {
    last_key_ts_ = ts;
    ++counters_.key_frames;
    if (first_key_at_us == 0) {
      first_key_at_us = thread_.now_us();
      thread_.on_first_key_frame(*this);
    }
  }
  if (thread_.is_measuring())
    if (auto sent = h264_find_stamp(payload)) thread_.record_delay(thread_.now_us() - static_cast<std::int64_t>(*sent));
}

std::uint8_t RtspPlayer::track_by_channel(int channel) const noexcept {
  for (std::size_t i = 0; i < tracks_.size(); ++i)
    if (tracks_[i].channel == channel) return static_cast<std::uint8_t>(i);
  return kNoTrack;
}

std::uint8_t RtspPlayer::track_by_payload_type(std::uint8_t pt) const noexcept {
  for (std::size_t i = 0; i < tracks_.size(); ++i)
    if (tracks_[i].payload_type == pt) return static_cast<std::uint8_t>(i);
  return kNoTrack;
}

void RtspPlayer::tick(std::int64_t now_us) noexcept {
  if (phase_ != Phase::playing || fd_ < 0 || now_us < next_keepalive_us_) return;
  next_keepalive_us_ = now_us + keepalive_every_us_;
  request("GET_PARAMETER", control_url_, "Session: " + session_ + "\r\n");
}

void RtspPlayer::request(std::string_view method, std::string_view url, std::string_view headers) noexcept {
  std::string text;
  append_rtsp_request(text, method, url, ++cseq_, headers);
  send(text);
}

void RtspPlayer::send(std::string_view bytes) noexcept {
  if (fd_ < 0 || bytes.empty()) return;
  if (out_.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      fail(error(Errc::io, "send: {}", std::strerror(errno)));
      return;
    }
    std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (sent == bytes.size()) return;
    bytes = bytes.substr(sent);
  }
  out_.append(bytes);
  if (!wants_write_) {
    wants_write_ = true;
    watch();
  }
}

void RtspPlayer::flush() noexcept {
  while (!out_.empty()) {
    ssize_t n = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) fail(error(Errc::io, "send: {}", std::strerror(errno)));
      return;
    }
    out_.erase(0, static_cast<std::size_t>(n));
  }
  std::string().swap(out_);
  if (wants_write_) {
    wants_write_ = false;
    watch();
  }
}

void RtspPlayer::watch() noexcept {
  // Paced over TCP: the media arrive on this socket, so it leaves epoll's read set; over UDP it
  // only carries the rare keepalive answer and stays.
  const bool reads = !is_paced_ || is_udp_;
  epoll_event event{};
  event.events = (reads ? static_cast<std::uint32_t>(EPOLLIN) : 0u) | (wants_write_ ? EPOLLOUT : 0u);
  event.data.u64 = epoll_key(kControl);
  ::epoll_ctl(thread_.epoll_fd(), EPOLL_CTL_MOD, fd_, &event);
}

void RtspPlayer::watch_udp() noexcept {
  for (auto [fd, tag] : {std::pair{rtp_fd_, kRtp}, std::pair{rtcp_fd_, kRtcp}}) {
    if (fd < 0) continue;
    epoll_event event{};
    event.events = is_paced_ ? 0u : static_cast<std::uint32_t>(EPOLLIN);
    event.data.u64 = epoll_key(tag);
    ::epoll_ctl(thread_.epoll_fd(), EPOLL_CTL_MOD, fd, &event);
  }
}

std::optional<TcpCounts> RtspPlayer::tcp_counts() const noexcept {
  if (fd_ < 0 || is_udp_) return std::nullopt;
  return read_tcp_counts(fd_);
}

void RtspPlayer::fail(const Status& reason) noexcept {
  if (phase_ == Phase::failed) return;
  phase_ = Phase::failed;
  for (int* fd : {&fd_, &rtp_fd_, &rtcp_fd_})
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
  thread_.on_failed(*this, reason);
}

void RtspPlayer::close_now() noexcept {
  if (fd_ >= 0) {
    linger reset{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::close(fd_);
    fd_ = -1;
  }
  for (int* fd : {&rtp_fd_, &rtcp_fd_})
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
}

}  // namespace weir::bench
