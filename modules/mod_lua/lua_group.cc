// SPDX-License-Identifier: Apache-2.0
#include "lua_group.h"

#include <lua.hpp>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <istream>
#include <sstream>
#include <ostream>

#include "lua_value.h"
#include "weir/shared_objects.h"

namespace weir::lua {

std::optional<std::int64_t> SharedCounts::add(const std::string& name, std::int64_t delta, std::int64_t limit) {
  std::lock_guard lock(mutex_);
  std::int64_t& count = counts_[name];
  if (delta > 0 && count + delta > limit) return std::nullopt;
  count = std::max<std::int64_t>(0, count + delta);
  return count;
}

// ---- the VM ----

/// How much one execution may run; the thread's extra space points at it (see count_hook).
struct Budget {
  std::uint64_t used = 0;
  std::uint64_t limit = 0;
  bool exceeded = false;
  Run* run = nullptr;  // null at a script's top level
};

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

  /// Runs `thread` with the memory limit on.
  int resume(lua_State* thread, int nargs, int* results) {
    enforce_limit = true;
    int status = lua_resume(thread, nullptr, nargs, results);
    enforce_limit = false;
    return status;
  }

 private:
  void push_env(const AppScript& script);
  std::vector<std::pair<std::string, int>> envs_;
};

lua_State* Run::vm_state() const noexcept { return vm->L; }

namespace {

constexpr const char* kClientType = "weir.Client";
constexpr const char* kVerdictType = "weir.Verdict";
constexpr const char* kClientCache = "weir.clients";
// Bodies beyond this are cut: an auth backend answers in bytes, not megabytes.
constexpr std::size_t kMaxHttpBody = 1 << 20;

Vm& vm_of(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return *static_cast<Vm*>(ud);
}

Budget*& budget_of(lua_State* L) { return *static_cast<Budget**>(lua_getextraspace(L)); }

void* allocate(void* ud, void* block, std::size_t old_size, std::size_t size) noexcept {
  Vm& vm = *static_cast<Vm*>(ud);
  std::size_t old = block ? old_size : 0;  // for a new block, old_size is the object's type
  if (size == 0) {
    std::free(block);
    vm.used_bytes -= old;
    return nullptr;
  }
  if (vm.enforce_limit && size > old && vm.used_bytes + (size - old) > vm.shared.config.memory_limit_bytes)
    return nullptr;  // Lua raises "not enough memory" in the script
  void* moved = std::realloc(block, size);
  if (!moved) return nullptr;
  vm.used_bytes = vm.used_bytes - old + size;
  return moved;
}

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

int value_depth(const Value& v) {
  int deepest = 0;
  for (const Value& item : v.items()) deepest = std::max(deepest, value_depth(item));
  for (const auto& [key, member] : v.members()) deepest = std::max(deepest, value_depth(member));
  return deepest + 1;
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

int push_result(lua_State* L, const Result<Value>& result) {
  if (result) {
    push_value(L, *result);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, result.error().message().c_str());
  return 2;
}

Result<std::vector<Value>> read_args(lua_State* L, int first) {
  std::vector<Value> args;
  for (int i = first; i <= lua_gettop(L); ++i) {
    auto v = to_value(L, i);
    if (!v) return v.error().with_context(format("argument {}", i - first + 1));
    args.push_back(std::move(*v));
  }
  return args;
}

// Lua errors and yields are longjmps here (C Lua): they must never cross a live C++ object, or
// its destructor is skipped. So the C functions below do their C++ work in an inner scope that
// ends in one of these outcomes, and only then raise or yield, with nothing left to destroy.
constexpr int kRaise = -2;  // an error message is on the stack
constexpr int kYield = -1;  // LuaGroup::wait() started a wait

int raise(lua_State* L, std::string_view message) {
  lua_pushlstring(L, message.data(), message.size());
  return kRaise;
}

int conclude(lua_State* L, int outcome) {
  if (outcome == kRaise) return lua_error(L);
  if (outcome == kYield) return lua_yield(L, 0);
  return outcome;
}

// A field of a table without metamethods (they could raise through our C++ objects).
int raw_field(lua_State* L, int table, const char* name) {
  lua_pushstring(L, name);
  return lua_rawget(L, table);
}

// ---- the client object ----

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
  int outcome;
  {
    auto args = read_args(L, 3);
    if (!args) {
      outcome = raise(L, "client:call: " + args.error().message());
    } else if (!group) {
      outcome = raise(L, "client:call: no client here");
    } else {
      outcome = group->wait(L, "client:call",
                            [client = box->client, method = std::string(name), values = std::move(*args)](LuaDone done) mutable {
                              client->call(method, std::move(values), std::move(done));
                            });
    }
  }
  return conclude(L, outcome);
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
  int outcome = 0;
  {
    auto v = to_value(L, 3);
    if (!v) {
      outcome = raise(L, format("client:set('{}'): {}", key, v.error().message()));
    } else {
      if (!client.values().is_object()) client.values() = Value::object();
      client.values().set(key, std::move(*v));
    }
  }
  return conclude(L, outcome);
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
  std::string s = format("client {} {} {}", client.id(), client.protocol(), client.address());
  lua_pushlstring(L, s.data(), s.size());
  return 1;
}

int client_gc(lua_State* L) {
  static_cast<ClientBox*>(luaL_checkudata(L, 1, kClientType))->~ClientBox();
  return 0;
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
  new (lua_newuserdatauv(L, sizeof(ClientBox), 0)) ClientBox{client};
  luaL_setmetatable(L, kClientType);
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, static_cast<lua_Integer>(client->id()));
  lua_remove(L, -2);
}

