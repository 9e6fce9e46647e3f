// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The lua service: how a module adds functions to the scripts of server-side applications
/// without including lua.h. A function takes and returns weir::Value and may answer later (after
/// a message to another group or a worker-pool job); the script's coroutine waits meanwhile,
/// without blocking its thread. mod_lua provides the service; list it before the module.
///
///   auto lua = registrar.service<LuaService>();
///   (*lua)->add_function("stats", "streams", [](PollGroup& group, std::vector<Value> args,
///                                               LuaDone done) { done(Value(count_streams(group))); });
///   -- in a script:  local n = weir.stats.streams()

#include <functional>
#include <string_view>
#include <vector>

#include "weir/poll_group.h"
#include "weir/registrar.h"
#include "weir/status.h"
#include "weir/value.h"

namespace weir {

/// Answers one call of a module's Lua function, now or later, once, on the calling group. An
/// error is returned to the script as `nil, message`.
using LuaDone = std::function<void(Result<Value> result)>;

/// A module's Lua function. Thread: the calling script's group. Must not block.
using LuaFunction = std::function<void(PollGroup& group, std::vector<Value> args, LuaDone done)>;

class LuaService : public Service {
 public:
  static constexpr std::string_view kServiceName = "lua";
  static constexpr std::string_view kServiceType = "weir::LuaService/1";
  std::string_view service_type() const noexcept final { return kServiceType; }
  /// Makes `fn` available to every script as weir.<library>.<name>(...). Registration time only.
  /// Errc::exists when taken, Errc::config when a name is not a Lua identifier.
  virtual Status add_function(std::string_view library, std::string_view name, LuaFunction fn) = 0;
};

}  // namespace weir
