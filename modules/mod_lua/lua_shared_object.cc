// SPDX-License-Identifier: Apache-2.0
#include "lua_shared_object.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lua_binding.h"
#include "lua_group.h"
#include "lua_value.h"
#include "lua_vm.h"
#include "weir/shared_objects.h"

namespace weir::lua {
namespace {

constexpr const char* kSharedObjectType = "weir.SharedObject";

SharedObjectKey& check_shared_object(lua_State* L) {
  return *static_cast<SharedObjectKey*>(luaL_checkudata(L, 1, kSharedObjectType));
}

// Starts `request(objects, done)` as the running hook's wait; `what` names the call in errors.
template <class Request>
Outcome shared_object_wait(lua_State* L, const char* what, Request request) {
  LuaGroup* group = vm_of(L).owner;
  if (!group) return Outcome::failure(std::string(what) + ": only inside a hook");
  return group->wait(L, what, [group, request = std::move(request)](LuaDone done) mutable {
    request(group->group().shared_objects(), std::move(done));
  });
}

// A change's answer: true, or nil and why (a limit, a bad name).
SharedObjectDone answer_status(LuaDone done) {
  return [done = std::move(done)](Status status) {
    if (status) done(Value(true));
    else done(std::move(status));
  };
}

// so:set(slot, value) -> true or nil, err. A nil value removes the slot (as Flash's setProperty(name, null)).
int so_set(lua_State* L) {
  SharedObjectKey& key = check_shared_object(L);
  const char* slot = luaL_checkstring(L, 2);
  return bind(L, [&] {
    auto value = to_value(L, 3);
    if (!value) return Outcome::failure(format("so:set('{}'): {}", slot, value.error().message()));
    if (value->is_undefined()) {
      return shared_object_wait(L, "so:set", [key, slot = std::string(slot)](SharedObjects& objects, LuaDone done) {
        objects.remove(key, slot, answer_status(std::move(done)));
      });
    }
    return shared_object_wait(L, "so:set", [key, slot = std::string(slot), value = std::move(*value)](
                                               SharedObjects& objects, LuaDone done) mutable {
      objects.set(key, slot, std::move(value), answer_status(std::move(done)));
    });
  });
}

// so:remove(slot) -> true or nil, err.
int so_remove(lua_State* L) {
  SharedObjectKey& key = check_shared_object(L);
  const char* slot = luaL_checkstring(L, 2);
  return bind(L, [&] {
    return shared_object_wait(L, "so:remove", [key, slot = std::string(slot)](SharedObjects& objects, LuaDone done) {
      objects.remove(key, slot, answer_status(std::move(done)));
    });
  });
}

// so:clear() -> true or nil, err.
int so_clear(lua_State* L) {
  SharedObjectKey& key = check_shared_object(L);
  return bind(L, [&] {
    return shared_object_wait(L, "so:clear", [key](SharedObjects& objects, LuaDone done) {
      objects.clear(key, answer_status(std::move(done)));
    });
  });
}

// so:send(handler, ...) -> true or nil, err: handler(...) on every subscriber.
int so_send(lua_State* L) {
  SharedObjectKey& key = check_shared_object(L);
  const char* handler = luaL_checkstring(L, 2);
  return bind(L, [&] {
    auto args = read_args(L, 3);
    if (!args) return Outcome::failure(format("so:send('{}'): {}", handler, args.error().message()));
    return shared_object_wait(L, "so:send", [key, handler = std::string(handler), args = std::move(*args)](
                                                SharedObjects& objects, LuaDone done) mutable {
      objects.send(key, handler, std::move(args), answer_status(std::move(done)));
    });
  });
}

// so:get(slot) -> the slot's value (nil when absent); so:get() -> a table of every slot. Read on
// the object's owner group: the current value, whichever group changed it last.
int so_get(lua_State* L) {
  SharedObjectKey& key = check_shared_object(L);
  const char* slot = luaL_optstring(L, 2, nullptr);
  return bind(L, [&] {
    std::optional<std::string> wanted;
    if (slot) wanted = slot;
    return shared_object_wait(L, "so:get", [key, wanted](SharedObjects& objects, LuaDone done) {
      objects.get(key, [wanted, done = std::move(done)](Result<SharedObjectSnapshot> snapshot) {
        if (!snapshot) return done(snapshot.error());
        if (!wanted) return done(std::move(snapshot->slots));
        const Value* v = snapshot->slots.find(*wanted);
        done(v ? *v : Value());
      });
    });
  });
}

int so_index(lua_State* L) {
  SharedObjectKey& key = check_shared_object(L);
  std::string_view field = luaL_checkstring(L, 2);
  if (field == "name") lua_pushlstring(L, key.name.data(), key.name.size());
  else if (field == "app") lua_pushlstring(L, key.app.data(), key.app.size());
  else if (field == "persistent") lua_pushboolean(L, key.persistent);
  else if (field == "set") lua_pushcfunction(L, so_set);
  else if (field == "get") lua_pushcfunction(L, so_get);
  else if (field == "remove") lua_pushcfunction(L, so_remove);
  else if (field == "clear") lua_pushcfunction(L, so_clear);
  else if (field == "send") lua_pushcfunction(L, so_send);
  else lua_pushnil(L);
  return 1;
}

int so_tostring(lua_State* L) {
  SharedObjectKey& key = check_shared_object(L);
  lua_pushfstring(L, "shared object %s%s", key.name.c_str(), key.persistent ? " (persistent)" : "");
  return 1;
}

// Only Lua calls it, with one of ours (the metatable is hidden from scripts): no check, which
// could raise (it looks the type name up) and skip the destructor.
int so_gc(lua_State* L) {
  static_cast<SharedObjectKey*>(lua_touserdata(L, 1))->~SharedObjectKey();
  return 0;
}

}  // namespace

// weir.shared_object(name[, persistent]) -> the app's object `name`. Upvalue 1: the app. Only a
// handle (nothing is made or subscribed): it may be taken at a script's top level.
int weir_shared_object(lua_State* L) {
  std::size_t length = 0;
  const char* name = luaL_checklstring(L, 1, &length);
  luaL_argcheck(L, length > 0, 1, "an empty name");
  bool persistent = lua_toboolean(L, 2) != 0;
  // Both may raise: before the key is made (a box without __gc holds nothing; once it has one,
  // nothing raises before the key is made).
  void* box = lua_newuserdatauv(L, sizeof(SharedObjectKey), 0);
  luaL_setmetatable(L, kSharedObjectType);
  new (box) SharedObjectKey{lua_tostring(L, lua_upvalueindex(1)), std::string(name, length), persistent};
  return 1;
}

// weir.shared_object_names() -> {{name =, persistent =}, ...}: the app's objects in memory on any
// group and the persistent ones stored. Upvalue 1: the app.
int weir_shared_object_names(lua_State* L) {
  return bind(L, [&] {
    std::string app = lua_tostring(L, lua_upvalueindex(1));
    return shared_object_wait(L, "weir.shared_object_names", [app](SharedObjects& objects, LuaDone done) {
      objects.names(app, [done = std::move(done)](Result<std::vector<SharedObjectKey>> names) {
        if (!names) return done(names.error());
        std::vector<Value> items;
        for (const SharedObjectKey& key : *names)
          items.push_back(Value::object({{"name", key.name}, {"persistent", key.persistent}}));
        done(Value::array(std::move(items)));
      });
    });
  });
}

void open_shared_object_type(lua_State* L) {
  open_userdata_type(L, kSharedObjectType, so_index, so_tostring, so_gc);
}

}  // namespace weir::lua
