// SPDX-License-Identifier: Apache-2.0
#include "formats/amf/amf0.h"

#include <algorithm>
#include <limits>
#include <string>

#include "formats/amf/wire.h"

namespace weir::formats::amf {
namespace {

constexpr std::uint8_t kNumber = 0x00;
constexpr std::uint8_t kBoolean = 0x01;
constexpr std::uint8_t kString = 0x02;
constexpr std::uint8_t kObject = 0x03;
constexpr std::uint8_t kMovieClip = 0x04;
constexpr std::uint8_t kNull = 0x05;
constexpr std::uint8_t kUndefined = 0x06;
constexpr std::uint8_t kReference = 0x07;
constexpr std::uint8_t kEcmaArray = 0x08;
constexpr std::uint8_t kObjectEnd = 0x09;
constexpr std::uint8_t kStrictArray = 0x0a;
constexpr std::uint8_t kDate = 0x0b;
constexpr std::uint8_t kLongString = 0x0c;
constexpr std::uint8_t kUnsupported = 0x0d;
constexpr std::uint8_t kRecordSet = 0x0e;
constexpr std::uint8_t kXmlDocument = 0x0f;
constexpr std::uint8_t kTypedObject = 0x10;
constexpr std::uint8_t kAvmPlus = 0x11;

constexpr std::size_t kMaxShortString = 0xffff;
constexpr std::size_t kMaxLongString = 0xffffffff;
// Arrays never reserve more up front than this; a longer one grows as its elements arrive.
constexpr std::size_t kMaxReserve = 4096;

using detail::get_double;
using detail::get_u16;
using detail::get_u32;
using detail::get_u8;
using detail::hex_byte;
using detail::ReadCursor;
using detail::ReferenceEntry;
using detail::remaining;
using detail::take;

// Decodes one value. Objects, typed objects, ECMA arrays and strict arrays enter the reference
// table at their marker; a reference moves the cursor back to that marker and reads again with
// the tables frozen (see the AMF3 Decoder, which works the same way and shares the cursor).
class Decoder {
 public:
  Decoder(ReadCursor& cursor, std::vector<ReferenceEntry>& references,
          detail::Amf3ReadTables& amf3) noexcept
      : c_(cursor), references_(references), amf3_(amf3) {}

  Result<Value> value(std::uint32_t depth) {
    std::size_t at = c_.pos;
    if (remaining(c_) == 0)
      return error(Errc::malformed, "amf0 value expected at offset {}, the input ends", at);
    WEIR_TRY(charge(sizeof(Value), at));
    std::uint8_t marker = get_u8(c_);
    switch (marker) {
      case kNumber:
        WEIR_TRY(need(8, "number", at));
        return Value(get_double(c_));
      case kBoolean:
        WEIR_TRY(need(1, "boolean", at));
        return Value(get_u8(c_) != 0);
      case kString:
      case kLongString: {
        std::string_view what = marker == kString ? "string" : "long string";
        auto text = string(marker == kString ? 2 : 4, what, at);
        if (!text) return std::move(text).error();
        return Value(std::string(*text));
      }
      case kXmlDocument: {
        auto text = string(4, "xml document", at);
        if (!text) return std::move(text).error();
        return Value::xml_document(std::string(*text));
      }
      case kObject: return object(std::string(), "object", at, depth);
      case kTypedObject: {
        auto class_name = string(2, "typed object class name", at);
        if (!class_name) return std::move(class_name).error();
        return object(std::string(*class_name), "typed object", at, depth);
      }
      case kNull: return Value(nullptr);
      case kUndefined:
      case kUnsupported: return Value();
      case kReference: return reference(at, depth);
      case kEcmaArray: return ecma_array(at, depth);
      case kStrictArray: return strict_array(at, depth);
      case kDate: {
        WEIR_TRY(need(10, "date", at));
        double epoch_ms = get_double(c_);
        auto timezone = static_cast<std::int16_t>(get_u16(c_));
        return Value::date(epoch_ms, timezone);
      }
      case kAvmPlus: {
        auto v = detail::read_amf3_value(c_, amf3_, depth);
        if (v) v->set_avmplus(true);
        return v;
      }
      case kObjectEnd:
        return error(Errc::malformed, "amf0 object end marker (0x09) at offset {} outside an object",
                     at);
      case kMovieClip:
      case kRecordSet:
        return error(Errc::unsupported, "amf0 {} (marker {}) at offset {} is not supported",
                     marker == kMovieClip ? "movieclip" : "recordset", hex_byte(marker), at);
      default:
        return error(Errc::malformed, "amf0 unknown marker {} at offset {}", hex_byte(marker), at);
    }
  }

