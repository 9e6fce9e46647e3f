// SPDX-License-Identifier: Apache-2.0
#include "lua_http.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <istream>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "lua_binding.h"
#include "lua_group.h"
#include "lua_vm.h"

namespace weir::lua {
namespace {

// Bodies beyond this are cut: an auth backend answers in bytes, not megabytes.
constexpr std::size_t kMaxHttpBody = 1 << 20;

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

}  // namespace

// weir.http{url=, method=, body=, headers={}, timeout_ms=} -> {status=, body=, headers={}} or nil, err
int weir_http(lua_State* L) {
  if (lua_type(L, 1) != LUA_TSTRING) luaL_checktype(L, 1, LUA_TTABLE);
  LuaGroup* group = vm_of(L).owner;
  if (!group) return luaL_error(L, "weir.http: only inside a hook");
  // The request's fields onto the stack first: making their keys may raise, before any C++ object.
  bool is_table = lua_type(L, 1) == LUA_TTABLE;
  int url = 1, method = 0, body = 0, timeout = 0, headers = 0;
  if (is_table) {
    url = lua_gettop(L) + 1;
    method = url + 1;
    body = url + 2;
    timeout = url + 3;
    headers = url + 4;
    raw_field(L, 1, "url");
    raw_field(L, 1, "method");
    raw_field(L, 1, "body");
    raw_field(L, 1, "timeout_ms");
    raw_field(L, 1, "headers");
  }
  return bind(L, [&] {
    auto x = std::make_shared<HttpExchange>();
    if (lua_type(L, url) != LUA_TSTRING) return Outcome::failure("weir.http: the request has no url");
    x->url = lua_tostring(L, url);
    if (is_table) {
      if (lua_type(L, method) == LUA_TSTRING) x->method = lua_tostring(L, method);
      if (lua_type(L, body) == LUA_TSTRING) {
        std::size_t length = 0;
        const char* text = lua_tolstring(L, body, &length);
        x->body.assign(text, length);
      }
      if (lua_type(L, timeout) == LUA_TNUMBER && lua_isinteger(L, timeout))
        x->timeout = std::chrono::milliseconds(std::max<lua_Integer>(1, lua_tointeger(L, timeout)));
      if (lua_type(L, headers) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, headers)) {
          if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING)
            x->headers.emplace_back(lua_tostring(L, -2), lua_tostring(L, -1));
          lua_pop(L, 1);
        }
      }
    }
    x->timeout = std::min(x->timeout, group->shared().config.hook_timeout);
    x->https_context = group->shared().https_context;
    x->ca_file = group->shared().config.http_ca_file;
    return group->wait(L, "weir.http", [group, x](LuaDone done) {
      group->group().run_blocking([x] { return http_exchange(*x); },
                                  [x, done = std::move(done)](Status status) {
                                    if (!status) {
                                      done(std::move(status));
                                      return;
                                    }
                                    Value response_headers = Value::object();
                                    for (auto& [name, value] : x->response_headers) response_headers.set(name, value);
                                    done(Value::object({{"status", x->status},
                                                        {"body", std::move(x->response_body)},
                                                        {"headers", std::move(response_headers)}}));
                                  });
    });
  });
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

}  // namespace weir::lua
