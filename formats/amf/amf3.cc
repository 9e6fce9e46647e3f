// SPDX-License-Identifier: Apache-2.0
#include "formats/amf/amf3.h"

#include <algorithm>

#include "formats/amf/wire.h"

namespace weir::formats::amf {
namespace detail {
namespace {

constexpr std::uint8_t kUndefined = 0x00;
constexpr std::uint8_t kNull = 0x01;
constexpr std::uint8_t kFalse = 0x02;
constexpr std::uint8_t kTrue = 0x03;
constexpr std::uint8_t kInteger = 0x04;
constexpr std::uint8_t kDouble = 0x05;
constexpr std::uint8_t kString = 0x06;
constexpr std::uint8_t kXmlDocument = 0x07;
constexpr std::uint8_t kDate = 0x08;
constexpr std::uint8_t kArray = 0x09;
constexpr std::uint8_t kObject = 0x0a;
constexpr std::uint8_t kXml = 0x0b;
constexpr std::uint8_t kByteArray = 0x0c;
constexpr std::uint8_t kVectorInt = 0x0d;
constexpr std::uint8_t kVectorUint = 0x0e;
constexpr std::uint8_t kVectorDouble = 0x0f;
constexpr std::uint8_t kVectorObject = 0x10;
constexpr std::uint8_t kDictionary = 0x11;

// U29: 29 bits. Lengths and counts ride in the upper 28 bits (the low bit says inline or
// reference), trait counts in the upper 25; integers are 29-bit two's complement.
constexpr std::uint32_t kU29Max = 0x1fffffff;
constexpr std::uint32_t kMaxLength = kU29Max >> 1;
constexpr std::uint32_t kMaxSealedCount = kU29Max >> 4;
constexpr std::uint32_t kMaxTraitsIndex = kU29Max >> 2;
constexpr std::int32_t kIntegerMin = -(1 << 28);
constexpr std::int32_t kIntegerMax = (1 << 28) - 1;
// Vectors never reserve more up front than this; a longer one grows as its elements arrive.
constexpr std::size_t kMaxReserve = 4096;

std::string_view marker_name(std::uint8_t marker) {
  switch (marker) {
    case kVectorInt: return "vector<int>";
    case kVectorUint: return "vector<uint>";
    case kVectorDouble: return "vector<double>";
    case kVectorObject: return "vector<object>";
    case kDictionary: return "dictionary";
    case kXml: return "xml";
    case kXmlDocument: return "xml document";
    default: return "value";
  }
}

// Decodes one value. Complex values enter the object table at their marker; a reference is
// resolved by moving the cursor back to that marker and reading again, with the tables frozen
// (ReadCursor::replaying), so only a reference that is used costs anything. Every reference
// points at a value completed before it, and each replay nests inside a container, so replays
// end within max_depth levels; output_bytes bounds what they build.
class Decoder {
 public:
  Decoder(ReadCursor& cursor, Amf3ReadTables& tables) noexcept : c_(cursor), t_(tables) {}

  Result<Value> value(std::uint32_t depth) {
    std::size_t at = c_.pos;
    if (remaining(c_) == 0)
      return error(Errc::malformed, "amf3 value expected at offset {}, the input ends", at);
    WEIR_TRY(charge(c_, sizeof(Value), "amf3", at));
    std::uint8_t marker = get_u8(c_);
    switch (marker) {
      case kUndefined: return Value();
      case kNull: return Value(nullptr);
      case kFalse: return Value(false);
      case kTrue: return Value(true);
      case kInteger: {
        auto bits = u29("integer", at);
        if (!bits) return std::move(bits).error();
        // Sign-extend bit 28.
        auto i = static_cast<std::int32_t>(*bits << 3) >> 3;
        return Value::integer(i);
      }
      case kDouble:
        if (remaining(c_) < 8)
          return error(Errc::malformed, "amf3 double at offset {} needs 8 bytes, only {} left", at,
                       remaining(c_));
        return Value(get_double(c_));
      case kString: {
        auto text = string_vr("string", at);
        if (!text) return std::move(text).error();
        return Value(std::string(*text));
      }
      case kXmlDocument:
      case kXml: return xml(marker, at, depth);
      case kDate: return date(at, depth);
      case kArray: return array(at, depth);
      case kObject: return object(at, depth);
      case kByteArray: return byte_array(at, depth);
      case kVectorInt:
      case kVectorUint:
      case kVectorDouble:
      case kVectorObject:
      case kDictionary:
        return error(Errc::unsupported, "amf3 {} (marker {}) at offset {} is not supported",
                     marker_name(marker), hex_byte(marker), at);
      default:
        return error(Errc::malformed, "amf3 unknown marker {} at offset {}", hex_byte(marker), at);
    }
  }

