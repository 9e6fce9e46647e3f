// SPDX-License-Identifier: Apache-2.0
#include "lua_library.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>

#include "lua_binding.h"
#include "lua_http.h"
#include "lua_run.h"
#include "lua_shared_object.h"
#include "lua_value.h"
#include "lua_vm.h"

namespace weir::lua {
namespace {

constexpr const char* kVerdictType = "weir.Verdict";

int make_verdict(lua_State* L, const char* kind) {
  lua_createtable(L, 0, 4);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  luaL_setmetatable(L, kVerdictType);
  return 1;
}

int weir_accept(lua_State* L) {
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
  make_verdict(L, "accept");
  if (lua_istable(L, 1)) {
    static constexpr const char* kFields[] = {"name", "lifetime", "values", "pull"};
    for (const char* field : kFields) {
      lua_getfield(L, 1, field);
      lua_setfield(L, -2, field);
    }
    // A misspelt field would silently do nothing: name it instead.
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
      lua_pop(L, 1);
      const char* key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : nullptr;
      bool known = false;
      for (const char* field : kFields) known = known || (key && std::strcmp(key, field) == 0);
      if (!known)
        return luaL_error(L, "weir.accept: unknown field '%s' (expected name, lifetime, values, pull)",
                          key ? key : luaL_typename(L, -1));
    }
  }
  return 1;
}

int weir_reject(lua_State* L) {
  const char* code = luaL_optstring(L, 1, nullptr);
  const char* description = luaL_optstring(L, 2, nullptr);
  make_verdict(L, "reject");
  if (code) {
    lua_pushstring(L, code);
    lua_setfield(L, -2, "code");
  }
  if (description) {
    lua_pushstring(L, description);
    lua_setfield(L, -2, "description");
  }
  return 1;
}

int weir_redirect(lua_State* L) {
  const char* url = luaL_checkstring(L, 1);
  const char* description = luaL_optstring(L, 2, "redirected");
  make_verdict(L, "redirect");
  lua_pushstring(L, url);
  lua_setfield(L, -2, "url");
  lua_pushstring(L, description);
  lua_setfield(L, -2, "description");
  return 1;
}

int weir_date(lua_State* L) {
  lua_Number ms = luaL_checknumber(L, 1);
  return bind(L, [&] { return Outcome::of(Value::date(ms)); });
}

int weir_array(lua_State* L) {
  if (lua_isnoneornil(L, 1)) lua_newtable(L);
  else luaL_checktype(L, 1, LUA_TTABLE);
  luaL_setmetatable(L, "weir.Array");
  return 1;
}

int weir_now_ms(lua_State* L) {
  lua_pushinteger(L, std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count());
  return 1;
}

// The arguments as one line, built on the Lua stack: __tostring metamethods may raise, and no C++
// object may be alive when they do.
const char* log_line(lua_State* L) {
  int n = lua_gettop(L);
  for (int i = 1; i <= n; ++i) {
    if (i > 1) lua_pushliteral(L, " ");
    luaL_tolstring(L, i, nullptr);
  }
  if (n == 0) lua_pushliteral(L, "");
  else lua_concat(L, 2 * n - 1);
  return lua_tostring(L, -1);
}

}  // namespace

int weir_log(lua_State* L) {
  const char* line = log_line(L);
  vm_of(L).shared.logger.info("app={}: {}", lua_tostring(L, lua_upvalueindex(1)), line);
  return 0;
}

namespace {

int weir_warn(lua_State* L) {
  const char* line = log_line(L);
  vm_of(L).shared.logger.warn("app={}: {}", lua_tostring(L, lua_upvalueindex(1)), line);
  return 0;
}

// weir.count(name, delta[, limit]) -> the new count, or nil, "limit" when it would pass the limit.
int weir_count(lua_State* L) {
  const char* name = luaL_checkstring(L, 1);
  lua_Integer delta = luaL_checkinteger(L, 2);
  lua_Integer limit = luaL_optinteger(L, 3, LUA_MAXINTEGER);
  // A top level runs once per group and once more at the startup check: a count taken there
  // would be taken several times.
  Budget* budget = budget_of(L);
  if (!budget || !budget->run) return luaL_error(L, "weir.count: only inside a hook");
  return bind(L, [&] {
    // Counts are per app: one app cannot take another's slots.
    std::string key = std::string(lua_tostring(L, lua_upvalueindex(1))) + "/" + name;
    std::optional<std::int64_t> count = vm_of(L).shared.counts.add(key, delta, limit);
    if (!count) return Outcome::result(Status(Errc::limit, "limit"));
    return Outcome::of(Value(static_cast<double>(*count)));
  });
}

int weir_sleep(lua_State* L) {
  lua_Integer ms = luaL_checkinteger(L, 1);
  luaL_argcheck(L, ms >= 0, 1, "a negative time");
  LuaGroup* group = vm_of(L).owner;
  if (!group) return luaL_error(L, "weir.sleep: only inside a hook");
  auto delay = std::chrono::milliseconds(ms);
  Budget* budget = budget_of(L);
  return bind(L, [&] {
    return group->wait(L, "weir.sleep", [group, budget, delay](LuaDone done) {
      // wait() has checked that this is a hook's coroutine, so budget->run is set.
      budget->run->sleep = group->group().after(delay, [done = std::move(done)] { done(Value()); });
    });
  });
}

// A module's function (weir/services/lua.h). Upvalue 1: its index in LuaShared::functions.
int module_function(lua_State* L) {
  Vm& vm = vm_of(L);
  auto index = static_cast<std::size_t>(lua_tointeger(L, lua_upvalueindex(1)));
  const ModuleFunction& f = vm.shared.functions[index];
  return bind(L, [&] {
    std::string what = "weir." + f.library + "." + f.name;
    auto args = read_args(L, 1);
    if (!args) return Outcome::failure(what + ": " + args.error().message());
    if (!vm.owner) return Outcome::failure(what + ": only inside a hook");
    PollGroup& group = vm.owner->group();
    return vm.owner->wait(L, what.c_str(), [&f, &group, values = std::move(*args)](LuaDone done) mutable {
      f.fn(group, std::move(values), std::move(done));
    });
  });
}

}  // namespace