 private:
  static constexpr std::size_t kNotAdded = static_cast<std::size_t>(-1);

  Status need(std::size_t bytes, std::string_view what, std::size_t at) const {
    if (remaining(c_) >= bytes) return ok();
    return error(Errc::malformed, "amf0 {} at offset {} needs {} bytes, only {} left", what, at, bytes,
                 remaining(c_));
  }

  Status charge(std::size_t bytes, std::size_t at) { return detail::charge(c_, bytes, "amf0", at); }

  Status check_depth(std::string_view what, std::size_t at, std::uint32_t depth) const {
    if (depth < c_.limits.max_depth) return ok();
    return error(Errc::limit, "amf0 {} at offset {} nests deeper than {}", what, at,
                 c_.limits.max_depth);
  }

  // A length (2 or 4 bytes) and that many bytes.
  Result<std::string_view> string(std::size_t length_bytes, std::string_view what, std::size_t at) {
    WEIR_TRY(need(length_bytes, what, at));
    std::size_t length = length_bytes == 2 ? get_u16(c_) : get_u32(c_);
    if (length > remaining(c_))
      return error(Errc::malformed, "amf0 {} of {} bytes at offset {}, only {} left", what, length,
                   c_.pos, remaining(c_));
    WEIR_TRY(charge(length, at));
    return take(c_, length);
  }

  // A new reference-table entry, unless this is a replay (then it is there already).
  std::size_t add_reference(std::size_t at) {
    if (c_.replaying != 0) return kNotAdded;
    references_.push_back({at, false});
    return references_.size() - 1;
  }

  void complete(std::size_t index) {
    if (index != kNotAdded) references_[index].is_complete = true;
  }

  Result<Value> reference(std::size_t at, std::uint32_t depth) {
    WEIR_TRY(need(2, "reference", at));
    std::uint16_t index = get_u16(c_);
    if (index >= references_.size())
      return error(Errc::malformed, "amf0 reference {} at offset {}, only {} objects read", index, at,
                   references_.size());
    ReferenceEntry entry = references_[index];
    if (!entry.is_complete)
      return error(Errc::unsupported,
                   "amf0 reference {} at offset {} is a cycle: that object is still being read", index,
                   at);
    std::size_t resume = c_.pos;
    c_.pos = entry.offset;
    ++c_.replaying;
    Result<Value> v = value(depth);
    --c_.replaying;
    c_.pos = resume;
    return v;
  }

  // Name/value pairs up to the empty name and the object end marker (0x00 0x00 0x09).
  Status properties(Properties& out, std::string_view what, std::size_t at, std::uint32_t depth) {
    for (;;) {
      std::size_t name_at = c_.pos;
      if (remaining(c_) < 2)
        return error(Errc::malformed, "amf0 {} at offset {} is cut off at offset {}, before its end",
                     what, at, name_at);
      std::size_t length = get_u16(c_);
      if (length == 0) {
        if (remaining(c_) == 0)
          return error(Errc::malformed, "amf0 {} at offset {} is cut off at offset {}, before its end",
                       what, at, c_.pos);
        std::uint8_t end = get_u8(c_);
        if (end != kObjectEnd)
          return error(Errc::malformed,
                       "amf0 {} at offset {}: empty property name at offset {} followed by {}, not "
                       "the object end marker 0x09",
                       what, at, name_at, hex_byte(end));
        return ok();
      }
      if (length > remaining(c_))
        return error(Errc::malformed, "amf0 {} at offset {}: property name of {} bytes at offset {}, only {} left",
                     what, at, length, c_.pos, remaining(c_));
      WEIR_TRY(charge(sizeof(Property) - sizeof(Value) + length, at));
      std::string_view name = take(c_, length);
      auto v = value(depth + 1);
      if (!v) return std::move(v).error();
      out.push_back(Property{std::string(name), std::move(*v)});
    }
  }

  Result<Value> object(std::string class_name, std::string_view what, std::size_t at,
                       std::uint32_t depth) {
    WEIR_TRY(check_depth(what, at, depth));
    std::size_t entry = add_reference(at);
    Object o;
    o.class_name = std::move(class_name);
    WEIR_TRY(properties(o.properties, what, at, depth));
    complete(entry);
    return Value(std::move(o));
  }

