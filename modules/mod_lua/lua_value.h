// SPDX-License-Identifier: Apache-2.0
#pragma once
// weir::Value <-> Lua values, both ways.
//
//   Value            Lua
//   undefined   <->  nil
//   null        <->  weir.null (a unique light userdata)
//   boolean     <->  boolean
//   number      <->  number (an integer when the double is integral and fits)
//   string      <->  string
//   date        <->  table {epoch_ms = n} with the weir.Date metatable (weir.date(ms))
//   array       <->  sequence table with the weir.Array metatable (weir.array{...}); any other
//                    table whose keys are exactly 1..n (n > 0) also becomes an array
//   object      <->  table with string keys (members sorted by name: Lua tables have no order)
//
// Thread: the lua_State's. Both directions stop at kMaxDepth (a cycle or absurd nesting).

#include <lua.hpp>

#include "weir/status.h"
#include "weir/value.h"

namespace weir::lua {

inline constexpr int kMaxDepth = 64;

/// Creates the metatables and the null sentinel (once per lua_State).
void open_value_types(lua_State* L);
/// Pushes weir.null.
void push_null(lua_State* L);
/// Pushes `value` (one slot). Raises a Lua error past kMaxDepth.
void push_value(lua_State* L, const Value& value);
/// The value at `index`; an error naming the path ("args[2].user: a function cannot be sent").
/// Never raises (raw reads only, nothing made in the Lua heap): a binding calls it while its C++
/// objects live (lua_binding.h).
Result<Value> to_value(lua_State* L, int index);

}  // namespace weir::lua
