// SPDX-License-Identifier: Apache-2.0
#pragma once
// Vm: one lua_State of a group (every app's script, each in its own sandbox: lua_sandbox.h) and
// its limits: memory (the allocator counts every block, and fails one past memory_limit_bytes while
// scripts run) and instructions (count_hook, every LuaGroup::kHookStep, against the running Budget).
//
//   lua_State --allocf ud--> Vm (used_bytes, enforce_limit)
//   thread extra space --> Budget (used, limit) --> Run (null at a script's top level)
//
// Thread: the owning group's (the startup check: the main thread's, with no group).

#include <lua.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lua_group.h"

namespace weir::lua {

/// How much one execution may run; the thread's extra space points at it (see count_hook).
struct Budget {
  std::uint64_t used = 0;
  std::uint64_t limit = 0;
  bool exceeded = false;
  Run* run = nullptr;  // null at a script's top level
};

/// One lua_State with every app of a group loaded, and its memory count. Shared (shared_ptr) by
/// the Runs started on it: a reload swaps in a new Vm and the old one lives until its last Run ends.
class Vm {
 public:
  Vm(LuaGroup* owner, const LuaShared& shared);
  ~Vm() { lua_close(L); }
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  /// Loads one app's script into its own environment and runs its top level.
  Status load(const ScriptSource& source);
  /// The registry reference of the app's environment, or LUA_NOREF.
  int env(std::string_view app) const noexcept {
    for (const auto& [name, ref] : envs_)
      if (name == app) return ref;
    return LUA_NOREF;
  }

  lua_State* L = nullptr;
  LuaGroup* owner;  // null in the startup check
  const LuaShared& shared;
  // Memory: counted always, limited only while scripts run (inside lua_resume, where running out
  // is an ordinary script error); our own pushes outside must not fail.
  std::size_t used_bytes = 0;
  bool enforce_limit = false;
  /// Tests: the allocation under the limit with this number (1: the next) fails as one past the
  /// limit would, and so does Lua's retry of it after its emergency collection. 0: none.
  std::uint64_t failing_allocation = 0;
  struct FailedAllocation {
    void* block = nullptr;
    std::size_t size = 0;
    bool pending = false;  // the retry of this request fails too
  } failed_allocation;

  /// Runs `thread` with the memory limit on.
  int resume(lua_State* thread, int nargs, int* results) {
    enforce_limit = true;
    int status = lua_resume(thread, nullptr, nargs, results);
    enforce_limit = false;
    return status;
  }

 private:
  std::vector<std::pair<std::string, int>> envs_;
};

/// The Vm that owns `L` (any of its threads): the allocator's user data.
inline Vm& vm_of(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return *static_cast<Vm*>(ud);
}

/// The Budget of the execution running on thread `L`: its extra space. Null: no limit counted.
inline Budget*& budget_of(lua_State* L) { return *static_cast<Budget**>(lua_getextraspace(L)); }

/// The instruction-limit hook (LUA_MASKCOUNT, every LuaGroup::kHookStep instructions).
void count_hook(lua_State* L, lua_Debug*);

/// An error object as text, without metamethods.
std::string error_text(lua_State* L, int index);

}  // namespace weir::lua
