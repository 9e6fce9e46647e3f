// SPDX-License-Identifier: Apache-2.0
// modules/mod_stats/module.cc: statistics over the shared HTTP layer (weir/services/http.h). Group 0
// samples the kernel's counters and streams every sample_interval (figures.h); every group keeps
// the latest snapshot and answers GET /api/v1/... and /metrics from it. docs/stats.md.
#include <memory>
#include <string>
#include <vector>

#include "dashboard.h"
#include "figures.h"
#include "weir/services/http.h"
#include "weir/services/lua.h"
#include "weir/module.h"
#include "weir/per_group.h"
#include "weir/services/stats.h"

namespace weir::stats {
namespace {

StatsConfig g_config;
Logger g_logger;
Clock::time_point g_started_at;

/// One per poll group: the latest figures, and on group 0 the sampler.
class StatsWorker {
 public:
  explicit StatsWorker(PollGroup& group) : group_(group) {
    if (group.id() != 0) return;
    sampler_ = std::make_unique<Sampler>(g_config, g_started_at);
    schedule(std::chrono::milliseconds(0));
  }

  /// The latest figures, or null before the first sample arrived. Thread: this group.
  const std::shared_ptr<const Figures>& latest() const noexcept { return latest_; }
  void set_latest(std::shared_ptr<const Figures> figures) noexcept { latest_ = std::move(figures); }

 private:
  void schedule(std::chrono::milliseconds delay) {
    timer_ = group_.after(delay, [this] { sample(); });
  }

  // One sample: counters, then streams, then /proc on the worker pool; each step is a message
  // answered on this group, so nothing here waits.
  // A sample in flight when the group stops finds `alive` expired and ends there.
  void sample() {
    std::weak_ptr<const bool> alive = alive_;
    group_.stats().collect([this, alive](StatsSnapshot server) {
      if (alive.expired()) return;
      group_.streams().collect([this, alive, server = std::move(server)](std::vector<StreamStats> streams) mutable {
        if (alive.expired()) return;
        auto process = std::make_shared<ProcessFigures>();
        group_.run_blocking([process] { return read_process_figures(*process); },
                            [this, alive, process, server = std::move(server), streams = std::move(streams)](Status status) mutable {
                              if (alive.expired()) return;
                              if (!status && !process_error_logged_) {
                                g_logger.warn("process figures unavailable: {}", status.message());
                                process_error_logged_ = true;
                              }
                              publish(sampler_->add(group_.now(), group_.group_count(), std::move(server),
                                                    std::move(streams), *process));
                              schedule(g_config.sample_interval);
                            });
      });
    });
  }

  void publish(std::shared_ptr<const Figures> figures);

  PollGroup& group_;
  const std::shared_ptr<const bool> alive_ = std::make_shared<const bool>(true);  // expires with this worker
  std::shared_ptr<const Figures> latest_;
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<Timer> timer_;
  bool process_error_logged_ = false;
  std::string refusal_;  // the admission state last sent to the groups
};

PerGroup<StatsWorker> g_workers;
// Each group's PollGroup, by id: a Task runs on its destination but is not handed that group, so
// FiguresReady finds it here. Each slot is written once by its own group at start and read only
// by that group's tasks.
std::vector<PollGroup*> g_groups;

/// Group 0 -> every group: the new snapshot (immutable, shared).
struct FiguresReady final : Task {
  FiguresReady(GroupId group, std::shared_ptr<const Figures> figures) : group(group), figures(std::move(figures)) {}
  void run() noexcept override {
    PollGroup& here = *g_groups[group];
    if (g_workers.has(here)) g_workers.local(here).set_latest(std::move(figures));
  }
  GroupId group;
  std::shared_ptr<const Figures> figures;
};

/// Group 0 -> every group: start or stop refusing new players.
struct AdmissionChanged final : Task {
  AdmissionChanged(GroupId group, std::string refusal) : group(group), refusal(std::move(refusal)) {}
  void run() noexcept override { g_groups[group]->streams().set_admission(std::move(refusal)); }
  GroupId group;
  std::string refusal;
};

void StatsWorker::publish(std::shared_ptr<const Figures> figures) {
  for (GroupId g = 0; g < group_.group_count(); ++g)
    if (g != group_.id()) group_.post(g, std::make_unique<FiguresReady>(g, figures));
  if (figures->refusal != refusal_) {
    refusal_ = figures->refusal;
    group_.streams().set_admission(refusal_);
    for (GroupId g = 0; g < group_.group_count(); ++g)
      if (g != group_.id()) group_.post(g, std::make_unique<AdmissionChanged>(g, refusal_));
  }
  latest_ = std::move(figures);
}

/// The figures for other modules (Lua), from the calling group's latest snapshot.
class StatsServiceImpl final : public StatsService {
 public:
  Value server(PollGroup& group) const override {
    const Figures* f = latest(group);
    return f ? server_value(*f) : Value::null();
  }
  Value streams(PollGroup& group) const override {
    const Figures* f = latest(group);
    return f ? streams_value(*f) : Value::null();
  }
  Value stream(PollGroup& group, const StreamKey& key) const override {
    const Figures* f = latest(group);
    if (!f) return Value::null();
    for (const StreamFigures& s : f->streams)
      if (s.kernel.key == key) return stream_value(s, f->taken_at, true);
    return Value::null();
  }

