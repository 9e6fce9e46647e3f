// SPDX-License-Identifier: Apache-2.0
#include "player.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "client_messages.h"
#include "formats/rtmp/control.h"
#include "latency_stamp.h"
#include "player_thread.h"

namespace weir::bench {
namespace wire = formats::rtmp;

namespace {
// recv() calls per readiness event: enough to drain a busy socket, few enough to stay fair.
constexpr int kReadsPerEvent = 4;
}  // namespace

Player::Player(PlayerThread& thread, std::uint32_t index, std::string stream_name)
    : PlayerBase(index), thread_(thread), stream_name_(std::move(stream_name)), reader_(*this) {}

Player::~Player() {
  for (const OpenPayload& open : open_) thread_.payloads().release(open.data, open.size_class);
  if (fd_ >= 0) ::close(fd_);
}

void Player::start() noexcept {
  connect_at_us = thread_.now_us();
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
  event.data.u64 = epoll_key(0);
  wants_write_ = true;
  if (::epoll_ctl(thread_.epoll_fd(), EPOLL_CTL_ADD, fd_, &event) != 0)
    fail(error(Errc::io, "epoll_ctl: {}", std::strerror(errno)));
}

void Player::on_event(std::uint32_t events, unsigned /*tag*/) noexcept {
  if (fd_ < 0) return;
  if (phase_ == Phase::connecting) {
    finish_connect();
    return;
  }
  if (events & EPOLLOUT) flush();
  // A paced player hears of EPOLLERR/EPOLLHUP only (epoll always reports them): the read finds why.
  if (fd_ >= 0 && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
    std::span<std::uint8_t> buffer = thread_.receive_buffer();
    read(buffer.size(), kReadsPerEvent);
  }
}

void Player::read_paced() noexcept {
  if (fd_ < 0) return;
  // No cap on the number of reads: a jitter buffer takes everything that came since its last turn.
  read(thread_.settings().read_size_bytes, std::numeric_limits<int>::max());
}

void Player::finish_connect() noexcept {
  int err = 0;
  socklen_t length = sizeof err;
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &length);
  if (err != 0) {
    fail(error(Errc::io, "connect: {}", std::strerror(err)));
    return;
  }
  thread_.control().connected.fetch_add(1, std::memory_order_relaxed);
  phase_ = Phase::handshake;
  handshake_ = std::make_unique<wire::ClientHandshake>();
  auto out = handshake_->pending_output();
  send(out);
  handshake_->mark_sent(out.size());
}

