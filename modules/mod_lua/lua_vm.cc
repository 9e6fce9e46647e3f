// SPDX-License-Identifier: Apache-2.0
#include "lua_vm.h"

#include <algorithm>
#include <cstdlib>

#include "lua_client.h"
#include "lua_library.h"
#include "lua_sandbox.h"
#include "lua_shared_object.h"
#include "lua_value.h"

namespace weir::lua {
namespace {

void* allocate(void* ud, void* block, std::size_t old_size, std::size_t size) noexcept {
  Vm& vm = *static_cast<Vm*>(ud);
  std::size_t old = block ? old_size : 0;  // for a new block, old_size is the object's type
  if (size == 0) {
    std::free(block);
    vm.used_bytes -= old;
    return nullptr;
  }
  if (vm.enforce_limit && size > old) {
    if (vm.used_bytes + (size - old) > vm.shared.config.memory_limit_bytes)
      return nullptr;  // Lua raises "not enough memory" in the script
    // A refused request is retried once after an emergency collection (Lua's tryagain): a test's
    // failure must hold for the retry too, as the limit would.
    Vm::FailedAllocation& failed = vm.failed_allocation;
    if (failed.pending && failed.block == block && failed.size == size) {
      failed.pending = false;
      return nullptr;
    }
    failed.pending = false;
    if (vm.failing_allocation != 0 && --vm.failing_allocation == 0) {
      failed = Vm::FailedAllocation{block, size, true};
      return nullptr;
    }
  }
  void* moved = std::realloc(block, size);
  if (!moved) return nullptr;
  vm.used_bytes = vm.used_bytes - old + size;
  return moved;
}

}  // namespace

// Every kHookStep instructions. Past the budget the coroutine yields from here: no pcall in the
// script can catch that. Where a yield is impossible (inside a C call such as table.sort's
// comparator) it raises an error instead; the next step outside that call yields.
void count_hook(lua_State* L, lua_Debug*) {
  Budget* budget = budget_of(L);
  if (!budget) return;
  budget->used += LuaGroup::kHookStep;
  if (budget->used <= budget->limit) return;
  budget->exceeded = true;
  if (lua_isyieldable(L)) {
    lua_yield(L, 0);
    return;
  }
  luaL_error(L, "instruction limit of %d exceeded", static_cast<int>(std::min<std::uint64_t>(budget->limit, 1u << 30)));
}

// An error object as text, without metamethods: it is read from a coroutine that died, where a
// __tostring that raises or loops would take the server with it.
std::string error_text(lua_State* L, int index) {
  if (lua_type(L, index) == LUA_TSTRING || lua_type(L, index) == LUA_TNUMBER) {
    std::size_t length = 0;
    const char* s = lua_tolstring(L, index, &length);
    return std::string(s, length);
  }
  return format("(an error value of type {})", luaL_typename(L, index));
}

Vm::Vm(LuaGroup* owner_group, const LuaShared& shared_state) : owner(owner_group), shared(shared_state) {
  L = lua_newstate(allocate, this);
  if (!L) std::abort();  // allocation failure is fatal
  budget_of(L) = nullptr;
  // The libraries scripts may see; io and os only in part or on request (see push_sandbox).
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  luaL_requiref(L, LUA_COLIBNAME, luaopen_coroutine, 1);
  luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 1);
  if (shared.config.allow_io) luaL_requiref(L, LUA_IOLIBNAME, luaopen_io, 1);
  lua_settop(L, 0);
  // ("").upper works, but getmetatable("") must not hand out the string table every app shares.
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);
  open_value_types(L);
  open_client_type(L);
  open_shared_object_type(L);
  open_verdict_type(L);
}

Status Vm::load(const ScriptSource& source) {
  const AppScript& script = source.script;
  // Named as configured, so that messages say "token_auth.lua:12:". Text only: no bytecode.
  std::string chunk_name = "@" + script.name;
  if (luaL_loadbufferx(L, source.text.data(), source.text.size(), chunk_name.c_str(), "t") != LUA_OK) {
    std::string message = error_text(L, -1);
    lua_pop(L, 1);
    return error(Errc::config, "[lua] app.{}: {}", script.app, message);
  }
  push_sandbox(L, shared, script);
  lua_pushvalue(L, -1);
  int env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);  // the chunk's only upvalue is _ENV
  // The top level runs as a coroutine under the instruction limit, like a hook.
  lua_State* thread = lua_newthread(L);
  lua_insert(L, -2);
  lua_xmove(L, thread, 1);
  Budget budget;
  budget.limit = shared.config.instruction_limit;
  budget_of(thread) = &budget;
  lua_sethook(thread, count_hook, LUA_MASKCOUNT, LuaGroup::kHookStep);
  int results = 0;
  int status = resume(thread, 0, &results);
  Status outcome;
  if (status == LUA_YIELD) {
    outcome = budget.exceeded ? error(Errc::limit, "[lua] app.{}: {}: top level stopped after {} instructions "
                                                   "(instruction_limit)", script.app, script.name, budget.used)
                              : error(Errc::config, "[lua] app.{}: {}: the top level may not wait", script.app,
                                      script.name);
  } else if (status != LUA_OK) {
    std::string message = error_text(thread, -1);
    luaL_traceback(L, thread, message.c_str(), 0);
    outcome = error(Errc::config, "[lua] app.{}: {}", script.app, error_text(L, -1));
    lua_pop(L, 1);
  }
  budget_of(thread) = nullptr;
  lua_pop(L, 1);  // the thread
  if (!outcome) {
    luaL_unref(L, LUA_REGISTRYINDEX, env_ref);
    return outcome;
  }
  envs_.emplace_back(script.app, env_ref);
  return ok();
}

}  // namespace weir::lua
