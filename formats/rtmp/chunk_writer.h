// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Chunk framing without copying payload: for a message of N bytes at chunk size C, the header of
/// its first chunk and the type 3 header repeated before each later chunk, as segments the caller
/// turns into iovecs around its own payload pages.
///
/// ```
///   N = 300, C = 128:
///   [first header][payload 0..128)[cont header][payload 128..256)[cont header][payload 256..300)
///    fmt 0..3, up to 18 bytes      1-3 bytes (+4 extended timestamp, repeated as Flash/FMS do)
/// ```

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <vector>

#include "formats/rtmp/chunk.h"

namespace weir::formats::rtmp {

/// Whether a message's first chunk may leave out what the previous header on its csid stated.
enum class HeaderCompression : std::uint8_t {
  none,     ///< always a type 0 header (a new player, after a seek, on a csid's first message)
  allowed,  ///< type 1, 2 or 3 when the previous header on the csid allows it
};

/// What a writer remembers of one chunk stream id: the header the peer's reader builds on.
/// Keep one per csid per connection; it is ~32 bytes and trivially copyable.
struct ChunkStreamState {
  MessageHeader previous;             ///< the last message framed on this csid
  std::uint32_t timestamp_field = 0;  ///< the timestamp (type 0) or delta (type 1/2) it stated
  bool has_previous = false;          ///< false until a message was framed on this csid
  bool is_delta = false;              ///< timestamp_field is a delta (last full header type 1/2)
};

/// One piece of a framed message: `header` bytes, then payload[payload_offset, +payload_length).
struct ChunkSegment {
  std::span<const std::uint8_t> header;  ///< views into the MessageFraming it came from
  std::uint32_t payload_offset = 0;
  std::uint32_t payload_length = 0;
};

/// The chunk framing of one message. Holds its two headers by value (no allocation); the segments
/// it yields view into it, so it must outlive them (until the writev that sends them).
class MessageFraming {
 public:
  /// Iterates the segments in wire order.
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = ChunkSegment;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = ChunkSegment;

    Iterator() = default;
    ChunkSegment operator*() const noexcept { return framing_->segment(index_); }
    Iterator& operator++() noexcept {
      ++index_;
      return *this;
    }
    Iterator operator++(int) noexcept {
      Iterator before = *this;
      ++index_;
      return before;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) noexcept {
      return a.index_ == b.index_;
    }

   private:
    friend class MessageFraming;
    Iterator(const MessageFraming* framing, std::uint32_t index)
        : framing_(framing), index_(index) {}
    const MessageFraming* framing_ = nullptr;
    std::uint32_t index_ = 0;
  };

  /// Chunks the message takes: ceil(length / chunk size), and 1 for an empty message.
  std::uint32_t chunk_count() const noexcept;
  /// Segment `index` < chunk_count(): the first header for 0, the type 3 header after.
  ChunkSegment segment(std::uint32_t index) const noexcept;
  /// The first chunk's header (type 0..3 basic + message header + extended timestamp).
  std::span<const std::uint8_t> first_header() const noexcept {
    return {first_.data(), first_size_};
  }
  /// The header before every later chunk: type 3, plus the extended timestamp when the first had
  /// one.
  std::span<const std::uint8_t> continuation_header() const noexcept {
    return {continuation_.data(), continuation_size_};
  }
  /// The format of the first chunk's header (0..3).
  std::uint8_t fmt() const noexcept { return static_cast<std::uint8_t>(first_[0] >> 6); }
  /// Bytes on the wire: every header plus the payload.
  std::size_t wire_bytes() const noexcept;

  Iterator begin() const noexcept { return Iterator(this, 0); }
  Iterator end() const noexcept { return Iterator(this, chunk_count()); }

 private:
  friend MessageFraming frame_message(ChunkStreamState&, const MessageHeader&, std::uint32_t,
                                      HeaderCompression) noexcept;

  std::array<std::uint8_t, kMaxChunkHeaderBytes> first_{};
  std::array<std::uint8_t, 7> continuation_{};  // 3 basic + 4 extended timestamp
  std::uint8_t first_size_ = 0;
  std::uint8_t continuation_size_ = 0;
  std::uint32_t length_ = 0;
  std::uint32_t chunk_size_ = kDefaultChunkSize;
};

/// Frames `header` (its chunk_stream_id, timestamp, length, type_id, stream_id) at `chunk_size` and
/// records it in `state`, the caller's state for that csid. With compression allowed the first
/// header is type 1 (same stream, time not going back), 2 (same length and type too) or 3 (same
/// delta as the last type 1/2 header, which every reader agrees on), else type 0.
/// Preconditions (asserted; they are the caller's values, not the peer's): csid in 2..65599,
/// length <= 0xFFFFFF, chunk_size in 1..0x7FFFFFFF, `state` only ever used for this csid.
/// Thread: any; no allocation.
MessageFraming frame_message(ChunkStreamState& state, const MessageHeader& header,
                             std::uint32_t chunk_size,
                             HeaderCompression compression = HeaderCompression::allowed) noexcept;

/// Frames the message and appends it, headers and payload, to `out` (tools, tests, control
/// messages). payload.size() must equal header.length. Allocates only to grow `out`.
void append_message(std::vector<std::uint8_t>& out, ChunkStreamState& state,
                    const MessageHeader& header, std::span<const std::uint8_t> payload,
                    std::uint32_t chunk_size,
                    HeaderCompression compression = HeaderCompression::allowed);

/// The sending side of one connection: its chunk size and a ChunkStreamState per csid used.
/// Thread: one owner. Allocates only when a csid is first used.
class ChunkWriter {
 public:
  /// Starts at the protocol's initial chunk size, 128.
  explicit ChunkWriter(std::uint32_t chunk_size = kDefaultChunkSize) : chunk_size_(chunk_size) {}

  /// Chunk size for messages framed from now on. Send Set Chunk Size (control.h) first, framed at
  /// the old size. Precondition: 1..0x7FFFFFFF.
  void set_chunk_size(std::uint32_t bytes) noexcept;
  std::uint32_t chunk_size() const noexcept { return chunk_size_; }

  /// Frames a message on header.chunk_stream_id (frame_message with this writer's state).
  MessageFraming frame(const MessageHeader& header,
                       HeaderCompression compression = HeaderCompression::allowed);
  /// Frames and appends a whole message to `out` (append_message with this writer's state).
  void append(std::vector<std::uint8_t>& out, const MessageHeader& header,
              std::span<const std::uint8_t> payload,
              HeaderCompression compression = HeaderCompression::allowed);

  /// The state of `chunk_stream_id`, created empty on first use.
  ChunkStreamState& state(std::uint32_t chunk_stream_id);
  /// Forgets every csid: the next message on each gets a type 0 header.
  void reset() noexcept { states_.clear(); }

 private:
  std::uint32_t chunk_size_;
  std::vector<ChunkStreamState> states_;  // few: linear search beats hashing
};

}  // namespace weir::formats::rtmp
