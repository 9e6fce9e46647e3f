// SPDX-License-Identifier: Apache-2.0
// modules/mod_http/module.cc: mod_http provides the HTTP service (weir/services/http.h) and serves it.
// List it before the modules that add routes: [server] modules = mod_http, mod_rtmp, ...
#include <memory>

#include "http_session.h"
#include "weir/module.h"

namespace weir::http {
namespace {

HttpConfig g_config;
std::shared_ptr<Routes> g_routes;
Logger g_logger;

class HttpAcceptor final : public Acceptor {
 public:
  std::unique_ptr<ConnectionHandler> accept(Connection& connection) noexcept override {
    return std::make_unique<HttpSession>(connection, *g_routes, g_config, g_logger);
  }
};

Status register_module(Registrar& registrar) {
  const ConfigView& view = registrar.config();
  auto listen = view.get_string("listen", g_config.listen);
  if (!listen) return listen.error();
  g_config.listen = *listen;
  auto header = view.get_bytes("max_header_size", g_config.max_header_bytes);
  if (!header) return header.error();
  g_config.max_header_bytes = *header;
  auto body = view.get_bytes("max_body_size", g_config.max_body_bytes);
  if (!body) return body.error();
  g_config.max_body_bytes = *body;
  auto idle = view.get_duration("idle_timeout", g_config.idle_timeout);
  if (!idle) return idle.error();
  g_config.idle_timeout = *idle;
  g_logger = registrar.logger("http");
  g_routes = std::make_shared<Routes>();
  // For load balancers and orchestration: the process is up and serving HTTP.
  WEIR_TRY(g_routes->route("GET", "/healthz", [](const HttpRequest&, std::shared_ptr<HttpResponder> responder) {
    responder->respond(HttpResponse{200, "text/plain; charset=utf-8", {}, "ok\n", {}});
  }));
  WEIR_TRY(registrar.provide<HttpService>(g_routes));
  return registrar.listen(ListenerSpec{"http", g_config.listen, false, {}}, std::make_shared<HttpAcceptor>());
}

}  // namespace
}  // namespace weir::http

WEIR_MODULE("mod_http", "0.1.0", "http", weir::http::register_module)