  Result<Value> ecma_array(std::size_t at, std::uint32_t depth) {
    WEIR_TRY(need(4, "ecma array", at));
    WEIR_TRY(check_depth("ecma array", at, depth));
    std::size_t entry = add_reference(at);
    EcmaArray a;
    a.associative_count = get_u32(c_);  // a hint only: many writers put 0
    WEIR_TRY(properties(a.properties, "ecma array", at, depth));
    complete(entry);
    return Value(std::move(a));
  }

  Result<Value> strict_array(std::size_t at, std::uint32_t depth) {
    WEIR_TRY(need(4, "strict array", at));
    WEIR_TRY(check_depth("strict array", at, depth));
    std::size_t count = get_u32(c_);
    if (count > remaining(c_))  // each element takes at least its marker byte
      return error(Errc::malformed, "amf0 strict array at offset {} of {} elements, only {} bytes left",
                   at, count, remaining(c_));
    std::size_t entry = add_reference(at);
    Array a;
    a.dense.reserve(std::min(count, kMaxReserve));
    for (std::size_t i = 0; i < count; ++i) {
      auto v = value(depth + 1);
      if (!v) return std::move(v).error();
      a.dense.push_back(std::move(*v));
    }
    complete(entry);
    return Value(std::move(a));
  }

  ReadCursor& c_;
  std::vector<ReferenceEntry>& references_;
  detail::Amf3ReadTables& amf3_;
};

using detail::put_double;
using detail::put_text;
using detail::put_u16;
using detail::put_u32;
using detail::put_u8;

class Encoder {
 public:
  Encoder(std::vector<std::uint8_t>& out, const Limits& limits) noexcept
      : out_(out), limits_(limits) {}

  Status value(const Value& v, std::uint32_t depth) {
    if (v.is_avmplus() || v.is_byte_array()) {
      put_u8(out_, kAvmPlus);
      return detail::write_amf3_value(out_, v, nullptr, depth, limits_);
    }
    switch (v.type()) {
      case Type::undefined: put_u8(out_, kUndefined); return ok();
      case Type::null: put_u8(out_, kNull); return ok();
      case Type::boolean:
        put_u8(out_, kBoolean);
        put_u8(out_, v.as_boolean() ? 1 : 0);
        return ok();
      case Type::number:
      case Type::integer:
        put_u8(out_, kNumber);
        put_double(out_, v.as_number());
        return ok();
      case Type::string: return string(v.as_string());
      case Type::date: {
        const Date& d = *v.as_date();
        put_u8(out_, kDate);
        put_double(out_, d.epoch_ms);
        put_u16(out_, static_cast<std::uint16_t>(d.timezone_minutes));
        return ok();
      }
      case Type::object: return object(*v.as_object(), depth);
      case Type::ecma_array: {
        const EcmaArray& a = *v.as_ecma_array();
        WEIR_TRY(check_depth("ecma array", depth));
        put_u8(out_, kEcmaArray);
        put_u32(out_, a.associative_count);
        return properties(a.properties, "ecma array", depth);
      }
      case Type::array: return array(*v.as_array(), depth);
      case Type::xml:
      case Type::xml_document: {
        std::string_view text = v.as_string();
        WEIR_TRY(check_length(text.size(), kMaxLongString, "xml document"));
        put_u8(out_, kXmlDocument);
        put_u32(out_, static_cast<std::uint32_t>(text.size()));
        put_text(out_, text);
        return ok();
      }
      case Type::byte_array: return ok();  // written behind the AVM+ switch above
    }
    return ok();
  }

  Status string(std::string_view text) {
    if (text.size() <= kMaxShortString) {
      put_u8(out_, kString);
      put_u16(out_, static_cast<std::uint16_t>(text.size()));
    } else {
      WEIR_TRY(check_length(text.size(), kMaxLongString, "long string"));
      put_u8(out_, kLongString);
      put_u32(out_, static_cast<std::uint32_t>(text.size()));
    }
    put_text(out_, text);
    return ok();
  }

 private:
  Status check_depth(std::string_view what, std::uint32_t depth) const {
    if (depth < limits_.max_depth) return ok();
    return error(Errc::limit, "amf0 writer: {} nests deeper than {}", what, limits_.max_depth);
  }

