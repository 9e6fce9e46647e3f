// SPDX-License-Identifier: Apache-2.0
#pragma once
// The weir.* library of one app: verdicts (accept, reject, redirect, read back by verdict_from),
// values (null, date, array), now_ms, log/warn/print, env, count, sleep, and the functions of
// weir.http (lua_http.h), weir.shared_object (lua_shared_object.h) and other modules
// (weir.<library>.<name>, weir/services/lua.h).

#include <lua.hpp>

#include "lua_group.h"
#include "weir/services/apps.h"
#include "weir/status.h"

namespace weir::lua {

/// Creates the weir.Verdict metatable (once per lua_State).
void open_verdict_type(lua_State* L);
/// Pushes the weir table of `script`'s app.
void push_weir_library(lua_State* L, const LuaShared& shared, const AppScript& script);
/// weir.log and print: the arguments as one line in the server's log. Upvalue 1: the app's name.
int weir_log(lua_State* L);
/// The verdict a hook returned: the `count` values from `first` on thread `T`.
Result<AppVerdict> verdict_from(lua_State* T, int first, int count, AppHook hook);

}  // namespace weir::lua