 private:
  static const Figures* latest(PollGroup& group) {
    return g_workers.has(group) ? g_workers.local(group).latest().get() : nullptr;
  }
};

const std::shared_ptr<StatsServiceImpl> g_service = std::make_shared<StatsServiceImpl>();

// A figure for a script: nil (not weir.null) when there is none yet or no such stream, so that
// `if not weir.stats.stream(app, name) then` reads as it should.
Value for_lua(Value figures) { return figures.is_null() ? Value() : std::move(figures); }

// weir.stats.server(), weir.stats.streams(), weir.stats.stream(app, name): the JSON of the
// matching endpoint as tables, from the calling group's latest sample (no wait, no message).
Status add_lua_functions(LuaService& lua) {
  WEIR_TRY(lua.add_function("stats", "server", [](PollGroup& group, std::vector<Value>, LuaDone done) {
    done(for_lua(g_service->server(group)));
  }));
  WEIR_TRY(lua.add_function("stats", "streams", [](PollGroup& group, std::vector<Value>, LuaDone done) {
    done(for_lua(g_service->streams(group)));
  }));
  return lua.add_function("stats", "stream", [](PollGroup& group, std::vector<Value> args, LuaDone done) {
    if (args.size() < 2 || !args[0].is_string() || !args[1].is_string())
      return done(Status(Errc::malformed, "weir.stats.stream(app, name): two strings"));
    done(for_lua(g_service->stream(group, StreamKey{std::string(args[0].as_string()), std::string(args[1].as_string())})));
  });
}

HttpResponse json_response(int status, const Value& value) {
  return HttpResponse{status, "application/json", {{"Cache-Control", "no-store"}}, to_json(value) + "\n", {}};
}

HttpResponse error_response(int status, std::string message) {
  Value v = Value::object();
  v.set("error", std::move(message));
  return json_response(status, v);
}

// Runs `fn(figures)` with this group's latest snapshot, or answers 503 before the first sample.
template <class Fn>
void with_figures(const std::shared_ptr<HttpResponder>& responder, Fn&& fn) {
  PollGroup& group = responder->group();
  if (!g_workers.has(group) || !g_workers.local(group).latest()) {
    responder->respond(error_response(503, "statistics are not gathered yet; retry in a second"));
    return;
  }
  responder->respond(fn(*g_workers.local(group).latest()));
}

// The JSON endpoints answer what the service gives other modules: one tree, two readers.
void serve_server(const HttpRequest&, std::shared_ptr<HttpResponder> responder) {
  with_figures(responder, [&](const Figures&) { return json_response(200, g_service->server(responder->group())); });
}

void serve_streams(const HttpRequest&, std::shared_ptr<HttpResponder> responder) {
  with_figures(responder, [&](const Figures&) { return json_response(200, g_service->streams(responder->group())); });
}

// /api/v1/streams/{app}/{name}: the name may hold slashes; the app may not.
void serve_stream(const HttpRequest& request, std::shared_ptr<HttpResponder> responder) {
  constexpr std::string_view prefix = "/api/v1/streams/";
  std::string_view rest(request.path);
  rest.remove_prefix(prefix.size());
  std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size()) {
    responder->respond(error_response(404, "expected /api/v1/streams/{app}/{name}, got " + request.path));
    return;
  }
  StreamKey key{std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1))};
  with_figures(responder, [&](const Figures&) {
    Value stream = g_service->stream(responder->group(), key);
    if (stream.type() == Value::Type::null) return error_response(404, "no stream " + key.to_string());
    return json_response(200, stream);
  });
}

