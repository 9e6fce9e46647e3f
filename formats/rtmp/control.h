// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// RTMP message type ids and the protocol control messages (spec 5.4 and 7.1.7): their payloads
/// encoded into small fixed buffers and decoded from borrowed spans. No allocation except in
/// errors.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/rtmp/chunk.h"
#include "weir/status.h"

namespace weir::formats::rtmp {

class ChunkReader;

/// \name Message type ids (MessageHeader::type_id)
/// @{
inline constexpr std::uint8_t kMessageSetChunkSize = 1;      ///< protocol control
inline constexpr std::uint8_t kMessageAbort = 2;             ///< protocol control
inline constexpr std::uint8_t kMessageAcknowledgement = 3;   ///< protocol control
inline constexpr std::uint8_t kMessageUserControl = 4;       ///< user control events
inline constexpr std::uint8_t kMessageWindowAckSize = 5;     ///< protocol control
inline constexpr std::uint8_t kMessageSetPeerBandwidth = 6;  ///< protocol control
inline constexpr std::uint8_t kMessageAudio = 8;
inline constexpr std::uint8_t kMessageVideo = 9;
inline constexpr std::uint8_t kMessageDataAmf3 = 15;  ///< @setDataFrame, onMetaData in AMF3
inline constexpr std::uint8_t kMessageSharedObjectAmf3 = 16;
inline constexpr std::uint8_t kMessageCommandAmf3 = 17;
inline constexpr std::uint8_t kMessageDataAmf0 = 18;  ///< @setDataFrame, onMetaData
inline constexpr std::uint8_t kMessageSharedObjectAmf0 = 19;
inline constexpr std::uint8_t kMessageCommandAmf0 = 20;  ///< connect, publish, play, ...
inline constexpr std::uint8_t kMessageAggregate = 22;    ///< aggregate_reader.h
/// @}

/// True for the protocol control types 1, 2, 3, 5, 6, which travel on csid 2, stream 0.
constexpr bool is_protocol_control(std::uint8_t type_id) noexcept {
  return type_id == kMessageSetChunkSize || type_id == kMessageAbort ||
         type_id == kMessageAcknowledgement || type_id == kMessageWindowAckSize ||
         type_id == kMessageSetPeerBandwidth;
}

/// Set Peer Bandwidth's limit type (spec 5.4.5).
enum class BandwidthLimit : std::uint8_t {
  hard = 0,     ///< limit output to the window
  soft = 1,     ///< limit to the window or the limit already in force, whichever is smaller
  dynamic = 2,  ///< hard if the previous limit was hard, else ignore
};

/// Set Peer Bandwidth (type 6): the window the peer may send before an acknowledgement.
struct SetPeerBandwidth {
  std::uint32_t window_bytes = 0;
  BandwidthLimit limit = BandwidthLimit::dynamic;
};

/// User Control event types (spec 7.1.7; 31 and 32 are FMS extensions seen in the wild).
enum class UserControlEvent : std::uint16_t {
  stream_begin = 0,        ///< data: stream id
  stream_eof = 1,          ///< data: stream id
  stream_dry = 2,          ///< data: stream id
  set_buffer_length = 3,   ///< data: stream id, buffer length in ms
  stream_is_recorded = 4,  ///< data: stream id
  ping_request = 6,        ///< data: server timestamp
  ping_response = 7,       ///< data: the timestamp of the request
  buffer_empty = 31,       ///< data: stream id
  buffer_ready = 32,       ///< data: stream id
};

/// One User Control message (type 4). `value` is the stream id or, for pings, the timestamp.
/// Unknown event types decode with their number and the first 4 data bytes (0 if fewer).
struct UserControl {
  UserControlEvent event = UserControlEvent::stream_begin;
  std::uint32_t value = 0;             ///< stream id, or the ping timestamp
  std::uint32_t buffer_length_ms = 0;  ///< set_buffer_length only
};

/// An encoded control message payload: at most 10 bytes, held by value.
struct ControlPayload {
  std::array<std::uint8_t, 10> bytes{};
  std::uint8_t size = 0;
  std::span<const std::uint8_t> span() const noexcept { return {bytes.data(), size}; }
};

/// \name Encoders: payload bytes only; frame them with control_header() and a ChunkWriter.
/// @{
/// Set Chunk Size (type 1). Precondition: 1..0x7FFFFFFF (the top bit must be zero).
ControlPayload encode_set_chunk_size(std::uint32_t chunk_size) noexcept;
/// Abort (type 2): drop the partial message on `chunk_stream_id`.
ControlPayload encode_abort(std::uint32_t chunk_stream_id) noexcept;
/// Acknowledgement (type 3): bytes received so far (wraps at 2^32).
ControlPayload encode_acknowledgement(std::uint32_t sequence_number) noexcept;
/// Window Acknowledgement Size (type 5).
ControlPayload encode_window_ack_size(std::uint32_t window_bytes) noexcept;
/// Set Peer Bandwidth (type 6).
ControlPayload encode_set_peer_bandwidth(const SetPeerBandwidth& bandwidth) noexcept;
/// User Control (type 4): 6 bytes, or 10 for set_buffer_length.
ControlPayload encode_user_control(const UserControl& event) noexcept;
/// @}

/// The header for a control message of `type_id` with `payload`: csid 2, stream 0, timestamp 0
/// (or `timestamp` when given).
MessageHeader control_header(std::uint8_t type_id, const ControlPayload& payload,
                             std::uint32_t timestamp = 0) noexcept;

/// \name Decoders: the payload is borrowed for the call. Errc::malformed names the type and size.
/// @{
/// Set Chunk Size: Errc::malformed when short, zero or with the top bit set. Values above the
/// 16 MiB message limit are legal (they mean "never split").
Result<std::uint32_t> decode_set_chunk_size(std::span<const std::uint8_t> payload);
/// Abort: the chunk stream id.
Result<std::uint32_t> decode_abort(std::span<const std::uint8_t> payload);
/// Acknowledgement: the sequence number.
Result<std::uint32_t> decode_acknowledgement(std::span<const std::uint8_t> payload);
/// Window Acknowledgement Size: the window in bytes.
Result<std::uint32_t> decode_window_ack_size(std::span<const std::uint8_t> payload);
/// Set Peer Bandwidth; a limit type above 2 is malformed.
Result<SetPeerBandwidth> decode_set_peer_bandwidth(std::span<const std::uint8_t> payload);
/// User Control; known events must carry their data (malformed otherwise).
Result<UserControl> decode_user_control(std::span<const std::uint8_t> payload);
/// @}

/// Applies a received Set Chunk Size or Abort message to `reader`, from ChunkSink::end_message so
/// it takes effect at its place in the stream. Other types: nothing, ok. Errors from decoding or
/// ChunkReader::set_chunk_size().
Status apply_chunk_control(ChunkReader& reader, const MessageHeader& header,
                           std::span<const std::uint8_t> payload);

}  // namespace weir::formats::rtmp
