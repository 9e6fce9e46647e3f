// SPDX-License-Identifier: Apache-2.0
#pragma once
// The client object scripts get as a hook's first argument (weir.Client): a userdata holding the
// protocol module's AppClient (shared ownership), one per client per Vm. Fields id, app, address,
// protocol, is_open; methods call (waits for the peer's answer), close, get, set.

#include <lua.hpp>

#include <memory>

#include "weir/services/apps.h"

namespace weir::lua {

/// Creates the weir.Client metatable and the client cache (once per lua_State).
void open_client_type(lua_State* L);
/// Pushes the client's object: the one already made for it in this VM, else a new one.
void push_client(lua_State* L, const std::shared_ptr<AppClient>& client);

}  // namespace weir::lua