void serve_metrics(const HttpRequest&, std::shared_ptr<HttpResponder> responder) {
  with_figures(responder, [](const Figures& f) {
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", {}, to_prometheus(f), {}};
  });
}

// Per client, on request: a fresh listing from every group (one message each).
void serve_clients(const HttpRequest&, std::shared_ptr<HttpResponder> responder) {
  responder->group().stats().collect_connections([responder](std::vector<ConnectionInfo> connections) {
    PollGroup& group = responder->group();
    const Figures* figures = g_workers.has(group) ? g_workers.local(group).latest().get() : nullptr;
    responder->respond(json_response(200, clients_value(connections, figures)));
  });
}

// Actions need "Authorization: Bearer <[stats] token>"; without a configured token they are off.
bool authorized(const HttpRequest& request, const std::shared_ptr<HttpResponder>& responder) {
  if (g_config.token.empty()) {
    responder->respond(error_response(403, "actions are disabled: set [stats] token to enable them"));
    return false;
  }
  if (request.header("authorization") != "Bearer " + g_config.token) {
    HttpResponse response = error_response(401, "actions need the header 'Authorization: Bearer <[stats] token>'");
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
    responder->respond(std::move(response));
    return false;
  }
  return true;
}

// POST /api/v1/clients/{id}/kick
void serve_kick(const HttpRequest& request, std::shared_ptr<HttpResponder> responder) {
  constexpr std::string_view prefix = "/api/v1/clients/", suffix = "/kick";
  std::string_view rest(request.path);
  rest.remove_prefix(prefix.size());
  ConnectionId id = 0;
  bool is_number = rest.ends_with(suffix) && rest.size() > suffix.size();
  if (is_number) {
    rest.remove_suffix(suffix.size());
    for (char c : rest) {
      if (c < '0' || c > '9' || id > (~ConnectionId{0} - 9) / 10) {
        is_number = false;
        break;
      }
      id = id * 10 + static_cast<ConnectionId>(c - '0');
    }
  }
  if (!is_number) {
    responder->respond(error_response(404, "expected /api/v1/clients/{id}/kick with a numeric id, got " + request.path));
    return;
  }
  if (!authorized(request, responder)) return;
  g_logger.info("kick conn={} asked by {}", id, request.peer_address);
  responder->group().stats().close_connection(
      id, error(Errc::denied, "kicked by an operator ({})", request.peer_address), [responder, id](bool found) {
        if (!found) {
          responder->respond(error_response(404, format("no client {}", id)));
          return;
        }
        Value v = Value::object();
        v.set("kicked", id);
        responder->respond(json_response(200, v));
      });
}

// POST /api/v1/streams/{app}/{name}/stop: the publisher's module ends the publication.
void serve_stop(const HttpRequest& request, std::shared_ptr<HttpResponder> responder) {
  constexpr std::string_view prefix = "/api/v1/streams/", suffix = "/stop";
  std::string_view rest(request.path);
  rest.remove_prefix(prefix.size());
  std::size_t slash = rest.find('/');
  if (!rest.ends_with(suffix) || slash == 0 || slash == std::string_view::npos ||
      slash + 1 >= rest.size() - suffix.size()) {
    responder->respond(error_response(404, "expected /api/v1/streams/{app}/{name}/stop, got " + request.path));
    return;
  }
  rest.remove_suffix(suffix.size());
  StreamKey key{std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1))};
  if (!authorized(request, responder)) return;
  g_logger.info("stop stream={} asked by {}", key.to_string(), request.peer_address);
  responder->group().streams().stop(
      key, error(Errc::denied, "stream stopped by an operator ({})", request.peer_address),
      [responder, text = key.to_string()](Status status) {
        if (status) {
          Value v = Value::object();
          v.set("stopped", text);
          responder->respond(json_response(200, v));
          return;
        }
        responder->respond(error_response(status.code() == Errc::not_found ? 404 : 409, status.message()));
      });
}

