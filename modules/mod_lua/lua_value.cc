// SPDX-License-Identifier: Apache-2.0
#include "lua_value.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

namespace weir::lua {
namespace {

// The null sentinel: the address of this object, as a light userdata.
const char kNull = 0;
constexpr const char* kDateType = "weir.Date";
constexpr const char* kArrayType = "weir.Array";
// Registry keys (light userdata: looking them up makes nothing, so reading never raises) of the
// two metatables and of the string "epoch_ms".
const char kDateKey = 0;
const char kArrayKey = 0;
const char kEpochKey = 0;

void push(lua_State* L, const Value& value, int depth) {
  if (depth > kMaxDepth) luaL_error(L, "value nested deeper than %d levels", kMaxDepth);
  luaL_checkstack(L, 4, "value conversion");
  switch (value.type()) {
    case Value::Type::undefined: lua_pushnil(L); return;
    case Value::Type::null: push_null(L); return;
    case Value::Type::boolean: lua_pushboolean(L, value.as_bool()); return;
    case Value::Type::number: {
      double d = value.as_number();
      // Integral doubles within the exactly representable range become Lua integers: 3, not 3.0.
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9007199254740992.0)
        lua_pushinteger(L, static_cast<lua_Integer>(d));
      else
        lua_pushnumber(L, d);
      return;
    }
    case Value::Type::string: {
      std::string_view s = value.as_string();
      lua_pushlstring(L, s.data(), s.size());
      return;
    }
    case Value::Type::date:
      lua_createtable(L, 0, 1);
      lua_pushnumber(L, value.as_date_ms());
      lua_setfield(L, -2, "epoch_ms");
      luaL_setmetatable(L, kDateType);
      return;
    case Value::Type::array: {
      const auto& items = value.items();
      lua_createtable(L, static_cast<int>(std::min<std::size_t>(items.size(), 1 << 20)), 0);
      lua_Integer i = 1;
      for (const Value& item : items) {
        push(L, item, depth + 1);
        lua_rawseti(L, -2, i++);
      }
      luaL_setmetatable(L, kArrayType);
      return;
    }
    case Value::Type::object: {
      const Members& members = value.members();
      lua_createtable(L, 0, static_cast<int>(std::min<std::size_t>(members.size(), 1 << 20)));
      // Backwards: for a repeated name the first one wins, as in Value::find().
      for (auto it = members.rbegin(); it != members.rend(); ++it) {
        lua_pushlstring(L, it->first.data(), it->first.size());
        push(L, it->second, depth + 1);
        lua_rawset(L, -3);
      }
      return;
    }
  }
}

bool has_metatable(lua_State* L, int index, const char* key) {
  if (!lua_getmetatable(L, index)) return false;
  lua_rawgetp(L, LUA_REGISTRYINDEX, key);
  bool same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same;
}

Result<Value> read(lua_State* L, int index, int depth, const std::string& path);

Result<Value> read_table(lua_State* L, int index, int depth, const std::string& path) {
  if (depth > kMaxDepth)
    return Status(Errc::limit, format("{}: nested deeper than {} levels (a cycle?)", path, kMaxDepth));
  if (!lua_checkstack(L, 6))
    return Status(Errc::limit, format("{}: the Lua stack cannot grow (not enough memory, or too deep)", path));
  if (has_metatable(L, index, &kDateKey)) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kEpochKey);
    lua_rawget(L, index);  // the metatable has no __index: the same as t.epoch_ms
    double ms = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return Value::date(ms);
  }
  bool marked_array = has_metatable(L, index, &kArrayKey);
  // One pass to learn the keys: 1..n only (an array) or anything else (an object).
  lua_Integer count = 0;
  lua_Integer max_index = 0;
  bool only_positive_integers = true;
  lua_pushnil(L);
  while (lua_next(L, index)) {
    ++count;
    if (lua_isinteger(L, -2) && lua_tointeger(L, -2) > 0) max_index = std::max(max_index, lua_tointeger(L, -2));
    else only_positive_integers = false;
    lua_pop(L, 1);
  }
  if (marked_array || (count > 0 && only_positive_integers && max_index == count)) {
    // A marked array reads 1..#t (holes become undefined).
    lua_Integer n = marked_array ? static_cast<lua_Integer>(lua_rawlen(L, index)) : count;
    std::vector<Value> items;
    items.reserve(static_cast<std::size_t>(std::min<lua_Integer>(n, 1 << 20)));
    for (lua_Integer i = 1; i <= n; ++i) {
      lua_rawgeti(L, index, i);
      auto item = read(L, lua_gettop(L), depth + 1, format("{}[{}]", path, i));
      lua_pop(L, 1);
      if (!item) return item;
      items.push_back(std::move(*item));
    }
    return Value::array(std::move(items));
  }
  Members members;
  lua_pushnil(L);
  while (lua_next(L, index)) {
    std::string key;
    if (lua_type(L, -2) == LUA_TSTRING) {
      std::size_t length = 0;
      const char* s = lua_tolstring(L, -2, &length);
      key.assign(s, length);
    } else if (lua_isinteger(L, -2)) {
      key = std::to_string(lua_tointeger(L, -2));
    } else {
      std::string type = luaL_typename(L, -2);
      lua_pop(L, 2);
      return Status(Errc::unsupported, format("{}: a table key must be a string or an integer, not a {}", path, type));
    }
    auto member = read(L, lua_gettop(L), depth + 1, path + "." + key);
    if (!member) {
      lua_pop(L, 2);
      return member;
    }
    members.emplace_back(std::move(key), std::move(*member));
    lua_pop(L, 1);
  }
  std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return Value::object(std::move(members));
}

Result<Value> read(lua_State* L, int index, int depth, const std::string& path) {
  switch (lua_type(L, index)) {
    case LUA_TNIL: case LUA_TNONE: return Value();
    case LUA_TBOOLEAN: return Value(lua_toboolean(L, index) != 0);
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) return Value(static_cast<double>(lua_tointeger(L, index)));
      return Value(lua_tonumber(L, index));
    case LUA_TSTRING: {
      std::size_t length = 0;
      const char* s = lua_tolstring(L, index, &length);
      return Value(std::string(s, length));
    }
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, index) == &kNull) return Value::null();
      break;
    case LUA_TTABLE: return read_table(L, index, depth, path);
    default: break;
  }
  return Status(Errc::unsupported, format("{}: a {} cannot be sent", path, luaL_typename(L, index)));
}

}  // namespace

void push_null(lua_State* L) { lua_pushlightuserdata(L, const_cast<char*>(&kNull)); }

void open_value_types(lua_State* L) {
  // Every app of a VM shares these metatables: getmetatable() must not hand them out to change.
  for (auto [type, key] : {std::pair{kDateType, &kDateKey}, std::pair{kArrayType, &kArrayKey}}) {
    luaL_newmetatable(L, type);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
  }
  lua_pushliteral(L, "epoch_ms");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kEpochKey);
}

void push_value(lua_State* L, const Value& value) { push(L, value, 0); }

Result<Value> to_value(lua_State* L, int index) {
  return read(L, lua_absindex(L, index), 0, "value");
}

}  // namespace weir::lua
