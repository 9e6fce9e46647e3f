// SPDX-License-Identifier: Apache-2.0
#include "formats/rtmp/control.h"

#include <cassert>

#include "formats/rtmp/byte_order.h"
#include "formats/rtmp/chunk_reader.h"

namespace weir::formats::rtmp {

namespace {

ControlPayload u32_payload(std::uint32_t value) noexcept {
  ControlPayload payload;
  detail::store_u32be(payload.bytes.data(), value);
  payload.size = 4;
  return payload;
}

Result<std::uint32_t> decode_u32(std::span<const std::uint8_t> payload, std::string_view what) {
  if (payload.size() < 4)
    return error(Errc::malformed, "{} message of {} bytes, 4 needed", what, payload.size());
  return detail::load_u32be(payload.data());
}

bool has_stream_id_only(UserControlEvent event) noexcept {
  switch (event) {
    case UserControlEvent::stream_begin:
    case UserControlEvent::stream_eof:
    case UserControlEvent::stream_dry:
    case UserControlEvent::stream_is_recorded:
    case UserControlEvent::ping_request:
    case UserControlEvent::ping_response:
    case UserControlEvent::buffer_empty:
    case UserControlEvent::buffer_ready:
      return true;
    case UserControlEvent::set_buffer_length:
      return false;
  }
  return false;
}

}  // namespace

ControlPayload encode_set_chunk_size(std::uint32_t chunk_size) noexcept {
  assert(chunk_size >= 1 && chunk_size <= kMaxChunkSize);
  return u32_payload(chunk_size & kMaxChunkSize);
}

ControlPayload encode_abort(std::uint32_t chunk_stream_id) noexcept {
  return u32_payload(chunk_stream_id);
}

ControlPayload encode_acknowledgement(std::uint32_t sequence_number) noexcept {
  return u32_payload(sequence_number);
}

ControlPayload encode_window_ack_size(std::uint32_t window_bytes) noexcept {
  return u32_payload(window_bytes);
}

ControlPayload encode_set_peer_bandwidth(const SetPeerBandwidth& bandwidth) noexcept {
  ControlPayload payload = u32_payload(bandwidth.window_bytes);
  payload.bytes[4] = static_cast<std::uint8_t>(bandwidth.limit);
  payload.size = 5;
  return payload;
}

ControlPayload encode_user_control(const UserControl& event) noexcept {
  ControlPayload payload;
  detail::store_u16be(payload.bytes.data(), static_cast<std::uint16_t>(event.event));
  detail::store_u32be(payload.bytes.data() + 2, event.value);
  payload.size = 6;
  if (event.event == UserControlEvent::set_buffer_length) {
    detail::store_u32be(payload.bytes.data() + 6, event.buffer_length_ms);
    payload.size = 10;
  }
  return payload;
}

MessageHeader control_header(std::uint8_t type_id, const ControlPayload& payload,
                             std::uint32_t timestamp) noexcept {
  MessageHeader header;
  header.chunk_stream_id = kControlChunkStreamId;
  header.timestamp = timestamp;
  header.length = payload.size;
  header.type_id = type_id;
  header.stream_id = 0;
  return header;
}

Result<std::uint32_t> decode_set_chunk_size(std::span<const std::uint8_t> payload) {
  auto value = decode_u32(payload, "set chunk size");
  if (!value) return value;
  if (*value == 0 || *value > kMaxChunkSize)
    return error(Errc::malformed, "set chunk size {} is outside 1..{}", *value, kMaxChunkSize);
  return value;
}

Result<std::uint32_t> decode_abort(std::span<const std::uint8_t> payload) {
  return decode_u32(payload, "abort");
}

Result<std::uint32_t> decode_acknowledgement(std::span<const std::uint8_t> payload) {
  return decode_u32(payload, "acknowledgement");
}

Result<std::uint32_t> decode_window_ack_size(std::span<const std::uint8_t> payload) {
  return decode_u32(payload, "window acknowledgement size");
}

Result<SetPeerBandwidth> decode_set_peer_bandwidth(std::span<const std::uint8_t> payload) {
  if (payload.size() < 5)
    return error(Errc::malformed, "set peer bandwidth message of {} bytes, 5 needed",
                 payload.size());
  if (payload[4] > 2)
    return error(Errc::malformed, "set peer bandwidth limit type {} (0..2 expected)", payload[4]);
  SetPeerBandwidth bandwidth;
  bandwidth.window_bytes = detail::load_u32be(payload.data());
  bandwidth.limit = static_cast<BandwidthLimit>(payload[4]);
  return bandwidth;
}

Result<UserControl> decode_user_control(std::span<const std::uint8_t> payload) {
  if (payload.size() < 2)
    return error(Errc::malformed, "user control message of {} bytes, 2 needed", payload.size());
  UserControl event;
  event.event = static_cast<UserControlEvent>(detail::load_u16be(payload.data()));
  const std::size_t data = payload.size() - 2;
  if (event.event == UserControlEvent::set_buffer_length) {
    if (data < 8)
      return error(Errc::malformed, "user control set buffer length with {} data bytes, 8 needed",
                   data);
    event.value = detail::load_u32be(payload.data() + 2);
    event.buffer_length_ms = detail::load_u32be(payload.data() + 6);
    return event;
  }
  if (has_stream_id_only(event.event) && data < 4)
    return error(Errc::malformed, "user control event {} with {} data bytes, 4 needed",
                 static_cast<unsigned>(event.event), data);
  if (data >= 4) event.value = detail::load_u32be(payload.data() + 2);
  return event;
}

Status apply_chunk_control(ChunkReader& reader, const MessageHeader& header,
                           std::span<const std::uint8_t> payload) {
  if (header.type_id == kMessageSetChunkSize) {
    auto size = decode_set_chunk_size(payload);
    if (!size) return size.error();
    return reader.set_chunk_size(*size);
  }
  if (header.type_id == kMessageAbort) {
    auto csid = decode_abort(payload);
    if (!csid) return csid.error();
    reader.abort(*csid);
  }
  return ok();
}

}  // namespace weir::formats::rtmp