// The dashboard: "/" is index.html, "/NAME" a file of dashboard/. A prefix route, so any other
// path no module routes ends here too: 404.
void serve_dashboard(const HttpRequest& request, std::shared_ptr<HttpResponder> responder) {
  std::string_view name = request.path == "/" ? "index.html" : std::string_view(request.path).substr(1);
  for (const DashboardFile& file : dashboard_files()) {
    if (file.name != name) continue;
    std::string type = name.ends_with(".html") ? "text/html; charset=utf-8"
                       : name.ends_with(".js") ? "text/javascript; charset=utf-8"
                                               : "text/css; charset=utf-8";
    responder->respond(HttpResponse{200, std::move(type), {{"Cache-Control", "no-cache"}}, std::string(file.content), {}});
    return;
  }
  responder->respond(HttpResponse{404, "text/plain; charset=utf-8", {}, "no route for " + request.path + "\n", {}});
}

Status read_config(const ConfigView& view) {
  auto interval = view.get_duration("sample_interval", g_config.sample_interval);
  if (!interval) return interval.error();
  if (interval->count() < 100) return view.invalid("sample_interval", "must be at least 100ms");
  g_config.sample_interval = *interval;
  auto window = view.get_duration("rate_window", g_config.rate_window);
  if (!window) return window.error();
  if (*window < g_config.sample_interval) return view.invalid("rate_window", "must be at least sample_interval");
  g_config.rate_window = *window;
  auto history = view.get_int("history", static_cast<std::int64_t>(g_config.history), 1, 3600);
  if (!history) return history.error();
  g_config.history = static_cast<std::size_t>(*history);
  auto connections = view.get_int("max_connections", 0, 0, 10'000'000);
  if (!connections) return connections.error();
  g_config.max_connections = static_cast<std::uint64_t>(*connections);
  auto rate = view.get_bytes("max_send_rate", 0);
  if (!rate) return rate.error();
  g_config.max_send_rate_bytes = *rate;
  auto cpu = view.get_int("max_cpu", 0, 0, 100'000);
  if (!cpu) return cpu.error();
  g_config.max_cpu_percent = static_cast<double>(*cpu);
  auto token = view.get_string("token", "");
  if (!token) return token.error();
  g_config.token = *token;
  return ok();
}

Status register_module(Registrar& registrar) {
  WEIR_TRY(read_config(registrar.config()));
  g_logger = registrar.logger("stats");
  g_started_at = Clock::now();
  auto http = registrar.service<HttpService>();
  if (!http) return http.error();
  WEIR_TRY((*http)->route("GET", "/api/v1/server", serve_server));
  WEIR_TRY((*http)->route("GET", "/api/v1/streams", serve_streams));
  WEIR_TRY((*http)->route("GET", "/api/v1/streams/", serve_stream));
  WEIR_TRY((*http)->route("GET", "/metrics", serve_metrics));
  WEIR_TRY((*http)->route("GET", "/api/v1/clients", serve_clients));
  WEIR_TRY((*http)->route("POST", "/api/v1/clients/", serve_kick));
  WEIR_TRY((*http)->route("POST", "/api/v1/streams/", serve_stop));
  WEIR_TRY((*http)->route("GET", "/", serve_dashboard));
  g_groups.assign(registrar.group_count(), nullptr);
  registrar.on_group_start([](PollGroup& group) { g_groups[group.id()] = &group; });
  g_workers.install(registrar);
  // Optional: with mod_lua listed before us, scripts read the figures (weir.stats.*).
  auto lua = registrar.optional_service<LuaService>();
  if (!lua) return lua.error();
  if (*lua) WEIR_TRY(add_lua_functions(**lua));
  return registrar.provide<StatsService>(g_service);
}

}  // namespace
}  // namespace weir::stats

WEIR_MODULE("mod_stats", "0.1.0", "stats", weir::stats::register_module)