// ---- weir.* ----

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
    for (const char* field : {"name", "lifetime", "values"}) {
      lua_getfield(L, 1, field);
      lua_setfield(L, -2, field);
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
  push_value(L, Value::date(luaL_checknumber(L, 1)));
  return 1;
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
// Upvalue 1: the app's name.
int weir_log(lua_State* L) {
  const char* line = log_line(L);
  vm_of(L).shared.logger.info("app={}: {}", lua_tostring(L, lua_upvalueindex(1)), line);
  return 0;
}

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
  std::optional<std::int64_t> count;
  {
    // Counts are per app: one app cannot take another's slots.
    std::string key = std::string(lua_tostring(L, lua_upvalueindex(1))) + "/" + name;
    count = vm_of(L).shared.counts.add(key, delta, limit);
  }
  if (!count) {
    lua_pushnil(L);
    lua_pushliteral(L, "limit");
    return 2;
  }
  lua_pushinteger(L, *count);
  return 1;
}
int weir_sleep(lua_State* L) {
  lua_Integer ms = luaL_checkinteger(L, 1);
  luaL_argcheck(L, ms >= 0, 1, "a negative time");
  LuaGroup* group = vm_of(L).owner;
  if (!group) return luaL_error(L, "weir.sleep: only inside a hook");
  auto delay = std::chrono::milliseconds(ms);
  Budget* budget = budget_of(L);
  int outcome;
  {
    outcome = group->wait(L, "weir.sleep", [group, budget, delay](LuaDone done) {
      // wait() has checked that this is a hook's coroutine, so budget->run is set.
      budget->run->sleep = group->group().after(delay, [done = std::move(done)] { done(Value()); });
    });
  }
  return conclude(L, outcome);
}
struct HttpExchange {
  std::string url;
  std::string method = "GET";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds timeout{5000};
  Poco::Net::Context::Ptr https_context;  // null: made for this request
  std::string ca_file;                    // for a context made here
  int status = 0;
  std::string response_body;
  std::vector<std::pair<std::string, std::string>> response_headers;
};

// On the worker pool: a blocking exchange with Poco, bounded by the timeout.
Status http_exchange(HttpExchange& x) {
  try {
    Poco::URI uri(x.url);
    std::unique_ptr<Poco::Net::HTTPClientSession> connection;
    if (uri.getScheme() == "https") {
      Poco::Net::Context::Ptr context = x.https_context;
      if (context.isNull()) {
        LuaConfig config;
        config.http_ca_file = x.ca_file;
        auto made = make_https_context(config);
        if (!made) return made.error().with_context("weir.http");
        context = *made;
      }
      connection = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), context);
    } else if (uri.getScheme() == "http") {
      connection = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    } else {
      return error(Errc::unsupported, "weir.http: {}: only http:// and https:// URLs", x.url);
    }
    Poco::Net::HTTPClientSession& session = *connection;
    session.setTimeout(Poco::Timespan(static_cast<long>(x.timeout.count()) * 1000));
    std::string target = uri.getPathAndQuery();
    if (target.empty()) target = "/";
    Poco::Net::HTTPRequest request(x.method, target, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : x.headers) request.set(name, value);
    if (!x.body.empty() || x.method == "POST" || x.method == "PUT")
      request.setContentLength(static_cast<std::streamsize>(x.body.size()));
    std::ostream& out = session.sendRequest(request);
    out << x.body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    x.status = static_cast<int>(response.getStatus());
    char buffer[16384];
    while (in && x.response_body.size() < kMaxHttpBody) {
      in.read(buffer, static_cast<std::streamsize>(std::min(sizeof buffer, kMaxHttpBody - x.response_body.size())));
      x.response_body.append(buffer, static_cast<std::size_t>(in.gcount()));
    }
    for (const auto& [name, value] : response) {
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      x.response_headers.emplace_back(lower, value);
    }
    return ok();
  } catch (const Poco::Exception& e) {
    return error(Errc::io, "weir.http {} {}: {}", x.method, x.url, e.displayText());
  } catch (const std::exception& e) {
    return error(Errc::io, "weir.http {} {}: {}", x.method, x.url, e.what());
  }
}

