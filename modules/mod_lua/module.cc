// SPDX-License-Identifier: Apache-2.0
// modules/mod_lua/module.cc: mod_lua provides the apps service (weir/services/apps.h: server-side
// applications as Lua scripts) and the lua service (weir/services/lua.h: other modules' functions for
// scripts). List it before the modules that use them: [server] modules = mod_lua, mod_rtmp.
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <string>
#include <memory>
#include <vector>

#include "lua_config.h"
#include "lua_group.h"
#include "lua_http.h"
#include "weir/services/apps.h"
#include "weir/services/http.h"
#include "weir/services/lua.h"
#include "weir/module.h"
#include "weir/per_group.h"
#include "weir/query.h"

namespace weir::lua {
namespace {

// Module-level state: built at registration, read-only once the groups run (the groups' LuaGroup
// are per group; the reload path only reads g_shared and posts new sources).
LuaShared g_shared;
PerGroup<LuaGroup> g_groups;
// Filled by each group on its own thread when it starts, read on the main thread at SIGHUP to
// post to the groups (PollGroup::post is callable from any thread).
std::unique_ptr<std::atomic<PollGroup*>[]> g_group_handles;
std::atomic<bool> g_registering{true};  // written by the groups as they start; read at registration

class Apps final : public AppsService {
 public:
  bool has_hook(PollGroup& group, std::string_view app, AppHook hook,
                std::string_view method) const noexcept override {
    if (!g_groups.has(group)) return false;
    return g_groups.local(group).has_hook(app, hook, method);
  }
  void request(std::shared_ptr<AppClient> client, AppRequest request, AppVerdictCallback done) noexcept override {
    PollGroup& group = client->group();
    if (!g_groups.has(group)) {
      if (done) group.defer([done = std::move(done)] { done(AppVerdict{}); });
      return;
    }
    g_groups.local(group).request(std::move(client), std::move(request), std::move(done));
  }
  std::chrono::milliseconds update_interval() const noexcept override { return g_shared.config.update_interval; }
  std::chrono::milliseconds no_readers_delay() const noexcept override { return g_shared.config.no_readers_delay; }
};

bool is_identifier(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

class LuaFunctions final : public LuaService {
 public:
  Status add_function(std::string_view library, std::string_view name, LuaFunction fn) override {
    if (!g_registering) return error(Errc::internal, "weir.{}.{}: functions are added at registration only", library, name);
    if (!is_identifier(library) || !is_identifier(name))
      return error(Errc::config, "weir.{}.{}: not a Lua identifier", library, name);
    static constexpr std::string_view kTaken[] = {"null", "accept", "reject", "redirect", "date", "array",
                                                  "now_ms", "sleep", "http", "log", "warn", "app",
                                                  "count", "env", "shared_object", "shared_object_names"};
    for (std::string_view taken : kTaken)
      if (library == taken) return error(Errc::exists, "weir.{} is mod_lua's own", library);
    for (const ModuleFunction& f : g_shared.functions)
      if (f.library == library && f.name == name) return error(Errc::exists, "weir.{}.{} is taken", library, name);
    g_shared.functions.push_back(ModuleFunction{std::string(library), std::string(name), std::move(fn)});
    return ok();
  }
};

// The request as scripts see it: {method, path, query, args, headers, body, address}; path is
// what follows <prefix><app>, "/" at least.
Value http_request_value(const HttpRequest& request, std::string_view path) {
  Value args = parse_query(request.query);
  Value headers = Value::object();
  for (const auto& [name, value] : request.headers)
    if (!headers.find(name)) headers.set(name, value);
  return Value::object({{"method", request.method},
                        {"path", path.empty() ? std::string("/") : std::string(path)},
                        {"query", request.query},
                        {"args", std::move(args)},
                        {"headers", std::move(headers)},
                        {"body", request.body},
                        {"address", request.peer_address}});
}

// What on_http_request returned: a string (200, text/plain), a table {status, body,
// content_type, headers}, nothing (204); a failure or weir.reject(code, description) is an error
// status (code "401".."599" as given, else 403; a script error 500, a timeout 504).
HttpResponse http_response(const AppVerdict& verdict) {
  HttpResponse response;
  if (verdict.kind != AppVerdict::Kind::accept) {
    int status = std::atoi(verdict.code.c_str());
    response.status = status >= 400 && status <= 599 ? status : 403;
    response.body = (verdict.description.empty() ? "refused" : verdict.description) + "\n";
    return response;
  }
  const Value& result = verdict.result;
  if (result.is_undefined() || result.is_null()) {
    response.status = 204;
  } else if (result.is_string()) {
    response.body = std::string(result.as_string());
  } else if (result.is_object()) {
    if (const Value* status = result.find("status")) response.status = static_cast<int>(status->as_number(200));
    if (response.status < 100 || response.status > 599) response.status = 500;
    if (const Value* body = result.find("body")) response.body = std::string(body->as_string());
    if (const Value* type = result.find("content_type")) response.content_type = std::string(type->as_string());
    if (const Value* headers = result.find("headers"))
      for (const auto& [name, value] : headers->members())
        response.headers.emplace_back(name, std::string(value.as_string()));
  } else {
    response.status = 500;
    response.body = "on_http_request returned neither a string nor a table\n";
  }
  return response;
}

void serve_http(const HttpRequest& request, std::shared_ptr<HttpResponder> responder) {
  PollGroup& group = responder->group();
  std::string_view rest = std::string_view(request.path).substr(g_shared.config.http_prefix.size());
  auto slash = rest.find('/');
  std::string_view app = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (!g_groups.has(group) || !g_groups.local(group).has_http_hook(app)) {
    responder->respond(HttpResponse{404, "text/plain; charset=utf-8", {}, "no application route\n", {}});
    return;
  }
  g_groups.local(group).request_http(app, http_request_value(request, path),
                                     [responder](AppVerdict verdict) { responder->respond(http_response(verdict)); });
}

// main thread -> each group at SIGHUP: the scripts' new text.
struct ReloadScripts final : Task {
  explicit ReloadScripts(std::shared_ptr<const Sources> s, PollGroup& g) : sources(std::move(s)), group(g) {}
  void run() noexcept override {
    if (!g_groups.has(group)) return;
    Status reloaded = g_groups.local(group).reload(*sources);
    if (!reloaded) g_shared.logger.error("group={} {}", group.id(), reloaded.message());
    else g_shared.logger.info("group={} reloaded {} script(s)", group.id(), sources->size());
  }
  std::shared_ptr<const Sources> sources;
  PollGroup& group;  // the destination: the task runs on it
};

Status register_module(Registrar& registrar) {
  auto config = LuaConfig::parse(registrar.config());
  if (!config) return config.error();
  g_shared.config = std::move(*config);
  g_shared.logger = registrar.logger("lua");
  auto https = make_https_context(g_shared.config);  // an unreadable http_ca_file stops startup
  if (!https) return https.error();
  g_shared.https_context = *https;
  auto sources = read_sources(g_shared.config);
  if (!sources) return sources.error();
  // The functions other modules add come later (they register after us), so the startup check
  // runs scripts without them; a top level that calls one fails with "only inside a hook" anyway.
  WEIR_TRY(LuaGroup::check_scripts(g_shared, **sources));
  GroupId groups = registrar.group_count();
  g_group_handles = std::make_unique<std::atomic<PollGroup*>[]>(groups);
  registrar.on_group_start([](PollGroup& group) {
    g_registering = false;
    g_group_handles[group.id()].store(&group, std::memory_order_release);
  });
  g_groups.install(registrar, &g_shared, *sources);
  // on_server_start: once per process, on group 0 (registered after install, so its LuaGroup
  // exists), deferred so that the hooks run inside the loop and never hold up its start. A reload
  // does not run it again: the server did not start.
  registrar.on_group_start([](PollGroup& group) {
    if (group.id() != 0) return;
    group.defer([&group] {
      if (g_groups.has(group)) g_groups.local(group).server_start();
    });
  });
  registrar.on_reload([groups] {
    auto fresh = read_sources(g_shared.config);
    if (!fresh) {
      g_shared.logger.error("reload: {} (keeping the running scripts)", fresh.error().message());
      return;
    }
    Status checked = LuaGroup::check_scripts(g_shared, **fresh);
    if (!checked) {
      g_shared.logger.error("reload: {} (keeping the running scripts)", checked.message());
      return;
    }
    for (GroupId g = 0; g < groups; ++g) {
      PollGroup* group = g_group_handles[g].load(std::memory_order_acquire);
      if (group) group->post(g, std::make_unique<ReloadScripts>(*fresh, *group));
    }
  });
  // Optional: with mod_http listed before us, scripts answer HTTP under http_prefix.
  auto http = registrar.optional_service<HttpService>();
  if (!http) return http.error();
  if (*http && !g_shared.config.http_prefix.empty()) {
    for (const char* method : {"GET", "POST", "PUT", "DELETE", "HEAD"})
      WEIR_TRY((*http)->route(method, g_shared.config.http_prefix, serve_http));
  }
  WEIR_TRY(registrar.provide<AppsService>(std::make_shared<Apps>()));
  return registrar.provide<LuaService>(std::make_shared<LuaFunctions>());
}

}  // namespace
}  // namespace weir::lua

WEIR_MODULE("mod_lua", "0.1.0", "lua", weir::lua::register_module)
