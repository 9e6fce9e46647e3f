// SPDX-License-Identifier: Apache-2.0
#include "lua_client.h"

#include <string>
#include <string_view>

#include "lua_binding.h"
#include "lua_group.h"
#include "lua_value.h"
#include "lua_vm.h"

namespace weir::lua {
namespace {

constexpr const char* kClientType = "weir.Client";
constexpr const char* kClientCache = "weir.clients";

struct ClientBox {
  std::shared_ptr<AppClient> client;
};

AppClient& check_client(lua_State* L) {
  auto* box = static_cast<ClientBox*>(luaL_checkudata(L, 1, kClientType));
  return *box->client;
}

int client_call(lua_State* L) {
  auto* box = static_cast<ClientBox*>(luaL_checkudata(L, 1, kClientType));
  const char* name = luaL_checkstring(L, 2);
  LuaGroup* group = vm_of(L).owner;
  return bind(L, [&] {
    auto args = read_args(L, 3);
    if (!args) return Outcome::failure("client:call: " + args.error().message());
    if (!group) return Outcome::failure("client:call: no client here");
    return group->wait(L, "client:call",
                       [client = box->client, method = std::string(name), values = std::move(*args)](LuaDone done) mutable {
                         client->call(method, std::move(values), std::move(done));
                       });
  });
}

int client_close(lua_State* L) {
  AppClient& client = check_client(L);
  client.close(luaL_optstring(L, 2, "closed by the application"));
  return 0;
}

int client_get(lua_State* L) {
  AppClient& client = check_client(L);
  const Value* v = client.values().find(luaL_checkstring(L, 2));
  if (!v) lua_pushnil(L);
  else push_value(L, *v);
  return 1;
}

int client_set(lua_State* L) {
  AppClient& client = check_client(L);
  const char* key = luaL_checkstring(L, 2);
  return bind(L, [&] {
    auto v = to_value(L, 3);
    if (!v) return Outcome::failure(format("client:set('{}'): {}", key, v.error().message()));
    if (!client.values().is_object()) client.values() = Value::object();
    client.values().set(key, std::move(*v));
    return Outcome::none();
  });
}

int client_index(lua_State* L) {
  AppClient& client = check_client(L);
  std::string_view key = luaL_checkstring(L, 2);
  if (key == "id") lua_pushinteger(L, static_cast<lua_Integer>(client.id()));
  else if (key == "app") lua_pushlstring(L, client.app().data(), client.app().size());
  else if (key == "address") lua_pushlstring(L, client.address().data(), client.address().size());
  else if (key == "protocol") lua_pushlstring(L, client.protocol().data(), client.protocol().size());
  else if (key == "is_open") lua_pushboolean(L, client.is_open());
  else if (key == "call") lua_pushcfunction(L, client_call);
  else if (key == "close") lua_pushcfunction(L, client_close);
  else if (key == "get") lua_pushcfunction(L, client_get);
  else if (key == "set") lua_pushcfunction(L, client_set);
  else lua_pushnil(L);
  return 1;
}

int client_tostring(lua_State* L) {
  AppClient& client = check_client(L);
  return bind(L, [&] { return Outcome::of(format("client {} {} {}", client.id(), client.protocol(), client.address())); });
}

// Only Lua calls it, with one of ours (the metatable is hidden from scripts): no check, which
// could raise (it looks the type name up) and skip the destructor.
int client_gc(lua_State* L) {
  static_cast<ClientBox*>(lua_touserdata(L, 1))->~ClientBox();
  return 0;
}

}  // namespace

void open_client_type(lua_State* L) {
  open_userdata_type(L, kClientType, client_index, client_tostring, client_gc);
  lua_newtable(L);  // the client cache: weak values, an entry lives as long as a script holds it
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, kClientCache);
}

// One userdata per client per VM, so that a script may key tables by client.
void push_client(lua_State* L, const std::shared_ptr<AppClient>& client) {
  lua_getfield(L, LUA_REGISTRYINDEX, kClientCache);
  lua_rawgeti(L, -1, static_cast<lua_Integer>(client->id()));
  if (!lua_isnil(L, -1)) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  // The metatable first: if setting it raises, the box has no __gc and holds nothing; once it has
  // one, nothing raises before the box is made.
  void* box = lua_newuserdatauv(L, sizeof(ClientBox), 0);
  luaL_setmetatable(L, kClientType);
  new (box) ClientBox{client};
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, static_cast<lua_Integer>(client->id()));
  lua_remove(L, -2);
}

}  // namespace weir::lua
