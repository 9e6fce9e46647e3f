// SPDX-License-Identifier: Apache-2.0
#include "publisher.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

#include "client_messages.h"
#include "formats/amf/amf0.h"
#include "formats/flv/flv_file.h"
#include "formats/rtmp/chunk_reader.h"
#include "formats/rtmp/chunk_writer.h"
#include "formats/rtmp/control.h"
#include "formats/rtmp/handshake.h"
#include "formats/rtmp/vector_sink.h"
#include "latency_stamp.h"

namespace weir::bench {
namespace wire = formats::rtmp;
namespace flv = formats::flv;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

constexpr std::uint32_t kAudioChunkStream = 4;
constexpr std::uint32_t kDataChunkStream = 5;
constexpr std::uint32_t kVideoChunkStream = 6;

struct Tag {
  flv::TagType type;
  std::uint32_t timestamp_ms;
  std::size_t offset;
  std::uint32_t size;
};

// The file in memory: metadata and sequence headers sent once, media tags looped.
struct Media {
  std::vector<std::uint8_t> bytes;
  std::vector<Tag> headers;  // script data and sequence headers, in file order
  std::vector<Tag> frames;
  std::uint32_t loop_ms = 0;  // one pass of the frames, plus one frame interval
  bool can_stamp = false;     // H.264 with 4-byte NAL lengths

  std::span<const std::uint8_t> body(const Tag& t) const { return {bytes.data() + t.offset, t.size}; }
};

Result<Media> load_media(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(Errc::not_found, "cannot open {}", path);
  std::vector<std::uint8_t> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  flv::FlvReader reader;
  reader.feed(file);
  Media media;
  for (;;) {
    auto tag = reader.next();
    if (!tag) return tag.error().with_context(path);
    if (!*tag) break;
    const flv::TagView& view = **tag;
    Tag t{view.type, view.timestamp_ms, media.bytes.size(), static_cast<std::uint32_t>(view.body.size())};
    media.bytes.insert(media.bytes.end(), view.body.begin(), view.body.end());
    std::span<const std::uint8_t> body = view.body;
    bool is_header = view.type == flv::TagType::script ||
                     (view.type == flv::TagType::video && body.size() >= 2 && (body[0] & 0x0F) == 7 && body[1] == 0) ||
                     (view.type == flv::TagType::audio && body.size() >= 2 && (body[0] >> 4) == 10 && body[1] == 0);
    if (is_header) {
      media.headers.push_back(t);
      // AVCDecoderConfigurationRecord at body[5]: lengthSizeMinusOne in the low bits of byte 4.
      if (view.type == flv::TagType::video && body.size() > 9) media.can_stamp = (body[9] & 0x03) == 3;
    } else if (view.type != flv::TagType::script) {
      media.frames.push_back(t);
    }
  }
  if (media.frames.empty()) return error(Errc::malformed, "{}: no audio or video frames", path);
  std::uint32_t first = media.frames.front().timestamp_ms;
  std::uint32_t last = first;
  std::uint32_t video_frames = 0;
  for (const Tag& t : media.frames) {
    last = std::max(last, t.timestamp_ms);
    if (t.type == flv::TagType::video) ++video_frames;
  }
  std::uint32_t interval = video_frames > 1 ? (last - first) / (video_frames - 1) : 40;
  media.loop_ms = last - first + std::max<std::uint32_t>(interval, 1);
  for (Tag& t : media.frames) t.timestamp_ms -= first;
  return media;
}

// One published stream: its socket, chunk writer and the reader for what the server says.
struct Stream {
  std::string name;
  int fd = -1;
  std::uint32_t stream_id = 1;
  wire::ChunkWriter writer;
  wire::VectorSink sink;
  std::unique_ptr<wire::ChunkReader> reader;
  std::vector<std::uint8_t> out;
  std::size_t out_sent = 0;
  std::int64_t start_us = 0;
  std::size_t next = 0;          // next frame to send
  std::uint64_t loop_offset_ms = 0;
  bool sent_headers = false;

  Stream() : reader(std::make_unique<wire::ChunkReader>(sink)) { sink.apply_control_to(reader.get()); }
};

Status write_all(int fd, std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return error(Errc::io, "send: {}", std::strerror(errno));
    }
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return ok();
}