 private:
  static constexpr std::size_t kNotAdded = static_cast<std::size_t>(-1);

  Result<std::uint32_t> u29(std::string_view what, std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      if (remaining(c_) == 0)
        return error(Errc::malformed, "amf3 {} at offset {}: its u29 is cut off at offset {}", what,
                     at, c_.pos);
      std::uint8_t b = get_u8(c_);
      if (i == 3) return (v << 8) | b;  // the fourth byte carries 8 bits
      v = (v << 7) | (b & 0x7f);
      if ((b & 0x80) == 0) return v;
    }
    return v;  // not reached
  }

  // UTF-8-vr: a string inline (low bit 1, length above) or a string-table reference (low bit 0).
  Result<std::string_view> string_vr(std::string_view what, std::size_t at) {
    auto header = u29(what, at);
    if (!header) return std::move(header).error();
    if ((*header & 1) == 0) {
      std::uint32_t index = *header >> 1;
      if (index >= t_.strings.size())
        return error(Errc::malformed, "amf3 {} at offset {}: string reference {}, only {} strings read",
                     what, at, index, t_.strings.size());
      std::string_view text = t_.strings[index];
      WEIR_TRY(charge(c_, text.size(), "amf3", at));
      return text;
    }
    std::size_t length = *header >> 1;
    if (length > remaining(c_))
      return error(Errc::malformed, "amf3 {} of {} bytes at offset {}, only {} left", what, length, at,
                   remaining(c_));
    WEIR_TRY(charge(c_, length, "amf3", at));
    std::string_view text = take(c_, length);
    if (!text.empty() && c_.replaying == 0) t_.strings.push_back(text);  // "" is never a reference
    return text;
  }

  Status check_depth(std::string_view what, std::size_t at, std::uint32_t depth) const {
    if (depth < c_.limits.max_depth) return ok();
    return error(Errc::limit, "amf3 {} at offset {} nests deeper than {}", what, at,
                 c_.limits.max_depth);
  }

  // A new object-table entry, unless this is a replay (then it is there already).
  std::size_t add_object(std::size_t at, bool is_complete) {
    if (c_.replaying != 0) return kNotAdded;
    t_.objects.push_back({at, is_complete});
    return t_.objects.size() - 1;
  }

  void complete(std::size_t index) {
    if (index != kNotAdded) t_.objects[index].is_complete = true;
  }

  Result<Value> reference(std::uint32_t index, std::string_view what, std::size_t at,
                          std::uint32_t depth) {
    if (index >= t_.objects.size())
      return error(Errc::malformed, "amf3 {} reference {} at offset {}, only {} objects read", what,
                   index, at, t_.objects.size());
    ReferenceEntry entry = t_.objects[index];
    if (!entry.is_complete)
      return error(Errc::unsupported,
                   "amf3 {} reference {} at offset {} is a cycle: that object is still being read",
                   what, index, at);
    std::size_t resume = c_.pos;
    c_.pos = entry.offset;
    ++c_.replaying;
    Result<Value> v = value(depth);
    --c_.replaying;
    c_.pos = resume;
    return v;
  }

  Result<Value> xml(std::uint8_t marker, std::size_t at, std::uint32_t depth) {
    std::string_view what = marker_name(marker);
    auto header = u29(what, at);
    if (!header) return std::move(header).error();
    if ((*header & 1) == 0) return reference(*header >> 1, what, at, depth);
    std::size_t length = *header >> 1;
    if (length > remaining(c_))
      return error(Errc::malformed, "amf3 {} of {} bytes at offset {}, only {} left", what, length, at,
                   remaining(c_));
    WEIR_TRY(charge(c_, length, "amf3", at));
    add_object(at, true);
    std::string text(take(c_, length));
    return marker == kXml ? Value::xml(std::move(text)) : Value::xml_document(std::move(text));
  }

