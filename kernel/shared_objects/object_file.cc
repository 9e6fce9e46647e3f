// SPDX-License-Identifier: Apache-2.0
#include "shared_objects/object_file.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace weir::kernel {
namespace {

constexpr char kMagic[8] = {'W', 'E', 'I', 'R', 'S', 'O', '1', '\n'};

enum Tag : std::uint8_t { kUndefined = 0, kNull, kBoolean, kNumber, kString, kDate, kArray, kObject };

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}
void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

void put_value(std::string& out, const Value& value) {
  switch (value.type()) {
    case Value::Type::undefined: out.push_back(kUndefined); return;
    case Value::Type::null: out.push_back(kNull); return;
    case Value::Type::boolean:
      out.push_back(kBoolean);
      out.push_back(value.as_bool() ? 1 : 0);
      return;
    case Value::Type::number:
      out.push_back(kNumber);
      put_u64(out, std::bit_cast<std::uint64_t>(value.as_number()));
      return;
    case Value::Type::string:
      out.push_back(kString);
      put_str(out, value.as_string());
      return;
    case Value::Type::date:
      out.push_back(kDate);
      put_u64(out, std::bit_cast<std::uint64_t>(value.as_date_ms()));
      return;
    case Value::Type::array:
      out.push_back(kArray);
      put_u32(out, static_cast<std::uint32_t>(value.items().size()));
      for (const Value& item : value.items()) put_value(out, item);
      return;
    case Value::Type::object:
      out.push_back(kObject);
      put_str(out, value.class_name());
      put_u32(out, static_cast<std::uint32_t>(value.members().size()));
      for (const auto& [name, member] : value.members()) {
        put_str(out, name);
        put_value(out, member);
      }
      return;
  }
}

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::size_t offset() const noexcept { return at_; }
  std::size_t remaining() const noexcept { return bytes_.size() - at_; }

  Status need(std::size_t n, std::string_view what) const {
    if (n > remaining())
      return error(Errc::malformed, "{} of {} bytes at offset {}, only {} left", what, n, at_, remaining());
    return ok();
  }
  std::uint64_t take_uint(int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | bytes_[at_++];
    return v;
  }
  Result<std::uint32_t> u32(std::string_view what) {
    WEIR_TRY(need(4, what));
    return static_cast<std::uint32_t>(take_uint(4));
  }
  Result<std::uint64_t> u64(std::string_view what) {
    WEIR_TRY(need(8, what));
    return take_uint(8);
  }
  Result<std::string> str(std::string_view what) {
    auto length = u32(what);
    if (!length) return length.error();
    WEIR_TRY(need(*length, what));
    std::string s(reinterpret_cast<const char*>(bytes_.data() + at_), *length);
    at_ += *length;
    return s;
  }
  // Each element takes at least one byte: a count larger than the bytes left is broken, and
  // checking it first keeps a forged count from reserving memory.
  Result<std::uint32_t> count(std::string_view what) {
    std::size_t at = at_;
    auto n = u32(what);
    if (!n) return n.error();
    if (*n > remaining())
      return error(Errc::malformed, "{} count {} at offset {} exceeds the {} bytes left", what, *n, at, remaining());
    return *n;
  }

  Result<Value> value(int depth) {
    if (depth > kMaxStoredDepth) return error(Errc::malformed, "values nested deeper than {} at offset {}", kMaxStoredDepth, at_);
    WEIR_TRY(need(1, "value tag"));
    std::size_t at = at_;
    std::uint8_t tag = bytes_[at_++];
    switch (tag) {
      case kUndefined: return Value();
      case kNull: return Value::null();
      case kBoolean: {
        WEIR_TRY(need(1, "boolean"));
        return Value(bytes_[at_++] != 0);
      }
      case kNumber: {
        auto bits = u64("number");
        if (!bits) return bits.error();
        return Value(std::bit_cast<double>(*bits));
      }
      case kString: {
        auto s = str("string");
        if (!s) return s.error();
        return Value(std::move(*s));
      }
      case kDate: {
        auto bits = u64("date");
        if (!bits) return bits.error();
        return Value::date(std::bit_cast<double>(*bits));
      }
      case kArray: {
        auto n = count("array");
        if (!n) return n.error();
        std::vector<Value> items;
        items.reserve(*n);
        for (std::uint32_t i = 0; i < *n; ++i) {
          auto item = value(depth + 1);
          if (!item) return item.error();
          items.push_back(std::move(*item));
        }
        return Value::array(std::move(items));
      }
      case kObject: {
        auto class_name = str("class name");
        if (!class_name) return class_name.error();
        auto n = count("object member");
        if (!n) return n.error();
        Members members;
        members.reserve(*n);
        for (std::uint32_t i = 0; i < *n; ++i) {
          auto name = str("member name");
          if (!name) return name.error();
          auto member = value(depth + 1);
          if (!member) return member.error();
          members.emplace_back(std::move(*name), std::move(*member));
        }
        return Value::object(std::move(members), std::move(*class_name));
      }
      default:
        return error(Errc::malformed, "unknown value tag {} at offset {}", static_cast<int>(tag), at);
    }
  }

  bool magic() {
    if (remaining() < sizeof kMagic || std::memcmp(bytes_.data(), kMagic, sizeof kMagic) != 0) return false;
    at_ += sizeof kMagic;
    return true;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t at_ = 0;
};

