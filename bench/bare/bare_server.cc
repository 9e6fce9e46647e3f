// SPDX-License-Identifier: Apache-2.0
#include "bare_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>

#include "formats/amf/amf0.h"
#include "formats/amf/value.h"
#include "formats/rtmp/control.h"

namespace weir::bench {
namespace amf = formats::amf;
namespace wire = formats::rtmp;

namespace {

// The chunk streams and chunk size mod_rtmp uses, so that a player sees the same framing from both
// servers: control 2, commands 3, audio 4, data 5, video 6; 60000-byte chunks after connect.
constexpr std::uint32_t kCommandChunkStream = 3;
constexpr std::uint32_t kAudioChunkStream = 4;
constexpr std::uint32_t kDataChunkStream = 5;
constexpr std::uint32_t kVideoChunkStream = 6;
constexpr std::uint32_t kChunkSize = 60000;
constexpr std::uint32_t kAckWindow = 2'500'000;
// createStream always answers 1: every player's media then carries the same stream id, so the
// framed bytes are the same for all of them.
constexpr std::uint32_t kPlayStreamId = 1;
constexpr std::size_t kReceiveBufferBytes = 64 * 1024;
constexpr std::size_t kNoSlot = std::numeric_limits<std::size_t>::max();

bool is_video_sequence_header(std::span<const std::uint8_t> p) {
  if (p.size() < 2) return false;
  if (p[0] & 0x80) return (p[0] & 0x0F) == 0;  // E-RTMP: [1|frame type:3|packet type:4], SequenceStart
  return (p[0] & 0x0F) == 7 && p[1] == 0;      // AVC sequence header
}

bool is_key_frame(std::span<const std::uint8_t> p) {
  if (p.empty()) return false;
  if (p[0] & 0x80) return ((p[0] >> 4) & 0x07) == 1;
  return (p[0] >> 4) == 1;
}

bool is_audio_sequence_header(std::span<const std::uint8_t> p) {
  return p.size() >= 2 && (p[0] >> 4) == 10 && p[1] == 0;  // AAC sequence header
}

// "@setDataFrame" as AMF0 leads the publisher's metadata; players get what follows (onMetaData).
std::span<const std::uint8_t> strip_set_data_frame(std::span<const std::uint8_t> p) {
  constexpr std::string_view kName = "@setDataFrame";
  if (p.size() < 3 + kName.size() || p[0] != 0x02 || p[1] != 0 || p[2] != kName.size()) return p;
  if (std::memcmp(p.data() + 3, kName.data(), kName.size()) != 0) return p;
  return p.subspan(3 + kName.size());
}

// One media message as every player gets it: a type 0 header (absolute timestamp) on its fixed
// csid, so it reads the same whatever came before it on that csid.
void append_media(std::vector<std::uint8_t>& out, std::uint32_t chunk_stream_id, std::uint8_t type_id,
                  std::uint32_t timestamp, std::span<const std::uint8_t> payload) {
  wire::ChunkStreamState state;
  wire::append_message(out, state,
                       {chunk_stream_id, timestamp, static_cast<std::uint32_t>(payload.size()), type_id, kPlayStreamId},
                       payload, kChunkSize, wire::HeaderCompression::none);
}

// A command on csid 3 with a full header: the replies, a few per connection.
void append_command(std::vector<std::uint8_t>& out, wire::ChunkWriter& writer, std::uint32_t stream_id,
                    const std::vector<amf::Value>& values) {
  std::vector<std::uint8_t> body;
  amf::Amf0Writer amf0(body);
  (void)amf0.write_all(values);
  writer.append(out,
                {kCommandChunkStream, 0, static_cast<std::uint32_t>(body.size()), wire::kMessageCommandAmf0, stream_id},
                body, wire::HeaderCompression::none);
}

void append_status(std::vector<std::uint8_t>& out, wire::ChunkWriter& writer, std::uint32_t stream_id,
                   std::string_view level, std::string_view code) {
  append_command(out, writer, stream_id,
                 {amf::Value("onStatus"), amf::Value(0.0), amf::Value::null(),
                  amf::Value::object(
                      {{"level", amf::Value(level)}, {"code", amf::Value(code)}, {"description", amf::Value(code)}})});
}

void append_control(std::vector<std::uint8_t>& out, wire::ChunkWriter& writer, std::uint8_t type_id,
                    const wire::ControlPayload& payload) {
  writer.append(out, wire::control_header(type_id, payload), payload.span(), wire::HeaderCompression::none);
}

}  // namespace

// One accepted socket: publisher, player, or not yet either.
struct BareServer::Connection {
  explicit Connection(int socket) : fd(socket), reader(sink) { sink.apply_control_to(&reader); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd;
  std::size_t slot = kNoSlot;         // in connections_
  std::size_t player_slot = kNoSlot;  // in players_, while playing
  std::unique_ptr<wire::ServerHandshake> handshake = std::make_unique<wire::ServerHandshake>();
  // Control path only: the peer's commands and, from the publisher, its media (one publisher, a
  // vector per message is nothing next to the fan-out).
  wire::VectorSink sink;
  wire::ChunkReader reader;
  wire::ChunkWriter writer;        // replies: csid 2 and 3, full headers
  std::vector<std::uint8_t> tail;  // bytes the socket did not take yet
  std::size_t tail_sent = 0;
  bool is_writable_watched = false;
  bool is_waiting_for_key = false;  // playing with --wait-key, not yet given a key frame
  bool needs_headers = false;       // playing, started before the publisher's sequence headers

  std::size_t backlog() const noexcept { return tail.size() - tail_sent; }
};

BareServer::BareServer(BareSettings settings) : settings_(std::move(settings)), receive_buffer_(kReceiveBufferBytes) {}

BareServer::~BareServer() {
  for (auto& c : connections_)
    if (c->fd >= 0) ::close(c->fd);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

Status BareServer::listen() {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(settings_.listen_port);
  if (::inet_pton(AF_INET, settings_.listen_host.c_str(), &address.sin_addr) != 1)
    return error(Errc::config, "listen: '{}' is not an IPv4 address", settings_.listen_host);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return error(Errc::io, "socket: {}", std::strerror(errno));
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, SOMAXCONN) != 0)
    return error(Errc::io, "listen on {}:{}: {}", settings_.listen_host, settings_.listen_port, std::strerror(errno));
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return error(Errc::io, "epoll_create1: {}", std::strerror(errno));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = nullptr;  // the listening socket
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &event) != 0)
    return error(Errc::io, "epoll_ctl: {}", std::strerror(errno));
  return ok();
}

