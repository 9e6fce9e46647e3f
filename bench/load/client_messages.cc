// SPDX-License-Identifier: Apache-2.0
#include "client_messages.h"

#include <charconv>

#include "formats/amf/amf0.h"
#include "formats/rtmp/chunk_writer.h"

namespace weir::bench {
namespace amf = formats::amf;
namespace wire = formats::rtmp;

namespace {

constexpr std::uint32_t kCommandChunkStream = 3;

void append_command(std::vector<std::uint8_t>& out, std::uint32_t stream_id,
                    const std::vector<amf::Value>& values) {
  std::vector<std::uint8_t> payload;
  amf::Amf0Writer writer(payload);
  (void)writer.write_all(values);
  wire::ChunkStreamState state;
  wire::append_message(out, state,
                       {kCommandChunkStream, 0, static_cast<std::uint32_t>(payload.size()),
                        wire::kMessageCommandAmf0, stream_id},
                       payload, wire::kDefaultChunkSize, wire::HeaderCompression::none);
}

const amf::Value* info_field(const Command& command, std::string_view name) {
  for (const amf::Value& v : command.args)
    if (v.is_object() || v.is_ecma_array())
      if (const amf::Value* field = v.find(name)) return field;
  return nullptr;
}

}  // namespace

Result<RtmpUrl> parse_rtmp_url(std::string_view url) {
  constexpr std::string_view kScheme = "rtmp://";
  if (url.substr(0, kScheme.size()) != kScheme)
    return error(Errc::malformed, "url '{}': expected rtmp://HOST[:PORT]/APP/NAME", url);
  std::string_view rest = url.substr(kScheme.size());
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return error(Errc::malformed, "url '{}': no app", url);
  std::string_view authority = rest.substr(0, slash);
  rest = rest.substr(slash + 1);
  RtmpUrl out;
  auto colon = authority.rfind(':');
  if (colon != std::string_view::npos) {
    std::string_view port = authority.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      return error(Errc::malformed, "url '{}': bad port", url);
    out.port = static_cast<std::uint16_t>(value);
    authority = authority.substr(0, colon);
  }
  out.host = authority;
  slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size())
    return error(Errc::malformed, "url '{}': expected /APP/NAME", url);
  out.app = rest.substr(0, slash);
  out.name = rest.substr(slash + 1);
  out.tc_url = "rtmp://" + out.host + ":" + std::to_string(out.port) + "/" + out.app;
  return out;
}

void append_connect(std::vector<std::uint8_t>& out, const RtmpUrl& url) {
  append_command(out, 0,
                 {amf::Value("connect"), amf::Value(kConnectTransaction),
                  amf::Value::object({{"app", amf::Value(url.app)},
                                      {"flashVer", amf::Value("LNX 9,0,124,2")},
                                      {"tcUrl", amf::Value(url.tc_url)},
                                      {"fpad", amf::Value(false)},
                                      {"capabilities", amf::Value(15.0)},
                                      {"audioCodecs", amf::Value(4071.0)},
                                      {"videoCodecs", amf::Value(252.0)},
                                      {"videoFunction", amf::Value(1.0)}})});
}

void append_create_stream(std::vector<std::uint8_t>& out) {
  append_command(out, 0, {amf::Value("createStream"), amf::Value(kCreateStreamTransaction), amf::Value::null()});
}

void append_play(std::vector<std::uint8_t>& out, std::uint32_t stream_id, std::string_view name) {
  // start -2000 (ffmpeg's "live or recorded"): both servers treat it as live.
  append_command(out, stream_id,
                 {amf::Value("play"), amf::Value(0.0), amf::Value::null(), amf::Value(std::string(name)),
                  amf::Value(-2000.0)});
}

void append_prepare_publish(std::vector<std::uint8_t>& out, std::string_view name) {
  append_command(out, 0, {amf::Value("releaseStream"), amf::Value(3.0), amf::Value::null(),
                          amf::Value(std::string(name))});
  append_command(out, 0, {amf::Value("FCPublish"), amf::Value(4.0), amf::Value::null(),
                          amf::Value(std::string(name))});
  append_command(out, 0, {amf::Value("createStream"), amf::Value(kCreateStreamTransaction), amf::Value::null()});
}

void append_publish(std::vector<std::uint8_t>& out, std::uint32_t stream_id, std::string_view name) {
  append_command(out, stream_id,
                 {amf::Value("publish"), amf::Value(0.0), amf::Value::null(), amf::Value(std::string(name)),
                  amf::Value("live")});
}

void append_control(std::vector<std::uint8_t>& out, std::uint8_t type_id, const wire::ControlPayload& payload) {
  wire::ChunkStreamState state;
  wire::append_message(out, state, wire::control_header(type_id, payload), payload.span(), wire::kDefaultChunkSize,
                       wire::HeaderCompression::none);
}

std::string_view Command::status_code() const noexcept {
  const amf::Value* v = info_field(*this, "code");
  return v ? v->as_string() : std::string_view();
}

std::string_view Command::status_level() const noexcept {
  const amf::Value* v = info_field(*this, "level");
  return v ? v->as_string() : std::string_view();
}

std::string_view Command::status_description() const noexcept {
  const amf::Value* v = info_field(*this, "description");
  return v ? v->as_string() : std::string_view();
}

Result<Command> parse_command(std::uint8_t type_id, std::span<const std::uint8_t> payload) {
  if (type_id == wire::kMessageCommandAmf3 && !payload.empty()) payload = payload.subspan(1);
  amf::Amf0Reader reader(payload);
  auto values = reader.read_all();
  if (!values) return values.error().with_context("command");
  if (values->size() < 2 || !(*values)[0].is_string())
    return error(Errc::malformed, "command without a name and transaction id");
  Command command;
  command.name = (*values)[0].as_string();
  command.transaction = (*values)[1].as_number();
  command.args.assign(std::make_move_iterator(values->begin() + 2), std::make_move_iterator(values->end()));
  return command;
}

}  // namespace weir::bench
