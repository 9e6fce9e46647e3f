// SPDX-License-Identifier: Apache-2.0
#pragma once
/// \file
/// The HTTP service: one HTTP layer shared by every module (statistics, file downloads, HTTP-FLV,
/// HLS, Lua routes). A module that serves HTTP (mod_http) provides it; others add routes during
/// registration:
///
///   auto http = registrar.service<HttpService>();      // mod_http listed first
///   if (!http) return http.error();
///   (*http)->route("GET", "/api/v1/server", serve_server);
///
/// Requests are parsed and handlers run on the connection's poll group; a handler answers at once
/// or later (after collecting figures by message, or a worker-pool job) through its HttpResponder.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weir/connection.h"
#include "weir/registrar.h"
#include "weir/status.h"

namespace weir {

struct HttpRequest {
  std::string method;  ///< "GET"
  std::string target;  ///< as sent: "/api/v1/streams?x=1"
  std::string path;    ///< decoded path: "/api/v1/streams"
  std::string query;   ///< after '?', undecoded
  std::vector<std::pair<std::string, std::string>> headers;  ///< names lower-cased
  std::string body;
  std::string peer_address;
  /// The first header named `name` (lower case), or empty.
  std::string_view header(std::string_view name) const noexcept {
    for (const auto& [key, value] : headers)
      if (key == name) return value;
    return {};
  }
};

/// A response body read from a file: `length` bytes from `offset` of `path`. The HTTP layer
/// reads it on the worker pool in portions, each read into pages and sent without another copy,
/// the next one only once the connection's sender is ready again (a slow client holds a few
/// portions, never the file). The handler checks the file first (it exists, the range is in it):
/// a file that shrinks meanwhile ends the connection. Added in ABI 4.
struct HttpFileBody {
  std::string path;  ///< empty: the body is `body`
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  HttpFileBody file;  ///< when its path is set, the body comes from the file instead
};

/// Answers one request, now or later, on the request's poll group. Calling respond() twice, or
/// after the connection closed, does nothing.
class HttpResponder {
 public:
  virtual ~HttpResponder() = default;
  virtual void respond(HttpResponse response) noexcept = 0;
  virtual PollGroup& group() noexcept = 0;
};

/// A route's handler. Thread: the request's poll group; it must not block.
using HttpHandler = std::function<void(const HttpRequest& request, std::shared_ptr<HttpResponder> responder)>;

class HttpService : public Service {
 public:
  static constexpr std::string_view kServiceName = "http";
  static constexpr std::string_view kServiceType = "weir::HttpService/1";
  std::string_view service_type() const noexcept final { return kServiceType; }
  /// Routes `method` requests whose path equals `path`, or starts with it when it ends in '/'
  /// (a prefix route: "/api/v1/streams/"). Longest match wins. Registration time only.
  virtual Status route(std::string_view method, std::string_view path, HttpHandler handler) = 0;
};

}  // namespace weir
