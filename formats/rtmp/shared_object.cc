// SPDX-License-Identifier: Apache-2.0
#include "formats/rtmp/shared_object.h"

#include "formats/amf/amf0.h"
#include "formats/amf/amf3.h"
#include "formats/rtmp/byte_order.h"

namespace weir::formats::rtmp {
namespace {

using Type = SharedObjectEventType;

// Values inside one event: AMF0 (with the AVM+ switch) or plain AMF3.
Result<std::vector<amf::Value>> read_values(std::span<const std::uint8_t> data, std::uint8_t encoding) {
  std::vector<amf::Value> values;
  if (encoding == 3) {
    amf::Amf3Reader reader(data);
    while (reader.remaining() > 0) {
      auto v = reader.read();
      if (!v) return v.error();
      values.push_back(std::move(*v));
    }
    return values;
  }
  amf::Amf0Reader reader(data);
  return reader.read_all();
}

class Cursor {
 public:
  Cursor(std::span<const std::uint8_t> bytes, std::size_t base) : bytes_(bytes), base_(base) {}
  std::size_t offset() const noexcept { return base_ + at_; }
  std::size_t remaining() const noexcept { return bytes_.size() - at_; }
  Status need(std::size_t n, std::string_view what) const {
    if (n > remaining())
      return error(Errc::malformed, "{} needs {} bytes at offset {}, {} left", what, n, offset(), remaining());
    return ok();
  }
  Result<std::uint32_t> u8(std::string_view what) {
    WEIR_TRY(need(1, what));
    return std::uint32_t{bytes_[at_++]};
  }
  Result<std::uint32_t> u32(std::string_view what) {
    WEIR_TRY(need(4, what));
    std::uint32_t v = detail::load_u32be(bytes_.data() + at_);
    at_ += 4;
    return v;
  }
  Result<std::string> str(std::string_view what) {
    WEIR_TRY(need(2, what));
    std::uint32_t length = detail::load_u16be(bytes_.data() + at_);
    at_ += 2;
    WEIR_TRY(need(length, what));
    std::string s(reinterpret_cast<const char*>(bytes_.data() + at_), length);
    at_ += length;
    return s;
  }
  std::span<const std::uint8_t> take(std::size_t n) {
    auto s = bytes_.subspan(at_, n);
    at_ += n;
    return s;
  }
  std::span<const std::uint8_t> rest() { return take(remaining()); }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t base_;
  std::size_t at_ = 0;
};

Result<SharedObjectEventData> decode_event(std::uint8_t type, std::span<const std::uint8_t> data, std::size_t at,
                                           std::uint8_t encoding) {
  SharedObjectEventData event;
  event.type = static_cast<Type>(type);
  Cursor c(data, at);
  switch (event.type) {
    case Type::use:
    case Type::release:
    case Type::clear:
    case Type::use_success:
      return event;  // no data (any bytes a client sends along are ignored, as other servers do)
    case Type::request_change:
    case Type::change: {
      auto name = c.str("slot name");
      if (!name) return name.error();
      event.name = std::move(*name);
      if (c.remaining() == 0) return event;  // no value: undefined
      auto values = read_values(c.rest(), encoding);
      if (!values) return values.error().with_context(format("slot '{}' value", event.name));
      if (values->size() != 1)
        return error(Errc::malformed, "slot '{}': {} values where one belongs", event.name, values->size());
      event.value = std::move(values->front());
      return event;
    }
    case Type::success:
    case Type::remove:
    case Type::request_remove: {
      auto name = c.str("slot name");
      if (!name) return name.error();
      event.name = std::move(*name);
      return event;
    }
    case Type::send_message: {
      auto values = read_values(c.rest(), encoding);
      if (!values) return values.error().with_context("message");
      if (values->empty() || !values->front().is_string())
        return error(Errc::malformed, "message without a handler name at offset {}", at);
      event.name = std::string(values->front().as_string());
      event.args.assign(std::make_move_iterator(values->begin() + 1), std::make_move_iterator(values->end()));
      return event;
    }
    case Type::status: {
      auto code = c.str("status code");
      if (!code) return code.error();
      auto level = c.str("status level");
      if (!level) return level.error();
      event.name = std::move(*code);
      event.level = std::move(*level);
      return event;
    }
  }
  return error(Errc::unsupported, "unknown shared object event type {} at offset {}", static_cast<int>(type), at - 5);
}

void put_u16(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
Status put_str(std::vector<std::uint8_t>& out, std::string_view s, std::string_view what) {
  if (s.size() > 0xFFFF) return error(Errc::limit, "{} of {} bytes (at most 65535)", what, s.size());
  put_u16(out, static_cast<std::uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
  return ok();
}

}  // namespace

std::string_view shared_object_event_name(std::uint8_t type) noexcept {
  switch (static_cast<Type>(type)) {
    case Type::use: return "use";
    case Type::release: return "release";
    case Type::request_change: return "request change";
    case Type::change: return "change";
    case Type::success: return "success";
    case Type::send_message: return "send message";
    case Type::status: return "status";
    case Type::clear: return "clear";
    case Type::remove: return "remove";
    case Type::request_remove: return "request remove";
    case Type::use_success: return "use success";
  }
  return "unknown";
}

Result<SharedObjectMessage> decode_shared_object(std::span<const std::uint8_t> payload, bool is_amf3) noexcept {
  std::uint8_t encoding = 0;
  std::size_t base = 0;
  if (is_amf3) {
    if (payload.empty()) return error(Errc::malformed, "empty AMF3 shared object message");
    encoding = payload[0];
    if (encoding != 0 && encoding != 3)
      return error(Errc::unsupported, "shared object message with value encoding {} (0 or 3 expected)", static_cast<int>(encoding));
    payload = payload.subspan(1);
    base = 1;
  }
  Cursor c(payload, base);
  SharedObjectMessage message;
  auto name = c.str("shared object name");
  if (!name) return name.error();
  message.name = std::move(*name);
  auto version = c.u32("version");
  if (!version) return version.error();
  message.version = *version;
  auto flags = c.u32("flags");
  if (!flags) return flags.error();
  message.persistent = (*flags & 2) != 0;
  auto reserved = c.u32("flags");
  if (!reserved) return reserved.error();
  while (c.remaining() > 0) {
    std::size_t at = c.offset();
    auto type = c.u8("event type");
    if (!type) return type.error();
    auto length = c.u32("event length");
    if (!length) return length.error();
    if (*length > c.remaining())
      return error(Errc::malformed, "shared object '{}': {} event at offset {} declares {} bytes, {} left", message.name,
                   shared_object_event_name(static_cast<std::uint8_t>(*type)), at, *length, c.remaining());
    auto event = decode_event(static_cast<std::uint8_t>(*type), c.take(*length), c.offset(), encoding);
    if (!event)
      return event.error().with_context(format("shared object '{}': {} event at offset {}", message.name,
                                               shared_object_event_name(static_cast<std::uint8_t>(*type)), at));
    message.events.push_back(std::move(*event));
  }
  return message;
}

Status encode_shared_object(const SharedObjectMessage& message, bool is_amf3, std::vector<std::uint8_t>& out) {
  const std::size_t start = out.size();
  auto fail = [&](Status status) {
    out.resize(start);
    return status;
  };
  if (is_amf3) out.push_back(0);
  if (Status s = put_str(out, message.name, "shared object name"); !s) return fail(std::move(s));
  put_u32(out, message.version);
  put_u32(out, message.persistent ? 2 : 0);
  put_u32(out, 0);
  for (const SharedObjectEventData& event : message.events) {
    out.push_back(static_cast<std::uint8_t>(event.type));
    const std::size_t length_at = out.size();
    put_u32(out, 0);  // the length, known once the data is written
    Status status;
    switch (event.type) {
      case Type::use:
      case Type::release:
      case Type::clear:
      case Type::use_success:
        break;
      case Type::request_change:
      case Type::change: {
        status = put_str(out, event.name, "slot name");
        if (status) {
          amf::Amf0Writer writer(out);
          status = writer.write(event.value);
        }
        break;
      }
      case Type::success:
      case Type::remove:
      case Type::request_remove:
        status = put_str(out, event.name, "slot name");
        break;
      case Type::send_message: {
        amf::Amf0Writer writer(out);
        status = writer.write_string(event.name);
        if (status) status = writer.write_all(event.args);
        break;
      }
      case Type::status:
        status = put_str(out, event.name, "status code");
        if (status) status = put_str(out, event.level, "status level");
        break;
    }
    if (!status) return fail(std::move(status).with_context(format("shared object '{}'", message.name)));
    detail::store_u32be(out.data() + length_at, static_cast<std::uint32_t>(out.size() - length_at - 4));
  }
  return ok();
}

}  // namespace weir::formats::rtmp
