// SPDX-License-Identifier: Apache-2.0
#include "formats/rtmp/chunk_reader.h"

#include <algorithm>
#include <cstring>

#include "formats/rtmp/byte_order.h"

namespace weir::formats::rtmp {

namespace {
// Message header bytes after the basic header, by fmt.
constexpr std::uint8_t kMessageHeaderBytes[4] = {11, 7, 3, 0};
}  // namespace

// One chunk header, decoded but not yet applied to its stream.
struct ChunkReader::Parsed {
  std::uint32_t chunk_stream_id = 0;
  std::uint32_t timestamp_field = 0;  // timestamp or delta; the extended value when one was read
  std::uint32_t length = 0;
  std::uint32_t stream_id = 0;
  std::uint8_t fmt = 0;
  std::uint8_t type_id = 0;
  std::uint8_t size = 0;     // header bytes, extended timestamp included
  bool is_extended = false;  // an extended timestamp was read
  bool is_probe = false;     // detect mode: the last 4 bytes may be an extended timestamp or data
};

ChunkReader::ChunkReader(ChunkSink& sink, ChunkReaderOptions options)
    : sink_(&sink), options_(options), type3_mode_(options.type3_extended_timestamp) {
  // Peers use a handful of chunk streams; allocate for them once, not on the first messages.
  streams_.reserve(std::min<std::uint32_t>(options_.max_chunk_streams, 8));
}

Status ChunkReader::feed(std::span<const std::uint8_t> bytes) noexcept {
  if (!error_.is_ok()) return error_;
  Status status = run(bytes.data(), bytes.size(), offset_);
  offset_ += bytes.size();
  if (!status.is_ok()) error_ = status;
  return status;
}

Status ChunkReader::set_chunk_size(std::uint32_t bytes) noexcept {
  if (bytes == 0 || bytes > kMaxChunkSize)
    return error(Errc::malformed, "chunk size {} is outside 1..{}", bytes, kMaxChunkSize);
  chunk_size_ = bytes;
  return ok();
}

void ChunkReader::abort(std::uint32_t chunk_stream_id) noexcept {
  Stream* stream = find(chunk_stream_id);
  if (stream == nullptr || !stream->is_open) return;
  stream->is_open = false;
  stream->payload = nullptr;
  stream->received = 0;
  // Aborted between feed() calls in the middle of one of its chunks: the rest of it is dropped.
  if (chunk_left_ > 0 && &streams_[current_] == stream) discard_ = true;
  sink_->abort_message(stream->header);
}

ChunkReader::Stream* ChunkReader::find(std::uint32_t chunk_stream_id) noexcept {
  if (chunk_stream_id < small_index_.size()) {
    std::uint32_t index = small_index_[chunk_stream_id];
    return index == 0 ? nullptr : &streams_[index - 1];
  }
  for (Stream& stream : streams_)
    if (stream.header.chunk_stream_id == chunk_stream_id) return &stream;
  return nullptr;
}

// Returns the header's size in bytes when all of it is in p[0, n) (and fills `out`); otherwise a
// size larger than n: at least that many bytes are needed before trying again.
std::size_t ChunkReader::parse_header(const std::uint8_t* p, std::size_t n, Parsed& out) noexcept {
  if (n == 0) return 1;
  const std::uint8_t fmt = p[0] >> 6;
  const std::uint8_t low = p[0] & 0x3F;
  const std::size_t basic = low == 0 ? 2 : (low == 1 ? 3 : 1);
  std::size_t need = basic + kMessageHeaderBytes[fmt];
  if (n < need) return need;

  out = Parsed{};
  out.fmt = fmt;
  out.chunk_stream_id = low == 0   ? 64u + p[1]
                        : low == 1 ? 64u + p[1] + (std::uint32_t{p[2]} << 8)
                                   : low;
  const std::uint8_t* m = p + basic;
  bool is_extended = false;
  if (fmt <= 2) {
    out.timestamp_field = detail::load_u24be(m);
    is_extended = out.timestamp_field == kExtendedTimestampMarker;
    if (fmt <= 1) {
      out.length = detail::load_u24be(m + 3);
      out.type_id = m[6];
    }
    if (fmt == 0) out.stream_id = detail::load_u32le(m + 7);
  } else if (const Stream* stream = find(out.chunk_stream_id);
             stream != nullptr && stream->has_extended) {
    // The spec (and Flash, FMS, FFmpeg) repeat the extended timestamp on type 3 chunks; some
    // encoders leave it out of continuation chunks. Until the peer shows which, look ahead.
    if (!stream->is_open) {
      is_extended = type3_mode_ != Type3ExtendedTimestamp::omitted;
    } else if (type3_mode_ == Type3ExtendedTimestamp::repeated) {
      is_extended = true;
    } else if (type3_mode_ == Type3ExtendedTimestamp::detect) {
      is_extended = true;
      out.is_probe = true;
    }
  }
  if (is_extended) {
    need += 4;
    if (n < need) return need;
    out.timestamp_field = detail::load_u32be(p + need - 4);
    out.is_extended = true;
  }
  out.size = static_cast<std::uint8_t>(need);
  return need;
}

// A continuation chunk's 4 look-ahead bytes repeat the message's extended timestamp, or are data.
// A false match needs data equal to the timestamp in the one chunk where the peer is judged.
bool ChunkReader::resolve_probe(Parsed& header) noexcept {
  const Stream* stream = find(header.chunk_stream_id);
  const bool is_repeated = header.timestamp_field == stream->timestamp_field;
  type3_mode_ = is_repeated ? Type3ExtendedTimestamp::repeated : Type3ExtendedTimestamp::omitted;
  header.is_probe = false;
  if (!is_repeated) {
    header.size = static_cast<std::uint8_t>(header.size - 4);
    header.is_extended = false;
  }
  return is_repeated;
}

Status ChunkReader::run(const std::uint8_t* p, std::size_t n, std::uint64_t at) noexcept {
  while (n > 0) {
    if (chunk_left_ > 0) {  // chunk data: the one copy, into the sink's storage
      const auto take = static_cast<std::uint32_t>(std::min<std::size_t>(chunk_left_, n));
      if (!discard_) {
        Stream& stream = streams_[current_];
        std::memcpy(stream.payload + stream.received, p, take);
        stream.received += take;
      }
      p += take;
      n -= take;
      at += take;
      chunk_left_ -= take;
      if (chunk_left_ == 0) WEIR_TRY(finish_chunk());
      continue;
    }

    Parsed header;
    if (header_have_ == 0) {  // fast path: the whole header is in this call's bytes
      const std::size_t need = parse_header(p, n, header);
      if (need <= n) {
        if (header.is_probe) resolve_probe(header);  // on omitted, the 4 bytes stay in p as data
        const std::uint64_t header_at = at;
        p += header.size;
        n -= header.size;
        at += header.size;
        WEIR_TRY(start_chunk(header, header_at));
        continue;
      }
      std::memcpy(header_.data(), p, n);
      header_have_ = static_cast<std::uint8_t>(n);
      header_need_ = static_cast<std::uint8_t>(need);
      header_at_ = at;
      return ok();
    }

    // Slow path: the header is split across calls; gather it.
    const std::size_t take = std::min<std::size_t>(header_need_ - header_have_, n);
    std::memcpy(header_.data() + header_have_, p, take);
    header_have_ = static_cast<std::uint8_t>(header_have_ + take);
    p += take;
    n -= take;
    at += take;
    if (header_have_ < header_need_) break;
    const std::size_t need = parse_header(header_.data(), header_have_, header);
    if (need > header_have_) {
      header_need_ = static_cast<std::uint8_t>(need);
      continue;
    }
    header_have_ = 0;
    if (header.is_probe && !resolve_probe(header)) {
      // The 4 gathered bytes were data (and maybe the next header): feed them again after it.
      std::array<std::uint8_t, 4> again;
      std::memcpy(again.data(), header_.data() + header.size, again.size());
      WEIR_TRY(start_chunk(header, header_at_));
      WEIR_TRY(run(again.data(), again.size(), header_at_ + header.size));
      continue;
    }
    WEIR_TRY(start_chunk(header, header_at_));
  }
  return ok();
}

Status ChunkReader::start_chunk(const Parsed& header, std::uint64_t at) noexcept {
  const std::uint32_t csid = header.chunk_stream_id;
  Stream* stream = find(csid);
  if (stream == nullptr) {
    if (header.fmt != 0)
      return error(
          Errc::malformed,
          "csid {} at byte offset {}: fmt {} chunk on a chunk stream with no earlier message", csid,
          at, header.fmt);
    if (streams_.size() >= options_.max_chunk_streams)
      return error(Errc::limit, "csid {} at byte offset {}: more than {} chunk streams", csid, at,
                   options_.max_chunk_streams);
    streams_.emplace_back();
    stream = &streams_.back();
    stream->header.chunk_stream_id = csid;
    if (csid < small_index_.size())
      small_index_[csid] = static_cast<std::uint32_t>(streams_.size());
  }
  const auto index = static_cast<std::uint32_t>(stream - streams_.data());

  if (stream->is_open) {
    if (header.fmt != 3)
      return error(
          Errc::malformed,
          "csid {} at byte offset {}: fmt {} chunk starts a message while {} of the {} bytes "
          "of the previous one are still to come",
          csid, at, header.fmt, stream->header.length - stream->received, stream->header.length);
    current_ = index;
    discard_ = false;
    chunk_left_ = std::min(chunk_size_, stream->header.length - stream->received);
    return ok();
  }

  MessageHeader message = stream->header;
  switch (header.fmt) {
    case 0:
      message.timestamp = header.timestamp_field;
      message.length = header.length;
      message.type_id = header.type_id;
      message.stream_id = header.stream_id;
      stream->timestamp_field = header.timestamp_field;
      stream->has_extended = header.is_extended;
      break;
    case 1:
      message.length = header.length;
      message.type_id = header.type_id;
      [[fallthrough]];
    case 2:
      message.timestamp += header.timestamp_field;
      stream->timestamp_field = header.timestamp_field;
      stream->has_extended = header.is_extended;
      break;
    default:
      // A type 3 chunk starting a message repeats the last delta; after a type 0 chunk that is
      // the type 0 timestamp itself (spec 5.3.1.2.4, as FFmpeg and SRS read it).
      if (header.is_extended) stream->timestamp_field = header.timestamp_field;
      message.timestamp += stream->timestamp_field;
      break;
  }
  if (message.length > options_.max_message_bytes)
    return error(Errc::limit,
                 "csid {} at byte offset {}: message of {} bytes is over the limit of {}", csid, at,
                 message.length, options_.max_message_bytes);

  stream->header = message;
  stream->received = 0;
  const std::span<std::uint8_t> storage = sink_->begin_message(message);
  if (storage.size() < message.length)
    return error(Errc::limit, "csid {} at byte offset {}: sink has {} bytes for a message of {}",
                 csid, at, storage.size(), message.length);
  stream->payload = storage.data();
  stream->is_open = true;
  current_ = index;
  discard_ = false;
  if (message.length == 0) return finish_chunk();
  chunk_left_ = std::min(chunk_size_, message.length);
  return ok();
}

Status ChunkReader::finish_chunk() noexcept {
  if (discard_) {
    discard_ = false;
    return ok();
  }
  Stream& stream = streams_[current_];
  if (stream.received < stream.header.length) return ok();
  stream.is_open = false;
  const std::span<std::uint8_t> payload(stream.payload, stream.header.length);
  stream.payload = nullptr;
  const MessageHeader header = stream.header;
  return sink_->end_message(header, payload);
}

}  // namespace weir::formats::rtmp
