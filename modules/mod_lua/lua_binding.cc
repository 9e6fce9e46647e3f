// SPDX-License-Identifier: Apache-2.0
#include "lua_binding.h"

#include "lua_value.h"
#include "lua_vm.h"

namespace weir::lua {
namespace {

// Under deliver()'s lua_pcall: pushes the Outcome that argument 1 (a light userdata) points at.
// Its frames hold no C++ object, so a raise here (out of memory, a value nested too deep) lands in
// deliver() having skipped nothing.
int push_outcome(lua_State* L) {
  const auto& outcome = *static_cast<const Outcome*>(lua_touserdata(L, 1));
  lua_settop(L, 0);
  if (outcome.kind == Outcome::Kind::error) {
    lua_pushlstring(L, outcome.error.data(), outcome.error.size());
    return 1;
  }
  int count = static_cast<int>(outcome.values.size());
  luaL_checkstack(L, count, "results");
  for (const Value& value : outcome.values) push_value(L, value);
  return count;
}

}  // namespace

Outcome Outcome::of(Value value) {
  Outcome outcome;
  outcome.values.push_back(std::move(value));
  return outcome;
}

Outcome Outcome::result(Result<Value> result) {
  if (result) return of(std::move(*result));
  Outcome outcome;
  outcome.values.push_back(Value());
  outcome.values.push_back(Value(result.error().message()));
  return outcome;
}

Outcome Outcome::failure(std::string message) {
  Outcome outcome;
  outcome.kind = Kind::error;
  outcome.error = std::move(message);
  return outcome;
}

Outcome Outcome::waiting() {
  Outcome outcome;
  outcome.kind = Kind::wait;
  return outcome;
}

int deliver(lua_State* L, const Outcome& outcome) {
  if (outcome.kind == Outcome::Kind::wait) return kYield;
  int base = lua_gettop(L);
  if (!lua_checkstack(L, 2)) return kOutOfMemory;  // the helper and its argument
  lua_pushcfunction(L, push_outcome);
  lua_pushlightuserdata(L, const_cast<Outcome*>(&outcome));
  int status = lua_pcall(L, 1, LUA_MULTRET, 0);
  if (status == LUA_ERRMEM) {
    lua_pop(L, 1);  // Lua's "not enough memory": conclude() says which limit
    return kOutOfMemory;
  }
  if (status != LUA_OK || outcome.kind == Outcome::Kind::error) return kRaise;
  return lua_gettop(L) - base;
}

int conclude(lua_State* L, int delivered) {
  if (delivered == kOutOfMemory) {
    // The script learns which limit it reached: a message of a few bytes past the limit (nothing
    // else is made; the coroutine unwinds and the collector takes back what it used).
    Vm& vm = vm_of(L);
    bool enforcing = vm.enforce_limit;
    vm.enforce_limit = false;
    luaL_checkstack(L, 2, "an error message");
    luaL_where(L, 1);
    lua_pushfstring(L, "not enough memory (memory_limit of %I bytes)",
                    static_cast<lua_Integer>(vm.shared.config.memory_limit_bytes));
    lua_concat(L, 2);
    vm.enforce_limit = enforcing;
    return lua_error(L);
  }
  if (delivered == kRaise) return lua_error(L);
  if (delivered == kYield) return lua_yield(L, 0);
  return delivered;
}

void open_userdata_type(lua_State* L, const char* name, lua_CFunction index, lua_CFunction tostring,
                        lua_CFunction gc) {
  luaL_newmetatable(L, name);
  lua_pushcfunction(L, index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
}

int raw_field(lua_State* L, int table, const char* name) {
  lua_pushstring(L, name);
  return lua_rawget(L, table);
}

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

}  // namespace weir::lua
