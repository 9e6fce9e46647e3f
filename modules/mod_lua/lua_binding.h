// SPDX-License-Identifier: Apache-2.0
#pragma once
// How a C function that scripts call (a binding) ends without a longjmp crossing a C++ object.
//
// Lua 5.4 as Debian builds it (liblua5.4, C) raises errors and yields with longjmp: a raise or a
// yield skips the destructors of every C++ object alive in the frames it crosses. Under the memory
// limit any Lua function that allocates can raise (lua_push*, lua_newtable, lua_setfield,
// luaL_check*). So a binding is written in three steps:
//
//   1. Lua only: luaL_check* its arguments, raw_field its table fields. It may raise: no C++
//      object lives yet.
//   2. bind(L, body): body, the C++ part, returns an Outcome (the values to return, an error to
//      raise, or a wait). It may call only Lua functions that never raise: to_value, read_args,
//      lua_to*, lua_type, lua_next, lua_rawget*, lua_checkstack, LuaGroup::wait.
//   3. bind() pushes the outcome under lua_pcall (push_value may run out of memory: caught there),
//      destroys it, and only then returns, raises or yields, with no C++ object left.
//
// A binding that makes no C++ object at all (client.id, weir.reject) just pushes.

#include <lua.hpp>

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "weir/status.h"
#include "weir/value.h"

namespace weir::lua {

/// What a binding's C++ part decided: return values, raise an error, or yield (a wait started).
struct Outcome {
  enum class Kind : std::uint8_t { values, error, wait };
  Kind kind = Kind::values;
  std::vector<Value> values;  // Kind::values, pushed in order (undefined pushes nil)
  std::string error;          // Kind::error: the message raised

  /// Returns nothing.
  static Outcome none() { return {}; }
  /// Returns `value`.
  static Outcome of(Value value);
  /// Returns the value, or nil and the error's message.
  static Outcome result(Result<Value> result);
  /// Raises `message`.
  static Outcome failure(std::string message);
  /// Yields until the wait started (LuaGroup::wait) resumes the coroutine.
  static Outcome waiting();
};

/// Pushes `outcome` under lua_pcall. Returns the number of values pushed, or kRaise (the error to
/// raise is on top), kYield, or kOutOfMemory (nothing pushed). Never raises.
int deliver(lua_State* L, const Outcome& outcome);
/// Ends a binding once no C++ object lives: returns `delivered` values, raises or yields.
int conclude(lua_State* L, int delivered);

inline constexpr int kOutOfMemory = -3;
inline constexpr int kRaise = -2;
inline constexpr int kYield = -1;

/// Runs a binding's C++ part (step 2 above) and ends the binding (step 3). `body` captures by
/// reference only: its closure lives in the caller's frame, which the raise or yield crosses.
template <class Body>
int bind(lua_State* L, Body&& body) {
  static_assert(std::is_trivially_destructible_v<std::remove_cvref_t<Body>>,
                "a binding's body captures by reference: its closure outlives the longjmp");
  int delivered;
  {
    Outcome outcome = body();
    delivered = deliver(L, outcome);
  }
  return conclude(L, delivered);
}

/// Pushes field `name` of the table at `table` without metamethods and returns its type. May
/// raise (it makes the key): step 1 only.
int raw_field(lua_State* L, int table, const char* name);
/// Pushes the value (1 result) or nil and the error message (2). Returns the number pushed. May
/// raise: for a resume outside the limit, or step 3.
int push_result(lua_State* L, const Result<Value>& result);
/// The arguments from `first` to the top as Values; an error names the argument. Never raises.
Result<std::vector<Value>> read_args(lua_State* L, int first);

/// Registers the metatable of a userdata type `name` (a client, a shared object): __index,
/// __tostring, __gc, and a locked __metatable so scripts cannot swap it. At VM start.
void open_userdata_type(lua_State* L, const char* name, lua_CFunction index, lua_CFunction tostring,
                        lua_CFunction gc);

}  // namespace weir::lua
