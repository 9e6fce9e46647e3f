// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// Value: one AMF0 or AMF3 value as a tree the caller owns (commands, onMetaData, shared objects,
/// Lua tables). The readers in amf0.h and amf3.h build Values; the writers encode them.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace weir::formats::amf {

/// The kind of a Value. The order is the index of Value's storage; do not reorder.
enum class Type : std::uint8_t {
  undefined = 0,  ///< AMF0 0x06, AMF3 0x00 (AMF0 0x0D "unsupported" reads as this too)
  null,           ///< AMF0 0x05, AMF3 0x01
  boolean,        ///< AMF0 0x01, AMF3 0x02/0x03
  number,         ///< a double: AMF0 0x00, AMF3 0x05
  integer,        ///< AMF3 0x04, 29-bit signed; AMF0 writes it as a number
  string,         ///< AMF0 0x02 and 0x0C (long string), AMF3 0x06
  date,           ///< AMF0 0x0B, AMF3 0x08
  object,         ///< anonymous or typed object: AMF0 0x03 and 0x10, AMF3 0x0A
  ecma_array,     ///< AMF0 0x08: ordered pairs with an associative count
  array,          ///< dense values plus associative pairs: AMF0 0x0A (strict array), AMF3 0x09
  xml,            ///< AMF3 0x0B (E4X XML); AMF0 writes it as an XML document
  xml_document,   ///< AMF0 0x0F, AMF3 0x07
  byte_array,     ///< AMF3 0x0C; AMF0 writes it behind the AVM+ switch
};

/// Lower-case name of a type ("ecma array", "byte array") for logs and error messages.
std::string_view type_name(Type type) noexcept;

class Value;

/// Raw bytes of an AMF3 ByteArray.
using Bytes = std::vector<std::uint8_t>;

/// A date: milliseconds since 1970-01-01T00:00:00Z, and AMF0's time-zone field (minutes; the
/// spec reserves it and writers put 0; AMF3 has none and drops it).
struct Date {
  double epoch_ms = 0;
  std::int16_t timezone_minutes = 0;
  friend bool operator==(const Date&, const Date&) = default;
};

struct Property;

/// Properties in wire order. A name may repeat; find() returns the first.
using Properties = std::vector<Property>;

/// An object. AMF3 traits map onto it: the first `sealed_count` properties are the sealed
/// members (names in the traits), the rest are dynamic. An AMF0 object reads as class_name "",
/// sealed_count 0, is_dynamic true; an AMF0 typed object (0x10) the same with its class name.
struct Object {
  std::string class_name;  ///< empty: anonymous
  Properties properties;
  std::uint32_t sealed_count = 0;
  bool is_dynamic = true;
  friend bool operator==(const Object&, const Object&);
};

/// An AMF0 ECMA array ("mixed array", onMetaData): ordered pairs. `associative_count` is the
/// count on the wire, a hint readers ignore; the builders set it to the number of properties
/// and the AMF0 writer writes it as is.
struct EcmaArray {
  Properties properties;
  std::uint32_t associative_count = 0;
  friend bool operator==(const EcmaArray&, const EcmaArray&);
};

/// An array: dense values (index 0..n-1) and associative pairs. AMF0 strict arrays have only
/// the dense part; AMF3 arrays may have both.
struct Array {
  std::vector<Value> dense;
  Properties associative;
  friend bool operator==(const Array&, const Array&);
};

