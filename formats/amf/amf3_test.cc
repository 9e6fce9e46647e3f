// SPDX-License-Identifier: Apache-2.0
#include "formats/amf/amf3.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "formats/amf/test_bytes.h"

namespace weir::formats::amf {
namespace {

using test_support::bytes;
using test_support::concat;

std::vector<std::uint8_t> encode(const Value& v) {
  std::vector<std::uint8_t> out;
  Amf3Writer writer(out);
  EXPECT_TRUE(writer.write(v).is_ok()) << v;
  return out;
}

Result<Value> decode(std::span<const std::uint8_t> input, Limits limits = {}) {
  Amf3Reader reader(input, limits);
  auto v = reader.read();
  if (v) {
    EXPECT_TRUE(reader.at_end()) << "trailing bytes after " << *v;
  }
  return v;
}

Value sealed_point(int x) {
  return Value(Object{.class_name = "P",
                      .properties = {{"x", Value::integer(x)}},
                      .sealed_count = 1,
                      .is_dynamic = false});
}

// One of each marker, as the writer encodes it: also the seeds of tests/fuzz/corpus/amf3.
std::vector<Value> every_type() {
  return {
      Value(),
      Value(nullptr),
      Value(true),
      Value(false),
      Value::integer(-300),
      Value(0.1),
      Value("héllo"),
      Value(std::string(20000, 'L')),
      Value::date(1700000000000.0),
      Value::object({{"code", "NetStream.Play.Start"}, {"nested", Value::object({{"x", 1}})}}),
      sealed_point(3),
      Value(Object{.class_name = "Mixed",
                   .properties = {{"sealed", 1}, {"dynamic", 2}},
                   .sealed_count = 1,
                   .is_dynamic = true}),
      Value::array({Value::integer(1), "two"}, {{"key", true}}),
      Value::strict_array({Value::strict_array({}), Value::date(0)}),
      Value::xml("<a/>"),
      Value::xml_document("<doc/>"),
      Value::byte_array({0, 1, 2, 255}),
  };
}

TEST(Amf3Writer, EncodesIntegersAtTheU29Boundaries) {
  EXPECT_EQ(encode(Value::integer(0)), bytes("04 00"));
  EXPECT_EQ(encode(Value::integer(0x7f)), bytes("04 7f"));
  EXPECT_EQ(encode(Value::integer(0x80)), bytes("04 8100"));
  EXPECT_EQ(encode(Value::integer(0x3fff)), bytes("04 ff7f"));
  EXPECT_EQ(encode(Value::integer(0x4000)), bytes("04 818000"));
  EXPECT_EQ(encode(Value::integer(0x1fffff)), bytes("04 ffff7f"));
  EXPECT_EQ(encode(Value::integer(0x200000)), bytes("04 80c08000"));
  EXPECT_EQ(encode(Value::integer(0x0fffffff)), bytes("04 bfffffff"));
  EXPECT_EQ(encode(Value::integer(-1)), bytes("04 ffffffff"));
  EXPECT_EQ(encode(Value::integer(-0x10000000)), bytes("04 c0808000"));
}

TEST(Amf3Reader, DecodesIntegersAtTheU29Boundaries) {
  for (std::int32_t i : {0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000, 0x0fffffff, -1,
                         -0x80, -0x10000000}) {
    auto v = decode(encode(Value::integer(i)));
    ASSERT_TRUE(v.has_value()) << i;
    EXPECT_EQ(*v, Value::integer(i));
  }
}

TEST(Amf3Writer, WritesIntegersOutside29BitsAsDoubles) {
  EXPECT_EQ(encode(Value::integer(1 << 28)), bytes("05 41b0000000000000"));
  EXPECT_EQ(decode(encode(Value::integer(-(1 << 28) - 1)))->as_number(), -(1 << 28) - 1.0);
}

TEST(Amf3Writer, WritesEachScalarAsTheSpecSays) {
  EXPECT_EQ(encode(Value()), bytes("00"));
  EXPECT_EQ(encode(Value(nullptr)), bytes("01"));
  EXPECT_EQ(encode(Value(false)), bytes("02"));
  EXPECT_EQ(encode(Value(true)), bytes("03"));
  EXPECT_EQ(encode(Value(1.0)), bytes("05 3ff0000000000000"));
  EXPECT_EQ(encode(Value("hello")), bytes("06 0b 'hello'"));
  EXPECT_EQ(encode(Value("")), bytes("06 01"));
  EXPECT_EQ(encode(Value::date(1700000000000.0, 60)), bytes("08 01 4278bcfe56800000"));
  EXPECT_EQ(encode(Value::xml("<a/>")), bytes("0b 09 '<a/>'"));
  EXPECT_EQ(encode(Value::xml_document("<a/>")), bytes("07 09 '<a/>'"));
  EXPECT_EQ(encode(Value::byte_array({1, 2, 3})), bytes("0c 07 010203"));
}

TEST(Amf3Reader, DecodesAnObjectWithSealedAndDynamicTraits) {
  auto input = bytes("0a 2b 01 05 'ui' 0b 'param' 06 19 'button_press' 04 05 01");
  auto v = decode(input);
  ASSERT_TRUE(v.has_value()) << v.error().message();
  const Object& o = *v->as_object();
  EXPECT_EQ(o.class_name, "");
  EXPECT_EQ(o.sealed_count, 2u);
  EXPECT_TRUE(o.is_dynamic);
  EXPECT_EQ(v->find("ui")->as_string(), "button_press");
  EXPECT_EQ(*v->find("param"), Value::integer(5));
  EXPECT_EQ(encode(*v), input);
}

TEST(Amf3Writer, WritesAnAnonymousObjectWithDynamicMembers) {
  EXPECT_EQ(encode(Value::object({{"a", Value::integer(1)}})), bytes("0a 0b 01 03 'a' 04 01 01"));
}

TEST(Amf3Writer, WritesAnEcmaArrayAsAnAssociativeArray) {
  EXPECT_EQ(encode(Value::ecma_array({{"k", nullptr}})), bytes("09 01 03 'k' 01 01"));
}

TEST(Amf3Writer, WritesDenseAndAssociativeParts) {
  Value v = Value::array({Value::integer(1), Value::integer(2)}, {{"k", true}});
  EXPECT_EQ(encode(v), bytes("09 05 03 'k' 03 01 04 01 04 02"));
}

TEST(Amf3Writer, RefersBackToAStringItHasWritten) {
  EXPECT_EQ(encode(Value::strict_array({"abc", "abc", "", ""})),
            bytes("09 09 01 06 07 'abc' 06 00 06 01 06 01"));
}

TEST(Amf3Writer, RefersBackToTraitsItHasWritten) {
  EXPECT_EQ(encode(Value::strict_array({sealed_point(1), sealed_point(2)})),
            bytes("09 05 01 0a 13 03 'P' 03 'x' 04 01 0a 01 04 02"));
}

TEST(Amf3Writer, KeepsItsTablesAcrossWritesUntilReset) {
  std::vector<std::uint8_t> out;
  Amf3Writer writer(out);
  ASSERT_TRUE(writer.write(Value("abc")).is_ok());
  ASSERT_TRUE(writer.write(Value("abc")).is_ok());
  writer.reset_references();
  ASSERT_TRUE(writer.write(Value("abc")).is_ok());
  EXPECT_EQ(out, bytes("06 07 'abc' 06 00 06 07 'abc'"));
}

TEST(Amf3Reader, ResolvesStringAndTraitsReferences) {
  auto v = decode(bytes("09 07 01 0a 13 03 'P' 03 'x' 04 01 0a 01 04 02 06 00"));
  ASSERT_TRUE(v.has_value()) << v.error().message();
  EXPECT_EQ(*v, Value::strict_array({sealed_point(1), sealed_point(2), "P"}));
}

TEST(Amf3Reader, ResolvesAnObjectReference) {
  auto v = decode(bytes("09 05 01 0a 0b 01 03 'a' 04 01 01 0a 02"));
  ASSERT_TRUE(v.has_value()) << v.error().message();
  Value a = Value::object({{"a", Value::integer(1)}});
  EXPECT_EQ(*v, Value::strict_array({a, a}));
}

TEST(Amf3Reader, ResolvesReferencesToDatesXmlAndByteArrays) {
  auto v = decode(bytes(
      "09 0d 01"
      "08 01 3ff0000000000000  0c 05 0102  0b 07 '<a>'"
      "08 02  0c 04  0b 06"));
  ASSERT_TRUE(v.has_value()) << v.error().message();
  EXPECT_EQ(*v, Value::strict_array({Value::date(1), Value::byte_array({1, 2}), Value::xml("<a>"),
                                     Value::date(1), Value::byte_array({1, 2}), Value::xml("<a>")}));
}

TEST(Amf3Reader, ReplaysReferencesWithoutGrowingTheTables) {
  // Object 1 holds three strings and object 2. Re-reading it for the reference must not add to
  // the tables: the object and the string read after it are object 3 and string 3.
  auto v = decode(bytes(
      "09 0d 01"
      "  0a 0b 01 03 'a' 06 05 'xy' 03 'b' 0a 01 01 01"
      "  0a 02"
      "  06 02"
      "  0a 01 03 'c' 01 01"
      "  0a 06"
      "  06 06"));
  ASSERT_TRUE(v.has_value()) << v.error().message();
  Value inner = Value::object({{"a", "xy"}, {"b", Value::object()}});
  Value c = Value::object({{"c", nullptr}});
  EXPECT_EQ(*v, Value::strict_array({inner, inner, "xy", c, c, "c"}));
}

TEST(Amf3Reader, NeverPutsTheEmptyStringInTheTable) {
  auto v = decode(bytes("09 05 01 06 01 06 00"));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::malformed);
}

TEST(Amf3Reader, RefusesAStringReferencePastTheTable) {
  auto v = decode(bytes("06 02"));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().message(), "amf3 string at offset 0: string reference 1, only 0 strings read");
}

