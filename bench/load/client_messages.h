// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The few RTMP commands a client sends (connect, createStream, play, publish, ...) framed for the
/// wire, and the replies it reads (_result, _error, onStatus). Control path only: allocates.
///
/// ```
///  player:     connect(1) -> _result  createStream(2) -> _result(id)  play(id, name) -> onStatus
///  publisher:  connect(1) -> _result  releaseStream, FCPublish, createStream(4) -> _result(id)
///              publish(id, name, "live") -> onStatus NetStream.Publish.Start
/// ```

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "formats/amf/value.h"
#include "formats/rtmp/chunk.h"
#include "formats/rtmp/control.h"
#include "weir/status.h"

namespace weir::bench {

/// rtmp://host[:port]/app/name
struct RtmpUrl {
  std::string host;
  std::uint16_t port = 1935;
  std::string app;
  std::string name;
  std::string tc_url;  ///< rtmp://host:port/app
};

/// Errc::malformed unless `url` is rtmp://HOST[:PORT]/APP/NAME (NAME may hold slashes).
Result<RtmpUrl> parse_rtmp_url(std::string_view url);

/// Transaction ids the clients use.
inline constexpr double kConnectTransaction = 1;
inline constexpr double kCreateStreamTransaction = 2;

/// Appends whole messages framed at the initial chunk size (128) with full headers: the clients
/// never change their outgoing chunk size on the control path.
void append_connect(std::vector<std::uint8_t>& out, const RtmpUrl& url);
void append_create_stream(std::vector<std::uint8_t>& out);
void append_play(std::vector<std::uint8_t>& out, std::uint32_t stream_id, std::string_view name);
/// releaseStream + FCPublish + createStream, as ffmpeg sends them.
void append_prepare_publish(std::vector<std::uint8_t>& out, std::string_view name);
void append_publish(std::vector<std::uint8_t>& out, std::uint32_t stream_id, std::string_view name);
void append_control(std::vector<std::uint8_t>& out, std::uint8_t type_id,
                    const formats::rtmp::ControlPayload& payload);

/// A command message read back: name, transaction and the values after them.
struct Command {
  std::string name;
  double transaction = 0;
  std::vector<formats::amf::Value> args;  ///< command object, then the arguments

  /// onStatus's info.code (or _error's); empty when absent.
  std::string_view status_code() const noexcept;
  /// info.level ("status", "error"); empty when absent.
  std::string_view status_level() const noexcept;
  /// info.description; empty when absent.
  std::string_view status_description() const noexcept;
};

/// Parses an AMF0 (type 20) or AMF3 (type 17, leading format byte) command payload.
Result<Command> parse_command(std::uint8_t type_id, std::span<const std::uint8_t> payload);

}  // namespace weir::bench