  static Status check_length(std::size_t length, std::size_t max, std::string_view what) {
    if (length <= max) return ok();
    return error(Errc::limit, "amf0 writer: {} of {} bytes or elements, more than {}", what, length,
                 max);
  }

  // A property or class name: a U16 length and the bytes.
  Status short_string(std::string_view text, std::string_view what) {
    WEIR_TRY(check_length(text.size(), kMaxShortString, what));
    put_u16(out_, static_cast<std::uint16_t>(text.size()));
    put_text(out_, text);
    return ok();
  }

  Status property(std::string_view name, const Value& v, std::string_view what, std::uint32_t depth) {
    if (name.empty())
      return error(Errc::unsupported,
                   "amf0 writer: {} has a property with an empty name, which reads as its end", what);
    WEIR_TRY(short_string(name, "property name"));
    return value(v, depth + 1);
  }

  void end() {
    put_u16(out_, 0);
    put_u8(out_, kObjectEnd);
  }

  Status properties(const Properties& list, std::string_view what, std::uint32_t depth) {
    for (const Property& p : list) WEIR_TRY(property(p.name, p.value, what, depth));
    end();
    return ok();
  }

  Status object(const Object& o, std::uint32_t depth) {
    WEIR_TRY(check_depth("object", depth));
    if (o.class_name.empty()) {
      put_u8(out_, kObject);
    } else {
      put_u8(out_, kTypedObject);
      WEIR_TRY(short_string(o.class_name, "class name"));
    }
    return properties(o.properties, "object", depth);
  }

  Status array(const Array& a, std::uint32_t depth) {
    WEIR_TRY(check_depth("array", depth));
    if (a.associative.empty()) {
      WEIR_TRY(check_length(a.dense.size(), kMaxLongString, "strict array"));
      put_u8(out_, kStrictArray);
      put_u32(out_, static_cast<std::uint32_t>(a.dense.size()));
      for (const Value& v : a.dense) WEIR_TRY(value(v, depth + 1));
      return ok();
    }
    // AMF0 has no array with both parts: an ECMA array keyed by index, then the pairs.
    std::size_t count = a.dense.size() + a.associative.size();
    WEIR_TRY(check_length(count, kMaxLongString, "ecma array"));
    put_u8(out_, kEcmaArray);
    put_u32(out_, static_cast<std::uint32_t>(count));
    for (std::size_t i = 0; i < a.dense.size(); ++i)
      WEIR_TRY(property(std::to_string(i), a.dense[i], "array", depth));
    return properties(a.associative, "array", depth);
  }

  std::vector<std::uint8_t>& out_;
  const Limits& limits_;
};

}  // namespace

Amf0Reader::Amf0Reader(std::span<const std::uint8_t> input, Limits limits) noexcept
    : cursor_{.input = input, .limits = limits} {}

Result<Value> Amf0Reader::read() noexcept { return Decoder(cursor_, references_, amf3_).value(0); }

Result<std::vector<Value>> Amf0Reader::read_all() noexcept { return detail::read_all_values(*this); }

void Amf0Reader::reset_references() noexcept {
  references_.clear();
  amf3_ = {};
  cursor_.output_bytes = 0;
}

Amf0Writer::Amf0Writer(std::vector<std::uint8_t>& out, Limits limits) noexcept
    : out_(out), limits_(limits) {}

Status Amf0Writer::write(const Value& value) noexcept {
  std::size_t size = out_.size();
  Status status = Encoder(out_, limits_).value(value, 0);
  if (!status) out_.resize(size);
  return status;
}

Status Amf0Writer::write_all(std::span<const Value> values) noexcept {
  for (const Value& v : values) WEIR_TRY(write(v));
  return ok();
}

void Amf0Writer::write_number(double number) {
  detail::put_u8(out_, kNumber);
  detail::put_double(out_, number);
}

void Amf0Writer::write_boolean(bool b) {
  detail::put_u8(out_, kBoolean);
  detail::put_u8(out_, b ? 1 : 0);
}

Status Amf0Writer::write_string(std::string_view text) {
  std::size_t size = out_.size();
  Status status = Encoder(out_, limits_).string(text);
  if (!status) out_.resize(size);
  return status;
}

void Amf0Writer::write_null() { detail::put_u8(out_, kNull); }

void Amf0Writer::write_undefined() { detail::put_u8(out_, kUndefined); }

}  // namespace weir::formats::amf
