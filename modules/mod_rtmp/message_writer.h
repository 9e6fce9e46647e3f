// SPDX-License-Identifier: Apache-2.0
#pragma once
// MessageWriter: the messages a connection sends besides media, built and chunked here:
//
//   control (chunk size, window, bandwidth, user control: chunk stream 2)
//   commands (_result, _error, onStatus, the client's calls: chunk stream 3, AMF0)
//   shared object messages (chunk stream 3)
//
// Each is small and rare, so it is sent as a copy; media framing around shared pages is the
// players' (player.h). Thread: the connection's poll group. Owned by the session.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "formats/amf/value.h"
#include "formats/rtmp/chunk_writer.h"
#include "formats/rtmp/control.h"
#include "weir/connection.h"

namespace weir::rtmp {

/// Commands, status and shared object messages travel on this chunk stream.
inline constexpr std::uint32_t kCommandChunkStream = 3;

class MessageWriter {
 public:
  explicit MessageWriter(Connection& connection) : connection_(connection) {}

  /// The chunk size announced to the peer (Set Chunk Size): what the next messages use.
  void set_chunk_size(std::uint32_t size) noexcept { writer_.set_chunk_size(size); }

  void send_message(std::uint32_t chunk_stream_id, std::uint8_t type_id, std::uint32_t stream_id,
                    std::span<const std::uint8_t> payload);
  void send_control(std::uint8_t type_id, const formats::rtmp::ControlPayload& payload);
  void send_user_control(formats::rtmp::UserControlEvent event, std::uint32_t value);
  /// An AMF0 command on `stream_id`; nothing is sent when a value cannot be encoded.
  void send_command(std::uint32_t stream_id, const std::vector<formats::amf::Value>& values);
  /// `_result` of `transaction`; an undefined `info` is sent as null.
  void send_result(double transaction, const formats::amf::Value& properties, const formats::amf::Value& info);
  /// `_error` of `transaction` with an info object (level error); `extra`, if defined, as its `ex`.
  void send_error(double transaction, std::string_view code, std::string_view description,
                  const formats::amf::Value& extra = formats::amf::Value());
  /// onStatus on `stream_id` (NetStream.Play.Start, NetStream.Publish.BadName, ...).
  void send_status(std::uint32_t stream_id, std::string_view level, std::string_view code,
                   std::string_view description);

 private:
  Connection& connection_;
  formats::rtmp::ChunkWriter writer_;  // its header compression state is per chunk stream
  std::vector<std::uint8_t> scratch_;
};

}  // namespace weir::rtmp