// weir.http{url=, method=, body=, headers={}, timeout_ms=} -> {status=, body=, headers={}} or nil, err
int weir_http(lua_State* L) {
  if (lua_type(L, 1) != LUA_TSTRING) luaL_checktype(L, 1, LUA_TTABLE);
  LuaGroup* group = vm_of(L).owner;
  if (!group) return luaL_error(L, "weir.http: only inside a hook");
  int outcome;
  {
    auto x = std::make_shared<HttpExchange>();
    bool valid = true;
    if (lua_type(L, 1) == LUA_TSTRING) {
      x->url = lua_tostring(L, 1);
    } else {
      if (raw_field(L, 1, "url") == LUA_TSTRING) x->url = lua_tostring(L, -1);
      else valid = false;
      if (raw_field(L, 1, "method") == LUA_TSTRING) x->method = lua_tostring(L, -1);
      if (raw_field(L, 1, "body") == LUA_TSTRING) {
        std::size_t length = 0;
        const char* body = lua_tolstring(L, -1, &length);
        x->body.assign(body, length);
      }
      if (raw_field(L, 1, "timeout_ms") == LUA_TNUMBER && lua_isinteger(L, -1))
        x->timeout = std::chrono::milliseconds(std::max<lua_Integer>(1, lua_tointeger(L, -1)));
      if (raw_field(L, 1, "headers") == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
          if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING)
            x->headers.emplace_back(lua_tostring(L, -2), lua_tostring(L, -1));
          lua_pop(L, 1);
        }
      }
      lua_pop(L, 5);
    }
    x->timeout = std::min(x->timeout, group->shared().config.hook_timeout);
    x->https_context = group->shared().https_context;
    x->ca_file = group->shared().config.http_ca_file;
    if (!valid) {
      outcome = raise(L, "weir.http: the request has no url");
    } else {
      outcome = group->wait(L, "weir.http", [group, x](LuaDone done) {
        group->group().run_blocking([x] { return http_exchange(*x); },
                                    [x, done = std::move(done)](Status status) {
                                      if (!status) {
                                        done(std::move(status));
                                        return;
                                      }
                                      Value headers = Value::object();
                                      for (auto& [name, value] : x->response_headers) headers.set(name, value);
                                      done(Value::object({{"status", x->status},
                                                          {"body", std::move(x->response_body)},
                                                          {"headers", std::move(headers)}}));
                                    });
      });
    }
  }
  return conclude(L, outcome);
}
// A module's function (weir/lua.h). Upvalue 1: its index in LuaShared::functions.
int module_function(lua_State* L) {
  Vm& vm = vm_of(L);
  auto index = static_cast<std::size_t>(lua_tointeger(L, lua_upvalueindex(1)));
  const ModuleFunction& f = vm.shared.functions[index];
  int outcome;
  {
    std::string what = "weir." + f.library + "." + f.name;
    auto args = read_args(L, 1);
    if (!args) {
      outcome = raise(L, what + ": " + args.error().message());
    } else if (!vm.owner) {
      outcome = raise(L, what + ": only inside a hook");
    } else {
      PollGroup& group = vm.owner->group();
      outcome = vm.owner->wait(L, what.c_str(), [&f, &group, values = std::move(*args)](LuaDone done) mutable {
        f.fn(group, std::move(values), std::move(done));
      });
    }
  }
  return conclude(L, outcome);
}
// ---- shared objects (weir/shared_objects.h) ----
//
// A script's handle is only the key (app, name, persistent): every call goes to the kernel's
// SharedObjects of the script's group, which routes it to the object's owner group and answers
// here; the coroutine waits meanwhile. The kernel propagates each change to every subscriber
// (RTMP clients on any group), so the binding keeps no state of its own.