  Result<Value> date(std::size_t at, std::uint32_t depth) {
    auto header = u29("date", at);
    if (!header) return std::move(header).error();
    if ((*header & 1) == 0) return reference(*header >> 1, "date", at, depth);
    if (remaining(c_) < 8)
      return error(Errc::malformed, "amf3 date at offset {} needs 8 bytes, only {} left", at,
                   remaining(c_));
    add_object(at, true);
    return Value::date(get_double(c_));
  }

  Result<Value> byte_array(std::size_t at, std::uint32_t depth) {
    auto header = u29("byte array", at);
    if (!header) return std::move(header).error();
    if ((*header & 1) == 0) return reference(*header >> 1, "byte array", at, depth);
    std::size_t length = *header >> 1;
    if (length > remaining(c_))
      return error(Errc::malformed, "amf3 byte array of {} bytes at offset {}, only {} left", length,
                   at, remaining(c_));
    WEIR_TRY(charge(c_, length, "amf3", at));
    add_object(at, true);
    const std::uint8_t* begin = c_.input.data() + c_.pos;
    c_.pos += length;
    return Value::byte_array(Bytes(begin, begin + length));
  }

  // Named members until the empty name: an array's associative part, an object's dynamic part.
  Status named_values(Properties& out, std::string_view what, std::size_t at, std::uint32_t depth) {
    for (;;) {
      auto name = string_vr(what, at);
      if (!name) return std::move(name).error();
      if (name->empty()) return ok();
      WEIR_TRY(charge(c_, sizeof(Property) - sizeof(Value), "amf3", at));
      auto v = value(depth + 1);
      if (!v) return std::move(v).error();
      out.push_back(Property{std::string(*name), std::move(*v)});
    }
  }

  Result<Value> array(std::size_t at, std::uint32_t depth) {
    auto header = u29("array", at);
    if (!header) return std::move(header).error();
    if ((*header & 1) == 0) return reference(*header >> 1, "array", at, depth);
    WEIR_TRY(check_depth("array", at, depth));
    std::size_t dense_count = *header >> 1;
    std::size_t entry = add_object(at, false);
    Array a;
    WEIR_TRY(named_values(a.associative, "array key", at, depth));
    if (dense_count > remaining(c_))  // each element takes at least its marker byte
      return error(Errc::malformed, "amf3 array at offset {} of {} elements, only {} bytes left", at,
                   dense_count, remaining(c_));
    a.dense.reserve(std::min(dense_count, kMaxReserve));
    for (std::size_t i = 0; i < dense_count; ++i) {
      auto v = value(depth + 1);
      if (!v) return std::move(v).error();
      a.dense.push_back(std::move(*v));
    }
    complete(entry);
    return Value(std::move(a));
  }

