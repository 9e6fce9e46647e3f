// SPDX-License-Identifier: Apache-2.0
#pragma once
// weir.shared_object: scripts' handles on RTMP/FMS SharedObjects (weir/shared_objects.h; not .so
// modules). A handle (weir.SharedObject) is only the key (app, name, persistent): every call goes
// to the kernel's SharedObjects of the script's group, which routes it to the object's owner group
// and answers here; the coroutine waits meanwhile. The kernel propagates each change to every
// subscriber (RTMP clients on any group), so the binding keeps no state of its own.

#include <lua.hpp>

namespace weir::lua {

/// Creates the weir.SharedObject metatable (once per lua_State).
void open_shared_object_type(lua_State* L);
/// weir.shared_object(name[, persistent]) -> the app's object `name`. Upvalue 1: the app.
int weir_shared_object(lua_State* L);
/// weir.shared_object_names() -> {{name =, persistent =}, ...}. Upvalue 1: the app.
int weir_shared_object_names(lua_State* L);

}  // namespace weir::lua