// Blocking read of server messages until `done` says so (the socket has a receive timeout).
template <class Done>
Status read_until(Stream& s, Done done) {
  std::uint8_t buffer[16384];
  for (;;) {
    for (wire::Message& m : s.sink.take_messages()) {
      if (m.header.type_id != wire::kMessageCommandAmf0 && m.header.type_id != wire::kMessageCommandAmf3) continue;
      auto command = parse_command(m.header.type_id, m.payload);
      if (!command) return command.error();
      if (command->name == "_error" || command->status_level() == "error")
        return error(Errc::denied, "{}: {} {}", s.name, command->status_code(), command->status_description());
      if (done(*command)) return ok();
    }
    ssize_t n = ::recv(s.fd, buffer, sizeof buffer, 0);
    if (n == 0) return error(Errc::closed, "{}: the server closed the connection", s.name);
    if (n < 0) {
      if (errno == EINTR) continue;
      return error(Errc::io, "{}: recv: {}", s.name, std::strerror(errno));
    }
    WEIR_TRY(s.reader->feed({buffer, static_cast<std::size_t>(n)}));
  }
}

Status set_up(Stream& s, const PublisherSettings& settings) {
  s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s.fd < 0) return error(Errc::io, "socket: {}", std::strerror(errno));
  int one = 1;
  ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval timeout{10, 0};
  ::setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&settings.server), sizeof settings.server) != 0)
    return error(Errc::io, "connect: {}", std::strerror(errno));
  wire::ClientHandshake handshake;
  std::uint8_t buffer[4096];
  while (!handshake.is_done()) {
    auto out = handshake.pending_output();
    if (!out.empty()) {
      WEIR_TRY(write_all(s.fd, out));
      handshake.mark_sent(out.size());
    }
    ssize_t n = ::recv(s.fd, buffer, sizeof buffer, 0);
    if (n <= 0) return error(Errc::io, "handshake: {}", n == 0 ? "closed" : std::strerror(errno));
    auto used = handshake.feed({buffer, static_cast<std::size_t>(n)});
    if (!used) return used.error().with_context("handshake");
    if (handshake.is_done()) {
      auto c2 = handshake.pending_output();
      WEIR_TRY(write_all(s.fd, c2));
      handshake.mark_sent(c2.size());
      if (*used < static_cast<std::size_t>(n))
        WEIR_TRY(s.reader->feed({buffer + *used, static_cast<std::size_t>(n) - *used}));
    }
  }
  std::vector<std::uint8_t> out;
  append_connect(out, RtmpUrl{"", 0, settings.app, "", settings.tc_url});
  WEIR_TRY(write_all(s.fd, out));
  WEIR_TRY(read_until(s, [](const Command& c) { return c.name == "_result" && c.transaction == kConnectTransaction; }));
  out.clear();
  append_control(out, wire::kMessageSetChunkSize, wire::encode_set_chunk_size(settings.chunk_size));
  s.writer.set_chunk_size(settings.chunk_size);
  append_prepare_publish(out, s.name);
  WEIR_TRY(write_all(s.fd, out));
  WEIR_TRY(read_until(s, [&](const Command& c) {
    if (c.name != "_result" || c.transaction != kCreateStreamTransaction) return false;
    s.stream_id = c.args.size() > 1 ? static_cast<std::uint32_t>(c.args[1].as_number(1)) : 1;
    return true;
  }));
  out.clear();
  append_publish(out, s.stream_id, s.name);
  WEIR_TRY(write_all(s.fd, out));
  WEIR_TRY(read_until(s, [](const Command& c) { return c.status_code() == "NetStream.Publish.Start"; }));
  ::fcntl(s.fd, F_SETFL, ::fcntl(s.fd, F_GETFL) | O_NONBLOCK);
  return ok();
}

// Non-blocking: write what the socket takes; read and answer what the server sent.
Status service(Stream& s) {
  while (s.out_sent < s.out.size()) {
    ssize_t n = ::send(s.fd, s.out.data() + s.out_sent, s.out.size() - s.out_sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return error(Errc::io, "{}: send: {}", s.name, std::strerror(errno));
    }
    s.out_sent += static_cast<std::size_t>(n);
  }
  if (s.out_sent == s.out.size()) {
    s.out.clear();
    s.out_sent = 0;
  }
  std::uint8_t buffer[16384];
  for (;;) {
    ssize_t n = ::recv(s.fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0) return error(Errc::closed, "{}: the server closed the connection", s.name);
    if (n < 0) break;
    WEIR_TRY(s.reader->feed({buffer, static_cast<std::size_t>(n)}));
  }
  for (wire::Message& m : s.sink.take_messages()) {
    if (m.header.type_id != wire::kMessageUserControl) continue;
    auto event = wire::decode_user_control(m.payload);
    if (event && event->event == wire::UserControlEvent::ping_request)
      append_control(s.out, wire::kMessageUserControl,
                     wire::encode_user_control({wire::UserControlEvent::ping_response, event->value, 0}));
  }
  return ok();
}

}  // namespace

