// SPDX-License-Identifier: Apache-2.0
#include "formats/amf/value.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

namespace weir::formats::amf {
namespace {

TEST(AmfValue, BuildersMakeTheTypesTheyName) {
  EXPECT_EQ(Value().type(), Type::undefined);
  EXPECT_EQ(Value::undefined().type(), Type::undefined);
  EXPECT_EQ(Value::null().type(), Type::null);
  EXPECT_EQ(Value(nullptr).type(), Type::null);
  EXPECT_EQ(Value(true).type(), Type::boolean);
  EXPECT_EQ(Value(1.5).type(), Type::number);
  EXPECT_EQ(Value::integer(7).type(), Type::integer);
  EXPECT_EQ(Value("text").type(), Type::string);
  EXPECT_EQ(Value(std::string("text")).type(), Type::string);
  EXPECT_EQ(Value(std::string_view("text")).type(), Type::string);
  EXPECT_EQ(Value::date(1.0).type(), Type::date);
  EXPECT_EQ(Value::object().type(), Type::object);
  EXPECT_EQ(Value::typed_object("Point").type(), Type::object);
  EXPECT_EQ(Value::ecma_array().type(), Type::ecma_array);
  EXPECT_EQ(Value::strict_array().type(), Type::array);
  EXPECT_EQ(Value::array({}, {{"k", 1}}).type(), Type::array);
  EXPECT_EQ(Value::xml("<a/>").type(), Type::xml);
  EXPECT_EQ(Value::xml_document("<a/>").type(), Type::xml_document);
  EXPECT_EQ(Value::byte_array({1, 2}).type(), Type::byte_array);
  EXPECT_TRUE(Value::avmplus(Value::integer(1)).is_avmplus());
  EXPECT_EQ(Value::avmplus(Value::integer(1)).type(), Type::integer);
}

TEST(AmfValue, IntegralArgumentsBecomeNumbersNotIntegers) {
  Value v = Value::object({{"duration", 0}, {"size", std::uint64_t{1} << 40}});
  EXPECT_EQ(v.find("duration")->type(), Type::number);
  EXPECT_EQ(v.find("size")->as_number(), 1099511627776.0);
}

TEST(AmfValue, FindReturnsTheFirstPropertyOfThatNameOrNull) {
  Value v = Value::object({{"code", "NetStream.Play.Start"}, {"level", "status"}, {"code", "x"}});
  ASSERT_NE(v.find("code"), nullptr);
  EXPECT_EQ(v.find("code")->as_string(), "NetStream.Play.Start");
  EXPECT_EQ(v.find("missing"), nullptr);
  EXPECT_EQ(Value(1.0).find("code"), nullptr);
}

TEST(AmfValue, FindSeesObjectsEcmaArraysAndAssociativeParts) {
  EXPECT_EQ(Value::ecma_array({{"duration", 12.5}}).find("duration")->as_number(), 12.5);
  EXPECT_EQ(Value::array({1, 2}, {{"name", "n"}}).find("name")->as_string(), "n");
  EXPECT_EQ(Value::strict_array({1, 2}).find("0"), nullptr);
}

TEST(AmfValue, AccessorsReturnTheFallbackForOtherTypes) {
  Value s("text");
  EXPECT_EQ(s.as_number(), 0.0);
  EXPECT_EQ(s.as_number(-1), -1.0);
  EXPECT_FALSE(s.as_boolean());
  EXPECT_TRUE(s.as_boolean(true));
  EXPECT_EQ(Value(1.0).as_string("none"), "none");
  EXPECT_EQ(s.as_object(), nullptr);
  EXPECT_EQ(s.as_array(), nullptr);
  EXPECT_EQ(s.as_ecma_array(), nullptr);
  EXPECT_EQ(s.as_date(), nullptr);
  EXPECT_EQ(s.as_byte_array(), nullptr);
  EXPECT_EQ(s.properties(), nullptr);
}

TEST(AmfValue, AsNumberReadsIntegersToo) {
  EXPECT_EQ(Value::integer(-5).as_number(), -5.0);
  EXPECT_TRUE(Value::integer(-5).is_number());
  EXPECT_FALSE(Value(2.0).is_integer());
}

TEST(AmfValue, AsStringReadsXmlText) {
  EXPECT_EQ(Value::xml("<a/>").as_string(), "<a/>");
  EXPECT_EQ(Value::xml_document("<b/>").as_string(), "<b/>");
  EXPECT_TRUE(Value::xml("<a/>").is_xml());
}

TEST(AmfValue, AtReturnsDenseElementsOrNull) {
  Value a = Value::strict_array({"a", "b"});
  EXPECT_EQ(a.at(1)->as_string(), "b");
  EXPECT_EQ(a.at(2), nullptr);
  EXPECT_EQ(Value::object().at(0), nullptr);
}

TEST(AmfValue, SetReplacesTheFirstMatchOrAppends) {
  Value v = Value::object({{"a", 1}});
  EXPECT_TRUE(v.set("a", 2));
  EXPECT_TRUE(v.set("b", 3));
  EXPECT_EQ(v, Value::object({{"a", 2}, {"b", 3}}));
}

TEST(AmfValue, SetKeepsTheEcmaArrayCountInStep) {
  Value v = Value::ecma_array({{"a", 1}});
  v.set("b", 2);
  v.set("a", 3);
  EXPECT_EQ(v.as_ecma_array()->associative_count, 2u);
}

TEST(AmfValue, SetOnAValueWithoutPropertiesChangesNothing) {
  Value v(5.0);
  EXPECT_FALSE(v.set("a", 1));
  EXPECT_EQ(v, Value(5.0));
}

TEST(AmfValue, EqualityComparesTypeAndContents) {
  EXPECT_EQ(Value::object({{"a", 1}}), Value::object({{"a", 1}}));
  EXPECT_NE(Value::object({{"a", 1}}), Value::object({{"a", 2}}));
  EXPECT_NE(Value::object({{"a", 1}}), Value::typed_object("T", {{"a", 1}}));
  EXPECT_NE(Value(5.0), Value::integer(5));
  EXPECT_NE(Value::xml("x"), Value::xml_document("x"));
  EXPECT_NE(Value::undefined(), Value::null());
  EXPECT_NE(Value::ecma_array({{"a", 1}}), Value::object({{"a", 1}}));
}

TEST(AmfValue, EqualityIgnoresTheAvmplusMark) {
  EXPECT_EQ(Value::avmplus(Value("x")), Value("x"));
}

TEST(AmfValue, ToStringRendersACommandObjectOnOneLine) {
  Value v = Value::object({{"code", "NetStream.Play.Start"}, {"level", "status"}, {"duration", 0}});
  EXPECT_EQ(v.to_string(), R"({code: "NetStream.Play.Start", level: "status", duration: 0})");
}

TEST(AmfValue, ToStringRendersEveryType) {
  Value v = Value::strict_array({
      Value(),
      nullptr,
      true,
      1.5,
      Value::integer(5),
      "a\"b\n",
      Value::date(1000, -60),
      Value::typed_object("Point", {{"x", 1}}),
      Value::ecma_array({{"two words", 2}}),
      Value::array({1}, {{"k", 2}}),
      Value::xml("<a/>"),
      Value::xml_document("<b/>"),
      Value::byte_array({0x01, 0xab}),
      Value::avmplus(Value::integer(3)),
      std::nan(""),
  });
  EXPECT_EQ(v.to_string(),
            R"([undefined, null, true, 1.5, int(5), "a\"b\n", date(1000, tz -60), Point{x: 1}, )"
            R"(ecma{"two words": 2}, [1, k: 2], xml("<a/>"), xmldoc("<b/>"), bytes(01 ab), )"
            R"(amf3(int(3)), NaN])");
}

TEST(AmfValue, StreamsItsRendering) {
  std::ostringstream out;
  out << Value::object({{"a", true}});
  EXPECT_EQ(out.str(), "{a: true}");
}

TEST(AmfValue, ToStringStopsAtAnAbsurdDepth) {
  Value v = Value::strict_array();
  for (int i = 0; i < 200; ++i) v = Value::strict_array({std::move(v)});
  EXPECT_NE(v.to_string().find("..."), std::string::npos);
}

TEST(AmfValue, TypeNamesAreReadable) {
  EXPECT_EQ(type_name(Type::ecma_array), "ecma array");
  EXPECT_EQ(type_name(Type::byte_array), "byte array");
}

}  // namespace
}  // namespace weir::formats::amf
