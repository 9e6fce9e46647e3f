// SPDX-License-Identifier: Apache-2.0
#include "formats/amf/amf0.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "formats/amf/test_bytes.h"

namespace weir::formats::amf {
namespace {

using test_support::bytes;
using test_support::concat;

// ffmpeg's connect when publishing (libavformat/rtmpproto.c, gen_connect): the command name, the
// transaction id 1, and the command object, encoded by hand from the AMF0 spec.
const std::vector<std::uint8_t> kConnect = bytes(
    "02 0007 'connect'"
    "00 3ff0000000000000"
    "03"
    "  0003 'app' 02 0004 'live'"
    "  0004 'type' 02 000a 'nonprivate'"
    "  0008 'flashVer' 02 0024 'FMLE/3.0 (compatible; Lavf60.16.100)'"
    "  0005 'tcUrl' 02 001a 'rtmp://localhost:1935/live'"
    "  0004 'fpad' 01 00"
    "  000c 'capabilities' 00 402e000000000000"
    "000009");

// The server's reply: _result, 1, properties, information.
const std::vector<std::uint8_t> kConnectResult = bytes(
    "02 0007 '_result'"
    "00 3ff0000000000000"
    "03 0006 'fmsVer' 02 000d 'FMS/3,0,1,123'"
    "   000c 'capabilities' 00 403f000000000000"
    "000009"
    "03 0005 'level' 02 0006 'status'"
    "   0004 'code' 02 001d 'NetConnection.Connect.Success'"
    "   000b 'description' 02 0015 'Connection succeeded.'"
    "   000e 'objectEncoding' 00 0000000000000000"
    "000009");

std::vector<std::uint8_t> encode(const Value& v) {
  std::vector<std::uint8_t> out;
  Amf0Writer writer(out);
  EXPECT_TRUE(writer.write(v).is_ok()) << v;
  return out;
}

Result<Value> decode(const std::vector<std::uint8_t>& input, Limits limits = {}) {
  Amf0Reader reader(input, limits);
  auto v = reader.read();
  if (v) {
    EXPECT_TRUE(reader.at_end()) << "trailing bytes after " << *v;
  }
  return v;
}

// One of each marker, as the writer encodes it: also the seeds of tests/fuzz/corpus/amf0.
std::vector<Value> every_type() {
  return {
      Value(),
      Value(nullptr),
      Value(true),
      Value(false),
      Value(-12.25),
      Value(""),
      Value(std::string_view("nul \0 inside", 13)),
      Value(std::string(70000, 'L')),
      Value::date(1700000000000.0, -120),
      Value::object({{"code", "NetStream.Play.Start"}, {"nested", Value::object({{"x", 1}})}}),
      Value::typed_object("flash.geom.Point", {{"x", 1}, {"y", 2}}),
      Value::ecma_array({{"duration", 0}, {"width", 1280}}),
      Value::strict_array({1, "two", Value::strict_array({3})}),
      Value::xml_document("<doc/>"),
      Value::avmplus(Value::object({{"amf3", Value::integer(3)}})),
      Value::avmplus(Value::byte_array({0, 1, 2, 255})),
  };
}

TEST(Amf0Reader, DecodesAnFfmpegConnectCommand) {
  Amf0Reader reader(kConnect);
  auto values = reader.read_all();
  ASSERT_TRUE(values.has_value()) << values.error().message();
  ASSERT_EQ(values->size(), 3u);
  EXPECT_EQ((*values)[0].as_string(), "connect");
  EXPECT_EQ((*values)[1].as_number(), 1.0);
  const Value& command = (*values)[2];
  EXPECT_EQ(command.find("app")->as_string(), "live");
  EXPECT_EQ(command.find("tcUrl")->as_string(), "rtmp://localhost:1935/live");
  EXPECT_FALSE(command.find("fpad")->as_boolean(true));
  EXPECT_EQ(command.find("capabilities")->as_number(), 15.0);
  EXPECT_EQ(command.as_object()->properties.front().name, "app");  // wire order kept
  EXPECT_EQ(reader.offset(), kConnect.size());
}

TEST(Amf0Reader, ReadsACommandOneValueAtATime) {
  Amf0Reader reader(kConnect);
  EXPECT_EQ(reader.read()->as_string(), "connect");
  EXPECT_EQ(reader.offset(), 10u);
  EXPECT_EQ(reader.read()->as_number(), 1.0);
  EXPECT_EQ(reader.offset(), 19u);
  EXPECT_TRUE(reader.read()->is_object());
  EXPECT_TRUE(reader.at_end());
}

TEST(Amf0Writer, WritesTheConnectResultByteForByte) {
  std::vector<std::uint8_t> out;
  Amf0Writer writer(out);
  ASSERT_TRUE(writer.write_string("_result").is_ok());
  writer.write_number(1);
  ASSERT_TRUE(writer.write(Value::object({{"fmsVer", "FMS/3,0,1,123"}, {"capabilities", 31}})).is_ok());
  ASSERT_TRUE(writer
                  .write(Value::object({{"level", "status"},
                                        {"code", "NetConnection.Connect.Success"},
                                        {"description", "Connection succeeded."},
                                        {"objectEncoding", 0}}))
                  .is_ok());
  EXPECT_EQ(out, kConnectResult);
}

TEST(Amf0Writer, WritesTheConnectCommandTheReaderDecoded) {
  Amf0Reader reader(kConnect);
  auto values = reader.read_all();
  ASSERT_TRUE(values.has_value());
  std::vector<std::uint8_t> out;
  ASSERT_TRUE(Amf0Writer(out).write_all(*values).is_ok());
  EXPECT_EQ(out, kConnect);
}

TEST(Amf0Reader, DecodesOnMetaDataWhoseEcmaCountIsZero) {
  auto input = bytes(
      "02 000a 'onMetaData'"
      "08 00000000"
      "  0008 'duration' 00 4025000000000000"
      "  0005 'width' 00 4094000000000000"
      "000009");
  Amf0Reader reader(input);
  auto values = reader.read_all();
  ASSERT_TRUE(values.has_value()) << values.error().message();
  const Value& meta = (*values)[1];
  ASSERT_TRUE(meta.is_ecma_array());
  EXPECT_EQ(meta.as_ecma_array()->associative_count, 0u);
  EXPECT_EQ(meta.find("duration")->as_number(), 10.5);
  EXPECT_EQ(meta.find("width")->as_number(), 1280.0);
  EXPECT_EQ(encode(meta), std::vector<std::uint8_t>(input.begin() + 13, input.end()));
}

TEST(Amf0Writer, WritesEachScalarAsTheSpecSays) {
  EXPECT_EQ(encode(Value(1.0)), bytes("00 3ff0000000000000"));
  EXPECT_EQ(encode(Value(true)), bytes("01 01"));
  EXPECT_EQ(encode(Value(false)), bytes("01 00"));
  EXPECT_EQ(encode(Value("hi")), bytes("02 0002 'hi'"));
  EXPECT_EQ(encode(Value::null()), bytes("05"));
  EXPECT_EQ(encode(Value::undefined()), bytes("06"));
  EXPECT_EQ(encode(Value::date(1700000000000.0)), bytes("0b 4278bcfe56800000 0000"));
  EXPECT_EQ(encode(Value::date(0, -60)), bytes("0b 0000000000000000 ffc4"));
  EXPECT_EQ(encode(Value::xml_document("<a/>")), bytes("0f 00000004 '<a/>'"));
}

TEST(Amf0Writer, WritesContainersAsTheSpecSays) {
  EXPECT_EQ(encode(Value::object({{"a", 1}})), bytes("03 0001 'a' 00 3ff0000000000000 000009"));
  EXPECT_EQ(encode(Value::typed_object("T", {{"a", nullptr}})),
            bytes("10 0001 'T' 0001 'a' 05 000009"));
  EXPECT_EQ(encode(Value::ecma_array({{"a", nullptr}})), bytes("08 00000001 0001 'a' 05 000009"));
  EXPECT_EQ(encode(Value::strict_array({nullptr, true})), bytes("0a 00000002 05 01 01"));
  EXPECT_EQ(encode(Value::object()), bytes("03 000009"));
}

TEST(Amf0RoundTrip, EveryTypeComesBackEqual) {
  for (const Value& v : every_type()) {
    auto back = decode(encode(v));
    ASSERT_TRUE(back.has_value()) << v << ": " << back.error().message();
    EXPECT_EQ(*back, v);
    EXPECT_EQ(back->is_avmplus(), v.is_avmplus()) << v;
  }
}

TEST(Amf0RoundTrip, AllTypesInOneMessageComeBackEqual) {
  std::vector<Value> values = every_type();
  std::vector<std::uint8_t> out;
  ASSERT_TRUE(Amf0Writer(out).write_all(values).is_ok());
  auto back = Amf0Reader(out).read_all();
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(*back, values);
}

TEST(Amf0Writer, WritesStringsPast65535BytesAsLongStrings) {
  std::string text(65536, 'x');
  auto out = encode(Value(text));
  EXPECT_EQ(std::vector<std::uint8_t>(out.begin(), out.begin() + 5), bytes("0c 00010000"));
  EXPECT_EQ(decode(out)->as_string(), text);
  EXPECT_EQ(encode(Value(std::string(65535, 'x')))[0], 0x02);
}

TEST(Amf0Writer, WritesAnIntegerAsANumber) {
  EXPECT_EQ(encode(Value::integer(1)), bytes("00 3ff0000000000000"));
}

TEST(Amf0Writer, WritesXmlAsAnXmlDocument) {
  EXPECT_EQ(encode(Value::xml("<a/>")), bytes("0f 00000004 '<a/>'"));
}

TEST(Amf0Writer, WritesAByteArrayBehindTheAvmplusSwitch) {
  EXPECT_EQ(encode(Value::byte_array({1, 2})), bytes("11 0c 05 0102"));
}

TEST(Amf0Writer, WritesAnAvmplusValueAsAmf3WithoutReferences) {
  Value v = Value::avmplus(Value::strict_array({"ab", "ab"}));
  EXPECT_EQ(encode(v), bytes("11 09 05 01 06 05 'ab' 06 05 'ab'"));
}

TEST(Amf0Writer, WritesAnArrayWithAnAssociativePartAsAnEcmaArrayKeyedByIndex) {
  EXPECT_EQ(encode(Value::array({true}, {{"k", false}})),
            bytes("08 00000002 0001 '0' 01 01 0001 'k' 01 00 000009"));
}

TEST(Amf0Writer, WritesTheEcmaCountItIsGiven) {
  EcmaArray a{{{"a", 1}}, 0};
  EXPECT_EQ(encode(Value(a)), bytes("08 00000000 0001 'a' 00 3ff0000000000000 000009"));
}

TEST(Amf0Reader, DecodesATypedObjectWithItsClassName) {
  auto v = decode(bytes("10 0005 'Point' 0001 'x' 00 3ff0000000000000 000009"));
  ASSERT_TRUE(v.has_value()) << v.error().message();
  EXPECT_EQ(*v, Value::typed_object("Point", {{"x", 1}}));
}

TEST(Amf0Reader, DecodesADateWithItsTimezoneField) {
  auto v = decode(bytes("0b 4278bcfe56800000 fff0"));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->as_date()->epoch_ms, 1700000000000.0);
  EXPECT_EQ(v->as_date()->timezone_minutes, -16);
}

TEST(Amf0Reader, ReadsAnyNonZeroBooleanByteAsTrue) {
  EXPECT_TRUE(decode(bytes("01 7f"))->as_boolean());
}

TEST(Amf0Reader, ReadsTheUnsupportedMarkerAsUndefined) {
  EXPECT_TRUE(decode(bytes("0d"))->is_undefined());
}

TEST(Amf0Reader, DecodesAnAmf3ValueBehindTheAvmplusSwitch) {
  auto v = decode(bytes("11 04 05"));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, Value::integer(5));
  EXPECT_TRUE(v->is_avmplus());
}