  // U29O: low bit 0 = object reference; else bit 1 clear = traits reference (index above bit 1);
  // else bit 2 = externalizable, bit 3 = dynamic, bits 4+ = sealed member count, then the class
  // name and the sealed member names follow. Then the sealed values, then the dynamic members.
  Result<Value> object(std::size_t at, std::uint32_t depth) {
    auto header = u29("object", at);
    if (!header) return std::move(header).error();
    std::uint32_t h = *header;
    if ((h & 1) == 0) return reference(h >> 1, "object", at, depth);
    WEIR_TRY(check_depth("object", at, depth));
    Amf3Traits traits;
    if ((h & 2) == 0) {
      std::uint32_t index = h >> 2;
      if (index >= t_.traits.size())
        return error(Errc::malformed, "amf3 object at offset {}: traits reference {}, only {} read", at,
                     index, t_.traits.size());
      if (t_.traits[index].members.size() > remaining(c_))
        return error(Errc::malformed, "amf3 object at offset {} has {} sealed members, only {} bytes left",
                     at, t_.traits[index].members.size(), remaining(c_));
      traits = t_.traits[index];  // a copy: nested objects may grow the table
      std::size_t names = traits.class_name.size();
      for (std::string_view m : traits.members) names += m.size();
      WEIR_TRY(charge(c_, names, "amf3", at));
    } else if ((h & 4) != 0) {
      // The body of an externalizable object is whatever its class writes: nothing says where it
      // ends, so it cannot be skipped.
      auto name = string_vr("object class name", at);
      return error(Errc::unsupported, "amf3 object at offset {}: externalizable class \"{}\" is not supported",
                   at, name ? *name : std::string_view("?"));
    } else {
      traits.is_dynamic = (h & 8) != 0;
      std::size_t sealed_count = h >> 4;
      auto class_name = string_vr("object class name", at);
      if (!class_name) return std::move(class_name).error();
      traits.class_name = *class_name;
      if (sealed_count > remaining(c_))  // each name takes at least one byte
        return error(Errc::malformed, "amf3 object at offset {} has {} sealed members, only {} bytes left",
                     at, sealed_count, remaining(c_));
      traits.members.reserve(sealed_count);
      for (std::size_t i = 0; i < sealed_count; ++i) {
        auto name = string_vr("sealed member name", at);
        if (!name) return std::move(name).error();
        traits.members.push_back(*name);
      }
      if (c_.replaying == 0) t_.traits.push_back(traits);
    }
    std::size_t entry = add_object(at, false);
    Object o;
    o.class_name = std::string(traits.class_name);
    o.sealed_count = static_cast<std::uint32_t>(traits.members.size());
    o.is_dynamic = traits.is_dynamic;
    o.properties.reserve(std::min(traits.members.size(), kMaxReserve));
    for (std::string_view name : traits.members) {
      WEIR_TRY(charge(c_, sizeof(Property) - sizeof(Value), "amf3", at));
      auto v = value(depth + 1);
      if (!v) return std::move(v).error();
      o.properties.push_back(Property{std::string(name), std::move(*v)});
    }
    if (traits.is_dynamic) WEIR_TRY(named_values(o.properties, "dynamic member name", at, depth));
    complete(entry);
    return Value(std::move(o));
  }

  ReadCursor& c_;
  Amf3ReadTables& t_;
};

void put_u29(std::vector<std::uint8_t>& out, std::uint32_t v) {
  v &= kU29Max;
  if (v < 0x80) {
    out.push_back(static_cast<std::uint8_t>(v));
  } else if (v < 0x4000) {
    out.push_back(static_cast<std::uint8_t>(0x80 | (v >> 7)));
    out.push_back(static_cast<std::uint8_t>(v & 0x7f));
  } else if (v < 0x200000) {
    out.push_back(static_cast<std::uint8_t>(0x80 | (v >> 14)));
    out.push_back(static_cast<std::uint8_t>(0x80 | ((v >> 7) & 0x7f)));
    out.push_back(static_cast<std::uint8_t>(v & 0x7f));
  } else {
    out.push_back(static_cast<std::uint8_t>(0x80 | (v >> 22)));
    out.push_back(static_cast<std::uint8_t>(0x80 | ((v >> 15) & 0x7f)));
    out.push_back(static_cast<std::uint8_t>(0x80 | ((v >> 8) & 0x7f)));
    out.push_back(static_cast<std::uint8_t>(v & 0xff));
  }
}

// The traits table key: class name, dynamic flag and sealed names, each length-prefixed so no
// two traits share a key.
std::string traits_key(const Object& o, std::size_t sealed_count, bool is_dynamic) {
  std::string key;
  auto add = [&key](std::string_view part) {
    auto n = static_cast<std::uint32_t>(part.size());
    key.append(reinterpret_cast<const char*>(&n), sizeof n);
    key.append(part);
  };
  key += is_dynamic ? 'd' : 's';
  add(o.class_name);
  for (std::size_t i = 0; i < sealed_count; ++i) add(o.properties[i].name);
  return key;
}

class Encoder {
 public:
  Encoder(std::vector<std::uint8_t>& out, Amf3WriteTables* tables, const Limits& limits) noexcept
      : out_(out), t_(tables), limits_(limits) {}