bool is_plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::uint64_t stored_size(const Value& value) noexcept {
  switch (value.type()) {
    case Value::Type::undefined:
    case Value::Type::null: return 1;
    case Value::Type::boolean: return 2;
    case Value::Type::number:
    case Value::Type::date: return 9;
    case Value::Type::string: return 5 + value.as_string().size();
    case Value::Type::array: {
      std::uint64_t n = 5;
      for (const Value& item : value.items()) n += stored_size(item);
      return n;
    }
    case Value::Type::object: {
      std::uint64_t n = 9 + value.class_name().size();
      for (const auto& [name, member] : value.members()) n += 4 + name.size() + stored_size(member);
      return n;
    }
  }
  return 1;
}

int nesting_depth(const Value& value, int limit) noexcept {
  if (!value.is_array() && !value.is_object()) return 0;
  if (limit <= 0) return 1;
  int deepest = 0;
  for (const Value& item : value.items()) deepest = std::max(deepest, nesting_depth(item, limit - 1));
  for (const auto& [name, member] : value.members()) deepest = std::max(deepest, nesting_depth(member, limit - 1));
  return deepest + 1;
}

std::string encode_object_file(const SharedObjectSnapshot& snapshot) {
  std::string out(kMagic, sizeof kMagic);
  put_u64(out, snapshot.version);
  put_u32(out, static_cast<std::uint32_t>(snapshot.slots.members().size()));
  for (const auto& [name, value] : snapshot.slots.members()) {
    put_str(out, name);
    put_value(out, value);
  }
  return out;
}

Result<SharedObjectSnapshot> decode_object_file(std::span<const std::uint8_t> bytes) noexcept {
  Reader reader(bytes);
  if (!reader.magic()) return error(Errc::malformed, "not a Weir shared object file (no WEIRSO1 header)");
  SharedObjectSnapshot snapshot;
  auto version = reader.u64("version");
  if (!version) return version.error();
  snapshot.version = *version;
  auto n = reader.count("slot");
  if (!n) return n.error();
  Members slots;
  slots.reserve(*n);
  for (std::uint32_t i = 0; i < *n; ++i) {
    auto name = reader.str("slot name");
    if (!name) return name.error();
    auto value = reader.value(1);
    if (!value) return value.error().with_context(format("slot '{}'", *name));
    slots.emplace_back(std::move(*name), std::move(*value));
  }
  if (reader.remaining() != 0)
    return error(Errc::malformed, "{} bytes after the last slot at offset {}", reader.remaining(), reader.offset());
  snapshot.slots = Value::object(std::move(slots));
  return snapshot;
}

std::string escape_file_name(std::string_view name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : name) {
    if (is_plain(c)) {
      out.push_back(c);
    } else {
      auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  }
  return out;
}

Result<std::string> unescape_file_name(std::string_view file_name) noexcept {
  std::string out;
  for (std::size_t i = 0; i < file_name.size(); ++i) {
    char c = file_name[i];
    if (is_plain(c)) {
      out.push_back(c);
      continue;
    }
    if (c != '%' || i + 2 >= file_name.size() || hex_digit(file_name[i + 1]) < 0 || hex_digit(file_name[i + 2]) < 0)
      return error(Errc::malformed, "'{}' is not an escaped shared object name", file_name);
    out.push_back(static_cast<char>(hex_digit(file_name[i + 1]) * 16 + hex_digit(file_name[i + 2])));
    i += 2;
  }
  return out;
}

}  // namespace weir::kernel
