// SPDX-License-Identifier: Apache-2.0
#include "net/listener.h"

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "net/connection.h"
#include "stats/stats.h"

namespace weir::kernel {
namespace {

// A socket accepted on the main thread, adopted by its poll group.
struct NewConnection final : Task {
  NewConnection(int fd, bool is_v6, std::string listener, std::shared_ptr<Acceptor> acceptor,
                std::shared_ptr<TlsContext> tls)
      : fd(fd), is_v6(is_v6), listener(std::move(listener)), acceptor(std::move(acceptor)), tls(std::move(tls)) {}
  ~NewConnection() override {
    if (fd >= 0) ::close(fd);
  }
  void run() noexcept override {
    PollGroupImpl& group = *PollGroupImpl::current();
    boost::asio::ip::tcp::socket socket(group.io());
    boost::system::error_code ec;
    socket.assign(is_v6 ? boost::asio::ip::tcp::v6() : boost::asio::ip::tcp::v4(), fd, ec);
    if (ec) {
      // The socket never became a connection: give back the load the acceptor counted for it.
      group.remove_load();
      group.logger().warn("{}: cannot adopt an accepted socket: {}", listener, ec.message());
      return;
    }
    fd = -1;  // the socket owns it now
    auto connection = std::make_shared<ConnectionImpl>(group, std::move(socket), listener, tls.get());
    group.adopt_connection(connection);
    std::unique_ptr<ConnectionHandler> handler = acceptor->accept(*connection);
    if (!handler) {
      group.stats_impl().connection_refused(listener);
      connection->close(Status(Errc::denied, "refused by the " + listener + " acceptor"));
      return;
    }
    connection->start(std::move(handler));
  }
  int fd;
  bool is_v6;
  std::string listener;
  std::shared_ptr<Acceptor> acceptor;
  std::shared_ptr<TlsContext> tls;  // immutable, shared by the listener's connections
};

}  // namespace

Result<boost::asio::ip::tcp::endpoint> parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return error(Errc::config, "'{}': expected host:port", text);
  std::string host = text.substr(0, colon);
  std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
    return error(Errc::config, "'{}': bad port '{}'", text, port_text);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code address_error;
  auto address = boost::asio::ip::make_address(host, address_error);
  if (address_error) return error(Errc::config, "'{}': bad address '{}'", text, host);
  return boost::asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
}

Listener::Listener(boost::asio::ip::tcp::acceptor acceptor, ListenerSpec spec, std::shared_ptr<Acceptor> handler,
                   Groups& groups, Logger logger, std::shared_ptr<TlsContext> tls)
    : acceptor_(std::move(acceptor)), spec_(std::move(spec)), handler_(std::move(handler)), groups_(groups),
      logger_(std::move(logger)), tls_(std::move(tls)) {}

Result<std::unique_ptr<Listener>> Listener::open(boost::asio::io_context& io, const ListenerSpec& spec,
                                                 std::shared_ptr<Acceptor> acceptor, Groups& groups,
                                                 Logger logger, std::shared_ptr<TlsContext> tls) {
  auto endpoint = parse_endpoint(spec.address);
  if (!endpoint) return endpoint.error().with_context("listener " + spec.name);
  boost::asio::ip::tcp::acceptor socket(io);
  boost::system::error_code ec;
  socket.open(endpoint->protocol(), ec);
  if (!ec) socket.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) socket.bind(*endpoint, ec);
  if (!ec) socket.listen(4096, ec);
  if (!ec) socket.non_blocking(true, ec);
  if (ec) return error(Errc::io, "listener {} on {}: {}", spec.name, spec.address, ec.message());
  return std::unique_ptr<Listener>(
      new Listener(std::move(socket), spec, std::move(acceptor), groups, std::move(logger), std::move(tls)));
}

std::string Listener::bound_address() const {
  boost::system::error_code ec;
  auto endpoint = acceptor_.local_endpoint(ec);
  if (ec) return "?";
  if (endpoint.address().is_v6()) return "[" + endpoint.address().to_string() + "]:" + std::to_string(endpoint.port());
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

void Listener::start() {
  logger_.info("listening on {} ({}{})", bound_address(), spec_.name, tls_ ? ", TLS" : "");
  wait_for_clients();
}

void Listener::close() {
  closed_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
}

void Listener::wait_for_clients() {
  if (closed_) return;
  acceptor_.async_wait(boost::asio::socket_base::wait_read, [this](const boost::system::error_code& ec) {
    if (closed_ || ec == boost::asio::error::operation_aborted) return;
    if (ec) {
      logger_.error("listener {}: {}", spec_.name, ec.message());
      return;
    }
    accept_ready();
    wait_for_clients();
  });
}

void Listener::accept_ready() {
  const bool is_v6 = acceptor_.local_endpoint().address().is_v6();
  for (;;) {
    int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // Out of descriptors or memory: log and try again on the next readiness.
      logger_.warn("listener {}: accept: {}", spec_.name, std::strerror(errno));
      return;
    }
    GroupId target = groups_.least_loaded();
    groups_[target].add_load();
    groups_.post(target, std::make_unique<NewConnection>(fd, is_v6, spec_.name, handler_, tls_));
  }
}

}  // namespace weir::kernel
