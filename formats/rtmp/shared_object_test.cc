// SPDX-License-Identifier: Apache-2.0
#include "formats/rtmp/shared_object.h"

#include <gtest/gtest.h>

namespace weir::formats::rtmp {
namespace {

using Bytes = std::vector<std::uint8_t>;

void append(Bytes& out, std::initializer_list<int> bytes) {
  for (int b : bytes) out.push_back(static_cast<std::uint8_t>(b));
}
void append_str(Bytes& out, std::string_view s) {
  append(out, {static_cast<int>(s.size() >> 8), static_cast<int>(s.size() & 0xFF)});
  out.insert(out.end(), s.begin(), s.end());
}
// A message header as a Flash client writes it: name, version, flags, reserved.
Bytes header(std::string_view name, std::uint32_t version, std::uint32_t flags) {
  Bytes out;
  append_str(out, name);
  append(out, {static_cast<int>(version >> 24), static_cast<int>((version >> 16) & 0xFF),
               static_cast<int>((version >> 8) & 0xFF), static_cast<int>(version & 0xFF)});
  append(out, {0, 0, 0, static_cast<int>(flags)});
  append(out, {0, 0, 0, 0});
  return out;
}
void event(Bytes& out, int type, const Bytes& data) {
  append(out, {type, 0, 0, static_cast<int>(data.size() >> 8), static_cast<int>(data.size() & 0xFF)});
  out.insert(out.end(), data.begin(), data.end());
}

TEST(SharedObjectMessage, DecodesAClientsUseAndRequestChange) {
  Bytes payload = header("chat", 0, 2);
  event(payload, 1, {});
  Bytes change;
  append_str(change, "x");
  append(change, {0x02, 0x00, 0x02, 'h', 'i'});  // AMF0 string "hi"
  event(payload, 3, change);
  Bytes remove;
  append_str(remove, "y");
  event(payload, 10, remove);
  auto message = decode_shared_object(payload, false);
  ASSERT_TRUE(message) << message.error().message();
  EXPECT_EQ(message->name, "chat");
  EXPECT_TRUE(message->persistent);
  ASSERT_EQ(message->events.size(), 3u);
  EXPECT_EQ(message->events[0].type, SharedObjectEventType::use);
  EXPECT_EQ(message->events[1].type, SharedObjectEventType::request_change);
  EXPECT_EQ(message->events[1].name, "x");
  EXPECT_EQ(message->events[1].value, amf::Value("hi"));
  EXPECT_EQ(message->events[2].type, SharedObjectEventType::request_remove);
  EXPECT_EQ(message->events[2].name, "y");
}

TEST(SharedObjectMessage, DecodesSendMessageWithArgumentsAndTheAmf3Variant) {
  Bytes payload{0};  // type 16: value encoding 0
  Bytes h = header("room", 7, 0);
  payload.insert(payload.end(), h.begin(), h.end());
  Bytes send;
  append(send, {0x02, 0x00, 0x03, 's', 'a', 'y', 0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0});  // "say", 1.0
  append(send, {0x11, 0x06, 0x05, 'a', 'b'});                                          // AVM+ "ab"
  event(payload, 6, send);
  auto message = decode_shared_object(payload, true);
  ASSERT_TRUE(message) << message.error().message();
  EXPECT_EQ(message->version, 7u);
  EXPECT_FALSE(message->persistent);
  ASSERT_EQ(message->events.size(), 1u);
  EXPECT_EQ(message->events[0].name, "say");
  ASSERT_EQ(message->events[0].args.size(), 2u);
  EXPECT_EQ(message->events[0].args[0].as_number(), 1.0);
  EXPECT_EQ(message->events[0].args[1].as_string(), "ab");
}

TEST(SharedObjectMessage, EncodesWhatItDecodes) {
  SharedObjectMessage message;
  message.name = "scores";
  message.version = 3;
  message.persistent = true;
  message.events.push_back({SharedObjectEventType::use_success, {}, {}, {}, {}});
  message.events.push_back({SharedObjectEventType::clear, {}, {}, {}, {}});
  message.events.push_back({SharedObjectEventType::change, "a", amf::Value::object({{"k", amf::Value(1)}}), {}, {}});
  message.events.push_back({SharedObjectEventType::success, "b", {}, {}, {}});
  message.events.push_back({SharedObjectEventType::remove, "c", {}, {}, {}});
  message.events.push_back({SharedObjectEventType::send_message, "go", {}, {amf::Value(1), amf::Value("x")}, {}});
  message.events.push_back({SharedObjectEventType::status, "SharedObject.BadPersistence", {}, {}, "error"});
  for (bool is_amf3 : {false, true}) {
    Bytes out;
    ASSERT_TRUE(encode_shared_object(message, is_amf3, out));
    auto decoded = decode_shared_object(out, is_amf3);
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(decoded->name, "scores");
    EXPECT_EQ(decoded->version, 3u);
    EXPECT_TRUE(decoded->persistent);
    ASSERT_EQ(decoded->events.size(), message.events.size());
    for (std::size_t i = 0; i < message.events.size(); ++i) {
      EXPECT_EQ(decoded->events[i].type, message.events[i].type) << i;
      EXPECT_EQ(decoded->events[i].name, message.events[i].name) << i;
      EXPECT_EQ(decoded->events[i].level, message.events[i].level) << i;
      EXPECT_EQ(decoded->events[i].args, message.events[i].args) << i;
    }
    EXPECT_EQ(decoded->events[2].value, message.events[2].value);
  }
}

TEST(SharedObjectMessage, EveryTruncationIsMalformedAndNamesTheOffset) {
  Bytes payload = header("chat", 0, 0);
  Bytes change;
  append_str(change, "slot");
  append(change, {0x00, 0x40, 0, 0, 0, 0, 0, 0, 0});
  event(payload, 3, change);
  for (std::size_t n = 0; n < payload.size(); ++n) {
    if (n == 18) continue;  // the header alone: a message without events is well formed
    auto message = decode_shared_object(std::span<const std::uint8_t>(payload.data(), n), false);
    ASSERT_FALSE(message) << n;
    EXPECT_EQ(message.error().code(), Errc::malformed) << n;
    EXPECT_NE(message.error().message().find("offset"), std::string::npos) << message.error().message();
  }
}

TEST(SharedObjectMessage, AnEventLongerThanTheMessageIsRefused) {
  Bytes payload = header("chat", 0, 0);
  append(payload, {3, 0x7F, 0xFF, 0xFF, 0xFF, 0, 1, 'x'});
  auto message = decode_shared_object(payload, false);
  ASSERT_FALSE(message);
  EXPECT_NE(message.error().message().find("request change event at offset 18 declares 2147483647 bytes"),
            std::string::npos)
      << message.error().message();
}

TEST(SharedObjectMessage, UnknownEventTypesAndEncodingsAreUnsupported) {
  Bytes payload = header("chat", 0, 0);
  event(payload, 42, {});
  auto message = decode_shared_object(payload, false);
  ASSERT_FALSE(message);
  EXPECT_EQ(message.error().code(), Errc::unsupported);
  Bytes amf3{7};
  Bytes h = header("chat", 0, 0);
  amf3.insert(amf3.end(), h.begin(), h.end());
  auto bad_encoding = decode_shared_object(amf3, true);
  ASSERT_FALSE(bad_encoding);
  EXPECT_EQ(bad_encoding.error().code(), Errc::unsupported);
}

TEST(SharedObjectMessage, SendWithoutAHandlerNameIsMalformed) {
  Bytes payload = header("chat", 0, 0);
  event(payload, 6, {0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0});
  auto message = decode_shared_object(payload, false);
  ASSERT_FALSE(message);
  EXPECT_EQ(message.error().code(), Errc::malformed);
}

}  // namespace
}  // namespace weir::formats::rtmp