TEST(Amf0Reader, KeepsAmf3StringReferencesAcrossAvmplusSwitches) {
  auto input = bytes("11 06 07 'abc' 02 0001 'x' 11 06 00");
  Amf0Reader reader(input);
  auto values = reader.read_all();
  ASSERT_TRUE(values.has_value()) << values.error().message();
  EXPECT_EQ((*values)[2].as_string(), "abc");
}

TEST(Amf0Reader, ResolvesAReferenceToAnEarlierObject) {
  auto input = bytes("03 0001 'a' 00 3ff0000000000000 000009  07 0000");
  Amf0Reader reader(input);
  auto values = reader.read_all();
  ASSERT_TRUE(values.has_value()) << values.error().message();
  ASSERT_EQ(values->size(), 2u);
  EXPECT_EQ((*values)[1], Value::object({{"a", 1}}));
}

TEST(Amf0Reader, NumbersReferencesByMarkerOrderNestedOnesIncluded) {
  // Object 0 holds object 1 and then a reference to it; arrays count too.
  auto v = decode(bytes(
      "03 0001 'i' 03 0001 'x' 05 000009"
      "   0001 'r' 07 0001"
      "   0001 's' 0a 00000001 05"
      "   0001 't' 07 0002"
      "000009"));
  ASSERT_TRUE(v.has_value()) << v.error().message();
  EXPECT_EQ(*v->find("r"), Value::object({{"x", nullptr}}));
  EXPECT_EQ(*v->find("t"), Value::strict_array({nullptr}));
}

