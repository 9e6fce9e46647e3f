// SPDX-License-Identifier: Apache-2.0
#pragma once
// What every C function scripts call (a binding) shares: how it ends (return, raise or yield)
// without a longjmp crossing a C++ object, and how it reads arguments and answers.

#include <lua.hpp>

#include <string_view>
#include <vector>

#include "weir/status.h"
#include "weir/value.h"

namespace weir::lua {

// Lua errors and yields are longjmps here (C Lua): they must never cross a live C++ object, or
// its destructor is skipped. So the C functions do their C++ work in an inner scope that
// ends in one of these outcomes, and only then raise or yield, with nothing left to destroy.
inline constexpr int kRaise = -2;  // an error message is on the stack
inline constexpr int kYield = -1;  // LuaGroup::wait() started a wait

/// Pushes `message` and returns kRaise.
int raise(lua_State* L, std::string_view message);
/// Ends a C function: raises (kRaise), yields (kYield) or returns `outcome` results.
int conclude(lua_State* L, int outcome);
/// Pushes field `name` of the table at `table` without metamethods (they could raise through our
/// C++ objects) and returns its type.
int raw_field(lua_State* L, int table, const char* name);
/// Pushes the value (1 result) or nil and the error message (2). Returns the number pushed.
int push_result(lua_State* L, const Result<Value>& result);
/// The arguments from `first` to the top as Values; an error names the argument.
Result<std::vector<Value>> read_args(lua_State* L, int first);

}  // namespace weir::lua
