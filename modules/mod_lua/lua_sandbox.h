// SPDX-License-Identifier: Apache-2.0
#pragma once
// The sandbox: the environment one app's script runs in. Its own copies of the library tables (one
// app cannot change another's), no load/require/dofile/debug, os reduced to the clock and io absent
// unless [lua] allow_os / allow_io, print and weir (lua_library.h).

#include <lua.hpp>

#include "lua_group.h"

namespace weir::lua {

/// Pushes a new environment table for `script`'s chunk (its _ENV). Outside the memory limit.
void push_sandbox(lua_State* L, const LuaShared& shared, const AppScript& script);

}  // namespace weir::lua