TEST(Amf0Reader, RefusesAReferencePastTheTable) {
  auto v = decode(bytes("03 0001 'a' 07 0001 000009"));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::malformed);
  EXPECT_EQ(v.error().message(), "amf0 reference 1 at offset 4, only 1 objects read");
}

TEST(Amf0Reader, RefusesAReferenceCycle) {
  auto v = decode(bytes("03 0004 'self' 07 0000 000009"));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::unsupported);
  EXPECT_NE(v.error().message().find("cycle"), std::string::npos);
}

TEST(Amf0Reader, StopsAReferenceBombAtTheOutputLimit) {
  // Array 0 holds a string; array k holds two references to array k - 1, so 40 arrays of 7 bytes
  // would expand to 2^40 strings.
  std::vector<std::uint8_t> message = bytes("0a 00000001 02 0004 'xxxx'");
  for (std::uint8_t k = 1; k <= 40; ++k) {
    auto previous = static_cast<std::uint8_t>(k - 1);
    message = concat(message, {0x0a, 0, 0, 0, 2, 0x07, 0, previous, 0x07, 0, previous});
  }
  Amf0Reader reader(message);
  auto values = reader.read_all();
  ASSERT_FALSE(values.has_value());
  EXPECT_EQ(values.error().code(), Errc::limit);
  EXPECT_NE(values.error().message().find("limit"), std::string::npos);
}

