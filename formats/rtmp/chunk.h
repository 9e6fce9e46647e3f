// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// What the RTMP chunk stream carries: message headers, chunk stream ids and the limits of the
/// chunk format (Adobe RTMP specification 1.0, section 5.3).
///
/// A chunk on the wire:
/// ```
///  +--------------+----------------+--------------------+--------------+
///  | basic header | message header | extended timestamp |  chunk data  |
///  |  1, 2 or 3   | 11, 7, 3 or 0  |      0 or 4        | <= chunk size|
///  +--------------+----------------+--------------------+--------------+
///  basic header:  fmt (2 bits) | csid 2..63            (1 byte)
///                 fmt | 0      | csid - 64             (2 bytes: csid 64..319)
///                 fmt | 1      | (csid - 64) LE 16 bit (3 bytes: csid 64..65599)
///  fmt 0: timestamp(3) length(3) type(1) stream id(4, little endian)  absolute timestamp
///  fmt 1: delta(3) length(3) type(1)                                   same stream id
///  fmt 2: delta(3)                                                     same length, type, stream
///  fmt 3: nothing: continuation of a message, or a new one repeating the previous header
/// ```

#include <cstdint>

namespace weir::formats::rtmp {

/// One RTMP message as the chunk stream delivers it: the header of its first chunk, resolved.
struct MessageHeader {
  std::uint32_t chunk_stream_id = 0;  ///< csid it arrived on (2..65599)
  std::uint32_t timestamp = 0;        ///< absolute timestamp in ms, deltas applied (wraps at 2^32)
  std::uint32_t length = 0;           ///< payload bytes (24 bits on the wire)
  std::uint8_t type_id = 0;           ///< message type (control.h: kMessageAudio, ...)
  std::uint32_t stream_id = 0;        ///< message stream id (0 = the connection's control stream)

  friend bool operator==(const MessageHeader&, const MessageHeader&) = default;
};

/// Chunk size every connection starts with, each direction (spec 5.4.1).
inline constexpr std::uint32_t kDefaultChunkSize = 128;
/// Largest chunk size Set Chunk Size may announce (31 bits).
inline constexpr std::uint32_t kMaxChunkSize = 0x7FFFFFFF;
/// Smallest chunk stream id a message may use (0 and 1 mark the longer basic headers).
inline constexpr std::uint32_t kMinChunkStreamId = 2;
/// Largest chunk stream id (3-byte basic header).
inline constexpr std::uint32_t kMaxChunkStreamId = 65599;
/// The chunk stream of protocol control messages (spec 5.4).
inline constexpr std::uint32_t kControlChunkStreamId = 2;
/// Largest payload a message header can state (24 bits).
inline constexpr std::uint32_t kMaxMessageLength = 0xFFFFFF;
/// A 24-bit timestamp field with this value means the real one follows in 4 more bytes.
inline constexpr std::uint32_t kExtendedTimestampMarker = 0xFFFFFF;
/// Largest chunk header: 3 basic + 11 message + 4 extended timestamp bytes.
inline constexpr std::uint32_t kMaxChunkHeaderBytes = 18;

}  // namespace weir::formats::rtmp
