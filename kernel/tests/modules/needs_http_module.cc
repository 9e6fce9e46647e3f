// SPDX-License-Identifier: Apache-2.0
// mod_test_needs_http: adds a route through the "http" service, as mod_stats does.
#include <memory>

#include "weir/services/http.h"
#include "weir/module.h"

namespace {
weir::Status register_module(weir::Registrar& registrar) {
  auto http = registrar.service<weir::HttpService>();
  if (!http) return http.error();
  return (*http)->route("GET", "/test", [](const weir::HttpRequest&, std::shared_ptr<weir::HttpResponder> responder) {
    responder->respond(weir::HttpResponse{200, "text/plain", {}, "ok\n", {}});
  });
}
}  // namespace

WEIR_MODULE("mod_test_needs_http", "0.0.1", "", register_module)