void Player::read(std::size_t piece_bytes, int max_reads) noexcept {
  std::span<std::uint8_t> buffer = thread_.receive_buffer().first(piece_bytes);
  for (int i = 0; i < max_reads && fd_ >= 0; ++i) {
    ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n > 0) {
      if (Status status = on_bytes(buffer.first(static_cast<std::size_t>(n))); !status) {
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

Status Player::on_bytes(std::span<const std::uint8_t> bytes) noexcept {
  counters_.bytes += bytes.size();
  if (handshake_) {
    auto used = handshake_->feed(bytes);
    if (!used) return used.error().with_context("handshake");
    auto out = handshake_->pending_output();
    if (!out.empty()) {
      send(out);
      handshake_->mark_sent(out.size());
    }
    bytes = bytes.subspan(*used);
    if (!handshake_->is_done()) return ok();
    handshake_.reset();
    std::vector<std::uint8_t> connect;
    append_connect(connect, RtmpUrl{"", 0, thread_.settings().app, "", thread_.settings().tc_url});
    send(connect);
    phase_ = Phase::connect_sent;
  }
  if (!bytes.empty()) WEIR_TRY(reader_.feed(bytes));
  // Acknowledge as a player must: servers may stop sending to a peer that never does.
  std::uint64_t received = reader_.bytes_consumed();
  if (ack_window_ != 0 && received - acknowledged_ >= ack_window_) {
    acknowledged_ = received;
    std::vector<std::uint8_t> ack;
    append_control(ack, wire::kMessageAcknowledgement,
                   wire::encode_acknowledgement(static_cast<std::uint32_t>(received)));
    send(ack);
  }
  return ok();
}

std::span<std::uint8_t> Player::begin_message(const wire::MessageHeader& header) noexcept {
  static std::uint8_t empty = 0;
  if (header.length == 0) return {&empty, 0};
  OpenPayload open{header.chunk_stream_id, 0, nullptr};
  open.data = thread_.payloads().allocate(header.length, open.size_class);
  open_.push_back(open);
  return {open.data, header.length};
}

void Player::release(std::uint32_t chunk_stream_id) noexcept {
  for (std::size_t i = 0; i < open_.size(); ++i) {
    if (open_[i].chunk_stream_id != chunk_stream_id) continue;
    thread_.payloads().release(open_[i].data, open_[i].size_class);
    open_[i] = open_.back();
    open_.pop_back();
    return;
  }
}

void Player::abort_message(const wire::MessageHeader& header) noexcept { release(header.chunk_stream_id); }

Status Player::end_message(const wire::MessageHeader& header, std::span<std::uint8_t> payload) noexcept {
  Status status = ok();
  switch (header.type_id) {
    case wire::kMessageVideo:
      on_video(header, payload);
      break;
    case wire::kMessageAudio:
      ++counters_.audio_frames;
      break;
    case wire::kMessageDataAmf0:
    case wire::kMessageDataAmf3:
      ++counters_.data_messages;
      break;
    case wire::kMessageSetChunkSize:
    case wire::kMessageAbort:
      status = wire::apply_chunk_control(reader_, header, payload);
      break;
    case wire::kMessageWindowAckSize:
      if (auto window = wire::decode_window_ack_size(payload)) ack_window_ = *window;
      break;
    case wire::kMessageUserControl:
      if (auto event = wire::decode_user_control(payload); event && event->event == wire::UserControlEvent::ping_request) {
        std::vector<std::uint8_t> pong;
        append_control(pong, wire::kMessageUserControl,
                       wire::encode_user_control({wire::UserControlEvent::ping_response, event->value, 0}));
        send(pong);
      }
      break;
    case wire::kMessageCommandAmf0:
    case wire::kMessageCommandAmf3:
      status = on_command(header, payload);
      break;
    default:
      break;
  }
  if (header.length != 0) release(header.chunk_stream_id);
  return status;
}

void Player::on_video(const wire::MessageHeader& header, std::span<const std::uint8_t> payload) noexcept {
  if (payload.size() < 2) return;
  bool is_key = false;
  bool is_header = false;
  if (payload[0] & 0x80) {  // E-RTMP: [1|frame type:3|packet type:4]
    is_key = ((payload[0] >> 4) & 0x07) == 1;
    is_header = (payload[0] & 0x0F) == 0;  // SequenceStart
  } else {
    is_key = (payload[0] >> 4) == 1;
    is_header = (payload[0] & 0x0F) == 7 && payload[1] == 0;  // AVC sequence header
  }
  if (is_header) return;
  ++counters_.video_frames;
  counters_.last_video_ms = header.timestamp;
  if (first_video_ms < 0) first_video_ms = header.timestamp;
  if (is_key) {
    ++counters_.key_frames;
    if (first_key_at_us == 0) {
      first_key_at_us = thread_.now_us();
      thread_.on_first_key_frame(*this);
    }
  }
  if (thread_.is_measuring())
    if (auto sent = read_stamp(payload)) thread_.record_delay(thread_.now_us() - static_cast<std::int64_t>(*sent));
}

Status Player::on_command(const wire::MessageHeader& header, std::span<const std::uint8_t> payload) noexcept {
  auto command = parse_command(header.type_id, payload);
  if (!command) return command.error();
  if (command->name == "_result") {
    if (command->transaction == kConnectTransaction && phase_ == Phase::connect_sent) {
      std::vector<std::uint8_t> out;
      append_create_stream(out);
      send(out);
      phase_ = Phase::create_sent;
    } else if (command->transaction == kCreateStreamTransaction && phase_ == Phase::create_sent) {
      stream_id_ = command->args.size() > 1 ? static_cast<std::uint32_t>(command->args[1].as_number(1)) : 1;
      std::vector<std::uint8_t> out;
      append_play(out, stream_id_, stream_name_);
      play_sent_at_us = thread_.now_us();
      send(out);
      phase_ = Phase::play_sent;
    }
    return ok();
  }
  if (command->name == "_error")
    return error(Errc::denied, "{} refused: {}", command->transaction == kConnectTransaction ? "connect" : "command",
                 command->status_description());
  if (command->name == "onStatus") {
    std::string_view code = command->status_code();
    if (code == "NetStream.Play.Start" && phase_ == Phase::play_sent) {
      play_start_at_us = thread_.now_us();
      phase_ = Phase::playing;
      if (thread_.settings().read == ReadMode::paced) {
        is_paced_ = true;
        watch();
      }
      thread_.on_playing(*this);
    } else if (command->status_level() == "error" && phase_ != Phase::playing) {
      return error(Errc::not_found, "play {}: {}", stream_name_, code);
    }
  }
  return ok();
}

void Player::send(std::span<const std::uint8_t> bytes) noexcept {
  if (fd_ < 0 || bytes.empty()) return;
  if (out_.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      fail(error(Errc::io, "send: {}", std::strerror(errno)));
      return;
    }
    std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (sent == bytes.size()) return;
    bytes = bytes.subspan(sent);
  }
  out_.insert(out_.end(), bytes.begin(), bytes.end());
  if (!wants_write_) {
    wants_write_ = true;
    watch();
  }
}

void Player::watch() noexcept {
  epoll_event event{};
  event.events = (is_paced_ ? 0u : static_cast<std::uint32_t>(EPOLLIN)) | (wants_write_ ? EPOLLOUT : 0u);
  event.data.u64 = epoll_key(0);
  ::epoll_ctl(thread_.epoll_fd(), EPOLL_CTL_MOD, fd_, &event);
}

void Player::flush() noexcept {
  while (!out_.empty()) {
    ssize_t n = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) fail(error(Errc::io, "send: {}", std::strerror(errno)));
      return;
    }
    out_.erase(out_.begin(), out_.begin() + n);
  }
  std::vector<std::uint8_t>().swap(out_);
  if (wants_write_) {
    wants_write_ = false;
    watch();
  }
}

void Player::fail(const Status& reason) noexcept {
  if (phase_ == Phase::failed) return;
  phase_ = Phase::failed;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  thread_.on_failed(*this, reason);
}

void Player::close_now() noexcept {
  if (fd_ < 0) return;
  linger reset{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace weir::bench
