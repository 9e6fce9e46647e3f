// SPDX-License-Identifier: Apache-2.0
#include "http_session.h"

#include "file_body.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "weir/query.h"

namespace weir::http {

namespace {

class Responder final : public HttpResponder {
 public:
  Responder(std::shared_ptr<SessionLink> link, PollGroup& group) : link_(std::move(link)), group_(group) {}
  void respond(HttpResponse response) noexcept override {
    if (answered_) return;
    answered_ = true;
    // The connection may have closed while the handler worked: then there is nobody to answer.
    if (link_->session) link_->session->respond(std::move(response));
  }
  PollGroup& group() noexcept override { return group_; }

 private:
  std::shared_ptr<SessionLink> link_;
  PollGroup& group_;
  bool answered_ = false;
};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
  }
}

Status Routes::route(std::string_view method, std::string_view path, HttpHandler handler) {
  if (path.empty() || path.front() != '/') return error(Errc::config, "http route '{}': must start with '/'", path);
  for (const Route& r : routes_)
    if (r.method == method && r.path == path) return error(Errc::exists, "http route {} {} is taken", method, path);
  routes_.push_back(Route{std::string(method), std::string(path), path.back() == '/', std::move(handler)});
  return ok();
}

const HttpHandler* Routes::find(std::string_view method, std::string_view path, bool& path_known) const {
  const Route* best = nullptr;
  path_known = false;
  for (const Route& r : routes_) {
    bool matches = r.is_prefix ? path.substr(0, r.path.size()) == r.path : path == r.path;
    if (!matches) continue;
    path_known = true;
    bool method_ok = r.method == method || (method == "HEAD" && r.method == "GET");
    if (method_ok && (!best || r.path.size() > best->path.size())) best = &r;
  }
  return best ? &best->handler : nullptr;
}

HttpSession::HttpSession(Connection& connection, const Routes& routes, const HttpConfig& config, Logger logger)
    : connection_(connection), routes_(routes), config_(config), logger_(std::move(logger)),
      link_(std::make_shared<SessionLink>(SessionLink{this})) {
  arm_idle_timer();
}

HttpSession::~HttpSession() { link_->session = nullptr; }

void HttpSession::on_close(const Status&) noexcept {
  link_->session = nullptr;
  idle_timer_.reset();
  file_body_.reset();  // a read in flight finds nobody when it returns
}

void HttpSession::arm_idle_timer() {
  idle_timer_ = connection_.group().after(config_.idle_timeout, [this] {
    if (!busy_) connection_.close(Status(Errc::timeout, "http: idle keep-alive connection"));
  });
}

Status HttpSession::on_data(const PageSlice& data) noexcept {
  buffer_.append(reinterpret_cast<const char*>(data.data()), data.length);
  if (busy_) {
    // One request at a time: stop reading until the answer has gone out.
    if (buffer_.size() > config_.max_header_bytes + config_.max_body_bytes) connection_.pause_reading();
    return ok();
  }
  return parse_next();
}

void HttpSession::reply_error(int status, std::string_view text, bool close) {
  if (close) keep_alive_ = false;
  HttpResponse response;
  response.status = status;
  response.body = std::string(text) + "\n";
  busy_ = true;
  respond(std::move(response));
}