constexpr const char* kSharedObjectType = "weir.SharedObject";

SharedObjectKey& check_shared_object(lua_State* L) {
  return *static_cast<SharedObjectKey*>(luaL_checkudata(L, 1, kSharedObjectType));
}

// Starts `request(objects, done)` as the running hook's wait; `what` names the call in errors.
template <class Request>
int shared_object_wait(lua_State* L, const char* what, Request request) {
  LuaGroup* group = vm_of(L).owner;
  if (!group) return raise(L, std::string(what) + ": only inside a hook");
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
  int outcome;
  {
    auto value = to_value(L, 3);
    if (!value) {
      outcome = raise(L, format("so:set('{}'): {}", slot, value.error().message()));
    } else if (value->is_undefined()) {
      outcome = shared_object_wait(L, "so:set", [key, slot = std::string(slot)](SharedObjects& objects, LuaDone done) {
        objects.remove(key, slot, answer_status(std::move(done)));
      });
    } else {
      outcome = shared_object_wait(L, "so:set", [key, slot = std::string(slot), value = std::move(*value)](
                                                    SharedObjects& objects, LuaDone done) mutable {
        objects.set(key, slot, std::move(value), answer_status(std::move(done)));
      });
    }
  }
  return conclude(L, outcome);
}

// so:remove(slot) -> true or nil, err.
int so_remove(lua_State* L) {
  SharedObjectKey& key = check_shared_object(L);
  const char* slot = luaL_checkstring(L, 2);
  int outcome;
  {
    outcome = shared_object_wait(L, "so:remove", [key, slot = std::string(slot)](SharedObjects& objects, LuaDone done) {
      objects.remove(key, slot, answer_status(std::move(done)));
    });
  }
  return conclude(L, outcome);
}

// so:clear() -> true or nil, err.
int so_clear(lua_State* L) {
  SharedObjectKey& key = check_shared_object(L);
  int outcome;
  {
    outcome = shared_object_wait(L, "so:clear", [key](SharedObjects& objects, LuaDone done) {
      objects.clear(key, answer_status(std::move(done)));
    });
  }
  return conclude(L, outcome);
}

// so:send(handler, ...) -> true or nil, err: handler(...) on every subscriber.
int so_send(lua_State* L) {
  SharedObjectKey& key = check_shared_object(L);
  const char* handler = luaL_checkstring(L, 2);
  int outcome;
  {
    auto args = read_args(L, 3);
    if (!args) {
      outcome = raise(L, format("so:send('{}'): {}", handler, args.error().message()));
    } else {
      outcome = shared_object_wait(L, "so:send", [key, handler = std::string(handler), args = std::move(*args)](
                                                     SharedObjects& objects, LuaDone done) mutable {
        objects.send(key, handler, std::move(args), answer_status(std::move(done)));
      });
    }
  }
  return conclude(L, outcome);
}

