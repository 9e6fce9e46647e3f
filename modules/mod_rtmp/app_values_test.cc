// SPDX-License-Identifier: Apache-2.0
// AMF values <-> weir::Value (what mod_rtmp hands server-side applications), both ways, and the
// query arguments of stream names and tcUrls.
#include "app_values.h"

#include <gtest/gtest.h>

#include "formats/amf/amf0.h"
#include "formats/amf/amf3.h"

namespace weir::rtmp {
namespace {
namespace amf = formats::amf;

TEST(AppValues, ScalarsAndDatesMapBothWays) {
  EXPECT_EQ(to_app_value(amf::Value::undefined()), Value());
  EXPECT_EQ(to_app_value(amf::Value::null()), Value::null());
  EXPECT_EQ(to_app_value(amf::Value::boolean(true)), Value(true));
  EXPECT_EQ(to_app_value(amf::Value::integer(-7)), Value(-7));
  EXPECT_EQ(to_app_value(amf::Value::number(0.5)), Value(0.5));
  EXPECT_EQ(to_app_value(amf::Value::string("s")), Value("s"));
  EXPECT_EQ(to_app_value(amf::Value::date(1700000000123.0, 60)), Value::date(1700000000123.0));
  EXPECT_EQ(to_amf(Value()), amf::Value::undefined());
  EXPECT_EQ(to_amf(Value::null()), amf::Value::null());
  EXPECT_EQ(to_amf(Value::date(5)), amf::Value::date(5));
  EXPECT_EQ(to_amf(Value("x")), amf::Value::string("x"));
}

TEST(AppValues, NestedObjectsAndArraysRoundTrip) {
  amf::Value wire = amf::Value::object(
      {{"user", amf::Value::object({{"name", "ana"}, {"tags", amf::Value::strict_array({"a", amf::Value::null()})}})},
       {"when", amf::Value::date(42)},
       {"typed", amf::Value::typed_object("flash.Point", {{"x", 1}})}});
  Value app = to_app_value(wire);
  EXPECT_EQ(app, Value::object({{"user", Value::object({{"name", "ana"}, {"tags", Value::array({"a", Value::null()})}})},
                                {"when", Value::date(42)},
                                {"typed", Value::object({{"x", 1}}, "flash.Point")}}));
  EXPECT_EQ(to_amf(app), wire);
}

TEST(AppValues, EcmaArraysAndMixedArraysBecomeObjects) {
  EXPECT_EQ(to_app_value(amf::Value::ecma_array({{"duration", 0}, {"width", 640}})),
            Value::object({{"duration", 0}, {"width", 640}}));
  EXPECT_EQ(to_app_value(amf::Value::array({"a", "b"}, {{"k", true}})),
            Value::object({{"k", true}, {"0", "a"}, {"1", "b"}}));
}

TEST(AppValues, Amf3ReadValuesArriveTheSameAsAmf0) {
  // {list: [1, "x"]} as AMF3: an anonymous dynamic object holding a dense array.
  const std::uint8_t bytes[] = {0x0a, 0x0b, 0x01, 0x09, 'l', 'i', 's', 't', 0x09, 0x05, 0x01, 0x04, 0x01,
                                0x06, 0x03, 'x', 0x01};
  amf::Amf3Reader reader(bytes);
  auto value = reader.read();
  ASSERT_TRUE(value.has_value()) << value.error().message();
  EXPECT_EQ(to_app_value(*value), Value::object({{"list", Value::array({1, "x"})}}));
}

TEST(AppValues, QueryArgumentsAreDecoded) {
  EXPECT_EQ(query_of("cam1?token=a%20b&x"), "token=a%20b&x");
  EXPECT_EQ(query_of("cam1"), "");
  EXPECT_EQ(parse_query("token=a%20b&x&token=second&n=1+2&bad=%zz"),
            Value::object({{"token", "a b"}, {"x", ""}, {"n", "1 2"}, {"bad", "%zz"}}));
  EXPECT_EQ(parse_query(""), Value::object());
}

}  // namespace
}  // namespace weir::rtmp
