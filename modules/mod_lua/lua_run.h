// SPDX-License-Identifier: Apache-2.0
#pragma once
// Run: one hook call in progress on a LuaGroup (lua_group.cc schedules them): a coroutine of a Vm,
// its instruction Budget, its deadline and current wait, and what to answer when it ends.
// Thread: the group's.

#include <lua.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "lua_group.h"
#include "lua_vm.h"

namespace weir::lua {

/// One hook run: a coroutine of a Vm, and what to answer when it ends.
struct Run {
  ~Run() {
    if (vm && thread_ref != LUA_NOREF) luaL_unref(vm_state(), LUA_REGISTRYINDEX, thread_ref);
  }
  lua_State* vm_state() const noexcept;

  std::uint64_t id = 0;
  std::shared_ptr<Vm> vm;
  lua_State* thread = nullptr;
  int thread_ref = LUA_NOREF;
  const AppScript* script = nullptr;
  std::string app;
  RunKind kind = RunKind::client;
  std::shared_ptr<AppClient> client;  // null but for RunKind::client
  AppRequest request;
  AppVerdictCallback done;
  int attempt = 0;
  Budget budget;
  bool waiting = false;
  std::uint64_t wait_seq = 0;
  std::unique_ptr<Timer> deadline;
  std::unique_ptr<Timer> sleep;
};

}  // namespace weir::lua