TEST(Amf0Reader, ResetReferencesForgetsEarlierObjects) {
  auto input = bytes("03 000009 07 0000");
  Amf0Reader reader(input);
  ASSERT_TRUE(reader.read().has_value());
  reader.reset_references();
  auto v = reader.read();
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::malformed);
}

TEST(Amf0Reader, NamesTheMarkerAndOffsetOfAShortString) {
  auto input = concat(bytes("02 0002 'xy'" "00 0000000000000000" "02 0028"), bytes("'abc'"));
  Amf0Reader reader(input);
  ASSERT_TRUE(reader.read().has_value());
  ASSERT_TRUE(reader.read().has_value());
  auto v = reader.read();
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::malformed);
  EXPECT_EQ(v.error().message(), "amf0 string of 40 bytes at offset 17, only 3 left");
}

TEST(Amf0Reader, RefusesEveryTruncationOfEveryMarker) {
  std::vector<std::vector<std::uint8_t>> encodings;
  for (const Value& v : every_type()) encodings.push_back(encode(v));
  encodings.push_back(bytes("07 0000"));
  encodings.push_back(bytes("10 0001 'T' 000009"));
  for (const auto& full : encodings) {
    for (std::size_t n = 0; n < full.size(); ++n) {
      if (n == 100 && full.size() > 200) n = full.size() - 100;  // the ends of a long string
      Amf0Reader reader(std::span(full.data(), n));
      auto v = reader.read();
      ASSERT_FALSE(v.has_value()) << "prefix of " << n << " bytes of marker " << int{full[0]};
      EXPECT_EQ(v.error().code(), Errc::malformed) << v.error().message();
      EXPECT_NE(v.error().message().find("offset"), std::string::npos) << v.error().message();
    }
  }
}

TEST(Amf0Reader, RefusesUnknownMarkers) {
  for (std::uint8_t marker : {0x12, 0x20, 0xff}) {
    auto v = decode({marker});
    ASSERT_FALSE(v.has_value());
    EXPECT_EQ(v.error().code(), Errc::malformed);
  }
  EXPECT_EQ(decode(bytes("ff")).error().message(), "amf0 unknown marker 0xff at offset 0");
}

