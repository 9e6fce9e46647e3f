// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Value: a dynamic value that crosses module boundaries: RPC arguments and results, values
/// attached to clients, shared-object slots, figures handed to scripts. Protocol modules map
/// their own encodings onto it (mod_rtmp: AMF0/AMF3), script engines their own types (mod_lua:
/// Lua tables). Header-only and plain, so it is part of the stable module API.
///
///   Value v = Value::object({{"code", "NetConnection.Connect.Success"}, {"count", 3}});
///   if (const Value* code = v.find("code")) log(code->as_string());

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace weir {

class Value;

/// Named members in order (objects). A name may repeat; find() returns the first.
using Members = std::vector<std::pair<std::string, Value>>;

class Value {
 public:
  /// The kinds, in the order of the storage variant.
  enum class Type : std::uint8_t { undefined = 0, null, boolean, number, string, date, array, object };

  /// A date: milliseconds since 1970-01-01T00:00:00Z.
  struct Date {
    double epoch_ms = 0;
    friend bool operator==(const Date&, const Date&) = default;
  };
  /// An array: dense values.
  struct Array {
    std::vector<Value> items;
    friend bool operator==(const Array& a, const Array& b);  // defined below, once Value is complete
  };
  /// An object: named members in order, and an optional class name (AMF typed objects).
  struct Object {
    Members members;
    std::string class_name;
    // Defined below, once Value is complete: a defaulted comparison here instantiates
    // std::pair<std::string, Value> with Value incomplete, which clang rejects.
    friend bool operator==(const Object& a, const Object& b);
  };

  /// Undefined.
  Value() noexcept = default;
  Value(std::nullptr_t) noexcept : v_(Null{}) {}                  // NOLINT: implicit scalars
  Value(bool b) noexcept : v_(b) {}                               // NOLINT
  Value(double d) noexcept : v_(d) {}                             // NOLINT
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  Value(T i) noexcept : v_(static_cast<double>(i)) {}             // NOLINT
  Value(const char* s) : v_(std::string(s)) {}                    // NOLINT
  Value(std::string s) noexcept : v_(std::move(s)) {}             // NOLINT
  Value(std::string_view s) : v_(std::string(s)) {}               // NOLINT
  template <class T>
    requires(!std::same_as<std::remove_cv_t<T>, char>)
  Value(T*) = delete;  ///< no Value from other pointers (they would silently become booleans)
  explicit Value(Date d) noexcept : v_(d) {}
  explicit Value(Array a) noexcept : v_(std::move(a)) {}
  explicit Value(Object o) noexcept : v_(std::move(o)) {}

  static Value null() noexcept { return Value(nullptr); }
  static Value date(double epoch_ms) noexcept { return Value(Date{epoch_ms}); }
  static Value array(std::vector<Value> items = {}) noexcept { return Value(Array{std::move(items)}); }
  static Value object(Members members = {}, std::string class_name = {}) noexcept {
    return Value(Object{std::move(members), std::move(class_name)});
  }

  Type type() const noexcept { return static_cast<Type>(v_.index()); }
  bool is_undefined() const noexcept { return type() == Type::undefined; }
  bool is_null() const noexcept { return type() == Type::null; }
  bool is_boolean() const noexcept { return type() == Type::boolean; }
  bool is_number() const noexcept { return type() == Type::number; }
  bool is_string() const noexcept { return type() == Type::string; }
  bool is_date() const noexcept { return type() == Type::date; }
  bool is_array() const noexcept { return type() == Type::array; }
  bool is_object() const noexcept { return type() == Type::object; }

  /// Accessors never fail: a value of another type gives the fallback (or an empty container).
  bool as_bool(bool fallback = false) const noexcept {
    const bool* b = std::get_if<bool>(&v_);
    return b ? *b : fallback;
  }
  double as_number(double fallback = 0) const noexcept {
    const double* d = std::get_if<double>(&v_);
    return d ? *d : fallback;
  }
  std::string_view as_string(std::string_view fallback = {}) const noexcept {
    const std::string* s = std::get_if<std::string>(&v_);
    return s ? std::string_view(*s) : fallback;
  }
  double as_date_ms(double fallback = 0) const noexcept {
    const Date* d = std::get_if<Date>(&v_);
    return d ? d->epoch_ms : fallback;
  }
  const std::vector<Value>& items() const noexcept {
    const Array* a = std::get_if<Array>(&v_);
    return a ? a->items : empty_items();
  }
  const Members& members() const noexcept {
    const Object* o = std::get_if<Object>(&v_);
    return o ? o->members : empty_members();
  }
  std::string_view class_name() const noexcept {
    const Object* o = std::get_if<Object>(&v_);
    return o ? std::string_view(o->class_name) : std::string_view();
  }
  /// Mutable containers; null when the value is of another type.
  std::vector<Value>* mutable_items() noexcept {
    Array* a = std::get_if<Array>(&v_);
    return a ? &a->items : nullptr;
  }
  Members* mutable_members() noexcept {
    Object* o = std::get_if<Object>(&v_);
    return o ? &o->members : nullptr;
  }

  /// The first member named `name` of an object, or null.
  const Value* find(std::string_view name) const noexcept {
    for (const auto& [key, value] : members())
      if (key == name) return &value;
    return nullptr;
  }
  /// Sets member `name` of an object (replacing the first of that name, else appending).
  /// Does nothing when the value is not an object.
  void set(std::string_view name, Value value) {
    Members* m = mutable_members();
    if (!m) return;
    for (auto& [key, old] : *m) {
      if (key == name) {
        old = std::move(value);
        return;
      }
    }
    m->emplace_back(std::string(name), std::move(value));
  }

  friend bool operator==(const Value&, const Value&) = default;

 private:
  struct Null {
    friend bool operator==(Null, Null) = default;
  };
  static const std::vector<Value>& empty_items() noexcept {
    static const std::vector<Value> empty;
    return empty;
  }
  static const Members& empty_members() noexcept {
    static const Members empty;
    return empty;
  }

  std::variant<std::monostate, Null, bool, double, std::string, Date, Array, Object> v_;
};

inline bool operator==(const Value::Array& a, const Value::Array& b) { return a.items == b.items; }
inline bool operator==(const Value::Object& a, const Value::Object& b) {
  return a.members == b.members && a.class_name == b.class_name;
}

}  // namespace weir
