// SPDX-License-Identifier: Apache-2.0
#include "formats/amf/value.h"

#include <charconv>
#include <cmath>
#include <ostream>
#include <utility>

namespace weir::formats::amf {
namespace detail {
// The index in Value's storage of a type.
constexpr std::size_t slot(Type type) noexcept { return static_cast<std::size_t>(type); }
}  // namespace detail

std::string_view type_name(Type type) noexcept {
  switch (type) {
    case Type::undefined: return "undefined";
    case Type::null: return "null";
    case Type::boolean: return "boolean";
    case Type::number: return "number";
    case Type::integer: return "integer";
    case Type::string: return "string";
    case Type::date: return "date";
    case Type::object: return "object";
    case Type::ecma_array: return "ecma array";
    case Type::array: return "array";
    case Type::xml: return "xml";
    case Type::xml_document: return "xml document";
    case Type::byte_array: return "byte array";
  }
  return "unknown";
}

bool operator==(const Object& a, const Object& b) {
  return a.class_name == b.class_name && a.sealed_count == b.sealed_count &&
         a.is_dynamic == b.is_dynamic && a.properties == b.properties;
}

bool operator==(const EcmaArray& a, const EcmaArray& b) {
  return a.associative_count == b.associative_count && a.properties == b.properties;
}

bool operator==(const Array& a, const Array& b) {
  return a.dense == b.dense && a.associative == b.associative;
}

bool operator==(const Value& a, const Value& b) noexcept { return a.data_ == b.data_; }

template <Type T, class... Args>
Value Value::make(Args&&... args) {
  Value v;
  v.data_.template emplace<detail::slot(T)>(std::forward<Args>(args)...);
  return v;
}

Value::Value(std::nullptr_t) noexcept : data_(std::in_place_index<detail::slot(Type::null)>) {}
Value::Value(bool b) noexcept : data_(std::in_place_index<detail::slot(Type::boolean)>, b) {}
Value::Value(double d) noexcept : data_(std::in_place_index<detail::slot(Type::number)>, d) {}
Value::Value(const char* s) : data_(std::in_place_index<detail::slot(Type::string)>, s) {}
Value::Value(std::string s) noexcept
    : data_(std::in_place_index<detail::slot(Type::string)>, std::move(s)) {}
Value::Value(std::string_view s) : data_(std::in_place_index<detail::slot(Type::string)>, s) {}
Value::Value(Date d) noexcept : data_(std::in_place_index<detail::slot(Type::date)>, d) {}
Value::Value(Object o) noexcept
    : data_(std::in_place_index<detail::slot(Type::object)>, std::move(o)) {}
Value::Value(EcmaArray a) noexcept
    : data_(std::in_place_index<detail::slot(Type::ecma_array)>, std::move(a)) {}
Value::Value(Array a) noexcept
    : data_(std::in_place_index<detail::slot(Type::array)>, std::move(a)) {}

Value Value::undefined() noexcept { return Value(); }
Value Value::null() noexcept { return Value(nullptr); }
Value Value::boolean(bool b) noexcept { return Value(b); }
Value Value::number(double d) noexcept { return Value(d); }
Value Value::string(std::string s) noexcept { return Value(std::move(s)); }
Value Value::date(double epoch_ms, std::int16_t timezone_minutes) noexcept {
  return Value(Date{epoch_ms, timezone_minutes});
}

Value Value::avmplus(Value inner) noexcept {
  inner.is_avmplus_ = true;
  return inner;
}

Value Value::integer(std::int32_t i) noexcept { return make<Type::integer>(i); }

Value Value::object() noexcept { return Value(Object{}); }

Value Value::object(Properties properties) noexcept {
  return Value(Object{.class_name = {}, .properties = std::move(properties)});
}

Value Value::typed_object(std::string class_name) noexcept {
  return Value(Object{.class_name = std::move(class_name), .properties = {}});
}

Value Value::typed_object(std::string class_name, Properties properties) noexcept {
  return Value(Object{.class_name = std::move(class_name), .properties = std::move(properties)});
}

Value Value::ecma_array() noexcept { return Value(EcmaArray{}); }

Value Value::ecma_array(Properties properties) noexcept {
  auto count = static_cast<std::uint32_t>(properties.size());
  return Value(EcmaArray{std::move(properties), count});
}

Value Value::strict_array() noexcept { return Value(Array{}); }

Value Value::strict_array(std::vector<Value> elements) noexcept {
  return Value(Array{std::move(elements), {}});
}

Value Value::array(std::vector<Value> dense, Properties associative) noexcept {
  return Value(Array{std::move(dense), std::move(associative)});
}

Value Value::xml(std::string text) noexcept { return make<Type::xml>(std::move(text)); }

Value Value::xml_document(std::string text) noexcept {
  return make<Type::xml_document>(std::move(text));
}

Value Value::byte_array(Bytes bytes) noexcept { return make<Type::byte_array>(std::move(bytes)); }

bool Value::as_boolean(bool fallback) const noexcept {
  return is_boolean() ? std::get<detail::slot(Type::boolean)>(data_) : fallback;
}

double Value::as_number(double fallback) const noexcept {
  if (type() == Type::number) return std::get<detail::slot(Type::number)>(data_);
  if (type() == Type::integer) return std::get<detail::slot(Type::integer)>(data_);
  return fallback;
}

std::string_view Value::as_string(std::string_view fallback) const noexcept {
  switch (type()) {
    case Type::string: return std::get<detail::slot(Type::string)>(data_);
    case Type::xml: return std::get<detail::slot(Type::xml)>(data_);
    case Type::xml_document: return std::get<detail::slot(Type::xml_document)>(data_);
    default: return fallback;
  }
}

const Date* Value::as_date() const noexcept { return std::get_if<detail::slot(Type::date)>(&data_); }
const Object* Value::as_object() const noexcept {
  return std::get_if<detail::slot(Type::object)>(&data_);
}
Object* Value::as_object() noexcept { return std::get_if<detail::slot(Type::object)>(&data_); }
const EcmaArray* Value::as_ecma_array() const noexcept {
  return std::get_if<detail::slot(Type::ecma_array)>(&data_);
}
EcmaArray* Value::as_ecma_array() noexcept {
  return std::get_if<detail::slot(Type::ecma_array)>(&data_);
}
const Array* Value::as_array() const noexcept { return std::get_if<detail::slot(Type::array)>(&data_); }
Array* Value::as_array() noexcept { return std::get_if<detail::slot(Type::array)>(&data_); }
const Bytes* Value::as_byte_array() const noexcept {
  return std::get_if<detail::slot(Type::byte_array)>(&data_);
}

const Properties* Value::properties() const noexcept {
  if (auto* o = as_object()) return &o->properties;
  if (auto* e = as_ecma_array()) return &e->properties;
  if (auto* a = as_array()) return &a->associative;
  return nullptr;
}

Properties* Value::properties() noexcept {
  return const_cast<Properties*>(std::as_const(*this).properties());
}

const Value* Value::find(std::string_view name) const noexcept {
  const Properties* list = properties();
  if (list == nullptr) return nullptr;
  for (const Property& p : *list)
    if (p.name == name) return &p.value;
  return nullptr;
}

Value* Value::find(std::string_view name) noexcept {
  return const_cast<Value*>(std::as_const(*this).find(name));
}

const Value* Value::at(std::size_t index) const noexcept {
  const Array* a = as_array();
  return a != nullptr && index < a->dense.size() ? &a->dense[index] : nullptr;
}

bool Value::set(std::string_view name, Value value) {
  Properties* list = properties();
  if (list == nullptr) return false;
  if (Value* existing = find(name)) {
    *existing = std::move(value);
    return true;
  }
  list->push_back(Property{std::string(name), std::move(value)});
  if (EcmaArray* e = as_ecma_array()) ++e->associative_count;
  return true;
}

namespace {

// Deeper than this, to_string() prints "..." rather than recurse (values built by hand are not
// bounded by a reader's depth limit).
constexpr int kMaxRenderDepth = 100;

void render_number(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "NaN";
    return;
  }
  if (std::isinf(d)) {
    out += d < 0 ? "-Infinity" : "Infinity";
    return;
  }
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);  // shortest round trip
  if (ec == std::errc()) out.append(buffer, end);
}