TEST(Amf0Reader, RefusesAnObjectEndOutsideAnObject) {
  EXPECT_EQ(decode(bytes("09")).error().code(), Errc::malformed);
  EXPECT_EQ(decode(bytes("03 0001 'a' 09")).error().code(), Errc::malformed);
}

TEST(Amf0Reader, RefusesAnEmptyNameNotFollowedByTheEndMarker) {
  auto v = decode(bytes("03 0000 05"));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::malformed);
  EXPECT_EQ(v.error().message(),
            "amf0 object at offset 0: empty property name at offset 1 followed by 0x05, not the "
            "object end marker 0x09");
}

TEST(Amf0Reader, ReportsMovieclipAndRecordsetAsUnsupported) {
  EXPECT_EQ(decode(bytes("04")).error().code(), Errc::unsupported);
  EXPECT_EQ(decode(bytes("0e")).error().code(), Errc::unsupported);
}

TEST(Amf0Reader, RefusesAStrictArrayLongerThanItsInputBeforeAllocating) {
  auto v = decode(bytes("0a ffffffff 05"));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::malformed);
  EXPECT_EQ(v.error().message(), "amf0 strict array at offset 0 of 4294967295 elements, only 1 bytes left");
}

TEST(Amf0Reader, RefusesAPropertyNameLongerThanItsInput) {
  auto v = decode(bytes("03 0010 'ab'"));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::malformed);
}

std::vector<std::uint8_t> nested_objects(int depth) {
  std::vector<std::uint8_t> out;
  for (int i = 0; i < depth; ++i) out = concat(out, i == 0 ? bytes("03") : bytes("0001 'o' 03"));
  for (int i = 0; i < depth; ++i) out = concat(out, bytes("000009"));
  return out;
}

TEST(Amf0Reader, AcceptsNestingUpToTheDepthLimit) {
  EXPECT_TRUE(decode(nested_objects(64)).has_value());
}

TEST(Amf0Reader, RefusesNestingPastTheDepthLimit) {
  auto v = decode(nested_objects(65));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::limit);
  EXPECT_EQ(decode(nested_objects(5), Limits{.max_depth = 4}).error().code(), Errc::limit);
}

TEST(Amf0Reader, RefusesAValuePastTheOutputLimit) {
  auto v = decode(concat(bytes("02 0100"), std::vector<std::uint8_t>(256, 'a')),
                  Limits{.max_output_bytes = 200});
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::limit);
}

TEST(Amf0Writer, RefusesNestingPastTheDepthLimitAndLeavesTheOutputAlone) {
  Value v = Value::object();
  for (int i = 0; i < 64; ++i) v = Value::object({{"o", std::move(v)}});
  std::vector<std::uint8_t> out = {0xaa};
  Amf0Writer writer(out);
  Status status = writer.write(v);
  EXPECT_EQ(status.code(), Errc::limit);
  EXPECT_EQ(out, bytes("aa"));
}

TEST(Amf0Writer, RefusesAnEmptyPropertyName) {
  std::vector<std::uint8_t> out;
  EXPECT_EQ(Amf0Writer(out).write(Value::object({{"", 1}})).code(), Errc::unsupported);
  EXPECT_TRUE(out.empty());
}

TEST(Amf0Writer, RefusesAPropertyNamePast65535Bytes) {
  std::vector<std::uint8_t> out;
  EXPECT_EQ(Amf0Writer(out).write(Value::object({{std::string(65536, 'n'), 1}})).code(),
            Errc::limit);
}

TEST(Amf0Writer, ScalarShortcutsMatchWritingValues) {
  std::vector<std::uint8_t> out;
  Amf0Writer writer(out);
  writer.write_number(2.5);
  writer.write_boolean(true);
  ASSERT_TRUE(writer.write_string("s").is_ok());
  writer.write_null();
  writer.write_undefined();
  std::vector<std::uint8_t> expected;
  ASSERT_TRUE(Amf0Writer(expected).write_all(std::vector<Value>{2.5, true, "s", nullptr, Value()}).is_ok());
  EXPECT_EQ(out, expected);
}

}  // namespace
}  // namespace weir::formats::amf