// so:get(slot) -> the slot's value (nil when absent); so:get() -> a table of every slot. Read on
// the object's owner group: the current value, whichever group changed it last.
int so_get(lua_State* L) {
  SharedObjectKey& key = check_shared_object(L);
  const char* slot = luaL_optstring(L, 2, nullptr);
  int outcome;
  {
    std::optional<std::string> wanted;
    if (slot) wanted = slot;
    outcome = shared_object_wait(L, "so:get", [key, wanted](SharedObjects& objects, LuaDone done) {
      objects.get(key, [wanted, done = std::move(done)](Result<SharedObjectSnapshot> snapshot) {
        if (!snapshot) return done(snapshot.error());
        if (!wanted) return done(std::move(snapshot->slots));
        const Value* v = snapshot->slots.find(*wanted);
        done(v ? *v : Value());
      });
    });
  }
  return conclude(L, outcome);
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

int so_gc(lua_State* L) {
  static_cast<SharedObjectKey*>(luaL_checkudata(L, 1, kSharedObjectType))->~SharedObjectKey();
  return 0;
}

// weir.shared_object(name[, persistent]) -> the app's object `name`. Upvalue 1: the app. Only a
// handle (nothing is made or subscribed): it may be taken at a script's top level.
int weir_shared_object(lua_State* L) {
  std::size_t length = 0;
  const char* name = luaL_checklstring(L, 1, &length);
  luaL_argcheck(L, length > 0, 1, "an empty name");
  bool persistent = lua_toboolean(L, 2) != 0;
  void* box = lua_newuserdatauv(L, sizeof(SharedObjectKey), 0);  // may raise: no C++ object yet
  new (box) SharedObjectKey{lua_tostring(L, lua_upvalueindex(1)), std::string(name, length), persistent};
  luaL_setmetatable(L, kSharedObjectType);
  return 1;
}

// weir.shared_object_names() -> {{name =, persistent =}, ...}: the app's objects in memory on any
// group and the persistent ones stored. Upvalue 1: the app.
int weir_shared_object_names(lua_State* L) {
  int outcome;
  {
    std::string app = lua_tostring(L, lua_upvalueindex(1));
    outcome = shared_object_wait(L, "weir.shared_object_names", [app](SharedObjects& objects, LuaDone done) {
      objects.names(app, [done = std::move(done)](Result<std::vector<SharedObjectKey>> names) {
        if (!names) return done(names.error());
        std::vector<Value> items;
        for (const SharedObjectKey& key : *names)
          items.push_back(Value::object({{"name", key.name}, {"persistent", key.persistent}}));
        done(Value::array(std::move(items)));
      });
    });
  }
  return conclude(L, outcome);
}

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

Vm::Vm(LuaGroup* owner_group, const LuaShared& shared_state) : owner(owner_group), shared(shared_state) {
  L = lua_newstate(allocate, this);
  if (!L) std::abort();  // allocation failure is fatal
  budget_of(L) = nullptr;
  // The libraries scripts may see; io and os only in part or on request (see push_env).
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
  luaL_newmetatable(L, kClientType);
  lua_pushcfunction(L, client_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, client_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, client_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
  luaL_newmetatable(L, kSharedObjectType);
  lua_pushcfunction(L, so_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, so_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, so_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
  luaL_newmetatable(L, kVerdictType);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
  lua_newtable(L);  // the client cache: weak values, an entry lives as long as a script holds it
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, kClientCache);
}

void Vm::push_env(const AppScript& script) {
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

  lua_newtable(L);  // weir
  int weir = lua_gettop(L);
  push_null(L);
  lua_setfield(L, weir, "null");
  const luaL_Reg functions[] = {{"accept", weir_accept}, {"reject", weir_reject}, {"redirect", weir_redirect},
                                {"date", weir_date},     {"array", weir_array},   {"now_ms", weir_now_ms},
                                {"sleep", weir_sleep},   {"http", weir_http},     {nullptr, nullptr}};
  luaL_setfuncs(L, functions, 0);
  lua_pushstring(L, script.app.c_str());
  lua_pushcclosure(L, weir_log, 1);
  lua_setfield(L, weir, "log");
  lua_pushstring(L, script.app.c_str());
  lua_pushcclosure(L, weir_warn, 1);
  lua_setfield(L, weir, "warn");
  lua_pushstring(L, script.app.c_str());
  lua_setfield(L, weir, "app");
  lua_pushstring(L, script.app.c_str());
  lua_pushcclosure(L, weir_count, 1);
  lua_setfield(L, weir, "count");
  lua_pushstring(L, script.app.c_str());
  lua_pushcclosure(L, weir_shared_object, 1);
  lua_setfield(L, weir, "shared_object");
  lua_pushstring(L, script.app.c_str());
  lua_pushcclosure(L, weir_shared_object_names, 1);
  lua_setfield(L, weir, "shared_object_names");
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
  lua_setfield(L, env, "weir");
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
  push_env(script);
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

// ---- LuaGroup ----

LuaGroup::LuaGroup(PollGroup& group, const LuaShared* shared, std::shared_ptr<const Sources> sources)
    : group_(group), shared_(shared) {
  vm_ = std::make_shared<Vm>(this, *shared_);
  for (const ScriptSource& source : *sources) {
    Status loaded = vm_->load(source);
    if (!loaded) shared_->logger.error("group={} {} (the app rejects requests)", group_.id(), loaded.message());
  }
}

LuaGroup::~LuaGroup() {
  // Runs end with the group: their callbacks are not called (the connections are gone too).
  runs_.clear();
  vm_.reset();
}

Status LuaGroup::check_scripts(const LuaShared& shared, const Sources& sources) {
  Vm vm(nullptr, shared);
  for (const ScriptSource& source : sources) WEIR_TRY(vm.load(source));
  return ok();
}

Result<Poco::Net::Context::Ptr> make_https_context(const LuaConfig& config) {
  try {
    // VERIFY_STRICT: the chain must verify, and Poco's extended verification checks the host
    // name against the certificate for every host (VERIFY_RELAXED skips it for localhost).
    Poco::Net::Context::Ptr context(new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, config.http_ca_file,
                                                           Poco::Net::Context::VERIFY_STRICT, 9, true));
    if (!context->extendedCertificateVerificationEnabled()) context->enableExtendedCertificateVerification(true);
    return context;
  } catch (const Poco::Exception& e) {
    return error(Errc::config, "[lua] http_ca_file {}: {}", config.http_ca_file, e.displayText());
  }
}

Result<std::shared_ptr<const Sources>> read_sources(const LuaConfig& config) {
  auto sources = std::make_shared<Sources>();
  for (const AppScript& script : config.apps) {
    std::ifstream in(script.path, std::ios::binary);
    if (!in) return error(Errc::config, "[lua] app.{}: cannot read {}", script.app, script.path);
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return error(Errc::io, "[lua] app.{}: reading {} failed", script.app, script.path);
    sources->push_back(ScriptSource{script, text.str()});
  }
  return std::shared_ptr<const Sources>(std::move(sources));
}

Status LuaGroup::reload(const Sources& sources) {
  auto vm = std::make_shared<Vm>(this, *shared_);
  for (const ScriptSource& source : sources) {
    Status loaded = vm->load(source);
    if (!loaded) return loaded.with_context("reload (keeping the running scripts)");
  }
  vm_ = std::move(vm);  // runs in progress keep the old Vm alive until they end
  return ok();
}

bool LuaGroup::has_function(std::string_view app, std::string_view table, std::string_view name) const noexcept {
  int env = vm_->env(app);
  if (env == LUA_NOREF) return false;
  // Raw lookups only: a script's metatables must not run here, outside any budget.
  lua_State* L = vm_->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, env);
  bool found = false;
  if (!table.empty()) {
    lua_pushlstring(L, table.data(), table.size());
    if (lua_rawget(L, -2) == LUA_TTABLE) {
      lua_pushlstring(L, name.data(), name.size());
      found = lua_rawget(L, -2) == LUA_TFUNCTION;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  } else {
    lua_pushlstring(L, name.data(), name.size());
    found = lua_rawget(L, -2) == LUA_TFUNCTION;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return found;
}

bool LuaGroup::has_hook(std::string_view app, AppHook hook, std::string_view method) const noexcept {
  if (!shared_->config.find(app)) return false;
  // A configured app whose script failed to load answers by its fail policy (request()).
  if (vm_->env(app) == LUA_NOREF)
    return hook == AppHook::connect || hook == AppHook::publish || hook == AppHook::play;
  if (hook == AppHook::call) return has_function(app, "methods", method);
  return has_function(app, {}, "on_" + std::string(app_hook_name(hook)));
}

bool LuaGroup::has_http_hook(std::string_view app) const noexcept {
  return shared_->config.find(app) && has_function(app, {}, "on_http_request");
}

void LuaGroup::request_http(std::string_view app, Value request, AppVerdictCallback done) {
  start(vm_, nullptr, std::string(app), RunKind::http, AppRequest{AppHook::call, {}, {std::move(request)}},
        std::move(done), 0);
}

void LuaGroup::request(std::shared_ptr<AppClient> client, AppRequest request, AppVerdictCallback done) {
  std::string app(client->app());
  start(vm_, std::move(client), std::move(app), RunKind::client, std::move(request), std::move(done), 0);
}

void LuaGroup::server_start() {
  for (const AppScript& script : shared_->config.apps)
    if (has_function(script.app, {}, "on_server_start"))
      start(vm_, nullptr, script.app, RunKind::server_start,
            AppRequest{AppHook::call, {}, {Value::object({{"name", script.app}})}}, nullptr, 0);
}

Run* LuaGroup::find(std::uint64_t run_id) noexcept {
  auto it = runs_.find(run_id);
  return it == runs_.end() ? nullptr : it->second.get();
}

void LuaGroup::start(std::shared_ptr<Vm> vm, std::shared_ptr<AppClient> client, std::string app, RunKind kind,
                     AppRequest request, AppVerdictCallback done, int attempt) {
  auto run = std::make_unique<Run>();
  run->id = next_run_++;
  run->vm = vm;
  run->script = shared_->config.find(app);
  run->app = std::move(app);
  run->kind = kind;
  run->client = std::move(client);
  run->request = std::move(request);
  run->done = std::move(done);
  run->attempt = attempt;
  run->budget.limit = shared_->config.instruction_limit;
  run->budget.run = run.get();
  std::uint64_t id = run->id;
  runs_.emplace(id, std::move(run));
  Run& r = *runs_[id];
  lua_State* L = vm->L;
  int env = r.script ? vm->env(r.script->app) : LUA_NOREF;
  if (env == LUA_NOREF) {
    fail(id, Errc::not_found, r.script ? "the script did not load" : "no script for this app");
    return;
  }
  // The hook's function, or accept when the script does not define it.
  lua_rawgeti(L, LUA_REGISTRYINDEX, env);
  if (r.kind == RunKind::http) {
    lua_pushliteral(L, "on_http_request");
    lua_rawget(L, -2);
  } else if (r.kind == RunKind::server_start) {
    lua_pushliteral(L, "on_server_start");
    lua_rawget(L, -2);
  } else if (r.request.hook == AppHook::call) {
    lua_pushliteral(L, "methods");
    if (lua_rawget(L, -2) == LUA_TTABLE) {
      lua_pushstring(L, r.request.method.c_str());
      lua_rawget(L, -2);
      lua_remove(L, -2);
    }
  } else {
    std::string name = "on_" + std::string(app_hook_name(r.request.hook));
    lua_pushstring(L, name.c_str());
    lua_rawget(L, -2);
  }
  lua_remove(L, -2);  // env
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    if (r.kind == RunKind::http) fail(id, Errc::not_found, "no on_http_request");
    else if (r.kind == RunKind::client && r.request.hook == AppHook::call)
      fail(id, Errc::not_found, "no method '" + r.request.method + "'");
    else finish(id, AppVerdict{});
    return;
  }
  for (const Value& arg : r.request.args) {
    if (value_depth(arg) >= kMaxDepth) {
      lua_pop(L, 1);
      fail(id, Errc::limit, format("an argument nested deeper than {} levels", kMaxDepth));
      return;
    }
  }
  r.thread = lua_newthread(L);
  r.thread_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_xmove(L, r.thread, 1);
  budget_of(r.thread) = &r.budget;
  lua_sethook(r.thread, count_hook, LUA_MASKCOUNT, kHookStep);
  luaL_checkstack(r.thread, static_cast<int>(r.request.args.size()) + 4, "hook arguments");
  int nargs = static_cast<int>(r.request.args.size());
  if (r.client) {
    push_client(r.thread, r.client);
    ++nargs;
  }
  for (const Value& arg : r.request.args) push_value(r.thread, arg);
  std::weak_ptr<int> alive = alive_;
  r.deadline = group_.after(shared_->config.hook_timeout, [this, alive, id] {
    if (alive.expired()) return;
    fail(id, Errc::timeout, format("no answer within {} ms (hook_timeout)", shared_->config.hook_timeout.count()));
  });
  resume(id, nargs);
}

int LuaGroup::wait(lua_State* L, const char* what, const std::function<void(LuaDone)>& start_wait) {
  Budget* budget = budget_of(L);
  Run* run = budget ? budget->run : nullptr;
  if (!run || run->thread != L || !lua_isyieldable(L))
    return raise(L, format("{}: waits only in a hook's own coroutine (not at a script's top level, in a coroutine "
                           "the script made, or inside a C call such as table.sort)", what));
  struct State {
    bool returned = false;
    std::optional<Result<Value>> early;
  };
  auto state = std::make_shared<State>();
  std::uint64_t id = run->id;
  std::uint64_t seq = ++run->wait_seq;
  std::weak_ptr<int> alive = alive_;
  start_wait([this, state, id, seq, alive](Result<Value> result) {
    if (!state->returned) {  // answered at once: no need to yield
      state->early = std::move(result);
      return;
    }
    if (alive.expired()) return;
    Run* r = find(id);
    if (!r || !r->waiting || r->wait_seq != seq) return;  // timed out, or answered twice
    r->waiting = false;
    r->sleep.reset();
    int n = push_result(r->thread, result);
    resume(id, n);
  });
  state->returned = true;
  if (state->early) return push_result(L, *state->early);
  run->waiting = true;
  return kYield;  // the caller yields once its C++ objects are gone (conclude())
}

namespace {

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

}  // namespace

void LuaGroup::resume(std::uint64_t run_id, int nargs) {
  Run* run = find(run_id);
  if (!run) return;
  lua_State* T = run->thread;
  int results = 0;
  int status = run->vm->resume(T, nargs, &results);
  run = find(run_id);
  if (!run) return;
  if (status == LUA_YIELD) {
    if (run->budget.exceeded) {
      fail(run_id, Errc::limit,
           format("stopped after {} instructions (instruction_limit {})", run->budget.used, run->budget.limit));
      return;
    }
    if (!run->waiting) {
      fail(run_id, Errc::malformed, "the hook yielded without waiting for anything (coroutine.yield in a hook?)");
      return;
    }
    lua_pop(T, results);
    return;
  }
  if (status != LUA_OK) {
    std::string message = error_text(T, -1);
    lua_State* L = run->vm->L;
    luaL_traceback(L, T, message.c_str(), 0);
    std::string traceback = error_text(L, -1);
    lua_pop(L, 1);
    fail(run_id, run->budget.exceeded ? Errc::limit : Errc::internal, traceback);
    return;
  }
  auto verdict = verdict_from(T, lua_gettop(T) - results + 1, results, run->request.hook);
  lua_settop(T, 0);
  if (!verdict) {
    fail(run_id, Errc::malformed, verdict.error().message());
    return;
  }
  finish(run_id, std::move(*verdict));
}

void LuaGroup::finish(std::uint64_t run_id, AppVerdict verdict) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return;
  AppVerdictCallback done = std::move(it->second->done);
  runs_.erase(it);
  // Never inside request(), and never inside the script's call stack.
  if (done) group_.defer([done = std::move(done), verdict = std::move(verdict)]() mutable { done(std::move(verdict)); });
}

void LuaGroup::fail(std::uint64_t run_id, Errc code, const std::string& why) {
  Run* run = find(run_id);
  if (!run) return;
  const AppRequest& request = run->request;
  std::string hook = run->kind == RunKind::http           ? std::string("on_http_request")
                     : run->kind == RunKind::server_start ? std::string("on_server_start")
                     : request.hook == AppHook::call      ? "methods." + request.method
                                                          : "on_" + std::string(app_hook_name(request.hook));
  std::string script = run->script ? run->script->name : "-";
  std::string conn = run->client ? std::to_string(run->client->id()) : "-";
  if (code == Errc::timeout && run->attempt < shared_->config.hook_retries) {
    shared_->logger.warn("conn={} app={} script={} {}: {}; retrying ({} of {})", conn, run->app, script, hook, why,
                         run->attempt + 1, shared_->config.hook_retries);
    auto vm = vm_;  // a retry runs the current scripts
    auto client = run->client;
    std::string app = run->app;
    RunKind kind = run->kind;
    AppRequest again = run->request;
    AppVerdictCallback done = std::move(run->done);
    int attempt = run->attempt + 1;
    runs_.erase(run_id);
    start(std::move(vm), std::move(client), std::move(app), kind, std::move(again), std::move(done), attempt);
    return;
  }
  bool open = run->kind == RunKind::client && shared_->config.fail_open[static_cast<std::size_t>(request.hook)];
  bool is_notification = run->kind == RunKind::server_start ||
                         (run->kind == RunKind::client &&
                          (request.hook == AppHook::unpublish || request.hook == AppHook::stop ||
                           request.hook == AppHook::disconnect || request.hook == AppHook::no_readers));
  shared_->logger.error("conn={} app={} script={} {} failed ({}){}: {}", conn, run->app, script, hook,
                        errc_name(code), is_notification ? "" : (open ? ", accepted (fail_open)" : ", rejected"), why);
  AppVerdict verdict;
  if (!open) {
    verdict.kind = AppVerdict::Kind::reject;
    // The client learns that the application failed, not how (the log says how).
    if (run->kind == RunKind::http) {
      verdict.code = code == Errc::timeout ? "504" : "500";
      verdict.description = "application error";
    } else if (request.hook == AppHook::call) {
      verdict.description = code == Errc::not_found ? "Method not found (" + request.method + ")"
                                                    : "Method failed (" + request.method + ")";
    } else {
      verdict.description = "Rejected by the application (error)";
    }
  }
  finish(run_id, std::move(verdict));
}

}  // namespace weir::lua