  Status value(const Value& v, std::uint32_t depth) {
    switch (v.type()) {
      case Type::undefined: put_u8(out_, kUndefined); return ok();
      case Type::null: put_u8(out_, kNull); return ok();
      case Type::boolean: put_u8(out_, v.as_boolean() ? kTrue : kFalse); return ok();
      case Type::number:
        put_u8(out_, kDouble);
        put_double(out_, v.as_number());
        return ok();
      case Type::integer: {
        auto i = static_cast<std::int32_t>(v.as_number());
        if (i < kIntegerMin || i > kIntegerMax) {
          put_u8(out_, kDouble);
          put_double(out_, i);
        } else {
          put_u8(out_, kInteger);
          put_u29(out_, static_cast<std::uint32_t>(i));
        }
        return ok();
      }
      case Type::string: put_u8(out_, kString); return string_vr(v.as_string());
      case Type::date:
        put_u8(out_, kDate);
        put_u29(out_, 1);
        put_double(out_, v.as_date()->epoch_ms);
        return ok();
      case Type::object: return object(*v.as_object(), depth);
      case Type::ecma_array: {
        WEIR_TRY(check_depth("ecma array", depth));
        put_u8(out_, kArray);
        put_u29(out_, 1);
        WEIR_TRY(named_values(v.as_ecma_array()->properties, "ecma array", depth));
        return ok();
      }
      case Type::array: return array(*v.as_array(), depth);
      case Type::xml:
      case Type::xml_document: {
        put_u8(out_, v.type() == Type::xml ? kXml : kXmlDocument);
        return inline_bytes(v.as_string(), type_name(v.type()));
      }
      case Type::byte_array: {
        const Bytes& bytes = *v.as_byte_array();
        put_u8(out_, kByteArray);
        return inline_bytes({reinterpret_cast<const char*>(bytes.data()), bytes.size()},
                            "byte array");
      }
    }
    return ok();
  }

 private:
  Status check_depth(std::string_view what, std::uint32_t depth) const {
    if (depth < limits_.max_depth) return ok();
    return error(Errc::limit, "amf3 writer: {} nests deeper than {}", what, limits_.max_depth);
  }

  Status check_length(std::size_t length, std::string_view what) const {
    if (length <= kMaxLength) return ok();
    return error(Errc::limit, "amf3 writer: {} of {} bytes or elements, more than {}", what, length,
                 kMaxLength);
  }

  // XML and ByteArrays are object-table entries, never string-table ones: always inline here.
  Status inline_bytes(std::string_view bytes, std::string_view what) {
    WEIR_TRY(check_length(bytes.size(), what));
    put_u29(out_, static_cast<std::uint32_t>(bytes.size() << 1 | 1));
    put_text(out_, bytes);
    return ok();
  }

  Status string_vr(std::string_view text) {
    WEIR_TRY(check_length(text.size(), "string"));
    if (t_ != nullptr && !text.empty()) {
      auto it = t_->strings.find(text);
      if (it != t_->strings.end() && it->second <= kMaxLength) {
        put_u29(out_, it->second << 1);
        return ok();
      }
      // The reader adds every inline string; past what a reference can name, only count it.
      if (it == t_->strings.end()) t_->strings.emplace(std::string(text), t_->string_count);
      ++t_->string_count;
    }
    put_u29(out_, static_cast<std::uint32_t>(text.size() << 1 | 1));
    put_text(out_, text);
    return ok();
  }

  Status named_values(const Properties& properties, std::string_view what, std::uint32_t depth) {
    for (const Property& p : properties) {
      if (p.name.empty())
        return error(Errc::unsupported,
                     "amf3 writer: {} has a property with an empty name, which would end its list",
                     what);
      WEIR_TRY(string_vr(p.name));
      WEIR_TRY(value(p.value, depth + 1));
    }
    put_u29(out_, 1);  // the empty name ends the list
    return ok();
  }

  Status array(const Array& a, std::uint32_t depth) {
    WEIR_TRY(check_depth("array", depth));
    WEIR_TRY(check_length(a.dense.size(), "array"));
    put_u8(out_, kArray);
    put_u29(out_, static_cast<std::uint32_t>(a.dense.size() << 1 | 1));
    WEIR_TRY(named_values(a.associative, "array", depth));
    for (const Value& v : a.dense) WEIR_TRY(value(v, depth + 1));
    return ok();
  }

