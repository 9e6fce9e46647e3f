// SPDX-License-Identifier: Apache-2.0
#include "app_values.h"

#include <string>

namespace weir::rtmp {
namespace amf = formats::amf;

namespace {

Value from_properties(const amf::Properties& properties, std::string class_name = {}) {
  Members members;
  members.reserve(properties.size());
  for (const amf::Property& p : properties) members.emplace_back(p.name, to_app_value(p.value));
  return Value::object(std::move(members), std::move(class_name));
}

}  // namespace

Value to_app_value(const amf::Value& v) {
  switch (v.type()) {
    case amf::Type::undefined: return Value();
    case amf::Type::null: return Value::null();
    case amf::Type::boolean: return Value(v.as_boolean());
    case amf::Type::number:
    case amf::Type::integer: return Value(v.as_number());
    case amf::Type::string:
    case amf::Type::xml:
    case amf::Type::xml_document: return Value(v.as_string());
    case amf::Type::date: return Value::date(v.as_date()->epoch_ms);
    case amf::Type::object: return from_properties(v.as_object()->properties, v.as_object()->class_name);
    case amf::Type::ecma_array: return from_properties(v.as_ecma_array()->properties);
    case amf::Type::array: {
      const amf::Array& a = *v.as_array();
      if (a.associative.empty()) {
        std::vector<Value> items;
        items.reserve(a.dense.size());
        for (const amf::Value& item : a.dense) items.push_back(to_app_value(item));
        return Value::array(std::move(items));
      }
      Value object = from_properties(a.associative);
      for (std::size_t i = 0; i < a.dense.size(); ++i) object.set(std::to_string(i), to_app_value(a.dense[i]));
      return object;
    }
    case amf::Type::byte_array: {
      const amf::Bytes& bytes = *v.as_byte_array();
      return Value(std::string(bytes.begin(), bytes.end()));
    }
  }
  return Value();
}

amf::Value to_amf(const Value& v) {
  switch (v.type()) {
    case Value::Type::undefined: return amf::Value::undefined();
    case Value::Type::null: return amf::Value::null();
    case Value::Type::boolean: return amf::Value::boolean(v.as_bool());
    case Value::Type::number: return amf::Value::number(v.as_number());
    case Value::Type::string: return amf::Value::string(std::string(v.as_string()));
    case Value::Type::date: return amf::Value::date(v.as_date_ms());
    case Value::Type::array: {
      std::vector<amf::Value> items;
      items.reserve(v.items().size());
      for (const Value& item : v.items()) items.push_back(to_amf(item));
      return amf::Value::strict_array(std::move(items));
    }
    case Value::Type::object: {
      amf::Properties properties;
      properties.reserve(v.members().size());
      for (const auto& [name, member] : v.members()) properties.push_back(amf::Property{name, to_amf(member)});
      if (!v.class_name().empty()) return amf::Value::typed_object(std::string(v.class_name()), std::move(properties));
      return amf::Value::object(std::move(properties));
    }
  }
  return amf::Value::undefined();
}

std::string_view query_of(std::string_view name) noexcept {
  auto q = name.find('?');
  return q == std::string_view::npos ? std::string_view() : name.substr(q + 1);
}

}  // namespace weir::rtmp