Status run_publisher(const PublisherSettings& settings) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  auto loaded = load_media(settings.file);
  if (!loaded) return loaded.error();
  const Media& media = *loaded;
  const bool stamp = settings.stamp && media.can_stamp;

  std::vector<std::unique_ptr<Stream>> streams;
  for (std::uint32_t k = 0; k < settings.streams; ++k) {
    auto s = std::make_unique<Stream>();
    s->name = settings.streams > 1 ? settings.stream_name + std::to_string(k) : settings.stream_name;
    WEIR_TRY(set_up(*s, settings).with_context("publish " + s->name));
    streams.push_back(std::move(s));
  }
  const std::int64_t t0 = monotonic_us();
  for (std::uint32_t k = 0; k < streams.size(); ++k)
    streams[k]->start_us = t0 + static_cast<std::int64_t>(k * settings.stagger_ms * 1000);
  std::printf("ready\n");
  std::fflush(stdout);
  std::fprintf(stderr, "publisher: %zu stream(s), loop %u ms, stamps %s\n", streams.size(), media.loop_ms,
               stamp ? "on" : "off");

  const std::int64_t end_us = settings.duration_s > 0 ? t0 + static_cast<std::int64_t>(settings.duration_s * 1e6) : 0;
  std::vector<std::uint8_t> payload;
  std::uint64_t frames = 0;
  std::int64_t worst_late_us = 0;
  while (!g_stop.load() && (end_us == 0 || monotonic_us() < end_us)) {
    std::int64_t now = monotonic_us();
    std::int64_t next_due = now + 20'000;
    bool pending = false;
    for (auto& sp : streams) {
      Stream& s = *sp;
      if (now < s.start_us) {
        next_due = std::min(next_due, s.start_us);
        continue;
      }
      if (!s.sent_headers) {
        for (const Tag& t : media.headers) {
          std::span<const std::uint8_t> body = media.body(t);
          if (t.type == flv::TagType::script) {  // metadata, as encoders send it
            payload.clear();
            formats::amf::Amf0Writer writer(payload);
            (void)writer.write_string("@setDataFrame");
            payload.insert(payload.end(), body.begin(), body.end());
            body = payload;
          }
          std::uint32_t csid = t.type == flv::TagType::audio ? kAudioChunkStream
                               : t.type == flv::TagType::video ? kVideoChunkStream : kDataChunkStream;
          s.writer.append(s.out, {csid, 0, static_cast<std::uint32_t>(body.size()), static_cast<std::uint8_t>(t.type), s.stream_id},
                          body);
        }
        s.sent_headers = true;
      }
      for (;;) {
        const Tag& t = media.frames[s.next];
        std::uint64_t ts = t.timestamp_ms + s.loop_offset_ms;
        std::int64_t due = s.start_us + static_cast<std::int64_t>(ts) * 1000;
        if (due > now) {
          next_due = std::min(next_due, due);
          break;
        }
        worst_late_us = std::max(worst_late_us, now - due);
        std::span<const std::uint8_t> body = media.body(t);
        if (stamp && t.type == flv::TagType::video && body.size() > kAvcNalOffset && body[1] == 1) {
          payload.assign(body.begin(), body.begin() + kAvcNalOffset);
          payload.resize(kAvcNalOffset + kStampBytes);
          write_stamp(static_cast<std::uint64_t>(monotonic_us()),
                      std::span<std::uint8_t, kStampBytes>(payload.data() + kAvcNalOffset, kStampBytes));
          payload.insert(payload.end(), body.begin() + kAvcNalOffset, body.end());
          body = payload;
        }
        std::uint32_t csid = t.type == flv::TagType::audio ? kAudioChunkStream : kVideoChunkStream;
        s.writer.append(s.out, {csid, static_cast<std::uint32_t>(ts), static_cast<std::uint32_t>(body.size()),
                                static_cast<std::uint8_t>(t.type), s.stream_id},
                        body);
        ++frames;
        if (++s.next == media.frames.size()) {
          s.next = 0;
          s.loop_offset_ms += media.loop_ms;
        }
        // Write each frame as it becomes due: the stamp is its send time.
        WEIR_TRY(service(s));
      }
      WEIR_TRY(service(s));
      if (!s.out.empty()) pending = true;
    }
    if (pending) next_due = std::min(next_due, monotonic_us() + 2'000);
    timespec until{static_cast<time_t>(next_due / 1'000'000), static_cast<long>(next_due % 1'000'000) * 1000};
    ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr);
  }
  std::fprintf(stderr, "publisher: %llu frames sent, worst lateness %.1f ms\n", static_cast<unsigned long long>(frames),
               static_cast<double>(worst_late_us) / 1e3);
  for (auto& s : streams) ::close(s->fd);
  return ok();
}

}  // namespace weir::bench