void render_quoted(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char ch : text) {
    auto byte = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          out += "\\x";
          out += kHex[byte >> 4];
          out += kHex[byte & 0xf];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

// Property names print bare when they look like identifiers, quoted otherwise.
void render_name(std::string& out, std::string_view name) {
  bool is_plain = !name.empty();
  for (char ch : name) {
    bool is_word = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '_' || ch == '$' || ch == '.';
    if (!is_word) is_plain = false;
  }
  if (is_plain)
    out += name;
  else
    render_quoted(out, name);
}

void render(std::string& out, const Value& value, int depth);

void render_properties(std::string& out, const Properties& properties, bool is_first, int depth) {
  for (const Property& p : properties) {
    if (!is_first) out += ", ";
    is_first = false;
    render_name(out, p.name);
    out += ": ";
    render(out, p.value, depth + 1);
  }
}

void render_plain(std::string& out, const Value& value, int depth);

void render(std::string& out, const Value& value, int depth) {
  if (depth > kMaxRenderDepth) {
    out += "...";
    return;
  }
  if (!value.is_avmplus()) {
    render_plain(out, value, depth);
    return;
  }
  out += "amf3(";
  render_plain(out, value, depth);
  out += ')';
}

void render_plain(std::string& out, const Value& value, int depth) {
  switch (value.type()) {
    case Type::undefined: out += "undefined"; return;
    case Type::null: out += "null"; return;
    case Type::boolean: out += value.as_boolean() ? "true" : "false"; return;
    case Type::number: render_number(out, value.as_number()); return;
    case Type::integer:
      out += "int(";
      render_number(out, value.as_number());
      out += ')';
      return;
    case Type::string: render_quoted(out, value.as_string()); return;
    case Type::date: {
      const Date& d = *value.as_date();
      out += "date(";
      render_number(out, d.epoch_ms);
      if (d.timezone_minutes != 0) {
        out += ", tz ";
        out += std::to_string(d.timezone_minutes);
      }
      out += ')';
      return;
    }
    case Type::object: {
      const Object& o = *value.as_object();
      out += o.class_name;
      out += '{';
      render_properties(out, o.properties, true, depth);
      out += '}';
      return;
    }
    case Type::ecma_array:
      out += "ecma{";
      render_properties(out, value.as_ecma_array()->properties, true, depth);
      out += '}';
      return;
    case Type::array: {
      const Array& a = *value.as_array();
      out += '[';
      for (std::size_t i = 0; i < a.dense.size(); ++i) {
        if (i != 0) out += ", ";
        render(out, a.dense[i], depth + 1);
      }
      render_properties(out, a.associative, a.dense.empty(), depth);
      out += ']';
      return;
    }
    case Type::xml:
    case Type::xml_document:
      out += value.type() == Type::xml ? "xml(" : "xmldoc(";
      render_quoted(out, value.as_string());
      out += ')';
      return;
    case Type::byte_array: {
      static constexpr char kHex[] = "0123456789abcdef";
      static constexpr std::size_t kShown = 32;
      const Bytes& bytes = *value.as_byte_array();
      out += "bytes(";
      for (std::size_t i = 0; i < bytes.size() && i < kShown; ++i) {
        if (i != 0) out += ' ';
        out += kHex[bytes[i] >> 4];
        out += kHex[bytes[i] & 0xf];
      }
      if (bytes.size() > kShown) out += " ... " + std::to_string(bytes.size()) + " bytes";
      out += ')';
      return;
    }
  }
}

}  // namespace

std::string Value::to_string() const {
  std::string out;
  render(out, *this, 0);
  return out;
}

std::ostream& operator<<(std::ostream& out, const Value& value) { return out << value.to_string(); }

}  // namespace weir::formats::amf
