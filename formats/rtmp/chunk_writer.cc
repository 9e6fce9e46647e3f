// SPDX-License-Identifier: Apache-2.0
#include "formats/rtmp/chunk_writer.h"

#include <algorithm>
#include <cassert>

#include "formats/rtmp/byte_order.h"

namespace weir::formats::rtmp {

namespace {

std::uint8_t write_basic_header(std::uint8_t* p, std::uint8_t fmt, std::uint32_t csid) noexcept {
  const auto kind = static_cast<std::uint8_t>(fmt << 6);
  if (csid < 64) {
    p[0] = static_cast<std::uint8_t>(kind | csid);
    return 1;
  }
  if (csid < 320) {
    p[0] = kind;
    p[1] = static_cast<std::uint8_t>(csid - 64);
    return 2;
  }
  p[0] = kind | 1;
  p[1] = static_cast<std::uint8_t>(csid - 64);
  p[2] = static_cast<std::uint8_t>((csid - 64) >> 8);
  return 3;
}

}  // namespace

std::uint32_t MessageFraming::chunk_count() const noexcept {
  if (length_ == 0) return 1;
  return length_ / chunk_size_ + (length_ % chunk_size_ != 0 ? 1 : 0);
}

ChunkSegment MessageFraming::segment(std::uint32_t index) const noexcept {
  ChunkSegment segment;
  segment.header = index == 0 ? first_header() : continuation_header();
  // 64-bit: index * chunk_size may pass 2^32 for chunk sizes near the 31-bit maximum.
  const std::uint64_t offset = std::uint64_t{index} * chunk_size_;
  segment.payload_offset = static_cast<std::uint32_t>(std::min<std::uint64_t>(offset, length_));
  segment.payload_length = std::min(chunk_size_, length_ - segment.payload_offset);
  return segment;
}

std::size_t MessageFraming::wire_bytes() const noexcept {
  return first_size_ + std::size_t{continuation_size_} * (chunk_count() - 1) + length_;
}

MessageFraming frame_message(ChunkStreamState& state, const MessageHeader& header,
                             std::uint32_t chunk_size, HeaderCompression compression) noexcept {
  assert(header.chunk_stream_id >= kMinChunkStreamId &&
         header.chunk_stream_id <= kMaxChunkStreamId);
  assert(header.length <= kMaxMessageLength);
  assert(chunk_size >= 1 && chunk_size <= kMaxChunkSize);
  assert(!state.has_previous || state.previous.chunk_stream_id == header.chunk_stream_id);

  std::uint8_t fmt = 0;
  std::uint32_t field = header.timestamp;
  const MessageHeader& previous = state.previous;
  if (compression == HeaderCompression::allowed && state.has_previous &&
      header.stream_id == previous.stream_id && header.timestamp >= previous.timestamp) {
    field = header.timestamp - previous.timestamp;
    if (header.length != previous.length || header.type_id != previous.type_id) {
      fmt = 1;
    } else if (state.is_delta && field == state.timestamp_field &&
               field < kExtendedTimestampMarker) {
      // Only after a type 1/2 header: after type 0, readers disagree on the delta a type 3 header
      // repeats (the spec and FFmpeg: the type 0 timestamp; nginx-rtmp: zero).
      fmt = 3;
    } else {
      fmt = 2;
    }
  }
  const bool is_extended = field >= kExtendedTimestampMarker;
  const std::uint32_t short_field = is_extended ? kExtendedTimestampMarker : field;

  MessageFraming framing;
  framing.length_ = header.length;
  framing.chunk_size_ = chunk_size;
  std::uint8_t* p = framing.first_.data();
  std::uint8_t size = write_basic_header(p, fmt, header.chunk_stream_id);
  if (fmt <= 2) {
    detail::store_u24be(p + size, short_field);
    size += 3;
  }
  if (fmt <= 1) {
    detail::store_u24be(p + size, header.length);
    p[size + 3] = header.type_id;
    size += 4;
  }
  if (fmt == 0) {
    detail::store_u32le(p + size, header.stream_id);
    size += 4;
  }
  if (is_extended) {
    detail::store_u32be(p + size, field);
    size += 4;
  }
  framing.first_size_ = size;

  // Later chunks: type 3, repeating the extended timestamp as Flash and FMS do.
  std::uint8_t* c = framing.continuation_.data();
  std::uint8_t continuation_size = write_basic_header(c, 3, header.chunk_stream_id);
  if (is_extended) {
    detail::store_u32be(c + continuation_size, field);
    continuation_size += 4;
  }
  framing.continuation_size_ = continuation_size;

  state.previous = header;
  state.has_previous = true;
  if (fmt != 3) {
    state.timestamp_field = field;
    state.is_delta = fmt != 0;
  }
  return framing;
}

void append_message(std::vector<std::uint8_t>& out, ChunkStreamState& state,
                    const MessageHeader& header, std::span<const std::uint8_t> payload,
                    std::uint32_t chunk_size, HeaderCompression compression) {
  assert(payload.size() == header.length);
  const MessageFraming framing = frame_message(state, header, chunk_size, compression);
  out.reserve(out.size() + framing.wire_bytes());
  for (const ChunkSegment segment : framing) {
    out.insert(out.end(), segment.header.begin(), segment.header.end());
    const auto piece = payload.subspan(segment.payload_offset, segment.payload_length);
    out.insert(out.end(), piece.begin(), piece.end());
  }
}

void ChunkWriter::set_chunk_size(std::uint32_t bytes) noexcept {
  assert(bytes >= 1 && bytes <= kMaxChunkSize);
  chunk_size_ = bytes;
}

ChunkStreamState& ChunkWriter::state(std::uint32_t chunk_stream_id) {
  for (ChunkStreamState& state : states_)
    if (state.previous.chunk_stream_id == chunk_stream_id) return state;
  ChunkStreamState& state = states_.emplace_back();
  state.previous.chunk_stream_id = chunk_stream_id;
  return state;
}

MessageFraming ChunkWriter::frame(const MessageHeader& header, HeaderCompression compression) {
  return frame_message(state(header.chunk_stream_id), header, chunk_size_, compression);
}

void ChunkWriter::append(std::vector<std::uint8_t>& out, const MessageHeader& header,
                         std::span<const std::uint8_t> payload, HeaderCompression compression) {
  append_message(out, state(header.chunk_stream_id), header, payload, chunk_size_, compression);
}

}  // namespace weir::formats::rtmp