/// One AMF value. A plain value type: copies are deep, and it owns all its strings (readers copy
/// out of their input, so a Value outlives the buffer it came from). Any thread; not shared.
///
/// Builders read like the wire:
///   Value::object({{"code", "NetStream.Play.Start"}, {"level", "status"}, {"duration", 0}})
/// Accessors never fail: as_number()/as_string() take a fallback, find() returns nullptr.
class Value {
 public:
  /// Undefined.
  Value() noexcept = default;
  /// Null.
  Value(std::nullptr_t) noexcept;  // NOLINT: implicit by design, as for all the scalars
  /// A boolean.
  Value(bool b) noexcept;  // NOLINT
  /// A number (a double; AMF has no other number in AMF0).
  Value(double d) noexcept;  // NOLINT
  /// A number from any integer type (stored as a double); Value::integer() makes an AMF3 integer.
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  Value(T i) noexcept;  // NOLINT
  /// A string.
  Value(const char* s);  // NOLINT
  /// A string.
  Value(std::string s) noexcept;  // NOLINT
  /// A string.
  Value(std::string_view s);  // NOLINT
  /// No Value from other pointers (they would silently become booleans).
  template <class T>
    requires(!std::same_as<std::remove_cv_t<T>, char>)
  Value(T*) = delete;
  /// A date.
  explicit Value(Date d) noexcept;
  /// An object, typed or not, with sealed members if any.
  explicit Value(Object o) noexcept;
  /// An ECMA array, its count as given.
  explicit Value(EcmaArray a) noexcept;
  /// An array.
  explicit Value(Array a) noexcept;

  /// Undefined.
  static Value undefined() noexcept;
  /// Null.
  static Value null() noexcept;
  /// A boolean.
  static Value boolean(bool b) noexcept;
  /// A number (double).
  static Value number(double d) noexcept;
  /// An AMF3 integer. The AMF3 writer sends values outside [-2^28, 2^28 - 1] as doubles.
  static Value integer(std::int32_t i) noexcept;
  /// A string (AMF0 writes a long string past 65535 bytes).
  static Value string(std::string s) noexcept;
  /// A date, milliseconds since the epoch.
  static Value date(double epoch_ms, std::int16_t timezone_minutes = 0) noexcept;

  /// An empty anonymous object.
  static Value object() noexcept;
  /// An anonymous object with dynamic properties in this order.
  static Value object(Properties properties) noexcept;
  /// An empty typed object.
  static Value typed_object(std::string class_name) noexcept;
  /// A typed object (AMF0 0x10, AMF3 traits with a class name), all properties dynamic.
  static Value typed_object(std::string class_name, Properties properties) noexcept;
  /// An empty ECMA array.
  static Value ecma_array() noexcept;
  /// An ECMA array; associative_count = properties.size().
  static Value ecma_array(Properties properties) noexcept;
  /// An empty array.
  static Value strict_array() noexcept;
  /// A dense array (AMF0 strict array).
  static Value strict_array(std::vector<Value> elements) noexcept;
  /// An array with dense and associative parts (AMF3).
  static Value array(std::vector<Value> dense, Properties associative) noexcept;
  /// E4X XML (AMF3 0x0B).
  static Value xml(std::string text) noexcept;
  /// An XML document (AMF0 0x0F, AMF3 0x07).
  static Value xml_document(std::string text) noexcept;
  /// An AMF3 ByteArray.
  static Value byte_array(Bytes bytes) noexcept;
  /// `inner`, marked to go behind the AVM+ switch (AMF0 0x11) when written as AMF0.
  static Value avmplus(Value inner) noexcept;

  /// The kind of value held.
  Type type() const noexcept { return static_cast<Type>(data_.index()); }
  /// Undefined (also AMF0's "unsupported" marker).
  bool is_undefined() const noexcept { return type() == Type::undefined; }
  /// Null.
  bool is_null() const noexcept { return type() == Type::null; }
  /// A boolean.
  bool is_boolean() const noexcept { return type() == Type::boolean; }
  /// A number or an AMF3 integer.
  bool is_number() const noexcept { return type() == Type::number || type() == Type::integer; }
  /// An AMF3 integer only.
  bool is_integer() const noexcept { return type() == Type::integer; }
  /// A string (not XML).
  bool is_string() const noexcept { return type() == Type::string; }
  /// A date.
  bool is_date() const noexcept { return type() == Type::date; }
  /// An object, typed or not.
  bool is_object() const noexcept { return type() == Type::object; }
  /// An ECMA array.
  bool is_ecma_array() const noexcept { return type() == Type::ecma_array; }
  /// An array (strict or AMF3).
  bool is_array() const noexcept { return type() == Type::array; }
  /// XML or an XML document.
  bool is_xml() const noexcept { return type() == Type::xml || type() == Type::xml_document; }
  /// An AMF3 ByteArray.
  bool is_byte_array() const noexcept { return type() == Type::byte_array; }