Status BareServer::run() {
  std::array<epoll_event, 256> events;
  const auto interval = settings_.coalescing;
  next_flush_ = std::chrono::steady_clock::now() + interval;
  for (;;) {
    int timeout_ms = -1;
    if (interval.count() > 0) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(next_flush_ - std::chrono::steady_clock::now());
      timeout_ms = static_cast<int>(std::max<std::int64_t>(left.count(), 0));
    }
    int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0) {
      if (errno == EINTR) return ok();  // SIGTERM or SIGINT (main.cc): stop
      return error(Errc::io, "epoll_wait: {}", std::strerror(errno));
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr)
        accept_all();
      else
        on_event(*static_cast<Connection*>(events[i].data.ptr), events[i].events);
    }
    if (interval.count() > 0) {
      auto now = std::chrono::steady_clock::now();
      if (now >= next_flush_) {
        fan_out();
        next_flush_ += interval;
        if (next_flush_ <= now) next_flush_ = now + interval;  // fell behind: do not write in a burst
      }
    }
    reap();
  }
}

void BareServer::accept_all() noexcept {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        std::fprintf(stderr, "weir_bare: accept: %s\n", std::strerror(errno));
      return;
    }
    ++counters_.accepted;
    if (settings_.no_delay) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    auto connection = std::make_unique<Connection>(fd);
    connection->slot = connections_.size();
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = connection.get();
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      ::close(fd);
      continue;
    }
    connections_.push_back(std::move(connection));
  }
}

void BareServer::on_event(Connection& c, std::uint32_t events) noexcept {
  if (c.fd < 0) return;  // closed earlier in this loop turn
  if (events & EPOLLOUT) flush_tail(c);
  if (c.fd >= 0 && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) read(c);
}