void open_verdict_type(lua_State* L) {
  luaL_newmetatable(L, kVerdictType);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
}

void push_weir_library(lua_State* L, const LuaShared& shared, const AppScript& script) {
  lua_newtable(L);  // weir
  int weir = lua_gettop(L);
  push_null(L);
  lua_setfield(L, weir, "null");
  const luaL_Reg functions[] = {{"accept", weir_accept}, {"reject", weir_reject}, {"redirect", weir_redirect},
                                {"date", weir_date},     {"array", weir_array},   {"now_ms", weir_now_ms},
                                {"sleep", weir_sleep},   {"http", weir_http},     {nullptr, nullptr}};
  luaL_setfuncs(L, functions, 0);
  lua_pushstring(L, script.app.c_str());
  lua_setfield(L, weir, "app");
  // Functions that act for the script's app: the app's name is their upvalue.
  const luaL_Reg per_app[] = {{"log", weir_log},
                              {"warn", weir_warn},
                              {"count", weir_count},
                              {"shared_object", weir_shared_object},
                              {"shared_object_names", weir_shared_object_names}};
  for (const luaL_Reg& function : per_app) {
    lua_pushstring(L, script.app.c_str());
    lua_pushcclosure(L, function.func, 1);
    lua_setfield(L, weir, function.name);
  }
  lua_createtable(L, 0, static_cast<int>(shared.config.env.size()));
  for (const auto& [name, value] : shared.config.env) {
    lua_pushlstring(L, value.data(), value.size());
    lua_setfield(L, -2, name.c_str());
  }
  lua_setfield(L, weir, "env");
  for (std::size_t i = 0; i < shared.functions.size(); ++i) {
    const ModuleFunction& f = shared.functions[i];
    if (lua_getfield(L, weir, f.library.c_str()) != LUA_TTABLE) {
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushvalue(L, -1);
      lua_setfield(L, weir, f.library.c_str());
    }
    lua_pushinteger(L, static_cast<lua_Integer>(i));
    lua_pushcclosure(L, module_function, 1);
    lua_setfield(L, -2, f.name.c_str());
    lua_pop(L, 1);
  }
}

Result<AppVerdict> verdict_from(lua_State* T, int first, int count, AppHook hook) {
  AppVerdict verdict;
  bool is_verdict = false;
  if (count > 0 && lua_istable(T, first) && lua_getmetatable(T, first)) {
    luaL_getmetatable(T, kVerdictType);
    is_verdict = lua_rawequal(T, -1, -2);
    lua_pop(T, 2);
  }
  if (hook == AppHook::call && !is_verdict) {
    if (count == 0) return verdict;
    auto result = to_value(T, first);
    if (!result) return result.error().with_context("the method's result");
    verdict.result = std::move(*result);
    return verdict;
  }
  if (!is_verdict) {
    if (count == 0 || lua_isnil(T, first) || (lua_isboolean(T, first) && lua_toboolean(T, first))) return verdict;
    if (lua_isboolean(T, first)) {
      verdict.kind = AppVerdict::Kind::reject;
      if (count > 1 && lua_isstring(T, first + 1)) verdict.description = lua_tostring(T, first + 1);
      return verdict;
    }
    return Status(Errc::malformed, format("returned a {}: expected nothing, true, false, weir.accept{{...}}, "
                                          "weir.reject(...) or weir.redirect(...)", luaL_typename(T, first)));
  }
  lua_getfield(T, first, "kind");
  std::string kind = lua_isstring(T, -1) ? lua_tostring(T, -1) : "";
  lua_pop(T, 1);
  auto field = [&](const char* name) {
    lua_getfield(T, first, name);
    std::string s = lua_isstring(T, -1) ? lua_tostring(T, -1) : "";
    lua_pop(T, 1);
    return s;
  };
  if (kind == "reject") {
    verdict.kind = AppVerdict::Kind::reject;
    verdict.code = field("code");
    verdict.description = field("description");
  } else if (kind == "redirect") {
    verdict.kind = AppVerdict::Kind::redirect;
    verdict.redirect_url = field("url");
    verdict.description = field("description");
  } else {
    verdict.stream_name = field("name");
    verdict.pull_url = field("pull");
    if (!verdict.pull_url.empty() && hook != AppHook::stream_not_found)
      return Status(Errc::malformed, "weir.accept{pull = ...} is for on_stream_not_found only");
    lua_getfield(T, first, "lifetime");
    if (lua_isnumber(T, -1))
      verdict.lifetime = std::chrono::milliseconds(static_cast<std::int64_t>(std::max<lua_Number>(0, lua_tonumber(T, -1))));
    lua_pop(T, 1);
    lua_getfield(T, first, "values");
    if (lua_istable(T, -1)) {
      auto values = to_value(T, -1);
      if (!values) {
        lua_pop(T, 1);
        return values.error().with_context("weir.accept values");
      }
      verdict.values = values->members();
    }
    lua_pop(T, 1);
  }
  return verdict;
}

}  // namespace weir::lua
