// SPDX-License-Identifier: Apache-2.0
#include "message_writer.h"

#include "formats/amf/amf0.h"

namespace weir::rtmp {
namespace amf = formats::amf;
namespace wire = formats::rtmp;

void MessageWriter::send_message(std::uint32_t chunk_stream_id, std::uint8_t type_id, std::uint32_t stream_id,
                                 std::span<const std::uint8_t> payload) {
  std::vector<std::uint8_t> out;
  wire::MessageHeader header{chunk_stream_id, 0, static_cast<std::uint32_t>(payload.size()), type_id, stream_id};
  writer_.append(out, header, payload);
  connection_.send_copy(out);
}

void MessageWriter::send_control(std::uint8_t type_id, const wire::ControlPayload& payload) {
  std::vector<std::uint8_t> out;
  writer_.append(out, wire::control_header(type_id, payload), payload.span());
  connection_.send_copy(out);
}

void MessageWriter::send_user_control(wire::UserControlEvent event, std::uint32_t value) {
  send_control(wire::kMessageUserControl, wire::encode_user_control(wire::UserControl{event, value, 0}));
}

void MessageWriter::send_command(std::uint32_t stream_id, const std::vector<amf::Value>& values) {
  scratch_.clear();
  amf::Amf0Writer writer(scratch_);
  if (!writer.write_all(values)) return;
  send_message(kCommandChunkStream, wire::kMessageCommandAmf0, stream_id, scratch_);
}

void MessageWriter::send_result(double transaction, const amf::Value& properties, const amf::Value& info) {
  std::vector<amf::Value> values{amf::Value("_result"), amf::Value(transaction), properties};
  if (!info.is_undefined()) values.push_back(info);
  else values.push_back(amf::Value::null());
  send_command(0, values);
}

void MessageWriter::send_error(double transaction, std::string_view code, std::string_view description,
                               const amf::Value& extra) {
  amf::Value info = amf::Value::object({{"level", amf::Value("error")},
                                        {"code", amf::Value(code)},
                                        {"description", amf::Value(description)}});
  if (!extra.is_undefined()) info.set("ex", extra);
  send_command(0, {amf::Value("_error"), amf::Value(transaction), amf::Value::null(), info});
}

void MessageWriter::send_status(std::uint32_t stream_id, std::string_view level, std::string_view code,
                                std::string_view description) {
  send_command(stream_id, {amf::Value("onStatus"), amf::Value(0.0), amf::Value::null(),
                           amf::Value::object({{"level", amf::Value(level)},
                                               {"code", amf::Value(code)},
                                               {"description", amf::Value(description)}})});
}

}  // namespace weir::rtmp