TEST(Amf3Reader, RefusesAnObjectReferencePastTheTable) {
  auto v = decode(bytes("0a 02"));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::malformed);
  EXPECT_EQ(v.error().message(), "amf3 object reference 1 at offset 0, only 0 objects read");
}

TEST(Amf3Reader, RefusesATraitsReferencePastTheTable) {
  auto v = decode(bytes("0a 05"));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::malformed);
}

TEST(Amf3Reader, RefusesAReferenceCycle) {
  auto v = decode(bytes("0a 0b 01 09 'self' 0a 00 01"));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::unsupported);
  EXPECT_NE(v.error().message().find("cycle"), std::string::npos);
}

TEST(Amf3Reader, ReportsExternalizableObjectsAsUnsupported) {
  auto v = decode(bytes("0a 07 43 'flex.messaging.io.ArrayCollection' 09 01 01"));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::unsupported);
  EXPECT_NE(v.error().message().find("flex.messaging.io.ArrayCollection"), std::string::npos);
}

TEST(Amf3Reader, ReportsVectorsAndDictionariesAsUnsupported) {
  for (std::uint8_t marker = 0x0d; marker <= 0x11; ++marker) {
    std::vector<std::uint8_t> input = {marker, 0x01, 0x00};
    auto v = decode(input);
    ASSERT_FALSE(v.has_value());
    EXPECT_EQ(v.error().code(), Errc::unsupported);
  }
  EXPECT_EQ(decode(bytes("0d 01 00")).error().message(),
            "amf3 vector<int> (marker 0x0d) at offset 0 is not supported");
}