Status HttpSession::parse_next() {
  std::size_t end = buffer_.find("\r\n\r\n");
  if (end == std::string::npos ? buffer_.size() > config_.max_header_bytes : end > config_.max_header_bytes) {
    reply_error(431, "request header too large", true);
    return ok();
  }
  if (end == std::string::npos) return ok();
  std::string_view head(buffer_.data(), end);
  std::size_t line_end = head.find("\r\n");
  std::string_view request_line = head.substr(0, line_end);
  auto sp1 = request_line.find(' ');
  auto sp2 = request_line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) {
    reply_error(400, "malformed request line", true);
    return ok();
  }
  HttpRequest request;
  request.method = std::string(request_line.substr(0, sp1));
  request.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
  http_version_ = std::string(request_line.substr(sp2 + 1));
  if (http_version_ != "HTTP/1.1" && http_version_ != "HTTP/1.0") {
    reply_error(505, "only HTTP/1.0 and HTTP/1.1", true);
    return ok();
  }
  std::size_t length = 0;
  if (line_end != std::string_view::npos) {
    std::string_view rest = head.substr(line_end + 2);
    while (!rest.empty()) {
      std::size_t eol = rest.find("\r\n");
      std::string_view line = rest.substr(0, eol);
      rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
      auto colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        reply_error(400, "malformed header line", true);
        return ok();
      }
      request.headers.emplace_back(lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
    }
  }
  if (!request.header("transfer-encoding").empty()) {
    reply_error(501, "chunked request bodies are not supported", true);
    return ok();
  }
  if (auto text = request.header("content-length"); !text.empty()) {
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), length);
    if (ec != std::errc() || p != text.data() + text.size()) {
      reply_error(400, "bad Content-Length", true);
      return ok();
    }
    if (length > config_.max_body_bytes) {
      reply_error(413, "request body too large", true);
      return ok();
    }
  }
  std::size_t total = end + 4 + length;
  if (buffer_.size() < total) return ok();  // the body is still coming
  request.body = buffer_.substr(end + 4, length);
  buffer_.erase(0, total);

  std::string connection_header = lower(request.header("connection"));
  keep_alive_ = http_version_ == "HTTP/1.1" ? connection_header != "close" : connection_header == "keep-alive";
  is_head_ = request.method == "HEAD";
  auto q = request.target.find('?');
  std::string raw_path = request.target.substr(0, q);
  if (q != std::string::npos) request.query = request.target.substr(q + 1);
  if (!percent_decode(raw_path, request.path) || request.path.empty() || request.path.front() != '/') {
    reply_error(400, "bad request target", true);
    return ok();
  }
  request.peer_address = connection_.peer_address();
  bool path_known = false;
  const HttpHandler* handler = routes_.find(request.method, request.path, path_known);
  busy_ = true;
  if (!handler) {
    reply_error(path_known ? 405 : 404, path_known ? "method not allowed" : "not found", false);
    return ok();
  }
  logger_.debug("conn={} {} {}", connection_.id(), request.method, request.target);
  (*handler)(request, std::make_shared<Responder>(link_, connection_.group()));
  return ok();
}

void HttpSession::respond(HttpResponse response) {
  if (!connection_.is_open()) return;
  const bool from_file = !response.file.path.empty();
  const std::uint64_t length = from_file ? response.file.length : response.body.size();
  std::string head = format("HTTP/1.1 {} {}\r\nServer: weir/{}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
                            response.status, reason_phrase(response.status), "0.1.0", response.content_type, length);
  for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
  head += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (!is_head_ && !from_file) head += response.body;
  connection_.send_copy({reinterpret_cast<const std::uint8_t*>(head.data()), head.size()});
  if (from_file && !is_head_ && length > 0) {
    // The body follows in portions, paced by this connection's sender; the request ends with it.
    file_body_ = std::make_shared<FileBody>(connection_, std::move(response.file), [this](Status status) {
      file_body_.reset();
      if (!status) {
        logger_.warn("conn={} peer={} response body: {}", connection_.id(), connection_.peer_address(), status.message());
        connection_.close(std::move(status));
        return;
      }
      end_response();
    });
    file_body_->start();
    return;
  }
  end_response();
}

void HttpSession::on_sender_state(SenderState) noexcept {
  if (auto body = file_body_) body->on_sender_state();  // a copy: the body may end in there
}

void HttpSession::end_response() {
  busy_ = false;
  if (!keep_alive_) {
    connection_.close_after_flush();
    return;
  }
  arm_idle_timer();
  connection_.resume_reading();
  if (!buffer_.empty()) {
    // A pipelined request is waiting: serve it after this call returns.
    connection_.group().defer([link = link_] {
      if (link->session && !link->session->is_busy()) {
        Status status = link->session->parse_next();
        if (!status) link->session->connection().close(std::move(status));
      }
    });
  }
}

}  // namespace weir::http