  Status object(const Object& o, std::uint32_t depth) {
    WEIR_TRY(check_depth("object", depth));
    std::size_t sealed_count = std::min<std::size_t>(o.sealed_count, o.properties.size());
    if (sealed_count > kMaxSealedCount)
      return error(Errc::limit, "amf3 writer: object with {} sealed members, more than {}",
                   sealed_count, kMaxSealedCount);
    bool is_dynamic = o.is_dynamic || o.properties.size() > sealed_count;
    put_u8(out_, kObject);
    bool is_traits_inline = true;
    if (t_ != nullptr) {
      std::string key = traits_key(o, sealed_count, is_dynamic);
      auto it = t_->traits.find(key);
      if (it != t_->traits.end() && it->second <= kMaxTraitsIndex) {
        put_u29(out_, it->second << 2 | 1);
        is_traits_inline = false;
      } else {
        if (it == t_->traits.end()) t_->traits.emplace(std::move(key), t_->traits_count);
        ++t_->traits_count;
      }
    }
    if (is_traits_inline) {
      put_u29(out_, static_cast<std::uint32_t>(sealed_count << 4 | (is_dynamic ? 8 : 0) | 3));
      WEIR_TRY(string_vr(o.class_name));
      for (std::size_t i = 0; i < sealed_count; ++i) WEIR_TRY(string_vr(o.properties[i].name));
    }
    for (std::size_t i = 0; i < sealed_count; ++i) WEIR_TRY(value(o.properties[i].value, depth + 1));
    if (!is_dynamic) return ok();
    std::span<const Property> rest(o.properties.data() + sealed_count,
                                   o.properties.size() - sealed_count);
    for (const Property& p : rest) {
      if (p.name.empty())
        return error(Errc::unsupported,
                     "amf3 writer: object has a dynamic property with an empty name, which would end "
                     "its list");
      WEIR_TRY(string_vr(p.name));
      WEIR_TRY(value(p.value, depth + 1));
    }
    put_u29(out_, 1);
    return ok();
  }

  std::vector<std::uint8_t>& out_;
  Amf3WriteTables* t_;
  const Limits& limits_;
};

}  // namespace

Result<Value> read_amf3_value(ReadCursor& cursor, Amf3ReadTables& tables,
                              std::uint32_t depth) noexcept {
  return Decoder(cursor, tables).value(depth);
}

Status write_amf3_value(std::vector<std::uint8_t>& out, const Value& value,
                        Amf3WriteTables* tables, std::uint32_t depth,
                        const Limits& limits) noexcept {
  return Encoder(out, tables, limits).value(value, depth);
}

}  // namespace detail

Amf3Reader::Amf3Reader(std::span<const std::uint8_t> input, Limits limits) noexcept
    : cursor_{.input = input, .limits = limits} {}

Result<Value> Amf3Reader::read() noexcept { return detail::read_amf3_value(cursor_, tables_, 0); }

Result<std::vector<Value>> Amf3Reader::read_all() noexcept { return detail::read_all_values(*this); }

void Amf3Reader::reset_references() noexcept {
  tables_ = {};
  cursor_.output_bytes = 0;
}

Amf3Writer::Amf3Writer(std::vector<std::uint8_t>& out, Limits limits) noexcept
    : out_(out), limits_(limits) {}

Status Amf3Writer::write(const Value& value) noexcept {
  std::size_t size = out_.size();
  std::uint32_t strings = tables_.string_count;
  std::uint32_t traits = tables_.traits_count;
  Status status = detail::write_amf3_value(out_, value, &tables_, 0, limits_);
  if (!status) {
    // Entries added for the bytes now dropped would point at nothing.
    out_.resize(size);
    std::erase_if(tables_.strings, [strings](const auto& e) { return e.second >= strings; });
    std::erase_if(tables_.traits, [traits](const auto& e) { return e.second >= traits; });
    tables_.string_count = strings;
    tables_.traits_count = traits;
  }
  return status;
}

Status Amf3Writer::write_all(std::span<const Value> values) noexcept {
  for (const Value& v : values) WEIR_TRY(write(v));
  return ok();
}

void Amf3Writer::reset_references() noexcept { tables_ = {}; }

}  // namespace weir::formats::amf