TEST(Amf3Reader, RefusesUnknownMarkers) {
  auto v = decode(bytes("12"));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::malformed);
  EXPECT_EQ(v.error().message(), "amf3 unknown marker 0x12 at offset 0");
}

TEST(Amf3Reader, RefusesAStringLongerThanItsInput) {
  auto v = decode(bytes("06 ffffffff"));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().message(), "amf3 string of 268435455 bytes at offset 0, only 0 left");
}

TEST(Amf3Reader, RefusesCountsLargerThanTheInputBeforeAllocating) {
  auto dense = decode(bytes("09 bfffffff 01"));
  ASSERT_FALSE(dense.has_value());
  EXPECT_EQ(dense.error().message(), "amf3 array at offset 0 of 134217727 elements, only 0 bytes left");
  auto sealed = decode(bytes("0a bffffff3 01"));
  ASSERT_FALSE(sealed.has_value());
  EXPECT_EQ(sealed.error().code(), Errc::malformed);
  auto bytes_past = decode(bytes("0c 21 00"));
  ASSERT_FALSE(bytes_past.has_value());
  EXPECT_EQ(bytes_past.error().code(), Errc::malformed);
}

TEST(Amf3Reader, RefusesEveryTruncationOfEveryMarker) {
  std::vector<std::vector<std::uint8_t>> encodings;
  for (const Value& v : every_type()) encodings.push_back(encode(v));
  encodings.push_back(bytes("09 05 01 06 07 'abc' 06 00"));
  encodings.push_back(bytes("09 05 01 0a 13 03 'P' 03 'x' 04 01 0a 01 04 02"));
  for (const auto& full : encodings) {
    for (std::size_t n = 0; n < full.size(); ++n) {
      if (n == 100 && full.size() > 200) n = full.size() - 100;  // the ends of a long string
      Amf3Reader reader(std::span(full.data(), n));
      auto v = reader.read();
      ASSERT_FALSE(v.has_value()) << "prefix of " << n << " bytes of marker " << int{full[0]};
      EXPECT_EQ(v.error().code(), Errc::malformed) << v.error().message();
      EXPECT_NE(v.error().message().find("offset"), std::string::npos) << v.error().message();
    }
  }
}

TEST(Amf3RoundTrip, EveryTypeComesBackEqual) {
  for (const Value& v : every_type()) {
    auto back = decode(encode(v));
    ASSERT_TRUE(back.has_value()) << v << ": " << back.error().message();
    if (v.is_date()) {
      EXPECT_EQ(back->as_date()->epoch_ms, v.as_date()->epoch_ms);
    } else {
      EXPECT_EQ(*back, v);
    }
  }
}

