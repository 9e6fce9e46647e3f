// SPDX-License-Identifier: Apache-2.0
#include "net/connector.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>

#include "net/connection.h"

namespace weir::kernel {
namespace {

std::string endpoint_text(const boost::asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(endpoint.port());
  return address.to_string() + ":" + std::to_string(endpoint.port());
}

// "[::1]" names the address ::1, as in a URL.
std::string bare_host(const std::string& host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
  return host;
}

}  // namespace

Status resolve_blocking(Resolution& resolution) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  // No AI_ADDRCONFIG: on a host with only loopback configured it hides "localhost"; an address
  // family the host cannot reach fails fast and the next address is tried.
  addrinfo* found = nullptr;
  const std::string port = std::to_string(resolution.port);
  const int rc = ::getaddrinfo(bare_host(resolution.host).c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    const Errc code = rc == EAI_NONAME || rc == EAI_NODATA ? Errc::not_found : Errc::io;
    return error(code, "resolve {}: {}", resolution.host, rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc));
  }
  for (addrinfo* at = found; at; at = at->ai_next) {
    boost::asio::ip::tcp::endpoint endpoint;
    if (at->ai_addrlen > endpoint.capacity()) continue;
    std::memcpy(endpoint.data(), at->ai_addr, at->ai_addrlen);
    endpoint.resize(at->ai_addrlen);
    if (std::find(resolution.endpoints.begin(), resolution.endpoints.end(), endpoint) == resolution.endpoints.end())
      resolution.endpoints.push_back(endpoint);
  }
  ::freeaddrinfo(found);
  if (resolution.endpoints.empty()) return error(Errc::not_found, "resolve {}: no TCP address", resolution.host);
  return ok();
}

ConnectAttempt::ConnectAttempt(PollGroupImpl& group, ConnectSpec spec, MakeHandler make_handler, Failed failed)
    : group_(group), spec_(std::move(spec)), make_handler_(std::move(make_handler)), failed_(std::move(failed)) {}

ConnectAttempt::~ConnectAttempt() {
  if (!done_) group_.forget_connect(*this);
}

std::string ConnectAttempt::what() const {
  return format("{}: connect to {}:{}", spec_.name, spec_.host, spec_.port);
}

void ConnectAttempt::start() {
  owner_.check();
  group_.register_connect(*this);
  socket_.emplace(group_.io());
  deadline_.emplace(group_.io());
  deadline_->expires_after(spec_.timeout);
  deadline_->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec && !self->done_) self->on_deadline();
  });
  // Even an attempt that fails at once reports in a later step, never inside connect().
  if (spec_.host.empty() || spec_.port == 0) {
    group_.defer([self = shared_from_this()] {
      self->fail(Status(Errc::config, self->spec_.host.empty() ? "no host given" : "no port given"));
    });
    return;
  }
  boost::system::error_code not_an_address;
  const auto address = boost::asio::ip::make_address(bare_host(spec_.host), not_an_address);
  if (!not_an_address) {
    endpoints_.emplace_back(address, spec_.port);
    phase_ = Phase::connecting;
    group_.defer([self = shared_from_this()] {
      if (!self->done_) self->connect_next();
    });
    return;
  }
  // getaddrinfo blocks (for seconds when a DNS server is slow): the worker pool runs it. The job
  // sees only its Resolution; the reply finds the attempt through a weak pointer.
  auto resolution = std::make_shared<Resolution>();
  resolution->host = spec_.host;
  resolution->port = spec_.port;
  group_.run_blocking([resolution] { return resolve_blocking(*resolution); },
                      [weak = weak_from_this(), resolution](Status status) {
                        if (auto self = weak.lock(); self && !self->done_) self->on_resolved(status, *resolution);
                      });
}

void ConnectAttempt::cancel() noexcept {
  if (done_) return;
  owner_.check();
  finish();
}

void ConnectAttempt::abort(const Status& reason) noexcept { fail(reason); }

void ConnectAttempt::on_resolved(const Status& status, const Resolution& resolution) {
  if (!status) {
    fail(status);
    return;
  }
  endpoints_ = resolution.endpoints;
  phase_ = Phase::connecting;
  connect_next();
}

void ConnectAttempt::connect_next() {
  if (next_ == endpoints_.size()) {
    fail(Status(Errc::io, last_error_));
    return;
  }
  const boost::asio::ip::tcp::endpoint& endpoint = endpoints_[next_];
  boost::system::error_code ec;
  if (socket_->is_open()) socket_->close(ec);
  // Opened here rather than by async_connect so that it is close-on-exec like accepted sockets.
  const int fd = ::socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    last_error_ = format("{}: socket: {}", endpoint_text(endpoint), std::strerror(errno));
    ++next_;
    group_.defer([self = shared_from_this()] {
      if (!self->done_) self->connect_next();
    });
    return;
  }
  socket_->assign(endpoint.protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    fail(error(Errc::io, "adopt socket: {}", ec.message()));
    return;
  }
  socket_->async_connect(endpoint, [self = shared_from_this()](const boost::system::error_code& result) {
    if (!self->done_) self->on_connected(result);
  });
}

