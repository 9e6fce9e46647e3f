// SPDX-License-Identifier: Apache-2.0
#include "lua_binding.h"

#include "lua_value.h"

namespace weir::lua {

int push_result(lua_State* L, const Result<Value>& result) {
  if (result) {
    push_value(L, *result);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, result.error().message().c_str());
  return 2;
}

Result<std::vector<Value>> read_args(lua_State* L, int first) {
  std::vector<Value> args;
  for (int i = first; i <= lua_gettop(L); ++i) {
    auto v = to_value(L, i);
    if (!v) return v.error().with_context(format("argument {}", i - first + 1));
    args.push_back(std::move(*v));
  }
  return args;
}

int raise(lua_State* L, std::string_view message) {
  lua_pushlstring(L, message.data(), message.size());
  return kRaise;
}

int conclude(lua_State* L, int outcome) {
  if (outcome == kRaise) return lua_error(L);
  if (outcome == kYield) return lua_yield(L, 0);
  return outcome;
}

// A field of a table without metamethods (they could raise through our C++ objects).
int raw_field(lua_State* L, int table, const char* name) {
  lua_pushstring(L, name);
  return lua_rawget(L, table);
}

}  // namespace weir::lua