void BareServer::read(Connection& c) noexcept {
  // The publisher is drained (its frames are what everyone waits for); a player is read once per
  // event: it sends a few commands and an acknowledgement every 2.5 MB.
  const bool drain = &c == publisher_;
  do {
    ssize_t n = ::recv(c.fd, receive_buffer_.data(), receive_buffer_.size(), 0);
    if (n > 0) {
      if (Status status = on_bytes(c, {receive_buffer_.data(), static_cast<std::size_t>(n)}); !status) {
        if (&c == publisher_) std::fprintf(stderr, "weir_bare: publisher: %s\n", status.message().c_str());
        close(c);
        return;
      }
      if (static_cast<std::size_t>(n) < receive_buffer_.size()) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    close(c);  // the peer closed, or the socket failed
    return;
  } while (drain && c.fd >= 0);
}

Status BareServer::on_bytes(Connection& c, std::span<const std::uint8_t> bytes) noexcept {
  if (c.handshake) {
    auto used = c.handshake->feed(bytes);
    if (!used) return used.error().with_context("handshake");
    auto out = c.handshake->pending_output();
    if (!out.empty()) {
      deliver(c, out);
      c.handshake->mark_sent(out.size());
    }
    bytes = bytes.subspan(*used);
    if (!c.handshake->is_done()) return ok();
    c.handshake.reset();
  }
  if (bytes.empty()) return ok();
  WEIR_TRY(c.reader.feed(bytes));
  std::vector<wire::Message>& messages = c.sink.messages();
  for (std::size_t i = 0; i < messages.size() && c.fd >= 0; ++i) WEIR_TRY(on_message(c, messages[i]));
  messages.clear();
  return ok();
}

Status BareServer::on_message(Connection& c, const wire::Message& m) noexcept {
  switch (m.header.type_id) {
    case wire::kMessageCommandAmf0:
    case wire::kMessageCommandAmf3:
      return on_command(c, m);
    case wire::kMessageAudio:
    case wire::kMessageVideo:
    case wire::kMessageDataAmf0:
      if (&c == publisher_) on_media(m);
      return ok();
    default:  // Set Chunk Size and Abort are applied by the sink; acknowledgements are not needed
      return ok();
  }
}

Status BareServer::on_command(Connection& c, const wire::Message& m) noexcept {
  std::span<const std::uint8_t> payload = m.payload;
  if (m.header.type_id == wire::kMessageCommandAmf3 && !payload.empty()) payload = payload.subspan(1);
  amf::Amf0Reader reader(payload);
  auto values = reader.read_all();
  if (!values) return values.error().with_context("command");
  if (values->size() < 2 || !(*values)[0].is_string()) return error(Errc::malformed, "command without a name");
  const std::string_view name = (*values)[0].as_string();
  const double transaction = (*values)[1].as_number();
  const std::uint32_t stream_id = m.header.stream_id;

  std::vector<std::uint8_t> out;
  auto control = [&](std::uint8_t type_id, const wire::ControlPayload& control_payload) {
    append_control(out, c.writer, type_id, control_payload);
  };
  auto status = [&](std::string_view level, std::string_view code) {
    append_status(out, c.writer, stream_id, level, code);
  };
  auto result = [&](amf::Value value) {
    append_command(out, c.writer, 0,
                   {amf::Value("_result"), amf::Value(transaction), amf::Value::null(), std::move(value)});
  };

  if (name == "connect") {
    control(wire::kMessageWindowAckSize, wire::encode_window_ack_size(kAckWindow));
    control(wire::kMessageSetPeerBandwidth,
            wire::encode_set_peer_bandwidth({kAckWindow, wire::BandwidthLimit::dynamic}));
    control(wire::kMessageSetChunkSize, wire::encode_set_chunk_size(kChunkSize));
    c.writer.set_chunk_size(kChunkSize);
    append_command(out, c.writer, 0,
                   {amf::Value("_result"), amf::Value(transaction),
                    amf::Value::object({{"fmsVer", amf::Value("FMS/3,5,7,7009")}, {"capabilities", amf::Value(31.0)}}),
                    amf::Value::object({{"level", amf::Value("status")},
                                        {"code", amf::Value("NetConnection.Connect.Success")},
                                        {"description", amf::Value("Connection succeeded.")},
                                        {"objectEncoding", amf::Value(0.0)}})});
  } else if (name == "createStream") {
    result(amf::Value(static_cast<double>(kPlayStreamId)));
  } else if (name == "publish") {
    if (publisher_ && publisher_ != &c) {
      status("error", "NetStream.Publish.BadName");  // one stream only
    } else {
      publisher_ = &c;
      control(wire::kMessageUserControl,
              wire::encode_user_control({wire::UserControlEvent::stream_begin, stream_id, 0}));
      status("status", "NetStream.Publish.Start");
    }
  } else if (name == "play") {
    start_playing(c, stream_id);  // one write: the replies, then the headers
  } else if (name == "deleteStream" || name == "closeStream" || name == "FCUnpublish") {
    if (&c == publisher_) unpublish();
    if (transaction > 0 && name == "FCUnpublish") result(amf::Value::null());
  } else if (name == "getStreamLength") {  // live: no length
    result(amf::Value(0.0));
  } else if (name != "_result" && name != "_error" && transaction > 0) {
    result(amf::Value::null());  // releaseStream, FCPublish, FCSubscribe, _checkbw, ...
  }
  if (!out.empty()) deliver(c, out);
  return ok();
}

void BareServer::start_playing(Connection& c, std::uint32_t stream_id) noexcept {
  if (c.player_slot != kNoSlot || &c == publisher_) return;
  std::vector<std::uint8_t> out;
  append_control(out, c.writer, wire::kMessageUserControl,
                 wire::encode_user_control({wire::UserControlEvent::stream_begin, stream_id, 0}));
  append_status(out, c.writer, stream_id, "status", "NetStream.Play.Reset");
  append_status(out, c.writer, stream_id, "status", "NetStream.Play.Start");
  c.needs_headers = video_header_.empty() && audio_header_.empty();
  if (!c.needs_headers) append_headers(out);
  c.is_waiting_for_key = settings_.wait_for_key_frame;
  c.player_slot = players_.size();
  players_.push_back(&c);
  ++counters_.players_started;
  deliver(c, out);
}

void BareServer::append_headers(std::vector<std::uint8_t>& out) const {
  if (!metadata_.empty()) append_media(out, kDataChunkStream, wire::kMessageDataAmf0, metadata_ms_, metadata_);
  if (!audio_header_.empty())
    append_media(out, kAudioChunkStream, wire::kMessageAudio, audio_header_ms_, audio_header_);
  if (!video_header_.empty())
    append_media(out, kVideoChunkStream, wire::kMessageVideo, video_header_ms_, video_header_);
}

void BareServer::on_media(const wire::Message& m) noexcept {
  ++counters_.media_messages;
  std::span<const std::uint8_t> payload = m.payload;
  const std::uint32_t ts = m.header.timestamp;
  switch (m.header.type_id) {
    case wire::kMessageAudio:
      if (is_audio_sequence_header(payload)) {
        audio_header_.assign(payload.begin(), payload.end());
        audio_header_ms_ = ts;
      }
      append_media(pending_, kAudioChunkStream, wire::kMessageAudio, ts, payload);
      return;
    case wire::kMessageVideo: {
      const bool is_header = is_video_sequence_header(payload);
      if (is_header) {
        video_header_.assign(payload.begin(), payload.end());
        video_header_ms_ = ts;
      } else if (!has_key_ && is_key_frame(payload)) {
        key_offset_ = pending_.size();
        has_key_ = true;
      }
      append_media(pending_, kVideoChunkStream, wire::kMessageVideo, ts, payload);
      if (!is_header && settings_.coalescing.count() == 0) fan_out();
      return;
    }
    default: {  // data: metadata as players expect it
      payload = strip_set_data_frame(payload);
      if (payload.size() != m.payload.size()) {
        metadata_.assign(payload.begin(), payload.end());
        metadata_ms_ = ts;
      }
      append_media(pending_, kDataChunkStream, wire::kMessageDataAmf0, ts, payload);
      return;
    }
  }
}

void BareServer::fan_out() noexcept {
  if (pending_.empty()) return;
  const std::span<const std::uint8_t> all = pending_;
  const std::span<const std::uint8_t> from_key = has_key_ ? all.subspan(key_offset_) : std::span<const std::uint8_t>();
  std::vector<std::uint8_t> headers;  // for players that started before the publisher: rare
  for (std::size_t i = 0; i < players_.size();) {
    Connection* p = players_[i];
    if (!p->is_waiting_for_key || has_key_) {
      if (p->needs_headers) {  // it started before the publisher: rare, one more write
        if (headers.empty()) append_headers(headers);
        deliver(*p, headers);
        p->needs_headers = false;
      }
      // With --wait-key a new player starts at the key frame: what came before it is left out.
      if (p->fd >= 0) deliver(*p, p->is_waiting_for_key ? from_key : all);
      p->is_waiting_for_key = false;
    }
    if (i < players_.size() && players_[i] == p) ++i;  // else deliver() dropped it and moved the last here
  }
  pending_.clear();
  has_key_ = false;
}

void BareServer::deliver(Connection& c, std::span<const std::uint8_t> bytes) noexcept {
  if (c.fd < 0 || bytes.empty()) return;
  if (c.backlog() == 0) {
    ++counters_.fan_out_writes;
    ssize_t n = ::send(c.fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        close(c);
        return;
      }
      n = 0;
    }
    if (static_cast<std::size_t>(n) == bytes.size()) return;
    ++counters_.partial_writes;
    bytes = bytes.subspan(static_cast<std::size_t>(n));
    c.tail.clear();
    c.tail_sent = 0;
    watch_writable(c, true);
  }
  // Blocked: the rest waits for EPOLLOUT, and nothing more is tried on this socket until then.
  c.tail.insert(c.tail.end(), bytes.begin(), bytes.end());
  if (c.backlog() > settings_.max_backlog_bytes) {
    ++counters_.players_dropped;
    close(c);
  }
}