TEST(Amf3RoundTrip, AllTypesInOneMessageComeBackEqualWithReferences) {
  std::vector<Value> values = every_type();
  std::vector<Value> again = every_type();
  values.insert(values.end(), again.begin(), again.end());
  std::vector<std::uint8_t> out;
  ASSERT_TRUE(Amf3Writer(out).write_all(values).is_ok());
  auto back = Amf3Reader(out).read_all();
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(*back, values);
}

TEST(Amf3RoundTrip, DatesLoseTheirTimezone) {
  EXPECT_EQ(*decode(encode(Value::date(5, 60))), Value::date(5));
}

TEST(Amf3Reader, StopsAnObjectReferenceBombAtTheOutputLimit) {
  // Array 0 holds a string; array k holds two references to array k - 1.
  std::vector<std::uint8_t> message = bytes("09 03 01 06 09 'xxxx'");
  for (std::uint8_t k = 1; k <= 40; ++k) {
    auto previous = static_cast<std::uint8_t>((k - 1) << 1);
    message = concat(message, {0x09, 0x05, 0x01, 0x09, previous, 0x09, previous});
  }
  auto values = Amf3Reader(message).read_all();
  ASSERT_FALSE(values.has_value());
  EXPECT_EQ(values.error().code(), Errc::limit);
}

TEST(Amf3Reader, StopsAStringReferenceBombAtTheOutputLimit) {
  // One 1000-byte string, then 20000 two-byte references to it: 20 MB from 40 KB.
  constexpr std::uint32_t kCount = 20001;
  std::vector<std::uint8_t> message = {0x09};
  std::uint32_t u29 = kCount << 1 | 1;  // 3 bytes in U29
  message.push_back(static_cast<std::uint8_t>(0x80 | (u29 >> 14)));
  message.push_back(static_cast<std::uint8_t>(0x80 | ((u29 >> 7) & 0x7f)));
  message.push_back(static_cast<std::uint8_t>(u29 & 0x7f));
  message = concat(message, bytes("01 06 8f51"));  // 1000 << 1 | 1 = 0x7d1
  message.insert(message.end(), 1000, 'x');
  for (std::uint32_t i = 1; i < kCount; ++i) message = concat(std::move(message), {0x06, 0x00});
  auto v = decode(message, Limits{.max_output_bytes = std::size_t{8} << 20});
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::limit);
  EXPECT_TRUE(decode(message).has_value());  // within the default 64 MiB
}

std::vector<std::uint8_t> nested_arrays(int depth) {
  std::vector<std::uint8_t> out;
  for (int i = 1; i < depth; ++i) out = concat(out, bytes("09 03 01"));
  return concat(out, bytes("09 01 01"));
}

TEST(Amf3Reader, AcceptsNestingUpToTheDepthLimit) {
  EXPECT_TRUE(decode(nested_arrays(64)).has_value());
}

TEST(Amf3Reader, RefusesNestingPastTheDepthLimit) {
  auto v = decode(nested_arrays(65));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Errc::limit);
  EXPECT_EQ(v.error().message(), "amf3 array at offset 192 nests deeper than 64");
}

TEST(Amf3Writer, RefusesNestingPastTheDepthLimit) {
  Value v = Value::strict_array();
  for (int i = 0; i < 64; ++i) v = Value::strict_array({std::move(v)});
  std::vector<std::uint8_t> out;
  EXPECT_EQ(Amf3Writer(out).write(v).code(), Errc::limit);
  EXPECT_TRUE(out.empty());
}

TEST(Amf3Writer, RefusesAnEmptyDynamicNameAndForgetsWhatItWroteOfIt) {
  std::vector<std::uint8_t> out;
  Amf3Writer writer(out);
  Status status = writer.write(Value::typed_object("Q", {{"new", 1}, {"", 2}}));
  EXPECT_EQ(status.code(), Errc::unsupported);
  EXPECT_TRUE(out.empty());
  // Neither "new" nor the traits of Q may be referred to now: their bytes were dropped.
  ASSERT_TRUE(writer.write(Value("new")).is_ok());
  ASSERT_TRUE(writer.write(Value::typed_object("Q", {})).is_ok());
  EXPECT_EQ(out, bytes("06 07 'new' 0a 0b 03 'Q' 01"));
}

TEST(Amf3Writer, TreatsPropertiesPastTheSealedCountAsDynamic) {
  Value v(Object{.class_name = "", .properties = {{"a", nullptr}}, .sealed_count = 0, .is_dynamic = false});
  EXPECT_EQ(encode(v), bytes("0a 0b 01 03 'a' 01 01"));
}

}  // namespace
}  // namespace weir::formats::amf
