// SPDX-License-Identifier: Apache-2.0
#include "lua_sandbox.h"

#include "lua_library.h"

namespace weir::lua {
namespace {

void copy_table(lua_State* L, int from) {
  from = lua_absindex(L, from);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, from)) {  // [copy, key, value]
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    lua_rawset(L, -5);
    lua_pop(L, 1);
  }
}

}  // namespace

void push_sandbox(lua_State* L, const LuaShared& shared, const AppScript& script) {
  lua_newtable(L);
  int env = lua_gettop(L);
  lua_pushglobaltable(L);
  int globals = env + 1;
  for (const char* name : {"assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget", "rawlen",
                           "rawset", "select", "setmetatable", "getmetatable", "tonumber", "tostring", "type",
                           "xpcall", "_VERSION"}) {
    lua_getfield(L, globals, name);
    lua_setfield(L, env, name);
  }
  // Each app gets its own copy of the library tables: one app cannot change another's.
  for (const char* lib : {LUA_STRLIBNAME, LUA_TABLIBNAME, LUA_MATHLIBNAME, LUA_UTF8LIBNAME, LUA_COLIBNAME}) {
    lua_getfield(L, globals, lib);
    copy_table(L, -1);
    lua_setfield(L, env, lib);
    lua_pop(L, 1);
  }
  lua_getfield(L, globals, LUA_OSLIBNAME);
  if (shared.config.allow_os) {
    copy_table(L, -1);
  } else {  // the clock only: no execute, exit, getenv, remove, rename, tmpname
    lua_newtable(L);
    for (const char* name : {"time", "clock", "date", "difftime"}) {
      lua_getfield(L, -2, name);
      lua_setfield(L, -2, name);
    }
  }
  lua_setfield(L, env, LUA_OSLIBNAME);
  lua_pop(L, 1);
  if (shared.config.allow_io) {
    lua_getfield(L, globals, LUA_IOLIBNAME);
    copy_table(L, -1);
    lua_setfield(L, env, LUA_IOLIBNAME);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);  // globals
  lua_pushvalue(L, env);
  lua_setfield(L, env, "_G");
  lua_pushstring(L, script.app.c_str());
  lua_pushcclosure(L, weir_log, 1);
  lua_setfield(L, env, "print");

  push_weir_library(L, shared, script);
  lua_setfield(L, env, "weir");
}

}  // namespace weir::lua