  /// Whether this value came behind, or goes behind, the AMF0 AVM+ switch (0x11). An encoding
  /// detail: accessors and operator== ignore it; only the AMF0 writer reads it.
  bool is_avmplus() const noexcept { return is_avmplus_; }
  /// Marks or unmarks the value for the AVM+ switch.
  void set_avmplus(bool is_avmplus) noexcept { is_avmplus_ = is_avmplus; }

  /// The boolean, or `fallback` for any other type.
  bool as_boolean(bool fallback = false) const noexcept;
  /// The number or integer, or `fallback` for any other type.
  double as_number(double fallback = 0) const noexcept;
  /// The text of a string, XML or XML document, or `fallback`. Views into this Value.
  std::string_view as_string(std::string_view fallback = {}) const noexcept;
  /// The date, or nullptr.
  const Date* as_date() const noexcept;
  /// The object, or nullptr.
  const Object* as_object() const noexcept;
  /// The object to change, or nullptr.
  Object* as_object() noexcept;
  /// The ECMA array, or nullptr.
  const EcmaArray* as_ecma_array() const noexcept;
  /// The ECMA array to change, or nullptr.
  EcmaArray* as_ecma_array() noexcept;
  /// The array, or nullptr.
  const Array* as_array() const noexcept;
  /// The array to change, or nullptr.
  Array* as_array() noexcept;
  /// The bytes of a ByteArray, or nullptr.
  const Bytes* as_byte_array() const noexcept;

  /// The named properties: an object's, an ECMA array's, an array's associative part; else nullptr.
  const Properties* properties() const noexcept;
  /// The named properties to change (see the const overload), or nullptr.
  Properties* properties() noexcept;
  /// The first property called `name` (see properties()), or nullptr.
  const Value* find(std::string_view name) const noexcept;
  /// The first property called `name`, to change, or nullptr.
  Value* find(std::string_view name) noexcept;
  /// The dense element at `index` of an array, or nullptr.
  const Value* at(std::size_t index) const noexcept;
  /// Sets the first property called `name`, or appends it (an ECMA array's count follows).
  /// Returns false, changing nothing, when the value has no properties (see properties()).
  bool set(std::string_view name, Value value);

  /// One-line rendering for logs and test failures:
  ///   {code: "NetStream.Play.Start", level: "status", duration: 0}
  /// Typed objects print as Class{...}, ECMA arrays as ecma{...}, arrays as [1, 2, key: 3],
  /// integers as int(5), dates as date(ms), ByteArrays as bytes(01 02), AVM+ as amf3(...).
  std::string to_string() const;

  /// Same type and contents (numbers by ==, so NaN differs from itself); ignores is_avmplus().
  friend bool operator==(const Value& a, const Value& b) noexcept;

 private:
  // Member bodies that build or destroy the storage live in value.cc or after Property below:
  // in the class body, clang would instantiate ~vector<Property> while Property is incomplete.
  template <Type T, class... Args>
  static Value make(Args&&... args);

  // Alternatives in Type order: the variant index is the Type.
  std::variant<std::monostate,  // undefined
               std::monostate,  // null
               bool, double, std::int32_t,
               std::string,  // string
               Date, Object, EcmaArray, Array,
               std::string,  // xml
               std::string,  // xml_document
               Bytes>
      data_;
  bool is_avmplus_ = false;
};

/// A named value in an object, ECMA array or array. Builds from {"name", value}.
struct Property {
  std::string name;
  Value value;
  friend bool operator==(const Property&, const Property&) = default;
};

template <std::integral T>
  requires(!std::same_as<T, bool>)
Value::Value(T i) noexcept : Value(static_cast<double>(i)) {}

/// Streams to_string() (GoogleTest prints values with it).
std::ostream& operator<<(std::ostream& out, const Value& value);

}  // namespace weir::formats::amf
