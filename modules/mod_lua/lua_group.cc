// SPDX-License-Identifier: Apache-2.0
#include "lua_group.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "lua_binding.h"
#include "lua_client.h"
#include "lua_library.h"
#include "lua_run.h"
#include "lua_value.h"
#include "lua_vm.h"

namespace weir::lua {

std::optional<std::int64_t> SharedCounts::add(const std::string& name, std::int64_t delta, std::int64_t limit) {
  std::lock_guard lock(mutex_);
  std::int64_t& count = counts_[name];
  if (delta > 0 && count + delta > limit) return std::nullopt;
  count = std::max<std::int64_t>(0, count + delta);
  return count;
}

lua_State* Run::vm_state() const noexcept { return vm->L; }

namespace {

int value_depth(const Value& v) {
  int deepest = 0;
  for (const Value& item : v.items()) deepest = std::max(deepest, value_depth(item));
  for (const auto& [key, member] : v.members()) deepest = std::max(deepest, value_depth(member));
  return deepest + 1;
}

}  // namespace

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

std::uint64_t LuaGroup::fail_allocation(std::uint64_t n) noexcept {
  std::uint64_t left = vm_->failing_allocation;
  vm_->failing_allocation = n;
  vm_->failed_allocation = {};
  return left;
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

Outcome LuaGroup::wait(lua_State* L, const char* what, const std::function<void(LuaDone)>& start_wait) {
  Budget* budget = budget_of(L);
  Run* run = budget ? budget->run : nullptr;
  if (!run || run->thread != L || !lua_isyieldable(L))
    return Outcome::failure(format("{}: waits only in a hook's own coroutine (not at a script's top level, in a "
                                   "coroutine the script made, or inside a C call such as table.sort)", what));
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
  if (state->early) return Outcome::result(std::move(*state->early));
  run->waiting = true;
  return Outcome::waiting();  // the caller yields once its C++ objects are gone (bind())
}

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
    if (status == LUA_ERRMEM) message += format(" (memory_limit of {} bytes)", shared_->config.memory_limit_bytes);
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