void BareServer::flush_tail(Connection& c) noexcept {
  while (c.backlog() > 0) {
    ssize_t n = ::send(c.fd, c.tail.data() + c.tail_sent, c.backlog(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) close(c);
      return;
    }
    c.tail_sent += static_cast<std::size_t>(n);
  }
  std::vector<std::uint8_t>().swap(c.tail);
  c.tail_sent = 0;
  watch_writable(c, false);
}

void BareServer::watch_writable(Connection& c, bool on) noexcept {
  if (c.is_writable_watched == on) return;
  epoll_event event{};
  event.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  event.data.ptr = &c;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &event);
  c.is_writable_watched = on;
}

void BareServer::unpublish() noexcept {
  publisher_ = nullptr;
  metadata_.clear();
  audio_header_.clear();
  video_header_.clear();
  pending_.clear();
  has_key_ = false;
  // Players stay and wait for the next publisher's headers (and key frame, with --wait-key).
  for (Connection* p : players_) {
    p->is_waiting_for_key = settings_.wait_for_key_frame;
    p->needs_headers = true;
  }
}

void BareServer::close(Connection& c) noexcept {
  if (c.fd < 0) return;
  ::close(c.fd);  // also leaves the epoll set
  c.fd = -1;
  if (c.player_slot != kNoSlot) {
    players_[c.player_slot] = players_.back();
    players_[c.player_slot]->player_slot = c.player_slot;
    players_.pop_back();
    c.player_slot = kNoSlot;
  }
  if (&c == publisher_) unpublish();
  // The object lives until the end of the loop turn: callers up the stack and later events of this
  // turn still hold it.
  std::size_t slot = c.slot;
  closed_.push_back(std::move(connections_[slot]));
  if (slot + 1 != connections_.size()) {
    connections_[slot] = std::move(connections_.back());
    connections_[slot]->slot = slot;
  }
  connections_.pop_back();
}

void BareServer::reap() noexcept { closed_.clear(); }

}  // namespace weir::bench