void ConnectAttempt::on_connected(const boost::system::error_code& ec) {
  const boost::asio::ip::tcp::endpoint& endpoint = endpoints_[next_];
  if (ec) {
    // Name the address only when it is not what the caller wrote.
    last_error_ = endpoints_.size() > 1 || bare_host(spec_.host) != endpoint.address().to_string()
                      ? format("{}: {}", endpoint_text(endpoint), ec.message())
                      : ec.message();
    ++next_;
    connect_next();
    return;
  }
  group_.logger().debug("{}: connected to {}", what(), endpoint_text(endpoint));
  if (spec_.use_tls) {
    start_handshake();
    return;
  }
  succeed();
}

void ConnectAttempt::on_deadline() {
  std::string during;
  switch (phase_) {
    case Phase::resolving: during = "resolving the name"; break;
    case Phase::connecting:
      during = next_ < endpoints_.size() ? "connecting to " + endpoint_text(endpoints_[next_]) : "connecting";
      if (!last_error_.empty()) during += " (before: " + last_error_ + ")";
      break;
    case Phase::handshaking: during = "in the TLS handshake"; break;
  }
  fail(error(Errc::timeout, "no connection within {} ms ({})", spec_.timeout.count(), during));
}

void ConnectAttempt::start_handshake() {
  phase_ = Phase::handshaking;
  auto context = group_.tls_client_context(spec_.verify_peer);
  if (!context) {
    fail(context.error());
    return;
  }
  tls_ = std::make_unique<TlsSession>(**context, spec_.tls_server_name.empty() ? bare_host(spec_.host)
                                                                              : spec_.tls_server_name);
  handshake_step();
}

// The handshake runs here, before any handler exists, so that a refused certificate is a failed
// attempt (failed()) rather than a connection that opens and closes: one step at a time, each
// step's records written out before the next read.
void ConnectAttempt::handshake_step() {
  auto done = tls_->handshake();
  tls_->take_output(tls_out_);
  if (!done) {
    // Our alert, if OpenSSL made one, is not worth a wait: the socket closes now.
    fail(done.error());
    return;
  }
  if (tls_out_sent_ < tls_out_.size()) {
    write_handshake_output();
    return;
  }
  if (*done) succeed();
  else wait_handshake_input();
}

void ConnectAttempt::write_handshake_output() {
  boost::asio::async_write(*socket_, boost::asio::buffer(tls_out_.data() + tls_out_sent_, tls_out_.size() - tls_out_sent_),
                           [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                             if (self->done_) return;
                             if (ec) {
                               self->fail(error(Errc::io, "TLS handshake: send: {}", ec.message()));
                               return;
                             }
                             self->tls_out_.clear();
                             self->tls_out_sent_ = 0;
                             if (self->tls_->is_handshake_done()) self->succeed();
                             else self->wait_handshake_input();
                           });
}

void ConnectAttempt::wait_handshake_input() {
  socket_->async_wait(boost::asio::socket_base::wait_read,
                      [self = shared_from_this()](const boost::system::error_code& ec) {
                        if (self->done_) return;
                        if (ec) {
                          self->fail(error(Errc::io, "TLS handshake: wait for data: {}", ec.message()));
                          return;
                        }
                        std::uint8_t ciphertext[16384];
                        ssize_t n = ::recv(self->socket_->native_handle(), ciphertext, sizeof ciphertext, MSG_DONTWAIT);
                        if (n == 0) {
                          self->fail(Status(Errc::denied, "TLS handshake: the server closed the connection"));
                          return;
                        }
                        if (n < 0) {
                          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) self->wait_handshake_input();
                          else self->fail(error(Errc::io, "TLS handshake: recv: {}", std::strerror(errno)));
                          return;
                        }
                        self->tls_->receive({ciphertext, static_cast<std::size_t>(n)});
                        self->handshake_step();
                      });
}

void ConnectAttempt::succeed() {
  boost::asio::ip::tcp::socket socket = std::move(*socket_);
  MakeHandler make_handler = std::move(make_handler_);
  std::unique_ptr<TlsSession> tls = std::move(tls_);
  finish();
  auto connection = ConnectionImpl::outgoing(group_, std::move(socket), spec_.name, std::move(tls));
  group_.add_load();  // as the listener does for an accepted one; retiring takes it off
  group_.adopt_connection(connection);
  std::unique_ptr<ConnectionHandler> handler = make_handler ? make_handler(*connection) : nullptr;
  if (!handler) {
    connection->close(Status(Errc::denied, what() + ": refused by its handler factory"));
    return;
  }
  connection->start(std::move(handler));
}

void ConnectAttempt::fail(Status status) {
  if (done_) return;
  Failed failed = std::move(failed_);
  finish();
  Status reason = std::move(status).with_context(what());
  group_.logger().debug("{}", reason.message());
  if (failed) failed(std::move(reason));
}

void ConnectAttempt::finish() noexcept {
  done_ = true;
  group_.forget_connect(*this);
  // Closing the socket and dropping the timer abort what is pending; those handlers find done_.
  socket_.reset();
  deadline_.reset();
  tls_.reset();
  make_handler_ = nullptr;
  failed_ = nullptr;
}

}  // namespace weir::kernel
