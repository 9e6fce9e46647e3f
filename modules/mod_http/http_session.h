// SPDX-License-Identifier: Apache-2.0
#pragma once
// mod_http: the HTTP/1.1 layer every module shares. One HttpSession per connection, on its poll
// group: it parses a request (request line, headers, Content-Length body, all bounded), finds the
// route, and writes the response when the handler answers — at once or later. Keep-alive; one
// request at a time (a pipelined request waits in the buffer until the previous one is answered).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "weir/connection.h"
#include "weir/services/http.h"
#include "weir/log.h"

namespace weir::http {

struct HttpConfig {
  std::string listen = "0.0.0.0:8080";
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  std::chrono::milliseconds idle_timeout{30'000};
};

class Routes final : public HttpService {
 public:
  Status route(std::string_view method, std::string_view path, HttpHandler handler) override;
  /// The handler for (method, path); `path_known` tells 405 from 404 when there is none.
  const HttpHandler* find(std::string_view method, std::string_view path, bool& path_known) const;

 private:
  struct Route {
    std::string method;
    std::string path;
    bool is_prefix;
    HttpHandler handler;
  };
  std::vector<Route> routes_;  // written at registration only, read-only afterwards
};

class HttpSession;
class FileBody;

/// Shared between a session and the responders it handed out: null once the session is gone.
struct SessionLink {
  HttpSession* session = nullptr;
};

class HttpSession final : public ConnectionHandler {
 public:
  HttpSession(Connection& connection, const Routes& routes, const HttpConfig& config, Logger logger);
  ~HttpSession() override;

  Status on_data(const PageSlice& data) noexcept override;
  void on_close(const Status& reason) noexcept override;
  void on_sender_state(SenderState state) noexcept override;
  /// Called by a responder (possibly later): writes the response, then serves the next request.
  void respond(HttpResponse response);
  Connection& connection() noexcept { return connection_; }
  bool is_busy() const noexcept { return busy_; }
  /// Parses and dispatches the next buffered request, if complete.
  Status parse_next();

 private:
  void reply_error(int status, std::string_view text, bool close);
  /// After a response's last byte: the next request, or the close.
  void end_response();
  void arm_idle_timer();

  Connection& connection_;
  const Routes& routes_;
  const HttpConfig& config_;
  Logger logger_;
  std::string buffer_;
  bool busy_ = false;         // a request is being answered
  bool keep_alive_ = true;
  bool is_head_ = false;
  std::string http_version_;
  std::shared_ptr<SessionLink> link_;
  std::unique_ptr<Timer> idle_timer_;
  std::shared_ptr<FileBody> file_body_;  // a body being read from a file
};

/// "Not Found" for 404 and so on.
std::string_view reason_phrase(int status) noexcept;

}  // namespace weir::http
