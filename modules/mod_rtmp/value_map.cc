// SPDX-License-Identifier: Apache-2.0
#include "value_map.h"

#include <string>

namespace weir::rtmp {
namespace amf = formats::amf;

namespace {

Members to_members(const amf::Properties& properties) {
  Members members;
  members.reserve(properties.size());
  for (const amf::Property& p : properties) members.emplace_back(p.name, to_value(p.value));
  return members;
}

amf::Properties to_properties(const Members& members) {
  amf::Properties properties;
  properties.reserve(members.size());
  for (const auto& [name, value] : members) properties.push_back(amf::Property{name, to_amf(value)});
  return properties;
}

}  // namespace

// Recursion depth is bounded by the AMF reader's Limits on the way in and by the shared objects'
// stored depth on the way out.
Value to_value(const amf::Value& v) {
  switch (v.type()) {
    case amf::Type::undefined: return Value();
    case amf::Type::null: return Value::null();
    case amf::Type::boolean: return Value(v.as_boolean());
    case amf::Type::number:
    case amf::Type::integer: return Value(v.as_number());
    case amf::Type::string:
    case amf::Type::xml:
    case amf::Type::xml_document: return Value(std::string(v.as_string()));
    case amf::Type::date: return Value::date(v.as_date()->epoch_ms);
    case amf::Type::object: return Value::object(to_members(v.as_object()->properties), v.as_object()->class_name);
    case amf::Type::ecma_array: return Value::object(to_members(v.as_ecma_array()->properties));
    case amf::Type::array: {
      const amf::Array& a = *v.as_array();
      if (a.associative.empty()) {
        std::vector<Value> items;
        items.reserve(a.dense.size());
        for (const amf::Value& item : a.dense) items.push_back(to_value(item));
        return Value::array(std::move(items));
      }
      Members members;
      for (std::size_t i = 0; i < a.dense.size(); ++i) members.emplace_back(std::to_string(i), to_value(a.dense[i]));
      for (const amf::Property& p : a.associative) members.emplace_back(p.name, to_value(p.value));
      return Value::object(std::move(members));
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
    case Value::Type::object:
      if (!v.class_name().empty()) return amf::Value::typed_object(std::string(v.class_name()), to_properties(v.members()));
      return amf::Value::object(to_properties(v.members()));
  }
  return amf::Value::undefined();
}

}  // namespace weir::rtmp
